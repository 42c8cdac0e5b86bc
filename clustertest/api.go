package clustertest

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/parley-video/parley/routing"
)

// Admin returns a client logged in, through the balancer, as the first
// admin (whose password one node wrote at the first start).
func (c *Cluster) Admin(t testing.TB, opts ...ReqOption) *Client {
	t.Helper()
	cl := c.Client()
	cl.Login(t, "admin", c.AdminPassword(t), opts...)
	return cl
}

// Consultation is a consultation created through the API.
type Consultation struct {
	ID string `json:"id"`
	// InviteURL is the customer's link (on the balancer's public URL);
	// Token is its last path element.
	InviteURL string `json:"inviteUrl"`
	Token     string `json:"-"`
}

// NewConsultation creates a consultation as the staff client (POST
// /api/v1/consultations) and fails t unless it is created.
func (cl *Client) NewConsultation(t testing.TB, title string, opts ...ReqOption) Consultation {
	t.Helper()
	r := cl.Do(t, http.MethodPost, "/api/v1/consultations", map[string]string{"title": title}, opts...)
	if r.Status != http.StatusCreated {
		t.Fatalf("create consultation: %d %s", r.Status, r.Body)
	}
	var con Consultation
	r.JSON(t, &con)
	_, con.Token, _ = strings.Cut(con.InviteURL, "/j/")
	return con
}

// Join joins a consultation anonymously as a customer through its invite
// token (POST /api/v1/invites/{token}/join) and returns the answer as it
// is; on 200 the client holds the customer's session cookie.
func (cl *Client) Join(t testing.TB, token string, opts ...ReqOption) Response {
	t.Helper()
	return cl.Do(t, http.MethodPost, "/api/v1/invites/"+url.PathEscape(token)+"/join",
		map[string]any{"consent": false, "lang": "en"}, opts...)
}

// Registry is a read-only view of the cluster's node registry and home
// mapping in Redis: use Nodes, Node and Owner. (It is not a node: never
// call its Start, Register or Home, which would write.)
func (c *Cluster) Registry(t testing.TB) *routing.Registry {
	t.Helper()
	rdb, err := routing.Dial(t.Context(), c.Shared.RedisURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	return routing.New(rdb, routing.Config{Prefix: c.Shared.KeyPrefix}, routing.Node{ID: "clustertest-observer"}, nil, nil)
}
