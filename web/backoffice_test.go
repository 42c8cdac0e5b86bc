package web

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

func TestBackofficeContractsAndVerification(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	bert, _ := e.loggedIn("bert", records.RoleAdvisor)
	back, _ := e.loggedIn("clara", records.RoleBackoffice)
	capture, _ := signature.ExampleCapture().Marshal()
	sign := func(adv *http.Client, title string) documentJSON {
		cid, _ := e.createConsultation(adv, title)
		d := docOf(t, e.staff(adv, "POST", "/api/v1/consultations/"+cid+"/documents", map[string]any{"template": "contract", "title": title, "signers": []string{"advisor"}}))
		if r := e.staff(adv, "POST", "/api/v1/consultations/"+cid+"/documents/"+d.ID+"/sign/advisor", string(capture), "Content-Type", "application/json"); r.StatusCode != http.StatusOK {
			t.Fatalf("sign: %d %s", r.StatusCode, r.body)
		}
		return d
	}
	a := sign(anna, "Kredit Anna")
	sign(bert, "Konto Bert")

	list := func(c *http.Client, q string) []contractJSON {
		r := e.do(c, "GET", "/api/v1/contracts"+q, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("list %s: %d %s", q, r.StatusCode, r.body)
		}
		var out struct{ Contracts []contractJSON }
		json.Unmarshal(r.body, &out)
		return out.Contracts
	}
	if n := len(list(back, "")); n != 2 {
		t.Fatalf("back office sees %d contracts, want 2", n)
	}
	if cs := list(anna, ""); len(cs) != 1 || cs[0].ID != a.ID {
		t.Fatalf("advisor sees %+v, want only her own", cs)
	}
	if cs := list(back, "?q=anna&state=signed"); len(cs) != 1 || cs[0].ID != a.ID {
		t.Fatalf("search: %+v", cs)
	}
	if r := e.do(back, "GET", "/api/v1/contracts?from=yesterday", nil); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad date: %d", r.StatusCode)
	}
	if r := e.do(bert, "GET", "/api/v1/contracts/"+a.ID, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("another advisor's contract: %d", r.StatusCode)
	}

	r := e.do(back, "GET", "/api/v1/contracts/"+a.ID+"/verification", nil)
	var v contracts.Verdict
	if r.StatusCode != http.StatusOK || json.Unmarshal(r.body, &v) != nil || v.Verdict != contracts.ValidWithWarnings || v.Signatures[0].Envelope != "bound" {
		t.Fatalf("verification: %d %s", r.StatusCode, r.body)
	}
	pdf := e.do(back, "GET", "/api/v1/contracts/"+a.ID+"/pdf?download=1", nil)
	if pdf.StatusCode != http.StatusOK {
		t.Fatalf("download: %d", pdf.StatusCode)
	}
	// Upload verification: the same verdict; a flipped byte: invalid.
	r = e.staff(back, "POST", "/api/v1/verify", string(pdf.body), "Content-Type", "application/pdf")
	if json.Unmarshal(r.body, &v) != nil || v.Verdict != contracts.ValidWithWarnings {
		t.Fatalf("upload: %d %s", r.StatusCode, r.body)
	}
	bad := append([]byte(nil), pdf.body...)
	bad[len(bad)/4] ^= 0x01
	r = e.staff(back, "POST", "/api/v1/verify", string(bad), "Content-Type", "application/pdf")
	if json.Unmarshal(r.body, &v) != nil || v.Verdict != contracts.Invalid {
		t.Fatalf("tampered upload: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(back, "POST", "/api/v1/verify", "no pdf", "Content-Type", "application/pdf"); r.StatusCode != http.StatusUnprocessableEntity || r.errCode(t) != "unverifiable" {
		t.Fatalf("junk upload: %d %s", r.StatusCode, r.body)
	}

	// The detail carries the trail: presented, signed, verified, downloaded.
	r = e.do(back, "GET", "/api/v1/contracts/"+a.ID, nil)
	var detail struct {
		Audit      []records.AuditEvent
		AuditChain struct{ Valid bool }
	}
	if json.Unmarshal(r.body, &detail) != nil || !detail.AuditChain.Valid {
		t.Fatalf("detail: %s", r.body)
	}
	var kinds []string
	for _, ev := range detail.Audit {
		kinds = append(kinds, ev.Kind)
	}
	if got := strings.Join(kinds, " "); got != "presented signed verified downloaded" {
		t.Fatalf("audit kinds: %s", got)
	}
}

// The contract list shows a withdrawn document as "withdrawn" and the
// state filter finds it: "withdrawn" lists only it, "open" no longer.
func TestBackofficeListsWithdrawn(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	anna, _ := e.loggedIn("anna", records.RoleAdvisor)
	back, _ := e.loggedIn("clara", records.RoleBackoffice)
	present := func(title string) (string, documentJSON) {
		cid, _ := e.createConsultation(anna, title)
		r := e.staff(anna, "POST", "/api/v1/consultations/"+cid+"/documents", map[string]any{"template": "contract", "title": title, "signers": []string{"customer"}})
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("present: %d %s", r.StatusCode, r.body)
		}
		return cid, docOf(t, r)
	}
	_, open := present("Offen")
	cid, gone := present("Zurückgezogen")
	if r := e.staff(anna, "POST", "/api/v1/consultations/"+cid+"/documents/"+gone.ID+"/withdraw", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("withdraw: %d %s", r.StatusCode, r.body)
	}
	list := func(q string) map[string]string {
		r := e.do(back, "GET", "/api/v1/contracts"+q, nil)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("list %s: %d %s", q, r.StatusCode, r.body)
		}
		var out struct{ Contracts []contractJSON }
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, c := range out.Contracts {
			m[c.ID] = c.State
			if c.State == "withdrawn" && c.WithdrawnAt == "" {
				t.Errorf("%s: withdrawn without withdrawnAt", c.ID)
			}
		}
		return m
	}
	for _, c := range []struct {
		q    string
		want map[string]string
	}{
		{"", map[string]string{open.ID: "open", gone.ID: "withdrawn"}},
		{"?state=all", map[string]string{open.ID: "open", gone.ID: "withdrawn"}},
		{"?state=withdrawn", map[string]string{gone.ID: "withdrawn"}},
		{"?state=open", map[string]string{open.ID: "open"}},
		{"?state=signed", map[string]string{}},
		{"?state=withdrawn&q=zur", map[string]string{gone.ID: "withdrawn"}},
	} {
		got := list(c.q)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.q, got, c.want)
			continue
		}
		for id, st := range c.want {
			if got[id] != st {
				t.Errorf("%s: %v, want %v", c.q, got, c.want)
			}
		}
	}
	if r := e.do(back, "GET", "/api/v1/contracts?state=gone", nil); r.StatusCode != http.StatusBadRequest || !strings.Contains(string(r.body), "withdrawn") {
		t.Fatalf("unknown state: %d %s", r.StatusCode, r.body)
	}
}
