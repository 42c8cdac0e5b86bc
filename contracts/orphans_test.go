package contracts

import (
	"bytes"
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parley-video/parley/signature"
)

// TestSweepOrphansRemovesOnlyUnrecordedOldFiles: what a crash leaves
// between storing a document file and recording it (or between recording
// a new revision and deleting the old one) is removed once it is older
// than the given age; the recorded revisions and younger files stay.
func TestSweepOrphansRemovesOnlyUnrecordedOldFiles(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	pdf, _ := signature.ContractPDF(signature.ContractTemplate{Title: "O"})
	d, err := f.svc.Present(ctx, Presentation{ConsultationID: "c_o", PDF: pdf, Signers: []string{"customer"}, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	signedPDF := f.signed(t, "c_o", "Signed")
	orphan := newBlobID() // a signed revision stored, then the crash
	if _, err := f.svc.files.Put(ctx, "c_o", orphan, "participant:p", bytes.NewReader(signedPDF)); err != nil {
		t.Fatal(err)
	}
	before, _ := f.svc.files.Files("c_o")
	if len(before) != 3 {
		t.Fatalf("%d files before the sweep; want 3", len(before))
	}
	// Young: may be a signing in flight.
	if n, err := f.svc.SweepOrphans(ctx, time.Hour, time.Now()); err != nil || n != 0 {
		t.Fatalf("SweepOrphans(1h) = %d, %v; want 0", n, err)
	}
	if n, err := f.svc.SweepOrphans(ctx, time.Minute, time.Now().Add(2*time.Minute)); err != nil || n != 1 {
		t.Fatalf("SweepOrphans(1m, 2m later) = %d, %v; want 1", n, err)
	}
	after, _ := f.svc.files.Files("c_o")
	if len(after) != 2 || slices.Contains(after, orphan) || !slices.Contains(after, d.CurrentBlob) {
		t.Fatalf("after the sweep: %v; want the two recorded files only", after)
	}
	ds, _ := f.rec.Documents(ctx, "c_o")
	for _, d := range ds {
		_, rc, _, err := f.svc.Open(ctx, "c_o", d.ID)
		if err != nil {
			t.Fatalf("recorded document %s lost its file: %v", d.ID, err)
		}
		rc.Close()
	}
}
