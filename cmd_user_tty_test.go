package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/parley-video/parley/records"
)

// openPTY opens a pseudo-terminal pair: the terminal side a person types
// into (master) and the side the program reads (slave).
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// TestUserAddAtTerminal: at a terminal "parley user add" prompts for the
// password twice and never echoes it; different entries change nothing.
func TestUserAddAtTerminal(t *testing.T) {
	dir := t.TempDir()
	type result struct {
		prompts string
		echoed  string
		err     error
	}
	add := func(name, first, second string) result {
		t.Helper()
		master, slave := openPTY(t)
		pr, pw := io.Pipe()
		prompts := make(chan string, 8)
		go func() {
			br := bufio.NewReader(pr)
			var b strings.Builder
			for {
				r, _, err := br.ReadRune()
				if err != nil {
					close(prompts)
					return
				}
				b.WriteRune(r)
				if r == ':' {
					prompts <- b.String()
				}
			}
		}()
		done := make(chan error, 1)
		go func() {
			err := run(context.Background(), []string{"user", "add", name, "--role", "advisor", "--data-dir", dir}, nil, slave, io.Discard, pw)
			pw.Close()
			done <- err
		}()
		var all strings.Builder
		for _, typed := range []string{first, second} {
			select {
			case p := <-prompts:
				all.WriteString(p)
			case <-time.After(10 * time.Second):
				t.Errorf("no password prompt within 10 s")
			}
			// The prompt comes just before the program turns echo off:
			// type only once it has (as a person would, a moment later).
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				tio, err := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
				if err != nil || tio.Lflag&unix.ECHO == 0 || time.Now().After(deadline) {
					break
				}
			}
			if _, err := master.WriteString(typed + "\r"); err != nil {
				t.Fatal(err)
			}
		}
		var err error
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("user add did not finish")
		}
		for p := range prompts {
			all.WriteString(p)
		}
		slave.Close()
		echo, _ := io.ReadAll(master) // what the terminal showed; EIO ends it
		return result{prompts: all.String(), echoed: string(echo), err: err}
	}

	r := add("tina", "terminal secret 1", "terminal secret 1")
	if r.err != nil {
		t.Fatalf("user add at a terminal: %v", r.err)
	}
	if !strings.Contains(r.prompts, "Password for tina:") || !strings.Contains(r.prompts, "Repeat the password:") {
		t.Errorf("prompts %q", r.prompts)
	}
	if strings.Contains(r.echoed, "secret") {
		t.Errorf("the terminal echoed the password: %q", r.echoed)
	}
	st, err := records.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Authenticate(context.Background(), "tina", "terminal secret 1"); err != nil {
		t.Errorf("the typed password does not work: %v", err)
	}
	st.Close()
	r = add("uwe", "terminal secret 1", "terminal secret 2")
	if r.err == nil || !strings.Contains(r.err.Error(), "do not match") {
		t.Errorf("different entries: %v", r.err)
	}
	if strings.Contains(r.echoed, "secret") {
		t.Errorf("the terminal echoed the password: %q", r.echoed)
	}
}
