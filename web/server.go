// Package web is Parley's public HTTP server: the REST API of API.md, the
// staff login, the embedded browser client and its pages, the privacy
// notice, health checks, and the /ws/{id} route into the signaling hub.
//
// Everything a handler needs comes through New; the package has no globals
// besides the embedded files and the compiled templates.
package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/throttle"
	"github.com/parley-video/parley/webhooks"
)

// Hub is what web needs from the live-consultation hub; *signaling.Hub
// implements it. A consultation's life (opening its room, joins, the end)
// goes through the consultation service instead.
type Hub interface {
	// ServeCustomer upgrades a customer's request to the protocol WebSocket.
	ServeCustomer(w http.ResponseWriter, r *http.Request, id signaling.ConsultationID, cookie string)
	// ServeStaff upgrades an advisor's request to the protocol WebSocket.
	ServeStaff(w http.ResponseWriter, r *http.Request, id signaling.ConsultationID, who signaling.Staff)
	// Snapshot returns live participant counts.
	Snapshot(id signaling.ConsultationID) (signaling.Snapshot, bool)
	// SetAvailable mirrors a staff user's availability into the presence
	// other nodes read; an error means the session store did not get it now.
	SetAvailable(ctx context.Context, userID int64, name string, available bool) error
	// SetAdvisorAway tells a live consultation's customers whether its
	// advisor is away (the availability switch is off).
	SetAdvisorAway(id signaling.ConsultationID, away bool) bool
	// Notify pushes a server message (document events) into a live call.
	Notify(id signaling.ConsultationID, to signaling.Audience, msg any) bool
	// RemoveCustomer, RenameCustomer and HasCustomer serve data-subject
	// requests in a live call (subject.go).
	RemoveCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID) bool
	RenameCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID, name string) bool
	HasCustomer(id signaling.ConsultationID, pid signaling.ParticipantID) bool
	// JoinedCustomers lists the customers in the call (documents.go).
	JoinedCustomers(id signaling.ConsultationID) []signaling.ParticipantID
}

var _ Hub = (*signaling.Hub)(nil)

// LoginThrottle is the failed-login rule of one kind of key (throttle
// package): throttle.Memory on one node, throttle.Redis shared by a
// cluster. Begin's error means the attempt must be refused.
type LoginThrottle interface {
	Begin(ctx context.Context, key string) (throttle.Attempt, error)
	End(ctx context.Context, a throttle.Attempt, o throttle.Outcome) error
}

var (
	_ LoginThrottle = (*throttle.Memory)(nil)
	_ LoginThrottle = (*throttle.Redis)(nil)
)

// Deps are the parts the web server works with.
type Deps struct {
	Records *records.Store
	Hub     Hub
	// Consultations creates, joins, connects and ends consultations.
	Consultations *consultation.Service
	// Files is the store of files and photos exchanged in calls.
	Files *blobs.Store
	// Ready reports the readiness of further dependencies by name (nil
	// error: ready); /readyz adds the records check. May be nil.
	Ready func(ctx context.Context) map[string]error
	// Signer signs documents in calls (documents.go); nil disables the
	// document endpoints (503).
	Signer Signer
	// Verifier checks PDFs for the back office (backoffice.go); nil
	// disables verification (503).
	Verifier Verifier
	// EscrowFingerprint is shown in the privacy notice (the key biometric
	// data is sealed to).
	EscrowFingerprint string
	// Now is the clock (nil: time.Now); tests of retention pass a fake.
	Now func() time.Time
	// Relay sends consultation-scoped requests to the consultation's home
	// node (cluster mode); nil serves everything here.
	Relay Relay
	// AdvisorAwayElsewhere tells the other nodes that the advisor of
	// consultation id switched their availability (cluster mode; nil
	// alone), for rooms this node does not hold.
	AdvisorAwayElsewhere func(ctx context.Context, consultation string, away bool)
	// Throttle makes the login throttle for budget failures per minute and
	// a backoff of at most max (cluster mode: one shared by all nodes).
	// nil: in this process's memory.
	Throttle func(budget int, max time.Duration) LoginThrottle
	// Appointments books consultations for a slot and mails the
	// customer (appointments.go); nil: no appointment endpoints.
	Appointments *appointment.Service
	// Webhooks tells other systems what happened (webhooks/WEBHOOKS.md);
	// nil: nothing is told.
	Webhooks *webhooks.Hooks
	// Outbox queues e-mail (a contract's copy on request, subject_mail.go);
	// used only when mail.enabled. nil: no e-mail.
	Outbox *outbox.Outbox
	// Metrics, when set, is served at /metrics (for admin.addr ""; API.md
	// recommends a separate admin address instead). May be nil.
	Metrics http.Handler
}

