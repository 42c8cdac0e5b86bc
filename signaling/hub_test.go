package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

func testConfig() Config {
	return Config{
		MaxParticipants: 4,
		MaxMessageBytes: 64 << 10,
		PingInterval:    time.Minute,
		PongTimeout:     10 * time.Second,
		SendQueue:       512,
		SessionTTL:      time.Hour,
		ICEServers: func(ConsultationInfo, ParticipantID) []webrtc.ICEServer {
			return []webrtc.ICEServer{{URLs: []string{"stun:stun.example.org:3478"}}}
		},
	}
}

const customerName = "Erika Mustermann"

// callSetup opens consultation "c1" with an advisor (staff user 1)
// connected.
func callSetup(t *testing.T, cfg Config) (*env, *client, ParticipantID) {
	t.Helper()
	e := newEnv(t, cfg, nil)
	e.hub.Open(ConsultationInfo{ID: "c1", Title: "Mortgage", Company: "Bank"})
	adv := e.mustDial(t, "c1", staffCookie(1))
	w := adv.waitType(t, TypeWelcome)
	adv.waitRoster(t, map[ParticipantID]State{w.Self.ID: StateJoined})
	return e, adv, w.Self.ID
}

// admitted adds a customer, connects and admits it.
func admitted(t *testing.T, e *env, adv *client, roster map[ParticipantID]State) (*client, ParticipantID, string) {
	t.Helper()
	pid, cookie := e.addCustomer(t, "c1", customerName)
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	adv.send(t, map[string]any{"type": "admit", "participant": pid})
	cu.waitFor(t, "state joined", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })
	roster[pid] = StateJoined
	adv.waitRoster(t, roster)
	cu.waitRoster(t, roster)
	return cu, pid, cookie
}

func TestWelcomeAndAdmit(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())

	pid, cookie := e.addCustomer(t, "c1", customerName)
	// The advisor sees the customer knock.
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})

	cu := e.mustDial(t, "c1", cookie)
	w := cu.next(t)
	if w.Type != TypeWelcome || w.Protocol != 1 || w.Self.ID != pid || w.Self.State != StateWaiting ||
		w.Self.Role != RoleCustomer || w.Self.Name != customerName {
		t.Fatalf("welcome %s", w.raw)
	}
	if w.Consultation != (consultationMsg{ID: "c1", Title: "Mortgage", Company: "Bank"}) || len(w.ICEServers) != 1 {
		t.Fatalf("welcome %s", w.raw)
	}
	if !strings.Contains(string(w.raw), `"tracks":{}`) {
		t.Fatalf("self without tracks object: %s", w.raw)
	}
	// The customer sees the advisor (joined) and itself.
	cu.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})

	if s, ok := e.hub.Snapshot("c1"); !ok || s != (Snapshot{ID: "c1", Joined: 1, Waiting: 1}) {
		t.Fatalf("snapshot %+v %v", s, ok)
	}
	if v := metric(t, e.reg, "parley_participants", "state", "waiting"); v != 1 {
		t.Fatalf("waiting gauge %v", v)
	}

	// A waiting customer may neither admit nor publish.
	cu.send(t, `{"type":"admit","participant":"`+string(pid)+`","id":1}`)
	if m := cu.waitType(t, TypeError); m.Code != CodeForbidden || string(m.Ref) != "1" {
		t.Fatalf("admit by customer: %s", m.raw)
	}
	cu.send(t, `{"type":"offer","sdp":"v=0","id":"o1"}`)
	if m := cu.waitType(t, TypeError); m.Code != CodeBadState || string(m.Ref) != `"o1"` {
		t.Fatalf("offer while waiting: %s", m.raw)
	}
	cu.send(t, `{"type":"media","audio":true}`)
	cu.waitError(t, CodeBadState)

	// Admitting someone unknown.
	adv.send(t, `{"type":"admit","participant":"p_nobody"}`)
	adv.waitError(t, CodeNotFound)
	adv.send(t, `{"type":"admit","participant":"`+string(advID)+`"}`)
	adv.waitError(t, CodeNotFound)

	adv.send(t, `{"type":"admit","participant":"`+string(pid)+`"}`)
	if m := cu.next(t); m.Type != TypeState || m.State != StateJoined {
		t.Fatalf("want state joined first, got %s", m.raw)
	}
	both := map[ParticipantID]State{advID: StateJoined, pid: StateJoined}
	cu.waitRoster(t, both)
	adv.waitRoster(t, both)
	adv.send(t, `{"type":"admit","participant":"`+string(pid)+`"}`)
	adv.waitError(t, CodeNotFound) // no longer waiting

	// media updates the roster for everyone.
	cu.send(t, `{"type":"media","audio":true,"video":true,"tracks":{"t1":"audio","t2":"camera"}}`)
	r := adv.waitFor(t, "roster with media", func(m serverMessage) bool {
		for _, p := range m.Participants {
			if p.ID == pid && p.Audio && p.Video && len(p.Tracks) == 2 && p.Tracks["t2"] == SourceCamera {
				return true
			}
		}
		return false
	})
	_ = r
	// Without a media plane an offer is answered with media_failed.
	cu.send(t, `{"type":"offer","sdp":"v=0","id":2}`)
	if m := cu.waitType(t, TypeError); m.Code != CodeMediaFailed || string(m.Ref) != "2" {
		t.Fatalf("offer without media: %s", m.raw)
	}
	cu.send(t, `{"type":"ping","id":"p"}`)
	if m := cu.waitType(t, TypePong); string(m.Ref) != `"p"` {
		t.Fatalf("pong %s", m.raw)
	}

	if s, _ := e.hub.Snapshot("c1"); s.Joined != 2 || s.Waiting != 0 {
		t.Fatalf("snapshot %+v", s)
	}
	if v := metric(t, e.reg, "parley_participants", "state", "joined"); v != 2 {
		t.Fatalf("joined gauge %v", v)
	}
	if v := metric(t, e.reg, "parley_signaling_messages_total", "type", "admit"); v < 3 {
		t.Fatalf("admit counter %v", v)
	}
	if v := metric(t, e.reg, "parley_signaling_errors_total", "code", CodeForbidden); v != 1 {
		t.Fatalf("forbidden counter %v", v)
	}
	// No personal data in logs: no names, no cookies.
	logs := e.logs.String()
	if strings.Contains(logs, customerName) || strings.Contains(logs, strings.TrimPrefix(cookie, "parley_session=")) {
		t.Fatalf("personal data logged:\n%s", logs)
	}
}

