// Package config holds Parley's one typed configuration: defaults in code,
// then a YAML file (unknown keys are errors), then PARLEY_* environment
// variables, then command-line flags; Validate checks the result.
//
// Every key is explained in configs/parley.example.yaml.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/parley-video/parley/turnserver"
)

// Config is the whole configuration of a Parley node.
type Config struct {
	// DataDir holds the SQLite records, blobs and development keys.
	DataDir      string             `yaml:"data_dir"`
	Records      RecordsConfig      `yaml:"records"`
	HTTP         HTTPConfig         `yaml:"http"`
	Admin        AdminConfig        `yaml:"admin"`
	Log          LogConfig          `yaml:"log"`
	Company      CompanyConfig      `yaml:"company"`
	Branding     BrandingConfig     `yaml:"branding"` // config/branding.go
	Auth         AuthConfig         `yaml:"auth"`
	Consultation ConsultationConfig `yaml:"consultation"`
	Signaling    SignalingConfig    `yaml:"signaling"`
	Session      SessionConfig      `yaml:"session"`
	RTC          RTCConfig          `yaml:"rtc"`
	E2EE         E2EEConfig         `yaml:"e2ee"`
	Files        FilesConfig        `yaml:"files"`
	Storage      StorageConfig      `yaml:"storage"`
	Signature    SignatureConfig    `yaml:"signature"`
	// Privacy, Retention and Questions: config/privacy.go.
	Privacy   PrivacyConfig   `yaml:"privacy"`
	Retention RetentionConfig `yaml:"retention"`
	Questions QuestionsConfig `yaml:"questions"`
	// TURN is the embedded TURN server (or an external coturn sharing its
	// secret), for customers behind firewalls that block direct media.
	TURN turnserver.Config `yaml:"turn"`
	// Cluster: many nodes sharing Redis (config/cluster.go).
	Cluster ClusterConfig `yaml:"cluster"`
	// Mail, Outbox and Appointments: config/mail.go.
	Mail         MailConfig         `yaml:"mail"`
	Outbox       OutboxConfig       `yaml:"outbox"`
	Appointments AppointmentsConfig `yaml:"appointments"`
	// Webhooks: config/webhooks.go.
	Webhooks WebhooksConfig `yaml:"webhooks"`
}

// RecordsConfig is where the records (staff, consultations, consents,
// documents' records and audit trails) are kept.
type RecordsConfig struct {
	// Driver is "sqlite" (data_dir/parley.db; one node) or "postgres" (one
	// database any number of nodes share).
	Driver string `yaml:"driver"`
	// URL of the PostgreSQL database when Driver is postgres, e.g.
	// postgres://parley:PASSWORD@10.0.0.6:5432/parley?sslmode=verify-full.
	// Give it in PARLEY_RECORDS_URL rather than a file: it holds the password.
	URL string `yaml:"url"`
	// MaxConns bounds this node's connections to PostgreSQL.
	MaxConns int `yaml:"max_conns"`
}

// SessionConfig is where live state (customer sessions, presence, the
// waiting queue) is kept, and how long a dropped participant may come back.
type SessionConfig struct {
	// Store is "memory" (one node) or "redis" (shared; required in cluster mode).
	Store string `yaml:"store"`
	// RedisURL, e.g. redis://:password@127.0.0.1:6379/0 (rediss:// for TLS).
	// The password may come from PARLEY_SESSION_REDIS_URL instead of a file.
	RedisURL string `yaml:"redis_url"`
	// KeyPrefix starts every Redis key, so several installations can share
	// one Redis.
	KeyPrefix string `yaml:"key_prefix"`
	// GracePeriod is how long a participant whose connection dropped stays
	// "reconnecting" before they have left.
	GracePeriod time.Duration `yaml:"grace_period"`
}

// HTTPConfig is the public web server.
type HTTPConfig struct {
	// Addr is the listen address of the public HTTP server.
	Addr string `yaml:"addr"`
	// PublicURL is the base URL that invite links use, e.g.
	// https://video.example.com. Empty: the request's Host, but only when
	// it is loopback, the host of Addr or of an allowed origin.
	PublicURL string `yaml:"public_url"`
	// AllowedOrigins lists extra origins whose pages may open WebSockets and
	// send state-changing requests; the public URL's origin and the request's
	// own host are always allowed.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// TLSCert and TLSKey are PEM files; both set means HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// TrustedProxies are addresses/CIDRs whose X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ShutdownTimeout bounds graceful shutdown.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// ReadHeaderTimeout bounds reading a request's headers; a new
	// connection that sends no request is closed after it.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request, body included. Uploads
	// get it as a head start, then must keep up MinTransferRate.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a response (from the end of its
	// headers). Downloads get it as a head start, then must keep up
	// MinTransferRate. WebSockets keep their own ping/pong deadlines.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes a keep-alive connection without a next request.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MinTransferRate (bytes per second) is the slowest upload or download
	// of a file or PDF that is carried on past the read/write timeout.
	MinTransferRate int64 `yaml:"min_transfer_rate"`
	// MaxConnections caps the open connections of the public server; 0:
	// three quarters of the process's file-descriptor limit. Beyond it, a
	// few more get 503 "server busy", the rest are closed at once.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerNetwork caps the open connections from one client
	// network (IPv4 /24, IPv6 /48, by the TCP peer, not by headers); more
	// are closed at once. TrustedProxies are exempt. 0: no cap per network.
	MaxConnectionsPerNetwork int `yaml:"max_connections_per_network"`
}

