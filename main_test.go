package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
)

func runCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, nil, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestUserCommands(t *testing.T) {
	dir := t.TempDir()
	if _, _, err := runCmd(t, "correct horse battery\n", "user", "add", "anna", "--role", "advisor", "--display-name", "Anna Berg", "--data-dir", dir); err != nil {
		t.Fatalf("user add: %v", err)
	}
	out, _, err := runCmd(t, "", "user", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(out, "anna") || !strings.Contains(out, "advisor") || !strings.Contains(out, "Anna Berg") {
		t.Fatalf("user list: %q, %v", out, err)
	}
	if _, _, err := runCmd(t, "another long password\n", "user", "passwd", "anna", "--data-dir", dir); err != nil {
		t.Fatalf("user passwd: %v", err)
	}
	bad := []struct {
		name, stdin string
		args        []string
		want        string
	}{
		{"no password", "", []string{"user", "add", "bob", "--role", "advisor", "--data-dir", dir}, "no password"},
		{"bad role", "correct horse battery\n", []string{"user", "add", "bob", "--role", "king", "--data-dir", dir}, "role"},
		{"duplicate", "correct horse battery\n", []string{"user", "add", "anna", "--role", "advisor", "--data-dir", dir}, "anna"},
		{"short password", "short\n", []string{"user", "add", "bob", "--role", "advisor", "--data-dir", dir}, "password"},
		{"unknown user", "correct horse battery\n", []string{"user", "passwd", "nobody", "--data-dir", dir}, "nobody"},
		{"missing role", "x\n", []string{"user", "add", "bob", "--data-dir", dir}, "--role"},
		{"unknown subcommand", "", []string{"user", "delete", "--data-dir", dir}, "unknown subcommand"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCmd(t, tc.stdin, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("want an error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

func TestServeRejectsBadConfiguration(t *testing.T) {
	_, _, err := runCmd(t, "", "serve", "--http-addr", "nonsense", "--public-ip", "not-an-ip", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "http.addr") || !strings.Contains(err.Error(), "rtc.public_ip") {
		t.Fatalf("want both problems named, got %v", err)
	}
	if _, _, err := runCmd(t, "", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}

// TestFirstAdminPasswordNotLogged: on the first start the admin's password
// goes into a 0600 file in the data directory, never into the log or a
// non-terminal stdout (systemd, containers); parley user passwd deletes
// the file.
func TestFirstAdminPasswordNotLogged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, initialPasswordFile)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--http-addr", "127.0.0.1:0", "--admin-addr", "off", "--data-dir", dir},
			nil, strings.NewReader(""), &out, &errOut)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended early: %v\n%s", err, errOut.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no password file after 30 s")
		}
	}
	time.Sleep(100 * time.Millisecond) // the announcement follows the file
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v", err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	password := strings.TrimSpace(string(b))
	if len(password) != records.BootstrapPasswordLen {
		t.Fatalf("password file holds %q", b)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode %v; want 0600", fi.Mode().Perm())
	}
	if strings.Contains(out.String(), password) || strings.Contains(errOut.String(), password) {
		t.Fatalf("the password reached stdout or the log:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	if !strings.Contains(out.String(), path) || !strings.Contains(errOut.String(), initialPasswordFile) {
		t.Fatalf("the file's path is neither printed nor logged:\nstdout: %s\nstderr: %s", out.String(), errOut.String())
	}
	store, err := records.Open(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	_, aerr := store.Authenticate(t.Context(), "admin", password)
	store.Close()
	if aerr != nil {
		t.Fatalf("the file's password does not log in: %v", aerr)
	}
	o, _, err := runCmd(t, "a new long password\n", "user", "passwd", "admin", "--data-dir", dir)
	if err != nil || !strings.Contains(o, "deleted") {
		t.Fatalf("user passwd admin: %q, %v", o, err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("password file still there after passwd: %v", err)
	}
}
