package main

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table; floor is none when there is no floor.
type row struct {
	section, metric, unit string
	parley, floor         float64
	text, floorText       string // instead of the numbers (Go benchmarks)
	note                  string
}

// none marks a figure without a floor.
var none = math.NaN()

func (b *bench) add(section, metric, unit string, parley, floor float64, note string) {
	b.rows = append(b.rows, row{section: section, metric: metric, unit: unit, parley: parley, floor: floor, note: note})
}

func num(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case a >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

func (r row) cells() []string {
	p, f, ratio := r.text, r.floorText, ""
	if p == "" {
		p = num(r.parley)
		if r.unit != "" {
			p += " " + r.unit
		}
	}
	if f == "" && !math.IsNaN(r.floor) {
		f = num(r.floor)
		if r.unit != "" {
			f += " " + r.unit
		}
	}
	if f == "" {
		f = "—"
	}
	if r.floor != 0 && !math.IsNaN(r.floor) && r.text == "" {
		ratio = fmt.Sprintf("%.2f×", r.parley/r.floor)
	}
	return []string{r.section, r.metric, p, f, ratio, r.note}
}

var header = []string{"scenario", "metric", "Parley", "floor", "Parley / floor", "note"}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []row) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
	}
	tw.Flush()
}

// markdownTable writes the rows as a Markdown table.
func markdownTable(w io.Writer, rows []row) {
	fmt.Fprintf(w, "| %s |\n|%s\n", strings.Join(header, " | "), strings.Repeat("---|", len(header)))
	for _, r := range rows {
		c := r.cells()
		for i := range c {
			c[i] = strings.ReplaceAll(c[i], "|", "\\|")
		}
		fmt.Fprintf(w, "| %s |\n", strings.Join(c, " | "))
	}
}

// machine describes where the benchmark ran.
func machine() string {
	model, cores := "unknown CPU", 0
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			k, v, ok := strings.Cut(line, ":")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "model name":
				model = strings.TrimSpace(v)
			case "processor":
				cores++
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.Fields(v)[0], 64)
				mem = fmt.Sprintf(", %.0f GiB RAM", kb/(1<<20))
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d cores%s, Linux %s, %s, %s", model, cores, mem,
		strings.TrimSpace(string(kernel)), runtime.Version(), time.Now().UTC().Format("2006-01-02 15:04 UTC"))
}

// goBench is one benchmark's medians over its -count runs.
type goBench struct {
	pkg, name string
	values    map[string][]float64 // unit → one value per run
	units     []string             // in first-seen order
}

var benchLine = regexp.MustCompile(`^(Benchmark\S+?)(?:-\d+)?\s+\d+\s+(.+)$`)

// parseGoBench reads `go test -bench` output: any Benchmark line, its
// value/unit pairs (ns/op, B/op, allocs/op, MB/s and custom metrics).
func parseGoBench(r io.Reader) []*goBench {
	var out []*goBench
	byKey := make(map[string]*goBench)
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimSpace(p)
			continue
		}
		m := benchLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		key := pkg + " " + m[1]
		gb := byKey[key]
		if gb == nil {
			gb = &goBench{pkg: pkg, name: strings.TrimPrefix(m[1], "Benchmark"), values: make(map[string][]float64)}
			byKey[key] = gb
			out = append(out, gb)
		}
		f := strings.Fields(m[2])
		for i := 0; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			u := f[i+1]
			if _, seen := gb.values[u]; !seen {
				gb.units = append(gb.units, u)
			}
			gb.values[u] = append(gb.values[u], v)
		}
	}
	return out
}

// timeNs is a benchmark's time per operation: the slowest file
// (slowest-ns) when it reports one, the median iteration (p50-ns), else
// the median of its ns/op.
func (g *goBench) timeNs() (float64, string) {
	if v, ok := g.values["slowest-ns"]; ok {
		return median(v), "slowest file of an iteration"
	}
	if v, ok := g.values["p50-ns"]; ok {
		return median(v), "p50 of iterations"
	}
	return median(g.values["ns/op"]), "ns/op"
}

func (g *goBench) extras() string {
	var parts []string
	for _, u := range []string{"MB/s", "B/op", "allocs/op"} {
		if v, ok := g.values[u]; ok {
			parts = append(parts, num(median(v))+" "+u)
		}
	}
	return strings.Join(parts, ", ")
}

