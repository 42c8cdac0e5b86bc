package node

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
)

// fullDiskEnv names the tmpfs the re-executed TestFullDisk runs on.
const fullDiskEnv = "PARLEY_TEST_FULL_DISK_DIR"

// TestFullDisk runs a node on a small tmpfs (mounted in a private mount
// namespace: the test re-executes itself under `unshare -m`, which needs
// root) and fills it: /readyz says disk full and not ready, an upload
// gets 507 insufficient_storage instead of a generic 500, and both recover
// once space is freed.
func TestFullDisk(t *testing.T) {
	dir := os.Getenv(fullDiskEnv)
	if dir == "" {
		reexecOnTmpfs(t)
		return
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != 0x01021994 { // TMPFS_MAGIC
		t.Fatalf("%s is not the tmpfs (statfs type %#x, %v)", dir, st.Type, err)
	}

	cfg := testConfig(t)
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Storage.MinFreeBytes = 2 << 20
	n := startNode(t, cfg)
	base := "http://" + n.HTTPAddr()
	if status, checks := readyz(t, n); status != http.StatusOK || checks["disk"] != "ok" {
		t.Fatalf("readyz on an empty tmpfs = %d %v", status, checks)
	}

	ctx := t.Context()
	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := n.Records.CreateConsultation(ctx, adv.ID, "Baufinanzierung", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	if code, b := request(t, c, "POST", base+"/api/v1/login", map[string]string{"username": "anna", "password": "correct horse battery"}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, b)
	}
	u, _ := neturl.Parse(base)
	csrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "parley_csrf" {
			csrf = ck.Value
		}
	}
	upload := func(fid string) (int, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, "PUT", base+"/api/v1/consultations/"+con.ID+"/files/"+fid,
			bytes.NewReader(bytes.Repeat([]byte("ciphertext"), 30_000)))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", base)
		req.Header.Set("X-CSRF-Token", csrf)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.Bytes()
	}
	if code, b := upload("00000000000000000000000000000001"); code != http.StatusCreated {
		t.Fatalf("upload with space left: %d %s", code, b)
	}

	filler := filepath.Join(dir, "filler")
	fill(t, filler)

	status, checks := readyz(t, n)
	if status != http.StatusServiceUnavailable || checks["disk"] != "full" {
		t.Errorf("readyz on a full disk = %d %v, want 503 with disk full", status, checks)
	}
	code, b := upload("00000000000000000000000000000002")
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(b, &body)
	if code != http.StatusInsufficientStorage || body.Error.Code != "insufficient_storage" {
		t.Errorf("upload on a full disk = %d %s, want 507 insufficient_storage", code, b)
	}
	t.Logf("upload on a full disk: %d %s", code, b)
	leftovers, _ := filepath.Glob(filepath.Join(cfg.DataDir, "files", con.ID, ".tmp-*"))
	if len(leftovers) != 0 {
		t.Errorf("the failed upload left %v", leftovers)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if status, checks := readyz(t, n); status != http.StatusOK || checks["disk"] != "ok" {
		t.Errorf("readyz after freeing space = %d %v", status, checks)
	}
	if code, b := upload("00000000000000000000000000000003"); code != http.StatusCreated {
		t.Errorf("upload after freeing space: %d %s", code, b)
	}
}

// fill writes path until the file system is full.
func fill(t *testing.T, path string) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			break
		}
	}
	// Whatever is left is less than one chunk; take it too.
	for {
		if _, err := f.Write(chunk[:512]); err != nil {
			return
		}
	}
}

// reexecOnTmpfs runs TestFullDisk again in a private mount namespace with a
// 8 MiB tmpfs, or skips when this process cannot do that.
func reexecOnTmpfs(t *testing.T) {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and unshare(1) to mount a small tmpfs in a private mount namespace")
	}
	if out, err := exec.CommandContext(t.Context(), unshare, "-m", "--propagation", "private", "true").CombinedOutput(); err != nil {
		t.Skipf("cannot create a mount namespace here: %v %s", err, out)
	}
	mnt := t.TempDir()
	cmd := exec.CommandContext(t.Context(), unshare, "-m", "--propagation", "private", "--", "sh", "-c",
		`mount -t tmpfs -o size=8m parley-test "$1" && exec "$2" -test.run='^TestFullDisk$' -test.count=1 -test.v`,
		"sh", mnt, os.Args[0])
	cmd.Env = append(os.Environ(), fullDiskEnv+"="+mnt)
	out, err := cmd.CombinedOutput()
	t.Logf("re-executed on a tmpfs:\n%s", out)
	if err != nil {
		t.Fatalf("TestFullDisk on the tmpfs: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: TestFullDisk") {
		t.Fatal("the re-executed test did not pass")
	}
}
