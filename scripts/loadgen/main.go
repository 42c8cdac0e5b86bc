// Command loadgen is Parley's load generator for `make bench`
// (scripts/bench.sh). It measures a whole Parley server in a separate
// process against a floor measured in the same run:
//
//	loadgen bench [flags]   run everything, print the table, update docs/BENCHMARKS.md
//	loadgen server          (child) one Parley node on loopback, plus pprof and /mem
//	loadgen relay           (child) the floor: a minimal UDP relay and a bare WebSocket server
//
// The generator's pion clients (callclient) publish paced audio (50
// packets/s) and video (1.5 Mbit/s in ~1,200-byte packets) whose payloads
// carry a source id, a sequence number, the send time and a CRC-32, and
// receive in the same process, so receivers check integrity, track and
// order and measure one-way latency on one clock. The floor gets the same
// payloads in RTP over plain UDP through the relay (read a datagram, write
// it to every other member of its sender's group).
//
// With -baseline OLD (another loadgen binary, built by scripts/bench.sh
// from an older revision), the memory phase measures OLD's server too, the
// versus phase searches the 1:1 capacity of both servers, pinned to one
// CPU and the generator to the other, level by level alternating, and the
// overload phase runs each at twice its capacity for 30 s and back.
//
// `loadgen bench -only compare -compare OTHER` measures this build's server
// against the server of another loadgen binary (built from other Parley
// sources) in the same way, for before/after figures of a change.
//
// WebRTC must stay on loopback: run it only in a network namespace with
// nothing but loopback (scripts/bench.sh does); it refuses otherwise.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: loadgen bench|server|relay [flags]")
	}
	if err := requireLoopbackOnly(); err != nil {
		return err
	}
	switch args[0] {
	case "server":
		return serveNode(args[1:], stdout, stderr)
	case "relay":
		return serveRelay(stdout)
	case "bench":
		return runBench(args[1:], stdout, stderr)
	}
	return fmt.Errorf("unknown mode %q (bench, server, relay)", args[0])
}

// requireLoopbackOnly fails if any interface but loopback is up: ICE
// would gather and probe it.
func requireLoopbackOnly() error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return err
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagLoopback == 0 {
			return fmt.Errorf("interface %s is up: run in a loopback-only network namespace (scripts/bench.sh)", ifc.Name)
		}
	}
	return nil
}

// bench is one benchmark run.
type bench struct {
	srv, relay *child
	p          *parley
	advisors   int

	reps    int           // repeated windows per forwarding figure (medians)
	capReps int           // repeated windows per capacity level
	warm    time.Duration // sources run this long before a window
	win     time.Duration // forwarding window
	capWin  time.Duration // capacity window
	profDur time.Duration // CPU profile length

	idleFor      time.Duration // memory: idle time after the login
	baseline     string        // the old build's loadgen binary ("" = none)
	baselineName string        // its git revision, for labels
	pinServer    string        // versus, overload: the servers' CPUs (taskset -c)
	pinGenerator string        // versus, overload: this process's CPUs
	capThis      int           // 1:1 capacity found by versus (this build, the baseline)
	capOld       int

	callsProfiled int           // calls running during the 1:1 profile
	foreign       []float64     // other processes' CPU (% of a core) in every window
	setupTimeout  time.Duration // for setting up one forwarding scenario
	dumpDir       string        // where goroutine dumps go when a set-up hangs

	rows   []row
	start  time.Time
	stderr io.Writer
	warns  []string
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "loadgen: %s "+format+"\n", append([]any{time.Since(b.start).Round(time.Second)}, args...)...)
}

func (b *bench) warnf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.warns = append(b.warns, msg)
	b.logf("WARNING: %s", msg)
}

