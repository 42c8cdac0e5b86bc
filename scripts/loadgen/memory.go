package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"
)

// memSample is the median of three /mem readings.
func memSample(ctx context.Context, srv *child) (heap, rss, goroutines float64, err error) {
	var hs, rs, gs []float64
	for range 3 {
		m, err := srv.mem(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		hs = append(hs, float64(m.HeapAlloc))
		rs = append(rs, float64(m.RSS))
		gs = append(gs, float64(m.Goroutines))
	}
	return median(hs), median(rs), median(gs), nil
}

// memResult is what the memory phase measured on one fresh server.
type memResult struct {
	calls int
	// idleRSS: one advisor logged in, then idle for the idle time;
	// activeRSS: calls 1:1 calls, both sides publishing, media flowing
	// for 6 s. Both VmRSS as the OS reports it (/proc/<pid>/status read
	// by the driver, no forced GC just before).
	idleRSS, activeRSS float64
	idleFor            time.Duration
	// After a forced GC that returns free pages (/mem): before the calls
	// (0), with the calls joined and idle (1), with media flowing (2).
	h0, r0, g0, h1, r1, g1, h2, r2, g2 float64
	idleCPU                            float64 // fraction of a core, idle participants
}

// rssSample is the median of three VmRSS readings 300 ms apart, as the OS
// reports them.
func rssSample(pid int) float64 {
	var v []float64
	for i := range 3 {
		if i > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		v = append(v, float64(procRSS(pid)))
	}
	return median(v)
}

// memory measures a fresh server of this build (see memoryBin).
func (b *bench) memory(ctx context.Context, calls int, cpus, profile string) (*memResult, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return b.memoryBin(ctx, self, calls, cpus, profile)
}

// memoryBin measures a fresh server of loadgen binary bin: first its RSS
// after one login and b.idleFor of idleness, as the OS reports it; then
// its live heap (after GC), RSS (after returning free pages) and
// goroutines for calls 1:1 consultations, connected and idle (joined,
// nothing published), then with both sides publishing audio + video
// (each track forwarded to one subscriber) while media flows, and the RSS
// as the OS reports it just before that last forced GC.
func (b *bench) memoryBin(ctx context.Context, bin string, calls int, cpus, profile string) (*memResult, error) {
	srv, err := startChildBin(bin, "server", cpus, fmt.Sprintf("-advisors=%d", b.advisors))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	p := newParley(srv)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res := &memResult{calls: calls, idleFor: b.idleFor}
	if _, err := p.login(sctx, advisorUser(0)); err != nil {
		return nil, err
	}
	time.Sleep(b.idleFor)
	res.idleRSS = rssSample(srv.pid())
	for i := range b.advisors { // sessions exist before the baseline
		if _, err := p.login(sctx, advisorUser(i)); err != nil {
			return nil, err
		}
	}
	// A warm-up call, so first-use allocations are in the baseline.
	wcl, err := p.openCall(sctx, advisorUser(0))
	if err != nil {
		return nil, err
	}
	if _, err := p.addCustomer(sctx, wcl); err != nil {
		return nil, err
	}
	wcl.end(ctx)
	time.Sleep(300 * time.Millisecond)
	if res.h0, res.r0, res.g0, err = memSample(sctx, srv); err != nil {
		return nil, err
	}
	var cls []*call
	defer func() {
		for _, cl := range cls {
			cl.end(ctx)
		}
	}()
	for i := range calls {
		cl, err := p.openCall(sctx, advisorUser(i%b.advisors))
		if err != nil {
			return nil, err
		}
		cls = append(cls, cl)
		if _, err := p.addCustomer(sctx, cl); err != nil {
			return nil, err
		}
	}
	time.Sleep(time.Second) // connections settle
	if res.h1, res.r1, res.g1, err = memSample(sctx, srv); err != nil {
		return nil, err
	}
	// CPU of idle participants (ICE keepalives, RTCP and interceptor timers).
	c0, t0 := procCPU(srv.pid()), time.Now()
	if profile != "" {
		if err := srv.profile(sctx, 4*time.Second, profile); err != nil {
			b.warnf("idle profile: %v", err)
		}
	} else {
		time.Sleep(3 * time.Second)
	}
	res.idleCPU = (procCPU(srv.pid()) - c0) / time.Since(t0).Seconds()
	var srcs []*source
	for _, cl := range cls {
		for _, m := range cl.members {
			if err := cl.publish(sctx, m); err != nil {
				return nil, err
			}
		}
		if err := cl.waitFlowing(sctx); err != nil {
			return nil, err
		}
		srcs = append(srcs, cl.sources()...)
	}
	stop := startSources(srcs)
	time.Sleep(6 * time.Second) // NACK histories fill (1,024 video packets take 5.7 s)
	res.activeRSS = rssSample(srv.pid())
	res.h2, res.r2, res.g2, err = memSample(sctx, srv)
	if err == nil && profile != "" {
		if herr := srv.fetch(sctx, "/debug/pprof/heap?gc=1", heapProfile(profile)); herr != nil {
			b.warnf("heap profile: %v", herr)
		}
	}
	stop()
	if err != nil {
		return nil, err
	}
	return res, nil
}

// memoryRows adds the rows of one memory measurement, with old (the
// baseline build's, nil if none) in the floor column.
func (b *bench) memoryRows(sec string, m, old *memResult) {
	const kib, mib = 1024, 1024 * 1024
	parts, tracks := float64(2*m.calls), float64(4*m.calls)
	val := func(f func(*memResult) float64) float64 {
		if old == nil {
			return none
		}
		return f(old)
	}
	add := func(metric, unit string, f func(*memResult) float64, note string) {
		b.add(sec, metric, unit, f(m), val(f), note)
	}
	add("idle node RSS after a login", "MiB", func(r *memResult) float64 { return r.idleRSS / mib },
		fmt.Sprintf("fresh server, one advisor logged in, %s idle; VmRSS as the OS reports it (target ≤ 40 MiB)", m.idleFor))
	add("RSS per active 1:1 call above the idle node", "MiB",
		func(r *memResult) float64 { return (r.activeRSS - r.idleRSS) / float64(r.calls) / mib },
		fmt.Sprintf("(VmRSS with %d 1:1 calls, both sides sending audio + video for 6 s, − idle node RSS) / %d; as the OS reports it (target ≤ 2 MiB)", m.calls, m.calls))
	add("RSS with the calls, as the OS reports it", "MiB", func(r *memResult) float64 { return r.activeRSS / mib }, "")
	add("Go heap per idle participant", "KiB", func(r *memResult) float64 { return (r.h1 - r.h0) / parts / kib },
		fmt.Sprintf("%d participants in %d 1:1 calls, joined, nothing published (live heap after a forced GC)", 2*m.calls, m.calls))
	add("RSS per idle participant (after GC)", "KiB", func(r *memResult) float64 { return (r.r1 - r.r0) / parts / kib },
		"after a forced GC that returns free pages to the OS")
	add("goroutines per idle participant", "", func(r *memResult) float64 { return (r.g1 - r.g0) / parts }, "")
	add("server CPU per idle participant", "% core", func(r *memResult) float64 { return r.idleCPU * 100 / parts },
		"ICE keepalives, RTCP and interceptor timers")
	add("Go heap per active track (after GC)", "KiB", func(r *memResult) float64 { return (r.h2 - r.h1) / tracks / kib },
		fmt.Sprintf("%d tracks sending, each forwarded to one subscriber", 4*m.calls))
	add("RSS per active track (after GC)", "KiB", func(r *memResult) float64 { return (r.r2 - r.r1) / tracks / kib }, "")
	add("goroutines per active track", "", func(r *memResult) float64 { return (r.g2 - r.g1) / tracks }, "")
	add("server heap / RSS at the end (after GC)", "MiB", func(r *memResult) float64 { return r.h2 / mib },
		fmt.Sprintf("RSS %.1f MiB", m.r2/mib))
}

// heapProfile is where the memory phase's heap profile goes, next to the
// idle CPU profile.
func heapProfile(idleProfile string) string {
	return strings.TrimSuffix(idleProfile, "-idle.pprof") + "-heap.pprof"
}
