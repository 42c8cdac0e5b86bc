// Package mail sends e-mail through any SMTP server (STARTTLS, implicit
// TLS or, for a server on loopback, plain; optional authentication), and
// writes the messages Parley sends: appointment invitations, updates,
// cancellations and reminders in German and English with an RFC 5545
// calendar entry. Nothing here logs; errors name the SMTP step and
// reply code, never an address or content.
package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"time"
)

// TLS modes.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS (required), usually port 587
	TLSImplicit = "tls"      // TLS from the first byte, usually port 465
	TLSNone     = "none"     // no TLS: only for a relay on the same machine
)

// SMTPConfig says how to reach the SMTP server.
type SMTPConfig struct {
	Host     string
	Port     int
	TLS      string // TLSStartTLS, TLSImplicit or TLSNone
	Username string // empty: no authentication
	Password string
	// HeloName is the name given in EHLO (default "localhost").
	HeloName string
	Timeout  time.Duration // per message (default 30s)
	// RootCAs verifies the server's certificate (nil: the system's).
	RootCAs *x509.CertPool
}

// Envelope is one message to send: the envelope addresses and the whole
// RFC 5322 message.
type Envelope struct {
	From string
	To   string
	Data []byte
}

// Sender sends messages through one SMTP server. Safe for concurrent use
// (a connection per message).
type Sender struct {
	cfg SMTPConfig
}

// NewSender checks cfg and returns a sender.
func NewSender(cfg SMTPConfig) (*Sender, error) {
	if cfg.Host == "" || cfg.Port <= 0 || cfg.Port > 65535 {
		return nil, errors.New("mail: SMTP host and port are required")
	}
	switch cfg.TLS {
	case TLSStartTLS, TLSImplicit, TLSNone:
	default:
		return nil, fmt.Errorf("mail: TLS mode %q: want starttls, tls or none", cfg.TLS)
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	return &Sender{cfg: cfg}, nil
}

// ErrRejected: the server refused the message for good (a 5xx reply);
// retrying will not help.
var ErrRejected = errors.New("mail: rejected by the SMTP server")

// Send delivers one message. A 5xx reply is ErrRejected; anything else
// (no connection, 4xx, timeouts) is worth retrying.
func (s *Sender) Send(ctx context.Context, env Envelope) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	tlsConf := &tls.Config{ServerName: s.cfg.Host, RootCAs: s.cfg.RootCAs, MinVersion: tls.VersionTLS12}
	var conn net.Conn
	var err error
	if s.cfg.TLS == TLSImplicit {
		conn, err = (&tls.Dialer{Config: tlsConf}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return fmt.Errorf("mail: connect to the SMTP server: %w", err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Now()) })
	defer stop()
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return step("greeting", err)
	}
	defer c.Close()
	if err := c.Hello(s.cfg.HeloName); err != nil {
		return step("EHLO", err)
	}
	if s.cfg.TLS == TLSStartTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return errors.New("mail: the SMTP server does not offer STARTTLS (set mail.smtp.tls)")
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return step("STARTTLS", err)
		}
	}
	if s.cfg.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("mail: the SMTP server offers no authentication")
		}
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return step("AUTH", err)
		}
	}
	if err := c.Mail(env.From); err != nil {
		return step("MAIL FROM", err)
	}
	if err := c.Rcpt(env.To); err != nil {
		return step("RCPT TO", err)
	}
	w, err := c.Data()
	if err != nil {
		return step("DATA", err)
	}
	if _, err := w.Write(env.Data); err != nil {
		return step("DATA", err)
	}
	if err := w.Close(); err != nil {
		return step("DATA", err)
	}
	if err := c.Quit(); err != nil {
		return step("QUIT", err)
	}
	return nil
}

// step names the failed SMTP step and the reply code only: the server's
// text may quote the address.
func step(name string, err error) error {
	var te *textproto.Error
	if errors.As(err, &te) {
		if te.Code >= 500 {
			return fmt.Errorf("%w: %s: reply %d", ErrRejected, name, te.Code)
		}
		return fmt.Errorf("mail: %s: reply %d", name, te.Code)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("mail: %s: timeout", name)
	}
	var re tls.RecordHeaderError
	var ce *tls.CertificateVerificationError
	if errors.As(err, &re) || errors.As(err, &ce) {
		return fmt.Errorf("mail: %s: TLS: %w", name, err)
	}
	return fmt.Errorf("mail: %s failed", name)
}
