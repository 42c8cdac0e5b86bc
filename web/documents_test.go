package web

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/pdfjail"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
)

// withSigner gives e's server a real signing service with development keys;
// uploads and verification go through PDF worker processes, as in the node.
func withSigner(t *testing.T, e *env) *contracts.Keys {
	t.Helper()
	signer, keys, workers := newSigningService(t, e)
	e.srv.signer = signer
	e.newService(signer) // the end removes unsigned documents
	e.srv.verifier = contracts.NewVerifier(keys, 4*e.cfg.Signature.MaxPDFBytes, workers)
	return keys
}

// newSigningService is a signing service on e's records and data
// directory (development keys, documents under documents/).
func newSigningService(t *testing.T, e *env, opts ...contracts.Option) (*contracts.Service, *contracts.Keys, *pdfjail.Runner) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(e.logs, nil))
	keys, err := contracts.LoadKeys(contracts.KeyFiles{DevDir: filepath.Join(e.cfg.DataDir, "keys")}, log)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := blobs.LoadKeyRing("", filepath.Join(e.cfg.DataDir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := blobs.Open(filepath.Join(e.cfg.DataDir, "documents"), ring)
	if err != nil {
		t.Fatal(err)
	}
	workers, err := pdfjail.New(pdfjail.Config{
		Workers: e.cfg.Signature.PDFWorkers, Timeout: e.cfg.Signature.PDFWorkerTimeout,
		MemoryBytes: e.cfg.Signature.PDFWorkerMemoryMB << 20,
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	opts = append([]contracts.Option{contracts.WithIsolation(workers)}, opts...)
	return contracts.New(e.rec, docs, keys, e.cfg.Signature.MaxPDFBytes, log, opts...), keys, workers
}

func docOf(t *testing.T, r response) documentJSON {
	t.Helper()
	var d documentJSON
	if err := json.Unmarshal(r.body, &d); err != nil {
		t.Fatalf("not a Document: %v: %s", err, r.body)
	}
	return d
}

func (e *env) notifiedTypes() []string {
	e.fake.mu.Lock()
	defer e.fake.mu.Unlock()
	var out []string
	for _, m := range e.fake.notified {
		switch v := m.(type) {
		case documentMsg:
			out = append(out, v.Type+":"+v.Document.State)
		case progressMsg:
			out = append(out, v.Type+":"+v.Activity)
		case signFailedMsg:
			out = append(out, v.Type+":"+v.Code)
		}
	}
	return out
}

func TestDocumentSignedInCall(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Kredit")
	base := "/api/v1/consultations/" + id + "/documents"
	origin := []string{"Origin", e.ts.URL}
	cu := e.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)

	// The customer can't present; the advisor presents the template.
	if r := e.do(cu, "POST", base, map[string]any{"template": "contract"}, origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer presents: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(adv, "POST", base, map[string]any{"template": "contract", "title": "Kreditvertrag Müller", "signers": []string{"customer", "advisor"}})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("present: %d %s", r.StatusCode, r.body)
	}
	d := docOf(t, r)
	if d.State != "open" || len(d.Fields) != 2 || d.Pages < 1 || d.Name != "Kreditvertrag Müller.pdf" {
		t.Fatalf("presented %+v", d)
	}
	presented := e.do(cu, "GET", d.PDFURL, nil)
	if presented.StatusCode != http.StatusOK || !bytes.HasPrefix(presented.body, []byte("%PDF-")) {
		t.Fatalf("customer gets the PDF: %d %.20q", presented.StatusCode, presented.body)
	}

	// Progress goes to the advisors; reaching the last page is "viewed".
	if r := e.do(cu, "POST", base+"/"+d.ID+"/progress", map[string]any{"page": d.Pages, "pages": d.Pages, "activity": "reading"}, origin...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("progress: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/progress", map[string]any{"page": 99, "pages": d.Pages, "activity": "reading"}, origin...); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("progress beyond the last page: %d %s", r.StatusCode, r.body)
	}

	// Implausible pen data is refused with a reason, nothing changes.
	tap := `{"v":1,"started_at":"2026-12-02T10:00:00.000Z","canvas":{"w":600,"h":200,"dpr":1},"pointer":"touch","strokes":[{"t0":0,"points":[[10,10,0,0.5,0,0],[11,10,8,0.5,0,0]]}]}`
	r = e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", tap, origin...)
	if r.StatusCode != http.StatusUnprocessableEntity || r.errCode(t) != "implausible" {
		t.Fatalf("tap: %d %s", r.StatusCode, r.body)
	}
	if reason, _ := r.json(t)["error"].(map[string]any)["reason"].(string); reason != "too_few_points" {
		t.Fatalf("tap reason %q", reason)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", `{"v":1,`, origin...); r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("malformed capture: %d %s", r.StatusCode, r.body)
	}

	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/advisor", string(capture), origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer signs the advisor's field: %d %s", r.StatusCode, r.body)
	}
	r = e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("customer signs: %d %s", r.StatusCode, r.body)
	}
	if d = docOf(t, r); d.State != "open" || !d.Fields[0].Signed || d.Revision != 1 {
		t.Fatalf("after the customer: %+v", d)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusConflict {
		t.Fatalf("signing twice: %d %s", r.StatusCode, r.body)
	}
	r = e.staff(adv, "POST", base+"/"+d.ID+"/sign/advisor", string(capture), "Content-Type", "application/json")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("advisor signs: %d %s", r.StatusCode, r.body)
	}
	if d = docOf(t, r); d.State != "signed" || d.Revision != 2 || d.Fields[1].SignerName != "Anna Muster" {
		t.Fatalf("after the advisor: %+v", d)
	}

	// Both download the signed PDF; it starts with the presented bytes and
	// carries both envelopes, which the escrow key opens.
	var signed []byte
	for who, c := range map[string]*http.Client{"customer": cu, "advisor": adv} {
		r := e.do(c, "GET", d.DownloadURL, nil)
		if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") ||
			!bytes.HasPrefix(r.body, presented.body) || len(r.body) <= len(presented.body) {
			t.Fatalf("%s downloads: %d %q", who, r.StatusCode, r.Header.Get("Content-Disposition"))
		}
		signed = r.body
	}
	keyPEM, err := os.ReadFile(filepath.Join(e.cfg.DataDir, "keys", contracts.DevEscrowPrivateFile))
	if err != nil {
		t.Fatal(err)
	}
	key, err := signature.ParseEscrowPrivateKey(keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	opened, err := contracts.OpenEnvelopes(signed, key)
	if err != nil || len(opened) != 2 {
		t.Fatalf("OpenEnvelopes: %d, %v", len(opened), err)
	}
	for _, o := range opened {
		if o.Record.ConsultationID != id || o.Record.Capture.PointCount() != signature.ExampleCapture().PointCount() {
			t.Fatalf("record of %s: consultation %q, %d points", o.Record.Field, o.Record.ConsultationID, o.Record.Capture.PointCount())
		}
	}

	// The audit trail holds the story and its chain is intact.
	trail, err := e.rec.AuditTrail(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range trail {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, ","); got != "presented,field_bound,viewed,signed,signed,downloaded,downloaded" {
		t.Fatalf("audit kinds %s", got)
	}
	if err := records.VerifyAuditChain(trail); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.notifiedTypes(), " "); got != "document:open document_progress:reading document_sign_failed:forbidden document:open document_sign_failed:conflict document:signed" {
		t.Fatalf("pushed %s", got)
	}
	// No pen data in the logs.
	if logs := e.logs.String(); strings.Contains(logs, `"points"`) || strings.Contains(logs, "started_at") {
		t.Fatalf("pen data in logs: %s", logs)
	}
}

