package node

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// fakeClock is the time every node of a test reads.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// TestRetentionAcrossRestarts: every data category is deleted exactly when
// its configured period is over — still there a millisecond before, gone
// at the moment — and a node that was down at that moment deletes it at
// start-up (the start-up sweep), so nothing overdue is forgotten.
func TestRetentionAcrossRestarts(t *testing.T) {
	cfg := testConfig(t)
	r := &cfg.Retention
	r.PreJoin = config.Period(1 * config.Day)
	r.Files = config.Period(2 * config.Day)
	r.Feedback = config.Period(3 * config.Day)
	r.Consultations = config.Period(5 * config.Day)
	r.AccessLogs = config.Period(7 * config.Day)
	r.ConsentRecords = config.Period(15 * config.Day)
	r.Contracts = config.Period(20 * config.Day)
	cfg.Consultation.MaxDuration = 100 * 24 * time.Hour // nothing ends by age here

	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	clock := &fakeClock{t: t0}
	ctx := context.Background()
	open := func() *Node {
		n, err := New(ctx, cfg, slog.New(slog.DiscardHandler), WithClock(clock.now))
		if err != nil {
			t.Fatalf("start node: %v", err)
		}
		return n
	}

	// Day 0: two consultations, a customer in each, their data, one signed
	// contract in the first; both end at t0.
	n := open()
	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	var cids [2]string
	for i := range cids {
		con, _, err := n.Records.CreateConsultation(ctx, adv.ID, "Beratung", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		cids[i] = con.ID
		pid := "p_customer" + string(rune('a'+i))
		if err := n.Records.AddCustomer(ctx, records.Customer{ConsultationID: con.ID, ParticipantID: pid, Name: "Erika Mustermann", JoinedAt: t0},
			map[string]string{"email": "erika@example.org"}); err != nil {
			t.Fatal(err)
		}
		if err := n.Records.RecordConsent(ctx, con.ID, pid, "v1", "de", t0); err != nil {
			t.Fatal(err)
		}
		if err := n.Records.AddFeedback(ctx, con.ID, pid, map[string]string{"rating": "5"}); err != nil {
			t.Fatal(err)
		}
		if _, err := n.files.Put(ctx, con.ID, "0123456789abcdef0123456789abcdef", "participant:"+pid, bytes.NewReader([]byte("ciphertext"))); err != nil {
			t.Fatal(err)
		}
	}
	pdf, err := signature.ContractPDF(signature.ContractTemplate{Title: "Vertrag"})
	if err != nil {
		t.Fatal(err)
	}
	doc, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: cids[0], Name: "vertrag.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Records.RecordSignature(ctx, doc.ID, records.Signing{Field: "customer", Blob: doc.CurrentBlob, Size: doc.Size,
		SHA256: doc.SHA256, SignerName: "Erika Mustermann", SignerRef: "participant:p_customera", Actor: "participant:p_customera", At: t0}); err != nil {
		t.Fatal(err)
	}
	unsigned, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: cids[1], Name: "angebot.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Records.WriteAccessLog(ctx, []records.AccessEntry{{At: t0, Method: "GET", Route: "/privacy", Status: 200, Client: "192.0.2.0", Browser: "Chrome 131", OS: "Linux"}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range cids {
		if _, err := n.Records.EndConsultation(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	filesDir := filepath.Join(cfg.DataDir, "files")
	docFile := filepath.Join(cfg.DataDir, "documents", cids[0], doc.CurrentBlob)
	count := func(n *Node, q string, args ...any) int {
		t.Helper()
		var c int
		if err := n.Records.DB().QueryRowContext(ctx, q, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	steps := []struct {
		name  string
		after time.Duration
		kept  func(n *Node) bool // true while the category's data is there
	}{
		{"pre-join data", 1 * config.Day, func(n *Node) bool {
			return count(n, "SELECT COUNT(*) FROM customers") == 2 && count(n, "SELECT COUNT(*) FROM answers WHERE phase = 'before'") == 2
		}},
		{"files and unsigned documents", 2 * config.Day, func(n *Node) bool {
			f := exists(filepath.Join(filesDir, cids[0])) && exists(filepath.Join(filesDir, cids[1]))
			_, err := n.Records.DocumentByID(ctx, cids[1], unsigned.ID)
			return f && err == nil
		}},
		{"feedback", 3 * config.Day, func(n *Node) bool {
			return count(n, "SELECT COUNT(*) FROM answers WHERE phase = 'after'") == 2
		}},
		{"consultation record without contract", 5 * config.Day, func(n *Node) bool {
			_, err := n.Records.ConsultationByID(ctx, cids[1])
			return err == nil
		}},
		{"access log", 7 * config.Day, func(n *Node) bool { return count(n, "SELECT COUNT(*) FROM access_log") == 1 }},
		{"consent records", 15 * config.Day, func(n *Node) bool { return count(n, "SELECT COUNT(*) FROM consents") == 2 }},
		{"signed contract, its trail and its consultation record", 20 * config.Day, func(n *Node) bool {
			_, err := n.Records.DocumentByID(ctx, cids[0], doc.ID)
			_, cerr := n.Records.ConsultationByID(ctx, cids[0])
			return err == nil && exists(docFile) && count(n, "SELECT COUNT(*) FROM audit_events WHERE document_id = ?", doc.ID) > 0 && cerr == nil
		}},
	}
	for i, st := range steps {
		// A millisecond before: a periodic sweep keeps it.
		clock.set(t0.Add(st.after - time.Millisecond))
		if _, err := n.Retention.Sweep(ctx); err != nil {
			t.Fatalf("%s: sweep: %v", st.name, err)
		}
		if !st.kept(n) {
			t.Fatalf("%s: gone before its period ended", st.name)
		}
		for _, later := range steps[i+1:] {
			if !later.kept(n) {
				t.Fatalf("%s: gone before its period ended (at %s)", later.name, st.name)
			}
		}
		// The node is down when the period ends; the next start deletes it.
		if err := n.Close(ctx); err != nil {
			t.Fatal(err)
		}
		clock.set(t0.Add(st.after))
		n = open()
		if st.kept(n) {
			t.Fatalf("%s: still there after its period, after a restart", st.name)
		}
	}
	// The sweeps counted what they deleted, by category.
	runs, err := n.Records.RetentionRuns(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range runs {
		got[r.Category] += r.Deleted
	}
	for cat, want := range map[string]int{"customers": 2, "pre_join_answers": 2, "file_folders": 2, "unsigned_documents": 1,
		"feedback_answers": 2, "consultations": 2, "consent_records": 2, "signed_contracts": 1} {
		if got[cat] != want {
			t.Errorf("retention runs: %s = %d, want %d (all: %v)", cat, got[cat], want, got)
		}
	}
	// The access log entry went at day 7; the sweep log of that is kept
	// for as long as access logs, so it is there.
	if got["access_log_entries"] != 1 {
		t.Errorf("access log entries deleted: %d", got["access_log_entries"])
	}
	if err := n.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
