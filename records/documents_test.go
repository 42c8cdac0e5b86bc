package records

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func newTestDocument(t *testing.T, s *Store, cid string, fields ...Field) Document {
	t.Helper()
	d, err := s.CreateDocument(context.Background(), NewDocument{
		ConsultationID: cid, Name: "Vertrag.pdf", Pages: 2, Size: 1000, SHA256: "aa", Blob: "b0",
		CreatedBy: 1, Fields: fields, Actor: "staff:1",
	})
	if err != nil {
		t.Fatalf("CreateDocument: %v", err)
	}
	return d
}

func TestDocumentSigningLifecycle(t *testing.T) { forEachBackend(t, testDocumentSigningLifecycle) }

func testDocumentSigningLifecycle(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	d := newTestDocument(t, s, "c_1", Field{Name: "customer", Signer: SignerCustomer}, Field{Name: "advisor", Signer: SignerAdvisor})
	if d.State != DocOpen || len(d.Fields) != 2 || d.Fields[0].Name != "customer" || d.Fields[0].Signed() {
		t.Fatalf("created %+v", d)
	}
	if _, err := s.DocumentByID(ctx, "c_other", d.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("other consultation: %v, want ErrNotFound", err)
	}
	sign := func(field string, from int) (Document, error) {
		return s.RecordSignature(ctx, d.ID, Signing{Field: field, FromRevision: from, Blob: "b" + field, Size: 2000,
			SHA256: "sha-" + field, SignerName: "Eva", SignerRef: "participant:p_1", Actor: "participant:p_1", At: *now})
	}
	d1, err := sign("customer", 0)
	if err != nil || d1.Revision != 1 || d1.State != DocOpen || d1.CurrentBlob != "bcustomer" || !d1.Fields[0].Signed() {
		t.Fatalf("first signature: %+v, %v", d1, err)
	}
	if _, err := sign("customer", 1); !errors.Is(err, ErrConflict) {
		t.Fatalf("signing twice: %v, want ErrConflict", err)
	}
	if _, err := sign("advisor", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("signing a stale revision: %v, want ErrConflict", err)
	}
	*now = now.Add(time.Minute)
	d2, err := sign("advisor", 1)
	if err != nil || d2.State != DocSigned || d2.SignedAt.IsZero() || d2.Revision != 2 {
		t.Fatalf("second signature: %+v, %v", d2, err)
	}
	es, err := s.AuditTrail(ctx, d.ID)
	if err != nil || len(es) != 3 || es[0].Kind != "presented" || es[2].Kind != "signed" {
		t.Fatalf("trail %+v, %v", es, err)
	}
	if err := VerifyAuditChain(es); err != nil {
		t.Fatalf("intact chain: %v", err)
	}
}

func TestAuditChainDetectsTampering(t *testing.T) { forEachBackend(t, testAuditChainDetectsTampering) }

