package testnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// envIsolated names the test that runs in a network namespace of its own
// (set by Isolated for the child it starts).
const envIsolated = "PARLEY_TESTNET_ISOLATED"

// Isolated runs the calling test again in a child process with a network
// namespace of its own (loopback only at first), so the test may add
// interfaces (Link) that no other test sees. In the parent it waits for
// the child, relays its output to t.Log, fails t when every one of
// attempts runs failed and returns false: the caller returns. In the child
// it returns true. attempts above 1 are for measurements of real browsers
// on a shared machine, where one run in several can be spoiled by a stall
// of the whole machine; every run's output is logged.
//
//	if !testnet.Isolated(t, 0, 1) {
//		return
//	}
//
// nice below 0 runs the child (and the browsers it starts) at a higher CPU
// priority than the rest of the machine: for tests that measure a network
// with delay-based estimators, which take a shared machine's scheduling
// delays for congestion.
func Isolated(t *testing.T, nice, attempts int) bool {
	t.Helper()
	if os.Getenv(envIsolated) == t.Name() {
		if out, err := exec.Command("ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
			t.Fatalf("isolated namespace: lo up: %v: %s", err, out)
		}
		return true
	}
	RequireLoopbackOnly(t)
	var err error
	for run := 1; run <= max(1, attempts); run++ {
		if run > 1 {
			t.Logf("run %d of at most %d (the previous one failed: %v)", run, attempts, err)
		}
		if err = isolatedRun(t, nice); err == nil {
			return false
		}
	}
	t.Fatalf("the isolated run of %s failed (%v): see its output above", t.Name(), err)
	return false
}

func isolatedRun(t *testing.T, nice int) error {
	t.Helper()
	args := []string{"-n", strconv.Itoa(nice), "unshare", "-n", "--", os.Args[0],
		"-test.run=^" + regexp.QuoteMeta(t.Name()) + "$", "-test.v", "-test.count=1"}
	if d, ok := t.Deadline(); ok {
		args = append(args, "-test.timeout="+time.Until(d).Round(time.Second).String())
	}
	cmd := exec.CommandContext(t.Context(), "nice", args...)
	cmd.Env = append(os.Environ(), envIsolated+"="+t.Name())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatalf("start the isolated run: %v", err)
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		t.Log(sc.Text())
	}
	return cmd.Wait()
}

// Addresses of a Link: both ends are in 198.18.0.0/15, the range set
// aside for benchmarking networks.
const (
	HostIP = "198.18.0.1" // this namespace's end
	PeerIP = "198.18.0.2" // the far end, in the link's own namespace
)

// Link is a veth pair from the test's (isolated) namespace to a network
// namespace of its own, where a "customer" runs (Command), with the
// traffic towards that namespace (its downlink) shaped by tbf.
type Link struct {
	t      *testing.T
	holder *exec.Cmd // keeps the far namespace alive
	pid    int
	dev    string
}

