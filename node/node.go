// Package node assembles one running Parley node from its configuration:
// records, media plane, signaling hub, web server and the operator's
// metrics server. It is the wiring that main and the end-to-end tests share.
package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/parley-video/parley/appointment"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/connlimit"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/pdfjail"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/retention"
	"github.com/parley-video/parley/sfu"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/turnserver"
	"github.com/parley-video/parley/web"
	"github.com/parley-video/parley/webhooks"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Node is one Parley server process.
type Node struct {
	cfg     config.Config
	log     *slog.Logger
	Records *records.Store
	Media   *sfu.SFU
	TURN    *turnserver.Server
	Hub     *signaling.Hub
	// Store holds sessions, presence and waiting queues (session.store).
	Store signaling.SessionStore
	// Contracts signs documents in calls; Keys is its key material.
	Contracts *contracts.Service
	Keys      *contracts.Keys
	// Consultations creates, joins, ends and expires consultations.
	Consultations *consultation.Service
	// Retention deletes personal data when its period is over.
	Retention *retention.Sweeper
	// Outbox delivers queued e-mail (node/mail.go); Appointments books
	// consultations for a slot.
	Outbox       *outbox.Outbox
	Appointments *appointment.Service
	// Webhooks tells other systems what happened (node/mail.go).
	Webhooks *webhooks.Hooks

	web     *web.Server
	docs    *blobs.Store // the contracts' documents
	files   *blobs.Store // files and photos exchanged in calls
	cluster *cluster     // cluster mode only (node/cluster.go)
	shared  *shared      // cluster mode only (node/shared.go)

	httpSrv  *http.Server
	httpLn   net.Listener
	conns    *connlimit.Listener // httpLn's caps
	adminSrv *http.Server
	adminLn  net.Listener

	closeOnce sync.Once
	closeErr  error
}