// AdminConfig is the operator's server for /metrics.
type AdminConfig struct {
	// Addr of the metrics server; empty serves /metrics on the public server
	// instead (not recommended), "off" disables it.
	Addr string `yaml:"addr"`
}

// LogConfig selects the log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// CompanyConfig is what customers see about the controller.
type CompanyConfig struct {
	Name string `yaml:"name"`
	// PrivacyContact is the data-protection contact shown in the notice.
	PrivacyContact string `yaml:"privacy_contact"`
}

// AuthConfig governs staff logins.
type AuthConfig struct {
	// SessionTTL is how long a staff login lasts without activity.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// SessionMaxAge ends a staff login this long after it began, however
	// active it is.
	SessionMaxAge time.Duration `yaml:"session_max_age"`
	// LoginAttemptsPerMinute is the failed-login budget per client network
	// (anonymised), per user name and per device cookie; beyond it, the key
	// backs off (1 s, 2 s, 4 s … up to the *_backoff_max below).
	LoginAttemptsPerMinute int `yaml:"login_attempts_per_minute"`
	// LoginBackoffMax caps the backoff of a client network or device.
	LoginBackoffMax time.Duration `yaml:"login_backoff_max"`
	// AccountBackoffMax caps the backoff of a user name for logins without
	// a device cookie (short: anyone can push an account into it).
	AccountBackoffMax time.Duration `yaml:"account_backoff_max"`
	// PasswordHashConcurrency is how many password hashes (64 MiB each)
	// run at once; 0: GOMAXPROCS, at most 4.
	PasswordHashConcurrency int `yaml:"password_hash_concurrency"`
	// PasswordHashWait is how long a login waits for a hashing slot before
	// it is answered 503.
	PasswordHashWait time.Duration `yaml:"password_hash_wait"`
	// BootstrapAdmin is the name of the admin created on first start when
	// no user exists; its password goes to <data_dir>/initial-admin-password.
	BootstrapAdmin string `yaml:"bootstrap_admin"`
	// PasswordLogin allows staff to log in with a user name and password.
	// false (only with oidc.enabled): staff log in through the company's
	// identity provider only.
	PasswordLogin bool `yaml:"password_login"`
	// OIDC is staff single sign-on with OpenID Connect.
	OIDC OIDCConfig `yaml:"oidc"`
}

// OIDCConfig is staff single sign-on through the company's OpenID Connect
// provider (authorization code flow with PKCE; web/SSO.md).
type OIDCConfig struct {
	Enabled bool `yaml:"enabled"`
	// Issuer is the provider's issuer URL (its discovery document lives at
	// <issuer>/.well-known/openid-configuration). https, or http only for
	// a loopback address.
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret of Parley's registration at the provider.
	// The provider must allow <public base>/auth/oidc/callback as redirect
	// URI. Set the secret from the environment (PARLEY_AUTH_OIDC_CLIENT_SECRET).
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes asked for besides openid.
	Scopes []string `yaml:"scopes"`
	// RoleClaim names the claim (a string or a list of strings; a dotted
	// path such as realm_access.roles reaches into objects) whose values
	// RoleMap turns into a Parley role.
	RoleClaim string `yaml:"role_claim"`
	// RoleMap maps claim values to roles (admin, advisor, backoffice).
	// Several matching values give the most powerful role; none refuses
	// the login.
	RoleMap map[string]string `yaml:"role_map"`
	// UsernameClaim and DisplayNameClaim name the claims for the account's
	// user name and shown name.
	UsernameClaim    string `yaml:"username_claim"`
	DisplayNameClaim string `yaml:"display_name_claim"`
	// CreateAccounts creates a staff account at the first single sign-on
	// of someone the role claim admits (just in time). false: only
	// existing accounts (matched by user name at the first sign-on) can
	// use it.
	CreateAccounts bool `yaml:"create_accounts"`
	// ButtonLabel is the login page's button text, e.g. "Musterbank-Konto";
	// empty: "Mit Firmenkonto anmelden" / "Sign in with company account".
	ButtonLabel string `yaml:"button_label"`
}

