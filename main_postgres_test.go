package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/records/recordstest"
)

// lockedBuffer is a bytes.Buffer a node's logger writes to while the test
// reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeNodesOnOnePostgresMakeOneAdmin: three `parley serve` processes
// (in-process here, each with its own data directory) start together on
// one empty PostgreSQL database: all three serve, exactly one of them
// creates the first admin and writes its password file, and a login made
// with that password on one node is a login on the other two.
func TestServeNodesOnOnePostgresMakeOneAdmin(t *testing.T) {
	url := recordstest.PostgresURL(t)
	env := []string{"PARLEY_RECORDS_DRIVER=postgres", "PARLEY_RECORDS_URL=" + url, "PARLEY_RTC_UDP_PORT=0", "PARLEY_RTC_TCP_PORT=0"}
	const nodes = 3
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	dirs := make([]string, nodes)
	logs := make([]*lockedBuffer, nodes)
	done := make(chan error, nodes)
	for i := range nodes {
		dirs[i], logs[i] = t.TempDir(), &lockedBuffer{}
		go func() {
			done <- run(ctx, []string{"serve", "--http-addr", "127.0.0.1:0", "--admin-addr", "off", "--data-dir", dirs[i]},
				env, strings.NewReader(""), &lockedBuffer{}, logs[i])
		}()
	}
	deadline := time.Now().Add(90 * time.Second)
	for serving := 0; serving < nodes; {
		serving = 0
		for _, l := range logs {
			if strings.Contains(l.String(), "parley serving") {
				serving++
			}
		}
		select {
		case err := <-done:
			t.Fatalf("a node ended early: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d nodes serving after 90 s", serving, nodes)
		}
	}
	var passwords []string
	for _, d := range dirs {
		if b, err := os.ReadFile(filepath.Join(d, initialPasswordFile)); err == nil {
			passwords = append(passwords, strings.TrimSpace(string(b)))
		}
	}
	if len(passwords) != 1 {
		t.Fatalf("%d nodes wrote a first-admin password; want exactly 1", len(passwords))
	}
	addrs := make([]string, nodes)
	for i, l := range logs {
		m := regexp.MustCompile(`parley serving"? http=(\S+)`).FindStringSubmatch(l.String())
		if m == nil {
			t.Fatalf("node %d: no address in its log:\n%s", i, l.String())
		}
		addrs[i] = m[1]
	}
	jar, _ := cookiejar.New(nil) // cookies do not tell ports apart: one login for all three
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": passwords[0]})
	resp, err := c.Post("http://"+addrs[0]+"/api/v1/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("login on node 0: %s", resp.Status)
	}
	for i, a := range addrs {
		resp, err := c.Get("http://" + a + "/api/v1/me")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"admin"`) {
			t.Fatalf("node %d /api/v1/me: %s %s", i, resp.Status, b)
		}
	}
	cancel()
	for range nodes {
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	for i, l := range logs {
		if strings.Contains(l.String(), passwords[0]) || strings.Contains(l.String(), url) {
			t.Fatalf("node %d logged the admin's password or the database URL", i)
		}
	}
	store, err := records.OpenPostgres(t.Context(), url, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if n, err := store.CountUsers(t.Context()); err != nil || n != 1 {
		t.Fatalf("users = %d, %v; want 1", n, err)
	}
	if _, err := store.Authenticate(t.Context(), "admin", passwords[0]); err != nil {
		t.Fatalf("the password file's password does not log in: %v", err)
	}
}

// TestUserCommandsOnPostgres: parley user add and list read the records
// settings, so they work on the shared PostgreSQL database.
func TestUserCommandsOnPostgres(t *testing.T) {
	env := []string{"PARLEY_RECORDS_DRIVER=postgres", "PARLEY_RECORDS_URL=" + recordstest.PostgresURL(t)}
	var out, errOut bytes.Buffer
	if err := run(t.Context(), []string{"user", "add", "anna", "--role", "advisor", "--data-dir", t.TempDir()}, env,
		strings.NewReader("correct horse battery\n"), &out, &errOut); err != nil {
		t.Fatalf("user add: %v\n%s", err, errOut.String())
	}
	out.Reset()
	if err := run(t.Context(), []string{"user", "list", "--data-dir", t.TempDir()}, env, strings.NewReader(""), &out, &errOut); err != nil ||
		!strings.Contains(out.String(), "anna") {
		t.Fatalf("user list from another data directory: %q, %v", out.String(), err)
	}
}
