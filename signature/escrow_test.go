package signature

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// testKeys are escrow key pairs of both kinds, generated once per test.
type testKeys struct {
	p256, rsa *EscrowPrivateKey
	p256PEM   []byte // public
	rsaPEM    []byte // public
}

func newTestKeys(t testing.TB) testKeys {
	t.Helper()
	var k testKeys
	for _, kind := range []string{EscrowKindP256, EscrowKindRSA2048} {
		privPEM, pubPEM, err := GenerateEscrowKey(kind)
		if err != nil {
			t.Fatal(err)
		}
		priv, err := ParseEscrowPrivateKey(privPEM)
		if err != nil {
			t.Fatal(err)
		}
		if kind == EscrowKindP256 {
			k.p256, k.p256PEM = priv, pubPEM
		} else {
			k.rsa, k.rsaPEM = priv, pubPEM
		}
	}
	return k
}

func pemOf(t *testing.T, typ string, der []byte) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func TestGenerateAndParseEscrowKeys(t *testing.T) {
	k := newTestKeys(t)
	for _, tt := range []struct {
		priv    *EscrowPrivateKey
		pubPEM  []byte
		kind    string
		alg     string
		pemHead string
	}{
		{k.p256, k.p256PEM, EscrowKindP256, AlgECDHP256, "-----BEGIN PUBLIC KEY-----"},
		{k.rsa, k.rsaPEM, EscrowKindRSA2048, AlgRSAOAEP, "-----BEGIN PUBLIC KEY-----"},
	} {
		pub, err := ParseEscrowPublicKey(tt.pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.Equal(tt.priv.Public()) {
			t.Errorf("%s: parsed public key differs from the private key's", tt.kind)
		}
		if pub.Kind() != tt.kind || pub.Algorithm() != tt.alg {
			t.Errorf("kind %s alg %s, want %s %s", pub.Kind(), pub.Algorithm(), tt.kind, tt.alg)
		}
		if !strings.HasPrefix(string(pub.PEM()), tt.pemHead) || !bytes.Equal(pub.PEM(), tt.pubPEM) {
			t.Errorf("%s: PEM doesn't round-trip", tt.kind)
		}
		block, _ := pem.Decode(tt.pubPEM)
		sum := sha256.Sum256(block.Bytes)
		if want := "sha256:" + hex.EncodeToString(sum[:]); pub.Fingerprint() != want {
			t.Errorf("fingerprint %s, want %s", pub.Fingerprint(), want)
		}
	}
	if k.p256.Public().Fingerprint() == k.rsa.Public().Fingerprint() {
		t.Error("different keys share a fingerprint")
	}
}

func TestGenerateEscrowKeyRSA3072(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA-3072 generation is slow")
	}
	_, pubPEM, err := GenerateEscrowKey(EscrowKindRSA3072)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseEscrowPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if pub.Kind() != EscrowKindRSA3072 {
		t.Errorf("kind %s", pub.Kind())
	}
}

// The fingerprint is what openssl computes over the DER public key.
func TestFingerprintMatchesOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("no openssl")
	}
	k := newTestKeys(t)
	for _, pubPEM := range [][]byte{k.p256PEM, k.rsaPEM} {
		cmd := exec.Command(openssl, "pkey", "-pubin", "-outform", "DER")
		cmd.Stdin = bytes.NewReader(pubPEM)
		der, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl: %v", err)
		}
		pub, err := ParseEscrowPublicKey(pubPEM)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(der)
		if want := "sha256:" + hex.EncodeToString(sum[:]); pub.Fingerprint() != want {
			t.Errorf("fingerprint %s, openssl's DER gives %s", pub.Fingerprint(), want)
		}
	}
}

func TestParseEscrowKeyRejects(t *testing.T) {
	k := newTestKeys(t)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Pub, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	p384Priv, _ := x509.MarshalPKCS8PrivateKey(p384)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	edPubDER, _ := x509.MarshalPKIXPublicKey(edPub)
	edPrivDER, _ := x509.MarshalPKCS8PrivateKey(edPriv)
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024Pub, _ := x509.MarshalPKIXPublicKey(&rsa1024.PublicKey)
	rsa1024Priv, _ := x509.MarshalPKCS8PrivateKey(rsa1024)
	p256Priv, _ := x509.MarshalPKCS8PrivateKey(k.p256.ec)
	sec1, _ := x509.MarshalECPrivateKey(&ecdsa.PrivateKey{}) // invalid anyway; only the type matters
	encrypted := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: p384Pub})

	pubTests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not pem", []byte("hello")},
		{"private key block", pemOf(t, "PRIVATE KEY", p256Priv)},
		{"RSA PUBLIC KEY block", pemOf(t, "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(&rsa1024.PublicKey))},
		{"garbage DER", pemOf(t, "PUBLIC KEY", []byte{0x30, 0x03, 0x01, 0x02, 0x03})},
		{"P-384", pemOf(t, "PUBLIC KEY", p384Pub)},
		{"Ed25519", pemOf(t, "PUBLIC KEY", edPubDER)},
		{"RSA-1024", pemOf(t, "PUBLIC KEY", rsa1024Pub)},
		{"two blocks", append(append([]byte{}, k.p256PEM...), k.rsaPEM...)},
		{"headers", encrypted},
	}
	for _, tt := range pubTests {
		t.Run("public/"+tt.name, func(t *testing.T) {
			if _, err := ParseEscrowPublicKey(tt.in); !errors.Is(err, ErrEscrowKey) {
				t.Fatalf("ParseEscrowPublicKey = %v, want ErrEscrowKey", err)
			}
		})
	}
	privTests := []struct {
		name string
		in   []byte
	}{
		{"public key block", k.p256PEM},
		{"EC PRIVATE KEY (SEC 1)", pemOf(t, "EC PRIVATE KEY", sec1)},
		{"P-384", pemOf(t, "PRIVATE KEY", p384Priv)},
		{"Ed25519", pemOf(t, "PRIVATE KEY", edPrivDER)},
		{"RSA-1024", pemOf(t, "PRIVATE KEY", rsa1024Priv)},
		{"garbage", pemOf(t, "PRIVATE KEY", []byte("nope"))},
	}
	for _, tt := range privTests {
		t.Run("private/"+tt.name, func(t *testing.T) {
			if _, err := ParseEscrowPrivateKey(tt.in); !errors.Is(err, ErrEscrowKey) {
				t.Fatalf("ParseEscrowPrivateKey = %v, want ErrEscrowKey", err)
			}
		})
	}
	if _, _, err := GenerateEscrowKey("dsa"); !errors.Is(err, ErrEscrowKey) {
		t.Errorf("GenerateEscrowKey(dsa) = %v", err)
	}
	// Text around a single block is fine.
	if _, err := ParseEscrowPublicKey(append([]byte("escrow key of the notary\n"), k.p256PEM...)); err != nil {
		t.Errorf("leading text: %v", err)
	}
}
