package contracts

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// signedTyped presents the built-in contract and signs it with a typed name.
func (f *fixture) signedTyped(t testing.TB, cid string) []byte {
	t.Helper()
	ctx := context.Background()
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: cid, Name: "Vertrag.pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	base := Signing{ConsultationID: cid, DocumentID: d.ID, Field: "customer", As: records.SignerCustomer,
		SignerName: "Eva Kundin", SignerRef: "participant:p_1", Method: signature.MethodTyped}
	// Not confirmed, or no plausible name: refused, nothing signed.
	for _, bad := range []struct {
		typed     string
		confirmed bool
		code      string
	}{{"Eva Kundin", false, signature.CodeNotConfirmed}, {"", true, signature.CodeTypedNameEmpty},
		{strings.Repeat("E", 65), true, signature.CodeTypedNameLong}} {
		sg := base
		sg.TypedName, sg.Confirmed = bad.typed, bad.confirmed
		var rej *signature.RejectError
		if _, err := f.svc.Sign(ctx, sg); !errors.As(err, &rej) || rej.Code != bad.code {
			t.Fatalf("typed %q confirmed %v: %v, want %s", bad.typed, bad.confirmed, err, bad.code)
		}
	}
	sg := base
	sg.TypedName, sg.Confirmed = " Eva  Kundin ", true
	if d, err = f.svc.Sign(ctx, sg); err != nil {
		t.Fatal(err)
	}
	_, rc, _, err := f.svc.Open(ctx, cid, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	trail, err := f.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := trail[len(trail)-1]
	if last.Kind != "signed" || !strings.Contains(string(last.Detail), `"method":"typed"`) || strings.Contains(string(last.Detail), "envelope") {
		t.Fatalf("audit event %s %s", last.Kind, last.Detail)
	}
	return b
}

// The back office's verdict on a typed signature: valid, said plainly to
// be typed without a biometric record (a warning, not "missing").
func TestTypedSignatureVerdict(t *testing.T) {
	f := newFixture(t)
	v := NewVerifier(f.keys, 0, nil)
	vd, err := v.Verify(t.Context(), f.signedTyped(t, "c_typed"))
	if err != nil {
		t.Fatal(err)
	}
	if vd.Verdict != ValidWithWarnings || reasonCodes(vd) != "warning:no_timestamp,warning:typed_signature" {
		t.Fatalf("verdict %s %s %v", vd.Verdict, reasonCodes(vd), vd.Report.Problems)
	}
	if s := vd.Signatures[0]; s.Envelope != "typed" || s.Method != "typed" || !s.Intact || !s.Trusted {
		t.Fatalf("summary %+v", s)
	}
	for _, r := range vd.Reasons {
		if r.Code == "typed_signature" && (!strings.Contains(r.DE, "barrierefreie Alternative") || !strings.Contains(r.EN, "no biometric record")) {
			t.Errorf("reason %+v", r)
		}
	}
	drawn, err := v.Verify(t.Context(), f.signed(t, "c_drawn", "Vertrag"))
	if err != nil {
		t.Fatal(err)
	}
	if s := drawn.Signatures[0]; s.Method != "drawn" || s.Envelope != "bound" {
		t.Fatalf("drawn summary %+v", s)
	}
}
