package signature

import (
	"errors"
	"strings"
	"testing"

	"github.com/digitorus/pdf"
)

// A countersignature's appearance never lies over an earlier one: Sign
// refuses to place it there, and Verify names one that another tool put
// there (here: the same signing code without Sign's check, with a
// certificate that is trusted but not the pinned seal).
func TestCountersignatureNeverOverlaps(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	other := newTestSeal(t, "Other Signer")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	one := mustSign(t, s, contract(t, 1), signReq("customer", 0, t))

	if _, err := s.Sign(t.Context(), one, signReq("advisor", 0, t)); !errors.Is(err, ErrFieldOverlap) {
		t.Fatalf("Sign over the customer's signature: %v, want ErrFieldOverlap", err)
	}

	// Another tool: no attachments, the customer's box.
	o, _ := NewSigner(other.seal, SignerOptions{})
	info, err := LoadPDF(one, 0)
	if err != nil {
		t.Fatal(err)
	}
	req := SignRequest{Field: "notary", SignerName: "Notar"}
	var out []byte
	err = withReader(t.Context(), one, func(r *pdf.Reader) error {
		var err error
		out, err = o.pdfsign(r, one, 1, info.Pages, DefaultSignatureRect(info.PageSizes[info.Pages-1], 0), nil, req)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if out, err = o.reseal(t.Context(), out, len(one), "notary", SealManifest{}); err != nil {
		t.Fatal(err)
	}
	roots := ts.roots.Clone()
	roots.AppendCertsFromPEM(other.caPEM)
	rep, err := Verify(t.Context(), out, VerifyOptions{Roots: roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || !rep.Signatures[1].ThirdParty || !strings.Contains(strings.Join(rep.Problems, "\n"), "lies over an earlier signature") {
		t.Fatalf("valid %v, problems %v", rep.Valid, rep.Problems)
	}

	// The same signer beside the customer's box is a valid third-party
	// countersignature.
	beside := mustSign(t, o, one, SignRequest{Field: "notary", SignerName: "Notar", Index: 1})
	rep, err = Verify(t.Context(), beside, VerifyOptions{Roots: roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || len(rep.Warnings) == 0 {
		t.Fatalf("beside: valid %v, problems %v, warnings %v", rep.Valid, rep.Problems, rep.Warnings)
	}
}
