package blobs

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// sealInfo separates the keys of small sealed records from file keys.
const sealInfo = "parley seal v1\x00"

// Seal encrypts a small record (a queued e-mail, a webhook body) with the
// current storage key for storing it elsewhere (the records database):
// AES-256-GCM under a key derived per purpose and random salt, with ad as
// additional data (e.g. the record's idempotency key, so a sealed payload
// cannot be moved to another row). The result names the key id, so Open
// works after a rotation while the old key is kept.
func (r *KeyRing) Seal(purpose string, plain, ad []byte) ([]byte, error) {
	k := &r.keys[0]
	salt := make([]byte, 16)
	rand.Read(salt)
	aead, err := sealAEAD(k, salt, purpose)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+len(k.id)+len(salt)+aead.NonceSize()+len(plain)+aead.Overhead())
	out = append(out, byte(len(k.id)))
	out = append(out, k.id...)
	out = append(out, salt...)
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out = append(out, nonce...)
	return aead.Seal(out, nonce, plain, ad), nil
}

// Open reverses Seal with the same purpose and ad. Errors: an
// *UnknownKeyError when the key it names is not in the ring, otherwise a
// plain error for anything malformed or altered.
func (r *KeyRing) Open(purpose string, sealed, ad []byte) ([]byte, error) {
	if len(sealed) < 1 || len(sealed) < 1+int(sealed[0])+16 {
		return nil, errors.New("blobs: sealed record too short")
	}
	id := string(sealed[1 : 1+int(sealed[0])])
	rest := sealed[1+int(sealed[0]):]
	k := r.key(id)
	if k == nil {
		return nil, &UnknownKeyError{KeyID: id, File: "sealed " + purpose}
	}
	aead, err := sealAEAD(k, rest[:16], purpose)
	if err != nil {
		return nil, err
	}
	rest = rest[16:]
	if len(rest) < aead.NonceSize()+aead.Overhead() {
		return nil, errors.New("blobs: sealed record too short")
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], ad)
	if err != nil {
		return nil, fmt.Errorf("blobs: open sealed record: %w", err)
	}
	return plain, nil
}

func sealAEAD(k *ringKey, salt []byte, purpose string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, k.secret, salt, sealInfo+purpose, KeySize)
	if err != nil {
		return nil, fmt.Errorf("blobs: derive seal key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return cipher.NewGCM(block)
}
