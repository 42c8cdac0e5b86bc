package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Postgres is a PostgreSQL server of one test's own (Debian's server
// binaries, a throwaway data directory, loopback only, no fsync; as
// scripts/test-postgres.sh starts the shared one), which the test can
// stop (an outage) and start again at the same address with its data.
type Postgres struct {
	// URL reaches the server's "postgres" database as user parley.
	URL string

	bindir, dir string
	port        int
	mu          sync.Mutex
	running     bool
}

// StartPostgres creates and starts a server for t (stopped and removed when
// t ends). It skips t when PostgreSQL's server binaries are not installed.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	bindir := postgresBinDir()
	if bindir == "" {
		t.Skip("no PostgreSQL server binaries (apt-get install postgresql)")
	}
	dir, err := os.MkdirTemp("", "parley-clustertest-pg-")
	if err != nil {
		t.Fatal(err)
	}
	p := &Postgres{bindir: bindir, dir: dir, port: FreePort(t)}
	p.URL = fmt.Sprintf("postgres://parley@127.0.0.1:%d/postgres?sslmode=disable", p.port)
	t.Cleanup(func() {
		p.stop("immediate")
		os.RemoveAll(dir)
	})
	if os.Geteuid() == 0 { // initdb refuses root: the server runs as postgres
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("running as root and no postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := p.asOwner(filepath.Join(bindir, "initdb"), "-D", filepath.Join(dir, "data"), "-A", "trust", "-U", "parley", "--no-sync"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	p.Start(t)
	return p
}

// Start starts the server (again) and waits until it accepts connections.
func (p *Postgres) Start(t testing.TB) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	opts := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c full_page_writes=off",
		p.port, p.dir)
	if out, err := p.asOwner(filepath.Join(p.bindir, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-l", filepath.Join(p.dir, "log"),
		"-w", "-t", "60", "-o", opts, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(p.dir, "log"))
		t.Fatalf("pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	p.running = true
}

// Stop ends the server at once (pg_ctl stop -m immediate: like a crash,
// connections are cut) and waits until it is gone.
func (p *Postgres) Stop(t testing.TB) {
	t.Helper()
	if err := p.stop("immediate"); err != nil {
		t.Fatal(err)
	}
}

func (p *Postgres) stop(mode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.running {
		return nil
	}
	if out, err := p.asOwner(filepath.Join(p.bindir, "pg_ctl"), "-D", filepath.Join(p.dir, "data"), "-m", mode, "-w", "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	p.running = false
	return nil
}

// asOwner runs a server command as the postgres user when this process is
// root, else as this user.
func (p *Postgres) asOwner(name string, args ...string) ([]byte, error) {
	if os.Geteuid() != 0 {
		return exec.Command(name, args...).CombinedOutput()
	}
	quoted := make([]string, 0, len(args)+1)
	for _, a := range append([]string{name}, args...) {
		quoted = append(quoted, "'"+strings.ReplaceAll(a, "'", `'\''`)+"'")
	}
	return exec.Command("su", "postgres", "-s", "/bin/sh", "-c", strings.Join(quoted, " ")).CombinedOutput()
}

// postgresBinDir is the newest /usr/lib/postgresql/*/bin, or the
// directory of initdb on PATH, or "".
func postgresBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi < vj
	})
	if len(dirs) > 0 {
		return dirs[len(dirs)-1]
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}
