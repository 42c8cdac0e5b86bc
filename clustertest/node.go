package clustertest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Node is one `parley serve` process of a cluster: its own node id, data
// directory, HTTP port (kept across restarts, so its internal URL stays
// the same) and log file.
type Node struct {
	// ID is the node's cluster.node_id, also its name at the balancer.
	ID string
	// URL reaches the node directly (its internal_url), bypassing the
	// balancer, e.g. http://127.0.0.1:41234.
	URL string
	// DataDir is the node's own data directory.
	DataDir string
	// LogPath collects the process's stdout and stderr across restarts.
	LogPath string

	bin string
	env []string

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the current process has ended
	exitErr error
	starts  int
}

// ErrRunning is returned by Start when the node's process is running.
var ErrRunning = errors.New("clustertest: node is running")

// Env is the environment the node's process gets (PARLEY_* settings and
// the few system variables it needs). Changes apply at the next Start.
func (n *Node) Env() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.env...)
}

// SetEnv sets (or, with an empty value, removes) PARLEY_ variables for the
// next Start, e.g. SetEnv("PARLEY_CLUSTER_DRAIN_TIMEOUT=2s").
func (n *Node) SetEnv(kvs ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.env = mergeEnv(n.env, kvs)
}

// Start starts the node's process without waiting for it to be ready.
func (n *Node) Start() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.exited:
		default:
			return ErrRunning
		}
	}
	logf, err := os.OpenFile(n.LogPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("node %s log: %w", n.ID, err)
	}
	n.starts++
	fmt.Fprintf(logf, "==== clustertest: start %d of node %s at %s ====\n", n.starts, n.ID, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(n.bin, "serve")
	cmd.Env = n.env
	cmd.Dir = n.DataDir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start node %s: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.cmd, n.exited, n.exitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	return nil
}

// Running reports whether the node's process is running.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Exited is closed when the current process ends (nil before the first
// Start).
func (n *Node) Exited() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exited
}

// ExitCode is the last process's exit code: -1 while it runs or when a
// signal ended it.
func (n *Node) ExitCode() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.ProcessState == nil {
		return -1
	}
	return n.cmd.ProcessState.ExitCode()
}

// Signal sends sig to the node's process (syscall.SIGTERM: graceful
// shutdown or drain; a second SIGTERM forces).
func (n *Node) Signal(sig os.Signal) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil || n.cmd.Process == nil {
		return errors.New("clustertest: node not started")
	}
	return n.cmd.Process.Signal(sig)
}

// Wait waits until the current process ends or ctx is done, and returns
// its exit code (-1 when a signal ended it).
func (n *Node) Wait(ctx context.Context) (int, error) {
	ch := n.Exited()
	if ch == nil {
		return -1, errors.New("clustertest: node not started")
	}
	select {
	case <-ch:
		return n.ExitCode(), nil
	case <-ctx.Done():
		return -1, fmt.Errorf("node %s still running: %w", n.ID, ctx.Err())
	}
}

// Stop sends sig and waits up to timeout for the process to end; it
// returns the exit code and fails t if the process outlives the timeout.
// Stopping a node that is not running returns its last exit code.
func (n *Node) Stop(t testing.TB, sig os.Signal, timeout time.Duration) int {
	t.Helper()
	if !n.Running() {
		return n.ExitCode()
	}
	if err := n.Signal(sig); err != nil {
		t.Fatalf("signal node %s: %v", n.ID, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	code, err := n.Wait(ctx)
	if err != nil {
		t.Fatalf("stop node %s with %v: %v", n.ID, sig, err)
	}
	return code
}

// Kill ends the process with SIGKILL (a crash: no shutdown, no clean-up)
// and waits for it.
func (n *Node) Kill(t testing.TB) {
	t.Helper()
	n.Stop(t, syscall.SIGKILL, 10*time.Second)
}

// Restart starts the node again (after Stop or Kill) and waits until it is
// ready.
func (n *Node) Restart(t testing.TB) {
	t.Helper()
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	n.WaitReady(t, StartTimeout)
}

// StartTimeout bounds how long a node may take to become ready.
const StartTimeout = 45 * time.Second

// WaitReady waits until the node's /readyz answers 200; it fails t,
// with the node's log, if the process ends first or timeout passes.
func (n *Node) WaitReady(t testing.TB, timeout time.Duration) {
	t.Helper()
	if err := n.waitReady(timeout); err != nil {
		t.Fatalf("%v\n%s", err, n.LogTail(60))
	}
}

func (n *Node) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	exited := n.Exited()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		if checkReady(ctx, hc, n.URL) {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("node %s exited (code %d) before it was ready", n.ID, n.ExitCode())
		case <-ctx.Done():
			return fmt.Errorf("node %s not ready after %s", n.ID, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Log is everything the node's processes wrote so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// LogTail is the last lines of Log.
func (n *Node) LogTail(lines int) string {
	l := strings.Split(strings.TrimRight(n.Log(), "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// mergeEnv overlays kvs ("NAME=value"; "NAME=" removes NAME) on env.
func mergeEnv(env, kvs []string) []string {
	out := append([]string(nil), env...)
	for _, kv := range kvs {
		name, val, _ := strings.Cut(kv, "=")
		kept := out[:0]
		for _, e := range out {
			if n, _, _ := strings.Cut(e, "="); n != name {
				kept = append(kept, e)
			}
		}
		out = kept
		if val != "" {
			out = append(out, kv)
		}
	}
	return out
}