func TestDocumentUploadsAreChecked(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Signature.MaxPDFBytes = 64 << 10 })
	keys := withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Upload")
	base := "/api/v1/consultations/" + id + "/documents"
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	// A contract signed in another consultation, uploaded into this one.
	signedElsewhere, err := keys.Signer.Sign(context.Background(), pdf, signature.SignRequest{Field: "customer", SignerName: "Someone", ConsultationID: "c_other"})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, ctype string
		status            int
		code              string
	}{
		{"valid", string(pdf), "application/pdf", http.StatusCreated, ""},
		{"garbage", "not a pdf at all", "application/pdf", http.StatusUnprocessableEntity, "bad_pdf"},
		{"truncated", string(pdf[:len(pdf)/2]), "application/pdf", http.StatusUnprocessableEntity, "bad_pdf"},
		{"empty", "", "application/pdf", http.StatusUnprocessableEntity, "bad_pdf"},
		{"too large", "%PDF-1.7\n" + strings.Repeat("x", 65<<10), "application/pdf", http.StatusRequestEntityTooLarge, "too_large"},
		{"already signed", string(signedElsewhere), "application/pdf", http.StatusUnprocessableEntity, "pdf_signed"},
		{"wrong type", string(pdf), "text/plain", http.StatusUnsupportedMediaType, "bad_request"},
		{"unknown template", `{"template":"will"}`, "application/json", http.StatusBadRequest, "bad_request"},
		{"unknown signer", `{"template":"contract","signers":["notary"]}`, "application/json", http.StatusBadRequest, "bad_request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.staff(adv, "POST", base+"?name=Vertrag.pdf", tc.body, "Content-Type", tc.ctype)
			if r.StatusCode != tc.status || (tc.code != "" && r.errCode(t) != tc.code) {
				t.Fatalf("%d %s; want %d %s", r.StatusCode, r.body, tc.status, tc.code)
			}
		})
	}
	if ds, _ := e.rec.Documents(context.Background(), id); len(ds) != 1 {
		t.Fatalf("%d documents recorded; want only the valid one", len(ds))
	}
}