// New opens the records, the media sockets and the listeners. It does not
// serve yet; call Run.
func New(ctx context.Context, cfg config.Config, log *slog.Logger, opts ...Option) (n *Node, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	n = &Node{cfg: cfg, log: log}
	partial := n // "return nil, err" clears n before this runs
	defer func() {
		if err != nil {
			partial.Close(context.Background())
		}
	}()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if n.Records, err = OpenRecords(ctx, cfg); err != nil {
		return nil, err
	}
	if o.now != nil {
		n.Records.SetClock(o.now)
	}
	n.Media, err = sfu.New(sfu.Config{
		UDPPort:         cfg.RTC.UDPPort,
		TCPPort:         cfg.RTC.TCPPort,
		ListenIP:        cfg.RTC.ListenIP,
		PublicIP:        cfg.RTC.PublicIP,
		IncludeLoopback: cfg.RTC.IncludeLoopback,
		PLIInterval:     cfg.RTC.PLIInterval,
		MaxBitrate:      uint64(max(cfg.RTC.MaxBitrateKbps, 0)) * 1000,
	}, log.With("component", "sfu"), reg)
	if err != nil {
		return nil, fmt.Errorf("start media plane: %w", err)
	}
	if n.Store, err = newSessionStore(ctx, cfg.Session, log.With("component", "sessions")); err != nil {
		return nil, err
	}
	n.Hub = signaling.NewHub(signaling.Config{
		MaxParticipants: cfg.Consultation.MaxParticipants,
		MaxMessageBytes: cfg.Signaling.MaxMessageBytes,
		PingInterval:    cfg.Signaling.PingInterval,
		PongTimeout:     cfg.Signaling.PongTimeout,
		SendQueue:       cfg.Signaling.SendQueue,
		SessionTTL:      cfg.Consultation.MaxDuration,
		GracePeriod:     cfg.Session.GracePeriod,
		AllowedOrigins:  allowedOrigins(cfg),

		MaxNodeParticipants: cfg.RTC.NodeParticipants(runtime.NumCPU()), // load shedding
		ICEServers: func(c signaling.ConsultationInfo, p signaling.ParticipantID) []webrtc.ICEServer {
			// Credentials end with the consultation (at the latest).
			return n.TURN.ICEServers(turnserver.Grant{Session: string(c.ID), Participant: string(p), NotAfter: c.ExpiresAt}, time.Now())
		},
		RelayOnly:        cfg.TURN.Enabled && cfg.TURN.RelayOnly,
		AllowUnencrypted: cfg.E2EE.AllowUnencrypted,
		Admitted: func(c signaling.ConsultationID, p signaling.ParticipantID) {
			ctx := context.Background()
			// The call starts with its first admission (once, whichever
			// node sees it).
			n.Webhooks.Emit(ctx, webhooks.Event{Type: webhooks.ConsultationStarted, Consultation: string(c), Once: string(c)})
			n.Webhooks.Emit(ctx, webhooks.Event{Type: webhooks.CustomerAdmitted, Consultation: string(c), Once: string(c) + "/" + string(p),
				Data: map[string]any{"participant": string(p)}})
		},
	}, n.Media, n.Store, log.With("component", "signaling"), reg)
	if cfg.Cluster.Enabled {
		if n.cluster, err = newCluster(ctx, cfg, n.Hub, n.Media.UDPAddr(), log.With("component", "cluster")); err != nil {
			return nil, err
		}
	}
	if cfg.Cluster.Enabled {
		if n.shared, err = newShared(ctx, cfg); err != nil {
			return nil, err
		}
	}
	// TURN relays to this host only to the SFU's media port, and only for
	// participants of consultations still live here.
	hub := n.Hub
	if n.TURN, err = turnserver.New(cfg.TURN, log.With("component", "turn"), reg,
		turnserver.WithOwnPorts(udpPort(n.Media.UDPAddr())),
		turnserver.WithSessionCheck(func(id string) bool {
			_, live := hub.Snapshot(signaling.ConsultationID(id))
			return live
		})); err != nil {
		return nil, fmt.Errorf("start TURN server: %w", err)
	}

	if n.Keys, err = contracts.LoadKeys(KeyFiles(cfg), log.With("component", "signature")); err != nil {
		return nil, err
	}
	storageKeys, err := StorageKeys(cfg, log.With("component", "storage"))
	if err != nil {
		return nil, fmt.Errorf("storage key: %w", err)
	}
	if n.docs, err = OpenStore(ctx, cfg, "documents", storageKeys); err != nil {
		return nil, fmt.Errorf("document store: %w", err)
	}
	if n.files, err = OpenStore(ctx, cfg, "files", storageKeys); err != nil {
		return nil, fmt.Errorf("file store: %w", err)
	}
	pdfWorkers, err := PDFWorkers(cfg, log.With("component", "pdfjail"))
	if err != nil {
		return nil, err
	}
	n.Contracts = contracts.New(n.Records, n.docs, n.Keys, cfg.Signature.MaxPDFBytes, log.With("component", "contracts"),
		n.shared.contractOptions(contracts.WithIsolation(pdfWorkers))...)

	// One owner of each consultation's life; what ends one also closes
	// its TURN relays and lets the retention sweeper run.
	if n.Consultations, err = consultation.New(consultation.ConfigFrom(cfg), consultation.Deps{
		Records: n.Records, Hub: n.Hub, Files: n.files, Docs: n.Contracts,
		Ended: func(id consultation.ID) {
			n.Retention.Kick()
			n.TURN.CloseEnded(time.Now())
			n.cluster.publishEnded(context.Background(), string(id))
			n.Webhooks.Emit(context.Background(), webhooks.Event{Type: webhooks.ConsultationEnded, Consultation: string(id), Once: string(id)})
		},
		Log: log.With("component", "consultation"),
	}); err != nil {
		return nil, err
	}
	if n.Outbox, n.Appointments, err = newMail(cfg, n.Records, storageKeys, log); err != nil {
		return nil, fmt.Errorf("mail: %w", err)
	}
	n.Webhooks = newWebhooks(cfg, n.Outbox, log)
	var rel web.Relay
	var awayElsewhere func(context.Context, string, bool)
	if n.cluster != nil {
		rel, awayElsewhere = n.cluster.relay, n.cluster.publishAway
	}
	srv, err := web.New(cfg, web.Deps{Records: n.Records, Hub: n.Hub, Consultations: n.Consultations, Files: n.files,
		Ready: n.ready, Signer: n.Contracts, Relay: rel, AdvisorAwayElsewhere: awayElsewhere, Throttle: n.shared.throttles(),
		Verifier:          contracts.NewVerifier(n.Keys, 4*cfg.Signature.MaxPDFBytes, pdfWorkers),
		EscrowFingerprint: n.Keys.Escrow.Fingerprint(), Now: o.now, Appointments: n.Appointments, Webhooks: n.Webhooks, Outbox: n.Outbox}, log.With("component", "web"))
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	n.web = srv
	n.Retention = &retention.Sweeper{
		Records: n.Records, Files: n.files, Contracts: n.Contracts,
		Config: cfg.Retention, Consultations: n.Consultations, Log: log.With("component", "retention"),
	}
	// What a crash left half-written goes, then what fell due while the
	// node was down, before anything is served.
	n.removeStaleTemps(time.Now())
	n.removeOrphans(ctx, time.Now(), n.startupOrphanAge())
	if _, err := n.Retention.Sweep(ctx); err != nil {
		return nil, fmt.Errorf("retention sweep: %w", err)
	}
	handler := srv.Handler()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	switch cfg.Admin.Addr {
	case "off":
	case "":
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		mux.Handle("/", handler)
		handler = mux
	default:
		mux := http.NewServeMux()
		mux.Handle("/metrics", metrics)
		if n.adminLn, err = net.Listen("tcp", cfg.Admin.Addr); err != nil {
			return nil, fmt.Errorf("admin.addr %s: %w", cfg.Admin.Addr, err)
		}
		n.adminSrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
			WriteTimeout: time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: web.ErrorLog(log)}
	}
	if n.httpLn, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return nil, fmt.Errorf("http.addr %s: %w", cfg.HTTP.Addr, err)
	}
	if n.conns, err = limitConnections(n.httpLn, cfg.HTTP, log, reg); err != nil {
		return nil, err
	}
	n.httpLn = n.conns
	// Timeouts for everything but WebSockets (web/deadlines.go clears
	// them before the upgrade) and file transfers (extended while they
	// keep up http.min_transfer_rate).
	n.httpSrv = &http.Server{
		Handler:           n.conns.Handler(handler),
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		ConnContext:       connlimit.ConnContext,
		ErrorLog:          web.ErrorLog(log),
	}
	return n, nil
}

