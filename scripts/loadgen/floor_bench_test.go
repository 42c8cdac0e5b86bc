package main

// Floors for the Go benchmarks that `make bench` runs (scripts/bench.sh):
// BenchmarkFloorX is the least work benchmark X of another package can
// do, measured in the same run. The report pairs them by name.

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/parley-video/parley/signature"
	"github.com/pion/rtp"
)

// BenchmarkFloorFanout is the floor of sfu's BenchmarkFanout: copy the
// same marshalled packet into every subscriber's buffer, nothing else (no
// parsing, no header rewrite, no metrics).
func BenchmarkFloorFanout(b *testing.B) {
	pkt := rtp.Packet{
		Header:  rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 1, Timestamp: 1, SSRC: 42},
		Payload: make([]byte, 1100),
	}
	if err := pkt.Header.SetExtension(1, []byte{1, 2, 3}); err != nil {
		b.Fatal(err)
	}
	raw, err := pkt.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{1, 5, 10, 50} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) {
			sinks := make([][]byte, n)
			b.SetBytes(int64(len(raw) * n))
			b.ReportAllocs()
			for b.Loop() {
				for i := range sinks {
					sinks[i] = append(sinks[i][:0], raw...)
				}
			}
		})
	}
}

// medianTimer reports the median iteration time as p50-ns, like signature's
// benchmarks do.
type medianTimer struct{ d []time.Duration }

func (p *medianTimer) time(f func()) {
	t := time.Now()
	f()
	p.d = append(p.d, time.Since(t))
}

func (p *medianTimer) report(b *testing.B) {
	if len(p.d) > 0 {
		slices.Sort(p.d)
		b.ReportMetric(float64(p.d[len(p.d)/2].Nanoseconds()), "p50-ns")
	}
}

// contract is the document signature's benchmarks sign.
func contract(b *testing.B, pages int) []byte {
	doc, err := signature.ContractPDF(signature.ContractTemplate{
		Title: "Beratungsvertrag Müller & Söhne", Pages: pages, Place: "Köln",
		Date: time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Parties: []signature.Party{
			{Role: "Anbieter", Name: "Parley GmbH", Address: "Hauptstraße 1, 50667 Köln"},
			{Role: "Kundin", Name: "Jürgen Weiß"},
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	return doc
}

// floorSign: hash the document and make one ECDSA P-256 signature (the
// seal's key type), the cryptography a PDF signature cannot do without.
func floorSign(b *testing.B, pages int) {
	doc := contract(b, pages)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var p medianTimer
	for b.Loop() {
		p.time(func() {
			d := sha256.Sum256(doc)
			if _, err := ecdsa.SignASN1(rand.Reader, key, d[:]); err != nil {
				b.Fatal(err)
			}
		})
	}
	p.report(b)
}

func BenchmarkFloorSign1Page(b *testing.B)   { floorSign(b, 1) }
func BenchmarkFloorSign20Pages(b *testing.B) { floorSign(b, 20) }

// floorVerify: hash the document and verify one ECDSA P-256 signature.
func floorVerify(b *testing.B, pages int) {
	doc := contract(b, pages)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256(doc)
	sig, err := ecdsa.SignASN1(rand.Reader, key, d[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var p medianTimer
	for b.Loop() {
		p.time(func() {
			d := sha256.Sum256(doc)
			if !ecdsa.VerifyASN1(&key.PublicKey, d[:], sig) {
				b.Fatal("verify failed")
			}
		})
	}
	p.report(b)
}

func BenchmarkFloorVerify1Page(b *testing.B)   { floorVerify(b, 1) }
func BenchmarkFloorVerify20Pages(b *testing.B) { floorVerify(b, 20) }

// biometricRecord is the plaintext signature's envelope benchmarks seal.
func biometricRecord(b *testing.B) []byte {
	binding := signature.NewBinding([]byte("%PDF-1.7 the contract as presented\n"), "Signature1", "c-0123")
	data, err := signature.NewBiometricRecord(signature.ExampleCapture(), "Erika Mustermann", binding,
		time.Date(2026, 12, 2, 10, 1, 2, 0, time.UTC)).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func gcm(b *testing.B, key []byte) cipher.AEAD {
	blk, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	a, err := cipher.NewGCM(blk)
	if err != nil {
		b.Fatal(err)
	}
	return a
}

// BenchmarkFloorEnvelopeSeal: the envelope's cryptography alone (an
// ephemeral P-256 key, ECDH, HKDF-SHA256, AES-256-GCM for the content key
// and the content), no encoding.
func BenchmarkFloorEnvelopeSeal(b *testing.B) {
	plaintext := biometricRecord(b)
	recipient, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		eph, err := ecdh.P256().GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		z, err := eph.ECDH(recipient.PublicKey())
		if err != nil {
			b.Fatal(err)
		}
		kek, err := hkdf.Key(sha256.New, z, []byte("salt"), "info", 32)
		if err != nil {
			b.Fatal(err)
		}
		contentKey := make([]byte, 32)
		_, _ = rand.Read(contentKey)
		wrapped := gcm(b, kek).Seal(nil, nonce, contentKey, nil)
		_ = gcm(b, contentKey).Seal(nil, nonce, plaintext, nil)
		_ = wrapped
	}
}

// BenchmarkFloorEnvelopeOpen: ECDH, HKDF-SHA256 and two AES-256-GCM opens.
func BenchmarkFloorEnvelopeOpen(b *testing.B) {
	plaintext := biometricRecord(b)
	recipient, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	eph, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	nonce := make([]byte, 12)
	z, _ := eph.ECDH(recipient.PublicKey())
	kek, _ := hkdf.Key(sha256.New, z, []byte("salt"), "info", 32)
	contentKey := make([]byte, 32)
	wrapped := gcm(b, kek).Seal(nil, nonce, contentKey, nil)
	ct := gcm(b, contentKey).Seal(nil, nonce, plaintext, nil)
	ephPub := eph.PublicKey()
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		z, err := recipient.ECDH(ephPub)
		if err != nil {
			b.Fatal(err)
		}
		kek, err := hkdf.Key(sha256.New, z, []byte("salt"), "info", 32)
		if err != nil {
			b.Fatal(err)
		}
		ck, err := gcm(b, kek).Open(nil, nonce, wrapped, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := gcm(b, ck).Open(nil, nonce, ct, nil); err != nil {
			b.Fatal(err)
		}
	}
}
