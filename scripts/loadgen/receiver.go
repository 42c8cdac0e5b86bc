package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is what a receiver keeps of one packet.
type sample struct {
	lat  int32  // one-way latency of the first arrival, microseconds
	size uint16 // RTP header + payload bytes
	n    uint8  // arrivals (saturating); 0: not received
}

// flow is one receiver's view of one source. got is indexed by the
// payload sequence number minus base.
type flow struct {
	base uint32
	got  []sample
	last uint32 // highest sequence number received
	seen bool
}

// at returns the sample slot of seq, growing got; nil for a sequence
// number older than base (sent before the last reset).
func (f *flow) at(seq uint32) *sample {
	if seq < f.base {
		return nil
	}
	i := int(seq - f.base)
	if i >= len(f.got) {
		n := len(f.got)
		f.got = slices.Grow(f.got, i+1-n)[:i+1]
		clear(f.got[n:]) // reused capacity holds samples from before a reset
	}
	return &f.got[i]
}

// lookup is like at without growing.
func (f *flow) lookup(seq uint32) (sample, bool) {
	if seq < f.base || int(seq-f.base) >= len(f.got) {
		return sample{}, false
	}
	s := f.got[seq-f.base]
	return s, s.n > 0
}

// counts are a receiver's integrity counters. A forwarder that breaks
// packets shows up here rather than as speed.
type counts struct {
	corrupt int64 // wrong length, magic or CRC-32
	wrong   int64 // intact, but on a track its source was not published on (or from an unknown source)
	dup     int64 // a sequence number that already arrived
	reorder int64 // older than the newest already received (and not a duplicate)
	stale   int64 // sent before the last reset (window bookkeeping, not a fault)
}

func (c counts) bad() int64 { return c.corrupt + c.wrong }

func (c *counts) add(o counts) {
	c.corrupt += o.corrupt
	c.wrong += o.wrong
	c.dup += o.dup
	c.reorder += o.reorder
	c.stale += o.stale
}

func (c counts) String() string {
	return fmt.Sprintf("%d corrupt, %d on a wrong track, %d duplicate, %d reordered", c.corrupt, c.wrong, c.dup, c.reorder)
}

// receiver verifies and records everything one subscriber receives:
// checksum and framing, that a packet came on the track its source was
// published on, and order per source (duplicates and reordering are
// counted separately; loss is what is missing when a window is
// evaluated).
type receiver struct {
	name string

	mu     sync.Mutex
	expect map[string]uint16 // track key (stream id, or SSRC on the floor) → source
	flows  map[uint16]*flow
	counts
}

func newReceiver(name string) *receiver {
	return &receiver{name: name, expect: make(map[string]uint16), flows: make(map[uint16]*flow)}
}

// expectTrack records that source src is published as track.
func (r *receiver) expectTrack(track string, src uint16) {
	r.mu.Lock()
	r.expect[track] = src
	r.mu.Unlock()
}

// record checks one received payload that came on track (hdr: the RTP
// header's size).
func (r *receiver) record(track string, payload []byte, hdr int) {
	r.recordAt(nowNs(), track, payload, hdr)
}

func (r *receiver) recordAt(now int64, track string, payload []byte, hdr int) {
	src, seq, sent, ok := checkPayload(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.corrupt++
		return
	}
	if want, known := r.expect[track]; !known || want != src {
		r.wrong++
		return
	}
	f := r.flows[src]
	if f == nil {
		f = &flow{}
		r.flows[src] = f
	}
	s := f.at(seq)
	if s == nil {
		r.stale++
		return
	}
	if s.n > 0 {
		r.dup++
		if s.n < 255 {
			s.n++
		}
		return
	}
	*s = sample{lat: int32((now - sent) / 1000), size: uint16(min(len(payload)+hdr, 65535)), n: 1}
	if f.seen && seq < f.last {
		r.reorder++
	} else {
		f.last, f.seen = seq, true
	}
}

// seen reports whether anything from src arrived.
func (r *receiver) seen(src uint16) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.flows[src]
	return f != nil && f.seen
}

// reset forgets the samples and counters; later packets sent before the
// reset count as stale.
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.flows {
		if f.seen {
			f.base = f.last + 1
		}
		f.got = f.got[:0]
	}
	r.counts = counts{}
}

func (r *receiver) snapshot() counts {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts
}

// want is one (receiver, source) pair that should carry every packet.
type want struct {
	rx  *receiver
	src *source
}

// window is one measured interval: per source the sequence numbers sent
// in it, the wall time and the CPU time of the measured processes.
type window struct {
	start, end map[*source]uint32
	wall       float64         // seconds
	cpu        map[int]float64 // pid → CPU seconds
	busy       float64         // CPU seconds the whole machine was busy
	udpDrops   int64           // datagrams dropped for full socket buffers (in this namespace)
}

// figures are the results of one window.
type figures struct {
	expected, received int64
	bytes              int64   // RTP bytes received
	loss               float64 // fraction
	p50, p99           float64 // ms
	counts                     // of the whole run (all windows), not only this one
	wall               float64
	cpu                map[int]float64
	foreign            float64 // CPU seconds used by other processes on the machine
	udpDrops           int64
}

