package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/parley-video/parley/records"
)

// apiContract is the served OpenAPI document, loaded and checked once for
// all tests (kin-openapi validates a 3.1 document with JSON Schema 2020-12).
var apiContract = sync.OnceValues(func() (routers.Router, error) {
	js, err := openapiJSON()
	if err != nil {
		return nil, err
	}
	return loadContract(js)
})

// loadContract loads an OpenAPI document (JSON) and makes its router.
func loadContract(js []byte) (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(js)
	if err != nil {
		return nil, fmt.Errorf("load openapi: %w", err)
	}
	r, err := legacy.NewRouter(doc) // validates the document
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	return r, nil
}

// outsideContract are the paths the OpenAPI document does not describe,
// with the reason: HTML pages, the client's static files, the WebSocket.
var outsideContract = []struct{ prefix, why string }{
	{"/ws/", "WebSocket upgrade; its protocol is signaling/PROTOCOL.md"},
	{"/static/", "the embedded browser client's files"},
	{"/brand/", "the company's logo, favicon and colours (CSS) for the pages"},
	{"/auth/oidc/", "browser redirects of the single sign-on (web/SSO.md)"},
}

// outsideContractPages are HTML pages (exact paths or prefixes ending in /).
var outsideContractPages = []string{"/", "/login", "/app", "/app/call/", "/j/", "/c/", "/privacy",
	"/backoffice", "/my-data", "/admin/users", "/admin/data-requests"}

// inContract reports whether requests to path are held to the document.
func inContract(path string) bool {
	for _, o := range outsideContract {
		if strings.HasPrefix(path, o.prefix) {
			return false
		}
	}
	return strings.HasPrefix(path, "/api/") || path == "/healthz" || path == "/readyz" || path == "/metrics"
}

// contractCheck is a middleware for test servers that validates every
// request and response of the API against the OpenAPI document and fails
// the test on drift:
//   - a request the document allows must get a response the document
//     allows for it (status, content type, body schema);
//   - a request the document does not allow (a test of bad input) must be
//     refused with a 4xx that is a documented error body;
//   - a request to an API path the document does not know must be a 404
//     or 405 error.
//
// Responses are buffered to be checked before the client sees them.
type contractCheck struct {
	t      testing.TB
	router routers.Router
	next   http.Handler
}

// withContract wraps h in contractCheck with the embedded document.
func withContract(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	r, err := apiContract()
	if err != nil {
		t.Fatal(err)
	}
	return &contractCheck{t: t, router: r, next: h}
}

func (cc *contractCheck) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !inContract(r.URL.Path) {
		cc.next.ServeHTTP(w, r)
		return
	}
	var reqBody []byte
	if r.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(r.Body); err != nil {
			http.Error(w, "read body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	rec := httptest.NewRecorder()
	cc.next.ServeHTTP(rec, r)
	res := rec.Result()
	body := rec.Body.Bytes()
	if msg := cc.check(r, reqBody, res, body); msg != "" {
		cc.t.Errorf("OpenAPI drift: %s %s → %d: %s\nresponse body: %.600s", r.Method, r.URL.Path, res.StatusCode, msg, body)
	}
	maps.Copy(w.Header(), res.Header)
	w.WriteHeader(res.StatusCode)
	w.Write(body)
}

// check returns what is wrong with the exchange, or "".
func (cc *contractCheck) check(r *http.Request, reqBody []byte, res *http.Response, body []byte) string {
	return checkExchange(cc.router, r, reqBody, res.StatusCode, res.Header, body)
}

// checkExchange validates one request and its response against router's
// document.
func checkExchange(router routers.Router, r *http.Request, reqBody []byte, status int, header http.Header, body []byte) string {
	ctx := context.Background()
	route, params, err := router.FindRoute(r)
	if err != nil {
		if status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return ""
		}
		return "the route is not in web/openapi.yaml: " + err.Error()
	}
	req := r.Clone(ctx)
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	reqErr := openapi3filter.ValidateRequest(ctx, in)
	if reqErr != nil && (status < 400 || status > 499) {
		return fmt.Sprintf("a request the document does not allow (%v) was answered %d, not refused", reqErr, status)
	}
	if r.Method == http.MethodHead {
		return ""
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: status, Header: header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return "the response does not match the document: " + err.Error()
	}
	return ""
}

// TestOpenAPIServed: the document is served, is OpenAPI 3.1 and valid.
func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do(e.client(), "GET", "/api/v1/openapi.json", nil)
	if r.StatusCode != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET openapi.json: %d %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Errorf("served document is not valid: %v", err)
	}
}

// TestOpenAPICoversEveryRoute walks gin's routes: every API route is in
// the document, every other route is a page, a static file or the
// WebSocket (outsideContract, outsideContractPages); and every operation
// of the document is a route.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	js, err := openapiJSON()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(js)
	if err != nil {
		t.Fatal(err)
	}
	gin := map[string]bool{}
	for _, rt := range e.srv.routes(http.NotFoundHandler()).Routes() { // with /metrics
		p := ginToOpenAPIPath(rt.Path)
		gin[rt.Method+" "+p] = true
		if !inContract(p) {
			if !isPage(p) {
				t.Errorf("%s %s is neither in web/openapi.yaml nor listed as a page, static or WebSocket route", rt.Method, rt.Path)
			}
			continue
		}
		item := doc.Paths.Find(p)
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Errorf("%s %s is a route but not in web/openapi.yaml", rt.Method, p)
		}
	}
	for p, item := range doc.Paths.Map() {
		for m := range item.Operations() {
			if !gin[m+" "+p] {
				t.Errorf("web/openapi.yaml has %s %s, which is no route", m, p)
			}
		}
	}
}