// ConsultationConfig governs consultations and invite links.
type ConsultationConfig struct {
	// InviteTTL is how long an invite link can be used to join.
	InviteTTL time.Duration `yaml:"invite_ttl"`
	// MaxParticipants in one call, advisors included.
	MaxParticipants int `yaml:"max_participants"`
	// MaxDuration ends a consultation that runs longer.
	MaxDuration time.Duration `yaml:"max_duration"`
	// MaxOpenPerAdvisor caps the open consultations one advisor holds at
	// a time; creating one more is refused (409 too_many).
	MaxOpenPerAdvisor int `yaml:"max_open_per_advisor"`
	// JoinsPerMinute is how many customers may join through one invite
	// per minute, from all networks together; JoinsPerNetworkPerMinute
	// from one client network (IPv4 /24, IPv6 /48). More get 429.
	JoinsPerMinute           int `yaml:"joins_per_minute"`
	JoinsPerNetworkPerMinute int `yaml:"joins_per_network_per_minute"`
}

// SignalingConfig governs the WebSocket protocol.
type SignalingConfig struct {
	// MaxMessageBytes is the read limit for one client message.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// PingInterval between server pings; a client that does not answer
	// within PongTimeout is disconnected.
	PingInterval time.Duration `yaml:"ping_interval"`
	PongTimeout  time.Duration `yaml:"pong_timeout"`
	// SendQueue is the bound of each connection's outgoing queue; a client
	// that falls that far behind is disconnected, never waited for.
	SendQueue int `yaml:"send_queue"`
}

// RTCConfig is the media plane.
type RTCConfig struct {
	// UDPPort carries all ICE traffic (0: a random free port).
	UDPPort int `yaml:"udp_port"`
	// TCPPort is the ICE-TCP fallback (0: random, -1: off).
	TCPPort int `yaml:"tcp_port"`
	// ListenIP binds the media sockets; empty means all addresses.
	ListenIP string `yaml:"listen_ip"`
	// PublicIP is announced instead of local addresses (NAT 1:1).
	PublicIP string `yaml:"public_ip"`
	// IncludeLoopback offers loopback candidates (tests, single-machine demos).
	IncludeLoopback bool `yaml:"include_loopback"`
	// PLIInterval is the minimum time between keyframe requests forwarded
	// to one publisher's track.
	PLIInterval time.Duration `yaml:"pli_interval"`
	// MaxBitrateKbps caps what each sender's browser is asked to send for
	// all its video together (kbit/s; 0: no cap). Below it, the sender
	// follows its receivers' bandwidth (sfu/congestion.go).
	MaxBitrateKbps int `yaml:"max_bitrate_kbps"`
	// MaxParticipants is this node's forwarding headroom: the most
	// participants (joined, waiting or reconnecting, over all its calls) it
	// carries. A customer's join beyond it is refused (503 busy with
	// Retry-After) and a cluster routes new consultations to other nodes,
	// so running calls keep their quality. 0: automatic,
	// AutoParticipantsPerCore per CPU core; -1: no limit.
	MaxParticipants int `yaml:"max_participants"`
}

// AutoParticipantsPerCore is rtc.max_participants per CPU core when it is 0
// (automatic): `make bench` found 28–40 concurrent 1:1 calls (56–80
// participants) within p99 20 ms and 1 % loss on 2 cores, so 30 a core
// stays below that.
const AutoParticipantsPerCore = 30

// NodeParticipants resolves rtc.max_participants for a machine with cores
// CPU cores: the limit, or 0 for none.
func (c RTCConfig) NodeParticipants(cores int) int {
	switch {
	case c.MaxParticipants < 0:
		return 0
	case c.MaxParticipants == 0:
		return AutoParticipantsPerCore * max(1, cores)
	default:
		return c.MaxParticipants
	}
}

// E2EEConfig governs end-to-end encryption of the call (web/E2EE.md).
type E2EEConfig struct {
	// AllowUnencrypted lets a browser without encoded transforms join
	// without end-to-end encryption (the UI then says so to everyone).
	// Off: such a browser gets a clear message and cannot join the call.
	AllowUnencrypted bool `yaml:"allow_unencrypted"`
}

// FilesConfig governs files and photos exchanged in a call (stored as the
// participants' ciphertext while the consultation runs).
type FilesConfig struct {
	// MaxBytes is the largest file or photo one upload may carry.
	MaxBytes int64 `yaml:"max_bytes"`
}

