// Package oidctest runs a real OpenID Connect provider on loopback for
// tests: zitadel/oidc's OP package with its example storage and login
// form (a user name and password page), plus a "groups" claim per user.
// It speaks the whole protocol (discovery, authorization code flow with
// PKCE, token and userinfo endpoints, signed ID tokens); only the user
// directory is ours.
package oidctest

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// User is an account at the provider.
type User struct {
	Subject  string // the provider's stable id ("sub")
	Username string // preferred_username, and what the login form takes
	Password string
	Name     string
	Email    string
	Groups   []string // the "groups" claim; none: no claim at all
}

// Provider is a provider bound to a loopback port; Start serves it.
type Provider struct {
	// Issuer is the provider's issuer URL, http://127.0.0.1:<port>.
	Issuer string
	ln     net.Listener

	mu    sync.Mutex
	users map[string]*User
	srv   *http.Server
}

// New binds a loopback port, so the issuer is known before the client's
// redirect URI is.
func New(t testing.TB) *Provider {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return &Provider{Issuer: "http://" + ln.Addr().String(), ln: ln, users: map[string]*User{}}
}

// AddUser adds (or replaces) an account; it may be called while serving.
func (p *Provider) AddUser(u User) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[u.Subject] = &u
}

// SetGroups changes a user's groups claim for later sign-ons.
func (p *Provider) SetGroups(subject string, groups ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if u := p.users[subject]; u != nil {
		u.Groups = groups
	}
}

// Start serves the provider with one confidential web client (client
// secret over HTTP Basic, PKCE, http redirect URIs allowed) until the
// test ends.
func (p *Provider) Start(t testing.TB, clientID, clientSecret string, redirectURIs ...string) {
	t.Helper()
	clients := map[string]*storage.Client{clientID: storage.WebClient(clientID, clientSecret, redirectURIs...)}
	st := &groupStorage{Storage: storage.NewStorageWithClients(directory{p}, clients), p: p}
	// A nil logger: exampleop would otherwise replace the process's
	// default slog logger.
	router := exampleop.SetupServer(p.Issuer, st, nil, false)
	p.srv = &http.Server{Handler: router}
	go p.srv.Serve(p.ln)
	t.Cleanup(func() { p.srv.Close() })
}

// groupStorage adds the groups claim to ID tokens and userinfo.
type groupStorage struct {
	*storage.Storage
	p *Provider
}

func (s *groupStorage) groups(subject string) []string {
	s.p.mu.Lock()
	defer s.p.mu.Unlock()
	if u := s.p.users[subject]; u != nil {
		return append([]string(nil), u.Groups...)
	}
	return nil
}

func (s *groupStorage) SetUserinfoFromRequest(ctx context.Context, ui *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, token, scopes); err != nil {
		return err
	}
	if g := s.groups(token.GetSubject()); len(g) > 0 {
		ui.AppendClaims("groups", g)
	}
	return nil
}

func (s *groupStorage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	if g := s.groups(ui.Subject); len(g) > 0 {
		ui.AppendClaims("groups", g)
	}
	return nil
}

// directory is the example storage's user store over Provider.users.
type directory struct{ p *Provider }

func (d directory) ExampleClientID() string { return storage.ServiceUserID }

func (d directory) GetUserByID(id string) *storage.User {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	return toStorageUser(d.p.users[id])
}

func (d directory) GetUserByUsername(username string) *storage.User {
	d.p.mu.Lock()
	defer d.p.mu.Unlock()
	for _, u := range d.p.users {
		if u.Username == username {
			return toStorageUser(u)
		}
	}
	return nil
}

func toStorageUser(u *User) *storage.User {
	if u == nil {
		return nil
	}
	first, last, _ := strings.Cut(u.Name, " ")
	return &storage.User{ID: u.Subject, Username: u.Username, Password: u.Password, FirstName: first, LastName: last,
		Email: u.Email, EmailVerified: true, PreferredLanguage: language.German}
}

// Close stops a provider that was never started (its port refuses
// connections afterwards: a provider that is down).
func (p *Provider) Close() { p.ln.Close() }
