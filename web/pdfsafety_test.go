package web

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/hostilepdf"
	"github.com/parley-video/parley/pdfjail"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// Memory bounds of the server process while the hostile corpus goes
// through it (README, "Security"): the Go heap after the run stays within
// 64 MiB of the heap before it, resident memory within 256 MiB.
const (
	hostileHeapSlack = 64 << 20
	hostileRSSSlack  = 256 << 20
)

// The hostile-PDF corpus, sent to a running server as document uploads and
// to POST /api/v1/verify: each is answered with a 4xx within the worker's
// time budget, the server stays up and serves normal requests afterwards,
// its memory stays bounded, and no worker process or goroutine is left.
func TestHostilePDFsThroughServer(t *testing.T) {
	const timeout = 20 * time.Second
	e := newEnv(t, func(c *config.Config) { c.Signature.PDFWorkerTimeout = timeout })
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	back, _ := e.loggedIn("bea", records.RoleBackoffice)
	id, _ := e.createConsultation(adv, "Hostile")
	upload := "/api/v1/consultations/" + id + "/documents?signers=customer"
	corpus := hostilepdf.Corpus()

	baseGoroutines := runtime.NumGoroutine()
	heap0, rss0 := memNow(t)
	for _, c := range corpus {
		for _, path := range []string{upload, "/api/v1/verify"} {
			client := adv
			if path == "/api/v1/verify" {
				client = back
			}
			start := time.Now()
			r := e.staff(client, "POST", path, string(c.PDF), "Content-Type", "application/pdf")
			took := time.Since(start)
			code := r.errCode(t)
			if r.StatusCode != http.StatusUnprocessableEntity && r.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("%s %s: %d %s", c.Name, path, r.StatusCode, r.body)
			}
			if code != "bad_pdf" && code != "unverifiable" && code != "pdf_too_complex" && code != "too_large" {
				t.Errorf("%s %s: code %q", c.Name, path, code)
			}
			if took > timeout+5*time.Second {
				t.Errorf("%s %s: took %v", c.Name, path, took)
			}
		}
	}
	heap1, rss1 := memNow(t)
	t.Logf("heap %d → %d MiB, RSS %d → %d MiB", heap0>>20, heap1>>20, rss0>>20, rss1>>20)
	if heap1 > heap0+hostileHeapSlack {
		t.Errorf("heap grew from %d to %d MiB", heap0>>20, heap1>>20)
	}
	if rss1 > rss0+hostileRSSSlack {
		t.Errorf("RSS grew from %d to %d MiB", rss0>>20, rss1>>20)
	}
	if strings.Contains(e.logs.String(), "PDF worker stopped") {
		t.Errorf("a worker died instead of refusing (the bounds before parsing missed a case)")
	}

	// Still serving: a normal upload and a verification through a worker.
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Normal"})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.staff(adv, "POST", upload, string(pdf), "Content-Type", "application/pdf"); r.StatusCode != http.StatusCreated {
		t.Fatalf("normal upload: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(back, "POST", "/api/v1/verify", string(pdf), "Content-Type", "application/pdf")
	var v contracts.Verdict
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &v) != nil || v.Verdict != contracts.Invalid || v.Reasons[0].Code != "no_signature" {
		t.Fatalf("normal verify: %d %s", r.StatusCode, r.body)
	}

	// Nothing keeps running: no worker process, goroutines back to the
	// baseline (idle keep-alive connections closed first).
	if n := pdfjail.Children(); len(n) != 0 {
		t.Errorf("worker processes left: %v", n)
	}
	for _, c := range []*http.Client{adv, back} {
		c.CloseIdleConnections()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > baseGoroutines && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > baseGoroutines {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before:\n%s", n, baseGoroutines, buf[:runtime.Stack(buf, true)])
	}
}

// A runaway worker is killed at the deadline: the request gets 422
// pdf_too_complex, and the server answers the next one.
func TestRunawayPDFKilledThroughServer(t *testing.T) {
	// Slow() takes about a second of CPU here; 100 ms leaves a wide margin.
	e := newEnv(t, func(c *config.Config) { c.Signature.PDFWorkerTimeout = 100 * time.Millisecond })
	withSigner(t, e)
	back, _ := e.loggedIn("bea", records.RoleBackoffice)
	start := time.Now()
	r := e.staff(back, "POST", "/api/v1/verify", string(hostilepdf.Slow()), "Content-Type", "application/pdf")
	if r.StatusCode != http.StatusUnprocessableEntity || r.errCode(t) != "pdf_too_complex" {
		t.Fatalf("slow PDF: %d %s", r.StatusCode, r.body)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("took %v with a 100 ms worker timeout", took)
	}
	if n := pdfjail.Children(); len(n) != 0 {
		t.Fatalf("worker processes left: %v", n)
	}
	if r := e.do(back, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("next request: %d", r.StatusCode)
	}
}

// memNow returns the Go heap in use after a collection and the process's
// resident set size.
func memNow(t *testing.T) (heap, rss uint64) {
	t.Helper()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseUint(f[1], 10, 64)
			rss = kb << 10
		}
	}
	return m.HeapAlloc, rss
}

// Every PDF worker busy and the wait over: 503 busy with Retry-After.
func TestPDFWorkersBusyThroughServer(t *testing.T) {
	e := newEnv(t)
	keys := withSigner(t, e)
	workers, err := pdfjail.New(pdfjail.Config{Workers: 1, Queue: 1, QueueWait: 100 * time.Millisecond, Timeout: 30 * time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	e.srv.verifier = contracts.NewVerifier(keys, 0, workers)
	back, _ := e.loggedIn("bea", records.RoleBackoffice)
	slow := string(hostilepdf.Slow())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.staff(back, "POST", "/api/v1/verify", slow, "Content-Type", "application/pdf")
	}()
	for deadline := time.Now().Add(10 * time.Second); len(pdfjail.Children()) == 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first verification never started a worker")
		}
	}
	r := e.staff(back, "POST", "/api/v1/verify", slow, "Content-Type", "application/pdf")
	if r.StatusCode != http.StatusServiceUnavailable || r.errCode(t) != "busy" || r.Header.Get("Retry-After") != "5" {
		t.Fatalf("second verification: %d %v %s", r.StatusCode, r.Header, r.body)
	}
	<-done
}