// StorageConfig holds the keys that encrypt stored files and documents at
// rest (blobs/STORAGE.md).
type StorageConfig struct {
	// KeyFile: one key per line, "<id> <base64 of 32 bytes>", the first
	// one writes; mode 0600.
	KeyFile string `yaml:"key_file"`
	// Key: the same lines, comma-separated, usually from the environment
	// (PARLEY_STORAGE_KEY); takes precedence over KeyFile.
	Key string `yaml:"key"`
	// MinFreeBytes: below this much free space on data_dir's file system
	// /readyz reports "disk": "low" (or "full") and not ready. 0: no check.
	MinFreeBytes int64 `yaml:"min_free_bytes"`
	// Backend is where files and documents go: "local" (data_dir/files,
	// data_dir/documents; the default) or "s3" (an S3-compatible bucket,
	// storage.s3). Either way they are encrypted before they are stored.
	Backend string `yaml:"backend"`
	// S3 is the bucket for backend "s3".
	S3 S3Config `yaml:"s3"`
}

// Storage backends.
const (
	StorageLocal = "local"
	StorageS3    = "s3"
)

// S3Config names an S3-compatible bucket (blobs/STORAGE.md).
type S3Config struct {
	// Endpoint is host or host:port, without a scheme (use_tls chooses).
	Endpoint string `yaml:"endpoint"`
	Bucket   string `yaml:"bucket"`
	// Region: empty lets the client ask the server.
	Region string `yaml:"region"`
	// Prefix goes in front of every object name ("parley/" puts files
	// under parley/files/, documents under parley/documents/).
	Prefix      string `yaml:"prefix"`
	AccessKeyID string `yaml:"access_key_id"`
	// SecretAccessKey: set it from the environment
	// (PARLEY_STORAGE_S3_SECRET_ACCESS_KEY); never logged.
	SecretAccessKey string `yaml:"secret_access_key"`
	UseTLS          bool   `yaml:"use_tls"`
	// PathStyle asks for bucket names in the path (host/bucket/object),
	// which most self-hosted servers need, rather than in the host name.
	PathStyle bool `yaml:"path_style"`
}

// SignatureConfig governs contracts signed in a call (signature/PDF.md,
// signature/CAPTURE.md).
type SignatureConfig struct {
	// SealCert and SealKey are PEM files of the platform's signing
	// certificate (with its chain) and private key, which sign every PDF.
	// Both empty: a development CA and seal are generated under
	// <data_dir>/keys on first start, with a warning; never for production.
	SealCert string `yaml:"seal_cert"`
	SealKey  string `yaml:"seal_key"`
	// EscrowPublicKey is the PEM public key the biometric pen data is
	// encrypted to. Its private key is kept offline by the escrow holder
	// (e.g. a notary), never on the server. Empty: a development key pair
	// is generated under <data_dir>/keys (private key included, for tests
	// and demos only).
	EscrowPublicKey string `yaml:"escrow_public_key"`
	// TSAURL is an RFC 3161 time-stamp authority; set, signatures get a
	// time-stamp (PAdES B-T). Empty: B-B (signing time from the server).
	TSAURL string `yaml:"tsa_url"`
	// TrustAnchors is a PEM file of CA certificates verification trusts
	// (parley verify, the back office). Empty: the seal's own CA.
	TrustAnchors string `yaml:"trust_anchors"`
	// SealHistory is a PEM file of earlier seal certificates (after a
	// rotation). Only signatures made with the current seal certificate
	// or one of these count as Parley's; other trusted certificates are
	// third-party signers. Empty: only the current seal.
	SealHistory string `yaml:"seal_history"`
	// MaxPDFBytes is the largest PDF an advisor may upload.
	MaxPDFBytes int64 `yaml:"max_pdf_bytes"`
	// PDFWorkers is how many child processes parse untrusted PDFs at once
	// (upload intake, verification); more requests queue briefly, then get
	// 503. PDFWorkerTimeout and PDFWorkerMemoryMB limit each child.
	PDFWorkers        int           `yaml:"pdf_workers"`
	PDFWorkerTimeout  time.Duration `yaml:"pdf_worker_timeout"`
	PDFWorkerMemoryMB int64         `yaml:"pdf_worker_memory_mb"`
}

// Default returns the embedded defaults: one node, no external service.
func Default() Config {
	cfg := defaultConfig()
	cfg.Mail, cfg.Outbox, cfg.Appointments = defaultMail()
	cfg.Webhooks = WebhooksConfig{Endpoints: []WebhookEndpoint{}, Timeout: 10 * time.Second}
	return cfg
}

