package blobs

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	cid  = "c_test"
	fid1 = "0123456789abcdef0123456789abcdef"
	fid2 = "fedcba9876543210fedcba9876543210"
)

// testRing makes a ring of fresh keys with the given ids, the first current.
func testRing(t testing.TB, ids ...string) *KeyRing {
	t.Helper()
	var lines []string
	for _, id := range ids {
		l, err := GenerateKeyLine(id)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, l)
	}
	r, err := ParseKeyRing(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// ringOf is a ring of the given keys of other rings, the first current.
func ringOf(keys ...ringKey) *KeyRing { return &KeyRing{keys: keys} }

func newStore(t testing.TB, ring *KeyRing) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), ring)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plaintext is n recognisable bytes.
func plaintext(n int) []byte {
	const unit = "PLAINTEXT-MARKER-0123456789abcdefghijklmnopqrstuvwxyz\n"
	b := bytes.Repeat([]byte(unit), n/len(unit)+1)[:n]
	// Vary it, so a swapped segment would show even if it decrypted.
	for i := 0; i+8 <= n; i += 4096 {
		copy(b[i:], fmt.Sprintf("%08x", i))
	}
	return b
}

func put(t testing.TB, s *Store, cid, fid string, data []byte) {
	t.Helper()
	n, err := s.Put(context.Background(), cid, fid, "staff:1", bytes.NewReader(data))
	if err != nil || n != int64(len(data)) {
		t.Fatalf("put %d bytes: %d, %v", len(data), n, err)
	}
}

// readAll opens the file and reads it whole.
func readAll(s *Store, cid, fid string) ([]byte, error) {
	f, size, err := s.Open(cid, fid)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err == nil && int64(len(b)) != size {
		err = fmt.Errorf("read %d bytes, Open said %d", len(b), size)
	}
	return b, err
}

func filePath(s *Store, cid, fid string) string { return filepath.Join(s.Root(), cid, fid) }

var sizes = []int{0, 1, 100, SegmentSize - 1, SegmentSize, SegmentSize + 1, 2 * SegmentSize, 3*SegmentSize + 12345, 5<<20 + 7}

func TestRoundTrip(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	for i, n := range sizes {
		fid := fmt.Sprintf("%032x", i)
		data := plaintext(n)
		put(t, s, cid, fid, data)
		got, err := readAll(s, cid, fid)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: read %d bytes, %v", n, len(got), err)
		}
		disk, err := os.ReadFile(filePath(s, cid, fid))
		if err != nil {
			t.Fatal(err)
		}
		if n >= 16 && bytes.Contains(disk, data[:16]) || bytes.Contains(disk, []byte("PLAINTEXT")) || bytes.Contains(disk, []byte("staff:1")) {
			t.Fatalf("size %d: plaintext or uploader on disk", n)
		}
		segs := max((n+SegmentSize-1)/SegmentSize, 1)
		want := fixedHeader + len("k1") + tailHeader + len(`{"uploader":"staff:1"}`) + tagSize + n + segs*tagSize
		if len(disk) != want {
			t.Fatalf("size %d: %d bytes on disk, want %d", n, len(disk), want)
		}
		if st, _ := os.Stat(filePath(s, cid, fid)); st.Mode().Perm() != filePerm {
			t.Fatalf("mode %v", st.Mode())
		}
		if up, err := s.Uploader(cid, fid); err != nil || up != "staff:1" {
			t.Fatalf("uploader %q, %v", up, err)
		}
	}
	// Only the files: no sidecars, no leftovers.
	entries, _ := os.ReadDir(filepath.Join(s.Root(), cid))
	if len(entries) != len(sizes) {
		t.Fatalf("%d entries, want %d", len(entries), len(sizes))
	}
}