// NewLink creates the link with its downlink shaped to rateKbit (0: not
// shaped). Only inside Isolated: it adds an interface to the namespace.
func NewLink(t *testing.T, rateKbit int) *Link {
	t.Helper()
	if os.Getenv(envIsolated) != t.Name() {
		t.Fatal("testnet.NewLink outside testnet.Isolated would change the shared test namespace")
	}
	holder := exec.Command("unshare", "-n", "--", "sleep", "3600")
	if err := holder.Start(); err != nil {
		t.Fatalf("start the link's namespace: %v", err)
	}
	l := &Link{t: t, holder: holder, pid: holder.Process.Pid, dev: "shp0"}
	t.Cleanup(func() {
		_ = exec.Command("ip", "link", "del", l.dev).Run()
		_ = holder.Process.Kill()
		_ = holder.Wait()
	})
	// unshare execs sleep once the namespace exists; wait for that.
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; ; i++ {
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", l.pid))
		if err == nil && ns != self {
			if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", l.pid)); strings.HasSuffix(exe, "sleep") {
				break
			}
		}
		if i > 200 {
			t.Fatal("the link's namespace did not come up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	pid := strconv.Itoa(l.pid)
	l.run("ip", "link", "add", l.dev, "type", "veth", "peer", "name", "shp1", "netns", pid)
	// No IPv6 link-local addresses: only the two addresses below exist.
	l.run("ip", "link", "set", l.dev, "addrgenmode", "none")
	l.run("ip", "addr", "add", HostIP+"/30", "dev", l.dev)
	l.run("ip", "link", "set", l.dev, "up")
	l.run("nsenter", "-t", pid, "-n", "ip", "link", "set", "shp1", "addrgenmode", "none")
	l.run("nsenter", "-t", pid, "-n", "ip", "addr", "add", PeerIP+"/30", "dev", "shp1")
	l.run("nsenter", "-t", pid, "-n", "ip", "link", "set", "shp1", "up")
	l.run("nsenter", "-t", pid, "-n", "ip", "link", "set", "lo", "up")
	if rateKbit > 0 {
		l.SetRate(rateKbit)
	}
	return l
}

func (l *Link) run(name string, args ...string) {
	l.t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		l.t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

// SetRate shapes the downlink (traffic towards the far namespace) to
// rateKbit with a token bucket filter: a burst of 4 KB or 20 ms of the
// rate, whichever is more, and at most 200 ms of queue, as a congested
// access link would have.
func (l *Link) SetRate(rateKbit int) {
	l.t.Helper()
	burst := max(4000, rateKbit*1000/8/50)
	l.run("tc", "qdisc", "replace", "dev", l.dev, "root", "tbf",
		"rate", strconv.Itoa(rateKbit)+"kbit", "burst", strconv.Itoa(burst), "latency", "200ms")
}

// Command is a command that runs in the far namespace.
func (l *Link) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "nsenter", append([]string{"-t", strconv.Itoa(l.pid), "-n", "--", name}, args...)...)
}

// in runs f on a thread switched into the far namespace: sockets f opens
// live there.
func (l *Link) in(f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked on failure: the thread dies with the goroutine
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			errc <- err
			return
		}
		defer self.Close()
		far, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", l.pid))
		if err != nil {
			errc <- err
			return
		}
		defer far.Close()
		if err := unix.Setns(int(far.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("enter the link's namespace: %w", err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("leave the link's namespace: %w", err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Expose makes addr (host:port of this namespace, e.g. the HTTP server on
// 127.0.0.1) reachable in the far namespace at the same address, through
// a relay in this process: what goes through it does not cross the
// shaped link. It stops when the test ends.
func (l *Link) Expose(addr string) {
	l.t.Helper()
	var ln net.Listener
	if err := l.in(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	}); err != nil {
		l.t.Fatalf("listen on %s in the link's namespace: %v", addr, err)
	}
	l.relay(ln, func() (net.Conn, error) { return net.Dial("tcp", addr) })
}

// Wrap writes a script that runs program (with the script's arguments)
// in the far namespace and returns its path, e.g. to start a browser
// there through a tool that takes an executable's path. The browser's
// DevTools pipe (file descriptors 3 and 4) passes through.
func (l *Link) Wrap(program string) string {
	l.t.Helper()
	path := filepath.Join(l.t.TempDir(), "in-link-"+filepath.Base(program))
	script := fmt.Sprintf("#!/bin/sh\nexec nsenter -t %d -n -- %s \"$@\"\n", l.pid, program)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// relay copies each connection accepted on ln to one dial opens, both
// ways, until the test ends.
func (l *Link) relay(ln net.Listener, dial func() (net.Conn, error)) {
	var mu sync.Mutex
	var conns []net.Conn
	var wg sync.WaitGroup
	l.t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			a, err := ln.Accept()
			if err != nil {
				return
			}
			b, err := dial()
			if err != nil {
				_ = a.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, a, b)
			mu.Unlock()
			wg.Go(func() { _, _ = io.Copy(a, b); _ = a.Close() })
			wg.Go(func() { _, _ = io.Copy(b, a); _ = b.Close() })
		}
	})
}
