package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
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
	if r.text != "" && r.floorText != "" {
		ratio = goRatio(r.text, r.floorText)
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
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return fmt.Sprintf("%s, %d cores, Linux %s, %s, %s", model, cores,
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

func (g *goBench) String() string {
	var parts []string
	for _, u := range g.units {
		parts = append(parts, num(median(g.values[u]))+" "+u)
	}
	return strings.Join(parts, ", ")
}

// goRatio compares the ns/op of two rendered benchmark cells.
func goRatio(a, b string) string {
	na, nb := nsPerOp(a), nsPerOp(b)
	if na == 0 || nb == 0 {
		return ""
	}
	return fmt.Sprintf("%.2f×", na/nb)
}

func nsPerOp(s string) float64 {
	for p := range strings.SplitSeq(s, ", ") {
		if v, ok := strings.CutSuffix(p, " ns/op"); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// goBenchRows adds one row per benchmark. A benchmark named XFloor (or
// X_Floor; sub-benchmark names kept) is shown as the floor of X.
func (b *bench) goBenchRows(benches []*goBench) {
	floors := make(map[string]*goBench)
	for _, g := range benches {
		top, sub, _ := strings.Cut(g.name, "/")
		if base, ok := strings.CutSuffix(top, "Floor"); ok {
			base = strings.TrimSuffix(base, "_")
			floors[g.pkg+" "+joinName(base, sub)] = g
		}
	}
	for _, g := range benches {
		top, _, _ := strings.Cut(g.name, "/")
		if strings.HasSuffix(top, "Floor") {
			continue
		}
		r := row{section: "go " + shortPkg(g.pkg), metric: g.name, floor: none, text: g.String(), note: fmt.Sprintf("median of %d", len(g.values["ns/op"]))}
		if f := floors[g.pkg+" "+g.name]; f != nil {
			r.floorText = f.String()
		}
		b.rows = append(b.rows, r)
	}
}

func joinName(top, sub string) string {
	if sub == "" {
		return top
	}
	return top + "/" + sub
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

// pprofTop summarises a CPU profile with `go tool pprof -top`.
func pprofTop(profile string, n int) string {
	self, err := os.Executable()
	if err != nil {
		return ""
	}
	out, err := exec.Command("go", "tool", "pprof", "-top", "-nodecount="+strconv.Itoa(n), self, profile).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof: %v\n%s", err, out)
	}
	// Keep from the summary line on (drops "File:", "Build ID:" lines).
	lines := strings.Split(string(out), "\n")
	if k := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, "Showing nodes") }); k > 0 {
		lines = lines[k:]
	}
	return strings.Join(lines, "\n")
}
