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

// memory measures a fresh server's live heap (after GC), RSS (after
// returning free pages) and goroutines for calls 1:1 consultations:
// first connected and idle (joined, nothing published), then with both
// sides publishing audio + video (each track forwarded to one
// subscriber) while media flows.
func (b *bench) memory(ctx context.Context, calls int, cpus, profile string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	return b.memoryBin(ctx, self, calls, cpus, profile)
}

// memoryOf is memory with another loadgen binary's server (-compare).
func (b *bench) memoryOf(ctx context.Context, bin string, calls int, cpus string) error {
	return b.memoryBin(ctx, bin, calls, cpus, "")
}

func (b *bench) memoryBin(ctx context.Context, bin string, calls int, cpus, profile string) error {
	srv, err := startChildBin(bin, "server", cpus, fmt.Sprintf("-advisors=%d", b.advisors))
	if err != nil {
		return err
	}
	defer srv.stop()
	p := newParley(srv)
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for i := range b.advisors { // sessions exist before the baseline
		if _, err := p.login(sctx, advisorUser(i)); err != nil {
			return err
		}
	}
	// A warm-up call, so first-use allocations are in the baseline.
	wcl, err := p.openCall(sctx, advisorUser(0))
	if err != nil {
		return err
	}
	if _, err := p.addCustomer(sctx, wcl); err != nil {
		return err
	}
	wcl.end(ctx)
	time.Sleep(300 * time.Millisecond)
	h0, r0, g0, err := memSample(sctx, srv)
	if err != nil {
		return err
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
			return err
		}
		cls = append(cls, cl)
		if _, err := p.addCustomer(sctx, cl); err != nil {
			return err
		}
	}
	time.Sleep(time.Second) // connections settle
	h1, r1, g1, err := memSample(sctx, srv)
	if err != nil {
		return err
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
	idleCPU := (procCPU(srv.pid()) - c0) / time.Since(t0).Seconds()
	var srcs []*source
	for _, cl := range cls {
		for _, m := range cl.members {
			if err := cl.publish(sctx, m); err != nil {
				return err
			}
		}
		if err := cl.waitFlowing(sctx); err != nil {
			return err
		}
		srcs = append(srcs, cl.sources()...)
	}
	stop := startSources(srcs)
	time.Sleep(6 * time.Second) // NACK histories fill (1,024 video packets take 5.7 s)
	h2, r2, g2, err := memSample(sctx, srv)
	if err == nil && profile != "" {
		if herr := srv.fetch(sctx, "/debug/pprof/heap?gc=1", heapProfile(profile)); herr != nil {
			b.warnf("heap profile: %v", herr)
		}
	}
	stop()
	if err != nil {
		return err
	}
	parts, tracks := float64(2*calls), float64(4*calls)
	const kib = 1024
	sec := "memory"
	b.add(sec, "Go heap per idle participant", "KiB", (h1-h0)/parts/kib, none,
		fmt.Sprintf("%d participants in %d 1:1 calls, joined, nothing published (fresh server, live heap after GC)", 2*calls, calls))
	b.add(sec, "RSS per idle participant", "KiB", (r1-r0)/parts/kib, none, "after returning free pages to the OS")
	b.add(sec, "goroutines per idle participant", "", (g1-g0)/parts, none, "")
	b.add(sec, "server CPU per idle participant", "% core", idleCPU*100/parts, none, "ICE keepalives, RTCP and interceptor timers")
	b.add(sec, "Go heap per active track", "KiB", (h2-h1)/tracks/kib, none,
		fmt.Sprintf("%d tracks sending, each forwarded to one subscriber", 4*calls))
	b.add(sec, "RSS per active track", "KiB", (r2-r1)/tracks/kib, none, "")
	b.add(sec, "goroutines per active track", "", (g2-g1)/tracks, none, "")
	b.add(sec, "server heap / RSS at the end", "MiB", h2/kib/kib, none, fmt.Sprintf("RSS %.1f MiB", r2/kib/kib))
	return nil
}

// heapProfile is where the memory phase's heap profile goes, next to the
// idle CPU profile.
func heapProfile(idleProfile string) string {
	return strings.TrimSuffix(idleProfile, "-idle.pprof") + "-heap.pprof"
}
