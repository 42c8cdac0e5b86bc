package blobs

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeySize is the size of a storage key: AES-256.
const KeySize = 32

// DevKeyFile is the name of the development key file LoadKeyRing creates in
// its development directory when no key is configured.
const DevKeyFile = "storage.key"

// devKeyID names the development key.
const devKeyID = "dev"

const (
	maxKeyIDLen  = 32
	maxKeyFile   = 64 << 10
	keyFileUsage = `want "<id> <base64 of 32 bytes>"`
)

// KeyRing holds the storage keys: the current one encrypts new files, the
// older ones only decrypt files written before a rotation. Every key has a
// short id, which files name in their header. Safe for concurrent use (it
// never changes after parsing).
type KeyRing struct {
	keys []ringKey // keys[0] is the current key
	dev  bool
}

type ringKey struct {
	id     string
	secret []byte
}

// ParseKeyRing parses key text: one key per line, "<id> <base64 of 32
// bytes>", the first the current key, later ones old keys kept for reading.
// Blank lines and lines starting with '#' are ignored; a comma separates
// keys too, so one environment variable can hold several
// ("new AAAA…,old BBBB…"). Ids are 1 to 32 letters, digits, '.', '_' or
// '-'. Errors never quote key material.
func ParseKeyRing(text string) (*KeyRing, error) {
	r := &KeyRing{}
	seen := map[string]bool{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		for entry := range strings.SplitSeq(line, ",") {
			f := strings.Fields(entry)
			if len(f) == 0 {
				continue
			}
			if len(f) != 2 {
				return nil, fmt.Errorf("blobs: key line %d: %s", n+1, keyFileUsage)
			}
			id, enc := f[0], f[1]
			if !validKeyID(id) {
				// Not quoted: the columns may be swapped.
				return nil, fmt.Errorf("blobs: key line %d: malformed key id (1 to %d letters, digits, '.', '_', '-'); %s", n+1, maxKeyIDLen, keyFileUsage)
			}
			secret, err := decodeKey(enc)
			if err != nil {
				return nil, fmt.Errorf("blobs: key line %d (key %q): %w", n+1, id, err)
			}
			if seen[id] {
				return nil, fmt.Errorf("blobs: key line %d: key id %q appears twice", n+1, id)
			}
			for _, k := range r.keys {
				if bytes.Equal(k.secret, secret) {
					return nil, fmt.Errorf("blobs: key line %d: key %q is the same key as %q", n+1, id, k.id)
				}
			}
			seen[id] = true
			r.keys = append(r.keys, ringKey{id: id, secret: secret})
		}
	}
	if len(r.keys) == 0 {
		return nil, errors.New("blobs: no storage key (" + keyFileUsage + ")")
	}
	return r, nil
}

func decodeKey(enc string) ([]byte, error) {
	secret, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		secret, err = base64.RawStdEncoding.DecodeString(enc)
	}
	if err != nil {
		return nil, errors.New("key is not valid base64")
	}
	if len(secret) != KeySize {
		return nil, fmt.Errorf("key is %d bytes, want %d", len(secret), KeySize)
	}
	if bytes.Equal(secret, make([]byte, KeySize)) {
		return nil, errors.New("key is all zeros")
	}
	return secret, nil
}

func validKeyID(id string) bool {
	if id == "" || len(id) > maxKeyIDLen {
		return false
	}
	for i := range len(id) {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// GenerateKeyLine returns a new random key as a key file line, "<id>
// <base64>".
func GenerateKeyLine(id string) (string, error) {
	if !validKeyID(id) {
		return "", fmt.Errorf("blobs: malformed key id %q (1 to %d letters, digits, '.', '_', '-')", id, maxKeyIDLen)
	}
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return "", fmt.Errorf("blobs: random key: %w", err)
	}
	return id + " " + base64.StdEncoding.EncodeToString(secret), nil
}

// LoadKeyRing reads the key file keyFile (see ParseKeyRing), which must not
// be readable or writable by group or others. With keyFile "", it uses the
// development key <devDir>/storage.key, creating it (0600, one random key)
// on first use, and logs a warning: a key next to the data protects
// nothing against whoever copies the data directory.
func LoadKeyRing(keyFile, devDir string, log *slog.Logger) (*KeyRing, error) {
	if keyFile != "" {
		return readKeyFile(keyFile)
	}
	if devDir == "" {
		return nil, errors.New("blobs: no storage key file and no development directory")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(devDir, DevKeyFile)
	r, err := readKeyFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		r, err = createDevKey(devDir, path)
	}
	if err != nil {
		return nil, err
	}
	r.dev = true
	log.Warn("files and documents are encrypted with a DEVELOPMENT storage key kept next to the data; configure a key file for production",
		"key_file", path)
	return r, nil
}

func readKeyFile(path string) (*KeyRing, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("blobs: storage key file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("blobs: storage key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("blobs: storage key file %s is not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("blobs: storage key file %s is accessible by group or others (mode %04o); chmod 600 it", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		return nil, fmt.Errorf("blobs: read storage key file %s: %w", path, err)
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("blobs: storage key file %s is over %d bytes", path, maxKeyFile)
	}
	r, err := ParseKeyRing(string(b))
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return r, nil
}

// createDevKey writes a new development key file. The file appears whole
// or not at all (written aside, then hard-linked into place), and a
// concurrent creator's file wins: both then read the same key.
func createDevKey(dir, path string) (*KeyRing, error) {
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return nil, fmt.Errorf("blobs: create %s: %w", dir, err)
	}
	line, err := GenerateKeyLine(devKeyID)
	if err != nil {
		return nil, err
	}
	text := "# Parley storage key for DEVELOPMENT, created " + time.Now().UTC().Format(time.RFC3339) + ".\n" +
		"# It lies next to the data it protects: configure a key file kept elsewhere\n" +
		"# for production (blobs/STORAGE.md). Losing this file loses every stored\n" +
		"# file and document.\n" + line + "\n"
	tmp, err := os.CreateTemp(dir, tmpPrefix+"storage-key-*")
	if err != nil {
		return nil, fmt.Errorf("blobs: create development key: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(text)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(tmp.Name(), path)
		if errors.Is(err, fs.ErrExist) {
			return readKeyFile(path)
		}
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: create development key: %w", err)
	}
	return readKeyFile(path)
}

// Current is the id of the key new files are encrypted with.
func (r *KeyRing) Current() string { return r.keys[0].id }

// IDs lists the key ids, the current one first.
func (r *KeyRing) IDs() []string {
	ids := make([]string, len(r.keys))
	for i, k := range r.keys {
		ids[i] = k.id
	}
	return ids
}

// Dev reports whether the ring is the development key of LoadKeyRing.
func (r *KeyRing) Dev() bool { return r.dev }

// String names the key ids, never the keys.
func (r *KeyRing) String() string {
	return "blobs.KeyRing(" + strings.Join(r.IDs(), ", ") + ")"
}

// GoString is String, so %#v does not print the keys either.
func (r *KeyRing) GoString() string { return r.String() }

func (r *KeyRing) key(id string) *ringKey {
	for i := range r.keys {
		if r.keys[i].id == id {
			return &r.keys[i]
		}
	}
	return nil
}
