package blobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestParseKeyRing(t *testing.T) {
	k1, _ := GenerateKeyLine("k1")
	k2, _ := GenerateKeyLine("2026-05.b")
	r, err := ParseKeyRing("# storage keys\n\n  " + k2 + "  \r\n# old, until rekey\n" + k1 + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.Current() != "2026-05.b" || strings.Join(r.IDs(), ",") != "2026-05.b,k1" || r.Dev() {
		t.Fatalf("ring %v", r)
	}
	// One environment variable, comma-separated; raw (unpadded) base64 too.
	raw := strings.TrimRight(k1, "=")
	r, err = ParseKeyRing(k2 + "," + raw)
	if err != nil || strings.Join(r.IDs(), ",") != "2026-05.b,k1" {
		t.Fatalf("comma form: %v %v", r, err)
	}
	secret := strings.Fields(k1)[1]
	for _, s := range []string{fmt.Sprint(r), fmt.Sprintf("%+v", r), fmt.Sprintf("%#v", r)} {
		if strings.Contains(s, secret) || strings.Contains(s, strings.Fields(k2)[1]) {
			t.Fatalf("formatting shows a key: %s", s)
		}
	}
}

func TestParseKeyRingErrors(t *testing.T) {
	good, _ := GenerateKeyLine("k1")
	secret := strings.Fields(good)[1]
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	zero := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for name, tc := range map[string]struct{ text, want string }{
		"empty":            {"", "no storage key"},
		"comments only":    {"# nothing\n\n", "no storage key"},
		"key without id":   {secret, "line 1"},
		"three fields":     {good + " extra", "line 1"},
		"columns swapped":  {secret + " k1", "malformed key id"},
		"bad id":           {"k/1 " + secret, "malformed key id"},
		"long id":          {strings.Repeat("k", 33) + " " + secret, "malformed key id"},
		"not base64":       {"k1 not*base64!", "not valid base64"},
		"short key":        {"k1 " + short, "16 bytes, want 32"},
		"zero key":         {"k1 " + zero, "all zeros"},
		"duplicate id":     {good + "\n" + "k1 " + strings.Fields(mustLine(t, "x"))[1], `"k1" appears twice`},
		"same key twice":   {good + "\nk2 " + secret, `"k2" is the same key as "k1"`},
		"bad second line":  {good + "\nk2 AAAA", "line 2"},
		"bad second entry": {good + ",k2", "line 1"},
	} {
		_, err := ParseKeyRing(tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "blobs: ") {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("%s: error %q shows the key", name, err)
		}
	}
}

func mustLine(t *testing.T, id string) string {
	t.Helper()
	l, err := GenerateKeyLine(id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestGenerateKeyLine(t *testing.T) {
	a, b := mustLine(t, "k1"), mustLine(t, "k1")
	if a == b {
		t.Fatal("the same key twice")
	}
	if _, err := GenerateKeyLine("bad id"); err == nil {
		t.Fatal("bad id accepted")
	}
}

func TestKeyFilePermissions(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "storage.keys")
	os.WriteFile(path, []byte(mustLine(t, "k1")+"\n"), 0o600)
	if r, err := LoadKeyRing(path, "", nil); err != nil || r.Current() != "k1" || r.Dev() {
		t.Fatalf("0600 key file: %v %v", r, err)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660} {
		os.Chmod(path, mode)
		_, err := LoadKeyRing(path, "", nil)
		if err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	os.Chmod(path, 0o400)
	if _, err := LoadKeyRing(path, "", nil); err != nil {
		t.Fatalf("0400: %v", err)
	}
	if _, err := LoadKeyRing(filepath.Join(dir, "missing"), "", nil); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := LoadKeyRing(dir, "", nil); err == nil {
		t.Fatal("a directory as the key file")
	}
	bad := filepath.Join(dir, "bad.keys")
	os.WriteFile(bad, []byte("k1 AAAA\n"), 0o600)
	if _, err := LoadKeyRing(bad, "", nil); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("malformed key file: %v", err)
	}
	if _, err := LoadKeyRing("", "", nil); err == nil {
		t.Fatal("nothing configured, no development directory")
	}
}

func TestDevKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	r1, err := LoadKeyRing("", dir, log)
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Dev() || r1.Current() != devKeyID || !strings.Contains(logs.String(), "DEVELOPMENT") {
		t.Fatalf("ring %v, log %q", r1, logs.String())
	}
	path := filepath.Join(dir, DevKeyFile)
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v %v", st, err)
	}
	if strings.Contains(logs.String(), base64.StdEncoding.EncodeToString(r1.keys[0].secret)) {
		t.Fatal("the key is in the log")
	}
	r2, err := LoadKeyRing("", dir, log)
	if err != nil || !bytes.Equal(r1.keys[0].secret, r2.keys[0].secret) {
		t.Fatalf("second start: other key (%v)", err)
	}

	// Concurrent first starts agree on one key.
	dir = filepath.Join(t.TempDir(), "keys")
	rings := make([]*KeyRing, 16)
	var wg sync.WaitGroup
	for i := range rings {
		wg.Go(func() {
			r, err := LoadKeyRing("", dir, nil)
			if err != nil {
				t.Error(err)
				return
			}
			rings[i] = r
		})
	}
	wg.Wait()
	for _, r := range rings {
		if r == nil || !bytes.Equal(r.keys[0].secret, rings[0].keys[0].secret) {
			t.Fatal("concurrent starts made different keys")
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("leftovers in %s: %v", dir, entries)
	}
}

func TestRotation(t *testing.T) {
	old := testRing(t, "k1")
	root := t.TempDir()
	s1, _ := Open(root, old)
	ctx := context.Background()
	files := map[string][]byte{}
	for i, n := range []int{0, 5, SegmentSize + 3, 3 * SegmentSize} {
		fid := fmt.Sprintf("%032x", i)
		files[fid] = plaintext(n)
		put(t, s1, cid, fid, files[fid])
	}
	put(t, s1, "c_two", fid1, []byte("two"))
	files["two"] = []byte("two")

	// Step 1: the new key first, the old one kept.
	next := testRing(t, "k2")
	both := ringOf(next.keys[0], old.keys[0])
	s2, _ := Open(root, both)
	check := func(s *Store, what string) {
		t.Helper()
		for fid, want := range files {
			c := cid
			if fid == "two" {
				c, fid = "c_two", fid1
			}
			if got, err := readAll(s, c, fid); err != nil || !bytes.Equal(got, want) {
				t.Fatalf("%s: %s/%s: %v", what, c, fid, err)
			}
			if up, err := s.Uploader(c, fid); err != nil || up != "staff:1" {
				t.Fatalf("%s: uploader %q %v", what, up, err)
			}
		}
	}
	check(s2, "old files with both keys")
	put(t, s2, cid, fid2, []byte("new"))
	files[fid2] = []byte("new")
	if f, _, err := s2.Open(cid, fid2); err != nil || f.KeyID() != "k2" {
		t.Fatalf("new file not under the new key: %v", err)
	} else {
		f.Close()
	}
	// The old key alone cannot read the new file, and says which key.
	_, _, err := s1.Open(cid, fid2)
	if ke, ok := errors.AsType[*UnknownKeyError](err); !ok || ke.KeyID != "k2" || !strings.Contains(err.Error(), `"k2"`) {
		t.Fatalf("old ring on a new file: %v", err)
	}

	// Step 2: rekey.
	n, err := s2.Rekey(ctx)
	if err != nil || n != 5 {
		t.Fatalf("rekey: %d, %v; want 5", n, err)
	}
	if n, err := s2.Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second rekey: %d, %v", n, err)
	}
	check(s2, "after rekey")
	for _, d := range []string{cid, "c_two"} {
		entries, _ := os.ReadDir(filepath.Join(root, d))
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), tmpPrefix) {
				t.Fatalf("leftover %s", e.Name())
			}
		}
	}

	// Step 3: the old key goes.
	s3, _ := Open(root, next)
	check(s3, "new key only")
}