// limitConnections caps the public server's connections per client
// network and in total, below the process's file-descriptor limit.
func limitConnections(ln net.Listener, cfg config.HTTPConfig, log *slog.Logger, reg prometheus.Registerer) (*connlimit.Listener, error) {
	fdLimit, err := connlimit.RaiseFileLimit()
	if err != nil {
		log.Warn("open-files limit unknown; connections capped by configuration only", "err", err)
	}
	limit := connlimit.MaxFor(fdLimit)
	if cfg.MaxConnections > 0 {
		if cfg.MaxConnections > limit && fdLimit > 0 {
			log.Warn("http.max_connections is above three quarters of the open-files limit; capped",
				"configured", cfg.MaxConnections, "open_files_limit", fdLimit, "cap", limit)
		} else {
			limit = cfg.MaxConnections
		}
	}
	exempt, err := connlimit.ParsePrefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	l, err := connlimit.New(ln, connlimit.Config{Max: limit, PerNetwork: cfg.MaxConnectionsPerNetwork, Exempt: exempt}, reg)
	if err != nil {
		return nil, fmt.Errorf("connection limits: %w", err)
	}
	log.Debug("connection limits", "max", limit, "per_network", cfg.MaxConnectionsPerNetwork, "open_files_limit", fdLimit)
	return l, nil
}

// Option changes how New builds a node.
type Option func(*options)

type options struct{ now func() time.Time }

// WithClock makes the node's records, web server and retention sweeper
// read time from now (tests of retention periods).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// StorageKeys loads the keys that encrypt stored files at rest: storage.key
// (PARLEY_STORAGE_KEY), else storage.key_file, else the development key in
// <data_dir>/keys.
func StorageKeys(cfg config.Config, log *slog.Logger) (*blobs.KeyRing, error) {
	if cfg.Storage.Key != "" {
		r, err := blobs.ParseKeyRing(cfg.Storage.Key)
		if err != nil {
			return nil, fmt.Errorf("storage.key: %w", err)
		}
		return r, nil
	}
	r, err := blobs.LoadKeyRing(cfg.Storage.KeyFile, filepath.Join(cfg.DataDir, "keys"), log)
	if err != nil && cfg.Storage.KeyFile != "" {
		return nil, fmt.Errorf("storage.key_file: %w", err)
	}
	return r, err
}

