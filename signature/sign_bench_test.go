package signature

import (
	"slices"
	"testing"
	"time"
)

// p50 reports the median of per-iteration times as "p50-ns" (ns/op is the
// mean; the median is what a signer waits in the typical case).
type p50 struct{ d []time.Duration }

func (p *p50) time(f func()) {
	t := time.Now()
	f()
	p.d = append(p.d, time.Since(t))
}

func (p *p50) report(b *testing.B) {
	if len(p.d) == 0 {
		return
	}
	slices.Sort(p.d)
	b.ReportMetric(float64(p.d[len(p.d)/2].Nanoseconds()), "p50-ns")
}

func benchSign(b *testing.B, pages int) {
	ts := newTestSeal(b, "Parley Bench Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(b, pages)
	req := signReq("customer", 0, b)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	var p p50
	for b.Loop() {
		p.time(func() {
			if _, err := s.Sign(b.Context(), doc, req); err != nil {
				b.Fatal(err)
			}
		})
	}
	p.report(b)
}

func BenchmarkSign1Page(b *testing.B)   { benchSign(b, 1) }
func BenchmarkSign20Pages(b *testing.B) { benchSign(b, 20) }

func benchVerify(b *testing.B, pages int) {
	ts := newTestSeal(b, "Parley Bench Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	signed, err := s.Sign(b.Context(), contract(b, pages), signReq("customer", 0, b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var p p50
	for b.Loop() {
		p.time(func() {
			rep, err := Verify(b.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
			if err != nil || len(rep.Signatures) != 1 || !rep.Signatures[0].DigestValid {
				b.Fatal(err, rep.Problems)
			}
		})
	}
	p.report(b)
}

func BenchmarkVerify1Page(b *testing.B)   { benchVerify(b, 1) }
func BenchmarkVerify20Pages(b *testing.B) { benchVerify(b, 20) }
