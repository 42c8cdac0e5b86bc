package main

import (
	"bytes"
	"strings"
	"testing"
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
