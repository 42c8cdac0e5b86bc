package clustertest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Redis is a redis-server of one test's own, on a fixed free loopback port,
// that the test can stop (an outage) and start again at the same address.
// Like the shared test Redis (scripts/test.sh) it keeps nothing on disk,
// so a restart comes back empty.
type Redis struct {
	// URL is redis://127.0.0.1:<port>/0.
	URL string

	port int
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

// StartRedis starts a Redis for t (stopped when t ends). It skips t when
// redis-server is not installed.
func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed (scripts/test-deps.sh installs it)")
	}
	r := &Redis{port: FreePort(t), dir: t.TempDir()}
	r.URL = fmt.Sprintf("redis://127.0.0.1:%d/0", r.port)
	t.Cleanup(func() { r.stop(syscall.SIGKILL) })
	r.Start(t)
	return r
}

// Start starts the server (again) and waits until it accepts connections.
func (r *Redis) Start(t testing.TB) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		t.Fatal("clustertest: Redis is running")
	}
	logf, err := os.OpenFile(filepath.Join(r.dir, "log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	r.cmd, r.done = cmd, done
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(r.port), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(r.dir, "log"))
			t.Fatalf("redis-server exited at start:\n%s", b)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server does not accept connections after 10 s")
		}
	}
}

// Stop ends the server with SIGKILL (an outage, not a shutdown) and waits
// until it is gone.
func (r *Redis) Stop(t testing.TB) {
	t.Helper()
	if err := r.stop(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
}

func (r *Redis) stop(sig syscall.Signal) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	r.cmd.Process.Signal(sig)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	select {
	case <-r.done:
	case <-ctx.Done():
		return fmt.Errorf("redis-server did not end after %v", sig)
	}
	r.cmd, r.done = nil, nil
	return nil
}
