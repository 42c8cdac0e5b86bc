package signature

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckTypedName(t *testing.T) {
	cases := []struct {
		in, want, code string
	}{
		{"  Jürgen   Weiß ", "Jürgen Weiß", ""},
		{"李雷", "李雷", ""},
		{"", "", CodeTypedNameEmpty},
		{" \t\n", "", CodeTypedNameEmpty},
		{"J", "", CodeTypedNameShort},
		{strings.Repeat("a", MaxTypedNameRunes), strings.Repeat("a", MaxTypedNameRunes), ""},
		{strings.Repeat("a", MaxTypedNameRunes+1), "", CodeTypedNameLong},
		{"1234", "", CodeTypedNameLetters},
		{"Eva\u202eanidnuK", "", CodeTypedNameLetters},
		{"Eva\x00K", "", CodeTypedNameLetters},
		{"\xff\xfe", "", CodeTypedNameLetters},
	}
	for _, tc := range cases {
		got, err := CheckTypedName(tc.in)
		var rej *RejectError
		switch {
		case tc.code == "" && (err != nil || got != tc.want):
			t.Errorf("CheckTypedName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		case tc.code != "" && (!errors.As(err, &rej) || rej.Code != tc.code):
			t.Errorf("CheckTypedName(%q) = %q, %v; want reject %s", tc.in, got, err, tc.code)
		}
	}
}

func typedReq(t testing.TB, field string) SignRequest {
	r := signReq(field, 0, t)
	r.SignatureImage, r.Attachments = nil, nil
	r.Method, r.TypedName = MethodTyped, "Eva Kundin"
	return r
}

// A typed signature: valid, its method stated by the seal, no envelope
// demanded; the typed name is drawn in the appearance.
func TestTypedSignatureVerifies(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	signed := mustSign(t, s, contract(t, 1), typedReq(t, "customer"))
	rep, err := Verify(t.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || len(rep.Signatures) != 1 || len(rep.Attachments) != 0 {
		t.Fatalf("typed signature: valid %v, problems %v, %d attachments", rep.Valid, rep.Problems, len(rep.Attachments))
	}
	sg := rep.Signatures[0]
	if sg.Method != MethodTyped || sg.Manifest.Method != MethodTyped || sg.Envelope != "" || len(sg.Problems) > 0 {
		t.Fatalf("signature %+v", sg)
	}
	for _, want := range []string{"/Helvetica-Oblique", "(Eva Kundin) Tj", "(Name getippt / typed name, 2026-03-01 10:30:00 UTC) Tj"} {
		if !strings.Contains(string(signed), want) {
			t.Errorf("appearance lacks %q", want)
		}
	}
	// A drawn one says so too.
	drawn := mustSign(t, s, contract(t, 1), signReq("customer", 0, t))
	rep, _ = Verify(t.Context(), drawn, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if !rep.Valid || rep.Signatures[0].Method != MethodDrawn || rep.Signatures[0].Envelope == "" {
		t.Fatalf("drawn signature: %v %+v", rep.Problems, rep.Signatures[0])
	}
}

// Sign refuses a typed request that is not one.
func TestSignRefusesMixedTypedRequests(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(t, 1)
	withImage := typedReq(t, "customer")
	withImage.SignatureImage = strokePNG(t)
	withEnvelope := typedReq(t, "customer")
	withEnvelope.Attachments = signReq("customer", 0, t).Attachments
	noName := typedReq(t, "customer")
	noName.TypedName = " "
	unknown := signReq("customer", 0, t)
	unknown.Method = "voice"
	for name, req := range map[string]SignRequest{"image": withImage, "envelope": withEnvelope, "no name": noName, "unknown method": unknown} {
		if _, err := s.Sign(t.Context(), doc, req); !errors.Is(err, ErrTypedSignature) {
			t.Errorf("%s: %v, want ErrTypedSignature", name, err)
		}
	}
}

// A claim of "typed" never turns a drawn signature's failed biometric
// check into a pass: only the seal manifest states the method, and every
// combination that does not fit is invalid, even when forged by an
// insider holding the seal (s.sign skips Sign's own checks).
func TestTypedClaimCannotExcuseBiometrics(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(t, 1)
	// Drawn (manifest says nothing else), no envelope, but the reason and
	// the name claim "typed": invalid, the envelope is missing.
	claim := signReq("customer", 0, t)
	claim.Attachments = nil
	claim.Reason = "Typed name, confirmed by the signer (accessible alternative)"
	claim.TypedName = "Eva Kundin"
	// Typed by the manifest, but with an envelope beside it.
	typedWithEnvelope := typedReq(t, "customer")
	typedWithEnvelope.Attachments = signReq("customer", 0, t).Attachments
	// A method nobody defined.
	other := typedReq(t, "customer")
	other.Method = "TYPED"
	cases := []struct {
		name string
		req  SignRequest
		want string
	}{
		{"drawn, no envelope, typed in the text", claim, "no biometric envelope"},
		{"typed with an envelope", typedWithEnvelope, "a typed signature (no pen data) carries a biometric envelope"},
		{"unknown method", other, "unknown signing method"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			signed, err := s.sign(t.Context(), doc, tc.req)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Verify(t.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Valid || !strings.Contains(strings.Join(rep.Signatures[0].Problems, "; "), tc.want) {
				t.Fatalf("valid %v, signature problems %v; want %q", rep.Valid, rep.Signatures[0].Problems, tc.want)
			}
		})
	}
}
