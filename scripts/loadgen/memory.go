package main

import (
	"context"
	"time"
)

// memSample is the median of three /mem readings.
func (b *bench) memSample(ctx context.Context) (heap, rss, goroutines float64, err error) {
	var hs, rs, gs []float64
	for range 3 {
		m, err := b.srv.mem(ctx)
		if err != nil {
			return 0, 0, 0, err
		}
		hs = append(hs, float64(m.HeapAlloc))
		rs = append(rs, float64(m.RSS))
		gs = append(gs, float64(m.Goroutines))
	}
	return median(hs), median(rs), median(gs), nil
}

// memory measures the server's live heap (after GC), RSS and goroutines
// for calls 1:1 consultations: connected and idle (joined, nothing
// published), then with both sides publishing audio + video (each track
// forwarded to one subscriber).
func (b *bench) memory(ctx context.Context, calls int) error {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	h0, r0, g0, err := b.memSample(sctx)
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
		cl, err := b.p.openCall(sctx, advisorUser(i%b.advisors))
		if err != nil {
			return err
		}
		cls = append(cls, cl)
		if _, err := b.p.addCustomer(sctx, cl); err != nil {
			return err
		}
	}
	time.Sleep(500 * time.Millisecond) // subscribe connections settle
	h1, r1, g1, err := b.memSample(sctx)
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
	time.Sleep(time.Second)
	h2, r2, g2, err := b.memSample(sctx)
	stop()
	if err != nil {
		return err
	}
	parts, tracks := float64(2*calls), float64(4*calls)
	const kib = 1024
	b.add("memory", "Go heap per idle participant", "KiB", (h1-h0)/parts/kib, none, "2 peer connections each, joined, nothing published")
	b.add("memory", "RSS per idle participant", "KiB", (r1-r0)/parts/kib, none, "")
	b.add("memory", "goroutines per idle participant", "", (g1-g0)/parts, none, "")
	b.add("memory", "Go heap per active track", "KiB", (h2-h1)/tracks/kib, none, "sending, one subscriber each")
	b.add("memory", "RSS per active track", "KiB", (r2-r1)/tracks/kib, none, "")
	b.add("memory", "goroutines per active track", "", (g2-g1)/tracks, none, "")
	return nil
}
