package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

const waitTimeout = 5 * time.Second

// lockedBuffer collects log output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// env is a hub behind an httptest server with a tiny mux standing in for
// the web layer: GET /ws/{id} with cookie parley_staff=<user id> is an
// advisor, anything else a customer (cookie parley_session).
type env struct {
	hub    *Hub
	srv    *httptest.Server
	reg    *prometheus.Registry
	logs   *lockedBuffer
	tr     *http.Transport
	client *http.Client
	closed bool
}

func newEnv(t *testing.T, cfg Config, media Media) *env {
	t.Helper()
	return newEnvStore(t, cfg, media, NewMemoryStore())
}

// newEnvStore is newEnv with the given session store.
func newEnvStore(t *testing.T, cfg Config, media Media, store SessionStore) *env {
	t.Helper()
	e := &env{reg: prometheus.NewRegistry(), logs: &lockedBuffer{}}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e.hub = NewHub(cfg, media, store, log, e.reg)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := ConsultationID(r.PathValue("id"))
		if c, err := r.Cookie("parley_staff"); err == nil {
			uid, _ := strconv.ParseInt(c.Value, 10, 64)
			e.hub.ServeStaff(w, r, id, Staff{UserID: uid, Name: "Advisor " + c.Value})
			return
		}
		cookie := ""
		if c, err := r.Cookie("parley_session"); err == nil {
			cookie = c.Value
		}
		e.hub.ServeCustomer(w, r, id, cookie)
	})
	e.srv = httptest.NewServer(mux)
	e.tr = &http.Transport{}
	e.client = &http.Client{Transport: e.tr}
	t.Cleanup(func() {
		e.close()
		if t.Failed() {
			t.Logf("hub log:\n%s", e.logs.String())
		}
	})
	return e
}

// close shuts the hub and the server down.
func (e *env) close() {
	if e.closed {
		return
	}
	e.closed = true
	e.hub.Close()
	e.srv.Close()
	e.tr.CloseIdleConnections()
}

func (e *env) url(id ConsultationID) string {
	return "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/ws/" + string(id)
}

type dialOpt func(h http.Header, o *websocket.DialOptions)

func withOrigin(origin string) dialOpt {
	return func(h http.Header, _ *websocket.DialOptions) { h.Set("Origin", origin) }
}

func withoutSubprotocol() dialOpt {
	return func(_ http.Header, o *websocket.DialOptions) { o.Subprotocols = nil }
}

// dial opens a protocol WebSocket; cookie is "name=value" or "".
func (e *env) dial(t *testing.T, id ConsultationID, cookie string, opts ...dialOpt) (*client, *http.Response, error) {
	t.Helper()
	return e.dialHook(t, id, cookie, nil, opts...)
}

// dialHook is dial with a hook that sees every message first (on the
// reading goroutine; it must not block) and consumes those it returns true
// for.
func (e *env) dialHook(t *testing.T, id ConsultationID, cookie string, hook func(serverMessage) bool, opts ...dialOpt) (*client, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", cookie)
	}
	o := &websocket.DialOptions{HTTPClient: e.client, HTTPHeader: h, Subprotocols: []string{Subprotocol}}
	for _, opt := range opts {
		opt(h, o)
	}
	ws, resp, err := websocket.Dial(t.Context(), e.url(id), o)
	if err != nil {
		return nil, resp, err
	}
	ws.SetReadLimit(1 << 20)
	c := &client{ws: ws, msgs: make(chan serverMessage, 4096), done: make(chan struct{}), hook: hook}
	go c.readLoop()
	t.Cleanup(func() {
		ws.CloseNow()
		<-c.done
	})
	return c, resp, nil
}

func (e *env) mustDial(t *testing.T, id ConsultationID, cookie string) *client {
	t.Helper()
	c, _, err := e.dial(t, id, cookie)
	if err != nil {
		t.Fatalf("dial %s: %v", id, err)
	}
	return c
}

func staffCookie(uid int) string { return "parley_staff=" + strconv.Itoa(uid) }
func customerCookie(v string) string {
	return "parley_session=" + v
}

// addCustomer adds a customer to id and returns its id and cookie header.
func (e *env) addCustomer(t *testing.T, id ConsultationID, name string) (ParticipantID, string) {
	t.Helper()
	pid, cookie, err := e.hub.AddCustomer(t.Context(), id, name)
	if err != nil {
		t.Fatalf("AddCustomer: %v", err)
	}
	return pid, customerCookie(cookie)
}

