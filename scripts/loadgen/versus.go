package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// versusSection names a section that compares this build with the
// baseline (in the floor column) when there is one.
func (b *bench) versusSection(what string) string {
	if b.baseline == "" {
		return what
	}
	return fmt.Sprintf("%s, this / old build (%s)", what, b.baselineName)
}

// cpuCount is the number of CPUs in a taskset list ("0", "0-1", "0,2-3");
// 0 for an empty or malformed list.
func cpuCount(list string) int {
	n := 0
	for f := range strings.SplitSeq(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return 0
		}
		a, z, isRange := strings.Cut(f, "-")
		lo, err := strconv.Atoi(a)
		if err != nil || lo < 0 {
			return 0
		}
		if !isRange {
			n++
			continue
		}
		hi, err := strconv.Atoi(z)
		if err != nil || hi < lo {
			return 0
		}
		n += hi - lo + 1
	}
	return n
}

// pinSelf pins every thread of this process to cpus (taskset -a -p; new
// threads inherit it) and returns a function that restores the previous
// affinity. Empty cpus: nothing to do.
func pinSelf(cpus string) (restore func(), err error) {
	if cpus == "" {
		return func() {}, nil
	}
	pid := strconv.Itoa(os.Getpid())
	out, err := exec.Command("taskset", "-p", "-c", pid).Output()
	if err != nil {
		return nil, fmt.Errorf("taskset -p: %w", err)
	}
	_, prev, ok := strings.Cut(strings.TrimSpace(string(out)), "list: ")
	if !ok {
		return nil, fmt.Errorf("taskset -p: unexpected output %q", out)
	}
	set := func(l string) error {
		// Twice: a thread created while taskset walked the list may have
		// copied the old mask.
		for range 2 {
			if out, err := exec.Command("taskset", "-a", "-p", "-c", l, pid).CombinedOutput(); err != nil {
				return fmt.Errorf("taskset -a -p -c %s: %w: %s", l, err, out)
			}
		}
		return nil
	}
	if err := set(cpus); err != nil {
		return nil, err
	}
	return func() { _ = set(prev) }, nil
}

// contender is one build in the versus phase: its server, its fleet of
// 1:1 calls and its capacity search.
type contender struct {
	name   string
	srv    *child
	fleet  *fleet
	search *searcher
	steps  []step
	err    error // set-up failed: the search stopped there
}

