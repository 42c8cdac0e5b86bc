package signature

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var testCreated = time.Date(2026, 12, 2, 10, 1, 2, 345_678_901, time.UTC)

func testBinding() Binding {
	return NewBinding([]byte("%PDF-1.7 the contract as presented\n"), "Signature1", "c-0123")
}

func sealTest(t testing.TB, priv *EscrowPrivateKey, b Binding, plaintext []byte) []byte {
	t.Helper()
	data, err := SealEnvelope(rand.Reader, priv.Public(), b, plaintext, testCreated)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestNewBinding(t *testing.T) {
	b := NewBinding([]byte("abc"), "F", "C")
	want := Binding{DocumentSHA256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", DocumentLength: 3, Field: "F", ConsultationID: "C"}
	if b != want {
		t.Fatalf("NewBinding = %+v", b)
	}
	bad := []Binding{
		{DocumentSHA256: strings.ToUpper(want.DocumentSHA256), DocumentLength: 3, Field: "F"},
		{DocumentSHA256: want.DocumentSHA256[:62], DocumentLength: 3, Field: "F"},
		{DocumentSHA256: want.DocumentSHA256, DocumentLength: 0, Field: "F"},
		{DocumentSHA256: want.DocumentSHA256, DocumentLength: 3, Field: ""},
		{DocumentSHA256: want.DocumentSHA256, DocumentLength: 3, Field: "F", ConsultationID: "\xff"},
		{DocumentSHA256: want.DocumentSHA256, DocumentLength: 3, Field: strings.Repeat("x", 256)},
	}
	for _, b := range bad {
		if err := b.Validate(); !errors.Is(err, ErrBindingInvalid) {
			t.Errorf("Validate(%+v) = %v", b, err)
		}
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	k := newTestKeys(t)
	rec := NewBiometricRecord(ExampleCapture(), "Erika Mustermann", testBinding(), testCreated)
	plaintext, err := rec.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, priv := range map[string]*EscrowPrivateKey{"p256": k.p256, "rsa": k.rsa} {
		t.Run(name, func(t *testing.T) {
			data := sealTest(t, priv, testBinding(), plaintext)
			if bytes.Contains(data, []byte("Erika")) || bytes.Contains(data, []byte("strokes")) {
				t.Fatal("plaintext visible in the envelope")
			}
			e, err := ParseEnvelope(data)
			if err != nil {
				t.Fatal(err)
			}
			if e.Binding != testBinding() || e.Recipient != priv.Public().Fingerprint() || e.Alg != priv.Public().Algorithm() {
				t.Errorf("header %+v", e)
			}
			if !e.CreatedAt.Equal(testCreated.Truncate(time.Millisecond)) {
				t.Errorf("created_at %v", e.CreatedAt)
			}
			if err := e.SealedTo(priv.Public()); err != nil {
				t.Error(err)
			}
			if err := e.CheckBinding(testBinding()); err != nil {
				t.Error(err)
			}
			again, err := e.Marshal()
			if err != nil || !bytes.Equal(again, data) {
				t.Errorf("re-marshal differs: %v", err)
			}
			got, err := e.Open(priv, testBinding())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, plaintext) {
				t.Fatal("opened plaintext differs")
			}
			back, err := ParseBiometricRecord(got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Capture, rec.Capture) || back.SignerName != rec.SignerName ||
				back.DocumentSHA256 != rec.DocumentSHA256 || back.Field != "Signature1" || back.ConsultationID != "c-0123" ||
				!back.SignedAt.Equal(rec.SignedAt) {
				t.Errorf("record differs after the round trip: %+v", back)
			}
			if !reflect.DeepEqual(back.Features, rec.Features) {
				t.Errorf("features differ after the round trip:\n%+v\n%+v", back.Features, rec.Features)
			}
		})
	}
}

func TestEnvelopeWrongKey(t *testing.T) {
	k := newTestKeys(t)
	other := newTestKeys(t)
	for _, tt := range []struct {
		name       string
		seal, open *EscrowPrivateKey
	}{
		{"other p256", k.p256, other.p256},
		{"other rsa", k.rsa, other.rsa},
		{"rsa for p256", k.p256, k.rsa},
		{"p256 for rsa", k.rsa, k.p256},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e, err := ParseEnvelope(sealTest(t, tt.seal, testBinding(), []byte("pen data")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Open(tt.open, testBinding()); !errors.Is(err, ErrEnvelopeWrongKey) {
				t.Fatalf("Open = %v, want ErrEnvelopeWrongKey", err)
			}
			if err := e.SealedTo(tt.open.Public()); !errors.Is(err, ErrEnvelopeWrongKey) {
				t.Fatalf("SealedTo = %v, want ErrEnvelopeWrongKey", err)
			}
			// Claiming the other key as recipient doesn't help: the
			// content key doesn't unwrap.
			e.Recipient, e.Alg = tt.open.Public().Fingerprint(), tt.open.Public().Algorithm()
			if tt.seal.Public().Kind() != tt.open.Public().Kind() {
				return // the key material's shape no longer fits the algorithm
			}
			if _, err := e.Open(tt.open, testBinding()); !errors.Is(err, ErrEnvelopeWrongKey) {
				t.Fatalf("Open with forged recipient = %v, want ErrEnvelopeWrongKey", err)
			}
		})
	}
}

func TestEnvelopeNotBound(t *testing.T) {
	k := newTestKeys(t)
	other := NewBinding([]byte("%PDF-1.7 another document\n"), "Signature1", "c-0123")
	changes := []struct {
		name   string
		change func(*Binding)
	}{
		{"document hash", func(b *Binding) { b.DocumentSHA256 = other.DocumentSHA256 }},
		{"document length", func(b *Binding) { b.DocumentLength++ }},
		{"field", func(b *Binding) { b.Field = "Signature2" }},
		{"consultation", func(b *Binding) { b.ConsultationID = "c-9999" }},
		{"consultation emptied", func(b *Binding) { b.ConsultationID = "" }},
	}
	for name, priv := range map[string]*EscrowPrivateKey{"p256": k.p256, "rsa": k.rsa} {
		data := sealTest(t, priv, testBinding(), []byte("pen data"))
		for _, ch := range changes {
			t.Run(name+"/"+ch.name, func(t *testing.T) {
				b := testBinding()
				ch.change(&b)
				e, err := ParseEnvelope(data)
				if err != nil {
					t.Fatal(err)
				}
				if err := e.CheckBinding(b); !errors.Is(err, ErrEnvelopeNotBound) {
					t.Errorf("CheckBinding = %v", err)
				}
				if _, err := e.Open(priv, b); !errors.Is(err, ErrEnvelopeNotBound) {
					t.Fatalf("Open = %v, want ErrEnvelopeNotBound", err)
				}
				// Edit the header to match: the additional data still binds.
				e.Binding = b
				forged, err := e.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				e2, err := ParseEnvelope(forged)
				if err != nil {
					t.Fatal(err)
				}
				if err := e2.CheckBinding(b); err != nil {
					t.Fatalf("edited header doesn't match: %v", err)
				}
				if _, err := e2.Open(priv, b); !errors.Is(err, ErrEnvelopeNotBound) {
					t.Fatalf("Open with edited header = %v, want ErrEnvelopeNotBound", err)
				}
			})
		}
	}
}

func TestEnvelopeTampered(t *testing.T) {
	k := newTestKeys(t)
	for name, priv := range map[string]*EscrowPrivateKey{"p256": k.p256, "rsa": k.rsa} {
		data := sealTest(t, priv, testBinding(), []byte("pen data, biometric"))
		tamper := []struct {
			name string
			edit func(*Envelope)
		}{
			{"ciphertext byte", func(e *Envelope) { e.Ciphertext[3] ^= 1 }},
			{"tag byte", func(e *Envelope) { e.Ciphertext[len(e.Ciphertext)-1] ^= 0x80 }},
			{"nonce", func(e *Envelope) { e.Nonce[0] ^= 1 }},
			{"wrapped key", func(e *Envelope) { e.WrappedKey[5] ^= 1 }},
			{"created_at", func(e *Envelope) { e.CreatedAt = e.CreatedAt.Add(time.Millisecond) }},
			{"ephemeral key", func(e *Envelope) {
				if e.EphemeralKey != nil {
					e.EphemeralKey = sealedEphemeral(t, priv)
				} else {
					e.Ciphertext[0] ^= 1
				}
			}},
		}
		for _, tt := range tamper {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				e, err := ParseEnvelope(data)
				if err != nil {
					t.Fatal(err)
				}
				tt.edit(e)
				if out, err := e.Open(priv, testBinding()); err == nil {
					t.Fatalf("tampered envelope opened: %q", out)
				} else if !errors.Is(err, ErrEnvelopeNotBound) && !errors.Is(err, ErrEnvelopeWrongKey) {
					t.Fatalf("Open = %v", err)
				}
			})
		}
	}
}

