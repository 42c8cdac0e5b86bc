package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

const testPassword = "correct horse battery"

// fakeHub is a hand-written Hub that records what web asks of it.
type fakeHub struct {
	mu        sync.Mutex
	opened    map[signaling.ConsultationID]signaling.ConsultationInfo
	customers []string // names passed to AddCustomer
	ended     []signaling.ConsultationID
	served    []string // "staff <cid> <userID>" or "customer <cid> <cookie>"
	addErr    error
	addPanic  bool
	available map[int64]bool // SetAvailable calls, last value per user
	notified  []any          // Notify messages
	availErr  error
	// access answers Customer by cookie; customerErr overrides it.
	access      map[string]signaling.CustomerAccess
	customerErr error
}

func newFakeHub() *fakeHub {
	return &fakeHub{opened: map[signaling.ConsultationID]signaling.ConsultationInfo{}}
}

func (h *fakeHub) Open(info signaling.ConsultationInfo) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.opened[info.ID] = info
}

func (h *fakeHub) AddCustomerAs(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID, name string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.addPanic {
		panic("fake hub exploded with secret detail")
	}
	if h.addErr != nil {
		return "", h.addErr
	}
	if _, ok := h.opened[id]; !ok {
		return "", signaling.ErrNoConsultation
	}
	h.customers = append(h.customers, name)
	return "session-cookie-value", nil
}

