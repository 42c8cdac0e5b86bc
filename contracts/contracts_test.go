package contracts

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

type fixture struct {
	svc    *Service
	rec    *records.Store
	keys   *Keys
	escrow *signature.EscrowPrivateKey
	dir    string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	rec, err := records.Open(t.Context(), filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	keys, err := LoadKeys(KeyFiles{DevDir: filepath.Join(dir, "keys")}, log)
	if err != nil {
		t.Fatal(err)
	}
	if !keys.DevSeal || !keys.DevEscrow {
		t.Fatal("development keys not reported as such")
	}
	ring, err := blobs.LoadKeyRing("", filepath.Join(dir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := blobs.Open(filepath.Join(dir, "documents"), ring)
	if err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(dir, "keys", DevEscrowPrivateFile))
	if err != nil {
		t.Fatal(err)
	}
	escrow, err := signature.ParseEscrowPrivateKey(pem)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{svc: New(rec, docs, keys, 20<<20, log), rec: rec, keys: keys, escrow: escrow, dir: dir}
}

// signed presents a template contract in consultation cid and signs it as
// the customer; it returns the signed PDF.
func (f *fixture) signed(t testing.TB, cid, title string) []byte {
	t.Helper()
	ctx := context.Background()
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: title, Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: cid, Name: title + ".pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	capture, _ := signature.ExampleCapture().Marshal()
	d, err = f.svc.Sign(ctx, Signing{ConsultationID: cid, DocumentID: d.ID, Field: "customer", As: records.SignerCustomer,
		SignerName: "Eva Kundin", SignerRef: "participant:p_1", Capture: capture})
	if err != nil {
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
	return b
}

func TestEnvelopeOpensOnlyWithEscrowKeyAndOnlyInItsDocument(t *testing.T) {
	f := newFixture(t)
	a := f.signed(t, "c_a", "Vertrag A")
	b := f.signed(t, "c_b", "Vertrag B")

	opened, err := OpenEnvelopes(a, f.escrow)
	if err != nil || len(opened) != 1 {
		t.Fatalf("own document: %d, %v", len(opened), err)
	}
	r := opened[0].Record
	if r.Field != "customer" || r.SignerName != "Eva Kundin" || r.ConsultationID != "c_a" || !opened[0].BoundHere {
		t.Fatalf("record %+v", r)
	}
	if r.Features.StrokeCount != len(signature.ExampleCapture().Strokes) {
		t.Fatalf("features %+v", r.Features)
	}

	// Another escrow key cannot open it.
	otherPriv, _, err := signature.GenerateEscrowKey("p256")
	if err != nil {
		t.Fatal(err)
	}
	other, _ := signature.ParseEscrowPrivateKey(otherPriv)
	if _, err := OpenEnvelopes(a, other); !errors.Is(err, signature.ErrEnvelopeWrongKey) {
		t.Fatalf("other key: %v, want ErrEnvelopeWrongKey", err)
	}

	// A's envelope moved into B (appended as an attachment): not bound.
	found, err := FindEnvelopes(a)
	if err != nil || len(found) != 1 {
		t.Fatalf("FindEnvelopes: %v", err)
	}
	atts, _ := signature.Attachments(a)
	var envData, trail []byte
	for _, at := range atts {
		switch at.Name {
		case EnvelopeName("customer"):
			envData = at.Data
		case AuditName("customer"):
			trail = at.Data
		}
	}
	if !strings.Contains(string(trail), `"kind":"presented"`) {
		t.Fatalf("the signed PDF carries no audit trail: %.200s", trail)
	}
	moved, err := signature.AppendAttachment(b, signature.Attachment{Name: EnvelopeName("advisor"), MIME: "application/json", Data: envData, ModTime: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	openedMoved, err := OpenEnvelopes(moved, f.escrow)
	if !errors.Is(err, signature.ErrEnvelopeNotBound) {
		t.Fatalf("moved envelope: %v, want ErrEnvelopeNotBound", err)
	}
	if len(openedMoved) != 1 || openedMoved[0].Record.ConsultationID != "c_b" {
		t.Fatalf("B's own envelope should still open: %+v", openedMoved)
	}

	// The document as presented changed (one byte in the prefix): not bound.
	changed := append([]byte(nil), a...)
	n := found[0].Envelope.Binding.DocumentLength
	changed[n/2] ^= 0x01
	if _, err := OpenEnvelopes(changed, f.escrow); !errors.Is(err, signature.ErrEnvelopeNotBound) {
		t.Fatalf("changed document: %v, want ErrEnvelopeNotBound", err)
	}
}

func TestSignRejectsImplausibleCaptureAndKeepsTheDocument(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pdf, _ := signature.ContractPDF(signature.ContractTemplate{Title: "X"})
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: "c_x", PDF: pdf, Signers: []string{"customer"}, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	bad := []byte(`{"v":1,"started_at":"2026-12-02T10:00:00.000Z","canvas":{"w":600,"h":200,"dpr":1},"pointer":"mouse","strokes":[{"t0":0,"points":[[10,10,0,0.5,0,0],[900,10,5,0.5,0,0]]}]}`)
	_, err = f.svc.Sign(ctx, Signing{ConsultationID: "c_x", DocumentID: d.ID, Field: "customer", As: "customer", Capture: bad})
	if !errors.Is(err, signature.ErrImplausible) {
		t.Fatalf("Sign: %v, want ErrImplausible", err)
	}
	if _, err := f.svc.Sign(ctx, Signing{ConsultationID: "c_x", DocumentID: d.ID, Field: "customer", As: "advisor", Capture: bad}); !errors.Is(err, ErrNotYourField) {
		t.Fatalf("wrong signer: %v", err)
	}
	after, err := f.rec.DocumentByID(ctx, "c_x", d.ID)
	if err != nil || after.Revision != 0 || after.CurrentBlob != d.CurrentBlob {
		t.Fatalf("document changed by a refused signing: %+v, %v", after, err)
	}
}

func TestSweepRemovesUnsignedDocumentsOfEndedConsultations(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pdf, _ := signature.ContractPDF(signature.ContractTemplate{Title: "S"})
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: "c_gone", PDF: pdf, Signers: []string{"customer"}, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	// c_gone has no consultation record any more (or it ended): swept.
	if n, err := f.svc.SweepUnsigned(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("SweepUnsigned = %d, %v; want 1", n, err)
	}
	if _, err := f.rec.DocumentByID(ctx, "c_gone", d.ID); err == nil {
		t.Fatal("unsigned document of an ended consultation survived the sweep")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "documents", "c_gone", d.CurrentBlob)); !os.IsNotExist(err) {
		t.Fatalf("its file: %v", err)
	}
}
