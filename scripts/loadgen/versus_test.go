package main

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// The searcher goes through the levels until one fails, then bisects to
// within an eighth.
func TestSearcherOrder(t *testing.T) {
	run := func(capacity int, levels []int, cap int) []int {
		s := &searcher{levels: levels, cap: cap, bisect: true}
		var seen []int
		for {
			k, ok := s.next()
			if !ok {
				return seen
			}
			seen = append(seen, k)
			s.record(k, k <= capacity)
		}
	}
	for _, c := range []struct {
		capacity, cap int
		levels, want  []int
	}{
		{37, 128, []int{8, 16, 24, 32, 40, 48}, []int{8, 16, 24, 32, 40, 36}}, // then within an eighth of 40
		{200, 128, []int{8, 16, 32}, []int{8, 16, 32}},                        // never fails
		{100, 128, []int{8, 16, 200}, []int{8, 16}},                           // search cap
		{0, 128, []int{8, 16}, []int{8, 4, 2, 1}},                             // the first level fails
		{60, 128, []int{8, 16, 32, 64}, []int{8, 16, 32, 64, 48, 56}},
	} {
		if got := run(c.capacity, c.levels, c.cap); !slices.Equal(got, c.want) {
			t.Errorf("capacity %d, levels %v: measured %v, want %v", c.capacity, c.levels, got, c.want)
		}
	}
	// Without bisection it stops at the first failure.
	s := &searcher{levels: []int{4, 8}, cap: 100}
	k, _ := s.next()
	s.record(k, false)
	if _, ok := s.next(); ok {
		t.Fatal("no bisection, yet a next level after a failure")
	}
}

func TestCPUCount(t *testing.T) {
	for list, want := range map[string]int{"0": 1, "1": 1, "0-1": 2, "0,2-3": 3, "": 0, "x": 0, "3-1": 0, "0,": 0} {
		if got := cpuCount(list); got != want {
			t.Errorf("cpuCount(%q) = %d, want %d", list, got, want)
		}
	}
}

// A level measured twice reports the passing measurement, else the one
// with the lower p99; only narrow failures are measured again.
func TestRetrySelection(t *testing.T) {
	mk := func(pass bool, loss, p99ms float64) step {
		return step{pass: pass, sd: side{figs: []figures{{loss: loss, p99: p99ms}}}}
	}
	if !narrowFail(mk(false, 0.05, 30)) || narrowFail(mk(false, 0.5, 30)) || narrowFail(mk(true, 0, 1)) {
		t.Fatal("narrowFail")
	}
	if got := betterStep(mk(false, 0, 40), mk(true, 0, 10)); !got.pass || !got.retried {
		t.Fatalf("passing second measurement not chosen: %+v", got)
	}
	if got := betterStep(mk(false, 0, 40), mk(false, 0, 60)); got.sd.median(p99) != 40 || !got.retried {
		t.Fatalf("lower p99 not chosen: %+v", got)
	}
}

// The memory rows: idle RSS and RSS per active call as the OS reports
// them, the baseline in the floor column when there is one.
func TestMemoryRows(t *testing.T) {
	const mib = 1 << 20
	this := &memResult{calls: 10, idleFor: 10 * time.Second, idleRSS: 30 * mib, activeRSS: 45 * mib}
	old := &memResult{calls: 10, idleFor: 10 * time.Second, idleRSS: 110 * mib, activeRSS: 150 * mib}
	b := &bench{baseline: "/x/loadgen-old", baselineName: "b045324"}
	b.memoryRows(b.versusSection("memory"), this, old)
	r := rowNamed(t, b.rows, "idle node RSS after a login")
	if r.section != "memory, this / old build (b045324)" || r.parley != 30 || r.floor != 110 ||
		!strings.Contains(r.note, "10s idle") {
		t.Fatalf("idle row %+v", r)
	}
	r = rowNamed(t, b.rows, "RSS per active 1:1 call above the idle node")
	if r.parley != 1.5 || r.floor != 4 {
		t.Fatalf("per call row %+v", r)
	}
	if c := r.cells(); c[2] != "1.50 MiB" || c[3] != "4.00 MiB" || c[4] != "0.38×" {
		t.Fatalf("per call cells %q", c)
	}
	b = &bench{}
	b.memoryRows(b.versusSection("memory"), this, nil)
	if r := rowNamed(t, b.rows, "idle node RSS after a login"); r.section != "memory" || !math.IsNaN(r.floor) {
		t.Fatalf("without a baseline: %+v", r)
	}
}

// The overload rows: the peak against twice the RSS at capacity, and
// whether (and when) a capacity level passed again.
func TestOverloadRows(t *testing.T) {
	const mib = 1 << 20
	okFig := figures{loss: 0, p99: 5, wall: 1, cpu: map[int]float64{1: 0.5, 0: 0.4}}
	badFig := figures{loss: 0.3, p99: 900, wall: 1, cpu: map[int]float64{2: 0.9, 0: 0.9}}
	this := &overloadResult{name: "this build", capacity: 40, level: 80, pid: 1, rssCap: 100 * mib, rssPeak: 150 * mib,
		at: []figures{okFig}, over: []figures{okFig, okFig}, rec: step{pass: true, sd: side{figs: []figures{okFig}}},
		recAfter: 9 * time.Second, overloadTime: 30 * time.Second}
	old := &overloadResult{name: "old", capacity: 30, level: 51, setupErr: errors.New("timeout"), pid: 2,
		rssCap: 100 * mib, rssPeak: 250 * mib, at: []figures{okFig}, over: []figures{badFig},
		rec: step{sd: side{figs: []figures{badFig}}}, recAfter: 31 * time.Second}
	b := &bench{baseline: "/x", baselineName: "b045324", pinServer: "1", pinGenerator: "0"}
	b.overloadRows(this, old)
	r := rowNamed(t, b.rows, "1:1 calls: capacity → overload")
	if r.text != "40 → 80" || r.floorText != "30 → 51 (set-up of more failed)" {
		t.Fatalf("levels row %+v", r)
	}
	r = rowNamed(t, b.rows, "highest RSS during the overload ÷ RSS at capacity")
	if r.parley != 1.5 || r.floor != 2.5 || !strings.Contains(r.note, "target < 2×: met / NOT met") {
		t.Fatalf("ratio row %+v", r)
	}
	r = rowNamed(t, b.rows, "back at capacity: loss")
	if !strings.Contains(r.note, "passed 9 s after the load went / FAILED still 31 s after the load went") {
		t.Fatalf("recovery row %+v", r)
	}
	if r := rowNamed(t, b.rows, "loss during the overload"); r.parley != 0 || r.floor != 30 {
		t.Fatalf("loss row %+v", r)
	}
}

func rowNamed(t *testing.T, rows []row, metric string) row {
	t.Helper()
	for _, r := range rows {
		if r.metric == metric {
			return r
		}
	}
	t.Fatalf("no row %q in %d rows", metric, len(rows))
	return row{}
}