func (h *fakeHub) ServeCustomer(w http.ResponseWriter, r *http.Request, id signaling.ConsultationID, cookie string) {
	h.mu.Lock()
	h.served = append(h.served, "customer "+string(id)+" "+cookie)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"as":"customer"}`)
}

func (h *fakeHub) ServeStaff(w http.ResponseWriter, r *http.Request, id signaling.ConsultationID, who signaling.Staff) {
	h.mu.Lock()
	h.served = append(h.served, "staff "+string(id)+" "+who.Name)
	h.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	io.WriteString(w, `{"as":"staff"}`)
}

func (h *fakeHub) End(ctx context.Context, id signaling.ConsultationID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ended = append(h.ended, id)
	delete(h.opened, id)
}

func (h *fakeHub) Snapshot(id signaling.ConsultationID) (signaling.Snapshot, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.opened[id]; !ok {
		return signaling.Snapshot{}, false
	}
	return signaling.Snapshot{ID: id, Joined: 1, Waiting: len(h.customers)}, true
}

func (h *fakeHub) SetAvailable(ctx context.Context, userID int64, name string, available bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.available == nil {
		h.available = map[int64]bool{}
	}
	h.available[userID] = available
	return h.availErr
}

func (h *fakeHub) Notify(id signaling.ConsultationID, to signaling.Audience, msg any) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.notified = append(h.notified, msg)
	return true
}

func (h *fakeHub) Customer(ctx context.Context, id signaling.ConsultationID, cookie string) (signaling.CustomerAccess, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.customerErr != nil {
		return signaling.CustomerAccess{}, h.customerErr
	}
	acc, ok := h.access[cookie]
	if !ok {
		return signaling.CustomerAccess{}, signaling.ErrNoSession
	}
	if acc.Consultation != id {
		return signaling.CustomerAccess{}, signaling.ErrForbidden
	}
	return acc, nil
}

func (h *fakeHub) DropCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID) error {
	return nil
}

func (h *fakeHub) RemoveCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID) bool {
	return false
}

func (h *fakeHub) RenameCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID, name string) bool {
	return false
}

func (h *fakeHub) SetAdvisorAway(id signaling.ConsultationID, away bool) bool { return false }

func (h *fakeHub) JoinedCustomers(id signaling.ConsultationID) []signaling.ParticipantID {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []signaling.ParticipantID
	for _, acc := range h.access {
		if acc.Consultation == id && acc.State == signaling.StateJoined {
			out = append(out, acc.Participant)
		}
	}
	slices.Sort(out)
	return out
}

func (h *fakeHub) HasCustomer(id signaling.ConsultationID, pid signaling.ParticipantID) bool {
	return false
}

var (
	_ Hub              = (*fakeHub)(nil)
	_ consultation.Hub = (*fakeHub)(nil)
)

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testClient files stand in for web/static, which another engineer writes.
func testClientFiles() fstest.MapFS {
	return fstest.MapFS{
		"login.html":      {Data: []byte("<!doctype html><title>login</title>LOGIN-PAGE")},
		"app.html":        {Data: []byte("<!doctype html><title>app</title>APP-PAGE")},
		"join.html":       {Data: []byte("<!doctype html><title>join</title>JOIN-PAGE")},
		"css/app.css":     {Data: []byte("body{margin:0}")},
		"js/app.js":       {Data: []byte("export const x = 1;")},
		"img/logo.svg":    {Data: []byte("<svg xmlns='http://www.w3.org/2000/svg'/>")},
		"fonts/a.woff2":   {Data: []byte("wOF2")},
		".keep":           {Data: []byte("")},
		"js/.secret.js":   {Data: []byte("secret")},
		".git/config":     {Data: []byte("secret")},
		"_private/x.html": {Data: []byte("secret")},
	}
}

// env is one web server on a real SQLite store and an httptest server.
type env struct {
	t    *testing.T
	cfg  config.Config
	rec  *records.Store
	hub  Hub
	fake *fakeHub
	srv  *Server
	cons *consultation.Service
	// files is the store of files and photos the server and the
	// consultation service share.
	files *blobs.Store
	ts    *httptest.Server
	logs  *syncBuffer
	log   *slog.Logger
}

// newService gives the env (and its server, once built) a consultation
// service that removes unsigned documents through docs (may be nil).
func (e *env) newService(docs consultation.Documents) {
	e.t.Helper()
	cons, err := consultation.New(consultation.ConfigFrom(e.cfg), consultation.Deps{
		Records: e.rec, Hub: e.hub.(consultation.Hub), Files: e.files, Docs: docs, Log: e.log})
	if err != nil {
		e.t.Fatal(err)
	}
	e.cons = cons
	if e.srv != nil {
		e.srv.cons = cons
	}
}

type envOption func(*config.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	return newEnvWith(t, nil, false, opts...)
}

// newEnvWith builds an env; hub nil means a fakeHub; tlsServer starts an
// HTTPS test server.
func newEnvWith(t *testing.T, hub Hub, tlsServer bool, opts ...envOption) *env {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Company = config.CompanyConfig{Name: "Beispiel Bank AG", PrivacyContact: "datenschutz@beispiel.example"}
	for _, o := range opts {
		o(&cfg)
	}
	rec, err := records.Open(context.Background(), cfg.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rec.Close() })
	e := &env{t: t, cfg: cfg, rec: rec, logs: &syncBuffer{}}
	if hub == nil {
		e.fake = newFakeHub()
		hub = e.fake
	}
	e.hub = hub
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys, err := blobs.LoadKeyRing("", filepath.Join(cfg.DataDir, "keys"), log)
	if err != nil {
		t.Fatal(err)
	}
	if e.files, err = blobs.Open(filepath.Join(cfg.DataDir, "files"), keys); err != nil {
		t.Fatal(err)
	}
	e.log = log
	e.newService(nil)
	e.srv, err = New(cfg, Deps{Records: rec, Hub: hub, Consultations: e.cons, Files: e.files}, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.srv.Close)
	// Appointments without e-mail (appointments_test.go adds a mailer).
	if e.srv.appts, err = appointment.New(appointment.Config{}, rec, nil); err != nil {
		t.Fatal(err)
	}
	if e.srv.files, err = newStaticFiles(testClientFiles()); err != nil {
		t.Fatal(err)
	}
	if tlsServer {
		e.ts = httptest.NewTLSServer(withContract(t, e.srv.Handler()))
	} else {
		e.ts = httptest.NewServer(withContract(t, e.srv.Handler()))
	}
	t.Cleanup(e.ts.Close)
	return e
}

// user creates a staff account with testPassword.
func (e *env) user(name string, role records.Role) records.User {
	e.t.Helper()
	u, err := e.rec.CreateUser(context.Background(), name, strings.ToUpper(name[:1])+name[1:]+" Muster", role, testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// client is a browser-like client: cookie jar, no redirect following.
func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := e.ts.Client()
	return &http.Client{
		Transport:     c.Transport,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       10 * time.Second,
	}
}

// response is a finished request.
type response struct {
	*http.Response
	body []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response %d is not JSON: %v: %s", r.StatusCode, err, r.body)
	}
	return m
}

// errCode is the code of an API error body.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

func (r response) cookie(name string) *http.Cookie {
	for _, c := range r.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// do sends a request. body: nil, a string (sent as is) or a value (JSON).
// hdr are header name/value pairs.
func (e *env) do(c *http.Client, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		js, _ := json.Marshal(b)
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp, b}
}

// csrf reads the parley_csrf cookie from c's jar.
func (e *env) csrf(c *http.Client) string {
	u, _ := url.Parse(e.ts.URL)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == cookieCSRF {
			return ck.Value
		}
	}
	return ""
}

// staff sends a staff request with the CSRF header, as the client does.
func (e *env) staff(c *http.Client, method, path string, body any, hdr ...string) response {
	e.t.Helper()
	return e.do(c, method, path, body, append([]string{headerCSRF, e.csrf(c)}, hdr...)...)
}

// login logs c in as name and fails the test otherwise.
func (e *env) login(c *http.Client, name string) {
	e.t.Helper()
	r := e.do(c, "POST", "/api/v1/login", map[string]string{"username": name, "password": testPassword})
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("login %s: %d %s", name, r.StatusCode, r.body)
	}
}

// loggedIn returns a client logged in as a new user.
func (e *env) loggedIn(name string, role records.Role) (*http.Client, records.User) {
	e.t.Helper()
	u := e.user(name, role)
	c := e.client()
	e.login(c, name)
	return c, u
}

// createConsultation creates one via the API and returns id and invite token.
func (e *env) createConsultation(c *http.Client, title string) (string, string) {
	e.t.Helper()
	r := e.staff(c, "POST", "/api/v1/consultations", map[string]string{"title": title})
	if r.StatusCode != http.StatusCreated {
		e.t.Fatalf("create consultation: %d %s", r.StatusCode, r.body)
	}
	m := r.json(e.t)
	inv, _ := m["inviteUrl"].(string)
	_, token, ok := strings.Cut(inv, "/j/")
	if !ok {
		e.t.Fatalf("inviteUrl %q", inv)
	}
	return m["id"].(string), token
}

// consentVersion fetches the current consent version of an invite.
func (e *env) consentVersion(token string) string {
	e.t.Helper()
	r := e.do(e.client(), "GET", "/api/v1/invites/"+token, nil)
	if r.StatusCode != http.StatusOK {
		e.t.Fatalf("get invite: %d %s", r.StatusCode, r.body)
	}
	return r.json(e.t)["consent"].(map[string]any)["version"].(string)
}
