package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// Environment of the `parley serve` helper process (TestHelperServe).
const (
	envServeDir  = "PARLEY_CRASH_SERVE_DIR"
	envServeAddr = "PARLEY_CRASH_SERVE_ADDR"
)

// TestHelperServe is not a test: TestSigningSurvivesSIGKILL starts this
// test binary with it as a real `parley serve` process, to kill it.
func TestHelperServe(t *testing.T) {
	dir := os.Getenv(envServeDir)
	if dir == "" {
		t.Skip("helper process of TestSigningSurvivesSIGKILL")
	}
	err := run(context.Background(), []string{"serve", "--http-addr", os.Getenv(envServeAddr), "--admin-addr", "off",
		"--rtc-udp-port", "0", "--data-dir", dir}, nil, strings.NewReader(""), io.Discard, os.Stderr)
	fmt.Fprintln(os.Stderr, "serve ended:", err)
	os.Exit(3)
}

// serveProc is a running `parley serve` child.
type serveProc struct {
	cmd  *exec.Cmd
	base string
	done chan struct{}
}

// startServe starts `parley serve` on dataDir and waits until it answers
// /readyz (the start-up sweeps have run by then).
func startServe(t *testing.T, dataDir string) *serveProc {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperServe$", "-test.count=1")
	cmd.Env = append(os.Environ(), envServeDir+"="+dataDir, envServeAddr+"="+addr)
	cmd.Stderr = &testLogWriter{t: t}
	// Its own process group: the kill takes its PDF workers along.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, base: "http://" + addr, done: make(chan struct{})}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(p.kill)
	probe := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("parley serve ended while starting: %v", cmd.ProcessState)
		case <-time.After(20 * time.Millisecond):
		}
		resp, err := probe.Get(p.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
	}
	t.Fatal("parley serve not ready after 60 s")
	return nil
}

// kill sends SIGKILL to the server's process group and waits for it.
func (p *serveProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// testLogWriter passes the child's log lines that matter to t.Log.
type testLogWriter struct{ t *testing.T }

func (w *testLogWriter) Write(b []byte) (int, error) {
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, "serve ended") ||
			strings.Contains(line, "no record names") {
			w.t.Log("serve: " + line)
		}
	}
	return len(b), nil
}

// TestSigningSurvivesSIGKILL: a real `parley serve` is killed with SIGKILL
// at random points of a signing over HTTP, 20 times, and restarted on the
// same data directory. After each restart the contract is either signed
// (its record names a whole file that `parley verify` finds valid) or
// still open as presented, and the document store holds no file that no
// record names (the start-up sweep removed what the crash left).
func TestSigningSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a server 20 times")
	}
	const rounds = 20
	dir := t.TempDir()
	if _, _, err := runCmd(t, "correct horse battery\n", "user", "add", "anna", "--role", "advisor", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	srv := startServe(t, dir)

	// One signing without a kill tells how long a signing takes here.
	span := func() time.Duration {
		h, cid, doc := presentContract(t, ctx, srv, "Kalibrierung")
		start := time.Now()
		if err := signAdvisor(ctx, h, cid, doc, capture); err != nil {
			t.Fatalf("signing without a crash: %v", err)
		}
		return time.Since(start)
	}()
	t.Logf("a signing takes %v here", span)

	outcomes := map[string]int{}
	for i := range rounds {
		h, cid, doc := presentContract(t, ctx, srv, "Vertrag "+strconv.Itoa(i))
		answered := make(chan error, 1)
		go func() { answered <- signAdvisor(ctx, h, cid, doc, capture) }()
		// Two kills in three at random delays, stratified over 1.2 × the
		// signing's duration, so they fall early, late and after the
		// answer; every third at the moment the document folder shows a
		// signed PDF stored but perhaps not recorded (the window a random
		// delay seldom hits).
		var when string
		if i%3 == 2 {
			when = killWhenStored(filepath.Join(dir, "documents", cid), answered)
		} else {
			delay := time.Duration((float64(i) + rand.Float64()) / rounds * 1.2 * float64(span))
			time.Sleep(delay)
			when = "after " + delay.Round(time.Millisecond).String()
		}
		srv.kill()
		var answerErr error
		select {
		case answerErr = <-answered:
		case <-time.After(30 * time.Second):
			t.Fatalf("round %d: no answer 30 s after the kill", i)
		}
		h.Close()

		srv = startServe(t, dir)
		state := checkContract(t, ctx, dir, cid, doc)
		if answerErr == nil && state != "signed" {
			t.Fatalf("round %d: the signing was answered 200 but after the restart the contract is %s", i, state)
		}
		outcomes[state]++
		// Ended, so that the advisor's cap on open consultations is never reached.
		if end, err := callclient.Staff(ctx, srv.base, "anna", "correct horse battery"); err != nil || end.End(ctx, cid) != nil {
			t.Fatalf("round %d: ending the consultation: %v", i, err)
		}
		t.Logf("round %d: killed %s, answered: %v, after restart: %s", i, when, answerErr == nil, state)
	}
	t.Logf("outcomes over %d kills: %v", rounds, outcomes)
}