// measure runs srcs, waits warm, then measures n consecutive windows of d
// each, stops the sources and waits a little for packets in flight. pids
// are the processes whose CPU time is read (0 = this process).
func measure(srcs []*source, pids []int, warm time.Duration, n int, d time.Duration) []window {
	stop := startSources(srcs)
	defer stop()
	time.Sleep(warm)
	type mk struct {
		seqs  map[*source]uint32
		cpu   map[int]float64
		t     time.Time
		busy  float64
		drops int64
	}
	mark := func() mk {
		m := mk{seqs: make(map[*source]uint32, len(srcs)), cpu: make(map[int]float64, len(pids))}
		for _, s := range srcs {
			m.seqs[s] = s.next.Load()
		}
		for _, p := range pids {
			m.cpu[p] = procCPU(p)
		}
		m.busy, m.drops, m.t = machineBusy(), udpDrops(), time.Now()
		return m
	}
	var out []window
	a := mark()
	for range n {
		time.Sleep(d)
		b := mark()
		w := window{start: a.seqs, end: b.seqs, wall: b.t.Sub(a.t).Seconds(), cpu: make(map[int]float64),
			busy: b.busy - a.busy, udpDrops: b.drops - a.drops}
		for p := range b.cpu {
			w.cpu[p] = b.cpu[p] - a.cpu[p]
		}
		out = append(out, w)
		a = b
	}
	stop()
	time.Sleep(300 * time.Millisecond) // packets in flight
	return out
}

// evaluate computes a window's figures for the wanted pairs.
func evaluate(w window, wants []want) figures {
	f := figures{wall: w.wall, cpu: w.cpu, udpDrops: w.udpDrops}
	f.foreign = w.busy
	for _, c := range w.cpu {
		f.foreign -= c
	}
	f.foreign = max(f.foreign, 0)
	var lat []int32
	seenRx := make(map[*receiver]bool)
	for _, wt := range wants {
		a, b := w.start[wt.src], w.end[wt.src]
		f.expected += int64(b - a)
		wt.rx.mu.Lock()
		if fl := wt.rx.flows[wt.src.id]; fl != nil {
			for seq := a; seq != b; seq++ {
				if s, ok := fl.lookup(seq); ok {
					f.received++
					f.bytes += int64(s.size)
					lat = append(lat, s.lat)
				}
			}
		}
		if !seenRx[wt.rx] {
			seenRx[wt.rx] = true
			f.counts.add(wt.rx.counts)
		}
		wt.rx.mu.Unlock()
	}
	if f.expected > 0 {
		f.loss = 1 - float64(f.received)/float64(f.expected)
	}
	slices.Sort(lat)
	f.p50 = float64(quantile(lat, 0.50)) / 1000
	f.p99 = float64(quantile(lat, 0.99)) / 1000
	return f
}

func quantile(sorted []int32, q float64) int32 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q * float64(len(sorted)-1))
	return sorted[i]
}

// badDetail sums up the broken, misrouted, duplicated and reordered
// packets the receivers saw ("" if none), for warnings.
func badDetail(rxs []*receiver) string {
	var sum counts
	n := 0
	for _, r := range rxs {
		c := r.snapshot()
		if c.bad()+c.dup+c.reorder > 0 {
			n++
			sum.add(c)
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("%d of %d receivers saw %s", n, len(rxs), sum)
}

// procCPU is the CPU time (user + system) of a process in seconds: the
// sum over its threads of the scheduler's run time (nanosecond
// resolution, unlike the 10 ms ticks of /proc/<pid>/stat). pid 0 is this
// process; -1 if unreadable. Go rarely ends threads, so time of exited
// threads (which this misses) is negligible.
func procCPU(pid int) float64 {
	dir := "/proc/self/task"
	if pid != 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return -1
	}
	var ns int64
	for _, t := range tasks {
		b, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // the thread just exited
		}
		f, _, _ := strings.Cut(string(b), " ")
		v, _ := strconv.ParseInt(f, 10, 64)
		ns += v
	}
	return float64(ns) / 1e9
}

// machineBusy is the CPU time (all cores, seconds) the machine spent
// busy since boot, from /proc/stat (not namespaced); -1 if unreadable.
func machineBusy() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return -1
	}
	var busy float64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		x, _ := strconv.ParseFloat(v, 64)
		busy += x
	}
	return busy / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// udpDrops is the number of UDP datagrams this network namespace dropped
// because a socket's receive or send buffer was full.
func udpDrops() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for line := range strings.Lines(string(b)) {
		rest, ok := strings.CutPrefix(line, "Udp: ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if names == nil {
			names = f
			continue
		}
		var n int64
		for i, v := range f {
			if i < len(names) && (names[i] == "RcvbufErrors" || names[i] == "SndbufErrors") {
				x, _ := strconv.ParseInt(v, 10, 64)
				n += x
			}
		}
		return n
	}
	return 0
}

// procRSS is a process's resident set in bytes (from /proc/<pid>/status).
func procRSS(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb * 1024
		}
	}
	return -1
}