func defaultConfig() Config {
	return Config{
		DataDir: "./data",
		Records: RecordsConfig{Driver: "sqlite", MaxConns: 10},
		HTTP: HTTPConfig{
			Addr:                     ":8080",
			ShutdownTimeout:          10 * time.Second,
			ReadHeaderTimeout:        10 * time.Second,
			ReadTimeout:              30 * time.Second,
			WriteTimeout:             60 * time.Second,
			IdleTimeout:              120 * time.Second,
			MinTransferRate:          16 << 10,
			MaxConnectionsPerNetwork: 512,
		},
		Admin:   AdminConfig{Addr: "127.0.0.1:9090"},
		Log:     LogConfig{Level: "info", Format: "text"},
		Company: CompanyConfig{Name: "Parley"},
		Auth: AuthConfig{
			SessionTTL:             12 * time.Hour,
			SessionMaxAge:          12 * time.Hour,
			LoginAttemptsPerMinute: 10,
			LoginBackoffMax:        5 * time.Minute,
			AccountBackoffMax:      time.Minute,
			PasswordHashWait:       3 * time.Second,
			BootstrapAdmin:         "admin",
			PasswordLogin:          true,
			OIDC: OIDCConfig{
				Scopes:           []string{"profile", "email"},
				RoleClaim:        "groups",
				RoleMap:          map[string]string{},
				UsernameClaim:    "preferred_username",
				DisplayNameClaim: "name",
			},
		},
		Consultation: ConsultationConfig{
			InviteTTL:       24 * time.Hour,
			MaxParticipants: 8,
			MaxDuration:     8 * time.Hour,

			MaxOpenPerAdvisor:        20,
			JoinsPerMinute:           30,
			JoinsPerNetworkPerMinute: 6,
		},
		Signaling: SignalingConfig{
			MaxMessageBytes: 64 << 10,
			PingInterval:    15 * time.Second,
			PongTimeout:     10 * time.Second,
			SendQueue:       64,
		},
		Session: SessionConfig{
			Store:       "memory",
			KeyPrefix:   "parley:",
			GracePeriod: 60 * time.Second,
		},
		RTC: RTCConfig{
			UDPPort:        50000,
			TCPPort:        50000,
			PLIInterval:    500 * time.Millisecond,
			MaxBitrateKbps: 4000,
		},
		Files:     FilesConfig{MaxBytes: 20 << 20},
		Storage:   StorageConfig{MinFreeBytes: 256 << 20, Backend: StorageLocal, S3: S3Config{UseTLS: true}},
		Signature: SignatureConfig{MaxPDFBytes: 20 << 20, PDFWorkers: 2, PDFWorkerTimeout: 20 * time.Second, PDFWorkerMemoryMB: 1024},
		Privacy:   PrivacyConfig{AllowAnonymous: true},
		Retention: defaultRetention(),
		Questions: QuestionsConfig{Before: []Question{}, After: []Question{}},
		TURN:      turnserver.DefaultConfig(),
		Cluster:   defaultCluster(),
	}
}

// TLS reports whether the public server speaks HTTPS.
func (c *Config) TLS() bool { return c.HTTP.TLSCert != "" && c.HTTP.TLSKey != "" }