// sealedEphemeral returns the ephemeral key of a fresh envelope: a valid
// point that is not the one used.
func sealedEphemeral(t *testing.T, priv *EscrowPrivateKey) []byte {
	e, err := ParseEnvelope(sealTest(t, priv, testBinding(), []byte("x")))
	if err != nil {
		t.Fatal(err)
	}
	return e.EphemeralKey
}

func TestParseEnvelopeRejects(t *testing.T) {
	k := newTestKeys(t)
	good := sealTest(t, k.p256, testBinding(), []byte("pen data"))
	goodRSA := sealTest(t, k.rsa, testBinding(), []byte("pen data"))
	edit := func(src []byte, f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal(src, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		out, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	b64 := base64.StdEncoding.EncodeToString
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"not json", "x"},
		{"trailing", string(good) + "{}"},
		{"unknown field", edit(good, func(m map[string]any) { m["extra"] = 1 })},
		{"unknown binding field", edit(good, func(m map[string]any) { m["binding"].(map[string]any)["page"] = 1 })},
		{"duplicate key", strings.Replace(string(good), `"v":1`, `"v":1,"v":1`, 1)},
		{"key case", strings.Replace(string(good), `"alg"`, `"ALG"`, 1)},
		{"format", edit(good, func(m map[string]any) { m["format"] = "other" })},
		{"version", edit(good, func(m map[string]any) { m["v"] = 2 })},
		{"alg", edit(good, func(m map[string]any) { m["alg"] = "ROT13" })},
		{"recipient", edit(good, func(m map[string]any) { m["recipient"] = "md5:00" })},
		{"recipient upper case", edit(good, func(m map[string]any) { m["recipient"] = strings.ToUpper(m["recipient"].(string)) })},
		{"binding hash", edit(good, func(m map[string]any) { m["binding"].(map[string]any)["document_sha256"] = "00" })},
		{"binding length", edit(good, func(m map[string]any) { m["binding"].(map[string]any)["document_length"] = -1 })},
		{"created_at offset", edit(good, func(m map[string]any) { m["created_at"] = "2026-12-02T11:01:02.345+01:00" })},
		{"created_at precision", edit(good, func(m map[string]any) { m["created_at"] = "2026-12-02T10:01:02Z" })},
		{"base64 url", edit(good, func(m map[string]any) {
			m["nonce"] = base64.URLEncoding.EncodeToString([]byte{0xfb, 0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
		})},
		{"base64 newline", edit(good, func(m map[string]any) { s := m["ciphertext"].(string); m["ciphertext"] = s[:4] + "\n" + s[4:] })},
		{"base64 unpadded", edit(good, func(m map[string]any) { m["nonce"] = strings.TrimRight(b64(make([]byte, 11)), "=") })},
		{"nonce size", edit(good, func(m map[string]any) { m["nonce"] = b64(make([]byte, 16)) })},
		{"ciphertext short", edit(good, func(m map[string]any) { m["ciphertext"] = b64(make([]byte, 15)) })},
		{"wrapped key size", edit(good, func(m map[string]any) { m["wrapped_key"] = b64(make([]byte, 32)) })},
		{"ephemeral key missing", edit(good, func(m map[string]any) { delete(m, "ephemeral_key") })},
		{"ephemeral key not a point", edit(good, func(m map[string]any) { m["ephemeral_key"] = b64(append([]byte{4}, make([]byte, 64)...)) })},
		{"ephemeral key with rsa", edit(goodRSA, func(m map[string]any) {
			var g map[string]any
			_ = json.Unmarshal(good, &g)
			m["ephemeral_key"] = g["ephemeral_key"]
		})},
		{"rsa wrapped key short", edit(goodRSA, func(m map[string]any) { m["wrapped_key"] = b64(make([]byte, 128)) })},
		{"too large", string(good) + strings.Repeat(" ", MaxEnvelopeBytes)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := ParseEnvelope([]byte(tt.in)); !errors.Is(err, ErrEnvelopeMalformed) {
				t.Fatalf("ParseEnvelope = %v, want ErrEnvelopeMalformed", err)
			}
		})
	}
}

func TestSealEnvelopeRejects(t *testing.T) {
	k := newTestKeys(t)
	if _, err := SealEnvelope(nil, nil, testBinding(), nil, testCreated); !errors.Is(err, ErrEscrowKey) {
		t.Errorf("nil key: %v", err)
	}
	if _, err := SealEnvelope(nil, k.p256.Public(), Binding{}, nil, testCreated); !errors.Is(err, ErrBindingInvalid) {
		t.Errorf("empty binding: %v", err)
	}
	if _, err := SealEnvelope(nil, k.p256.Public(), testBinding(), make([]byte, MaxEnvelopePlaintextBytes+1), testCreated); err == nil {
		t.Error("oversized plaintext sealed")
	}
	if _, err := SealEnvelope(bytes.NewReader(make([]byte, 10)), k.p256.Public(), testBinding(), nil, testCreated); err == nil {
		t.Error("short random source accepted")
	}
	// An empty plaintext is allowed, and nil rand means crypto/rand.
	data, err := SealEnvelope(nil, k.p256.Public(), testBinding(), nil, testCreated)
	if err != nil {
		t.Fatal(err)
	}
	e, err := ParseEnvelope(data)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := e.Open(k.p256, testBinding()); err != nil || len(out) != 0 {
		t.Fatalf("Open = %q, %v", out, err)
	}
	if _, err := e.Open(k.p256, Binding{}); !errors.Is(err, ErrBindingInvalid) {
		t.Errorf("Open with empty binding: %v", err)
	}
}

func TestParseBiometricRecordRejects(t *testing.T) {
	rec, err := NewBiometricRecord(ExampleCapture(), "A", testBinding(), testCreated).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"format":      strings.Replace(string(rec), RecordFormat, "x", 1),
		"unknown key": strings.Replace(string(rec), `"v":1`, `"v":1,"x":1`, 1),
		"capture":     strings.Replace(string(rec), `"pointer":"pen"`, `"pointer":"ink"`, 1),
		"no capture":  `{"format":"parley-biometric-record","v":1}`,
	} {
		if _, err := ParseBiometricRecord([]byte(in)); !errors.Is(err, ErrRecordMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := (&BiometricRecord{}).Marshal(); !errors.Is(err, ErrRecordMalformed) {
		t.Errorf("record without capture: %v", err)
	}
}

func FuzzParseEnvelope(f *testing.F) {
	k := newTestKeys(f)
	b := testBinding()
	for _, priv := range []*EscrowPrivateKey{k.p256, k.rsa} {
		data, err := SealEnvelope(nil, priv.Public(), b, []byte("pen data"), testCreated)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := ParseEnvelope(data)
		if err != nil {
			return
		}
		out, err := e.Marshal()
		if err != nil {
			t.Fatalf("parsed envelope doesn't marshal: %v", err)
		}
		if _, err := ParseEnvelope(out); err != nil {
			t.Fatalf("re-marshalled envelope doesn't parse: %v", err)
		}
		priv := k.p256
		if e.Alg == AlgRSAOAEP {
			priv = k.rsa
		}
		if plain, err := e.Open(priv, e.Binding); err == nil && !bytes.Equal(plain, []byte("pen data")) {
			t.Fatalf("opened to %q", plain)
		}
	})
}
