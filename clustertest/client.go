package clustertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"testing"
	"time"
)

// Client is a browser-like HTTP client of the cluster: one cookie jar
// (a staff login, a customer session), requests through the balancer by
// default, the CSRF header on state-changing requests.
type Client struct {
	// Base is where requests go, normally the balancer's URL.
	Base string
	HTTP *http.Client
}

// Client returns a new client (empty cookie jar) that talks to the
// balancer.
func (c *Cluster) Client() *Client { return NewClient(c.LB.URL()) }

// NewClient returns a client of base with an empty cookie jar. Cookies do
// not tell ports apart, so the same jar also works against a node's URL.
func NewClient(base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{Base: base, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is a read response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Backend is the node that answered through the balancer
	// (HeaderBackend), empty for a direct request.
	Backend string
	// Took is how long the request took.
	Took time.Duration
}

// JSON decodes the body into v, failing t if it is not JSON.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("response %d is not JSON (%v): %s", r.Status, err, r.Body)
	}
}

// ErrorCode is the "code" of a JSON error answer ({"error": {"code": ...}}
// or {"code": ...}), empty if there is none.
func (r Response) ErrorCode() string {
	var v struct {
		Code  string `json:"code"`
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	if json.Unmarshal(r.Body, &v) != nil {
		return ""
	}
	if v.Error.Code != "" {
		return v.Error.Code
	}
	return v.Code
}

// ReqOption changes one request.
type ReqOption func(*http.Request)

// OnNode pins the request to the node with that id (HeaderNode).
func OnNode(id string) ReqOption {
	return func(r *http.Request) { r.Header.Set(HeaderNode, id) }
}

// FromIP makes the balancer report ip as the client's address.
func FromIP(ip string) ReqOption {
	return func(r *http.Request) { r.Header.Set(HeaderClientIP, ip) }
}

// Header sets a request header.
func Header(name, value string) ReqOption {
	return func(r *http.Request) { r.Header.Set(name, value) }
}

// Do sends a request; body, unless nil, is sent as JSON. Transport
// errors fail t; any HTTP status is returned.
func (c *Client) Do(t testing.TB, method, path string, body any, opts ...ReqOption) Response {
	t.Helper()
	r, err := c.Try(method, path, body, opts...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// Try is Do returning transport errors instead of failing.
func (c *Client) Try(method, path string, body any, opts ...ReqOption) (Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return Response{}, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.Base+path, rd)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if method != http.MethodGet && method != http.MethodHead {
		if v := c.Cookie("parley_csrf"); v != "" {
			req.Header.Set("X-CSRF-Token", v)
		}
	}
	for _, o := range opts {
		o(req)
	}
	start := time.Now()
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Response{}, err
	}
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: b,
		Backend: resp.Header.Get(HeaderBackend), Took: time.Since(start)}, nil
}

// Cookie is the value of the named cookie the jar would send to Base.
func (c *Client) Cookie(name string) string {
	u, err := url.Parse(c.Base)
	if err != nil {
		return ""
	}
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == name {
			return ck.Value
		}
	}
	return ""
}

// Login logs a staff user in (POST /api/v1/login) and fails t unless it
// succeeds.
func (c *Client) Login(t testing.TB, user, password string, opts ...ReqOption) Response {
	t.Helper()
	r := c.Do(t, http.MethodPost, "/api/v1/login", map[string]string{"username": user, "password": password}, opts...)
	if r.Status != http.StatusOK {
		t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	return r
}
