package turnserver

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/pion/turn/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// testSecret is the shared secret of the tests (≥ 32 bytes).
const testSecret = "parley-test-secret-0123456789abcdef"

// lockedBuffer collects log output from many goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testServer is an embedded server on 127.0.0.1 with free ports.
type testServer struct {
	*Server
	cfg  Config
	logs *lockedBuffer
	reg  *prometheus.Registry
}

// peerIP is where the tests' UDP peers listen: a loopback address that is
// not one of the server's own (127.0.0.1 is), allowed by loopbackConfig.
const peerIP = "127.0.0.2"

// loopbackConfig is an enabled configuration on 127.0.0.1, free ports,
// that lets the relay reach loopback peers (tests run on loopback only);
// the server's own address 127.0.0.1 stays refused.
func loopbackConfig() Config {
	cfg := DefaultConfig()
	cfg.Enabled = true
	cfg.ListenIP = "127.0.0.1"
	cfg.UDPPort, cfg.TCPPort = 0, 0
	cfg.RelayMinPort, cfg.RelayMaxPort = 0, 0
	cfg.Secret = testSecret
	cfg.AllowedPeers = []string{"127.0.0.0/8"}
	return cfg
}

func startServer(t *testing.T, mutate func(*Config), opts ...Option) *testServer {
	t.Helper()
	cfg := loopbackConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := prometheus.NewRegistry()
	s, err := New(cfg, log, reg, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})
	return &testServer{Server: s, cfg: cfg, logs: logs, reg: reg}
}

// metric returns the value of a counter or gauge in the server's registry.
func (ts *testServer) metric(t *testing.T, name string) float64 {
	t.Helper()
	mfs, err := ts.reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if c := m.GetCounter(); c != nil {
			return c.GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

// port is the port of an address.
func port(t *testing.T, a net.Addr) string {
	t.Helper()
	if a == nil {
		t.Fatal("no address")
	}
	_, p, err := net.SplitHostPort(a.String())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startEcho runs a UDP echo peer on ip:0 and returns its address.
func startEcho(t *testing.T, ip string) *net.UDPAddr {
	t.Helper()
	conn, err := net.ListenPacket("udp4", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("echo listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := conn.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := conn.WriteTo(buf[:n], from); err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		_ = conn.Close()
		<-done
	})
	return conn.LocalAddr().(*net.UDPAddr)
}

// dialPion connects a pion TURN client over "udp", "tcp" or "tls"
// (tlsConf set) and starts its read loop; Close is left to the caller
// through the returned function (also registered as cleanup). It also
// returns the client's local address.
func dialPion(t *testing.T, network, addr, user, pass string, tlsConf *tls.Config) (*turn.Client, net.Addr, func()) {
	t.Helper()
	var conn net.PacketConn
	var local net.Addr
	switch network {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn, local = c, c.LocalAddr()
	case "tcp":
		c, err := net.DialTimeout("tcp4", addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn, local = turn.NewSTUNConn(c), c.LocalAddr()
	case "tls":
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp4", addr, tlsConf)
		if err != nil {
			t.Fatal(err)
		}
		conn, local = turn.NewSTUNConn(c), c.LocalAddr()
	default:
		t.Fatalf("network %q", network)
	}
	client, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr,
		TURNServerAddr: addr,
		Username:       user,
		Password:       pass,
		Conn:           conn,
		LoggerFactory:  pionLoggers{log: slog.New(slog.DiscardHandler)},
		RTO:            200 * time.Millisecond,
	})
	if err != nil {
		_ = conn.Close()
		t.Fatalf("NewClient: %v", err)
	}
	if err := client.Listen(); err != nil {
		client.Close()
		_ = conn.Close()
		t.Fatalf("client Listen: %v", err)
	}
	var once sync.Once
	closeFn := func() {
		once.Do(func() {
			client.Close()
			_ = conn.Close()
		})
	}
	t.Cleanup(closeFn)
	return client, local, closeFn
}

// roundTrip sends a message through the relay to the echo peer and waits
// for it to come back through the relay.
func roundTrip(relay net.PacketConn, peer net.Addr, msg []byte) error {
	if _, err := relay.WriteTo(msg, peer); err != nil {
		return err
	}
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := relay.SetReadDeadline(deadline); err != nil {
			return err
		}
		n, from, err := relay.ReadFrom(buf)
		if err != nil {
			return err
		}
		if from.String() != peer.String() {
			continue
		}
		if !bytes.Equal(buf[:n], msg) {
			return errors.New("echo differs from what was sent")
		}
		return nil
	}
}

// writeCert writes a self-signed certificate for 127.0.0.1 and its key as
// PEM files into dir and returns their paths and a pool trusting it.
func writeCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "parley-turn-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// waitGoroutines polls until at most want goroutines run, or fails.
func waitGoroutines(t *testing.T, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running, want at most %d:\n%s", n, want, goroutineDump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func goroutineDump() string {
	buf := make([]byte, 1<<20)
	return string(buf[:runtime.Stack(buf, true)])
}
