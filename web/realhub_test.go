package web

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// TestRealHub runs the REST join and the /ws route against the real
// signaling hub (without media plane). It skips while the hub is a stub.
func TestRealHub(t *testing.T) {
	hub := signaling.NewHub(signaling.Config{SessionTTL: time.Hour}, nil, nil, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(hub.Close)
	hub.Open(signaling.ConsultationInfo{ID: "c_probe"})
	if _, ok := hub.Snapshot("c_probe"); !ok {
		t.Skip("signaling.Hub is still a stub")
	}
	e := newEnvWith(t, hub, false)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, token := e.createConsultation(adv, "Echt")
	cid := signaling.ConsultationID(id)

	cust := e.client()
	r := e.do(cust, "POST", "/api/v1/invites/"+token+"/join",
		map[string]any{"name": "Kim", "consent": true, "consentVersion": e.consentVersion(token), "lang": "de"})
	if r.StatusCode != http.StatusOK || r.cookie(cookieSession) == nil {
		t.Fatalf("join: %d %s", r.StatusCode, r.body)
	}
	if snap, ok := hub.Snapshot(cid); !ok || snap.Waiting != 1 {
		t.Fatalf("snapshot after join = %+v, %v; want 1 waiting", snap, ok)
	}
	got := e.do(adv, "GET", "/api/v1/consultations/"+id, nil).json(t)
	if live := got["live"].(map[string]any); live["waiting"] != float64(1) {
		t.Fatalf("live = %v", live)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wsURL := "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/ws/" + id
	dial := func(c *http.Client) *websocket.Conn {
		t.Helper()
		hc := &http.Client{Transport: c.Transport, Jar: c.Jar} // websocket wants no client timeout
		ws, resp, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{HTTPClient: hc, Subprotocols: []string{"parley.v1"}})
		if err != nil {
			status := 0
			if resp != nil {
				status = resp.StatusCode
			}
			t.Fatalf("dial: %v (HTTP %d)", err, status)
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws
	}
	type msg struct {
		Type  string `json:"type"`
		State string `json:"state"`
		Self  struct {
			Role  string `json:"role"`
			State string `json:"state"`
		} `json:"self"`
	}
	read := func(ws *websocket.Conn, want string) (msg, error) {
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				return msg{}, err
			}
			var m msg
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("not JSON: %s", b)
			}
			if m.Type == want {
				return m, nil
			}
		}
	}

	advWS := dial(adv)
	if m, err := read(advWS, "welcome"); err != nil || m.Self.Role != "advisor" || m.Self.State != "joined" {
		t.Fatalf("advisor welcome = %+v, %v", m, err)
	}
	custWS := dial(cust)
	if m, err := read(custWS, "welcome"); err != nil || m.Self.Role != "customer" || m.Self.State != "waiting" {
		t.Fatalf("customer welcome = %+v, %v", m, err)
	}

	// Nobody else gets in.
	if r := e.do(e.client(), "GET", "/ws/"+id, nil, "Sec-WebSocket-Protocol", "parley.v1"); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous /ws: %d", r.StatusCode)
	}

	// Ending via REST reaches the customer's socket.
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	m, err := read(custWS, "state")
	if err == nil && m.State != "ended" {
		t.Fatalf("customer state = %+v; want ended", m)
	}
	if err == nil {
		_, err = read(custWS, "never")
	}
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != 4004 {
		t.Fatalf("customer socket closed with %v; want 4004", err)
	}
	if _, ok := hub.Snapshot(cid); ok {
		t.Fatal("hub still knows the ended consultation")
	}
}
