package pdfjail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/hostilepdf"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// TestMain serves the worker when this test binary is started as one.
func TestMain(m *testing.M) {
	if IsWorker() {
		os.Exit(ServeWorker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func newRunner(t *testing.T, cfg Config) (*Runner, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	r, err := New(cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return r, logs
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// signedContract returns a contract signed by the customer, and the keys.
func signedContract(t *testing.T) ([]byte, *contracts.Keys) {
	t.Helper()
	dir := t.TempDir()
	ctx := t.Context()
	rec, err := records.Open(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	log := slog.New(slog.DiscardHandler)
	keys, err := contracts.LoadKeys(contracts.KeyFiles{DevDir: filepath.Join(dir, "keys")}, log)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := blobs.LoadKeyRing("", filepath.Join(dir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := blobs.Open(filepath.Join(dir, "documents"), ring)
	if err != nil {
		t.Fatal(err)
	}
	svc := contracts.New(rec, docs, keys, 20<<20, log)
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag", Date: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	d, err := svc.Present(ctx, contracts.Presentation{ConsultationID: "c_1", Name: "v.pdf", PDF: pdf,
		Signers: []string{records.SignerCustomer}, CreatedBy: 1, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	capture, _ := signature.ExampleCapture().Marshal()
	if d, err = svc.Sign(ctx, contracts.Signing{ConsultationID: "c_1", DocumentID: d.ID, Field: "customer", As: records.SignerCustomer,
		SignerName: "Eva Kundin", SignerRef: "participant:p_1", Capture: capture}); err != nil {
		t.Fatal(err)
	}
	_, rc, _, err := svc.Open(ctx, "c_1", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b, keys
}

// A valid document goes through intake and verification in a worker with
// the same result as in this process.
func TestValidIntakeAndVerifyInWorker(t *testing.T) {
	signed, keys := signedContract(t)
	r, _ := newRunner(t, Config{})
	info, err := r.Intake(t.Context(), signed, 0)
	if err != nil {
		t.Fatal(err)
	}
	want, err := signature.LoadPDF(signed, 0)
	if err != nil {
		t.Fatal(err)
	}
	if info.SHA256 != want.SHA256 || info.Pages != want.Pages || info.SigFields != 1 {
		t.Fatalf("intake in worker %+v, in process %+v", info, want)
	}

	inProc := contracts.NewVerifier(keys, 0, nil)
	isolated := contracts.NewVerifier(keys, 0, r)
	got, err := isolated.Verify(t.Context(), signed)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := inProc.Verify(t.Context(), signed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Verdict != contracts.ValidWithWarnings && got.Verdict != contracts.Valid {
		t.Fatalf("verdict %s: %+v", got.Verdict, got.Reasons)
	}
	gj, _ := json.Marshal(got)
	ej, _ := json.Marshal(exp)
	if !bytes.Equal(gj, ej) {
		t.Fatalf("worker verdict differs:\n%s\n%s", gj, ej)
	}

	// Errors of the work come back as the same sentinels.
	if _, err := r.Intake(t.Context(), []byte("%PDF-1.7\nnothing"), 0); !errors.Is(err, signature.ErrPDFMalformed) {
		t.Fatalf("malformed: %v", err)
	}
	if _, err := isolated.Verify(t.Context(), []byte("hello")); !errors.Is(err, contracts.ErrCannotCheck) {
		t.Fatalf("not a PDF: %v", err)
	}
	if n := Children(); len(n) != 0 {
		t.Fatalf("children left: %v", n)
	}
}

// Every hostile PDF is refused by intake and verification, in a worker.
func TestHostileCorpusInWorker(t *testing.T) {
	r, logs := newRunner(t, Config{Workers: 2, Timeout: 20 * time.Second, MemoryBytes: 512 << 20})
	v := &contracts.Verifier{Isolation: r, MaxPDFBytes: 80 << 20}
	for _, c := range hostilepdf.Corpus() {
		t.Run(c.Name, func(t *testing.T) {
			if _, err := r.Intake(t.Context(), c.PDF, 20<<20); !errors.Is(err, signature.ErrPDFMalformed) {
				t.Errorf("intake: %v", err)
			}
			if vd, err := v.Verify(t.Context(), c.PDF); !errors.Is(err, contracts.ErrCannotCheck) {
				t.Errorf("verify: %+v, %v", vd, err)
			}
		})
	}
	if strings.Contains(logs.String(), "PDF worker stopped") {
		t.Errorf("a worker died instead of refusing: %s", logs)
	}
	if n := Children(); len(n) != 0 {
		t.Fatalf("children left: %v", n)
	}
}

// A worker still running at the deadline is killed and nothing is left.
func TestRunawayWorkerKilled(t *testing.T) {
	slow := hostilepdf.Slow()
	// Slow() takes about a second of CPU here; 100 ms leaves a wide margin.
	r, logs := newRunner(t, Config{Timeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := r.Intake(t.Context(), slow, 20<<20)
	took := time.Since(start)
	if !errors.Is(err, contracts.ErrPDFUnsafe) || !strings.Contains(err.Error(), "took longer") {
		t.Fatalf("err %v", err)
	}
	// Killed at 100 ms; the work itself takes about a second of CPU.
	if took > 10*time.Second {
		t.Fatalf("took %v", took)
	}
	if n := Children(); len(n) != 0 {
		t.Fatalf("children left: %v", n)
	}
	if !strings.Contains(logs.String(), "PDF worker stopped") {
		t.Errorf("not logged: %s", logs)
	}
	// With time enough, the same document passes: the kill was the limit.
	r2, _ := newRunner(t, Config{Timeout: time.Minute})
	if _, err := r2.Intake(t.Context(), slow, 20<<20); err != nil {
		t.Fatalf("with a minute: %v", err)
	}
}

// A worker exceeding its memory limit dies alone.
func TestWorkerOutOfMemory(t *testing.T) {
	if raceMemoryFactor > 1 {
		t.Skip("under the race detector the worker's memory limit is raised")
	}
	r, logs := newRunner(t, Config{MemoryBytes: 64 << 20})
	big := append([]byte("%PDF-1.7\n"), make([]byte, 96<<20)...)
	_, err := r.Intake(t.Context(), big, 200<<20)
	if !errors.Is(err, contracts.ErrPDFUnsafe) || !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("err %v\n%s", err, logs)
	}
}

// At most Workers children run; Queue more wait QueueWait; the rest are
// told at once that the workers are busy.
func TestBusy(t *testing.T) {
	r, _ := newRunner(t, Config{Workers: 1, Queue: 1, QueueWait: 200 * time.Millisecond, Timeout: 3 * time.Second})
	slow := hostilepdf.Slow()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Intake(context.Background(), slow, 20<<20)
	}()
	waitFor(t, func() bool { return len(r.slots) == 1 })
	queued := make(chan error, 1)
	go func() {
		_, err := r.Intake(context.Background(), slow, 20<<20)
		queued <- err
	}()
	waitFor(t, func() bool { return len(r.queue) == 1 })
	if _, err := r.Intake(t.Context(), slow, 20<<20); !errors.Is(err, contracts.ErrPDFBusy) || !strings.Contains(err.Error(), "queue full") {
		t.Fatalf("third: %v", err)
	}
	if err := <-queued; !errors.Is(err, contracts.ErrPDFBusy) || !strings.Contains(err.Error(), "waited") {
		t.Fatalf("queued: %v", err)
	}
	<-done
	if n := Children(); len(n) != 0 {
		t.Fatalf("children left: %v", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached")
}
