package signature

import "testing"

func benchSign(b *testing.B, pages int) {
	ts := newTestSeal(b, "Parley Bench Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(b, pages)
	req := signReq("customer", 0, b)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if _, err := s.Sign(b.Context(), doc, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign1Page(b *testing.B)   { benchSign(b, 1) }
func BenchmarkSign20Pages(b *testing.B) { benchSign(b, 20) }

func BenchmarkVerify1Page(b *testing.B) {
	ts := newTestSeal(b, "Parley Bench Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	signed, err := s.Sign(b.Context(), contract(b, 1), signReq("customer", 0, b))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		rep, err := Verify(b.Context(), signed, VerifyOptions{Roots: ts.roots})
		if err != nil || !rep.Valid {
			b.Fatal(err, rep.Problems)
		}
	}
}
