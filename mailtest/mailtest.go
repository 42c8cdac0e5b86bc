// Package mailtest runs a real SMTP server for tests: Mailpit, from the
// binary scripts/test-mailpit.sh builds (its path in PARLEY_TEST_MAILPIT),
// on free loopback ports, one instance per test, and reads what arrived
// through Mailpit's HTTP API.
package mailtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// Server is a running Mailpit.
type Server struct {
	Host     string // 127.0.0.1
	SMTPPort int
	API      string // http://127.0.0.1:port
	// RootCAs trusts the server's certificate (TLS options only).
	RootCAs *x509.CertPool

	cmd  *exec.Cmd
	args []string
	dir  string
}

// Options choose how the SMTP side is set up.
type Options struct {
	// TLS: "" (plain), "starttls" (offered), "tls" (implicit TLS).
	TLS string
	// Auth: accept any user name and password (and require nothing).
	Auth bool
	// SMTPPort: a fixed port (0: a free one); a test that stops and
	// starts the server passes the old one.
	SMTPPort int
}

// Binary returns Mailpit's path, skipping the test when there is none
// (failing it in CI).
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("PARLEY_TEST_MAILPIT")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PARLEY_TEST_MAILPIT is not set: run the tests through scripts/test.sh")
		}
		t.Skip("no Mailpit: run through scripts/test.sh (scripts/test-deps.sh builds it)")
	}
	return bin
}

// FreePort returns a free loopback TCP port.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start runs Mailpit until the test ends.
func Start(t testing.TB, o Options) *Server {
	t.Helper()
	Binary(t)
	dir := t.TempDir()
	smtpPort := o.SMTPPort
	if smtpPort == 0 {
		smtpPort = FreePort(t)
	}
	apiPort := FreePort(t)
	s := &Server{Host: "127.0.0.1", SMTPPort: smtpPort, API: "http://127.0.0.1:" + strconv.Itoa(apiPort), dir: dir}
	s.args = []string{
		"--smtp", "127.0.0.1:" + strconv.Itoa(smtpPort),
		"--listen", "127.0.0.1:" + strconv.Itoa(apiPort),
		"--database", filepath.Join(dir, "mailpit.db"),
		"--disable-version-check", "--quiet", "--smtp-disable-rdns",
	}
	if o.Auth {
		s.args = append(s.args, "--smtp-auth-accept-any")
		if o.TLS == "" {
			s.args = append(s.args, "--smtp-auth-allow-insecure")
		}
	}
	if o.TLS != "" {
		cert, key, pool := makeCert(t, dir)
		s.RootCAs = pool
		s.args = append(s.args, "--smtp-tls-cert", cert, "--smtp-tls-key", key)
		if o.TLS == "tls" {
			s.args = append(s.args, "--smtp-require-tls")
		} else {
			s.args = append(s.args, "--smtp-require-starttls")
		}
	}
	s.start(t)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	s.cmd = exec.Command(Binary(t), s.args...)
	log, err := os.Create(filepath.Join(s.dir, "log"))
	if err != nil {
		t.Fatal(err)
	}
	s.cmd.Stdout, s.cmd.Stderr = log, log
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start mailpit: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	exited := make(chan struct{})
	go func(cmd *exec.Cmd) { cmd.Process.Wait(); close(exited) }(s.cmd)
	for {
		select {
		case <-exited:
			out, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			t.Fatalf("mailpit exited: %s", out)
		default:
		}
		resp, err := http.Get(s.API + "/api/v1/messages")
		if err == nil {
			resp.Body.Close()
			if c, err := net.Dial("tcp", net.JoinHostPort(s.Host, strconv.Itoa(s.SMTPPort))); err == nil {
				c.Close()
				return
			}
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(filepath.Join(s.dir, "log"))
			t.Fatalf("mailpit did not start: %s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop ends the server (what arrived so far stays in its database).
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts a stopped server again on the same ports and database.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop()
	s.start(t)
}

// Summary is one message in Mailpit's list.
type Summary struct {
	ID        string `json:"ID"`
	MessageID string `json:"MessageID"`
	Subject   string `json:"Subject"`
	To        []struct {
		Address string `json:"Address"`
	} `json:"To"`
}

// Messages lists what arrived, newest first.
func (s *Server) Messages(ctx context.Context) ([]Summary, error) {
	var out struct {
		Messages []Summary `json:"messages"`
	}
	if err := s.get(ctx, "/api/v1/messages?limit=1000", &out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// Raw returns a message's source.
func (s *Server) Raw(ctx context.Context, id string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.API+"/api/v1/message/"+id+"/raw", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit raw %s: %s", id, resp.Status)
	}
	return io.ReadAll(resp.Body)
}

// WaitFor polls until cond holds for the list of messages, or fails the
// test after timeout.
func (s *Server) WaitFor(t testing.TB, timeout time.Duration, what string, cond func([]Summary) bool) []Summary {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ms, err := s.Messages(context.Background())
		if err == nil && cond(ms) {
			return ms
		}
		if time.Now().After(deadline) {
			t.Fatalf("mailpit: %s: not within %v (have %d messages, err %v)", what, timeout, len(ms), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *Server) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.API+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("mailpit %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// makeCert writes a self-signed certificate for 127.0.0.1 and returns
// the paths and a pool that trusts it.
func makeCert(t testing.TB, dir string) (certPath, keyPath string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certPath, keyPath, pool
}
