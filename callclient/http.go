package callclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path"
	"strings"
)

// Cookie and header names of web/API.md.
const (
	cookieCSRF = "parley_csrf"
	headerCSRF = "X-CSRF-Token"
)

// maxResponseBytes bounds the response bodies the client reads.
const maxResponseBytes = 1 << 20

// HTTP is one user's HTTP session with a Parley server: a cookie jar (the
// staff login or the customer's parley_session) and its own transport, so
// that Close can drop its idle connections. Safe for concurrent use.
type HTTP struct {
	base      *url.URL // scheme://host, no path
	client    *http.Client
	transport *http.Transport
	// participant is the customer's participant id from the join response
	// (empty for staff).
	participant ID
}

// APIError is an error response of the REST API: the HTTP status and the
// body's {"error": {"code", "message"}}.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("HTTP %d %s: %s", e.Status, e.Code, e.Message)
}

// newHTTP builds a session for the server at baseURL (only scheme and host
// are used).
func newHTTP(baseURL string) (*HTTP, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("callclient: base URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("callclient: base URL %q: want http(s)://host[:port]", baseURL)
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, fmt.Errorf("callclient: cookie jar: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	return &HTTP{
		base:      &url.URL{Scheme: u.Scheme, Host: u.Host},
		transport: tr,
		client: &http.Client{
			Jar:       jar,
			Transport: tr,
			// Redirects are answers here (the colleague link), not detours.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Staff logs in as a staff user (POST /api/v1/login) and returns the
// session; state-changing requests carry the CSRF header from then on.
func Staff(ctx context.Context, baseURL, username, password string) (*HTTP, error) {
	h, err := newHTTP(baseURL)
	if err != nil {
		return nil, err
	}
	body := map[string]string{"username": username, "password": password}
	if err := h.do(ctx, http.MethodPost, "/api/v1/login", body, http.StatusOK, nil); err != nil {
		h.Close()
		return nil, fmt.Errorf("callclient: login as %q: %w", username, err)
	}
	if h.csrf() == "" {
		h.Close()
		return nil, fmt.Errorf("callclient: login as %q: no %s cookie", username, cookieCSRF)
	}
	return h, nil
}

// JoinInvite follows a customer invite link the way the join page does:
// GET /api/v1/invites/{token} for the consent version, then POST
// …/join with consent. It returns the customer's session (holding the
// parley_session cookie) and the consultation id.
func JoinInvite(ctx context.Context, inviteURL, name string) (*HTTP, string, error) {
	u, err := url.Parse(inviteURL)
	if err != nil {
		return nil, "", fmt.Errorf("callclient: invite URL: %w", err)
	}
	dir, token := path.Split(u.Path)
	if dir != "/j/" || token == "" {
		return nil, "", fmt.Errorf("callclient: invite URL %q is not …/j/<token>", inviteURL)
	}
	h, err := newHTTP(inviteURL)
	if err != nil {
		return nil, "", err
	}
	var invite struct {
		ConsultationID string `json:"consultationId"`
		Consent        struct {
			Version string `json:"version"`
		} `json:"consent"`
	}
	p := "/api/v1/invites/" + url.PathEscape(token)
	if err := h.do(ctx, http.MethodGet, p, nil, http.StatusOK, &invite); err != nil {
		h.Close()
		return nil, "", fmt.Errorf("callclient: get invite: %w", err)
	}
	req := map[string]any{"name": name, "consent": true, "consentVersion": invite.Consent.Version, "lang": "en"}
	var joined struct {
		ConsultationID string `json:"consultationId"`
		ParticipantID  string `json:"participantId"`
	}
	if err := h.do(ctx, http.MethodPost, p+"/join", req, http.StatusOK, &joined); err != nil {
		h.Close()
		return nil, "", fmt.Errorf("callclient: join: %w", err)
	}
	if joined.ConsultationID == "" || joined.ParticipantID == "" {
		h.Close()
		return nil, "", errors.New("callclient: join: response without consultationId or participantId")
	}
	h.participant = ID(joined.ParticipantID)
	return h, joined.ConsultationID, nil
}

// BaseURL is the server's origin, e.g. http://127.0.0.1:8080.
func (h *HTTP) BaseURL() string { return h.base.String() }

// Participant is the customer's participant id from the join response
// ("" for staff sessions).
func (h *HTTP) Participant() ID { return h.participant }

// Close drops the session's idle keep-alive connections. The session can
// still be used afterwards (new connections are opened as needed).
func (h *HTTP) Close() { h.transport.CloseIdleConnections() }

// CreateConsultation creates a consultation (POST /api/v1/consultations)
// and returns its id and customer invite URL.
func (h *HTTP) CreateConsultation(ctx context.Context, title string) (id, inviteURL string, err error) {
	var out struct {
		ID        string `json:"id"`
		InviteURL string `json:"inviteUrl"`
	}
	if err := h.do(ctx, http.MethodPost, "/api/v1/consultations", map[string]string{"title": title}, http.StatusCreated, &out); err != nil {
		return "", "", fmt.Errorf("callclient: create consultation: %w", err)
	}
	if out.ID == "" || out.InviteURL == "" {
		return "", "", errors.New("callclient: create consultation: response without id or inviteUrl")
	}
	return out.ID, out.InviteURL, nil
}

// End ends a consultation (POST /api/v1/consultations/{id}/end); everyone
// in the call gets state "ended".
func (h *HTTP) End(ctx context.Context, id string) error {
	var out struct {
		State string `json:"state"`
	}
	if err := h.do(ctx, http.MethodPost, "/api/v1/consultations/"+url.PathEscape(id)+"/end", nil, http.StatusOK, &out); err != nil {
		return fmt.Errorf("callclient: end %s: %w", id, err)
	}
	if out.State != "ended" {
		return fmt.Errorf("callclient: end %s: state is %q afterwards", id, out.State)
	}
	return nil
}

// ColleagueLink creates a link for another advisor
// (POST /api/v1/consultations/{id}/colleague).
func (h *HTTP) ColleagueLink(ctx context.Context, id string) (string, error) {
	var out struct {
		URL string `json:"url"`
	}
	if err := h.do(ctx, http.MethodPost, "/api/v1/consultations/"+url.PathEscape(id)+"/colleague", nil, http.StatusOK, &out); err != nil {
		return "", fmt.Errorf("callclient: colleague link for %s: %w", id, err)
	}
	if out.URL == "" {
		return "", fmt.Errorf("callclient: colleague link for %s: response without url", id)
	}
	return out.URL, nil
}

// AcceptColleague joins through a colleague link as this logged-in staff
// user, which adds the consultation to the user's list: the link's page is
// a confirmation, joining is its form's POST /c/{token} with the login's
// CSRF token. It returns the consultation id from the redirect to
// /app/call/{id}.
func (h *HTTP) AcceptColleague(ctx context.Context, link string) (string, error) {
	u, err := url.Parse(link)
	if err != nil {
		return "", fmt.Errorf("callclient: colleague link: %w", err)
	}
	form := url.Values{"csrf": {h.csrf()}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.base.String()+u.EscapedPath(), strings.NewReader(form))
	if err != nil {
		return "", fmt.Errorf("callclient: accept colleague link: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", h.BaseURL())
	resp, err := h.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("callclient: accept colleague link: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	loc := resp.Header.Get("Location")
	id, ok := strings.CutPrefix(loc, "/app/call/")
	if resp.StatusCode != http.StatusSeeOther || !ok || id == "" {
		return "", fmt.Errorf("callclient: accept colleague link: HTTP %d, Location %q", resp.StatusCode, loc)
	}
	if id, err = url.PathUnescape(id); err != nil {
		return "", fmt.Errorf("callclient: accept colleague link: Location %q: %w", loc, err)
	}
	return id, nil
}

// Do sends one JSON request of web/API.md not covered by a method here
// (p is a path with query; body, if not nil, is sent as JSON) and decodes
// a response with status want into out (if not nil); other statuses come
// back as an *APIError.
func (h *HTTP) Do(ctx context.Context, method, p string, body any, want int, out any) error {
	return h.do(ctx, method, p, body, want, out)
}

// Raw sends req (for bodies that are not JSON, e.g. a file's
// ciphertext) with h's cookies, Origin and CSRF token. The caller closes
// the response body.
func (h *HTTP) Raw(req *http.Request) (*http.Response, error) {
	req.Header.Set("Origin", h.BaseURL())
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		if t := h.csrf(); t != "" {
			req.Header.Set(headerCSRF, t)
		}
	}
	return h.client.Do(req)
}

// csrf is the parley_csrf cookie's value, "" without one.
func (h *HTTP) csrf() string {
	for _, c := range h.client.Jar.Cookies(h.base) {
		if c.Name == cookieCSRF {
			return c.Value
		}
	}
	return ""
}

// send makes one request to the server (p is a path with query). body, if
// not nil, is sent as JSON.
func (h *HTTP) send(ctx context.Context, method, p string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base.String()+p, rd)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", h.BaseURL())
	if method != http.MethodGet && method != http.MethodHead {
		if t := h.csrf(); t != "" {
			req.Header.Set(headerCSRF, t)
		}
	}
	return h.client.Do(req)
}

// do sends a JSON request and decodes a JSON response with status want
// into out (if not nil); other statuses become an *APIError.
func (h *HTTP) do(ctx context.Context, method, p string, body any, want int, out any) error {
	resp, err := h.send(ctx, method, p, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, p, err)
	}
	if resp.StatusCode != want {
		return apiError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: decode response: %w", method, p, err)
	}
	return nil
}

// apiError builds an *APIError from an error response body.
func apiError(status int, body []byte) *APIError {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Code == "" {
		msg := strings.TrimSpace(string(body))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		return &APIError{Status: status, Code: "unknown", Message: msg}
	}
	return &APIError{Status: status, Code: e.Error.Code, Message: e.Error.Message}
}