func TestReject(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	pid, cookie := e.addCustomer(t, "c1", "")
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})

	adv.send(t, map[string]any{"type": "reject", "participant": pid})
	cu.waitFor(t, "state rejected", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateRejected })
	if code := cu.waitClosed(t); code != StatusRejected {
		t.Fatalf("close code %v, want 4003", code)
	}
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined})
	// The session is gone.
	e.expectHTTPError(t, "c1", cookie, http.StatusUnauthorized, "unauthorized")
	if s, _ := e.hub.Snapshot("c1"); s.Waiting != 0 || s.Joined != 1 {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestRoomFull(t *testing.T) {
	cfg := testConfig()
	cfg.MaxParticipants = 2
	e, adv, advID := callSetup(t, cfg)
	roster := map[ParticipantID]State{advID: StateJoined}
	admitted(t, e, adv, roster)

	pid, cookie := e.addCustomer(t, "c1", "third")
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	adv.send(t, map[string]any{"type": "admit", "participant": pid, "id": 9})
	if m := adv.waitType(t, TypeError); m.Code != CodeRoomFull || string(m.Ref) != "9" {
		t.Fatalf("admit into full room: %s", m.raw)
	}
	// A second advisor is refused before the upgrade.
	e.expectHTTPError(t, "c1", staffCookie(2), http.StatusConflict, CodeRoomFull)
}

func TestInvalidMessagesKeepConnection(t *testing.T) {
	cfg := testConfig()
	cfg.MaxMessageBytes = 4096
	e, adv, advID := callSetup(t, cfg)

	cases := []struct {
		in, code string
	}{
		{`junk`, CodeBadMessage},
		{`{"type":42}`, CodeBadMessage},
		{`[1,2]`, CodeBadMessage},
		{`{"type":"dance"}`, CodeUnknownType},
		{`{"type":"media","tracks":{"a":"b"}}`, CodeBadMessage},
		{`{"type":"admit","participant":"` + strings.Repeat("x", 65) + `"}`, CodeTooLarge},
	}
	for _, c := range cases {
		adv.send(t, c.in)
		if m := adv.waitType(t, TypeError); m.Code != c.code {
			t.Fatalf("%s: got %s, want %s", c.in, m.raw, c.code)
		}
	}
	if err := adv.ws.Write(t.Context(), websocket.MessageBinary, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatal(err)
	}
	adv.waitError(t, CodeBadMessage)
	// Still alive.
	adv.send(t, `{"type":"ping"}`)
	adv.waitType(t, TypePong)
	if v := metric(t, e.reg, "parley_signaling_messages_total", "type", "invalid"); v != 7 {
		t.Fatalf("invalid counter %v", v)
	}

	// Oversized → 1009; the customer is reconnecting (1009 is retried).
	cu, pid, _ := admitted(t, e, adv, map[ParticipantID]State{advID: StateJoined})
	cu.send(t, `{"type":"offer","sdp":"`+strings.Repeat("a", 5000)+`"}`)
	if code := cu.waitClosed(t); code != websocket.StatusMessageTooBig {
		t.Fatalf("close code %v, want 1009", code)
	}
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateReconnecting})
}

