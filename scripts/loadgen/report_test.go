package main

import (
	"strings"
	"testing"
)

// A benchmark reporting slowest-ns and target-ns becomes a row with the
// slowest file's time and whether the target is met.
func TestGoBenchRowsSlowestAgainstTarget(t *testing.T) {
	out := `pkg: github.com/parley-video/parley/contracts
BenchmarkVerifySlowestFile-2   	       1	2510394434 ns/op	       152.0 files	 189903098 slowest-ns	1000000000 target-ns
BenchmarkVerifySlowestFile-2   	       1	2410394434 ns/op	       152.0 files	 209903098 slowest-ns	1000000000 target-ns
BenchmarkVerifySlowestFile-2   	       1	2610394434 ns/op	       152.0 files	1209903098 slowest-ns	1000000000 target-ns
`
	b := &bench{}
	b.goBenchRows(parseGoBench(strings.NewReader(out)))
	if len(b.rows) != 1 {
		t.Fatalf("%d rows", len(b.rows))
	}
	r := b.rows[0]
	if r.metric != "VerifySlowestFile (slowest file)" || r.parley < 209903 || r.parley > 209904 ||
		!strings.Contains(r.note, "target ≤ 1000000 µs: met (152.0 files)") {
		t.Fatalf("row %+v", r)
	}
	b = &bench{}
	b.goBenchRows(parseGoBench(strings.NewReader(strings.ReplaceAll(out, "1000000000 target-ns", "100000000 target-ns"))))
	if !strings.Contains(b.rows[0].note, "NOT met") {
		t.Fatalf("over the target: %+v", b.rows[0])
	}
}
