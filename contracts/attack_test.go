package contracts

// The attack corpus (signature/PDF.md, "Attack corpus"): contracts signed
// through the contracts service, then altered the ways a hostile insider
// or outsider would. Each case has an expected verdict; every case that
// pdftoppm renders differently from the signed contract must come out
// invalid; pdfsig's verdict is logged beside Parley's (go test -v -run
// TestAttackCorpus) for the table in PDF.md.

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/digitorus/pdf"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// testCA issues leaf certificates for seals (the same CA as Parley's seal,
// for the "another certificate from the seal's CA" cases).
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA", Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key}
}

// seal issues a leaf and returns it as a signature.Seal.
func (ca *testCA) seal(t testing.TB, cn string) *signature.Seal {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn, Organization: []string{"Test"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}
	der, err := x509.CreateCertificate(rand.Reader, tpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certPEM := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	s, err := signature.ParseSeal(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// attackFixture is a contracts service signing with a seal from ca.
type attackFixture struct {
	*fixture
	ca       *testCA
	outsider *signature.Signer // another certificate from the same CA
	verifier *Verifier
}

func newAttackFixture(t testing.TB) *attackFixture {
	t.Helper()
	f := newFixture(t)
	ca := newTestCA(t)
	seal := ca.seal(t, "Parley Seal")
	signer, err := signature.NewSigner(seal, signature.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := signature.NewSigner(ca.seal(t, "Someone Else"), signature.SignerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	keys := &Keys{Signer: signer, Seal: seal, Escrow: f.keys.Escrow, Roots: roots, Anchors: []*x509.Certificate{ca.cert}, Seals: []*x509.Certificate{seal.Cert}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ring, err := blobs.LoadKeyRing("", filepath.Join(f.dir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := blobs.Open(filepath.Join(f.dir, "documents2"), ring)
	if err != nil {
		t.Fatal(err)
	}
	f.keys, f.svc = keys, New(f.rec, docs, keys, 20<<20, log)
	return &attackFixture{fixture: f, ca: ca, outsider: outsider, verifier: NewVerifier(keys, 0, nil)}
}

// signedBoth presents a contract for customer and advisor and signs both.
func (f *attackFixture) signedBoth(t testing.TB, cid string) []byte {
	t.Helper()
	ctx := context.Background()
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag " + cid, Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: cid, Name: "v.pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer, records.SignerAdvisor}, CreatedBy: 1, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	capture, _ := signature.ExampleCapture().Marshal()
	if _, err = f.svc.Sign(ctx, Signing{ConsultationID: cid, DocumentID: d.ID, Field: "customer", As: records.SignerCustomer,
		SignerName: "Eva Kundin", SignerRef: "participant:p_1", Capture: capture}); err != nil {
		t.Fatal(err)
	}
	if _, err = f.svc.Sign(ctx, Signing{ConsultationID: cid, DocumentID: d.ID, Field: "advisor", As: records.SignerAdvisor,
		SignerName: "Anna Beraterin", SignerRef: "staff:1", Capture: capture}); err != nil {
		t.Fatal(err)
	}
	_, rc, _, err := f.svc.Open(ctx, cid, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

func blankContract(t testing.TB) []byte {
	t.Helper()
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag A", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	return pdf
}

// qpdfObjStm rewrites pdf with object streams (and so an xref stream).
func qpdfObjStm(t testing.TB, pdf []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("qpdf", "--object-streams=generate", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pageInObjStm returns page 1's object number and a dictionary for it
// whose /Contents is object 9998.
func pageInObjStm(t testing.TB, doc []byte) (int, string) {
	t.Helper()
	r, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	p := r.Page(1).V
	font := p.Key("Resources").Key("Font").Key("F1").GetPtr().GetID()
	return int(p.GetPtr().GetID()), fmt.Sprintf("<</Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents 9998 0 R /Resources <</Font <</F1 %d 0 R>>>>>>",
		p.Key("Parent").GetPtr().GetID(), font)
}

// signedFile presents doc in consultation cid and signs it as the customer.
func (f *attackFixture) signedFile(t testing.TB, cid string, doc []byte) []byte {
	t.Helper()
	ctx := context.Background()
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: cid, Name: "v.pdf", PDF: doc,
		Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	capture, _ := signature.ExampleCapture().Marshal()
	if _, err = f.svc.Sign(ctx, Signing{ConsultationID: cid, DocumentID: d.ID, Field: "customer", As: records.SignerCustomer,
		SignerName: "Eva Kundin", SignerRef: "participant:p_1", Capture: capture}); err != nil {
		t.Fatal(err)
	}
	_, rc, _, err := f.svc.Open(ctx, cid, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, _ := io.ReadAll(rc)
	return b
}

// sealAs is what the service's Sign does with a presented document (an
// envelope bound to it, the audit trail, the seal), done by signer: the
// pinned seal for an insider's re-presentation, the outsider otherwise.
func sealAs(t testing.TB, signer *signature.Signer, escrow *signature.EscrowPublicKey, presented []byte, field, cid string, envelope []byte) []byte {
	t.Helper()
	if envelope == nil {
		var err error
		envelope, err = signature.SealEnvelope(nil, escrow, signature.NewBinding(presented, field, cid), []byte(`{"pen":"data"}`), time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	capture := signature.ExampleCapture()
	img, _ := signature.RenderPNG(capture, signature.RenderOptions{MaxWidth: 300, MaxHeight: 120})
	out, err := signer.Sign(context.Background(), presented, signature.SignRequest{
		Field: field, SignerName: "Anna Beraterin", ConsultationID: cid, Index: 1, SignatureImage: img,
		Attachments: []signature.Attachment{
			{Name: EnvelopeName(field), MIME: "application/json", Data: envelope, ModTime: time.Now()},
			{Name: AuditName(field), MIME: "application/json", Data: []byte(`{"events":[]}`), ModTime: time.Now()},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// lastDict is the dictionary of the last definition of object id.
func lastDict(t testing.TB, pdf []byte, id int) string {
	t.Helper()
	all := regexp.MustCompile(fmt.Sprintf(`(?s)(?:^|\n)%d 0 obj\s*(<<.*?>>)\s*(?:endobj|stream)`, id)).FindAllSubmatch(pdf, -1)
	if all == nil {
		t.Fatalf("object %d not found", id)
	}
	return string(all[len(all)-1][1])
}

// appendObjStmUpdate appends an update whose cross-reference is a stream
// and whose objects inStm live in an object stream (plain ones directly),
// as PDF 1.5 writers do, even on a file with classic xref tables.
func appendObjStmUpdate(t testing.TB, pdf []byte, inStm, plain map[int]string) []byte {
	t.Helper()
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(pdf)
	root := regexp.MustCompile(`/Root (\d+ \d+ R)`).FindAllSubmatch(pdf, -1)
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(pdf, -1)
	if m == nil || root == nil || size == nil {
		t.Fatal("no trailer")
	}
	n, _ := strconv.Atoi(string(size[len(size)-1][1]))
	for id := range inStm {
		n = max(n, id+1)
	}
	for id := range plain {
		n = max(n, id+1)
	}
	stmID, xrefID := n, n+1
	var b bytes.Buffer
	b.Write(pdf)
	type row struct{ typ, f2, f3 int }
	rows := map[int]row{}
	for id, body := range plain {
		rows[id] = row{1, b.Len(), 0}
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, body)
	}
	ids := make([]int, 0, len(inStm))
	for id := range inStm {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var head, body bytes.Buffer
	for i, id := range ids {
		fmt.Fprintf(&head, "%d %d ", id, body.Len())
		body.WriteString(inStm[id] + "\n")
		rows[id] = row{2, stmID, i}
	}
	rows[stmID] = row{1, b.Len(), 0}
	fmt.Fprintf(&b, "%d 0 obj\n<</Type /ObjStm /N %d /First %d /Length %d>>\nstream\n%s%s\nendstream\nendobj\n",
		stmID, len(ids), head.Len(), head.Len()+body.Len(), head.String(), body.String())
	rows[xrefID] = row{1, b.Len(), 0}
	all := make([]int, 0, len(rows))
	for id := range rows {
		all = append(all, id)
	}
	sort.Ints(all)
	var index, data bytes.Buffer
	for _, id := range all {
		r := rows[id]
		fmt.Fprintf(&index, "%d 1 ", id)
		data.Write([]byte{byte(r.typ), byte(r.f2 >> 24), byte(r.f2 >> 16), byte(r.f2 >> 8), byte(r.f2), byte(r.f3 >> 8), byte(r.f3)})
	}
	fmt.Fprintf(&b, "%d 0 obj\n<</Type /XRef /Size %d /W [1 4 2] /Index [%s] /Root %s /Prev %s /Length %d>>\nstream\n",
		xrefID, xrefID+1, strings.TrimSpace(index.String()), root[len(root)-1][1], m[1], data.Len())
	b.Write(data.Bytes())
	fmt.Fprintf(&b, "\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n", rows[xrefID].f2)
	return b.Bytes()
}

// render is pdftoppm's rendering of every page (PNG bytes joined), "" if
// pdftoppm can't render the file.
func render(t testing.TB, pdf []byte) string {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("pdftoppm", "-png", "-r", "30", in, filepath.Join(dir, "p")).Run(); err != nil {
		return ""
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "p*.png"))
	sort.Strings(pages)
	h := sha256.New()
	for _, p := range pages {
		b, _ := os.ReadFile(p)
		h.Write(b)
	}
	if len(pages) == 0 {
		return ""
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

// pdfsigSays summarises pdfsig's verdict on pdf.
func pdfsigSays(t testing.TB, pdf []byte) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, _ := exec.Command("pdfsig", in).CombinedOutput()
	s := string(out)
	var parts []string
	valid := strings.Count(s, "Signature Validation: Signature is Valid")
	total := strings.Count(s, "Signature Validation:")
	switch {
	case total == 0 && strings.Contains(s, "does not contain any signatures"):
		return "no signatures"
	case total == 0:
		return "error"
	}
	parts = append(parts, fmt.Sprintf("%d/%d valid", valid, total))
	if strings.Contains(s, "Not total document signed") {
		parts = append(parts, "not total document signed")
	} else if strings.Contains(s, "Total document signed") {
		parts = append(parts, "total document signed")
	}
	return strings.Join(parts, ", ")
}

// attackCase is one file of the attack corpus with its expected verdict.
type attackCase struct {
	name string
	pdf  []byte
	want string // verdict
	code string // a reason code that must be there
	// countersigned: a legitimate later signature (its appearance
	// changes the rendering).
	countersigned bool
}

// attackCorpus builds the attack corpus from contracts presented and
// signed through f's service; it returns the cases and the untouched
// signed contract the others start from.
func attackCorpus(t testing.TB, f *attackFixture) ([]attackCase, []byte) {
	ctx := context.Background()
	good := f.signed(t, "c_a", "Vertrag A")
	other := f.signed(t, "c_b", "Vertrag B")
	both := f.signedBoth(t, "c_c")
	escrow := f.keys.Escrow

	// The same contract written with object streams and xref streams
	// (qpdf), presented and signed through the service.
	goodStm := f.signedFile(t, "c_s", qpdfObjStm(t, blankContract(t)))
	stmPage, stmPageDict := pageInObjStm(t, goodStm)

	contentID, _ := strconv.Atoi(string(regexp.MustCompile(`/Contents (\d+) 0 R`).FindSubmatch(good)[1]))
	pageID := objectOf(t, good, `/Type\s*/Page\b`)
	catalogID := objectOf(t, good, `/Type\s*/Catalog`)
	fontID := objectOf(t, good, `/Type\s*/Font`)
	pagesID := objectOf(t, good, `/Type\s*/Pages`)
	blank := blankContract(t)

	newContent := "<</Length 55>>\nstream\nBT /F1 30 Tf 100 700 Td (Betrag: 1.000.000 EUR) Tj ET\nendstream"
	annotation := map[int]string{
		pageID: pageWithAnnot(t, good, pageID, 9999),
		9999:   "<</Type /Annot /Subtype /FreeText /Rect [100 600 400 640] /DA (/Helv 20 Tf 1 0 0 rg) /Contents (Betrag: 1.000.000 EUR) /F 4>>",
	}
	// A content stream can't live in an object stream; the page can.
	pageDict := lastDict(t, good, pageID)
	pageNewContents := regexp.MustCompile(`/Contents \d+ 0 R`).ReplaceAllString(pageDict, "/Contents 9998 0 R")
	formField := map[int]string{
		pageID: pageWithAnnot(t, good, pageID, 9997),
		9997: "<</Type /Annot /Subtype /Widget /FT /Tx /T (betrag) /V (1.000.000 EUR) /Rect [100 600 400 640] /F 4 " +
			"/AP <</N 9996 0 R>>>>",
		9996: "<</Type /XObject /Subtype /Form /BBox [0 0 300 40] /Resources <</Font <</F1 " + strconv.Itoa(fontID) + " 0 R>>>> /Length 44>>\nstream\nBT /F1 20 Tf 2 10 Td (1.000.000 EUR) Tj ET\nendstream",
	}

	// An envelope copied from another contract, its clear-text header
	// re-labelled for the field it is put under.
	var envB []byte
	atts, _ := signature.Attachments(other)
	for _, a := range atts {
		if a.Name == EnvelopeName("customer") {
			envB = a.Data
		}
	}
	relabel := func(env []byte, presented []byte, field, cid string) []byte {
		var m map[string]any
		if err := json.Unmarshal(env, &m); err != nil {
			t.Fatal(err)
		}
		b := signature.NewBinding(presented, field, cid)
		m["binding"] = map[string]any{"document_sha256": b.DocumentSHA256, "document_length": b.DocumentLength, "field": field, "consultation_id": cid}
		out, _ := json.Marshal(m)
		return out
	}
	withAnnot := appendUpdate(t, good, annotation)

	// startxref damaged or missing after an update that replaces page 1's text.
	replaced := appendUpdate(t, good, map[int]string{contentID: newContent})
	brokenXref := regexp.MustCompile(`startxref\s+\d+\s+%%EOF\s*$`).ReplaceAll(append([]byte(nil), replaced...), []byte("startxref\n999999\n%%EOF\n"))
	noXref := regexp.MustCompile(`startxref\s+\d+\s+%%EOF\s*$`).ReplaceAll(append([]byte(nil), replaced...), []byte("%%EOF\n"))

	forged := func(byteRange, contents string) []byte {
		cat := lastDict(t, blank, objectOf(t, blank, `/Type\s*/Catalog`))
		page := objectOf(t, blank, `/Type\s*/Page\b`)
		cat = strings.TrimSuffix(strings.TrimSpace(cat), ">>") + " /AcroForm <</Fields [9990 0 R] /SigFlags 3>>>>"
		return appendUpdate(t, blank, map[int]string{
			objectOf(t, blank, `/Type\s*/Catalog`): cat,
			page:                                   pageWithAnnot(t, blank, page, 9990),
			9990: "<</Type /Annot /Subtype /Widget /FT /Sig /T (customer) /Rect [0 0 0 0] /V <</Type /Sig /Filter /Adobe.PPKLite /SubFilter /ETSI.CAdES.detached " +
				byteRange + " " + contents + ">>>>",
		})
	}
	sigValueID := objectOf(t, good, `/Type\s*/Sig\b`)

	// Another signing tool that also updates the document information
	// (/Info: producer, modification date) and the catalog's XMP
	// /Metadata in the step of its signature, as desktop signing tools do.
	metadataOnly, metadataTouched := func() ([]byte, []byte) {
		infos := regexp.MustCompile(`/Info (\d+) 0 R`).FindAllSubmatch(good, -1)
		if infos == nil {
			t.Fatal("no /Info in the signed contract")
		}
		infoID, _ := strconv.Atoi(string(infos[len(infos)-1][1]))
		roots := regexp.MustCompile(`/Root (\d+) 0 R`).FindAllSubmatch(good, -1)
		rootID, _ := strconv.Atoi(string(roots[len(roots)-1][1]))
		cat := lastDict(t, good, rootID)
		cat = strings.TrimSuffix(strings.TrimSpace(cat), ">>") + " /Metadata 9980 0 R>>"
		xmp := `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">` +
			`<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:pdf="http://ns.adobe.com/pdf/1.3/"><xmp:ModifyDate>2026-12-07T12:00:00Z</xmp:ModifyDate>` +
			`<pdf:Producer>Other Signing Tool 1.0</pdf:Producer></rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`
		upd := appendUpdate(t, good, map[int]string{
			infoID: "<</Title (Vertrag A) /Producer (Other Signing Tool 1.0) /ModDate (D:20261207120000Z)>>",
			rootID: cat,
			9980:   fmt.Sprintf("<</Type /Metadata /Subtype /XML /Length %d>>\nstream\n%s\nendstream", len(xmp), xmp),
		})
		// appendUpdate's trailer names no /Info: this tool's does.
		i := bytes.LastIndex(upd, []byte("trailer\n<<"))
		upd = append(upd[:i:i], bytes.Replace(upd[i:], []byte("trailer\n<<"), []byte(fmt.Sprintf("trailer\n<</Info %d 0 R ", infoID)), 1)...)
		out, err := f.outsider.Sign(ctx, upd, signature.SignRequest{Field: "notary", SignerName: "Notar", Index: 1})
		if err != nil {
			t.Fatal(err)
		}
		return upd, out
	}()
	// The page's content stream dressed as XMP metadata and named by the
	// catalog's /Metadata, changed in a third party's signed step.
	contentAsXMP := func() []byte {
		roots := regexp.MustCompile(`/Root (\d+) 0 R`).FindAllSubmatch(good, -1)
		rootID, _ := strconv.Atoi(string(roots[len(roots)-1][1]))
		cat := strings.TrimSuffix(strings.TrimSpace(lastDict(t, good, rootID)), ">>") + fmt.Sprintf(" /Metadata %d 0 R>>", contentID)
		upd := appendUpdate(t, good, map[int]string{
			rootID:    cat,
			contentID: strings.Replace(newContent, "<</Length 55>>", "<</Type /Metadata /Subtype /XML /Length 55>>", 1),
		})
		out, err := f.outsider.Sign(ctx, upd, signature.SignRequest{Field: "notary", SignerName: "Notar", Index: 1})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}()

	cases := []attackCase{
		{"untouched contract", good, ValidWithWarnings, "no_timestamp", false},
		{"customer and advisor signed through Parley", both, ValidWithWarnings, "no_timestamp", true},
		{"legitimate third-party countersignature", func() []byte {
			out, err := f.outsider.Sign(ctx, good, signature.SignRequest{Field: "notary", SignerName: "Notar", Index: 1})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}(), ValidWithWarnings, "signed_outside_parley", true},
		{"legitimate third-party countersignature that updates /Info and XMP metadata", metadataTouched, ValidWithWarnings, "signed_outside_parley", true},
		{"/Info and XMP metadata updated without a signature", metadataOnly, Invalid, "changed_after_signing", false},
		{"third-party countersignature: page content dressed as XMP metadata", contentAsXMP, Invalid, "changed_after_signing", false},
		{"re-presented by an insider: annotation, sealed by Parley", sealAs(t, f.keys.Signer, escrow, withAnnot, "advisor", "c_a", nil), Invalid, "changed_after_signing", false},
		{"re-presented by an insider: page in an object stream, sealed by Parley",
			sealAs(t, f.keys.Signer, escrow, appendObjStmUpdate(t, goodStm, map[int]string{stmPage: stmPageDict}, map[int]string{9998: newContent}), "advisor", "c_s", nil),
			Invalid, "changed_after_signing", false},
		{"re-presented by an insider: form value, sealed by Parley", sealAs(t, f.keys.Signer, escrow, appendUpdate(t, good, formField), "advisor", "c_a", nil), Invalid, "changed_after_signing", false},
		{"another certificate from the seal's CA: change plus re-labelled envelope",
			sealAs(t, f.outsider, escrow, withAnnot, "advisor", "c_a", relabel(envB, withAnnot, "advisor", "c_a")), Invalid, "envelope_not_sealed", false},
		{"another certificate from the seal's CA: change only", func() []byte {
			out, err := f.outsider.Sign(ctx, withAnnot, signature.SignRequest{Field: "notary", SignerName: "Notar", Index: 1})
			if err != nil {
				t.Fatal(err)
			}
			return out
		}(), Invalid, "changed_after_signing", false},
		{"envelope copied from another contract", func() []byte {
			out, _ := signature.AppendAttachment(good, signature.Attachment{Name: EnvelopeName("customer"), MIME: "application/json", Data: envB, ModTime: time.Now()})
			return out
		}(), Invalid, "envelope_not_sealed", false},
		{"copied, re-labelled envelope sealed by Parley in a re-presentation", func() []byte {
			presented, _ := signature.AppendAttachment(good, signature.Attachment{Name: EnvelopeName("witness"), MIME: "application/json",
				Data: relabel(envB, good, "witness", "c_a"), ModTime: time.Now()})
			return sealAs(t, f.keys.Signer, escrow, presented, "advisor", "c_a", nil)
		}(), Invalid, "envelope_not_sealed", false},
		{"incremental saving: page text replaced", replaced, Invalid, "changed_after_signing", false},
		{"shadow hide: white box over the text", appendUpdate(t, good, map[int]string{
			pageID: pageWithAnnot(t, good, pageID, 9999),
			9999:   "<</Type /Annot /Subtype /Square /Rect [0 0 600 800] /IC [1 1 1] /C [1 1 1] /F 4>>",
		}), Invalid, "changed_after_signing", false},
		{"shadow replace: font replaced", appendUpdate(t, good, map[int]string{
			fontID: "<</Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding>>",
		}), Invalid, "changed_after_signing", false},
		{"shadow hide-and-replace: page tree replaced", appendUpdate(t, good, map[int]string{
			catalogID: strings.Replace(lastDict(t, good, catalogID), fmt.Sprintf("/Pages %d 0 R", pagesID), "/Pages 9995 0 R", 1),
			9995:      fmt.Sprintf("<</Type /Pages /Kids [9994 0 R] /Count 1>>"),
			9994:      "<</Type /Page /Parent 9995 0 R /MediaBox [0 0 595 842] /Contents 9993 0 R /Resources <</Font <</F1 " + strconv.Itoa(fontID) + " 0 R>>>>>>",
			9993:      newContent,
		}), Invalid, "changed_after_signing", false},
		{"universal signature forgery: empty byte range", forged("/ByteRange [0 0 0 0]", "/Contents <00>"), Invalid, "signature_broken", false},
		{"universal signature forgery: no byte range", forged("", "/Contents <3082>"), Invalid, "signature_broken", false},
		{"signature wrapping: signature value redefined beside a changed page", appendUpdate(t, good, map[int]string{
			sigValueID: lastDict(t, good, sigValueID),
			contentID:  newContent,
		}), Invalid, "changed_after_signing", false},
		{"damaged startxref after a text change", brokenXref, Invalid, "changed_after_signing", false},
		{"missing startxref after a text change", noXref, Invalid, "changed_after_signing", false},
		{"object stream update on a classic-xref file", appendObjStmUpdate(t, good, map[int]string{pageID: pageNewContents}, map[int]string{9998: newContent}), Invalid, "changed_after_signing", false},
	}
	return cases, good
}

// mutations are 100 random mutations of a signed contract (flipped bytes,
// truncations, inserted garbage, appended slices), always the same ones.
func mutations(good []byte) [][]byte {
	r := mrand.New(mrand.NewPCG(17, 17))
	out := make([][]byte, 0, 100)
	for i := 0; i < 100; i++ {
		m := append([]byte(nil), good...)
		switch i % 4 {
		case 0: // flip bytes
			for range 1 + r.IntN(4) {
				m[r.IntN(len(m))] ^= byte(1 + r.IntN(255))
			}
		case 1: // truncate
			m = m[:r.IntN(len(m))]
		case 2: // insert garbage
			at := r.IntN(len(m))
			junk := make([]byte, 1+r.IntN(64))
			for j := range junk {
				junk[j] = byte(r.IntN(256))
			}
			m = append(m[:at:at], append(junk, good[at:]...)...)
		case 3: // duplicate a slice at the end
			a := r.IntN(len(m))
			m = append(m, good[a:min(len(good), a+1+r.IntN(2000))]...)
		}
		out = append(out, m)
	}
	return out
}

// TestAttackCorpus: every case of the attack corpus gets its expected
// verdict with its reason, a file pdftoppm renders differently from the
// signed contract is never valid, and 100 random mutations are invalid,
// not checkable, or valid and rendered exactly as signed. How long the
// slowest file takes is BenchmarkVerifySlowestFile's (make bench); here
// only a generous bound catches a hang.
func TestAttackCorpus(t *testing.T) {
	if _, err := exec.LookPath("pdftoppm"); err != nil {
		t.Fatal("pdftoppm (poppler-utils) is needed: scripts/test-deps.sh installs it")
	}
	f := newAttackFixture(t)
	ctx := context.Background()
	cases, good := attackCorpus(t, f)
	signedView := render(t, good)
	if signedView == "" {
		t.Fatal("pdftoppm can't render the signed contract")
	}
	var slowest time.Duration
	t.Logf("| case | Parley | pdfsig |")
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			vd, err := f.verifier.Verify(ctx, tc.pdf)
			slowest = max(slowest, time.Since(start))
			if err != nil {
				t.Fatalf("could not check: %v", err)
			}
			if vd.Verdict != tc.want || !strings.Contains(reasonCodes(vd)+",", ":"+tc.code+",") {
				t.Fatalf("verdict %s %s, want %s with %s; problems %v", vd.Verdict, reasonCodes(vd), tc.want, tc.code, vd.Report.Problems)
			}
			// Honest reasons: a broken signature is not also "untrusted
			// certificate ()" or "envelope missing".
			if codes := reasonCodes(vd); tc.code == "signature_broken" && (strings.Contains(codes, "untrusted_certificate") || strings.Contains(codes, "envelope_missing")) {
				t.Fatalf("broken signature reported as %s", codes)
			}
			for _, r := range vd.Reasons {
				if r.DE == "" || r.EN == "" {
					t.Fatalf("reason without text: %+v", r)
				}
				if r.Code == "changed_after_signing" && !strings.Contains(r.EN, "content was changed") {
					t.Fatalf("no plain-language line: %s", r.EN)
				}
			}
			// What a viewer shows: a different rendering is never valid.
			// (A countersignature adds its visible appearance by design.)
			if view := render(t, tc.pdf); view != "" && view != signedView && !tc.countersigned && vd.Verdict != Invalid {
				t.Fatalf("pdftoppm renders a different document, verdict %s", vd.Verdict)
			}
			t.Logf("| %s | %s (%s) | %s |", tc.name, vd.Verdict, tc.code, pdfsigSays(t, tc.pdf))
			if dir := os.Getenv("PARLEY_ATTACK_DIR"); dir != "" { // keep the corpus for a look
				name := regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(tc.name), "-") + ".pdf"
				_ = os.WriteFile(filepath.Join(dir, name), tc.pdf, 0o600)
				_ = os.WriteFile(filepath.Join(dir, "ca.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.cert.Raw}), 0o600)
				_ = os.WriteFile(filepath.Join(dir, "seal.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.keys.Seal.Cert.Raw}), 0o600)
				_ = os.WriteFile(filepath.Join(dir, "escrow.pem"), f.keys.Escrow.PEM(), 0o600)
			}
		})
	}

	t.Run("100 random mutations", func(t *testing.T) {
		counts := map[string]int{}
		for i, m := range mutations(good) {
			start := time.Now()
			vd, err := f.verifier.Verify(ctx, m)
			slowest = max(slowest, time.Since(start))
			switch {
			case err != nil:
				if !errors.Is(err, ErrCannotCheck) {
					t.Fatalf("mutation %d: %v", i, err)
				}
				counts["could not be checked"]++
			case vd.Verdict == Invalid:
				counts["invalid"]++
			default:
				// Valid only when a viewer sees the signed document.
				if view := render(t, m); view != "" && view != signedView {
					t.Fatalf("mutation %d: %s but rendered differently; %v", i, vd.Verdict, vd.Reasons)
				}
				counts["valid, rendered as signed"]++
			}
		}
		t.Logf("100 random mutations: %v", counts)
	})
	t.Logf("slowest verification: %v", slowest)
	if slowest > 20*time.Second {
		t.Fatalf("a verification took %v: a hang (the 1 s target is measured by BenchmarkVerifySlowestFile)", slowest)
	}
}

// TestPresentRefusesSignedPDF: a signed contract can't be uploaded into
// another consultation (or again into its own).
func TestPresentRefusesSignedPDF(t *testing.T) {
	f := newFixture(t)
	good := f.signed(t, "c_a", "Vertrag A")
	_, err := f.svc.Present(context.Background(), Presentation{ConsultationID: "c_b", Name: "x.pdf", PDF: good,
		Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
	if !errors.Is(err, ErrPresentSigned) {
		t.Fatalf("err = %v, want ErrPresentSigned", err)
	}
}