// OpenStore opens the store name ("files" or "documents") on the
// configured backend: <data_dir>/<name>, or <prefix><name>/ in the S3
// bucket.
func OpenStore(ctx context.Context, cfg config.Config, name string, ring *blobs.KeyRing) (*blobs.Store, error) {
	if cfg.Storage.Backend != config.StorageS3 {
		return blobs.Open(filepath.Join(cfg.DataDir, name), ring)
	}
	s := cfg.Storage.S3
	return blobs.OpenS3(ctx, blobs.S3Options{Endpoint: s.Endpoint, Bucket: s.Bucket, Region: s.Region,
		Prefix: s.Prefix + name + "/", AccessKeyID: s.AccessKeyID, SecretAccessKey: s.SecretAccessKey,
		UseTLS: s.UseTLS, PathStyle: s.PathStyle}, ring)
}

// PDFWorkers returns the runner of the child processes that parse
// untrusted PDFs (the server's and `parley verify`'s).
func PDFWorkers(cfg config.Config, log *slog.Logger) (*pdfjail.Runner, error) {
	r, err := pdfjail.New(pdfjail.Config{
		Workers:     cfg.Signature.PDFWorkers,
		Timeout:     cfg.Signature.PDFWorkerTimeout,
		MemoryBytes: cfg.Signature.PDFWorkerMemoryMB << 20,
	}, log)
	if err != nil {
		return nil, fmt.Errorf("PDF workers: %w", err)
	}
	return r, nil
}

// KeyFiles is where the configuration puts the signing keys; development
// keys go to <data_dir>/keys.
func KeyFiles(cfg config.Config) contracts.KeyFiles {
	return contracts.KeyFiles{
		SealCert:        cfg.Signature.SealCert,
		SealKey:         cfg.Signature.SealKey,
		EscrowPublicKey: cfg.Signature.EscrowPublicKey,
		TrustAnchors:    cfg.Signature.TrustAnchors,
		SealHistory:     cfg.Signature.SealHistory,
		TSAURL:          cfg.Signature.TSAURL,
		DevDir:          filepath.Join(cfg.DataDir, "keys"),
	}
}

// storeConnectTimeout bounds the first contact with Redis at start-up.
const storeConnectTimeout = 5 * time.Second

