package web

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/parley-video/parley/records"
)

// The access log (records' access_log table, kept retention.access_logs):
// one entry per request with method, route pattern, status, duration,
// size, the client address anonymised before anything is written (IPv4
// /24, IPv6 /48) and, of the user agent, only browser family with major
// version and the OS family. Never a raw path, query, body or name.

// accessWriter batches entries into the records off the request path.
// The queue is a slice that grows as entries come (an idle node holds no
// buffer for 4,096 entries).
type accessWriter struct {
	rec     *records.Store
	log     *slog.Logger
	mu      sync.Mutex
	queue   []records.AccessEntry // at most accessQueue
	dropped int
	full    chan struct{} // capacity 1: a batch is ready
	flush   chan chan struct{}
	done    chan struct{}
	once    sync.Once
}

const (
	accessQueue = 4096
	accessBatch = 256
	accessEvery = 500 * time.Millisecond
)

func newAccessWriter(rec *records.Store, log *slog.Logger) *accessWriter {
	w := &accessWriter{rec: rec, log: log, full: make(chan struct{}, 1),
		flush: make(chan chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

// add queues e; when the queue is full (the database is stuck), the entry
// is dropped and counted rather than slowing requests down.
func (w *accessWriter) add(e records.AccessEntry) {
	w.mu.Lock()
	if len(w.queue) >= accessQueue {
		w.dropped++ // only for a warning
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, e)
	ready := len(w.queue) == accessBatch
	w.mu.Unlock()
	if ready {
		select {
		case w.full <- struct{}{}:
		default:
		}
	}
}

// take empties the queue.
func (w *accessWriter) take() []records.AccessEntry {
	w.mu.Lock()
	defer w.mu.Unlock()
	q := w.queue
	w.queue = nil
	return q
}

func (w *accessWriter) run() {
	t := time.NewTicker(accessEvery)
	defer t.Stop()
	write := func() {
		q := w.take()
		for len(q) > 0 {
			batch := q[:min(len(q), accessBatch)]
			q = q[len(batch):]
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := w.rec.WriteAccessLog(ctx, batch); err != nil {
				w.log.Warn("access log not written", "entries", len(batch), "err", err)
			}
			cancel()
		}
	}
	for {
		select {
		case <-w.full:
			write()
		case <-t.C:
			write()
		case ack := <-w.flush:
			write()
			close(ack)
		case <-w.done:
			write()
			return
		}
	}
}

// Flush writes everything queued so far.
func (w *accessWriter) Flush() {
	ack := make(chan struct{})
	select {
	case w.flush <- ack:
		<-ack
	case <-w.done:
	}
}

// Close writes what is queued and stops.
func (w *accessWriter) Close() {
	w.once.Do(func() {
		w.Flush()
		close(w.done)
	})
}

// FlushAccessLog writes queued access-log entries (tests, shutdown).
func (s *Server) FlushAccessLog() { s.access.Flush() }

// Close stops the server's background work (the access-log writer) after
// writing what it holds. Call it before closing the records.
func (s *Server) Close() {
	s.freeMem.close()
	s.access.Close()
}

// accessLog logs each request to the access log, and at debug level to
// the process log (without the client address).
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	d := time.Since(start)
	route := routeOf(c)
	if route == "/healthz" || route == "/readyz" {
		return
	}
	browser, os := userAgentFamily(c.Request.UserAgent())
	s.access.add(records.AccessEntry{
		At: s.now(), Method: c.Request.Method, Route: route, Status: c.Writer.Status(),
		Duration: d, Bytes: max(c.Writer.Size(), 0), Client: s.anonClient(c.Request),
		Browser: browser, OS: os,
	})
	s.log.LogAttrs(c.Request.Context(), slog.LevelDebug, "http request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", c.Writer.Status()),
		slog.Duration("duration", d),
	)
}

var (
	uaVersion = regexp.MustCompile(`^(\d{1,4})`)
	uaRules   = []struct{ token, name string }{
		// Order matters: derived browsers name their base too.
		{"EdgA/", "Edge"}, {"EdgiOS/", "Edge"}, {"Edg/", "Edge"},
		{"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"},
		{"FxiOS/", "Firefox"}, {"Firefox/", "Firefox"},
		{"CriOS/", "Chrome"}, {"HeadlessChrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Chrome/", "Chrome"},
		{"Version/", "Safari"}, // Safari's version token
	}
)

// userAgentFamily reduces a user agent to "Browser major" and an OS family;
// everything else in it (device model, build, minor versions) is dropped.
func userAgentFamily(ua string) (browser, os string) {
	browser, os = "other", "other"
	for _, r := range uaRules {
		i := strings.Index(ua, r.token)
		if i < 0 {
			continue
		}
		if r.name == "Safari" && !strings.Contains(ua, "Safari/") {
			continue
		}
		browser = r.name
		if m := uaVersion.FindString(ua[i+len(r.token):]); m != "" {
			browser += " " + m
		}
		break
	}
	switch {
	case strings.Contains(ua, "Android"):
		os = "Android"
	case strings.Contains(ua, "iPhone"), strings.Contains(ua, "iPad"), strings.Contains(ua, "iPod"):
		os = "iOS"
	case strings.Contains(ua, "Windows"):
		os = "Windows"
	case strings.Contains(ua, "CrOS"):
		os = "ChromeOS"
	case strings.Contains(ua, "Mac OS X"), strings.Contains(ua, "Macintosh"):
		os = "macOS"
	case strings.Contains(ua, "Linux"):
		os = "Linux"
	}
	return browser, os
}
