package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/webhooks"
)

// hookReceiver is a CRM endpoint: it verifies every delivery and keeps
// the events by type.
type hookReceiver struct {
	secret string
	mu     sync.Mutex
	byType map[string][]webhooks.Body
	bad    int
}

func (r *hookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := webhooks.Verify(r.secret, req.Header, body, time.Now(), 5*time.Minute); err != nil {
		r.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	var b webhooks.Body
	if err := json.Unmarshal(body, &b); err != nil {
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.byType[b.Type] = append(r.byType[b.Type], b)
	w.WriteHeader(http.StatusNoContent)
}

func (r *hookReceiver) count(typ string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byType[typ])
}

func (r *hookReceiver) first(typ string) webhooks.Body {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.byType[typ][0]
}

func (r *hookReceiver) waitFor(t *testing.T, typ string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.count(typ) < n {
		if time.Now().After(deadline) {
			t.Fatalf("webhook %s: %d received, want %d", typ, r.count(typ), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWebhooksOfACall: a consultation's life as the CRM sees it through
// signed webhooks from a running node: started and admitted when the
// advisor admits the customer (started once, however many are admitted),
// the presented document, its signature, and ended; without personal data, as
// configured; the admins' delivery log lists them.
func TestWebhooksOfACall(t *testing.T) {
	const secret = "crm-signing-secret-0123456789abcdef"
	t.Setenv("PARLEY_TEST_WEBHOOK_SECRET", secret)
	rcv := &hookReceiver{secret: secret, byType: map[string][]webhooks.Body{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: rcv}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	s := startServer(t, func(c *config.Config) {
		c.Webhooks.Endpoints = []config.WebhookEndpoint{{ID: "crm", URL: "http://" + ln.Addr().String() + "/parley", SecretEnv: "PARLEY_TEST_WEBHOOK_SECRET"}}
	})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()

	adv, err := callclient.Staff(ctx, s.base, advisorName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer adv.Close()
	id, invite, err := adv.CreateConsultation(ctx, "Baufinanzierung")
	if err != nil {
		t.Fatal(err)
	}
	a, err := callclient.Dial(ctx, adv, id, clientOpts(t, "advisor"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var custs []*callclient.HTTP
	for _, name := range []string{"Max Kunde", "Erika Kundin"} {
		cust, _, err := callclient.JoinInvite(ctx, invite, name)
		if err != nil {
			t.Fatal(err)
		}
		defer cust.Close()
		custs = append(custs, cust)
		c, err := callclient.Dial(ctx, cust, id, clientOpts(t, "customer"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := a.WaitRoster(ctx, func(ps []callclient.Participant) bool {
			for _, p := range ps {
				if p.ID == c.Self() && p.State == callclient.StateWaiting {
					return true
				}
			}
			return false
		}); err != nil {
			t.Fatal(err)
		}
		if err := a.Admit(ctx, c.Self()); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitState(ctx, callclient.StateJoined); err != nil {
			t.Fatal(err)
		}
	}
	rcv.waitFor(t, webhooks.CustomerAdmitted, 2)
	rcv.waitFor(t, webhooks.ConsultationStarted, 1)

	var doc struct {
		ID string `json:"id"`
	}
	if err := adv.Do(ctx, "POST", "/api/v1/consultations/"+id+"/documents",
		map[string]any{"template": "contract", "title": "Kreditvertrag", "signers": []string{"customer"}}, http.StatusCreated, &doc); err != nil {
		t.Fatal(err)
	}
	rcv.waitFor(t, webhooks.DocumentPresented, 1)
	// The first customer signs (without drawing, through the REST API).
	if err := custs[0].Do(ctx, "POST", "/api/v1/consultations/"+id+"/documents/"+doc.ID+"/sign/customer/typed",
		map[string]any{"typedName": "Max Kunde", "confirmed": true}, http.StatusOK, nil); err != nil {
		t.Fatal(err)
	}
	rcv.waitFor(t, webhooks.ContractSigned, 1)
	if b := rcv.first(webhooks.ContractSigned); b.Data["document"] != doc.ID || b.Data["field"] != "customer" ||
		b.Data["method"] != "typed" || b.Data["complete"] != true || b.Data["signerName"] != nil {
		t.Errorf("contract.signed = %+v", b)
	}
	if err := adv.End(ctx, id); err != nil {
		t.Fatal(err)
	}
	rcv.waitFor(t, webhooks.ConsultationEnded, 1)
	time.Sleep(3 * time.Second) // a duplicate would arrive by now

	if n := rcv.count(webhooks.ConsultationStarted); n != 1 {
		t.Errorf("consultation.started arrived %d times", n)
	}
	if n := rcv.count(webhooks.ConsultationEnded); n != 1 {
		t.Errorf("consultation.ended arrived %d times", n)
	}
	if b := rcv.first(webhooks.DocumentPresented); b.Consultation != id || b.Data["document"] != doc.ID || b.Data["name"] != nil {
		t.Errorf("document.presented = %+v (the name is personal data, not configured)", b)
	}
	if b := rcv.first(webhooks.CustomerAdmitted); b.Consultation != id || b.Data["participant"] == nil {
		t.Errorf("customer.admitted = %+v", b)
	}
	rcv.mu.Lock()
	bad := rcv.bad
	rcv.mu.Unlock()
	if bad != 0 {
		t.Errorf("%d deliveries failed verification", bad)
	}

	// The delivery log, for admins only.
	if _, err := s.Records.CreateUser(ctx, adminName, "Ada Admin", records.RoleAdmin, advisorPassword); err != nil {
		t.Fatal(err)
	}
	admin, err := callclient.Staff(ctx, s.base, adminName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var log struct {
		Endpoints []struct {
			ID, Host string
		}
		Deliveries []webhooks.Delivery
	}
	if err := admin.Do(ctx, "GET", "/api/v1/admin/webhooks", nil, http.StatusOK, &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Endpoints) != 1 || log.Endpoints[0].Host != ln.Addr().String() || len(log.Deliveries) != 6 {
		t.Fatalf("delivery log: %+v", log)
	}
	for _, d := range log.Deliveries {
		if d.State != "delivered" || d.Endpoint != "crm" || d.Attempts != 1 {
			t.Errorf("delivery %+v", d)
		}
	}
	if err := adv.Do(ctx, "GET", "/api/v1/admin/webhooks", nil, http.StatusForbidden, nil); err != nil {
		t.Errorf("an advisor reads the delivery log: %v", err)
	}
}