func TestRekeyKeepsGoing(t *testing.T) {
	old := testRing(t, "k1")
	s1 := newStore(t, old)
	put(t, s1, cid, fid1, plaintext(10))
	put(t, s1, cid, fid2, plaintext(SegmentSize+10))
	path := filePath(s1, cid, fid2)
	b, _ := os.ReadFile(path)
	b[len(b)-1] ^= 1
	os.WriteFile(path, b, filePerm)
	lost := testRing(t, "k0") // a file under a key nobody has any more
	sl, _ := Open(s1.Root(), lost)
	put(t, sl, cid, "00000000000000000000000000000003", []byte("x"))

	s2, _ := Open(s1.Root(), ringOf(testRing(t, "k2").keys[0], old.keys[0]))
	n, err := s2.Rekey(context.Background())
	if n != 1 || !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), `"k0"`) {
		t.Fatalf("rekey: %d, %v", n, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, b) {
		t.Fatal("the corrupt file was changed")
	}
	if f, _, err := s2.Open(cid, fid1); err != nil || f.KeyID() != "k2" {
		t.Fatalf("good file: %v", err)
	} else {
		f.Close()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s2.Rekey(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled rekey: %v", err)
	}
}

func TestRekeyDoesNotResurrect(t *testing.T) {
	old := testRing(t, "k1")
	s := newStore(t, old)
	put(t, s, cid, fid1, plaintext(100))
	s2, _ := Open(s.Root(), ringOf(testRing(t, "k2").keys[0], old.keys[0]))
	path := filePath(s2, cid, fid1)
	r, err := s2.openReader(path, cid, fid1, true)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The server deletes the file while rekey is re-encrypting it.
	if err := s.Delete(cid, fid1); err != nil {
		t.Fatal(err)
	}
	if done, err := s2.replace(context.Background(), cid, fid1, path, r.uploader, r, r.st); done || err != nil {
		t.Fatalf("replace of a deleted file: %v %v", done, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("rekey brought a deleted file back")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 0 {
		t.Fatalf("leftovers %v", entries)
	}
}

func TestMigratePlaintext(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	dir := filepath.Join(s.Root(), cid)
	os.MkdirAll(dir, dirPerm)
	legacy := plaintext(2*SegmentSize + 1)
	os.WriteFile(filepath.Join(dir, fid1), legacy, filePerm)
	os.WriteFile(filepath.Join(dir, fid1+metaSuffix), []byte(`{"uploader":"participant:p"}`), filePerm)
	put(t, s, cid, fid2, []byte("encrypted"))
	if _, _, err := s.Open(cid, fid1); !errors.Is(err, ErrUnencrypted) {
		t.Fatalf("legacy file: %v", err)
	}
	if n, err := s.Rekey(context.Background()); n != 0 || !errors.Is(err, ErrUnencrypted) {
		t.Fatalf("rekey over a legacy file: %d %v", n, err)
	}
	n, err := s.MigratePlaintext(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("migrate: %d %v", n, err)
	}
	if got, err := readAll(s, cid, fid1); err != nil || !bytes.Equal(got, legacy) {
		t.Fatalf("migrated: %v", err)
	}
	if up, err := s.Uploader(cid, fid1); err != nil || up != "participant:p" {
		t.Fatalf("uploader %q %v", up, err)
	}
	if _, err := os.Stat(filepath.Join(dir, fid1+metaSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("sidecar left")
	}
	// A crash after the rename left a sidecar: the next run removes it.
	os.WriteFile(filepath.Join(dir, fid2+metaSuffix), []byte(`{"uploader":"x"}`), filePerm)
	if n, err := s.MigratePlaintext(context.Background()); err != nil || n != 0 {
		t.Fatalf("second migrate: %d %v", n, err)
	}
	if _, err := os.Stat(filepath.Join(dir, fid2+metaSuffix)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("stale sidecar left")
	}
	if got, err := readAll(s, cid, fid2); err != nil || string(got) != "encrypted" {
		t.Fatalf("encrypted file after migrate: %v", err)
	}
}