// Cookie names.
const (
	cookieStaff   = "parley_staff"   // staff login token (HttpOnly)
	cookieCSRF    = "parley_csrf"    // CSRF token, readable by the page script
	cookieSession = "parley_session" // customer session (HttpOnly)
	headerCSRF    = "X-CSRF-Token"
)

// maxHashWaiters bounds the logins queued for a password-hashing slot;
// beyond it logins are answered 503 at once.
const maxHashWaiters = 256

// maxBodyBytes bounds JSON request bodies.
const maxBodyBytes = 64 << 10

// Server is the public HTTP server's handler and its state.
type Server struct {
	cfg     config.Config
	rec     *records.Store
	hub     Hub
	cons    *consultation.Service
	ready   func(ctx context.Context) map[string]error
	log     *slog.Logger
	now     func() time.Time
	engine  *gin.Engine
	trust   proxyTrust
	origins originPolicy
	links   linkHosts // hosts links may use without http.public_url
	// Login throttling (auth.go, device.go, hashgate.go; the rule: throttle/).
	netThrottle   LoginThrottle
	userThrottle  LoginThrottle
	devThrottle   LoginThrottle
	devKeys       deviceKeys
	hashes        *hashGate
	freeMem       memoryReturn
	consent       consentText
	files         *staticFiles
	blobs         *blobs.Store // files and photos (files.go)
	signer        Signer       // documents.go
	verifier      Verifier     // backoffice.go
	escrowFP      string       // privacy notice
	relay         Relay        // cluster mode: relays to home nodes; nil alone
	awayElsewhere func(ctx context.Context, consultation string, away bool)
	access        *accessWriter
	devLinks      *deviceLinks         // device links (devicelink.go)
	openapi       openapiDoc           // the OpenAPI document as JSON (openapi.go)
	brand         *brand               // the company's look (branding.go)
	sso           *sso                 // staff single sign-on (sso.go); nil when off
	appts         *appointment.Service // appointments.go; nil: none
	hooks         *webhooks.Hooks      // events for other systems; nil: none
	mailOut       *outbox.Outbox       // subject_mail.go; nil: no e-mail

	// Joins per invite (invites.go): per consultation, and per
	// consultation and client network.
	joinsInvite, joinsNet *limiter
}