func TestGarbageDoesNotBlockRoom(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, _, _ := admitted(t, e, adv, roster)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		junk := [][]byte{[]byte("\x00\xff garbage"), []byte(`{"type":`), []byte(`{"type":"nope"}`),
			[]byte(strings.Repeat("[", 3000)), []byte(`{"type":"ping"}`)}
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if cu.ws.Write(t.Context(), websocket.MessageText, junk[i%len(junk)]) != nil {
				return
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	// While the garbage flows, the advisor sees every change at once.
	for i := range 5 {
		start := time.Now()
		pid, _ := e.addCustomer(t, "c1", fmt.Sprint("knocker ", i))
		adv.waitFor(t, "roster with the knocker", func(m serverMessage) bool {
			for _, p := range m.Participants {
				if p.ID == pid && p.State == StateWaiting {
					return true
				}
			}
			return false
		})
		if d := time.Since(start); d > time.Second {
			t.Fatalf("roster took %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	cu.waitError(t, CodeBadMessage)
	cu.waitError(t, CodeRateLimited)
	// The sender is still connected (it sent a valid message now and then
	// and did not flood for long).
	time.Sleep(1100 * time.Millisecond)
	cu.drain()
	cu.send(t, `{"type":"ping","id":1}`)
	cu.waitFor(t, "pong", func(m serverMessage) bool { return m.Type == TypePong && string(m.Ref) == "1" })
}

func TestOnlyGarbageCloses(t *testing.T) {
	_, adv, _ := callSetup(t, testConfig())
	for range maxBadInARow {
		adv.send(t, "garbage")
	}
	adv.waitError(t, CodeBadMessage)
	if code := adv.waitClosed(t); code != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %v, want 1008", code)
	}
}

func TestRateLimit(t *testing.T) {
	_, adv, _ := callSetup(t, testConfig())
	for i := range 200 {
		adv.send(t, fmt.Sprintf(`{"type":"ping","id":%d}`, i))
	}
	// Every dropped request is named (its id as ref); everything else
	// sent is answered.
	pongs, named := 0, 0
	deadline := time.After(500 * time.Millisecond)
loop:
	for {
		select {
		case m := <-adv.msgs:
			if m.Type == TypePong {
				pongs++
			}
			if m.Type == TypeError && m.Code == CodeRateLimited {
				if len(m.Ref) == 0 {
					continue
				}
				named++
			}
		case <-deadline:
			break loop
		}
	}
	if pongs >= 199 {
		t.Fatalf("%d pongs: nothing was dropped", pongs)
	}
	if named == 0 || pongs+named != 200 {
		t.Fatalf("%d pongs and %d dropped requests named, want every one of the 200 answered", pongs, named)
	}
	// After a pause the client may talk again.
	time.Sleep(300 * time.Millisecond)
	adv.drain()
	adv.send(t, `{"type":"ping","id":"late"}`)
	if m := adv.waitType(t, TypePong); string(m.Ref) != `"late"` {
		t.Fatalf("pong %s", m.raw)
	}
}

// Messages that change the call have a budget of their own: an advisor
// whose pings used up the connection's budget can still admit, and a
// dropped one would be named.
func TestRateLimitKeepsControlMessages(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	pid, cookie := e.addCustomer(t, "c1", customerName)
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	for i := range 200 {
		adv.send(t, fmt.Sprintf(`{"type":"ping","id":%d}`, i))
	}
	adv.send(t, `{"type":"admit","participant":"`+string(pid)+`","id":"a1"}`)
	cu.waitFor(t, "admitted", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })
}

func TestUpgradeErrors(t *testing.T) {
	cfg := testConfig()
	cfg.AllowedOrigins = []string{"https://app.example.com", "partner.example.net:8443"}
	e := newEnv(t, cfg, nil)
	e.hub.Open(ConsultationInfo{ID: "c1"})
	e.hub.Open(ConsultationInfo{ID: "c2"})
	_, cookie := e.addCustomer(t, "c1", "")

	e.expectHTTPError(t, "c1", cookie, http.StatusBadRequest, "bad_request", withoutSubprotocol())
	e.expectHTTPError(t, "c1", cookie, http.StatusForbidden, "forbidden", withOrigin("https://evil.example"))
	e.expectHTTPError(t, "c1", staffCookie(1), http.StatusForbidden, "forbidden", withOrigin("http://app.example.com"))
	e.expectHTTPError(t, "c1", staffCookie(1), http.StatusForbidden, "forbidden", withOrigin("null"))
	e.expectHTTPError(t, "c1", "", http.StatusUnauthorized, "unauthorized")
	e.expectHTTPError(t, "c1", customerCookie("forged"), http.StatusUnauthorized, "unauthorized")
	e.expectHTTPError(t, "c2", cookie, http.StatusForbidden, "forbidden")
	e.expectHTTPError(t, "nope", staffCookie(1), http.StatusNotFound, "not_found")
	e.expectHTTPError(t, "nope", cookie, http.StatusForbidden, "forbidden")

	// The server's own origin and the allowed ones are fine.
	for _, o := range []string{e.srv.URL, "https://app.example.com", "https://partner.example.net:8443", "HTTPS://APP.EXAMPLE.COM"} {
		c, _, err := e.dial(t, "c1", staffCookie(1), withOrigin(o))
		if err != nil {
			t.Fatalf("origin %s: %v", o, err)
		}
		c.waitType(t, TypeWelcome)
	}

	e.hub.End(t.Context(), "c2")
	e.expectHTTPError(t, "c2", staffCookie(1), http.StatusGone, "ended")
	e.expectHTTPError(t, "c2", cookie, http.StatusGone, "ended")
}

func TestReplacedConnection(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu1, pid, cookie := admitted(t, e, adv, roster)

	cu2 := e.mustDial(t, "c1", cookie)
	if code := cu1.waitClosed(t); code != StatusReplaced {
		t.Fatalf("old connection closed with %v, want 4001", code)
	}
	w := cu2.waitType(t, TypeWelcome)
	if w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome after replace: %s", w.raw)
	}
	cu2.send(t, `{"type":"ping"}`)
	cu2.waitType(t, TypePong)
	adv.waitRoster(t, roster) // still joined

	// Staff too: the same user's second tab replaces the first.
	adv2 := e.mustDial(t, "c1", staffCookie(1))
	if code := adv.waitClosed(t); code != StatusReplaced {
		t.Fatalf("old advisor connection closed with %v, want 4001", code)
	}
	if w := adv2.waitType(t, TypeWelcome); w.Self.ID != advID || w.Self.State != StateJoined {
		t.Fatalf("advisor welcome after replace: %s", w.raw)
	}
	adv2.waitRoster(t, roster)
	if s, _ := e.hub.Snapshot("c1"); s.Joined != 2 {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestLeaveAndConnectionLoss(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, pid, cookie := admitted(t, e, adv, roster)

	// Connection loss: the customer is reconnecting, then back in the call.
	cu.ws.CloseNow()
	roster[pid] = StateReconnecting
	adv.waitRoster(t, roster)
	cu = e.mustDial(t, "c1", cookie)
	if w := cu.waitType(t, TypeWelcome); w.Self.ID != pid || w.Self.State != StateJoined {
		t.Fatalf("welcome after reconnect: %s", w.raw)
	}
	roster[pid] = StateJoined
	adv.waitRoster(t, roster)

	// leave is for good.
	cu.send(t, `{"type":"leave"}`)
	cu.waitFor(t, "state left", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateLeft })
	if code := cu.waitClosed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("close code %v, want 1000", code)
	}
	delete(roster, pid)
	adv.waitRoster(t, roster)
	e.expectHTTPError(t, "c1", cookie, http.StatusUnauthorized, "unauthorized")

	// An advisor who leaves may come back.
	adv.send(t, `{"type":"leave"}`)
	if code := adv.waitClosed(t); code != websocket.StatusNormalClosure {
		t.Fatalf("advisor close code %v", code)
	}
	adv = e.mustDial(t, "c1", staffCookie(1))
	if w := adv.waitType(t, TypeWelcome); w.Self.ID != advID || w.Self.State != StateJoined {
		t.Fatalf("advisor welcome: %s", w.raw)
	}
}

func TestEnd(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	roster := map[ParticipantID]State{advID: StateJoined}
	cu, _, cookie := admitted(t, e, adv, roster)
	_, wcookie := e.addCustomer(t, "c1", "waiting one")
	waiter := e.mustDial(t, "c1", wcookie)
	waiter.waitType(t, TypeWelcome)

	e.hub.End(t.Context(), "c1")
	for i, c := range []*client{adv, cu, waiter} {
		c.waitFor(t, "state ended", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateEnded })
		if code := c.waitClosed(t); code != StatusEnded {
			t.Fatalf("client %d closed with %v, want 4004", i, code)
		}
	}
	if _, ok := e.hub.Snapshot("c1"); ok {
		t.Fatal("ended consultation still known")
	}
	if _, _, err := e.hub.AddCustomer(t.Context(), "c1", "x"); !errors.Is(err, ErrEnded) {
		t.Fatalf("AddCustomer after end: %v", err)
	}
	e.hub.Open(ConsultationInfo{ID: "c1"})
	if _, _, err := e.hub.AddCustomer(t.Context(), "c1", "x"); !errors.Is(err, ErrEnded) {
		t.Fatalf("AddCustomer after reopen: %v", err)
	}
	e.expectHTTPError(t, "c1", cookie, http.StatusGone, "ended")
	e.expectHTTPError(t, "c1", staffCookie(1), http.StatusGone, "ended")
	// Sessions are deleted.
	if _, err := e.hub.store.Get(t.Context(), sessionKey(strings.TrimPrefix(cookie, "parley_session="))); !errors.Is(err, ErrNoSession) {
		t.Fatalf("session after end: %v", err)
	}
	if v := metric(t, e.reg, "parley_consultations_active"); v != 0 {
		t.Fatalf("consultations gauge %v", v)
	}
	if v := metric(t, e.reg, "parley_participants", "state", "joined"); v != 0 {
		t.Fatalf("joined gauge %v", v)
	}
	if _, _, err := e.hub.AddCustomer(t.Context(), "unknown", "x"); !errors.Is(err, ErrNoConsultation) {
		t.Fatalf("AddCustomer unknown: %v", err)
	}
}