func runBench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	out := fs.String("out", "", "Markdown file whose generated part to update (e.g. docs/BENCHMARKS.md)")
	goBenchFile := fs.String("gobench", "", "`go test -bench` output to include")
	cpus := fs.String("server-cpus", "", "pin the server and the relay to these CPUs (taskset -c)")
	profile := fs.String("profile", "", "write CPU profiles of the server under load to `prefix`-fanout.pprof and -calls.pprof")
	reps := fs.Int("reps", 5, "repeated runs per forwarding figure")
	capReps := fs.Int("cap-reps", 3, "repeated windows per capacity level")
	win := fs.Duration("window", 2*time.Second, "forwarding window")
	capWin := fs.Duration("cap-window", 1200*time.Millisecond, "capacity window")
	warm := fs.Duration("warm", 300*time.Millisecond, "sources run this long before measuring")
	profDur := fs.Duration("profile-time", 6*time.Second, "length of each CPU profile")
	subs := fs.String("subscribers", "1,10,40", "forwarding scenarios: subscribers of one publisher")
	subLevels := fs.String("subscriber-levels", "10,20,30,40,49", "subscriber capacity levels (Parley caps a call at 50)")
	callLevels := fs.String("call-levels", "4,8,16,24,32,40,48,64", "1:1 capacity: levels tried in order until one fails (then bisection)")
	callCap := fs.Int("max-calls", 64, "cap of the 1:1 capacity search (the floor's is 4×)")
	joins := fs.Int("joins", 50, "joins (and rejoins) to time")
	memCalls := fs.Int("memory-calls", 16, "1:1 calls for the memory figures")
	advisors := fs.Int("advisors", 4, "advisor accounts (calls share them round-robin)")
	setupTimeout := fs.Duration("setup-timeout", 3*time.Minute, "time allowed for setting up one forwarding scenario")
	only := fs.String("only", "", "comma-separated phases to run (forward,callcpu,calls,subscribers,join,signaling,memory,versus,overload,compare); default all but compare")
	callCPU := fs.String("call-cpu-levels", "10,40", "callcpu phase: numbers of concurrent 1:1 calls for CPU per forwarded packet against the floor")
	callCPUReps := fs.Int("call-cpu-reps", 3, "callcpu phase: windows per side and level")
	baseline := fs.String("baseline", "", "the old build's loadgen `binary` (scripts/bench.sh builds it from BENCH_BASELINE): memory, versus and overload measure its server too")
	baselineName := fs.String("baseline-name", "old build", "label of -baseline (its git revision)")
	idleFor := fs.Duration("idle-time", 10*time.Second, "memory phase: how long the node idles after one login before its RSS is read")
	pinServer := fs.String("pin-server", "1", "versus and overload phases: pin the servers to these CPUs (taskset -c; empty: no pinning)")
	pinGen := fs.String("pin-generator", "0", "versus and overload phases: pin the generator (this process) to these CPUs (empty: no pinning)")
	versusLevels := fs.String("versus-levels", "8,16,24,32,40,48,56,64,80,96", "versus phase: 1:1 levels tried in order until one fails (then bisection)")
	versusCap := fs.Int("versus-max-calls", 128, "versus phase: cap of the 1:1 capacity search")
	overloadTime := fs.Duration("overload-time", 30*time.Second, "overload phase: time at twice the capacity")
	overloadCalls := fs.Int("overload-calls", 0, "overload phase: the 1:1 capacity to double (default: what the versus phase found)")
	overloadOld := fs.Bool("overload-baseline", true, "overload phase: also overload the baseline's server")
	compareCalls := fs.String("compare-calls", "16", "compare phase: numbers of concurrent 1:1 calls")
	other := fs.String("compare", "", "another loadgen `binary` whose server the compare phase measures against this one's")
	if err := fs.Parse(args); err != nil {
		return err
	}
	phase := func(name string) bool {
		if *only == "" {
			return name != "compare"
		}
		return slices.Contains(strings.Split(*only, ","), name)
	}
	start := time.Now()
	b := &bench{
		advisors: *advisors, reps: *reps, capReps: *capReps, stderr: stderr, start: start,
		warm: *warm, win: *win, capWin: *capWin, profDur: *profDur, setupTimeout: *setupTimeout,
		idleFor: *idleFor, baseline: *baseline, baselineName: *baselineName,
		pinServer: *pinServer, pinGenerator: *pinGen,
	}
	if *profile != "" {
		b.dumpDir = filepath.Dir(*profile)
	}
	var err error
	b.logf("starting server and relay (server CPUs %q)", *cpus)
	if b.srv, err = startChild("server", *cpus, fmt.Sprintf("-advisors=%d", *advisors)); err != nil {
		return err
	}
	defer b.srv.stop()
	if b.relay, err = startChild("relay", *cpus); err != nil {
		return err
	}
	defer b.relay.stop()
	b.p = newParley(b.srv)
	ctx := context.Background()
	prof := func(kind string) string {
		if *profile == "" {
			return ""
		}
		return *profile + "-" + kind + ".pprof"
	}
	for _, k := range []string{"fanout", "calls", "idle", "heap"} {
		if p := prof(k); p != "" {
			_ = os.Remove(p) // stale profiles must not be reported as this run's
		}
	}
	timed := func(name string, f func() error) {
		if !phase(name) {
			return
		}
		t := time.Now()
		if err := f(); err != nil {
			b.warnf("%s: %v", name, err)
		}
		b.logf("%s took %s", name, time.Since(t).Round(100*time.Millisecond))
	}

	levels, err := intList(*subs)
	if err != nil {
		return fmt.Errorf("-subscribers: %w", err)
	}
	timed("forward", func() error {
		for i, n := range levels {
			b.logf("forwarding: 1 publisher → %d subscribers", n)
			ps, fsd, err := b.forwarding(ctx, n, profIf(i == len(levels)-1, prof("fanout")))
			if err != nil {
				return fmt.Errorf("forwarding to %d: %w", n, err)
			}
			b.forwardingRows(n, ps, fsd)
		}
		return nil
	})
	timed("callcpu", func() error {
		cl, err := intList(*callCPU)
		if err != nil {
			return fmt.Errorf("-call-cpu-levels: %w", err)
		}
		return b.callCPU(ctx, cl, *callCPUReps)
	})
	timed("calls", func() error {
		b.logf("capacity: concurrent 1:1 consultations")
		cl, err := intList(*callLevels)
		if err != nil {
			return fmt.Errorf("-call-levels: %w", err)
		}
		return b.capacityCalls(ctx, cl, *callCap, prof("calls"))
	})
	timed("subscribers", func() error {
		b.logf("capacity: subscribers of one publisher")
		sl, err := intList(*subLevels)
		if err != nil {
			return err
		}
		return b.capacitySubscribers(ctx, sl)
	})
	timed("join", func() error {
		b.logf("join and rejoin times")
		return b.joinRows(ctx, *joins)
	})
	timed("signaling", func() error {
		b.logf("signaling joins per second")
		return b.signalingRows(ctx)
	})
	timed("memory", func() error {
		b.logf("memory (fresh server)")
		m, err := b.memory(ctx, *memCalls, *cpus, prof("idle"))
		if err != nil {
			return err
		}
		var old *memResult
		if b.baseline != "" {
			b.logf("memory of the baseline %s (fresh server)", b.baselineName)
			if old, err = b.memoryBin(ctx, b.baseline, *memCalls, *cpus, ""); err != nil {
				b.warnf("memory of the baseline: %v", err)
			}
		}
		b.memoryRows(b.versusSection("memory"), m, old)
		return nil
	})
	timed("versus", func() error {
		vl, err := intList(*versusLevels)
		if err != nil {
			return fmt.Errorf("-versus-levels: %w", err)
		}
		return b.versus(ctx, vl, *versusCap)
	})
	timed("overload", func() error {
		return b.overloadPhase(ctx, *overloadCalls, *overloadTime, *overloadOld)
	})
	timed("compare", func() error {
		if *other == "" {
			return errors.New("-compare is not set")
		}
		b.logf("comparing with %s", *other)
		cl, err := intList(*compareCalls)
		if err != nil {
			return fmt.Errorf("-compare-calls: %w", err)
		}
		return b.compare(ctx, *other, levels, cl, *memCalls, *cpus)
	})
	if n := b.srv.errorLines(); n > 0 {
		b.warnf("the server logged %d error lines (first: %s)", n, b.srv.firstError())
	}

	if *goBenchFile != "" {
		data, err := os.ReadFile(*goBenchFile)
		if err != nil {
			return err
		}
		b.goBenchRows(parseGoBench(bytes.NewReader(data)))
	}

	elapsed := time.Since(start)
	mach := machine()
	var doc strings.Builder
	fmt.Fprintf(&doc, "Machine: %s.\n\n", mach)
	fmt.Fprintf(&doc, "The load generator took %s: forwarding figures are medians of %d windows of %s per side (Parley and floor alternating), "+
		"capacity levels medians of %d windows of %s; Go benchmarks medians of their -count runs.\n\n",
		elapsed.Round(time.Second), b.reps, b.win, b.capReps, b.capWin)
	if phase("versus") || phase("overload") {
		fmt.Fprintf(&doc, "The versus and overload phases pinned the servers to CPU %s and the generator to CPU %s (taskset).\n\n",
			orAll(b.pinServer), orAll(b.pinGenerator))
	}
	busy := fmt.Sprintf("Other processes on the machine used a median of %.0f%% of one core (of 200%%) during the measurement windows, at most %.0f%%.",
		median(b.foreign), slices.Max(append([]float64{0}, b.foreign...)))
	fmt.Fprintf(&doc, "%s\n\n", busy)
	markdownTable(&doc, b.rows)
	if len(b.warns) > 0 {
		fmt.Fprintf(&doc, "\nWarnings:\n\n")
		for _, w := range b.warns {
			fmt.Fprintf(&doc, "- %s\n", w)
		}
	}
	var tops []string
	for _, p := range []struct{ kind, what string }{
		{"fanout", fmt.Sprintf("forwarding 1 → %d (%s)", levels[len(levels)-1], b.profDur)},
		{"calls", fmt.Sprintf("%d concurrent 1:1 calls (%s)", b.callsProfiled, b.profDur)},
		{"idle", fmt.Sprintf("%d idle participants (memory phase, 4 s)", 2**memCalls)},
	} {
		path := prof(p.kind)
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			continue
		}
		top := pprofSummary(path)
		tops = append(tops, fmt.Sprintf("CPU profile of the server, %s:\n\n```\n%s```\n", p.what, top))
	}
	if path := prof("idle"); path != "" {
		if _, err := os.Stat(heapProfile(path)); err == nil {
			tops = append(tops, fmt.Sprintf("Heap profile of the server in the memory phase (%d calls, media flowing), in-use space:\n\n```\n%s```\n",
				*memCalls, heapSummary(heapProfile(path))))
		}
	}
	for _, t := range tops {
		fmt.Fprintf(&doc, "\n%s", t)
	}

	fmt.Fprintf(stdout, "Machine: %s\n%s\n\n", mach, busy)
	printTable(stdout, b.rows)
	for _, w := range b.warns {
		fmt.Fprintf(stdout, "WARNING: %s\n", w)
	}
	for _, t := range tops {
		fmt.Fprintf(stdout, "\n%s", t)
	}
	fmt.Fprintf(stdout, "\nload generator: %s\n", elapsed.Round(time.Second))
	if *out != "" {
		if err := writeDoc(*out, doc.String()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "written to %s\n", *out)
	}
	return nil
}