// New builds the server. cfg should have passed config.Validate.
func New(cfg config.Config, deps Deps, log *slog.Logger) (*Server, error) {
	if deps.Records == nil {
		return nil, errors.New("web: Deps.Records is nil")
	}
	if deps.Hub == nil {
		return nil, errors.New("web: Deps.Hub is nil")
	}
	if deps.Consultations == nil {
		return nil, errors.New("web: Deps.Consultations is nil")
	}
	if deps.Files == nil {
		return nil, errors.New("web: Deps.Files is nil")
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	trust, err := newProxyTrust(cfg.HTTP.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("web: http.trusted_proxies: %w", err)
	}
	origins, err := newOriginPolicy(cfg.HTTP.PublicURL, cfg.HTTP.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	brand, err := loadBrand(cfg)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	files, err := brand.client(embeddedStatic())
	if err != nil {
		return nil, fmt.Errorf("web: embedded client: %w", err)
	}
	// Zero values (configurations not from config.Default) get the defaults.
	def := config.Default().Auth
	if cfg.Auth.LoginBackoffMax <= 0 {
		cfg.Auth.LoginBackoffMax = def.LoginBackoffMax
	}
	if cfg.Auth.AccountBackoffMax <= 0 {
		cfg.Auth.AccountBackoffMax = def.AccountBackoffMax
	}
	if cfg.Auth.PasswordHashWait <= 0 {
		cfg.Auth.PasswordHashWait = def.PasswordHashWait
	}
	perMinute := cfg.Auth.LoginAttemptsPerMinute
	hashSlots := cfg.Auth.PasswordHashConcurrency
	if hashSlots <= 0 {
		hashSlots = min(runtime.GOMAXPROCS(0), 4)
	}
	newThrottle := deps.Throttle
	if newThrottle == nil {
		newThrottle = func(budget int, max time.Duration) LoginThrottle { return throttle.NewMemory(budget, max, time.Now) }
	}
	s := &Server{
		cfg:           cfg,
		rec:           deps.Records,
		hub:           deps.Hub,
		cons:          deps.Consultations,
		ready:         deps.Ready,
		log:           log,
		now:           time.Now,
		trust:         trust,
		origins:       origins,
		links:         newLinkHosts(cfg.HTTP),
		netThrottle:   newThrottle(perMinute, cfg.Auth.LoginBackoffMax),
		userThrottle:  newThrottle(perMinute, cfg.Auth.AccountBackoffMax),
		devThrottle:   newThrottle(perMinute, cfg.Auth.LoginBackoffMax),
		hashes:        newHashGate(hashSlots, maxHashWaiters),
		consent:       newConsentText(cfg.Company.Name, cfg.Retention.PreJoin.Duration()),
		files:         files,
		brand:         brand,
		blobs:         deps.Files,
		signer:        deps.Signer,
		verifier:      deps.Verifier,
		escrowFP:      deps.EscrowFingerprint,
		relay:         deps.Relay,
		awayElsewhere: deps.AdvisorAwayElsewhere,
		appts:         deps.Appointments,
		hooks:         deps.Webhooks,
		mailOut:       deps.Outbox,
	}
	if deps.Now != nil {
		s.now = deps.Now
	}
	s.joinsInvite = newLimiter(max(1, cfg.Consultation.JoinsPerMinute), time.Minute, time.Now)
	s.joinsNet = newLimiter(max(1, cfg.Consultation.JoinsPerNetworkPerMinute), time.Minute, time.Now)
	s.access = newAccessWriter(deps.Records, log)
	s.devLinks = newDeviceLinks(func() time.Time { return s.now() })
	s.sso = newSSO(cfg.Auth.OIDC, log)
	s.engine = s.routes(deps.Metrics)
	return s, nil
}

// Handler returns the HTTP handler of the public server.
func (s *Server) Handler() http.Handler { return s.engine }

func (s *Server) routes(metrics http.Handler) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New() // no gin logger, no gin recovery: ours below
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil) // client addresses come from proxyTrust only
	e.Use(s.acceptRelayed, s.accessLog, s.recovery, s.securityHeaders, s.transferDeadlines, s.relayToHome)

	e.GET("/healthz", s.handleHealthz)
	e.GET("/readyz", s.handleReadyz)
	if metrics != nil {
		e.GET("/metrics", gin.WrapH(metrics))
	}

	api := e.Group("/api/v1", s.limitBody, s.checkOrigin)
	api.GET("/openapi.json", s.api(s.handleOpenAPI))
	api.POST("/login", s.api(s.handleLogin))
	api.POST("/logout", s.api(s.handleLogout))
	s.ssoRoutes(api, e)
	api.GET("/invites/:token", s.api(s.handleGetInvite))
	api.POST("/invites/:token/join", s.api(s.handleJoin))

	staff := api.Group("", s.requireStaff, s.checkCSRF)
	staff.GET("/me", s.api(s.handleMe))
	staff.PUT("/me/availability", s.api(s.handleAvailability))

	cons := staff.Group("/consultations", s.requireConsultRole)
	cons.GET("", s.api(s.handleListConsultations))
	cons.POST("", s.api(s.handleCreateConsultation))
	cons.GET("/:id", s.api(s.handleGetConsultation))
	cons.POST("/:id/invite", s.api(s.handleNewInvite))
	cons.POST("/:id/colleague", s.api(s.handleColleagueInvite))
	cons.POST("/:id/end", s.api(s.handleEnd))
	s.deviceLinkRoutes(cons)
	s.appointmentRoutes(staff.Group("", s.requireConsultRole))

	s.fileRoutes(e)
	s.documentRoutes(e)
	s.backofficeRoutes(staff, e)
	s.subjectRoutes(api, staff, e)
	s.userRoutes(staff, e)
	s.brandRoutes(e)

	e.GET("/ws/:id", s.checkOrigin, s.api(s.handleWS))

	e.GET("/", s.page(s.handleRoot))
	e.GET("/login", s.page(s.handleLoginPage))
	e.GET("/app", s.page(s.handleAppPage))
	e.GET("/app/call/:id", s.page(s.handleAppPage))
	e.GET("/j/:token", s.page(s.handleJoinPage))
	e.GET("/c/:token", s.page(s.handleColleaguePage))
	e.POST("/c/:token", s.page(s.handleColleagueAccept))
	e.GET("/privacy", s.page(s.handlePrivacy))
	e.GET("/static/*filepath", s.page(s.handleStatic))
	e.HEAD("/static/*filepath", s.page(s.handleStatic))

	e.NoRoute(func(c *gin.Context) { s.failAny(c, errNoRoute) })
	e.NoMethod(func(c *gin.Context) { s.failAny(c, errMethod) })
	return e
}

