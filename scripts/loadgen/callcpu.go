package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// callCPU measures k concurrent 1:1 calls (each side publishing audio +
// video, receiving the other's) through Parley and through the relay, for
// each k of levels, windows alternating, reps per side: CPU per
// forwarded packet against the floor where every track has one
// subscriber, as in a consultation.
func (b *bench) callCPU(ctx context.Context, levels []int, reps int) error {
	pf := b.parleyCalls("Parley 1:1 calls", b.srv, b.p)
	defer pf.close(ctx)
	ff, err := b.floorCalls()
	if err != nil {
		return err
	}
	defer ff.close(ctx)
	for _, k := range levels {
		b.logf("forwarding: %d 1:1 calls", k)
		sctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		err := pf.resize(sctx, k)
		if err == nil {
			err = ff.resize(sctx, k)
		}
		cancel()
		if err != nil {
			b.dumpIfHung(ctx, fmt.Sprintf("callcpu-%d", k), err)
			return fmt.Errorf("set up %d calls: %w", k, err)
		}
		ps, fs := side{pid: pf.pid}, side{pid: ff.pid}
		var pbad, fbad []string
		for range reps {
			pbad = append(pbad, b.fleetWindow(pf, &ps)...)
			fbad = append(fbad, b.fleetWindow(ff, &fs)...)
		}
		for _, x := range []struct {
			f   *fleet
			bad []string
		}{{pf, pbad}, {ff, fbad}} {
			if len(x.bad) > 0 {
				b.warnf("%s at %d, %d of %d windows: %s", x.f.name, k, len(x.bad), reps, strings.Join(x.bad, "; "))
			}
		}
		b.callCPURows(k, ps, fs)
	}
	return nil
}

// fleetWindow measures one window of all of f's calls into sd and says
// what badDetail found, if anything.
func (b *bench) fleetWindow(f *fleet, sd *side) []string {
	srcs, wants, rxs := f.parts()
	for _, rx := range rxs {
		rx.reset()
	}
	w := measure(srcs, []int{f.pid, 0}, b.warm, 1, b.win)
	fg := evaluate(w[0], wants)
	sd.figs = append(sd.figs, fg)
	b.foreign = append(b.foreign, foreignLoad(fg))
	var bad []string
	if d := badDetail(rxs); d != "" {
		bad = append(bad, d)
	}
	for _, rx := range rxs {
		rx.reset()
	}
	return bad
}

func (b *bench) callCPURows(k int, ps, fs side) {
	sec := fmt.Sprintf("forward %d 1:1 calls", k)
	b.add(sec, "CPU per forwarded packet", "µs", ps.median(cpuPerPacket(ps.pid)), fs.median(cpuPerPacket(fs.pid)),
		"target Parley / floor ≤ 2.5")
	b.add(sec, "forwarder CPU load", "% core", ps.median(load(ps.pid))*100, fs.median(load(fs.pid))*100,
		fmt.Sprintf("generator %.0f%% / %.0f%%; other processes %.0f%% / %.0f%%",
			ps.median(load(0))*100, fs.median(load(0))*100, ps.median(foreignLoad), fs.median(foreignLoad)))
	b.add(sec, "loss", "%", ps.median(lossPct), fs.median(lossPct),
		fmt.Sprintf("UDP buffer drops per window %.0f / %.0f", ps.median(drops), fs.median(drops)))
	b.add(sec, "added latency p99", "ms", ps.median(p99), fs.median(p99), "")
	b.integrityRow(sec, ps, fs)
}