// ginToOpenAPIPath turns /a/:id/*rest into /a/{id}/{rest}.
func ginToOpenAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, ":") || strings.HasPrefix(s, "*") {
			parts[i] = "{" + s[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// isPage reports whether p is an HTML page, a static file or the WebSocket.
func isPage(p string) bool {
	for _, o := range outsideContract {
		if strings.HasPrefix(p, o.prefix) {
			return true
		}
	}
	for _, pg := range outsideContractPages {
		if p == pg || (strings.HasSuffix(pg, "/") && pg != "/" && strings.HasPrefix(p, pg)) {
			return true
		}
	}
	return false
}

// driftLog is a testing.TB that collects contractCheck's failures instead
// of failing the test.
type driftLog struct {
	testing.TB
	mu   sync.Mutex
	msgs []string
}

func (d *driftLog) Errorf(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.msgs = append(d.msgs, fmt.Sprintf(format, args...))
}

func (d *driftLog) failures() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.msgs)
}

// TestOpenAPICheckCatchesDrift shows the check fails when a handler's
// response drifts from the document: handlers that rename a field, add
// one, answer an undocumented status or content type, serve a route the
// document lacks, or accept what the document forbids; and a document
// that no longer matches the real handler. The unchanged server passes.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	e := newEnv(t)
	c, _ := e.loggedIn("anna", records.RoleAdvisor)
	real := e.srv.Handler()
	rewrite := func(from, to string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			rec := httptest.NewRecorder()
			real.ServeHTTP(rec, r)
			maps.Copy(w.Header(), rec.Header())
			w.WriteHeader(rec.Code)
			w.Write(bytes.Replace(rec.Body.Bytes(), []byte(from), []byte(to), 1))
		})
	}
	fixed := func(status int, ctype, body string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ctype)
			w.WriteHeader(status)
			io.WriteString(w, body)
		})
	}
	js, err := openapiJSON()
	if err != nil {
		t.Fatal(err)
	}
	// The document with User's displayName renamed: the real handler drifts from it.
	mutated, err := loadContract(bytes.ReplaceAll(js, []byte(`"displayName"`), []byte(`"fullName"`)))
	if err != nil {
		t.Fatal(err)
	}
	good, err := apiContract()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		router routers.Router
		h      http.Handler
		method string
		path   string
		body   any
		drift  string // part of the failure; "" none
	}{
		{"unchanged", good, real, "GET", "/api/v1/me", nil, ""},
		{"unchanged error", good, real, "GET", "/api/v1/consultations/c_nope", nil, ""},
		{"unknown API path", good, real, "GET", "/api/v1/nope", nil, ""},
		{"renamed field", good, rewrite(`"displayName"`, `"display_name"`), "GET", "/api/v1/me", nil, "display_name"},
		{"added field", good, rewrite(`"available"`, `"extra":1,"available"`), "GET", "/api/v1/me", nil, "extra"},
		{"wrong type", good, rewrite(`"available":false`, `"available":"no"`), "GET", "/api/v1/me", nil, "available"},
		{"undocumented status", good, fixed(http.StatusAccepted, "application/json", `{}`), "GET", "/api/v1/me", nil, "202"},
		{"undocumented content type", good, fixed(http.StatusOK, "text/plain", `hi`), "GET", "/api/v1/me", nil, "text/plain"},
		{"error body drift", good, fixed(http.StatusNotFound, "application/json", `{"error":"not found"}`), "GET", "/api/v1/me", nil, "error"},
		{"route not in the document", good, fixed(http.StatusOK, "application/json", `{}`), "GET", "/api/v1/undocumented", nil, "not in web/openapi.yaml"},
		{"forbidden request accepted", good, fixed(http.StatusOK, "application/json", `{"user":{}}`), "POST", "/api/v1/login", map[string]any{"username": 1}, "not refused"},
		{"document drifts from the handler", mutated, real, "GET", "/api/v1/me", nil, "fullName"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			log := &driftLog{TB: t}
			ts := httptest.NewServer(&contractCheck{t: log, router: tc.router, next: tc.h})
			defer ts.Close()
			var rd io.Reader
			if tc.body != nil {
				b, _ := json.Marshal(tc.body)
				rd = bytes.NewReader(b)
			}
			req, _ := http.NewRequest(tc.method, ts.URL+tc.path, rd)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set(headerCSRF, e.csrf(c))
			u, _ := url.Parse(e.ts.URL)
			for _, ck := range c.Jar.Cookies(u) {
				req.AddCookie(ck)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got := strings.Join(log.failures(), "\n")
			switch {
			case tc.drift == "" && got != "":
				t.Errorf("unexpected drift reported:\n%s", got)
			case tc.drift != "" && !strings.Contains(got, tc.drift):
				t.Errorf("drift %q not reported; got:\n%s", tc.drift, got)
			}
		})
	}
}