// Validate checks the configuration and says, per problem, what to change.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if strings.TrimSpace(c.DataDir) == "" {
		bad("data_dir", "must name a directory, e.g. ./data")
	}
	switch c.Records.Driver {
	case "sqlite":
		if c.Records.URL != "" {
			bad("records.url", "is set but records.driver is sqlite; set records.driver to postgres to use that database, or clear the URL")
		}
	case "postgres":
		// Never quote the URL: it holds the password.
		if u, err := url.Parse(c.Records.URL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") || u.Host == "" || strings.Trim(u.Path, "/") == "" {
			bad("records.url", "records.driver is postgres, so give a URL such as postgres://parley:PASSWORD@10.0.0.6:5432/parley?sslmode=verify-full (best in PARLEY_RECORDS_URL)")
		}
	default:
		bad("records.driver", "%q is not sqlite or postgres", c.Records.Driver)
	}
	if c.Records.MaxConns < 1 || c.Records.MaxConns > 1000 {
		bad("records.max_conns", "%d is outside 1..1000", c.Records.MaxConns)
	} else if c.Records.Driver == "postgres" && c.Records.MaxConns < 2 {
		// The retention sweeper holds one connection for its lock while
		// it deletes over another.
		bad("records.max_conns", "is %d; with postgres give at least 2", c.Records.MaxConns)
	}
	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "%q is not host:port (e.g. :8080 or 127.0.0.1:8080)", c.HTTP.Addr)
	}
	if c.HTTP.PublicURL != "" {
		u, err := url.Parse(c.HTTP.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("http.public_url", "%q must be an absolute http(s) URL such as https://video.example.com", c.HTTP.PublicURL)
		}
	}
	for _, o := range c.HTTP.AllowedOrigins {
		if u, err := url.Parse(o); err != nil || u.Scheme == "" || u.Host == "" {
			bad("http.allowed_origins", "%q must be an origin such as https://www.example.com", o)
		}
	}
	if (c.HTTP.TLSCert == "") != (c.HTTP.TLSKey == "") {
		bad("http.tls_cert/http.tls_key", "set both or neither")
	}
	for _, f := range []struct{ key, path string }{{"http.tls_cert", c.HTTP.TLSCert}, {"http.tls_key", c.HTTP.TLSKey}} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.key, "cannot read %q: %v", f.path, err)
			}
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if net.ParseIP(p) == nil {
			if _, _, err := net.ParseCIDR(p); err != nil {
				bad("http.trusted_proxies", "%q is neither an IP address nor a CIDR", p)
			}
		}
	}
	validateStorageBackend(c.Storage, bad)
	if c.Storage.MinFreeBytes < 0 {
		bad("storage.min_free_bytes", "%d must be 0 (no check) or a number of bytes, e.g. 268435456 (256 MiB)", c.Storage.MinFreeBytes)
	}
	if c.HTTP.ShutdownTimeout <= 0 {
		bad("http.shutdown_timeout", "must be positive, e.g. 10s")
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{{"http.read_header_timeout", c.HTTP.ReadHeaderTimeout}, {"http.read_timeout", c.HTTP.ReadTimeout},
		{"http.write_timeout", c.HTTP.WriteTimeout}, {"http.idle_timeout", c.HTTP.IdleTimeout}} {
		if d.v <= 0 {
			bad(d.key, "must be positive, e.g. 30s (connections would never time out)")
		}
	}
	if c.HTTP.ReadTimeout > 0 && c.HTTP.ReadHeaderTimeout > c.HTTP.ReadTimeout {
		bad("http.read_header_timeout", "must not exceed http.read_timeout")
	}
	if c.HTTP.MinTransferRate < 1024 {
		bad("http.min_transfer_rate", "must be at least 1024 bytes per second, e.g. 16384")
	}
	if c.HTTP.MaxConnections < 0 {
		bad("http.max_connections", "must be 0 (from the file-descriptor limit) or positive")
	}
	if c.HTTP.MaxConnectionsPerNetwork < 0 {
		bad("http.max_connections_per_network", "must be 0 (no cap) or positive, e.g. 512")
	}
	if c.Admin.Addr != "" && c.Admin.Addr != "off" {
		if _, _, err := net.SplitHostPort(c.Admin.Addr); err != nil {
			bad("admin.addr", "%q is not host:port; use \"off\" to disable metrics", c.Admin.Addr)
		}
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not one of debug, info, warn, error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "%q is not text or json", c.Log.Format)
	}
	c.validatePrivacy(bad)
	c.validateBranding(bad)
	if strings.TrimSpace(c.Company.Name) == "" {
		bad("company.name", "must not be empty: customers see it before they join")
	}
	if c.Auth.SessionTTL < time.Minute {
		bad("auth.session_ttl", "%s is too short; use at least 1m", c.Auth.SessionTTL)
	}
	if c.Auth.SessionMaxAge < time.Minute {
		bad("auth.session_max_age", "%s is too short; use at least 1m", c.Auth.SessionMaxAge)
	}
	if c.Auth.LoginAttemptsPerMinute < 1 {
		bad("auth.login_attempts_per_minute", "must be at least 1")
	}
	if c.Auth.LoginBackoffMax < time.Second || c.Auth.LoginBackoffMax > 15*time.Minute {
		bad("auth.login_backoff_max", "%s is outside 1s..15m", c.Auth.LoginBackoffMax)
	}
	if c.Auth.AccountBackoffMax < time.Second || c.Auth.AccountBackoffMax > 15*time.Minute {
		bad("auth.account_backoff_max", "%s is outside 1s..15m", c.Auth.AccountBackoffMax)
	}
	if c.Auth.PasswordHashConcurrency < 0 || c.Auth.PasswordHashConcurrency > 64 {
		bad("auth.password_hash_concurrency", "%d is outside 0..64 (0: automatic; each hash needs 64 MiB)", c.Auth.PasswordHashConcurrency)
	}
	if c.Auth.PasswordHashWait < 100*time.Millisecond || c.Auth.PasswordHashWait > time.Minute {
		bad("auth.password_hash_wait", "%s is outside 100ms..1m", c.Auth.PasswordHashWait)
	}
	if c.HTTP.WriteTimeout > 0 && c.HTTP.WriteTimeout <= c.Auth.PasswordHashWait {
		bad("http.write_timeout", "%s must be longer than auth.password_hash_wait (%s): a login waits that long for a hashing slot, then hashes, before it answers",
			c.HTTP.WriteTimeout, c.Auth.PasswordHashWait)
	}
	c.validateOIDC(bad)
	if c.Consultation.InviteTTL < time.Minute {
		bad("consultation.invite_ttl", "%s is too short; use at least 1m", c.Consultation.InviteTTL)
	}
	if c.Consultation.MaxParticipants < 2 || c.Consultation.MaxParticipants > 50 {
		bad("consultation.max_participants", "%d is outside 2..50", c.Consultation.MaxParticipants)
	}
	if c.Consultation.MaxDuration < time.Minute {
		bad("consultation.max_duration", "%s is too short; use at least 1m", c.Consultation.MaxDuration)
	}
	if c.Consultation.MaxOpenPerAdvisor < 1 || c.Consultation.MaxOpenPerAdvisor > 10000 {
		bad("consultation.max_open_per_advisor", "%d is outside 1..10000", c.Consultation.MaxOpenPerAdvisor)
	}
	if c.Consultation.JoinsPerMinute < 1 || c.Consultation.JoinsPerMinute > 10000 {
		bad("consultation.joins_per_minute", "%d is outside 1..10000", c.Consultation.JoinsPerMinute)
	}
	if n := c.Consultation.JoinsPerNetworkPerMinute; n < 1 || n > c.Consultation.JoinsPerMinute {
		bad("consultation.joins_per_network_per_minute", "%d is outside 1..joins_per_minute (%d)", n, c.Consultation.JoinsPerMinute)
	}
	if c.Signaling.MaxMessageBytes < 4096 || c.Signaling.MaxMessageBytes > 16<<20 {
		bad("signaling.max_message_bytes", "%d is outside 4096..16777216 (SDP offers need a few KiB)", c.Signaling.MaxMessageBytes)
	}
	if c.Signaling.PingInterval < time.Second {
		bad("signaling.ping_interval", "%s is too short; use at least 1s", c.Signaling.PingInterval)
	}
	if c.Signaling.PongTimeout < time.Second {
		bad("signaling.pong_timeout", "%s is too short; use at least 1s", c.Signaling.PongTimeout)
	}
	if c.Signaling.SendQueue < 8 {
		bad("signaling.send_queue", "%d is too small; use at least 8", c.Signaling.SendQueue)
	}
	switch c.Session.Store {
	case "memory":
	case "redis":
		if u, err := url.Parse(c.Session.RedisURL); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			bad("session.redis_url", "session.store is redis, so give a URL such as redis://127.0.0.1:6379/0")
		}
	default:
		bad("session.store", "%q is not memory or redis", c.Session.Store)
	}
	if c.Session.GracePeriod < time.Second || c.Session.GracePeriod > time.Hour {
		bad("session.grace_period", "%s is outside 1s..1h", c.Session.GracePeriod)
	}
	if c.RTC.UDPPort < 0 || c.RTC.UDPPort > 65535 {
		bad("rtc.udp_port", "%d is not a port (0 picks a free one)", c.RTC.UDPPort)
	}
	if c.RTC.TCPPort < -1 || c.RTC.TCPPort > 65535 {
		bad("rtc.tcp_port", "%d is not a port (0 picks a free one, -1 turns ICE-TCP off)", c.RTC.TCPPort)
	}
	if c.RTC.ListenIP != "" && net.ParseIP(c.RTC.ListenIP) == nil {
		bad("rtc.listen_ip", "%q is not an IP address", c.RTC.ListenIP)
	}
	if c.RTC.PublicIP != "" && net.ParseIP(c.RTC.PublicIP) == nil {
		bad("rtc.public_ip", "%q is not an IP address; give the address clients reach this host at", c.RTC.PublicIP)
	}
	if c.RTC.MaxBitrateKbps != 0 && c.RTC.MaxBitrateKbps < 100 {
		bad("rtc.max_bitrate_kbps", "%d kbit/s is too little for video; give at least 100, or 0 for no cap", c.RTC.MaxBitrateKbps)
	}
	if c.RTC.MaxParticipants < -1 {
		bad("rtc.max_participants", "must be -1 (no limit), 0 (automatic, %d per CPU core) or a positive number, got %d", AutoParticipantsPerCore, c.RTC.MaxParticipants)
	}
	if c.RTC.PLIInterval < 0 {
		bad("rtc.pli_interval", "must not be negative")
	}
	if c.Files.MaxBytes < 1024 || c.Files.MaxBytes > 1<<30 {
		bad("files.max_bytes", "%d is outside 1024..1073741824", c.Files.MaxBytes)
	}
	if (c.Signature.SealCert == "") != (c.Signature.SealKey == "") {
		bad("signature.seal_cert/signature.seal_key", "set both or neither (neither: development keys)")
	}
	for _, f := range []struct{ key, path string }{
		{"signature.seal_cert", c.Signature.SealCert}, {"signature.seal_key", c.Signature.SealKey},
		{"signature.escrow_public_key", c.Signature.EscrowPublicKey}, {"signature.trust_anchors", c.Signature.TrustAnchors},
		{"signature.seal_history", c.Signature.SealHistory},
	} {
		if f.path != "" {
			if _, err := os.Stat(f.path); err != nil {
				bad(f.key, "cannot read %q: %v", f.path, err)
			}
		}
	}
	if c.Signature.TSAURL != "" {
		if u, err := url.Parse(c.Signature.TSAURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("signature.tsa_url", "%q must be an http(s) URL of an RFC 3161 time-stamp authority", c.Signature.TSAURL)
		}
	}
	if c.Signature.MaxPDFBytes < 1024 || c.Signature.MaxPDFBytes > 200<<20 {
		bad("signature.max_pdf_bytes", "%d is outside 1024..209715200", c.Signature.MaxPDFBytes)
	}
	if c.Signature.PDFWorkers < 1 || c.Signature.PDFWorkers > 64 {
		bad("signature.pdf_workers", "%d is outside 1..64", c.Signature.PDFWorkers)
	}
	if c.Signature.PDFWorkerTimeout < 100*time.Millisecond || c.Signature.PDFWorkerTimeout > 10*time.Minute {
		bad("signature.pdf_worker_timeout", "%v is outside 100ms..10m", c.Signature.PDFWorkerTimeout)
	}
	// A verification holds up to 4×max_pdf_bytes of PDF in the child.
	if minMB := 128 + 6*c.Signature.MaxPDFBytes>>20; c.Signature.PDFWorkerMemoryMB < minMB || c.Signature.PDFWorkerMemoryMB > 64<<10 {
		bad("signature.pdf_worker_memory_mb", "%d is outside %d..65536 (at least 128 + 6×max_pdf_bytes in MiB)", c.Signature.PDFWorkerMemoryMB, minMB)
	}
	if err := c.TURN.Validate(); err != nil {
		errs = append(errs, err)
	}
	c.validateCluster(bad)
	c.validateMail(bad)
	c.validateWebhooks(bad)
	return errors.Join(errs...)
}