// versus searches the 1:1 capacity of this build and of the baseline
// (when there is one) on fresh servers pinned to b.pinServer, the
// generator pinned to b.pinGenerator, level by level alternating between
// the builds, and reports both and their ratio.
func (b *bench) versus(ctx context.Context, levels []int, capCalls int) error {
	restore, err := pinSelf(b.pinGenerator)
	if err != nil {
		return err
	}
	defer restore()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	bins := []struct{ name, bin string }{{"this build", self}}
	if b.baseline != "" {
		bins = append(bins, struct{ name, bin string }{"old build " + b.baselineName, b.baseline})
	}
	var cs []*contender
	defer func() {
		for _, c := range cs {
			c.fleet.close(ctx)
			c.srv.stop()
		}
	}()
	for _, x := range bins {
		srv, err := startChildBin(x.bin, "server", b.pinServer, fmt.Sprintf("-advisors=%d", b.advisors))
		if err != nil {
			return fmt.Errorf("%s: %w", x.name, err)
		}
		c := &contender{name: x.name, srv: srv, search: &searcher{levels: levels, cap: capCalls, bisect: true}}
		c.fleet = b.parleyCalls(x.name+" 1:1 calls", srv, newParley(srv))
		cs = append(cs, c)
	}
	b.logf("versus: 1:1 capacity, servers on CPUs %q, generator on %q", b.pinServer, b.pinGenerator)
	for round := 0; ; round++ {
		// Every build whose search goes on sets up its next level; then
		// all are measured, windows alternating (who goes first too).
		var act []*contender
		var fs []*fleet
		for _, c := range cs {
			if c.err != nil {
				continue
			}
			k, ok := c.search.next()
			if !ok {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
			err := c.fleet.resize(sctx, k)
			cancel()
			if err != nil {
				c.err = fmt.Errorf("set up %d: %w", k, err)
				b.warnf("versus: %s: %v", c.name, c.err)
				continue
			}
			act = append(act, c)
			fs = append(fs, c.fleet)
		}
		if len(act) == 0 {
			break
		}
		if round%2 == 1 {
			slices.Reverse(act)
			slices.Reverse(fs)
		}
		for i, st := range b.measureAlternatingRetry(fs) {
			c := act[i]
			c.steps = append(c.steps, st)
			c.search.record(st.level, st.pass)
		}
	}
	for _, c := range cs {
		c.steps = sortSteps(c.steps)
	}
	this := cs[0]
	b.capThis, _ = best(this.steps)
	var old *contender
	if len(cs) > 1 {
		old = cs[1]
		b.capOld, _ = best(old.steps)
	}
	b.versusRows(this, old, capCalls)
	return nil
}

// versusRows reports the capacities found by versus.
func (b *bench) versusRows(this, old *contender, capCalls int) {
	sec := b.versusSection("capacity 1:1 calls, server pinned")
	genCores := cpuCount(b.pinGenerator)
	describe := func(c *contender) string {
		k, _ := best(c.steps)
		s := c.name + ": "
		if f := failedAbove(c.steps, k); f != nil {
			gen := f.sd.median(load(0)) * 100
			s += fmt.Sprintf("%d failed (loss %.2f%%, p99 %.1f ms, server %.0f%%, generator %.0f%%, other processes %.0f%%)",
				f.level, f.sd.median(lossPct), f.sd.median(p99), f.sd.median(load(f.sd.pid))*100, gen, f.sd.median(foreignLoad))
			if genCores > 0 && gen >= 90*float64(genCores) {
				s += " GENERATOR-BOUND: its CPUs were saturated, the capacity is a lower bound"
			}
		} else if c.err != nil {
			s += "set-up failed: " + c.err.Error()
		} else {
			s += fmt.Sprintf("search cap %d reached", capCalls)
		}
		return s
	}
	pin := "not pinned"
	if b.pinServer != "" || b.pinGenerator != "" {
		pin = fmt.Sprintf("server on CPU %s, generator on CPU %s", orAll(b.pinServer), orAll(b.pinGenerator))
	}
	note := pin + "; " + describe(this)
	oldCap := none
	if old != nil {
		note += "; " + describe(old) + "; target: this / old ≥ 1.5"
		oldCap = float64(b.capOld)
	}
	b.add(sec, "concurrent 1:1 calls (<1% loss, p99 < 20 ms)", "", float64(b.capThis), oldCap, note)
	at := func(c *contender) *step {
		if c == nil {
			return nil
		}
		_, st := best(c.steps)
		return st
	}
	ts, ost := at(this), at(old)
	if ts == nil {
		return
	}
	fig := func(st *step, f func(step) float64) float64 {
		if st == nil {
			return none
		}
		return f(*st)
	}
	b.add(sec, "at capacity: loss", "%", ts.sd.median(lossPct), fig(ost, func(s step) float64 { return s.sd.median(lossPct) }), "")
	b.add(sec, "at capacity: added latency p99", "ms", ts.sd.median(p99), fig(ost, func(s step) float64 { return s.sd.median(p99) }), "")
	b.add(sec, "at capacity: server CPU per call", "% core",
		ts.sd.median(load(ts.sd.pid))/float64(ts.level)*100,
		fig(ost, func(s step) float64 { return s.sd.median(load(s.sd.pid)) / float64(s.level) * 100 }),
		fmt.Sprintf("generator %s (of %d%%)", joinPct(ts, ost), 100*max(genCores, 1)))
}

func joinPct(a, b *step) string {
	s := fmt.Sprintf("%.0f%%", a.sd.median(load(0))*100)
	if b != nil {
		s += fmt.Sprintf(" / %.0f%%", b.sd.median(load(0))*100)
	}
	return s
}

func orAll(cpus string) string {
	if cpus == "" {
		return "any"
	}
	return cpus
}

// overloadResult is one build's overload run.
type overloadResult struct {
	name         string
	capacity     int // calls at capacity
	level        int // calls during the overload (twice capacity, unless set-up failed)
	setupErr     error
	rssCap       float64 // median RSS at capacity, media flowing
	rssPeak      float64 // highest RSS during the overload
	at, over     []figures
	rssAfter     float64       // RSS 5 s after the extra calls ended
	rec          step          // capacity level again: the first that passed, or the last try
	recAfter     time.Duration // from the end of the extra calls to the end of rec
	rssEnd       float64       // RSS after rec
	rssEndGC     float64       // then after a forced GC that returns free pages (in use, not free)
	overloadTime time.Duration
	pid          int
}

// overloadPhase runs overload for this build and (with withOld) the
// baseline, at twice their capacities.
func (b *bench) overloadPhase(ctx context.Context, calls int, d time.Duration, withOld bool) error {
	capThis, capOld := b.capThis, b.capOld
	if calls > 0 {
		capThis, capOld = calls, calls
	}
	if capThis == 0 {
		return errors.New("no capacity to double: run the versus phase first or set -overload-calls")
	}
	restore, err := pinSelf(b.pinGenerator)
	if err != nil {
		return err
	}
	defer restore()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	res, err := b.overload(ctx, "this build", self, capThis, d)
	if err != nil {
		return err
	}
	var old *overloadResult
	if withOld && b.baseline != "" && capOld > 0 {
		if old, err = b.overload(ctx, "old build "+b.baselineName, b.baseline, capOld, d); err != nil {
			b.warnf("overload of the baseline: %v", err)
			old = nil
		}
	}
	b.overloadRows(res, old)
	return nil
}

// overload runs a fresh server of bin (pinned like in versus) at capacity
// calls, then at twice that for d, then at capacity again: its RSS at
// capacity (media flowing), the highest RSS during the overload, loss and
// latency meanwhile, its RSS once the extra calls have ended, and a
// capacity window again.
func (b *bench) overload(ctx context.Context, name, bin string, capacity int, d time.Duration) (*overloadResult, error) {
	srv, err := startChildBin(bin, "server", b.pinServer, fmt.Sprintf("-advisors=%d", b.advisors))
	if err != nil {
		return nil, err
	}
	defer srv.stop()
	f := b.parleyCalls(name+" 1:1 calls", srv, newParley(srv))
	defer f.close(ctx)
	r := &overloadResult{name: name, capacity: capacity, pid: srv.pid(), overloadTime: d}
	resize := func(k int) error {
		sctx, cancel := context.WithTimeout(ctx, 4*time.Minute)
		defer cancel()
		return f.resize(sctx, k)
	}
	b.logf("overload %s: %d calls (capacity)", name, capacity)
	if err := resize(capacity); err != nil {
		return nil, fmt.Errorf("set up %d calls: %w", capacity, err)
	}
	var rss []float64
	r.at, rss = b.sampledWindows(f, 2*time.Second, 3, 2*time.Second)
	r.rssCap = median(rss)
	b.logf("overload %s: %d calls (twice the capacity)", name, 2*capacity)
	if err := resize(2 * capacity); err != nil {
		r.setupErr = err
		b.warnf("overload %s: set up %d calls: %v (overloading with the %d set up)", name, 2*capacity, err, len(f.calls))
	}
	r.level = len(f.calls)
	const win = 5 * time.Second
	r.over, rss = b.sampledWindows(f, 0, max(1, int(d/win)), win)
	r.rssPeak = slices.Max(append(rss, 0))
	b.logf("overload %s: back to %d calls", name, capacity)
	if err := resize(capacity); err != nil {
		return nil, fmt.Errorf("end the extra calls: %w", err)
	}
	b.logf("overload %s: the extra calls have ended", name)
	gone := time.Now()
	time.Sleep(5 * time.Second)
	r.rssAfter = rssSample(r.pid)
	// Recovered: a capacity level passes again. Up to three tries, 5 s
	// apart (about 25 s after the load went).
	for try := range 3 {
		if try > 0 {
			time.Sleep(5 * time.Second)
		}
		r.rec = b.measureLevel(f)
		r.recAfter = time.Since(gone)
		if r.rec.pass {
			break
		}
	}
	r.rssEnd = rssSample(r.pid)
	if m, err := srv.mem(ctx); err == nil {
		r.rssEndGC = float64(m.RSS)
	} else {
		b.warnf("overload %s: /mem: %v", name, err)
	}
	return r, nil
}

// sampledWindows measures f's calls like measureLevel (after warm, n
// windows of d) while reading the server's RSS every 250 ms (after warm).
func (b *bench) sampledWindows(f *fleet, warm time.Duration, n int, d time.Duration) ([]figures, []float64) {
	srcs, wants, rxs := f.parts()
	for _, rx := range rxs {
		rx.reset()
	}
	var rss []float64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select { // the steady state, not the start
		case <-done:
			return
		case <-time.After(warm):
		}
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				rss = append(rss, float64(procRSS(f.pid)))
			}
		}
	})
	ws := measure(srcs, []int{f.pid, 0}, warm, n, d)
	close(done)
	wg.Wait()
	var figs []figures
	for _, w := range ws {
		fg := evaluate(w, wants)
		figs = append(figs, fg)
		b.foreign = append(b.foreign, foreignLoad(fg))
	}
	for _, rx := range rxs {
		rx.reset()
	}
	sd := side{figs: figs, pid: f.pid}
	b.logf("%s: %d: loss %.2f%%, p99 %.1f ms, server %.0f%%, generator %.0f%%, RSS max %.0f MiB",
		f.name, len(f.calls), sd.median(lossPct), sd.median(p99), sd.median(load(f.pid))*100,
		sd.median(load(0))*100, slices.Max(append(rss, 0))/(1<<20))
	return figs, rss
}

