package main

import (
	"context"
	"fmt"
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
func (b *bench) memory(ctx context.Context, calls int, cpus string) error {
	srv, err := startChild("server", cpus, fmt.Sprintf("-advisors=%d", b.advisors))
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
	time.Sleep(2 * time.Second) // NACK buffers fill
	h2, r2, g2, err := memSample(sctx, srv)
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
	b.add(sec, "Go heap per active track", "KiB", (h2-h1)/tracks/kib, none,
		fmt.Sprintf("%d tracks sending, each forwarded to one subscriber", 4*calls))
	b.add(sec, "RSS per active track", "KiB", (r2-r1)/tracks/kib, none, "")
	b.add(sec, "goroutines per active track", "", (g2-g1)/tracks, none, "")
	b.add(sec, "server heap / RSS at the end", "MiB", h2/kib/kib, none, fmt.Sprintf("RSS %.1f MiB", r2/kib/kib))
	return nil
}
