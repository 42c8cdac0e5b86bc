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
// payloads in RTP over plain UDP through the relay (read a datagram,
// write it to every receiver).
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

	reps   int           // repeated windows per figure (medians)
	warm   time.Duration // sources run this long before a window
	win    time.Duration // forwarding window
	capWin time.Duration // capacity window

	rows   []row
	stderr io.Writer
	warns  []string
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.stderr, "loadgen: "+format+"\n", args...)
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
	profile := fs.String("profile", "", "write a CPU profile of the server under forwarding load here")
	reps := fs.Int("reps", 3, "repeated runs per figure")
	subs := fs.String("subscribers", "1,5,20", "forwarding scenarios: subscribers of one publisher")
	callCap := fs.Int("max-calls", 32, "cap of the 1:1 capacity search")
	subCap := fs.Int("max-subscribers", 49, "cap of the subscriber capacity search")
	joins := fs.Int("joins", 30, "joins (and rejoins) to time")
	advisors := fs.Int("advisors", 4, "advisor accounts (calls share them round-robin)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	start := time.Now()
	b := &bench{
		advisors: *advisors, reps: *reps, stderr: stderr,
		warm: 500 * time.Millisecond, win: 2500 * time.Millisecond, capWin: 1500 * time.Millisecond,
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

	var levels []int
	for s := range strings.SplitSeq(*subs, ",") {
		var n int
		if _, err := fmt.Sscan(s, &n); err != nil {
			return fmt.Errorf("-subscribers: %w", err)
		}
		levels = append(levels, n)
	}
	var floorPkt1, floorPktMax float64 // floor CPU per packet (µs)
	for i, n := range levels {
		prof := ""
		if i == len(levels)-1 {
			prof = *profile
		}
		b.logf("forwarding: 1 publisher → %d subscribers", n)
		ps, fsd, err := b.forwarding(ctx, n, prof)
		if err != nil {
			return fmt.Errorf("forwarding to %d: %w", n, err)
		}
		b.forwardingRows(n, ps, fsd)
		if i == 0 {
			floorPkt1 = fsd.median(cpuPerPacket(fsd.pid))
		}
		floorPktMax = fsd.median(cpuPerPacket(fsd.pid))
	}

	b.logf("capacity: concurrent 1:1 consultations")
	var callLevels []int
	for k := 1; k <= *callCap; k *= 2 {
		callLevels = append(callLevels, k)
	}
	steps, err := b.capacityCalls(ctx, callLevels)
	if err != nil {
		b.warnf("capacity (calls) stopped: %v", err)
	}
	// Floor: one core's worth of relay CPU at the floor's cost per packet
	// (a 1:1 call forwards 2 × (50 + 180) packets/s).
	est := 0.0
	if floorPkt1 > 0 {
		est = 1e6 / (floorPkt1 * 2 * pubPacketsPerSec)
	}
	b.capacityRows("capacity 1:1 calls", "concurrent 1:1 calls", steps, est, "; floor: one core at its CPU per packet (1 → 1)")

	b.logf("capacity: subscribers of one publisher")
	var subLevels []int
	for _, n := range []int{10, 20, 30, 40, 49} {
		if n <= *subCap {
			subLevels = append(subLevels, n)
		}
	}
	sst, err := b.capacitySubscribers(ctx, subLevels)
	if err != nil {
		b.warnf("capacity (subscribers) stopped: %v", err)
	}
	floorMax := 0
	for _, s := range sst {
		if s.floorPass {
			floorMax = s.level
		}
	}
	est = 0
	if floorPktMax > 0 {
		est = 1e6 / (floorPktMax * pubPacketsPerSec)
	}
	b.capacityRows("capacity 1 → n", "subscribers of one publisher", sst, float64(floorMax),
		fmt.Sprintf("; floor passed every level it ran; at its CPU per packet one core would carry %.0f", est))

	b.logf("join and rejoin times")
	join, rejoin, err := b.joinTimes(ctx, *joins)
	if err != nil {
		b.warnf("join times: %v", err)
	}
	var floorJoin []float64
	for range *joins {
		d, err := floorFirstPacket(ctx)
		if err != nil {
			b.warnf("floor join: %v", err)
			break
		}
		floorJoin = append(floorJoin, d.Seconds()*1000)
	}
	note := fmt.Sprintf("%d joins; floor: bare pion pair, SDP handed over directly", len(join))
	b.add("join", "WebSocket open → first media packet p50", "ms", percentile(join, 0.5), percentile(floorJoin, 0.5), note)
	b.add("join", "WebSocket open → first media packet p99", "ms", percentile(join, 0.99), percentile(floorJoin, 0.99), "")
	b.add("join", "rejoin after a drop → first media p50", "ms", percentile(rejoin, 0.5), percentile(floorJoin, 0.5),
		fmt.Sprintf("%d reconnects within the grace period", len(rejoin)))
	b.add("join", "rejoin after a drop → first media p99", "ms", percentile(rejoin, 0.99), percentile(floorJoin, 0.99), "")

	b.logf("signaling joins per second")
	var rates, cpuPer, frates, fcpu []float64
	for range b.reps {
		r, c, err := b.joinRate(ctx, 4, 2*time.Second)
		if err != nil {
			b.warnf("join rate: %v", err)
			break
		}
		rates, cpuPer = append(rates, r), append(cpuPer, c)
		r, c, err = b.floorJoinRate(ctx, 4, 2*time.Second)
		if err != nil {
			b.warnf("floor join rate: %v", err)
			break
		}
		frates, fcpu = append(frates, r), append(fcpu, c)
	}
	b.add("signaling", "joins per second (4 clients in parallel)", "joins/s", median(rates), median(frates),
		"open, welcome (joined, media peer made), leave; floor: bare WebSocket upgrade + 1 message")
	b.add("signaling", "server CPU per join", "ms", median(cpuPer), median(fcpu), "")

	b.logf("memory")
	if err := b.memory(ctx, 8); err != nil {
		b.warnf("memory: %v", err)
	}

	if *goBenchFile != "" {
		data, err := os.ReadFile(*goBenchFile)
		if err != nil {
			return err
		}
		b.goBenchRows(parseGoBench(bytes.NewReader(data)))
	}

	elapsed := time.Since(start)
	var doc strings.Builder
	fmt.Fprintf(&doc, "Machine: %s.\n\n", machine())
	fmt.Fprintf(&doc, "Load generator run took %s (medians of %d runs; windows of %s for forwarding, %s for capacity).\n\n",
		elapsed.Round(time.Second), b.reps, b.win, b.capWin)
	markdownTable(&doc, b.rows)
	if len(b.warns) > 0 {
		fmt.Fprintf(&doc, "\nWarnings:\n\n")
		for _, w := range b.warns {
			fmt.Fprintf(&doc, "- %s\n", w)
		}
	}
	top := ""
	if *profile != "" {
		top = pprofTop(*profile, 25)
		n := levels[len(levels)-1]
		fmt.Fprintf(&doc, "\nCPU profile of the server, forwarding 1 → %d (flat, top 25):\n\n```\n%s```\n", n, top)
	}

	fmt.Fprintf(stdout, "Machine: %s\n\n", machine())
	printTable(stdout, b.rows)
	for _, w := range b.warns {
		fmt.Fprintf(stdout, "WARNING: %s\n", w)
	}
	if top != "" {
		fmt.Fprintf(stdout, "\nCPU profile of the server (flat, top 25):\n%s\n", top)
	}
	if *out != "" {
		if err := writeDoc(*out, doc.String()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nwritten to %s\n", *out)
	}
	return nil
}
