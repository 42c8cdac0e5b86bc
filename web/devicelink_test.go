package web

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/records"
)

// TestDeviceLink: the sealed box goes only to the same user, once, within
// five minutes; other staff, even with access to the consultation, get
// 404; an ended consultation takes no box; requests per user are limited.
func TestDeviceLink(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	now := time.Now()
	e.srv.now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	devA, anna := e.loggedIn("anna", records.RoleAdvisor)
	devB := e.client() // anna's second device: her own login
	e.login(devB, "anna")
	carl, carlUser := e.loggedIn("carl", records.RoleAdvisor)
	id, _ := e.createConsultation(devA, "Zwei Geräte")
	path := "/api/v1/consultations/" + id + "/device-link"

	// carl joins the consultation as a colleague: still no box for him.
	tok, _, err := e.rec.CreateColleagueInvite(t.Context(), id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rec.AcceptColleague(t.Context(), tok, carlUser.ID); err != nil {
		t.Fatalf("colleague: %v", err)
	}
	_ = anna

	box := bytes.Repeat([]byte{0xA5}, 120)
	box[0] = 1
	boxB64 := base64.RawURLEncoding.EncodeToString(box)
	if !strings.Contains(boxB64, "p") {
		t.Fatal(boxB64)
	}

	if r := e.staff(devB, "POST", path+"/claim", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("claim before any offer: %d %s", r.StatusCode, r.body)
	}
	for _, bad := range []string{"", "!!!", base64.RawURLEncoding.EncodeToString(box[:20]), base64.RawURLEncoding.EncodeToString(make([]byte, 3000)), boxB64 + "=", strings.ReplaceAll(boxB64, "p", "+")} {
		if r := e.staff(devA, "POST", path, map[string]string{"box": bad}); r.StatusCode != http.StatusBadRequest {
			t.Errorf("offer box %.20q: %d %s", bad, r.StatusCode, r.body)
		}
	}
	if r := e.do(devA, "POST", path, map[string]string{"box": boxB64}); r.StatusCode != http.StatusForbidden {
		t.Errorf("offer without the CSRF header: %d %s", r.StatusCode, r.body)
	}
	r := e.staff(devA, "POST", path, map[string]string{"box": boxB64})
	if r.StatusCode != http.StatusCreated || r.json(t)["state"] != "waiting" {
		t.Fatalf("offer: %d %s", r.StatusCode, r.body)
	}
	if exp, err := time.Parse(time.RFC3339, r.json(t)["expiresAt"].(string)); err != nil || exp.Sub(now) > 5*time.Minute+time.Second || exp.Sub(now) < 4*time.Minute {
		t.Errorf("expiresAt %v (now %v)", r.json(t)["expiresAt"], now)
	}

	// Another user: nothing to fetch, nothing to see.
	for _, m := range []string{"GET", "POST"} {
		p := path
		if m == "POST" {
			p += "/claim"
		}
		if r := e.staff(carl, m, p, nil); r.StatusCode != http.StatusNotFound {
			t.Errorf("carl %s %s: %d %s", m, p, r.StatusCode, r.body)
		}
	}
	// The same user's other device: the box, once.
	r = e.staff(devB, "POST", path+"/claim", nil)
	if r.StatusCode != http.StatusOK || r.json(t)["box"] != boxB64 {
		t.Fatalf("claim: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(devB, "POST", path+"/claim", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("second claim: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(devA, "GET", path, nil); r.StatusCode != http.StatusOK || r.json(t)["state"] != "claimed" {
		t.Errorf("state after the claim: %d %s", r.StatusCode, r.body)
	}

	// Five minutes: gone.
	e.staff(devA, "POST", path, map[string]string{"box": boxB64})
	advance(5*time.Minute + time.Second)
	if r := e.staff(devB, "POST", path+"/claim", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("claim after 5 minutes: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(devA, "GET", path, nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("state after 5 minutes: %d %s", r.StatusCode, r.body)
	}

	// Cancelled: gone.
	e.staff(devA, "POST", path, map[string]string{"box": boxB64})
	if r := e.staff(devA, "DELETE", path, nil); r.StatusCode != http.StatusNoContent {
		t.Errorf("cancel: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(devB, "POST", path+"/claim", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("claim after cancel: %d %s", r.StatusCode, r.body)
	}

	// Someone else's consultation: 404 as for any other consultation route.
	other, _ := e.createConsultation(carl, "Carls")
	if r := e.staff(devA, "POST", "/api/v1/consultations/"+other+"/device-link", map[string]string{"box": boxB64}); r.StatusCode != http.StatusNotFound {
		t.Errorf("offer in carl's consultation: %d %s", r.StatusCode, r.body)
	}

	// Ended: no box is taken.
	if r := e.staff(devA, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(devA, "POST", path, map[string]string{"box": boxB64}); r.StatusCode != http.StatusGone {
		t.Errorf("offer after the end: %d %s", r.StatusCode, r.body)
	}

	// The log holds no box.
	if strings.Contains(e.logs.String(), boxB64[:40]) {
		t.Errorf("a box in the log")
	}
}

// TestDeviceLinkRateLimit: at most 20 device-link requests per user a
// minute; the 21st is 429 with Retry-After, another user is not affected.
func TestDeviceLinkRateLimit(t *testing.T) {
	e := newEnv(t)
	devB, _ := e.loggedIn("anna", records.RoleAdvisor)
	carl, _ := e.loggedIn("carl", records.RoleAdvisor)
	id, _ := e.createConsultation(devB, "Raten")
	cid, _ := e.createConsultation(carl, "Carls")
	for i := range 20 {
		if r := e.staff(devB, "POST", "/api/v1/consultations/"+id+"/device-link/claim", nil); r.StatusCode != http.StatusNotFound {
			t.Fatalf("claim %d: %d %s", i, r.StatusCode, r.body)
		}
	}
	r := e.staff(devB, "POST", "/api/v1/consultations/"+id+"/device-link/claim", nil)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("21st claim: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(carl, "POST", "/api/v1/consultations/"+cid+"/device-link/claim", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("another user: %d %s", r.StatusCode, r.body)
	}
}

// TestDeviceLinkRelayed: in cluster mode every device-link route goes to
// the consultation's home node, where the box is kept.
func TestDeviceLinkRelayed(t *testing.T) {
	e := newEnv(t)
	n := 0
	for _, r := range e.srv.engine.Routes() {
		if !strings.Contains(r.Path, "/device-link") {
			continue
		}
		n++
		if relayRoute(r.Path) == nil {
			t.Errorf("%s %s is not relayed to the home node", r.Method, r.Path)
		}
	}
	if n != 4 {
		t.Errorf("%d device-link routes, want 4", n)
	}
}
