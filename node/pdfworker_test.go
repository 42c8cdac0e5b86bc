package node

import (
	"errors"
	"testing"
	"time"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/hostilepdf"
	"github.com/parley-video/parley/pdfjail/pdfjailtest"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// TestMain serves a PDF worker when this test binary is started as one:
// the code under test parses untrusted PDFs in children of its own
// executable.
func TestMain(m *testing.M) { pdfjailtest.Main(m) }

// The node parses uploads in PDF workers: a hostile file is refused, and a
// file whose parse runs past signature.pdf_worker_timeout is cut off there
// (in this process it would pass after seconds of CPU).
func TestNodeParsesPDFsInWorkers(t *testing.T) {
	cfg := testConfig(t)
	// Slow() takes about a second of CPU here; 100 ms leaves a wide margin.
	cfg.Signature.PDFWorkerTimeout = 100 * time.Millisecond
	n := startNode(t, cfg)
	present := func(pdf []byte) error {
		_, err := n.Contracts.Present(t.Context(), contracts.Presentation{ConsultationID: "c_1", Name: "x.pdf", PDF: pdf,
			Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
		return err
	}
	for _, c := range hostilepdf.Corpus()[:3] {
		// Malformed, or cut off by the short timeout on a loaded machine:
		// refused either way.
		if err := present(c.PDF); !errors.Is(err, signature.ErrPDFMalformed) && !errors.Is(err, contracts.ErrPDFUnsafe) {
			t.Errorf("%s: %v", c.Name, err)
		}
	}
	if err := present(hostilepdf.Slow()); !errors.Is(err, contracts.ErrPDFUnsafe) {
		t.Fatalf("slow PDF: %v", err)
	}
}
