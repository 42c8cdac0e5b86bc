package signature

import (
	"crypto/rand"
	"testing"
)

func benchRecord(b *testing.B) []byte {
	b.Helper()
	data, err := NewBiometricRecord(ExampleCapture(), "Erika Mustermann", testBinding(), testCreated).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

func BenchmarkEnvelopeSeal(b *testing.B) {
	k := newTestKeys(b)
	plaintext := benchRecord(b)
	pub := k.p256.Public()
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		if _, err := SealEnvelope(rand.Reader, pub, testBinding(), plaintext, testCreated); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEnvelopeOpen(b *testing.B) {
	k := newTestKeys(b)
	plaintext := benchRecord(b)
	data, err := SealEnvelope(rand.Reader, k.p256.Public(), testBinding(), plaintext, testCreated)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(plaintext)))
	for b.Loop() {
		e, err := ParseEnvelope(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Open(k.p256, testBinding()); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeCapture(b *testing.B) {
	data, err := ExampleCapture().Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := DecodeCapture(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeFeatures(b *testing.B) {
	c := ExampleCapture()
	for b.Loop() {
		f := ComputeFeatures(c)
		if err := CheckPlausible(c, f); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRenderPNG(b *testing.B) {
	c := ExampleCapture()
	for b.Loop() {
		if _, err := RenderPNG(c, RenderOptions{MaxWidth: 600, MaxHeight: 220, Transparent: true}); err != nil {
			b.Fatal(err)
		}
	}
}
