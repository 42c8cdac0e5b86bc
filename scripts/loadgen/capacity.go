package main

import (
	"context"
	"fmt"
	"time"
)

// Capacity criteria of the issue.
const (
	maxLoss = 0.01
	maxP99  = 20.0 // ms
)

// step is one load level of a capacity search.
type step struct {
	level     int
	parley    side
	floor     side // only for the subscriber search
	pass      bool
	floorPass bool
}

func (s step) passes(sd side) bool {
	return sd.bad() == 0 && sd.median(func(f figures) float64 { return f.loss }) < maxLoss &&
		sd.median(p99) < maxP99
}

// capacityCalls steps up the number of concurrent 1:1 consultations
// (advisor and customer, each publishing audio + video and receiving the
// other's) until one level fails or the cap is reached. Each level is
// measured in b.reps windows; a level passes when the medians meet the
// criteria.
func (b *bench) capacityCalls(ctx context.Context, levels []int) ([]step, error) {
	var calls []*call
	defer func() {
		for _, cl := range calls {
			cl.end(ctx)
		}
	}()
	var steps []step
	for _, k := range levels {
		sctx, cancel := context.WithTimeout(ctx, 90*time.Second)
		for len(calls) < k {
			cl, err := b.p.openCall(sctx, advisorUser(len(calls)%b.advisors))
			if err != nil {
				cancel()
				return steps, err
			}
			calls = append(calls, cl)
			if _, err := b.p.addCustomer(sctx, cl); err != nil {
				cancel()
				return steps, err
			}
			for _, m := range cl.members {
				if err := cl.publish(sctx, m); err != nil {
					cancel()
					return steps, err
				}
			}
			if err := cl.waitFlowing(sctx); err != nil {
				cancel()
				return steps, err
			}
		}
		cancel()
		var srcs []*source
		var wants []want
		var rxs []*receiver
		for _, cl := range calls {
			srcs = append(srcs, cl.sources()...)
			wants = append(wants, cl.wants()...)
			rxs = append(rxs, cl.receivers()...)
		}
		ws := measure(srcs, []int{b.srv.pid(), 0}, b.warm, b.reps, b.capWin)
		st := step{level: k, parley: side{pid: b.srv.pid()}}
		for _, w := range ws {
			st.parley.figs = append(st.parley.figs, evaluate(w, wants))
		}
		if d := badDetail(rxs); d != "" {
			b.warnf("%d calls: %s", k, d)
		}
		for _, rx := range rxs {
			rx.reset()
		}
		st.pass = st.passes(st.parley)
		steps = append(steps, st)
		b.logf("capacity: %d calls: loss %.2f%%, p99 %.1f ms, server %.0f%%, generator %.0f%% → %v",
			k, st.parley.median(lossPct), st.parley.median(p99), st.parley.median(load(b.srv.pid()))*100,
			st.parley.median(load(0))*100, st.pass)
		if !st.pass {
			break
		}
	}
	return steps, nil
}

// capacitySubscribers steps up the subscribers of one publisher, through
// Parley and through the relay at each level.
func (b *bench) capacitySubscribers(ctx context.Context, levels []int) ([]step, error) {
	sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cl, err := b.p.openCall(sctx, advisorUser(0))
	if err != nil {
		return nil, err
	}
	defer cl.end(ctx)
	if err := cl.publish(sctx, cl.members[0]); err != nil {
		return nil, err
	}
	var steps []step
	for _, n := range levels {
		for len(cl.members)-1 < n {
			if _, err := b.p.addCustomer(sctx, cl); err != nil {
				return steps, err
			}
		}
		// Subscribers added after publish learn the stream ids now.
		pub := cl.members[0]
		for _, m := range cl.members[1:] {
			m.rx.expectTrack(string(pub.c.Self())+"~mic", pub.srcs[0].id)
			m.rx.expectTrack(string(pub.c.Self())+"~cam", pub.srcs[1].id)
		}
		if err := cl.waitFlowing(sctx); err != nil {
			return steps, err
		}
		st := step{level: n, parley: side{pid: b.srv.pid()}, floor: side{pid: b.relay.pid()}}
		ws := measure(cl.sources(), []int{b.srv.pid(), 0}, b.warm, b.reps, b.capWin)
		for _, w := range ws {
			st.parley.figs = append(st.parley.figs, evaluate(w, cl.wants()))
		}
		if d := badDetail(cl.receivers()); d != "" {
			b.warnf("%d subscribers: %s", n, d)
		}
		for _, rx := range cl.receivers() {
			rx.reset()
		}
		fl, err := newFloor(b.relay.info.UDP, n)
		if err != nil {
			return steps, err
		}
		fsrcs := []*source{fl.source(false), fl.source(true)}
		var fwants []want
		for _, rx := range fl.rxs {
			for _, s := range fsrcs {
				fwants = append(fwants, want{rx: rx, src: s})
			}
		}
		ws = measure(fsrcs, []int{b.relay.pid(), 0}, b.warm, b.reps, b.capWin)
		for _, w := range ws {
			st.floor.figs = append(st.floor.figs, evaluate(w, fwants))
		}
		fl.close()
		st.pass = st.passes(st.parley)
		st.floorPass = st.passes(st.floor)
		steps = append(steps, st)
		b.logf("subscribers: %d: loss %.2f%%, p99 %.1f ms, server %.0f%%, generator %.0f%% → %v (floor: loss %.2f%%, p99 %.1f ms)",
			n, st.parley.median(lossPct), st.parley.median(p99), st.parley.median(load(b.srv.pid()))*100,
			st.parley.median(load(0))*100, st.pass, st.floor.median(lossPct), st.floor.median(p99))
		if !st.pass {
			break
		}
	}
	return steps, nil
}

// capacityRows reports the highest passing level and the level after it.
func (b *bench) capacityRows(sec, what string, steps []step, floorEstimate float64, floorNote string) {
	best, bestIdx := 0, -1
	for i, s := range steps {
		if s.pass {
			best, bestIdx = s.level, i
		}
	}
	note := ""
	if len(steps) > 0 {
		last := steps[len(steps)-1]
		if !last.pass {
			note = fmt.Sprintf("%d failed: loss %.2f%%, p99 %.1f ms", last.level,
				last.parley.median(lossPct), last.parley.median(p99))
		} else {
			note = fmt.Sprintf("cap reached (%d passed)", last.level)
		}
	}
	b.add(sec, what+" (<1% loss, p99 < 20 ms)", "", float64(best), floorEstimate, note+floorNote)
	if bestIdx >= 0 {
		s := steps[bestIdx]
		b.add(sec, fmt.Sprintf("at %d: server / generator CPU", best), "% core",
			s.parley.median(load(b.srv.pid()))*100, none,
			fmt.Sprintf("generator %.0f%% of its core", s.parley.median(load(0))*100))
		b.add(sec, fmt.Sprintf("at %d: loss, p99", best), "%, ms", s.parley.median(lossPct), none,
			fmt.Sprintf("p99 %.1f ms", s.parley.median(p99)))
	}
}