// goBenchRows adds one row per benchmark. BenchmarkFloorX of this
// package (sub-benchmark names kept) is the floor of BenchmarkX of any
// other package.
func (b *bench) goBenchRows(benches []*goBench) {
	floors := make(map[string]*goBench)
	for _, g := range benches {
		if base, ok := strings.CutPrefix(g.name, "Floor"); ok && strings.HasSuffix(g.pkg, "/scripts/loadgen") {
			floors[base] = g
		}
	}
	for _, g := range benches {
		if strings.HasPrefix(g.name, "Floor") && strings.HasSuffix(g.pkg, "/scripts/loadgen") {
			continue
		}
		v, how := g.timeNs()
		r := row{section: "go " + shortPkg(g.pkg), metric: g.name + " time per op", unit: "µs", parley: v / 1000, floor: none,
			note: fmt.Sprintf("%s, median of %d runs; %s", how, len(g.values["ns/op"]), g.extras())}
		if t, ok := g.values["target-ns"]; ok {
			// A stated target instead of a floor (BenchmarkVerifySlowestFile).
			target := median(t)
			met := "met"
			if v > target {
				met = "NOT met"
			}
			r.metric = g.name + " (slowest file)"
			r.note += fmt.Sprintf("; target ≤ %s µs: %s", num(target/1000), met)
			if f, ok := g.values["files"]; ok {
				r.note += fmt.Sprintf(" (%s files)", num(median(f)))
			}
		}
		if f := floors[g.name]; f != nil {
			fv, _ := f.timeNs()
			r.floor = fv / 1000
			r.note += "; floor: " + f.extras()
		}
		b.rows = append(b.rows, r)
	}
}

func shortPkg(p string) string {
	return strings.TrimPrefix(p, "github.com/parley-video/parley/")
}

// Markers around the generated part of docs/BENCHMARKS.md; the rest of
// the file is kept.
const (
	beginMark = "<!-- bench:begin (generated by make bench; edits inside are overwritten) -->"
	endMark   = "<!-- bench:end -->"
)

// writeDoc replaces the generated part of path (or creates the file).
func writeDoc(path, generated string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	block := beginMark + "\n" + generated + endMark
	s := string(old)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	switch {
	case i >= 0 && j > i:
		s = s[:i] + block + s[j+len(endMark):]
	case len(s) == 0:
		s = "# Benchmarks\n\n" + block + "\n"
	default:
		s = strings.TrimRight(s, "\n") + "\n\n" + block + "\n"
	}
	return os.WriteFile(path, []byte(s), 0o644)
}

// pprofSummary summarises a CPU profile with `go tool pprof`: the flat
// time grouped by what it is, the top functions by flat time, and the
// pion and Parley functions by cumulative time.
func pprofSummary(profile string) string {
	flat, total, err := pprofTop(profile, false)
	if err != nil {
		return err.Error() + "\n"
	}
	cum, _, err := pprofTop(profile, true)
	if err != nil {
		return err.Error() + "\n"
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s of samples.\n\nFlat time by kind:\n", total)
	groups := map[string]float64{}
	for _, l := range flat {
		groups[kindOf(l.name)] += l.flatPct
	}
	kinds := slices.Collect(maps.Keys(groups))
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Compare(groups[b], groups[a]) })
	for _, k := range kinds {
		fmt.Fprintf(&sb, "  %5.1f%%  %s\n", groups[k], k)
	}
	fmt.Fprintf(&sb, "\nTop functions by flat time:\n")
	for _, l := range flat[:min(15, len(flat))] {
		fmt.Fprintf(&sb, "  %5.1f%% flat  %5.1f%% cum  %s\n", l.flatPct, l.cumPct, l.name)
	}
	fmt.Fprintf(&sb, "\nParley and pion functions by cumulative time:\n")
	n := 0
	for _, l := range cum {
		if n == 25 {
			break
		}
		if strings.Contains(l.name, "parley-video/parley") || strings.Contains(l.name, "pion/") {
			fmt.Fprintf(&sb, "  %5.1f%% cum  %s\n", l.cumPct, l.name)
			n++
		}
	}
	return sb.String()
}

