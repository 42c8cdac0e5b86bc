package signature

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
)

// needTool skips when a Debian tool is missing outside CI and fails in CI.
func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "" {
			t.Skipf("%s not installed (apt-get install poppler-utils qpdf libnss3-tools)", name)
		}
		t.Fatalf("%s not installed, required in CI", name)
	}
	return p
}

type testSeal struct {
	seal  *Seal
	caPEM []byte
	roots *x509.CertPool
}

func newTestSeal(t testing.TB, cn string) testSeal {
	t.Helper()
	caPEM, certPEM, keyPEM, err := GenerateDevSeal(cn, "Parley Test")
	if err != nil {
		t.Fatal(err)
	}
	seal, err := ParseSeal(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(caPEM)
	return testSeal{seal: seal, caPEM: caPEM, roots: roots}
}

func contract(t testing.TB, pages int) []byte {
	t.Helper()
	b, err := ContractPDF(ContractTemplate{
		Title: "Beratungsvertrag Müller & Söhne", Pages: pages, Place: "Köln",
		Date:    time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Parties: []Party{{Role: "Anbieter", Name: "Parley GmbH", Address: "Hauptstraße 1, 50667 Köln"}, {Role: "Kundin", Name: "Jürgen Weiß"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// strokePNG draws a blue-black scribble on a transparent background.
func strokePNG(t testing.TB) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 600, 200))
	ink := color.NRGBA{R: 0x10, G: 0x20, B: 0x60, A: 0xff}
	for x := 20; x < 580; x++ {
		y := 100 + int(60*math.Sin(float64(x)/40))
		for dy := -5; dy <= 5; dy++ {
			for dx := -2; dx <= 2; dx++ {
				img.SetNRGBA(x+dx, y+dy, ink)
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func signReq(field string, index int, t testing.TB) SignRequest {
	return SignRequest{
		Field: field, SignerName: "Jürgen Weiß (" + field + ")", Reason: "Vertrag angenommen", Location: "Köln",
		SignedAt: time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC), Index: index,
		SignatureImage: strokePNG(t),
		Attachments: []Attachment{{Name: "parley-biometric-" + field + ".json", Description: "Encrypted biometric data",
			MIME: "application/json", Data: []byte(`{"v":1,"field":"` + field + `"}`), ModTime: time.Now()}},
	}
}

func writeTemp(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// nssDB makes an NSS database for pdfsig that trusts caPEM.
func nssDB(t testing.TB, caPEM []byte) string {
	t.Helper()
	certutil := needTool(t, "certutil")
	dir := t.TempDir()
	ca := writeTemp(t, "ca.pem", caPEM)
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + dir, "--empty-password"},
		{"-A", "-d", "sql:" + dir, "-n", "parley-dev-ca", "-t", "CT,C,C", "-a", "-i", ca},
	} {
		if out, err := exec.Command(certutil, args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	return dir
}

func pdfsig(t testing.TB, nss string, file []byte) string {
	t.Helper()
	bin := needTool(t, "pdfsig")
	out, _ := exec.Command(bin, "-nssdir", "sql:"+nss, writeTemp(t, "f.pdf", file)).CombinedOutput()
	return string(out)
}

func qpdfCheck(t testing.TB, file []byte) {
	t.Helper()
	bin := needTool(t, "qpdf")
	out, err := exec.Command(bin, "--check", writeTemp(t, "f.pdf", file)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "No syntax or stream encoding errors") {
		t.Fatalf("qpdf --check: %v\n%s", err, out)
	}
}

func mustSign(t testing.TB, s *Signer, doc []byte, req SignRequest) []byte {
	t.Helper()
	out, err := s.Sign(t.Context(), doc, req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, doc) {
		t.Fatal("input is not a prefix of the signed PDF")
	}
	return out
}

func TestSignPdfsigAcceptsOneAndTwentyPages(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	nss := nssDB(t, ts.caPEM)
	s, err := NewSigner(ts.seal, SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, pages := range []int{1, 20} {
		doc := contract(t, pages)
		signed := mustSign(t, s, doc, signReq("customer", 0, t))
		out := pdfsig(t, nss, signed)
		for _, want := range []string{"Signature is Valid", "Certificate is Trusted", "Total document signed", "ETSI.CAdES.detached", "Signature Field Name: customer"} {
			if !strings.Contains(out, want) {
				t.Errorf("%d pages: pdfsig lacks %q:\n%s", pages, want, out)
			}
		}
		qpdfCheck(t, signed)
		rep, err := Verify(t.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].Field != "customer" || !rep.Signatures[0].CoversWholeFile {
			t.Errorf("%d pages: Verify: %+v", pages, rep)
		}
	}
}

func TestTwoSignersBothValid(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	nss := nssDB(t, ts.caPEM)
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(t, 1)
	one := mustSign(t, s, doc, signReq("customer", 0, t))
	two := mustSign(t, s, one, signReq("advisor", 1, t))
	out := pdfsig(t, nss, two)
	if n := strings.Count(out, "Signature is Valid"); n != 2 {
		t.Errorf("pdfsig: %d valid signatures, want 2:\n%s", n, out)
	}
	qpdfCheck(t, two)
	if _, err := s.Sign(t.Context(), two, signReq("advisor", 2, t)); err == nil {
		t.Error("signing the same field twice succeeded")
	}
	rep, err := Verify(t.Context(), two, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Valid || len(rep.Signatures) != 2 {
		t.Fatalf("Verify: %+v", rep)
	}
	if rep.Signatures[0].CoversWholeFile || !rep.Signatures[1].CoversWholeFile {
		t.Errorf("coverage: %+v", rep.Signatures)
	}
	if len(rep.Attachments) != 2 {
		t.Errorf("attachments: %+v", rep.Attachments)
	}
	for _, a := range rep.Attachments {
		if !a.Signed {
			t.Errorf("attachment %s not covered by a signature", a.Name)
		}
	}
	atts, err := Attachments(two)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range atts {
		if a.Name == "parley-biometric-customer.json" && a.PrefixEnd != int64(len(doc)) {
			t.Errorf("customer envelope prefix %d, want %d", a.PrefixEnd, len(doc))
		}
		if a.Name == "parley-biometric-advisor.json" && a.PrefixEnd != int64(len(one)) {
			t.Errorf("advisor envelope prefix %d, want %d", a.PrefixEnd, len(one))
		}
	}
}

func TestTamperedAndUntrusted(t *testing.T) {
	ts := newTestSeal(t, "Parley Test Seal")
	nss := nssDB(t, ts.caPEM)
	s, _ := NewSigner(ts.seal, SignerOptions{})
	doc := contract(t, 1)
	signed := mustSign(t, s, doc, signReq("customer", 0, t))

	// Flip one byte inside the page content (inside the signed range).
	bad := bytes.Clone(signed)
	i := bytes.Index(bad, []byte("Beratungsvertrag"))
	bad[i] = 'X'
	if out := pdfsig(t, nss, bad); strings.Contains(out, "Signature is Valid") {
		t.Errorf("pdfsig accepts a tampered file:\n%s", out)
	}
	rep, err := Verify(t.Context(), bad, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || rep.Signatures[0].DigestValid {
		t.Errorf("Verify accepts a tampered file: %+v", rep.Signatures[0])
	}

	// A certificate from another CA.
	other := newTestSeal(t, "Someone Else")
	rep, err = Verify(t.Context(), signed, VerifyOptions{Roots: other.roots, Seals: other.pins()})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Valid || rep.Signatures[0].ChainTrusted || !rep.Signatures[0].DigestValid {
		t.Errorf("untrusted chain: %+v", rep.Signatures[0])
	}

	// An appended revision that changes page content after signing.
	appended, err := AppendAttachment(signed, Attachment{Name: "later.txt", Data: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	rep, _ = Verify(t.Context(), appended, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if rep.Valid || rep.Signatures[0].CoversWholeFile || len(rep.Signatures[0].LaterRevisions) == 0 {
		t.Errorf("unsigned later revision not reported: %+v", rep)
	}
}

// TestSignatureImageIsRendered renders the signed page and looks for ink
// pixels inside the signature rectangle.
func TestSignatureImageIsRendered(t *testing.T) {
	pdftoppm := needTool(t, "pdftoppm")
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	signed := mustSign(t, s, contract(t, 1), signReq("customer", 0, t))
	dir := t.TempDir()
	in := filepath.Join(dir, "s.pdf")
	os.WriteFile(in, signed, 0o600)
	if out, err := exec.Command(pdftoppm, "-png", "-r", "60", "-f", "1", "-l", "1", in, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "p*.png"))
	if len(matches) != 1 {
		t.Fatalf("pdftoppm wrote %v", matches)
	}
	f, _ := os.Open(matches[0])
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("PARLEY_KEEP_RENDER") != "" {
		b, _ := os.ReadFile(matches[0])
		os.WriteFile(os.Getenv("PARLEY_KEEP_RENDER"), b, 0o644)
	}
	r := DefaultSignatureRect(A4, 0)
	scale := 60.0 / 72
	H := img.Bounds().Dy()
	ink := 0
	// the handwriting occupies the upper part of the box, above the text
	for y := int((A4.URY - r.Y - r.H) * scale); y < int((A4.URY-r.Y-24)*scale); y++ {
		for x := int(r.X * scale); x < int((r.X+r.W)*scale); x++ {
			if y < 0 || y >= H {
				continue
			}
			cr, cg, cb, _ := img.At(x, y).RGBA()
			if cb > cr+0x1000 && cr < 0x8000 && cg < 0x8000 {
				ink++
			}
		}
	}
	if ink < 50 {
		t.Errorf("only %d ink-coloured pixels in the signature area", ink)
	}
}

func TestSignWithTimestamp(t *testing.T) {
	tsa := newTestTSA(t)
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{TSAURL: tsa.URL})
	signed := mustSign(t, s, contract(t, 1), signReq("customer", 0, t))
	rep, err := Verify(t.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if err != nil {
		t.Fatal(err)
	}
	sig := rep.Signatures[0]
	if !rep.Valid || sig.TimeStamp.IsZero() || sig.Level != "B-T" {
		t.Errorf("time-stamped signature: %+v", sig)
	}
	if os.Getenv("CI") != "" || commandExists("pdfsig") {
		nss := nssDB(t, ts.caPEM)
		if out := pdfsig(t, nss, signed); !strings.Contains(out, "Signature is Valid") {
			t.Errorf("pdfsig:\n%s", out)
		}
	}

	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", 503) }))
	defer down.Close()
	s2, _ := NewSigner(ts.seal, SignerOptions{TSAURL: down.URL})
	if _, err := s2.Sign(t.Context(), contract(t, 1), signReq("customer", 0, t)); err == nil {
		t.Error("signing succeeded although the TSA failed")
	}
}

func commandExists(name string) bool { _, err := exec.LookPath(name); return err == nil }

// newTestTSA is an RFC 3161 time-stamp authority on loopback.
func newTestTSA(t testing.TB) *httptest.Server {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(), Subject: pkix.Name{CommonName: "Parley Test TSA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := timestamp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		resp, err := (&timestamp.Timestamp{
			HashAlgorithm: req.HashAlgorithm, HashedMessage: req.HashedMessage, Time: time.Now(),
			Policy: asn1.ObjectIdentifier{1, 2, 3, 4, 1}, Nonce: req.Nonce, AddTSACertificate: true,
		}).CreateResponseWithOpts(cert, key, crypto.SHA256)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/timestamp-reply")
		w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// pins are the seal certificates to pin for ts.
func (ts testSeal) pins() []*x509.Certificate { return []*x509.Certificate{ts.seal.Cert} }