func TestPingTimeout(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 50 * time.Millisecond
	cfg.PongTimeout = 50 * time.Millisecond
	e := newEnv(t, cfg, nil)
	e.hub.Open(ConsultationInfo{ID: "c1"})
	// A client that never reads never answers pings.
	ws, _, err := websocket.Dial(t.Context(), e.url("c1"), &websocket.DialOptions{
		HTTPClient: e.client, Subprotocols: []string{Subprotocol},
		HTTPHeader: http.Header{"Cookie": {staffCookie(1)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	deadline := time.Now().Add(waitTimeout)
	for metric(t, e.reg, "parley_signaling_errors_total", "code", metricPingTimeout) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no ping timeout")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for {
		if s, _ := e.hub.Snapshot("c1"); s.Joined == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("participant still joined")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A responsive client is not disconnected by pings.
func TestPingKeepsAlive(t *testing.T) {
	cfg := testConfig()
	cfg.PingInterval = 20 * time.Millisecond
	cfg.PongTimeout = time.Second
	_, adv, _ := callSetup(t, cfg)
	time.Sleep(200 * time.Millisecond)
	adv.send(t, `{"type":"ping"}`)
	adv.waitType(t, TypePong)
}

func TestQueueOverflowCloses(t *testing.T) {
	m := newMetrics(nil)
	cfg := Config{SendQueue: 2}
	c := newConn("c_test", nil, &cfg, m, discardLogger())
	for range 2 {
		if !c.send([]byte("x")) {
			t.Fatal("send into free queue failed")
		}
	}
	if c.send([]byte("x")) {
		t.Fatal("send into full queue succeeded")
	}
	if !c.closing() || c.code != StatusQueueFull || c.mode != closeHandshake {
		t.Fatalf("closing %v code %v mode %v", c.closing(), c.code, c.mode)
	}
	if c.send([]byte("x")) {
		t.Fatal("send after close succeeded")
	}
}

func TestOriginParsing(t *testing.T) {
	h := NewHub(Config{AllowedOrigins: []string{"https://a.example", "b.example:8080", "not a url", "://x"}}, nil, nil, nil, nil)
	defer h.Close()
	tests := []struct {
		origin, host string
		ok           bool
	}{
		{"", "srv", true},
		{"http://srv", "srv", true},
		{"https://SRV", "srv", true},
		{"https://a.example", "srv", true},
		{"http://a.example", "srv", false},
		{"https://a.example:444", "srv", false},
		{"http://b.example:8080", "srv", true},
		{"https://b.example:8080", "srv", true},
		{"https://b.example", "srv", false},
		{"https://evil.example", "srv", false},
		{"null", "srv", false},
		{"https://srv.evil.example", "srv", false},
	}
	for _, tt := range tests {
		r, _ := http.NewRequest("GET", "http://"+tt.host+"/ws/x", nil)
		if tt.origin != "" {
			r.Header.Set("Origin", tt.origin)
		}
		if got := h.originAllowed(r); got != tt.ok {
			t.Errorf("origin %q host %q: %v, want %v", tt.origin, tt.host, got, tt.ok)
		}
	}
	if !offersSubprotocol(http.Header{"Sec-Websocket-Protocol": {"foo, parley.v1"}}) || offersSubprotocol(http.Header{"Sec-Websocket-Protocol": {"parley.v2"}}) {
		t.Fatal("subprotocol parsing")
	}
}

func TestWelcomeJSONShape(t *testing.T) {
	// The fields the browser client reads, spelled as PROTOCOL.md says.
	b := encode(welcomeMsg{Type: TypeWelcome, Protocol: 1, Self: ParticipantInfo{ID: "p", Tracks: map[string]TrackSource{}}, ICEServers: []webrtc.ICEServer{}})
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "protocol", "self", "consultation", "iceServers"} {
		if _, ok := m[k]; !ok {
			t.Fatalf("welcome lacks %q: %s", k, b)
		}
	}
	self := m["self"].(map[string]any)
	for _, k := range []string{"id", "name", "role", "state", "audio", "video", "screen", "tracks"} {
		if _, ok := self[k]; !ok {
			t.Fatalf("participant lacks %q: %s", k, b)
		}
	}
}

// checkGoroutines returns a function that fails the test if goroutines
// started since remain (waiting a while for them to end).
func checkGoroutines(t *testing.T) func() {
	t.Helper()
	before := runtime.NumGoroutine()
	return func() {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines before, %d after:\n%s", before, n, buf)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func TestHubCloseNoLeaks(t *testing.T) {
	check := checkGoroutines(t)
	cfg := testConfig()
	cfg.PingInterval = 30 * time.Millisecond
	e := newEnv(t, cfg, nil)
	e.hub.Open(ConsultationInfo{ID: "c1"})
	e.hub.Open(ConsultationInfo{ID: "c2"})
	adv := e.mustDial(t, "c1", staffCookie(1))
	adv.waitType(t, TypeWelcome)
	var clients []*client
	for i := range 3 {
		_, cookie := e.addCustomer(t, "c1", "")
		c := e.mustDial(t, "c1", cookie)
		c.waitType(t, TypeWelcome)
		clients = append(clients, c)
		c2 := e.mustDial(t, "c2", staffCookie(10+i))
		c2.waitType(t, TypeWelcome)
		clients = append(clients, c2)
	}
	clients = append(clients, adv)
	// Some are mid-conversation.
	adv.send(t, `{"type":"ping"}`)
	e.hub.Close()
	for i, c := range clients {
		if code := c.waitClosed(t); code != websocket.StatusGoingAway {
			t.Fatalf("client %d closed with %v, want 1001", i, code)
		}
	}
	e.hub.Close() // idempotent
	e.expectHTTPError(t, "c1", staffCookie(1), http.StatusServiceUnavailable, "unavailable")
	if _, _, err := e.hub.AddCustomer(t.Context(), "c1", ""); err == nil {
		t.Fatal("AddCustomer after Close succeeded")
	}
	if v := metric(t, e.reg, "parley_consultations_active"); v != 0 {
		t.Fatalf("consultations gauge %v", v)
	}
	e.close()
	check()
}

// Connections that come and go leave nothing behind, while the hub runs.
func TestConnectionsDoNotLeak(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	check := checkGoroutines(t)
	roster := map[ParticipantID]State{advID: StateJoined}
	for range 5 {
		cu, pid, cookie := admitted(t, e, adv, roster)
		cu2 := e.mustDial(t, "c1", cookie) // replaces cu
		cu.waitClosed(t)
		cu2.waitType(t, TypeWelcome)
		cu2.send(t, `{"type":"leave"}`)
		cu2.waitClosed(t)
		delete(roster, pid)
		adv.waitRoster(t, roster)
		cu.ws.CloseNow()
		cu2.ws.CloseNow()
	}
	e.tr.CloseIdleConnections()
	check()
}

func TestInboundPolicy(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 40 messages per second are always fine.
	var calm inbound
	for i := range 400 {
		if v := calm.admit(t0.Add(time.Duration(i)*25*time.Millisecond), TypePing, true); !v.ok {
			t.Fatalf("message %d at 40/s limited", i)
		}
	}
	// 200 per second: a burst of 50 passes, then about 50 per second; one
	// report per second; closed after 5 seconds of flooding.
	var flood inbound
	passed, reports := 0, 0
	for i := 0; ; i++ {
		now := t0.Add(time.Duration(i) * 5 * time.Millisecond)
		v := flood.admit(now, TypePing, false)
		if v.ok {
			passed++
		}
		if v.report {
			reports++
		}
		if v.flood {
			if d := now.Sub(t0); d < 4*time.Second || d > 6*time.Second {
				t.Fatalf("closed after %v", d)
			}
			break
		}
		if i > 10000 {
			t.Fatal("never closed")
		}
	}
	if reports != maxFloodSeconds || passed < 200 || passed > 350 {
		t.Fatalf("reports %d, passed %d", reports, passed)
	}
	// A pause resets the count.
	var pause inbound
	for i := range 2000 {
		now := t0.Add(time.Duration(i) * time.Millisecond)
		if i >= 1000 {
			now = now.Add(3 * time.Second) // after a pause
		}
		if v := pause.admit(now, TypePing, false); v.flood {
			t.Fatal("closed despite a pause")
		}
	}
}

func TestInboundPolicyHoldsCallMessages(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// 40 call messages a second never wait.
	var calm inbound
	for i := range 400 {
		if v := calm.admit(t0.Add(time.Duration(i)*25*time.Millisecond), TypeCandidate, true); !v.ok || v.wait != 0 || v.flood {
			t.Fatalf("message %d at 40/s: %+v", i, v)
		}
	}
	// A client that would send 200 a second: every message is taken, the
	// reader waits (so it runs at about 50 a second after a burst of 50),
	// and after 10 seconds of that the connection is closed.
	var flood inbound
	now, n := t0, 0
	for {
		v := flood.admit(now, TypeAnswer, true)
		if !v.ok {
			t.Fatalf("call message %d dropped", n)
		}
		n++
		now = now.Add(max(5*time.Millisecond, v.wait))
		if v.flood {
			break
		}
		if n > 10000 {
			t.Fatal("never closed")
		}
	}
	if d := now.Sub(t0); d < 9*time.Second || d > 12*time.Second {
		t.Fatalf("closed after %v", d)
	}
	if rate := float64(n) / now.Sub(t0).Seconds(); rate < 45 || rate > 60 {
		t.Fatalf("%d call messages in %v: %.0f a second", n, now.Sub(t0), rate)
	}
}

// TestRateLimitNeverLosesCallMessages: one advisor sends 200 messages a
// second for 2 seconds (chat, pings, candidates, answers and one admit,
// all with an id). No answer and no admit is dropped: each gets the
// handler's own reply (here a media_failed error, as the hub has no media
// plane) and the admit admits; every message that is refused gets a
// rate_limited error naming its ref.
func TestRateLimitNeverLosesCallMessages(t *testing.T) {
	e, adv, advID := callSetup(t, testConfig())
	pid, cookie := e.addCustomer(t, "c1", customerName)
	adv.waitRoster(t, map[ParticipantID]State{advID: StateJoined, pid: StateWaiting})
	cu := e.mustDial(t, "c1", cookie)
	cu.waitType(t, TypeWelcome)
	adv.drain()

	const total = 400
	kinds := []string{"chat", "ping", "candidate", "answer", "ping", "chat", "candidate", "ping", "answer", "chat"}
	sent := map[string]string{} // id → type
	sendErr := make(chan error, 1)
	go func() {
		tick := time.NewTicker(10 * time.Millisecond) // 2 messages per tick
		defer tick.Stop()
		for i := 0; i < total; i += 2 {
			<-tick.C
			for j := i; j < i+2; j++ {
				var b string
				id := fmt.Sprintf(`"m%d"`, j)
				switch k := kinds[j%len(kinds)]; {
				case j == total/2:
					b = `{"type":"admit","participant":"` + string(pid) + `","id":` + id + `}`
				case k == "chat":
					b = fmt.Sprintf(`{"type":"chat","msg":%q,"body":%q,"id":%s}`, msgID(j+1), b64("x"), id)
				case k == "ping":
					b = `{"type":"ping","id":` + id + `}`
				case k == "candidate":
					b = `{"type":"candidate","target":"publish","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0},"id":` + id + `}`
				case k == "answer":
					b = `{"type":"answer","sdp":"v=0\r\n","id":` + id + `}`
				}
				if err := adv.ws.Write(t.Context(), websocket.MessageText, []byte(b)); err != nil {
					sendErr <- err
					return
				}
			}
		}
		sendErr <- nil
	}()
	for i := range total {
		k := kinds[i%len(kinds)]
		if i == total/2 {
			k = "admit"
		}
		sent[fmt.Sprintf(`"m%d"`, i)] = k
	}
	if err := <-sendErr; err != nil {
		t.Fatalf("send: %v", err)
	}

	// Collect the replies naming a request until each request with a
	// reply of its own has one (chat echoes carry the message id, not a
	// ref: a chat is answered when it is not refused).
	refused := map[string]int{}
	replied := map[string]bool{}
	unnamed := 0
	deadline := time.After(20 * time.Second)
	want := 0
	for _, k := range sent {
		if k != "chat" && k != "admit" {
			want++
		}
	}
	answered := 0
	for answered < want {
		select {
		case m := <-adv.msgs:
			switch {
			case m.Type == TypeError && m.Code == CodeRateLimited && len(m.Ref) == 0:
				unnamed++
			case m.Type == TypeError && m.Code == CodeRateLimited:
				refused[sent[string(m.Ref)]]++
				if !replied[string(m.Ref)] && sent[string(m.Ref)] != "chat" {
					answered++
				}
				replied[string(m.Ref)] = true
			case (m.Type == TypeError || m.Type == TypePong) && len(m.Ref) > 0:
				if !replied[string(m.Ref)] {
					answered++
				}
				replied[string(m.Ref)] = true
			}
		case <-adv.done:
			t.Fatalf("connection closed after %d of %d replies: %v", answered, want, adv.closeErr)
		case <-deadline:
			t.Fatalf("%d of %d requests answered", answered, want)
		}
	}
	cu.waitFor(t, "admitted", func(m serverMessage) bool { return m.Type == TypeState && m.State == StateJoined })
	if refused["answer"]+refused["candidate"]+refused["admit"] > 0 {
		t.Fatalf("call messages refused: %v", refused)
	}
	if refused["ping"]+refused["chat"] == 0 {
		t.Fatalf("nothing refused: the test did not flood (%v)", refused)
	}
	if unnamed > 0 {
		t.Fatalf("%d rate_limited errors without ref, though every message had an id", unnamed)
	}
	t.Logf("refused %v", refused)
}
