package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/relay"
	"github.com/parley-video/parley/routing"
	"github.com/parley-video/parley/signaling"
)

// Relay sends a consultation's requests to its home node (cluster mode;
// *relay.Relay). nil on a single node: everything is served here.
type Relay interface {
	// Home returns the internal URL of the consultation's home node, or ""
	// when this node is its home.
	Home(ctx context.Context, consultation string) (string, error)
	// Forward relays the request to target with the client address and
	// scheme this node resolved.
	Forward(w http.ResponseWriter, r *http.Request, target, client, scheme string)
	// Owner returns the internal URL of the consultation's home node when
	// it has a live one other than this node, else "" (assigns nothing).
	Owner(ctx context.Context, consultation string) (string, error)
	// Get asks the node at target for path as a relayed request of r.
	Get(ctx context.Context, target, path string, r *http.Request, client, scheme string) ([]byte, error)
	// Verify reports whether the request was relayed by another node.
	Verify(r *http.Request) (routing.NodeID, bool)
}

// relayedKey marks a request's context as relayed by another node, whose
// X-Forwarded-For and X-Forwarded-Proto are then believed (clientip.go).
type relayedKey struct{}

func isRelayed(r *http.Request) bool {
	v, _ := r.Context().Value(relayedKey{}).(bool)
	return v
}

// acceptRelayed runs first: a request signed by another node of the
// cluster is marked, so that it is served here (never relayed again) and
// its client address and scheme come from the relaying node. A forged or
// stale signature is dropped and the request is treated like any other.
func (s *Server) acceptRelayed(c *gin.Context) {
	if s.relay == nil || c.GetHeader(relay.Header) == "" {
		return
	}
	if _, ok := s.relay.Verify(c.Request); ok {
		c.Request = c.Request.WithContext(context.WithValue(c.Request.Context(), relayedKey{}, true))
		return
	}
	c.Request.Header.Del(relay.Header)
	s.log.Warn("request with an invalid relay signature", "client", s.anonClient(c.Request), "route", c.FullPath())
}

// relayRoutes say how a consultation-scoped route names its consultation.
// Routes not listed are served by any node: they touch only the shared
// records and files (back office, logins, lists, pages).
var relayRoutes = map[string]func(s *Server, c *gin.Context) (consultation.ID, error){
	"/ws/:id":                                 byParam("id"),
	"/api/v1/invites/:token":                  byInvite,
	"/api/v1/invites/:token/join":             byInvite,
	"/api/v1/my-data":                         bySubjectToken,
	"/api/v1/my-data/feedback":                bySubjectToken,
	"/api/v1/admin/data-subjects/:cid/:pid":   byParam("cid"),
	"/api/v1/consultations/:id/my-data":       byParam("id"),
	"/api/v1/consultations/:id":               byParam("id"),
	"/api/v1/consultations/:id/invite":        byParam("id"),
	"/api/v1/consultations/:id/colleague":     byParam("id"),
	"/api/v1/consultations/:id/end":           byParam("id"),
	"/api/v1/consultations/:id/files/:fileId": byParam("id"),
}

// relayRoute returns how route names its consultation; every route under
// /api/v1/consultations/:id/ is consultation-scoped.
func relayRoute(route string) func(s *Server, c *gin.Context) (consultation.ID, error) {
	if f := relayRoutes[route]; f != nil {
		return f
	}
	if strings.HasPrefix(route, "/api/v1/consultations/:id/") {
		return byParam("id")
	}
	return nil
}

func byParam(name string) func(*Server, *gin.Context) (consultation.ID, error) {
	return func(_ *Server, c *gin.Context) (consultation.ID, error) {
		return consultation.ID(c.Param(name)), nil
	}
}

func byInvite(s *Server, c *gin.Context) (consultation.ID, error) {
	con, err := s.cons.ByInvite(c.Request.Context(), c.Param("token"))
	if err != nil {
		return "", err
	}
	return con.ID(), nil
}

func bySubjectToken(s *Server, c *gin.Context) (consultation.ID, error) {
	token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
	if !ok || strings.TrimSpace(token) == "" {
		return "", records.ErrNotFound
	}
	sub, err := s.rec.SubjectByToken(c.Request.Context(), strings.TrimSpace(token))
	if err != nil {
		return "", err
	}
	return consultation.ID(sub.ConsultationID), nil
}

// relayToHome sends a consultation-scoped request that reached this node
// to the consultation's home node (routing/ROUTING.md, "Relaying"). It
// runs after routing (gin matches the route before the chain), before any
// group's checks: the home node does all of them. Requests relayed to us,
// requests of consultations that do not exist or are over, and requests
// of consultations living here go on to the handlers.
func (s *Server) relayToHome(c *gin.Context) {
	if s.relay == nil || isRelayed(c.Request) {
		return
	}
	resolve := relayRoute(c.FullPath())
	if resolve == nil {
		return
	}
	ctx := c.Request.Context()
	id, err := resolve(s, c)
	if err != nil || id == "" || len(id) > 64 {
		return // the handler gives the proper error
	}
	// Only open consultations get a home: an unknown or ended id is
	// answered here and writes nothing to the registry.
	if _, err := s.cons.Active(ctx, id); err != nil {
		return
	}
	target, err := s.relay.Home(ctx, string(id))
	if err != nil {
		s.fail(c, err)
		return
	}
	if target == "" {
		return
	}
	if c.IsWebsocket() {
		clearDeadlines(c.Writer) // the home node's hub keeps the socket alive
	}
	s.relay.Forward(c.Writer, c.Request, target, s.trust.clientIP(c.Request).String(), s.scheme(c.Request))
	c.Abort()
}

// remoteLive fills in the live counts of open consultations whose rooms
// are on other nodes (cluster mode), asking each home node for the
// consultation as the caller (GET /api/v1/consultations/:id), a few at a
// time and briefly: a node that does not answer leaves the counts at 0.
func (s *Server) remoteLive(c *gin.Context, out []consultationJSON) {
	if s.relay == nil || isRelayed(c.Request) {
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	client, scheme := s.trust.clientIP(c.Request).String(), s.scheme(c.Request)
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i := range out {
		if out[i].State != string(records.StateOpen) {
			continue
		}
		if _, here := s.hub.Snapshot(signaling.ConsultationID(out[i].ID)); here {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			target, err := s.relay.Owner(ctx, out[i].ID)
			if err != nil || target == "" {
				return
			}
			body, err := s.relay.Get(ctx, target, "/api/v1/consultations/"+url.PathEscape(out[i].ID), c.Request, client, scheme)
			if err != nil {
				s.log.Debug("live counts from the home node", "consultation", out[i].ID, "err", err)
				return
			}
			var got consultationJSON
			if json.Unmarshal(body, &got) == nil && got.ID == out[i].ID {
				out[i].Live = got.Live
			}
		})
	}
	wg.Wait()
}
