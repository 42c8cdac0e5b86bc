package main

import (
	"context"
	"fmt"
	"slices"
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

// counts sums the integrity counters of all runs.
func (s side) counts() counts {
	var c counts
	for _, f := range s.figs {
		c.add(f.counts)
	}
	return c
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
func drops(f figures) float64   { return float64(f.udpDrops) }

// foreignLoad is the CPU other processes used meanwhile (% of one core).
func foreignLoad(f figures) float64 { return f.foreign / f.wall * 100 }
func p50(f figures) float64         { return f.p50 }
func p99(f figures) float64         { return f.p99 }

// forwarding measures one publisher (audio + video) → n subscribers
// through Parley and through the relay, alternating, b.reps times each.
// With profile set, it then takes a CPU profile of the server under the
// same load.
func (b *bench) forwarding(ctx context.Context, n int, profile string) (parleySide, floorSide side, err error) {
	sctx, cancel := context.WithTimeout(ctx, b.setupTimeout)
	defer cancel()
	cl, err := fanoutCall(sctx, b.p, n)
	if cl != nil {
		defer cl.end(ctx)
	}
	if err != nil {
		b.dumpIfHung(ctx, fmt.Sprintf("forward-%d", n), err)
		return side{}, side{}, err
	}
	rig, err := newFloorRig(b.relay.info.UDP)
	if err != nil {
		return side{}, side{}, err
	}
	defer rig.close()
	fc, err := rig.call("forward", n+1)
	if err != nil {
		return side{}, side{}, err
	}
	if err := fc.publish(sctx, fc.members[0]); err != nil {
		return side{}, side{}, err
	}
	if err := fc.waitFlowing(sctx); err != nil {
		return side{}, side{}, err
	}
	srv, rel := b.srv.pid(), b.relay.pid()
	parleySide.pid, floorSide.pid = srv, rel
	for range b.reps {
		b.runWindow(cl, srv, &parleySide, fmt.Sprintf("forwarding to %d through Parley", n))
		b.runWindow(fc, rel, &floorSide, fmt.Sprintf("forwarding to %d through the relay", n))
	}
	if profile != "" {
		b.logf("profiling the server at 1 → %d", n)
		b.profileServer(ctx, []*call{cl}, profile)
	}
	return parleySide, floorSide, nil
}

// fanoutCall opens a consultation with n customers, the advisor
// publishing audio and video, flowing to all.
func fanoutCall(ctx context.Context, p *parley, n int) (*call, error) {
	cl, err := p.openCall(ctx, advisorUser(0))
	if err != nil {
		return nil, err
	}
	for range n {
		if _, err := p.addCustomer(ctx, cl); err != nil {
			return cl, fmt.Errorf("add subscriber: %w", err)
		}
	}
	if err := cl.publish(ctx, cl.members[0]); err != nil {
		return cl, err
	}
	return cl, cl.waitFlowing(ctx)
}

// runWindow measures one forwarding window of c's sources, whose
// forwarder is pid, into sd.
func (b *bench) runWindow(c *call, pid int, sd *side, what string) {
	for _, rx := range c.receivers() {
		rx.reset()
	}
	w := measure(c.sources(), []int{pid, 0}, b.warm, 1, b.win)
	f := evaluate(w[0], c.wants())
	sd.figs = append(sd.figs, f)
	b.foreign = append(b.foreign, foreignLoad(f))
	if d := badDetail(c.receivers()); d != "" {
		b.warnf("%s: %s", what, d)
	}
}

// forwardingRows turns one scenario into table rows.
func (b *bench) forwardingRows(n int, ps, fs side) {
	sec := fmt.Sprintf("forward 1 pub → %d sub", n)
	gen := ps.median(load(0)) * 100
	fgen := fs.median(load(0)) * 100
	b.add(sec, "CPU per forwarded packet", "µs", ps.median(cpuPerPacket(ps.pid)), fs.median(cpuPerPacket(fs.pid)), "")
	b.add(sec, "packets forwarded per s per core", "pkt/s", ps.median(packetsPerCore(ps.pid)), fs.median(packetsPerCore(fs.pid)), "")
	b.add(sec, "bits forwarded per s per core", "Mbit/s", ps.median(mbitPerCore(ps.pid)), fs.median(mbitPerCore(fs.pid)), "")
	b.add(sec, "forwarder CPU load", "% core", ps.median(load(ps.pid))*100, fs.median(load(fs.pid))*100,
		fmt.Sprintf("generator %.0f%% / %.0f%%; other processes %.0f%% / %.0f%%", gen, fgen,
			ps.median(foreignLoad), fs.median(foreignLoad)))
	b.add(sec, "loss", "%", ps.median(lossPct), fs.median(lossPct),
		fmt.Sprintf("UDP buffer drops per window %.0f / %.0f", ps.median(drops), fs.median(drops)))
	b.add(sec, "added latency p50", "ms", ps.median(p50), fs.median(p50), "")
	b.add(sec, "added latency p99", "ms", ps.median(p99), fs.median(p99), "")
	b.integrityRow(sec, ps, fs)
}

func integrity(c counts) string {
	return fmt.Sprintf("%d, %d, %d, %d", c.corrupt, c.wrong, c.dup, c.reorder)
}

func sumReceived(s side) int64 {
	var n int64
	for _, f := range s.figs {
		n += f.received
	}
	return n
}

// integrityRow reports what the receivers of both sides saw amiss.
func (b *bench) integrityRow(sec string, ps, fs side) {
	pc, fc := ps.counts(), fs.counts()
	note := fmt.Sprintf("of %d / %d packets received", sumReceived(ps), sumReceived(fs))
	if pc.bad()+fc.bad() > 0 {
		note = "INTEGRITY FAILURE; " + note
	}
	b.rows = append(b.rows, row{section: sec, metric: "corrupt, wrong track, duplicate, reordered", floor: none,
		text: integrity(pc), floorText: integrity(fc), note: note})
}
