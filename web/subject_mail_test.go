package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/mailtest"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
)

// pdfAttachment reads a raw message's application/pdf attachment: its
// file name and decoded bytes (nil: none).
func pdfAttachment(t *testing.T, raw []byte) (string, []byte) {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/mixed" {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err == io.EOF {
			return "", nil
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		disp, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		if ct == "application/pdf" && disp == "attachment" && strings.EqualFold(p.Header.Get("Content-Transfer-Encoding"), "base64") {
			data, err := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
			if err != nil {
				t.Fatal(err)
			}
			return dp["filename"], data
		}
	}
}

func withEmailQuestion(c *config.Config) {
	c.Questions.Before = []config.Question{{ID: "email", Type: "email", Label: config.Text{DE: "E-Mail", EN: "E-mail"}}}
	c.Mail.Enabled = true
	c.Mail.From = "vertraege@bank.example"
}

// TestContractCopyByEmail: a customer who gave an e-mail address asks for
// a copy of the contract they signed (personal link, and in the call);
// it arrives once in a real SMTP server (Mailpit), in their language,
// with the PDF attached byte for byte as the download, although they
// asked twice on each way. The export says where it is possible
// (canEmail); it is refused before everyone signed, without an address,
// and with e-mail off. The audit trail records it once, no address in it
// or in the log.
func TestContractCopyByEmail(t *testing.T) {
	e := newEnv(t, withEmailQuestion)
	withSigner(t, e)
	srv := mailtest.Start(t, mailtest.Options{})
	sender, err := mail.NewSender(mail.SMTPConfig{Host: srv.Host, Port: srv.SMTPPort, TLS: mail.TLSNone})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := blobs.ParseKeyRing(mustKeyLine(t))
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(outbox.Config{}, e.rec, keys, e.log)
	if err != nil {
		t.Fatal(err)
	}
	ob.Handle(mail.Kind, sender.OutboxHandler())
	e.srv.mailOut = ob

	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, token := e.createConsultation(adv, "Kredit")
	version := e.consentVersion(token)
	origin := []string{"Origin", e.ts.URL}
	join := func(body map[string]any) map[string]any {
		t.Helper()
		r := e.do(e.client(), "POST", "/api/v1/invites/"+token+"/join", body)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("join: %d %s", r.StatusCode, r.body)
		}
		return r.json(t)
	}
	const addr = "kim.kunde@example.com"
	kim := join(map[string]any{"name": "Kim Kunde", "consent": true, "consentVersion": version, "lang": "en", "answers": map[string]string{"email": addr}})
	lee := join(map[string]any{"name": "Lee Other", "consent": true, "consentVersion": version, "lang": "de"})
	kimTok, leeTok := kim["myDataToken"].(string), lee["myDataToken"].(string)
	kimCu := e.customer(id, "cookie-kim", signaling.ParticipantID(kim["participantId"].(string)), signaling.StateJoined)
	leeCu := e.customer(id, "cookie-lee", signaling.ParticipantID(lee["participantId"].(string)), signaling.StateJoined)

	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	base := "/api/v1/consultations/" + id + "/documents"
	present := func(title string) string {
		t.Helper()
		r := e.staff(adv, "POST", base, map[string]any{"template": "contract", "title": title, "signers": []string{"customer", "advisor"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("present: %d %s", r.StatusCode, r.body)
		}
		return docOf(t, r).ID
	}
	sign := func(cu *http.Client, doc string) {
		t.Helper()
		if r := e.do(cu, "POST", base+"/"+doc+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusOK {
			t.Fatalf("customer signs: %d %s", r.StatusCode, r.body)
		}
	}
	advisorSigns := func(doc string) {
		t.Helper()
		if r := e.staff(adv, "POST", base+"/"+doc+"/sign/advisor", string(capture), "Content-Type", "application/json"); r.StatusCode != http.StatusOK {
			t.Fatalf("advisor signs: %d %s", r.StatusCode, r.body)
		}
	}
	bearer := func(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
	canEmail := func(tok string) []any {
		t.Helper()
		r := e.do(e.client(), "GET", "/api/v1/my-data", nil, bearer(tok)...)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("my-data: %d %s", r.StatusCode, r.body)
		}
		var out []any
		for _, c := range r.json(t)["contracts"].([]any) {
			out = append(out, c.(map[string]any)["canEmail"])
		}
		return out
	}
	ask := func(tok, doc string) response {
		t.Helper()
		return e.do(e.client(), "POST", "/api/v1/my-data/contracts/"+doc+"/email", nil, append(bearer(tok), origin...)...)
	}
	refused := func(what string, r response, status int, code string) {
		t.Helper()
		if r.StatusCode != status || r.errCode(t) != code {
			t.Fatalf("%s: %d %s (want %d %s)", what, r.StatusCode, r.body, status, code)
		}
	}

	kimDoc := present("Kreditvertrag")
	sign(kimCu, kimDoc)
	// Half signed: no copy yet.
	if got := canEmail(kimTok); len(got) != 1 || got[0] != false {
		t.Fatalf("canEmail before the advisor signed: %v", got)
	}
	refused("before everyone signed", ask(kimTok, kimDoc), http.StatusConflict, "not_signed")
	advisorSigns(kimDoc)
	leeDoc := present("Kontovertrag")
	sign(leeCu, leeDoc)
	advisorSigns(leeDoc)

	// Lee gave no address; nobody gets another's contract.
	if got := canEmail(leeTok); len(got) != 1 || got[0] != false {
		t.Fatalf("Lee's canEmail: %v", got)
	}
	refused("without an address", ask(leeTok, leeDoc), http.StatusConflict, "no_email_address")
	refused("another customer's contract", ask(leeTok, kimDoc), http.StatusNotFound, "not_found")
	if r := e.do(e.client(), "POST", "/api/v1/my-data/contracts/"+kimDoc+"/email", nil, origin...); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no link: %d", r.StatusCode)
	}

	// The privacy notice says the copy is sent only on request, and only
	// where it is offered.
	notice := func() string {
		t.Helper()
		return string(e.do(e.client(), "GET", "/privacy?lang=de", nil).body)
	}
	if v := notice(); !strings.Contains(v, "Nur wenn Sie es nach der Unterschrift ausdrücklich anfordern") {
		t.Error("the privacy notice does not say the copy is sent only on request")
	}

	// E-mail off: refused, and the export says so.
	e.srv.cfg.Mail.Enabled = false
	if strings.Contains(notice(), "Kopie per E-Mail senden") {
		t.Error("the privacy notice offers a copy by e-mail with e-mail off")
	}
	if got := canEmail(kimTok); len(got) != 1 || got[0] != false {
		t.Fatalf("canEmail with e-mail off: %v", got)
	}
	refused("with e-mail off", ask(kimTok, kimDoc), http.StatusConflict, "mail_off")
	e.srv.cfg.Mail.Enabled = true

	if got := canEmail(kimTok); len(got) != 1 || got[0] != true {
		t.Fatalf("Kim's canEmail: %v", got)
	}
	// A double click, and once more in the call: queued once.
	if r := ask(kimTok, kimDoc); r.StatusCode != http.StatusAccepted || r.json(t)["status"] != "queued" {
		t.Fatalf("first request: %d %s", r.StatusCode, r.body)
	}
	if r := ask(kimTok, kimDoc); r.StatusCode != http.StatusOK || r.json(t)["status"] != "already-queued" {
		t.Fatalf("second request: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(kimCu, "POST", "/api/v1/consultations/"+id+"/my-data/contracts/"+kimDoc+"/email", nil, origin...); r.StatusCode != http.StatusOK {
		t.Fatalf("in the call: %d %s", r.StatusCode, r.body)
	}
	for range 3 {
		if _, err := ob.RunOnce(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	ms := srv.WaitFor(t, 20*time.Second, "the copy", func(ms []mailtest.Summary) bool { return len(ms) >= 1 })
	if _, err := ob.RunOnce(t.Context()); err != nil {
		t.Fatal(err)
	}
	if ms, err = srv.Messages(t.Context()); err != nil || len(ms) != 1 {
		t.Fatalf("messages: %d %v (want exactly one)", len(ms), err)
	}
	raw, err := srv.Raw(t.Context(), ms[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	p, err := mailtest.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if to := p.Header.Get("To"); !strings.Contains(to, addr) || !strings.Contains(p.Subject, "Your signed contract") ||
		!strings.Contains(p.Text, "Kreditvertrag") || !strings.Contains(p.Header.Get("From"), "vertraege@bank.example") {
		t.Fatalf("mail: to %q, subject %q, text %q", to, p.Subject, p.Text)
	}
	name, pdf := pdfAttachment(t, raw)
	dl := e.do(e.client(), "GET", "/api/v1/my-data/contracts/"+kimDoc, nil, bearer(kimTok)...)
	if dl.StatusCode != http.StatusOK || len(pdf) == 0 || !bytes.Equal(pdf, dl.body) || name != "Kreditvertrag-signed.pdf" {
		t.Fatalf("attachment %q, %d bytes, equal to the download (%d bytes): %v", name, len(pdf), len(dl.body), bytes.Equal(pdf, dl.body))
	}

	trail, err := e.rec.AuditTrail(context.Background(), kimDoc)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range trail {
		if ev.Kind == "emailed" {
			n++
			if strings.Contains(string(ev.Detail), "@") {
				t.Fatalf("address in the audit trail: %s", ev.Detail)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d emailed events, want 1", n)
	}
	if strings.Contains(e.logs.String(), addr) {
		t.Fatal("the address reached the log")
	}
}