// expectHTTPError dials and expects a refusal with status and error code.
func (e *env) expectHTTPError(t *testing.T, id ConsultationID, cookie string, status int, code string, opts ...dialOpt) {
	t.Helper()
	c, resp, err := e.dial(t, id, cookie, opts...)
	if err == nil {
		c.ws.CloseNow()
		t.Fatalf("dial succeeded, want %d", status)
	}
	if resp == nil {
		t.Fatalf("no response: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != status {
		t.Fatalf("status %d, want %d", resp.StatusCode, status)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("content type %q", ct)
	}
	var body struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &body); err != nil {
		t.Fatalf("body %q: %v", b, err)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q", body.Error, code)
	}
}

// serverMessage is any server message.
type serverMessage struct {
	Type         string            `json:"type"`
	Protocol     int               `json:"protocol"`
	Self         ParticipantInfo   `json:"self"`
	Consultation consultationMsg   `json:"consultation"`
	ICEServers   []json.RawMessage `json:"iceServers"`
	Participants []ParticipantInfo `json:"participants"`
	State        State             `json:"state"`
	Reason       string            `json:"reason"`
	SDP          string            `json:"sdp"`
	Target       string            `json:"target"`
	Candidate    json.RawMessage   `json:"candidate"`
	Code         string            `json:"code"`
	Message      string            `json:"message"`
	Ref          json.RawMessage   `json:"ref"`
	raw          []byte
}

// client is a test protocol client; a goroutine reads everything.
type client struct {
	ws       *websocket.Conn
	hook     func(serverMessage) bool
	msgs     chan serverMessage
	done     chan struct{}
	closeErr error // valid after done
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		_, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.closeErr = err
			return
		}
		var m serverMessage
		if err := json.Unmarshal(b, &m); err != nil {
			m.Type = "!invalid"
		}
		m.raw = b
		if c.hook != nil && c.hook(m) {
			continue
		}
		select {
		case c.msgs <- m:
		default:
			c.closeErr = errors.New("test client buffer full")
			c.ws.CloseNow()
			return
		}
	}
}

func (c *client) send(t *testing.T, v any) {
	t.Helper()
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.ws.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// next returns the next message, failing after waitTimeout.
func (c *client) next(t *testing.T) serverMessage {
	t.Helper()
	select {
	case m := <-c.msgs:
		return m
	case <-c.done:
		select {
		case m := <-c.msgs:
			return m
		default:
		}
		t.Fatalf("connection closed: %v", c.closeErr)
	case <-time.After(waitTimeout):
		t.Fatal("no message in time")
	}
	panic("unreachable")
}

// waitFor returns the first message for which ok is true, skipping others.
func (c *client) waitFor(t *testing.T, what string, ok func(serverMessage) bool) serverMessage {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		select {
		case m := <-c.msgs:
			if ok(m) {
				return m
			}
		case <-c.done:
			select {
			case m := <-c.msgs:
				if ok(m) {
					return m
				}
				continue
			default:
			}
			t.Fatalf("connection closed waiting for %s: %v", what, c.closeErr)
		case <-deadline:
			t.Fatalf("no %s in time", what)
		}
	}
}

func (c *client) waitType(t *testing.T, typ string) serverMessage {
	t.Helper()
	return c.waitFor(t, typ, func(m serverMessage) bool { return m.Type == typ })
}

func (c *client) waitError(t *testing.T, code string) serverMessage {
	t.Helper()
	return c.waitFor(t, "error "+code, func(m serverMessage) bool { return m.Type == TypeError && m.Code == code })
}

// waitRoster waits for a roster whose (id, state) pairs are exactly want.
func (c *client) waitRoster(t *testing.T, want map[ParticipantID]State) []ParticipantInfo {
	t.Helper()
	m := c.waitFor(t, "roster", func(m serverMessage) bool {
		if m.Type != TypeRoster || len(m.Participants) != len(want) {
			return false
		}
		for _, p := range m.Participants {
			if want[p.ID] != p.State {
				return false
			}
		}
		return true
	})
	return m.Participants
}

// waitClosed waits for the connection to end and returns the close code
// (-1 if there was no close frame).
func (c *client) waitClosed(t *testing.T) websocket.StatusCode {
	t.Helper()
	select {
	case <-c.done:
		return websocket.CloseStatus(c.closeErr)
	case <-time.After(waitTimeout):
		t.Fatal("connection not closed in time")
	}
	return 0
}

// drain discards the messages received so far.
func (c *client) drain() {
	for {
		select {
		case <-c.msgs:
		default:
			return
		}
	}
}

// metric returns the value of the gauge or counter name with the given
// label pairs, as gathered from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			match := true
			for i := 0; i+1 < len(labels); i += 2 {
				match = match && have[labels[i]] == labels[i+1]
			}
			if !match {
				continue
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
