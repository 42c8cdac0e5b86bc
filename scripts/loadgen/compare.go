package main

import (
	"context"
	"fmt"
	"time"
)

// compare measures this build's server against another loadgen binary's
// (built from other Parley sources, e.g. before an sfu change) in the
// same way: the same fan-out through both, windows alternating, and the
// memory figures of a fresh server of each. It is for before/after
// measurements (`loadgen bench -only compare -compare OTHER`), not part of
// `make bench`.
func (b *bench) compare(ctx context.Context, other string, levels, calls []int, memCalls int, cpus string) error {
	osrv, err := startChildBin(other, "server", cpus, fmt.Sprintf("-advisors=%d", b.advisors))
	if err != nil {
		return err
	}
	defer osrv.stop()
	op := newParley(osrv)
	for _, n := range levels {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		a, err := fanoutCall(sctx, b.p, n)
		if err != nil {
			cancel()
			if a != nil {
				a.end(ctx)
			}
			return err
		}
		o, err := fanoutCall(sctx, op, n)
		cancel()
		if err != nil {
			a.end(ctx)
			if o != nil {
				o.end(ctx)
			}
			return err
		}
		this, that := side{pid: b.srv.pid()}, side{pid: osrv.pid()}
		for range b.reps {
			b.runWindow(a, this.pid, &this, "this build")
			b.runWindow(o, that.pid, &that, "the other build")
		}
		sec := fmt.Sprintf("this / other build, 1 → %d", n)
		b.add(sec, "CPU per forwarded packet", "µs", this.median(cpuPerPacket(this.pid)), that.median(cpuPerPacket(that.pid)),
			fmt.Sprintf("other processes %.0f%% / %.0f%%", this.median(foreignLoad), that.median(foreignLoad)))
		b.add(sec, "loss", "%", this.median(lossPct), that.median(lossPct), "")
		b.add(sec, "added latency p50", "ms", this.median(p50), that.median(p50), "")
		b.add(sec, "added latency p99", "ms", this.median(p99), that.median(p99), "")
		a.end(ctx)
		o.end(ctx)
	}
	for _, k := range calls {
		this, that := b.parleyCalls("this build", b.srv, b.p), b.parleyCalls("other build", osrv, op)
		sctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		err := this.resize(sctx, k)
		if err == nil {
			err = that.resize(sctx, k)
		}
		cancel()
		if err != nil {
			this.close(ctx)
			that.close(ctx)
			return err
		}
		ts, osd := side{pid: this.pid}, side{pid: that.pid}
		for range b.reps {
			ts.figs = append(ts.figs, b.measureLevel(this).sd.figs...)
			osd.figs = append(osd.figs, b.measureLevel(that).sd.figs...)
		}
		sec := fmt.Sprintf("this / other build, %d 1:1 calls", k)
		b.add(sec, "server CPU", "% core", ts.median(load(ts.pid))*100, osd.median(load(osd.pid))*100,
			fmt.Sprintf("other processes %.0f%% / %.0f%%", ts.median(foreignLoad), osd.median(foreignLoad)))
		b.add(sec, "loss", "%", ts.median(lossPct), osd.median(lossPct), "")
		b.add(sec, "UDP buffer drops per window", "", ts.median(drops), osd.median(drops), "")
		b.add(sec, "added latency p99", "ms", ts.median(p99), osd.median(p99), "")
		this.close(ctx)
		that.close(ctx)
	}
	// Memory: this build, then the other, each on a fresh server.
	mine, err := b.memory(ctx, memCalls, cpus, "")
	if err != nil {
		return err
	}
	theirs, err := b.memoryBin(ctx, other, memCalls, cpus, "")
	if err != nil {
		return err
	}
	b.memoryRows("this / other build, memory", mine, theirs)
	return nil
}
