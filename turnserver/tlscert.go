package turnserver

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate from PEM files and reloads it when
// either file changes (e.g. after a Let's Encrypt renewal), checking at
// most once per checkEvery. A failed reload keeps the previous certificate.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

const checkEvery = 30 * time.Second

func newCertReloader(certFile, keyFile string, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) modTimes() (cert, key time.Time, err error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("turn.tls_cert: %w", err)
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, fmt.Errorf("turn.tls_key: %w", err)
	}
	return ci.ModTime(), ki.ModTime(), nil
}

// load reads both files; r.mu must be held or r not yet shared.
func (r *certReloader) load() error {
	cm, km, err := r.modTimes()
	if err != nil {
		return err
	}
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("turn.tls_cert/tls_key: load %s and %s: %w", r.certFile, r.keyFile, err)
	}
	r.cert, r.certMod, r.keyMod, r.lastCheck = &c, cm, km, time.Now()
	return nil
}

// getCertificate implements tls.Config.GetCertificate.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if time.Since(r.lastCheck) < checkEvery {
		return r.cert, nil
	}
	r.lastCheck = time.Now()
	cm, km, err := r.modTimes()
	if err != nil || (cm.Equal(r.certMod) && km.Equal(r.keyMod)) {
		return r.cert, nil
	}
	if err := r.load(); err != nil {
		r.log.Warn("turn: keeping the previous TLS certificate", "err", err)
		return r.cert, nil
	}
	r.log.Info("turn: TLS certificate reloaded", "cert", r.certFile)
	return r.cert, nil
}
