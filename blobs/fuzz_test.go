package blobs

import (
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fuzzRing is a fixed key, so every fuzzing process agrees on the seeds.
func fuzzRing(t testing.TB) *KeyRing {
	r, err := ParseKeyRing("fz " + base64.StdEncoding.EncodeToString([]byte("parley fuzz key, not a secret!!!")))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// FuzzOpen feeds arbitrary bytes to the decrypting reader: it must not
// panic or over-allocate, and what it does return is consistent.
func FuzzOpen(f *testing.F) {
	s, err := Open(f.TempDir(), fuzzRing(f))
	if err != nil {
		f.Fatal(err)
	}
	for i, n := range []int{0, 1, 100, SegmentSize + 1} {
		fid := "0000000000000000000000000000000" + string(rune('0'+i))
		put(f, s, cid, fid, plaintext(n))
		b, _ := os.ReadFile(filePath(s, cid, fid))
		f.Add(b, int64(n/2))
	}
	f.Add([]byte(magic+"\x01\x02fz"), int64(0))
	path := filePath(s, cid, fid1)
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		if err := os.WriteFile(path, data, filePerm); err != nil {
			t.Fatal(err)
		}
		r, size, err := s.Open(cid, fid1)
		if err != nil {
			return
		}
		defer r.Close()
		all, err := io.ReadAll(r)
		if err != nil {
			return
		}
		if int64(len(all)) != size {
			t.Fatalf("read %d bytes, size %d", len(all), size)
		}
		if off < 0 {
			off = -off
		}
		if size > 0 {
			off %= size
			buf := make([]byte, 100)
			n, _ := r.ReadAt(buf, off)
			if !bytes.Equal(buf[:n], all[off:off+int64(n)]) {
				t.Fatal("ReadAt disagrees with Read")
			}
		}
		if _, err := s.Uploader(cid, fid1); err != nil {
			t.Fatalf("opens but has no uploader: %v", err)
		}
	})
}

// FuzzParseKeyRing: no panics, and errors never quote a key.
func FuzzParseKeyRing(f *testing.F) {
	f.Add("k1 " + strings.Repeat("Zm9v", 10) + "Zm9vYmE=\n# old\nk0 " + strings.Repeat("YmFy", 10) + "YmFyYmE=")
	f.Add(strings.Repeat("Zm9v", 10) + "Zm9vYmE= k1")
	f.Add("k1 AAAA,k2 BBBB")
	f.Fuzz(func(t *testing.T, text string) {
		r, err := ParseKeyRing(text)
		if err == nil {
			if r.Current() == "" || strings.Contains(r.String(), " ") {
				t.Fatalf("ring %v", r)
			}
			return
		}
		for _, field := range strings.FieldsFunc(text, func(c rune) bool { return c == ' ' || c == '\t' || c == '\n' || c == ',' }) {
			if len(field) >= 40 && strings.Contains(err.Error(), field) {
				t.Fatalf("error %q quotes %q", err, field)
			}
		}
	})
}

// TestFuzzSeedsRoundTrip makes sure FuzzOpen's seeds are valid files.
func TestFuzzSeedsRoundTrip(t *testing.T) {
	s, _ := Open(filepath.Join(t.TempDir(), "s"), fuzzRing(t))
	if _, err := s.Put(context.Background(), cid, fid1, "u", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if got, err := readAll(s, cid, fid1); err != nil || string(got) != "x" {
		t.Fatal(err)
	}
}
