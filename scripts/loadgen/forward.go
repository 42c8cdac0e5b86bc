package main

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// side is one forwarder's figures over the repeated runs of a scenario.
type side struct {
	figs []figures
	pid  int // the forwarder's process
}

func (s side) median(f func(figures) float64) float64 {
	var v []float64
	for _, x := range s.figs {
		v = append(v, f(x))
	}
	return median(v)
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func (s side) bad() int64 {
	var n int64
	for _, f := range s.figs {
		n += f.bad
	}
	return n
}

// Per-window derived figures.
func cpuPerPacket(pid int) func(figures) float64 { // µs
	return func(f figures) float64 {
		if f.received == 0 {
			return 0
		}
		return f.cpu[pid] / float64(f.received) * 1e6
	}
}

func packetsPerCore(pid int) func(figures) float64 {
	return func(f figures) float64 {
		if f.cpu[pid] <= 0 {
			return 0
		}
		return float64(f.received) / f.cpu[pid]
	}
}

func mbitPerCore(pid int) func(figures) float64 {
	return func(f figures) float64 {
		if f.cpu[pid] <= 0 {
			return 0
		}
		return float64(f.bytes) * 8 / f.cpu[pid] / 1e6
	}
}

func load(pid int) func(figures) float64 { // fraction of one core
	return func(f figures) float64 { return f.cpu[pid] / f.wall }
}

func lossPct(f figures) float64 { return f.loss * 100 }
func p50(f figures) float64     { return f.p50 }
func p99(f figures) float64     { return f.p99 }

// forwarding measures one publisher (audio + video) → n subscribers
// through Parley and through the relay, alternating, reps times each.
// With profile set, it also takes a CPU profile of the server under
// this load.
func (b *bench) forwarding(ctx context.Context, n int, profile string) (parleySide, floorSide side, err error) {
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	cl, err := b.p.openCall(sctx, advisorUser(0))
	if err != nil {
		return side{}, side{}, err
	}
	defer cl.end(ctx)
	for range n {
		if _, err := b.p.addCustomer(sctx, cl); err != nil {
			return side{}, side{}, fmt.Errorf("add subscriber: %w", err)
		}
	}
	if err := cl.publish(sctx, cl.members[0]); err != nil {
		return side{}, side{}, err
	}
	if err := cl.waitFlowing(sctx); err != nil {
		return side{}, side{}, err
	}
	fl, err := newFloor(b.relay.info.UDP, n)
	if err != nil {
		return side{}, side{}, err
	}
	defer fl.close()
	fsrcs := []*source{fl.source(false), fl.source(true)}
	var fwants []want
	for _, rx := range fl.rxs {
		for _, s := range fsrcs {
			fwants = append(fwants, want{rx: rx, src: s})
		}
	}
	srv, rel := b.srv.pid(), b.relay.pid()
	parleySide.pid, floorSide.pid = srv, rel
	for range b.reps {
		w := measure(cl.sources(), []int{srv, 0}, b.warm, 1, b.win)
		parleySide.figs = append(parleySide.figs, evaluate(w[0], cl.wants()))
		if d := badDetail(cl.receivers()); d != "" {
			b.warnf("forwarding to %d through Parley: %s", n, d)
		}
		for _, rx := range cl.receivers() {
			rx.reset()
		}
		w = measure(fsrcs, []int{rel, 0}, b.warm, 1, b.win)
		floorSide.figs = append(floorSide.figs, evaluate(w[0], fwants))
		if d := badDetail(fl.rxs); d != "" {
			b.warnf("forwarding to %d through the relay: %s", n, d)
		}
		for _, rx := range fl.rxs {
			rx.reset()
		}
	}
	if profile != "" {
		stop := startSources(cl.sources())
		time.Sleep(b.warm)
		if err := b.srv.profile(ctx, 4*time.Second, profile); err != nil {
			b.warnf("CPU profile: %v", err)
		}
		stop()
	}
	return parleySide, floorSide, nil
}

// forwardingRows turns one scenario into table rows.
func (b *bench) forwardingRows(n int, ps, fs side) {
	sec := fmt.Sprintf("forward 1 pub → %d sub", n)
	note := ""
	if bad := ps.bad() + fs.bad(); bad > 0 {
		note = fmt.Sprintf("INTEGRITY: %d bad packets", bad)
	}
	gen := ps.median(load(0)) * 100
	b.add(sec, "CPU per forwarded packet", "µs", ps.median(cpuPerPacket(ps.pid)), fs.median(cpuPerPacket(fs.pid)), note)
	b.add(sec, "packets forwarded per s per core", "pkt/s", ps.median(packetsPerCore(ps.pid)), fs.median(packetsPerCore(fs.pid)), "")
	b.add(sec, "bits forwarded per s per core", "Mbit/s", ps.median(mbitPerCore(ps.pid)), fs.median(mbitPerCore(fs.pid)), "")
	b.add(sec, "forwarder CPU load", "% core", ps.median(load(ps.pid))*100, fs.median(load(fs.pid))*100,
		fmt.Sprintf("generator %.0f%% of its core", gen))
	b.add(sec, "loss", "%", ps.median(lossPct), fs.median(lossPct), "")
	b.add(sec, "latency p50", "ms", ps.median(p50), fs.median(p50), "")
	b.add(sec, "latency p99", "ms", ps.median(p99), fs.median(p99), "")
}