// newSessionStore opens the store session.store names: memory, or Redis
// (which must answer at start-up; later outages are survived).
func newSessionStore(ctx context.Context, cfg config.SessionConfig, log *slog.Logger) (signaling.SessionStore, error) {
	if cfg.Store != "redis" {
		return signaling.NewMemoryStore(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, storeConnectTimeout)
	defer cancel()
	s, err := signaling.NewRedisStore(ctx, cfg.RedisURL, cfg.KeyPrefix, log)
	if err != nil {
		return nil, fmt.Errorf("session.redis_url: %w", err)
	}
	return s, nil
}

func allowedOrigins(cfg config.Config) []string {
	out := append([]string(nil), cfg.HTTP.AllowedOrigins...)
	if cfg.HTTP.PublicURL != "" {
		out = append(out, cfg.HTTP.PublicURL)
	}
	return out
}

// udpPort is the port of a "host:port" address, 0 if it has none.
func udpPort(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

// ready reports the health of what new joins depend on.
func (n *Node) ready(ctx context.Context) map[string]error {
	checks := map[string]error{
		"records":  n.Records.Ping(ctx),
		"sessions": n.Store.Ping(ctx),
		"disk":     checkDisk(n.cfg.DataDir, n.cfg.Storage.MinFreeBytes),
	}
	if n.cluster != nil && n.cluster.draining.Load() {
		// Load balancers send no new browsers; the calls here go on.
		checks["draining"] = errDraining
	}
	return checks
}

// errDraining fails /readyz while the node drains ("draining": its calls
// go on, new ones go to other nodes).
var errDraining drainingError

type drainingError struct{}

func (drainingError) Error() string {
	return "this node is draining: its calls go on, new ones go to other nodes"
}
func (drainingError) ReadyStatus() string { return "draining" }

// FlushAccessLog writes the access-log entries still queued (tests).
func (n *Node) FlushAccessLog() { n.web.FlushAccessLog() }

// HTTPAddr is the bound public address (useful with port 0).
func (n *Node) HTTPAddr() string { return n.httpLn.Addr().String() }

// AdminAddr is the bound metrics address, or "" when it has none.
func (n *Node) AdminAddr() string {
	if n.adminLn == nil {
		return ""
	}
	return n.adminLn.Addr().String()
}

// Run serves until ctx is done, then shuts down gracefully.
func (n *Node) Run(ctx context.Context) error {
	errc := make(chan error, 2)
	go func() {
		var err error
		if n.cfg.TLS() {
			err = n.httpSrv.ServeTLS(n.httpLn, n.cfg.HTTP.TLSCert, n.cfg.HTTP.TLSKey)
		} else {
			err = n.httpSrv.Serve(n.httpLn)
		}
		errc <- err
	}()
	if n.adminSrv != nil {
		go func() { errc <- n.adminSrv.Serve(n.adminLn) }()
	}
	sweepCtx, stopSweep := context.WithCancel(context.WithoutCancel(ctx))
	sweepDone := make(chan struct{})
	go func() { defer close(sweepDone); n.Retention.Run(sweepCtx) }()
	expiryDone := make(chan struct{})
	go func() { defer close(expiryDone); n.Consultations.Run(sweepCtx) }()
	defer func() { stopSweep(); <-expiryDone }()
	upkeepDone := make(chan struct{})
	go func() { defer close(upkeepDone); n.upkeep(sweepCtx) }()
	defer func() { stopSweep(); <-upkeepDone }()
	defer func() { stopSweep(); <-sweepDone }()
	outboxDone := make(chan struct{})
	go func() { defer close(outboxDone); n.Outbox.Run(sweepCtx) }()
	defer func() { stopSweep(); <-outboxDone }()
	if n.cluster != nil {
		if err := n.cluster.reg.Start(ctx); err != nil {
			n.httpSrv.Close()
			return errors.Join(fmt.Errorf("cluster registry: %w", err), n.Close(context.Background()))
		}
		n.log.Info("registered in the cluster registry", "node", n.cluster.reg.Self().ID)
		go n.cluster.listen(sweepCtx, n.Hub)
	}
	n.log.Info("parley serving", "http", n.HTTPAddr(), "metrics", n.AdminAddr(), "rtc_udp", n.Media.UDPAddr())
	settle(n.log)
	var err error
	select {
	case <-ctx.Done():
		if n.cluster != nil && n.cfg.Cluster.DrainTimeout > 0 {
			// Keep serving the calls here while they end or move (SIGKILL
			// stops at once; the calls then resume elsewhere after the
			// registry entry expired).
			dctx, cancel := context.WithTimeout(context.Background(), n.cfg.Cluster.DrainTimeout+time.Minute)
			n.cluster.drain(dctx, n.Hub, n.cfg.Cluster.DrainTimeout, 3*n.cfg.Cluster.Heartbeat)
			cancel()
		}
	case err = <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.HTTP.ShutdownTimeout)
	defer cancel()
	return errors.Join(err, n.Close(sctx))
}

// Close stops everything: HTTP servers (gracefully within ctx), live
// consultations, the media plane and the records. Idempotent.
func (n *Node) Close(ctx context.Context) error {
	n.closeOnce.Do(func() {
		var errs []error
		// Out of the registry first: no new consultation comes here.
		errs = append(errs, n.cluster.close(ctx))
		if n.httpSrv != nil {
			errs = append(errs, n.httpSrv.Shutdown(ctx))
		} else if n.httpLn != nil {
			errs = append(errs, n.httpLn.Close())
		}
		if n.adminSrv != nil {
			errs = append(errs, n.adminSrv.Shutdown(ctx))
		} else if n.adminLn != nil {
			errs = append(errs, n.adminLn.Close())
		}
		if n.Hub != nil {
			n.Hub.Close()
		}
		if n.web != nil {
			n.web.Close()
		}
		if n.Store != nil {
			errs = append(errs, n.Store.Close())
		}
		errs = append(errs, n.shared.close())
		if n.Media != nil {
			errs = append(errs, n.Media.Close())
		}
		if n.TURN != nil {
			errs = append(errs, n.TURN.Close())
		}
		if n.Records != nil {
			errs = append(errs, n.Records.Close())
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

// NewLogger builds the process logger from the configuration.
func NewLogger(cfg config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