// overloadRows reports overload results, the baseline's (if any) in the
// floor column.
func (b *bench) overloadRows(r, old *overloadResult) {
	sec := b.versusSection("overload")
	const mib = 1 << 20
	val := func(f func(*overloadResult) float64) float64 {
		if old == nil {
			return none
		}
		return f(old)
	}
	add := func(metric, unit string, f func(*overloadResult) float64, note string) {
		b.add(sec, metric, unit, f(r), val(f), note)
	}
	levels := func(o *overloadResult) string {
		s := fmt.Sprintf("%d → %d", o.capacity, o.level)
		if o.setupErr != nil {
			s += " (set-up of more failed)"
		}
		return s
	}
	rw := row{section: sec, metric: "1:1 calls: capacity → overload", floor: none, text: levels(r),
		note: fmt.Sprintf("twice the capacity the versus phase found, for %s; server on CPU %s, generator on CPU %s",
			r.overloadTime, orAll(b.pinServer), orAll(b.pinGenerator))}
	if old != nil {
		rw.floorText = levels(old)
	}
	b.rows = append(b.rows, rw)
	overSide := func(o *overloadResult) side { return side{figs: o.over, pid: o.pid} }
	atSide := func(o *overloadResult) side { return side{figs: o.at, pid: o.pid} }
	atNote := func(o *overloadResult) string {
		return fmt.Sprintf("loss %.2f%%, p99 %.1f ms", atSide(o).median(lossPct), atSide(o).median(p99))
	}
	note := "meanwhile " + atNote(r)
	if old != nil {
		note += " / " + atNote(old)
	}
	add("server RSS at capacity (media flowing)", "MiB", func(o *overloadResult) float64 { return o.rssCap / mib }, note)
	add("highest server RSS during the overload", "MiB", func(o *overloadResult) float64 { return o.rssPeak / mib },
		"VmRSS every 250 ms")
	met := func(o *overloadResult) string {
		if o.rssPeak < 2*o.rssCap {
			return "met"
		}
		return "NOT met"
	}
	note = "target < 2×: " + met(r)
	if old != nil {
		note += " / " + met(old)
	}
	add("highest RSS during the overload ÷ RSS at capacity", "×", func(o *overloadResult) float64 { return o.rssPeak / o.rssCap }, note)
	worst := func(o *overloadResult, f func(figures) float64) float64 {
		v := 0.0
		for _, x := range o.over {
			v = max(v, f(x))
		}
		return v
	}
	add("loss during the overload", "%", func(o *overloadResult) float64 { return overSide(o).median(lossPct) },
		fmt.Sprintf("median of %d windows of 5 s; worst %.2f%%", len(r.over), worst(r, lossPct)))
	add("added latency p99 during the overload", "ms", func(o *overloadResult) float64 { return overSide(o).median(p99) },
		fmt.Sprintf("worst window %.0f ms", worst(r, p99)))
	add("server CPU during the overload", "% core", func(o *overloadResult) float64 { return overSide(o).median(load(o.pid)) * 100 },
		fmt.Sprintf("generator %.0f%%", overSide(r).median(load(0))*100))
	add("server RSS 5 s after the extra calls ended", "MiB", func(o *overloadResult) float64 { return o.rssAfter / mib }, "")
	recNote := func(o *overloadResult) string {
		if o.rec.pass {
			return fmt.Sprintf("passed %.0f s after the load went", o.recAfter.Seconds())
		}
		return fmt.Sprintf("FAILED still %.0f s after the load went", o.recAfter.Seconds())
	}
	note = "recovery at capacity (<1% loss, p99 < 20 ms): " + recNote(r)
	if old != nil {
		note += " / " + recNote(old)
	}
	add("back at capacity: loss", "%", func(o *overloadResult) float64 { return o.rec.sd.median(lossPct) }, note)
	add("back at capacity: added latency p99", "ms", func(o *overloadResult) float64 { return o.rec.sd.median(p99) }, "")
	add("server RSS after that", "MiB", func(o *overloadResult) float64 { return o.rssEnd / mib }, "")
	add("server RSS after that, after a forced GC", "MiB", func(o *overloadResult) float64 { return o.rssEndGC / mib },
		"what the calls still use: the rest was free memory not yet returned to the OS")
}
