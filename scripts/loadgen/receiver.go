package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sample is what a receiver keeps of one packet.
type sample struct {
	lat  int32  // one-way latency, microseconds
	size uint16 // RTP header + payload bytes
}

// flow is one receiver's view of one source.
type flow struct {
	last uint32
	seen bool
	got  map[uint32]sample // by sequence number, first arrival
}

// receiver verifies and records everything one subscriber receives:
// checksum, that a packet came on the track its source was published on,
// and order (a packet older than one already received is an order
// violation: late or duplicate).
type receiver struct {
	name string

	mu      sync.Mutex
	expect  map[string]uint16 // pion stream id → source; nil: not checked (floor)
	flows   map[uint16]*flow
	corrupt int64
	reorder int64
	wrong   int64 // right checksum, wrong track (or a track nobody published)
}

func newReceiver(name string, checkTracks bool) *receiver {
	r := &receiver{name: name, flows: make(map[uint16]*flow)}
	if checkTracks {
		r.expect = make(map[string]uint16)
	}
	return r
}

// expectTrack records that source src is published as stream id track.
func (r *receiver) expectTrack(track string, src uint16) {
	r.mu.Lock()
	r.expect[track] = src
	r.mu.Unlock()
}

// record checks one received payload (hdr: the RTP header's size).
func (r *receiver) record(track string, payload []byte, hdr int) {
	now := nowNs()
	src, seq, sent, ok := checkPayload(payload)
	r.mu.Lock()
	defer r.mu.Unlock()
	if !ok {
		r.corrupt++
		return
	}
	if r.expect != nil {
		if want, known := r.expect[track]; !known || want != src {
			r.wrong++
			return
		}
	}
	f := r.flows[src]
	if f == nil {
		f = &flow{got: make(map[uint32]sample)}
		r.flows[src] = f
	}
	if f.seen && seq <= f.last {
		r.reorder++
	} else {
		f.last, f.seen = seq, true
	}
	if _, dup := f.got[seq]; !dup {
		f.got[seq] = sample{lat: int32((now - sent) / 1000), size: uint16(len(payload) + hdr)}
	}
}

// reset forgets the samples and counters (not the order state).
func (r *receiver) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.flows {
		clear(f.got)
	}
	r.corrupt, r.reorder, r.wrong = 0, 0, 0
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
}

// figures are the results of one window.
type figures struct {
	expected, received int64
	bytes              int64   // RTP bytes received
	loss               float64 // fraction
	p50, p99           float64 // ms
	bad                int64   // corrupt + out of order + wrong track (whole run)
	wall               float64
	cpu                map[int]float64
}

// measure runs srcs, waits warm, then measures n consecutive windows of d
// each, stops the sources and waits a little for packets in flight. pids
// are the processes whose CPU time is read (0 = this process).
func measure(srcs []*source, pids []int, warm time.Duration, n int, d time.Duration) []window {
	stop := startSources(srcs)
	defer stop()
	time.Sleep(warm)
	mark := func() (map[*source]uint32, map[int]float64, time.Time) {
		seqs := make(map[*source]uint32, len(srcs))
		for _, s := range srcs {
			seqs[s] = s.next.Load()
		}
		cpu := make(map[int]float64, len(pids))
		for _, p := range pids {
			cpu[p] = procCPU(p)
		}
		return seqs, cpu, time.Now()
	}
	var out []window
	seqs, cpu, t := mark()
	for range n {
		time.Sleep(d)
		seqs2, cpu2, t2 := mark()
		w := window{start: seqs, end: seqs2, wall: t2.Sub(t).Seconds(), cpu: make(map[int]float64)}
		for p := range cpu2 {
			w.cpu[p] = cpu2[p] - cpu[p]
		}
		out = append(out, w)
		seqs, cpu, t = seqs2, cpu2, t2
	}
	stop()
	time.Sleep(300 * time.Millisecond) // packets in flight
	return out
}

// evaluate computes a window's figures for the wanted pairs.
func evaluate(w window, wants []want) figures {
	f := figures{wall: w.wall, cpu: w.cpu}
	var lat []int32
	seenRx := make(map[*receiver]bool)
	for _, wt := range wants {
		a, b := w.start[wt.src], w.end[wt.src]
		f.expected += int64(b - a)
		wt.rx.mu.Lock()
		if fl := wt.rx.flows[wt.src.id]; fl != nil {
			for seq := a; seq != b; seq++ {
				if s, ok := fl.got[seq]; ok {
					f.received++
					f.bytes += int64(s.size)
					lat = append(lat, s.lat)
				}
			}
		}
		if !seenRx[wt.rx] {
			seenRx[wt.rx] = true
			f.bad += wt.rx.corrupt + wt.rx.reorder + wt.rx.wrong
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

// badDetail names what went wrong at the receivers (for error messages).
func badDetail(rxs []*receiver) string {
	var parts []string
	for _, r := range rxs {
		r.mu.Lock()
		if r.corrupt+r.reorder+r.wrong > 0 {
			parts = append(parts, fmt.Sprintf("%s: %d corrupt, %d out of order, %d on a wrong track",
				r.name, r.corrupt, r.reorder, r.wrong))
		}
		r.mu.Unlock()
	}
	return strings.Join(parts, "; ")
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// procCPU is the CPU time (user + system) of a process in seconds, from
// /proc/<pid>/stat (pid 0: this process); -1 if unreadable.
func procCPU(pid int) float64 {
	p := "/proc/self/stat"
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return -1
	}
	s := string(b)
	s = s[strings.LastIndexByte(s, ')')+2:] // after "pid (comm) "
	fields := strings.Fields(s)             // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return -1
	}
	ut, _ := strconv.ParseFloat(fields[11], 64) // field 14
	st, _ := strconv.ParseFloat(fields[12], 64) // field 15
	return (ut + st) / clockTicks
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