// handlerFunc is a handler that reports failure by returning an error;
// s.api and s.page render it in one place.
type handlerFunc func(c *gin.Context) error

// api adapts h for JSON endpoints: errors become JSON error bodies.
func (s *Server) api(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.fail(c, err)
		}
	}
}

// page adapts h for HTML pages: errors become the error page.
func (s *Server) page(h handlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.failPage(c, err)
		}
	}
}

// scheme is the scheme the client used: https under TLS, or when a trusted
// proxy says so in X-Forwarded-Proto.
func (s *Server) scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	if s.trust.trusted(peerAddr(r)) || isRelayed(r) {
		proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		if strings.EqualFold(strings.TrimSpace(proto), "https") {
			return "https"
		}
	}
	return "http"
}

// baseURL is where links point: http.public_url, or, without it, the
// request's own scheme and host if that host is one the configuration
// knows (linkHosts). A Host header can be forged: links never carry a
// host from anywhere else (421 errMisdirected).
func (s *Server) baseURL(r *http.Request) (string, error) {
	if s.cfg.HTTP.PublicURL != "" {
		return strings.TrimRight(s.cfg.HTTP.PublicURL, "/"), nil
	}
	if !s.links.allows(r.Host) {
		return "", errMisdirected
	}
	return s.scheme(r) + "://" + r.Host, nil
}

// secureCookies reports whether cookies get the Secure attribute.
func (s *Server) secureCookies(r *http.Request) bool {
	return s.cfg.TLS() || s.scheme(r) == "https"
}

// safeNext returns next if it is a local path (no scheme, no host, no
// protocol-relative or backslash tricks), otherwise "".
func safeNext(next string) string {
	if next == "" || len(next) > 2048 || next[0] != '/' {
		return ""
	}
	if strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\x00\r\n\t") {
		return ""
	}
	for _, c := range next {
		if c < 0x20 || c == 0x7f {
			return ""
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") {
		return ""
	}
	return next
}