// heapSummary lists the allocation sites holding the most in-use memory.
func heapSummary(profile string) string {
	self, err := os.Executable()
	if err != nil {
		return err.Error() + "\n"
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=12", self, profile).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v: %s\n", err, out)
	}
	lines := strings.Split(string(out), "\n")
	if k := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Showing nodes") }); k > 0 {
		lines = lines[k:]
	}
	return strings.Join(lines, "\n")
}

// topLine is one line of `go tool pprof -top`.
type topLine struct {
	flatPct, cumPct float64
	name            string
}

// pprofTop runs `go tool pprof -top` (sorted by cumulative time when cum)
// and parses every node.
func pprofTop(profile string, cum bool) ([]topLine, string, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, "", err
	}
	args := []string{"tool", "pprof", "-top", "-nodecount=100000"}
	if cum {
		args = append(args, "-cum")
	}
	out, err := exec.Command("go", append(args, self, profile)...).CombinedOutput()
	if err != nil {
		return nil, "", fmt.Errorf("go tool pprof: %v: %s", err, out)
	}
	var lines []topLine
	total := ""
	for l := range strings.Lines(string(out)) {
		if _, t, ok := strings.Cut(l, "% of "); ok && strings.HasPrefix(l, "Showing nodes") {
			total = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(t), "total"))
			continue
		}
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasSuffix(f[1], "%") || !strings.HasSuffix(f[4], "%") {
			continue
		}
		fp, err1 := strconv.ParseFloat(strings.TrimSuffix(f[1], "%"), 64)
		cp, err2 := strconv.ParseFloat(strings.TrimSuffix(f[4], "%"), 64)
		if err1 != nil || err2 != nil {
			continue
		}
		lines = append(lines, topLine{flatPct: fp, cumPct: cp, name: strings.Join(f[5:], " ")})
	}
	return lines, total, nil
}

// kindOf sorts a function into a coarse kind of work.
func kindOf(name string) string {
	has := func(subs ...string) bool {
		for _, s := range subs {
			if strings.Contains(name, s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("pion/srtp", "crypto/", "golang.org/x/crypto", "pion/dtls"):
		return "SRTP/DTLS and crypto"
	case has("syscall.", "internal/runtime/syscall", "internal/poll"):
		return "system calls (UDP send/receive, futex excluded)"
	case has("runtime.mem"):
		return "runtime: memmove/memclr (packet copies)"
	case has("runtime.futex", "runtime.schedule", "runtime.findRunnable", "runtime.park", "runtime.ready",
		"runtime.runqgrab", "runtime.stealWork", "runtime.notesleep", "runtime.netpoll", "runtime.nanotime", "runtime.usleep",
		"runtime.lock", "runtime.unlock", "runtime.casgstatus", "runtime.mcall", "runtime.gopark", "runtime.goready",
		"runtime.(*timer", "runtime.(*timers", "runtime.chan", "runtime.selectgo", "runtime.send", "runtime.recv", "runtime.procyield",
		"runtime.osyield", "runtime.wakep", "runtime.startm", "runtime.stopm", "runtime.resetspinning"):
		return "runtime: scheduler, timers, channels, locks"
	case has("runtime.malloc", "runtime.gc", "runtime.scan", "runtime.mark", "runtime.sweep", "runtime.(*mspan", "runtime.(*mcache",
		"runtime.(*mheap", "runtime.(*gcWork", "runtime.greyobject", "runtime.findObject", "runtime.heapBits", "runtime.newobject",
		"runtime.makeslice", "runtime.growslice", "runtime.(*mcentral", "runtime.wbBuf", "runtime.bulkBarrier", "runtime.typePointers",
		"runtime.tryDeferToSpanScan", "runtime.(*gcBits", "runtime.spanOf", "runtime.nextFreeFast", "runtime.memclrNoHeap"):
		return "runtime: allocation and GC"
	case has("runtime."):
		return "runtime: other"
	case has("pion/interceptor"):
		return "pion interceptors (NACK, TWCC, reports, stats)"
	case has("pion/ice", "pion/transport", "pion/stun"):
		return "pion ICE and transport"
	case has("pion/rtp", "pion/rtcp"):
		return "pion RTP/RTCP parsing"
	case has("pion/webrtc"):
		return "pion webrtc"
	case has("parley-video/parley"):
		return "Parley"
	case has("prometheus"):
		return "metrics"
	case has("sync.", "sync/atomic"):
		return "sync"
	}
	return "other"
}