// validateStorageBackend checks storage.backend and storage.s3.
func validateStorageBackend(c StorageConfig, bad func(key, format string, args ...any)) {
	switch c.Backend {
	case StorageLocal, "":
		return
	case StorageS3:
	default:
		bad("storage.backend", "%q is neither %q (files under data_dir) nor %q (an S3-compatible bucket)", c.Backend, StorageLocal, StorageS3)
		return
	}
	s := c.S3
	switch {
	case s.Endpoint == "":
		bad("storage.s3.endpoint", "must name the S3 server as host or host:port (e.g. s3.eu-central-1.amazonaws.com or 127.0.0.1:8333)")
	case strings.Contains(s.Endpoint, "://"):
		bad("storage.s3.endpoint", "%q: give host or host:port without a scheme; storage.s3.use_tls chooses https or http", s.Endpoint)
	case strings.ContainsAny(s.Endpoint, "/?# "):
		bad("storage.s3.endpoint", "%q: give host or host:port only, no path; the bucket goes in storage.s3.bucket", s.Endpoint)
	}
	if !validBucketName(s.Bucket) {
		bad("storage.s3.bucket", "%q is not a bucket name: 3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit; create the bucket before starting Parley", s.Bucket)
	}
	if strings.HasPrefix(s.Prefix, "/") || strings.Contains(s.Prefix, "//") {
		bad("storage.s3.prefix", "%q must not start with '/' or contain '//' (e.g. parley/)", s.Prefix)
	}
	if s.AccessKeyID == "" || s.SecretAccessKey == "" {
		bad("storage.s3.access_key_id", "the access key id and secret (storage.s3.secret_access_key, best from PARLEY_STORAGE_S3_SECRET_ACCESS_KEY) must both be set")
	}
}

func validBucketName(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, c := range b {
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (c != '.' && c != '-' || i == 0 || i == len(b)-1) {
			return false
		}
	}
	return true
}