func TestUnsignedDocumentsGoWhenTheConsultationEnds(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Ende")
	base := "/api/v1/consultations/" + id + "/documents"
	unsigned := docOf(t, e.staff(adv, "POST", base, map[string]any{"template": "contract"}))
	signedDoc := docOf(t, e.staff(adv, "POST", base, map[string]any{"template": "contract", "signers": []string{"advisor"}}))
	capture, _ := signature.ExampleCapture().Marshal()
	if r := e.staff(adv, "POST", base+"/"+signedDoc.ID+"/sign/advisor", string(capture), "Content-Type", "application/json"); r.StatusCode != http.StatusOK {
		t.Fatalf("sign: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	ctx := context.Background()
	if _, err := e.rec.DocumentByID(ctx, id, unsigned.ID); err == nil {
		t.Fatal("the unsigned document outlived the consultation")
	}
	d, err := e.rec.DocumentByID(ctx, id, signedDoc.ID)
	if err != nil {
		t.Fatalf("signed contract: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(e.cfg.DataDir, "documents", id))
	var pdfs []string
	for _, en := range entries {
		if !strings.HasSuffix(en.Name(), ".meta") && !strings.HasPrefix(en.Name(), ".") {
			pdfs = append(pdfs, en.Name())
		}
	}
	if len(pdfs) != 1 || pdfs[0] != d.CurrentBlob {
		t.Fatalf("files left %v; want only the signed revision %s", pdfs, d.CurrentBlob)
	}
}

// TestDocumentWithdrawAndFailedSigning: a signing that fails on the server
// (the stored PDF is damaged) is pushed to the call as
// document_sign_failed; only an advisor of the consultation withdraws a
// document, with CSRF; the withdrawal is audited, pushed, shown in the
// list, and the document can no longer be signed; a contract signed by
// everyone cannot be withdrawn.
func TestDocumentWithdrawAndFailedSigning(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	other, _ := e.loggedIn("otto", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Kredit")
	base := "/api/v1/consultations/" + id + "/documents"
	origin := []string{"Origin", e.ts.URL}
	cu := e.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	present := func() documentJSON {
		t.Helper()
		r := e.staff(adv, "POST", base, map[string]any{"template": "contract", "signers": []string{"customer"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("present: %d %s", r.StatusCode, r.body)
		}
		return docOf(t, r)
	}

	// A failed signing is pushed with its code; the document is unchanged.
	d := present()
	stored, err := e.rec.DocumentByID(context.Background(), id, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	blob := filepath.Join(e.cfg.DataDir, "documents", id, stored.CurrentBlob)
	if err := os.WriteFile(blob, bytes.Repeat([]byte("x"), int(stored.CurrentSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusInternalServerError {
		t.Fatalf("signing a damaged document: %d %s", r.StatusCode, r.body)
	}
	// Unknown documents are not pushed.
	if r := e.do(cu, "POST", base+"/d_nosuchdocument/sign/customer", string(capture), origin...); r.StatusCode != http.StatusNotFound {
		t.Fatalf("signing an unknown document: %d %s", r.StatusCode, r.body)
	}

	// Withdrawing: not by the customer, not without CSRF, not by another advisor.
	w := base + "/" + d.ID + "/withdraw"
	if r := e.do(cu, "POST", w, map[string]any{}, origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer withdraws: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(adv, "POST", w, map[string]any{}, origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("withdraw without CSRF: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(other, "POST", w, map[string]any{}); r.StatusCode != http.StatusForbidden && r.StatusCode != http.StatusNotFound {
		t.Fatalf("another advisor withdraws: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(adv, "POST", w, map[string]any{})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("withdraw: %d %s", r.StatusCode, r.body)
	}
	if got := docOf(t, r); got.State != "withdrawn" || got.WithdrawnAt == "" {
		t.Fatalf("withdrawn: %+v", got)
	}
	if r := e.staff(adv, "POST", w, nil); r.StatusCode != http.StatusOK || docOf(t, r).State != "withdrawn" {
		t.Fatalf("withdraw again: %d %s", r.StatusCode, r.body)
	}
	if got := docOf(t, e.do(cu, "GET", base+"/"+d.ID, nil)); got.State != "withdrawn" {
		t.Fatalf("customer reads %+v", got)
	}
	// Signing it now (the file repaired does not matter) is refused.
	if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusGone || r.errCode(t) != "withdrawn" {
		t.Fatalf("signing a withdrawn document: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cu, "POST", base+"/"+d.ID+"/progress", map[string]any{"page": 1, "pages": d.Pages, "activity": "signing"}, origin...); r.StatusCode != http.StatusGone {
		t.Fatalf("starting to sign a withdrawn document: %d %s", r.StatusCode, r.body)
	}
	trail, err := e.rec.AuditTrail(context.Background(), d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, ev := range trail {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, ","); got != "presented,field_bound,withdrawn" {
		t.Fatalf("audit kinds %s", got)
	}
	if err := records.VerifyAuditChain(trail); err != nil {
		t.Fatal(err)
	}

	// The back office's contract view says so too.
	if r := e.do(adv, "GET", "/api/v1/contracts/"+d.ID, nil); r.StatusCode != http.StatusOK || !strings.Contains(string(r.body), `"state":"withdrawn"`) {
		t.Fatalf("back office contract: %d %s", r.StatusCode, r.body)
	}

	// A contract signed by everyone cannot be withdrawn.
	s := present()
	if r := e.do(cu, "POST", base+"/"+s.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusOK {
		t.Fatalf("sign: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "POST", base+"/"+s.ID+"/withdraw", nil); r.StatusCode != http.StatusConflict || r.errCode(t) != "contract_signed" {
		t.Fatalf("withdraw a signed contract: %d %s", r.StatusCode, r.body)
	}
	want := "document:open document_sign_failed:internal document:withdrawn document:withdrawn document_sign_failed:withdrawn document:open document:signed"
	if got := strings.Join(e.notifiedTypes(), " "); got != want {
		t.Fatalf("pushed %s\nwant   %s", got, want)
	}
}