// dumpIfHung saves the server's and the generator's goroutines when a
// set-up timed out (a hang, not slowness: set-ups take seconds), before
// the clients are closed.
func (b *bench) dumpIfHung(ctx context.Context, phase string, err error) {
	if !errors.Is(err, context.DeadlineExceeded) {
		return
	}
	dir := b.dumpDir
	if dir == "" {
		dir = os.TempDir()
	}
	srv := filepath.Join(dir, "hang-"+phase+"-server.txt")
	gen := filepath.Join(dir, "hang-"+phase+"-generator.txt")
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := b.srv.fetch(dctx, "/debug/pprof/goroutine?debug=2", srv); err != nil {
		b.warnf("server goroutine dump: %v", err)
		return
	}
	buf := make([]byte, 16<<20)
	if err := os.WriteFile(gen, buf[:runtime.Stack(buf, true)], 0o644); err != nil {
		b.warnf("generator goroutine dump: %v", err)
		return
	}
	b.logf("goroutine dumps: %s, %s", srv, gen)
	b.warnf("%s timed out; goroutines of the server and the generator saved as %s and %s next to the profiles",
		phase, filepath.Base(srv), filepath.Base(gen))
}

func profIf(ok bool, path string) string {
	if ok {
		return path
	}
	return ""
}

func intList(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("empty list")
	}
	return out, nil
}