func TestStoreBasics(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	ctx := context.Background()
	if _, err := s.Put(ctx, cid, fid1, "a", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, cid, fid1, "b", strings.NewReader("y")); !errors.Is(err, ErrExists) {
		t.Fatalf("second put: %v", err)
	}
	if ok, err := s.Exists(cid, fid1); !ok || err != nil {
		t.Fatalf("exists %v %v", ok, err)
	}
	if _, _, err := s.Open(cid, fid2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("open missing: %v", err)
	}
	if _, err := s.Uploader(cid, fid2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("uploader missing: %v", err)
	}
	if _, _, err := s.Open("../x", fid1); !errors.Is(err, ErrBadID) {
		t.Fatalf("bad id: %v", err)
	}
	// A failing reader leaves nothing behind.
	boom := errors.New("boom")
	if _, err := s.Put(ctx, cid, fid2, "a", io.MultiReader(bytes.NewReader(plaintext(3*SegmentSize)), errReader{boom})); !errors.Is(err, boom) {
		t.Fatalf("failing reader: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Put(cctx, cid, fid2, "a", strings.NewReader("x")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Root(), cid))
	if len(entries) != 1 {
		t.Fatalf("entries %v", entries)
	}
	if err := s.Delete(cid, fid1); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(cid, fid1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	put(t, s, cid, fid1, []byte("z"))
	if ids, err := s.Consultations(); err != nil || len(ids) != 1 || ids[0] != cid {
		t.Fatalf("consultations %v %v", ids, err)
	}
	if err := s.RemoveConsultation(cid); err != nil {
		t.Fatal(err)
	}
	if ids, _ := s.Consultations(); len(ids) != 0 {
		t.Fatalf("after removal %v", ids)
	}
	if _, err := Open(t.TempDir(), nil); err == nil {
		t.Fatal("Open without a key ring")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// mustFail checks that the file does not read back: Open or reading fails
// with ErrCorrupt.
func mustFail(t *testing.T, s *Store, cid, fid, what string) {
	t.Helper()
	if _, err := readAll(s, cid, fid); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("%s: read gives %v, want ErrCorrupt", what, err)
	}
}

// mustNotRead checks that the file does not read back, for any reason.
func mustNotRead(t *testing.T, s *Store, cid, fid, what string) {
	t.Helper()
	if _, err := readAll(s, cid, fid); err == nil {
		t.Fatalf("%s: read back", what)
	}
}

func TestTamperEveryByte(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	data := plaintext(2*SegmentSize + 100)
	put(t, s, cid, fid1, data)
	path := filePath(s, cid, fid1)
	orig, _ := os.ReadFile(path)
	dataStart := fixedHeader + 2 + tailHeader + len(`{"uploader":"staff:1"}`) + tagSize
	for i := range orig {
		// Every byte of the header, metadata and segment edges (counter,
		// tags); a sample inside segments.
		inSeg := (i - dataStart) % int(segmentCT)
		if i >= dataStart && inSeg > 64 && inSeg < int(segmentCT)-tagSize-64 && i%211 != 0 {
			continue
		}
		b := bytes.Clone(orig)
		b[i] ^= 1 << (i % 8)
		os.WriteFile(path, b, filePerm)
		if i >= len(magic) && i < fixedHeader+2 {
			// Version, key id length, key id: unsupported version,
			// unknown key or corrupt.
			mustNotRead(t, s, cid, fid1, fmt.Sprintf("byte %d flipped", i))
		} else {
			mustFail(t, s, cid, fid1, fmt.Sprintf("byte %d flipped", i))
		}
	}
	os.WriteFile(path, orig, filePerm)
	if got, err := readAll(s, cid, fid1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restored: %v", err)
	}
}

func TestTruncateAppendReorder(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	data := plaintext(3*SegmentSize + 10)
	put(t, s, cid, fid1, data)
	put(t, s, cid, fid2, plaintext(3*SegmentSize+10)) // same length, other salt
	path := filePath(s, cid, fid1)
	orig, _ := os.ReadFile(path)
	other, _ := os.ReadFile(filePath(s, cid, fid2))
	dataStart := len(orig) - (3*int(segmentCT) + 10 + tagSize)
	seg := func(b []byte, i int) []byte {
		end := min(dataStart+(i+1)*int(segmentCT), len(b))
		return b[dataStart+i*int(segmentCT) : end]
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := map[string][]byte{
		"empty":                    {},
		"magic only":               orig[:len(magic)],
		"header only":              orig[:dataStart-tagSize-len(`{"uploader":"staff:1"}`)],
		"no segments":              orig[:dataStart],
		"cut after segment 0":      orig[:dataStart+int(segmentCT)],
		"cut after segment 2":      orig[:dataStart+3*int(segmentCT)],
		"cut inside the last":      orig[:len(orig)-1],
		"cut inside the last tag":  orig[:len(orig)-tagSize],
		"cut inside a segment":     orig[:dataStart+int(segmentCT)+100],
		"one byte appended":        cat(orig, []byte{0}),
		"a tag appended":           cat(orig, make([]byte, tagSize)),
		"a segment appended":       cat(orig, seg(orig, 1)),
		"last segment repeated":    cat(orig, seg(orig, 3)),
		"segments 0 and 1 swapped": cat(orig[:dataStart], seg(orig, 1), seg(orig, 0), seg(orig, 2), seg(orig, 3)),
		"segment 1 dropped":        cat(orig[:dataStart], seg(orig, 0), seg(orig, 2), seg(orig, 3)),
		"segment from other file":  cat(orig[:dataStart], seg(other, 0), seg(orig, 1), seg(orig, 2), seg(orig, 3)),
		"header from other file":   cat(other[:dataStart], orig[dataStart:]),
		"last from other file":     cat(orig[:dataStart], seg(orig, 0), seg(orig, 1), seg(orig, 2), seg(other, 3)),
	}
	for name, b := range cases {
		os.WriteFile(path, b, filePerm)
		mustFail(t, s, cid, fid1, name)
	}
	os.WriteFile(path, orig, filePerm)
	if got, err := readAll(s, cid, fid1); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("restored: %v", err)
	}
}

func TestSwapFilesBetweenIDs(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	put(t, s, cid, fid1, []byte("one"))
	put(t, s, cid, fid2, []byte("two"))
	put(t, s, "c_other", fid1, []byte("three"))
	a, _ := os.ReadFile(filePath(s, cid, fid1))
	b, _ := os.ReadFile(filePath(s, cid, fid2))
	os.WriteFile(filePath(s, cid, fid1), b, filePerm)
	os.WriteFile(filePath(s, cid, fid2), a, filePerm)
	mustFail(t, s, cid, fid1, "file of another id")
	mustFail(t, s, cid, fid2, "file of another id")
	if _, err := s.Uploader(cid, fid1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("uploader of a swapped file: %v", err)
	}
	os.WriteFile(filePath(s, "c_other", fid1), a, filePerm)
	mustFail(t, s, "c_other", fid1, "file of another consultation")
}

func TestSeekAndReadAt(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	data := plaintext(4*SegmentSize + 333)
	put(t, s, cid, fid1, data)
	f, size, err := s.Open(cid, fid1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != int64(len(data)) || f.Size() != size || f.KeyID() != "k1" {
		t.Fatalf("size %d", size)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	edges := []int64{0, 1, SegmentSize - 1, SegmentSize, SegmentSize + 1, 2*SegmentSize - 3, 4 * SegmentSize, size - 1, size}
	for range 200 {
		edges = append(edges, rng.Int64N(size+1))
	}
	for _, off := range edges {
		n := rng.IntN(3*SegmentSize) + 1
		buf := make([]byte, n)
		got, err := f.ReadAt(buf, off)
		want := data[off:min(off+int64(n), size)]
		if got != len(want) || !bytes.Equal(buf[:got], want) || (got < n) != (err == io.EOF) || err != nil && err != io.EOF {
			t.Fatalf("ReadAt(%d bytes, %d) = %d, %v", n, off, got, err)
		}
		if pos, err := f.Seek(off, io.SeekStart); err != nil || pos != off {
			t.Fatalf("seek %d: %d %v", off, pos, err)
		}
		rest, err := io.ReadAll(io.LimitReader(f, int64(n)))
		if err != nil || !bytes.Equal(rest, want) {
			t.Fatalf("read after seek to %d: %d bytes, %v", off, len(rest), err)
		}
	}
	if pos, _ := f.Seek(-10, io.SeekEnd); pos != size-10 {
		t.Fatalf("seek from end: %d", pos)
	}
	if _, err := f.Seek(-1, io.SeekStart); err == nil {
		t.Fatal("seek before the start")
	}
	if _, err := f.ReadAt(make([]byte, 1), -1); err == nil {
		t.Fatal("negative ReadAt")
	}
	f.Seek(size+5, io.SeekStart)
	if n, err := f.Read(make([]byte, 4)); n != 0 || err != io.EOF {
		t.Fatalf("read past the end: %d %v", n, err)
	}

	// Concurrent ReadAt (run with -race).
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			buf := make([]byte, 1000)
			for i := range 50 {
				off := int64((g*50+i)*997) % (size - 1000)
				if _, err := f.ReadAt(buf, off); err != nil || !bytes.Equal(buf, data[off:off+1000]) {
					t.Errorf("concurrent ReadAt at %d: %v", off, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(make([]byte, 1)); err == nil {
		t.Fatal("read after close")
	}
}

func TestServeContentRanges(t *testing.T) {
	s := newStore(t, testRing(t, "k1"))
	data := plaintext(3*SegmentSize + 5)
	put(t, s, cid, fid1, data)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, _, err := s.Open(cid, fid1)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		defer f.Close()
		http.ServeContent(w, r, "x.pdf", time.Time{}, f)
	})
	for _, rg := range [][2]int{{0, 10}, {SegmentSize - 5, SegmentSize + 5}, {10, 2*SegmentSize + 100}, {len(data) - 3, len(data) - 1}} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", rg[0], rg[1]))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusPartialContent || !bytes.Equal(w.Body.Bytes(), data[rg[0]:rg[1]+1]) {
			t.Fatalf("range %v: %d, %d bytes", rg, w.Code, w.Body.Len())
		}
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), data) || w.Header().Get("Content-Length") != fmt.Sprint(len(data)) {
		t.Fatalf("whole: %d %d", w.Code, w.Body.Len())
	}
}

func TestCorruptSegmentFailsRead(t *testing.T) {
	// A damaged middle segment: Open succeeds (it checks the ends), the read
	// stops at the damage with ErrCorrupt after the good segments.
	s := newStore(t, testRing(t, "k1"))
	data := plaintext(3 * SegmentSize)
	put(t, s, cid, fid1, data)
	path := filePath(s, cid, fid1)
	b, _ := os.ReadFile(path)
	b[len(b)-2*int(segmentCT)+7] ^= 1 // inside segment 1
	os.WriteFile(path, b, filePerm)
	f, _, err := s.Open(cid, fid1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(f)
	if !errors.Is(err, ErrCorrupt) || !bytes.Equal(got, data[:SegmentSize]) {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
	if !strings.Contains(err.Error(), "segment 1") {
		t.Fatalf("error %q does not name the segment", err)
	}
}