// killWhenStored returns as soon as folder holds a second stored file
// (the signed revision next to the presented one), or the signing is
// answered (its error is put back), or after 10 s; it says which.
func killWhenStored(folder string, answered chan error) string {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-answered:
			answered <- err
			return "after the answer"
		default:
		}
		entries, _ := os.ReadDir(folder)
		stored := 0
		for _, e := range entries {
			if blobs.ValidFileID(e.Name()) {
				stored++
			}
		}
		if stored >= 2 {
			return "with the signed PDF stored"
		}
		time.Sleep(50 * time.Microsecond)
	}
	return "after 10 s"
}

// presentContract logs in as the advisor, creates a consultation and
// presents the built-in contract with one advisor's field.
func presentContract(t *testing.T, ctx context.Context, srv *serveProc, title string) (*callclient.HTTP, string, string) {
	t.Helper()
	h, err := callclient.Staff(ctx, srv.base, "anna", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	cid, _, err := h.CreateConsultation(ctx, title)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		ID string `json:"id"`
	}
	body := map[string]any{"template": "contract", "title": title, "signers": []string{"advisor"}}
	if err := h.Do(ctx, http.MethodPost, "/api/v1/consultations/"+cid+"/documents", body, http.StatusCreated, &d); err != nil {
		t.Fatalf("present: %v", err)
	}
	return h, cid, d.ID
}

func signAdvisor(ctx context.Context, h *callclient.HTTP, cid, doc string, capture []byte) error {
	return h.Do(ctx, http.MethodPost, "/api/v1/consultations/"+cid+"/documents/"+doc+"/sign/advisor",
		json.RawMessage(capture), http.StatusOK, nil)
}

// checkContract checks the invariant on the data directory of a freshly
// started server and returns the document's state, "open" or "signed".
func checkContract(t *testing.T, ctx context.Context, dataDir, cid, docID string) string {
	t.Helper()
	rec, err := records.Open(ctx, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	d, err := rec.DocumentByID(ctx, cid, docID)
	if err != nil {
		t.Fatalf("the presented document's record is gone: %v", err)
	}
	ring, err := blobs.LoadKeyRing("", filepath.Join(dataDir, "keys"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	docs, err := blobs.Open(filepath.Join(dataDir, "documents"), ring)
	if err != nil {
		t.Fatal(err)
	}
	// The record names a whole file: it decrypts and authenticates to the
	// end, and its digest is the recorded one.
	f, _, err := docs.Open(cid, d.CurrentBlob)
	if err != nil {
		t.Fatalf("revision %d: the record names a file that cannot be opened: %v", d.Revision, err)
	}
	pdf, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatalf("revision %d: the record names a damaged file: %v", d.Revision, err)
	}
	if sum := sha256.Sum256(pdf); hex.EncodeToString(sum[:]) != d.CurrentSHA256 || int64(len(pdf)) != d.CurrentSize {
		t.Fatalf("revision %d: the file is not the one recorded", d.Revision)
	}
	state := "open"
	switch {
	case d.Revision == 0 && d.CurrentSHA256 == d.SHA256:
		f, ok := d.Field(records.SignerAdvisor)
		if !ok || f.Signed() {
			t.Fatalf("revision 0 with the field signed: %+v", d)
		}
	case d.Revision == 1:
		state = "signed"
		if f, ok := d.Field(records.SignerAdvisor); !ok || !f.Signed() {
			t.Fatalf("revision 1 without the signature recorded: %+v", d)
		}
		path := filepath.Join(t.TempDir(), "signed.pdf")
		if err := os.WriteFile(path, pdf, 0o600); err != nil {
			t.Fatal(err)
		}
		out, _, err := runCmd(t, "", "verify", "--data-dir", dataDir, path)
		if exitCode(err) != 0 {
			t.Fatalf("the signed contract does not verify (exit %d): %s", exitCode(err), out)
		}
	default:
		t.Fatalf("unexpected document after a crash: revision %d", d.Revision)
	}
	// No file that no record names: the start-up sweep removed what the
	// crash left (temporary files are removed once stale, blobs.StaleTempAge).
	fids, err := docs.Files(cid)
	if err != nil {
		t.Fatal(err)
	}
	if len(fids) != 1 || fids[0] != d.CurrentBlob {
		t.Fatalf("%s contract: the consultation's document folder holds %d files, want only the recorded one", state, len(fids))
	}
	return state
}