func testAuditChainDetectsTampering(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	d := newTestDocument(t, s, "c_1", Field{Name: "customer", Signer: SignerCustomer})
	for _, k := range []string{"viewed", "downloaded", "viewed"} {
		if err := s.AppendAudit(ctx, d.ID, k, "staff:1", map[string]any{"n": k}); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.AuditTrail(ctx, d.ID)
	if err != nil || len(es) != 4 {
		t.Fatalf("trail: %d, %v", len(es), err)
	}
	tamper := map[string]func([]AuditEvent) []AuditEvent{
		"deleted event": func(es []AuditEvent) []AuditEvent { return append(es[:1:1], es[2:]...) },
		"altered detail": func(es []AuditEvent) []AuditEvent {
			es[1].Detail = json.RawMessage(`{"n":"nothing to see"}`)
			return es
		},
		"altered time":  func(es []AuditEvent) []AuditEvent { es[2].At = es[2].At.Add(time.Hour); return es },
		"altered actor": func(es []AuditEvent) []AuditEvent { es[0].Actor = "staff:2"; return es },
		"swapped":       func(es []AuditEvent) []AuditEvent { es[1], es[2] = es[2], es[1]; return es },
		"rehashed alteration": func(es []AuditEvent) []AuditEvent {
			es[1].Kind = "signed"
			es[1].Hash = auditHash(es[1]) // the next event still points at the old hash
			return es
		},
	}
	for name, f := range tamper {
		t.Run(name, func(t *testing.T) {
			cp := append([]AuditEvent(nil), es...)
			if err := VerifyAuditChain(f(cp)); !errors.Is(err, ErrAuditBroken) {
				t.Fatalf("VerifyAuditChain = %v, want ErrAuditBroken", err)
			}
		})
	}
}

func TestDeleteUnsignedDocumentsKeepsSignedOnes(t *testing.T) {
	forEachBackend(t, testDeleteUnsignedDocumentsKeepsSignedOnes)
}

func testDeleteUnsignedDocumentsKeepsSignedOnes(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	unsigned := newTestDocument(t, s, "c_1", Field{Name: "customer", Signer: SignerCustomer})
	signed := newTestDocument(t, s, "c_1", Field{Name: "customer", Signer: SignerCustomer})
	if _, err := s.RecordSignature(ctx, signed.ID, Signing{Field: "customer", Blob: "b1", SHA256: "x", At: *now}); err != nil {
		t.Fatal(err)
	}
	gone, err := s.DeleteUnsignedDocuments(ctx, "c_1")
	if err != nil || len(gone) != 1 || gone[0].ID != unsigned.ID {
		t.Fatalf("deleted %+v, %v", gone, err)
	}
	if _, err := s.DocumentByID(ctx, "c_1", unsigned.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unsigned document still there: %v", err)
	}
	if es, _ := s.AuditTrail(ctx, unsigned.ID); len(es) != 0 {
		t.Fatalf("audit trail of a deleted document kept: %d events", len(es))
	}
	if _, err := s.DocumentByID(ctx, "c_1", signed.ID); err != nil {
		t.Fatalf("signed document: %v", err)
	}
}

func TestCreateDocumentValidates(t *testing.T) { forEachBackend(t, testCreateDocumentValidates) }

func testCreateDocumentValidates(t *testing.T, be backend) {
	s, _ := be.store(t)
	for name, fs := range map[string][]Field{
		"none":      nil,
		"bad role":  {{Name: "x", Signer: "notary"}},
		"duplicate": {{Name: "a", Signer: SignerCustomer}, {Name: "a", Signer: SignerAdvisor}},
	} {
		if _, err := s.CreateDocument(context.Background(), NewDocument{ConsultationID: "c", Blob: "b", Fields: fs}); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
}

func TestContractsSearch(t *testing.T) { forEachBackend(t, testContractsSearch) }

func testContractsSearch(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	anna := mustUser(t, s, "anna", RoleAdvisor)
	ben := mustUser(t, s, "ben", RoleAdvisor)
	mk := func(by int64, name, signer string) Document {
		d, err := s.CreateDocument(ctx, NewDocument{ConsultationID: "c_" + name, Name: name, Pages: 1, Size: 1, SHA256: "x", Blob: "b",
			CreatedBy: by, Fields: []Field{{Name: "customer", Signer: SignerCustomer}}})
		if err != nil {
			t.Fatal(err)
		}
		if signer != "" {
			if d, err = s.RecordSignature(ctx, d.ID, Signing{Field: "customer", Blob: "b2", SHA256: "y", SignerName: signer, At: *now}); err != nil {
				t.Fatal(err)
			}
		}
		*now = now.Add(time.Hour)
		return d
	}
	mk(anna.ID, "Kredit.pdf", "Eva Müller")
	konto := mk(anna.ID, "Konto.pdf", "")
	mk(ben.ID, "Versicherung.pdf", "Max 100%")
	// Konto.pdf is marked by an audit event (contracts' "withdrawn").
	if err := s.AppendAudit(ctx, konto.ID, "withdrawn", "staff:1", map[string]any{"revision": 0}); err != nil {
		t.Fatal(err)
	}
	names := func(f ContractFilter) string {
		cs, err := s.Contracts(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		f    ContractFilter
		want string
	}{
		{ContractFilter{}, "Versicherung.pdf,Konto.pdf,Kredit.pdf"},
		{ContractFilter{AdvisorID: anna.ID}, "Konto.pdf,Kredit.pdf"},
		{ContractFilter{Query: "müller"}, "Kredit.pdf"},
		{ContractFilter{Query: "100%"}, "Versicherung.pdf"},
		{ContractFilter{Query: "%"}, "Versicherung.pdf"},
		{ContractFilter{Advisor: "ben"}, "Versicherung.pdf"},
		{ContractFilter{State: DocSigned}, "Versicherung.pdf,Kredit.pdf"},
		{ContractFilter{From: time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC)}, "Versicherung.pdf,Konto.pdf"},
		{ContractFilter{To: time.Date(2030, 1, 2, 4, 0, 0, 0, time.UTC)}, "Kredit.pdf"},
		{ContractFilter{FlagKind: "withdrawn", Flagged: 1}, "Konto.pdf"},
		{ContractFilter{FlagKind: "withdrawn", Flagged: -1}, "Versicherung.pdf,Kredit.pdf"},
		{ContractFilter{FlagKind: "withdrawn", Flagged: -1, State: DocOpen}, ""},
		{ContractFilter{FlagKind: "withdrawn", Query: "konto"}, "Konto.pdf"},
	} {
		if got := names(tc.f); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, got, tc.want)
		}
	}
	cs, err := s.Contracts(ctx, ContractFilter{FlagKind: "withdrawn"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if (c.ID == konto.ID) == c.FlaggedAt.IsZero() {
			t.Errorf("%s: flagged at %v", c.Name, c.FlaggedAt)
		}
	}
}

// TestViewedOnceAcrossNodes: two stores on one database (two nodes) told
// at once, many times, that the same viewer reached the last page of the
// same revision append one "viewed" event; a new revision or another
// viewer gets its own, and deleting the document deletes what was seen.
func TestViewedOnceAcrossNodes(t *testing.T) { forEachBackend(t, testViewedOnceAcrossNodes) }

func testViewedOnceAcrossNodes(t *testing.T, be backend) {
	ctx := context.Background()
	where := be.fresh(t)
	var nodes [2]*Store
	for i := range nodes {
		s, err := be.open(ctx, where)
		if err != nil {
			t.Fatalf("open node %d: %v", i, err)
		}
		t.Cleanup(func() { s.Close() })
		nodes[i] = s
	}
	d := newTestDocument(t, nodes[0], "c_1", Field{Name: "customer", Signer: SignerCustomer})
	var wg sync.WaitGroup
	var firsts atomic.Int32
	for i := range 20 {
		wg.Go(func() {
			first, err := nodes[i%2].AppendViewedOnce(ctx, d.ID, "participant:p_1", 0, map[string]any{"pages": 2})
			if err != nil {
				t.Errorf("AppendViewedOnce: %v", err)
			}
			if first {
				firsts.Add(1)
			}
		})
	}
	wg.Wait()
	for _, v := range []struct {
		actor string
		rev   int
	}{{"participant:p_1", 1}, {"staff:1", 0}, {"participant:p_1", 1}} {
		if _, err := nodes[1].AppendViewedOnce(ctx, d.ID, v.actor, v.rev, nil); err != nil {
			t.Fatal(err)
		}
	}
	trail, err := nodes[0].AuditTrail(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var viewed []string
	for _, e := range trail {
		if e.Kind == "viewed" {
			viewed = append(viewed, e.Actor)
		}
	}
	if firsts.Load() != 1 || strings.Join(viewed, ",") != "participant:p_1,participant:p_1,staff:1" {
		t.Errorf("%d firsts, viewed events by %v; want 1 and p_1 (rev 0), p_1 (rev 1), staff:1", firsts.Load(), viewed)
	}
	if _, err := nodes[0].AppendViewedOnce(ctx, "d_missing", "staff:1", 0, nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown document: %v, want ErrNotFound", err)
	}
	if err := nodes[0].DeleteDocument(ctx, d.ID); err != nil {
		t.Fatal(err)
	}
	var left int
	if err := nodes[0].db.QueryRowContext(ctx, "SELECT COUNT(*) FROM document_views").Scan(&left); err != nil || left != 0 {
		t.Errorf("document_views after deleting the document: %d rows, %v", left, err)
	}
}
