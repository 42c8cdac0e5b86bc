package blobs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/parley-video/parley/blobs/s3test"
)

// backend opens stores over one place: a local directory or a test
// bucket on the real S3 server (skipped without PARLEY_TEST_S3_*).
type backend struct {
	name string
	open func(t *testing.T, ring *KeyRing) *Store // every call: the same place
}

func backends(t *testing.T) []backend {
	return []backend{
		{"local", func() func(*testing.T, *KeyRing) *Store {
			var dir string
			return func(t *testing.T, ring *KeyRing) *Store {
				if dir == "" {
					dir = t.TempDir()
				}
				s, err := Open(dir, ring)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}()},
		{"s3", func() func(*testing.T, *KeyRing) *Store {
			var opt *S3Options
			return func(t *testing.T, ring *KeyRing) *Store {
				if opt == nil {
					o, _ := testBucket(t)
					opt = &o
				}
				s, err := OpenS3(t.Context(), *opt, ring)
				if err != nil {
					t.Fatal(err)
				}
				return s
			}
		}()},
	}
}

// testBucket is a fresh bucket on the test S3 server, with prefix "files/".
func testBucket(t *testing.T) (S3Options, *minio.Client) {
	t.Helper()
	o, c := s3test.Bucket(t)
	return S3Options{Endpoint: o.Endpoint, Bucket: o.Bucket, Region: o.Region, Prefix: "files/",
		AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey, PathStyle: true}, c
}

// TestBackendContract runs the store's contract against both backends:
// the same results and the same sentinel errors.
func TestBackendContract(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			ring := testRing(t, "k1")
			s := b.open(t, ring)
			ctx := t.Context()

			// Round trips across segment boundaries.
			for i, n := range []int{0, 1, SegmentSize, SegmentSize + 1, 3*SegmentSize + 12345} {
				fid := fmt.Sprintf("%032x", i+1)
				data := plaintext(n)
				put(t, s, "c_sizes", fid, data)
				got, err := readAll(s, "c_sizes", fid)
				if err != nil || !bytes.Equal(got, data) {
					t.Fatalf("%d bytes: read %d, %v", n, len(got), err)
				}
			}
			big := plaintext(3*SegmentSize + 12345)
			f, size, err := s.Open("c_sizes", fmt.Sprintf("%032x", 5))
			if err != nil || size != int64(len(big)) {
				t.Fatalf("open: %d %v", size, err)
			}
			part := make([]byte, SegmentSize+100)
			if _, err := f.ReadAt(part, SegmentSize-50); err != nil || !bytes.Equal(part, big[SegmentSize-50:2*SegmentSize+50]) {
				t.Fatalf("ReadAt across segments: %v", err)
			}
			f.Close()

			if ok, err := s.Exists(cid, fid1); ok || err != nil {
				t.Fatalf("Exists before put: %v %v", ok, err)
			}
			put(t, s, cid, fid1, []byte("hello"))
			if ok, err := s.Exists(cid, fid1); !ok || err != nil {
				t.Fatalf("Exists after put: %v %v", ok, err)
			}
			if _, err := s.Put(ctx, cid, fid1, "x", bytes.NewReader([]byte("again"))); !errors.Is(err, ErrExists) {
				t.Fatalf("second put: %v", err)
			}
			if got, err := readAll(s, cid, fid1); err != nil || string(got) != "hello" {
				t.Fatalf("after refused overwrite: %q %v", got, err)
			}
			if up, err := s.Uploader(cid, fid1); err != nil || up != "staff:1" {
				t.Fatalf("uploader %q %v", up, err)
			}
			for what, err := range map[string]error{
				"open":     func() error { _, _, err := s.Open(cid, fid2); return err }(),
				"uploader": func() error { _, err := s.Uploader(cid, fid2); return err }(),
				"delete":   s.Delete(cid, fid2),
			} {
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("%s of a missing file: %v, want ErrNotFound", what, err)
				}
			}
			for what, err := range map[string]error{
				"open":   func() error { _, _, err := s.Open("../x", fid1); return err }(),
				"put":    func() error { _, err := s.Put(ctx, cid, "nothex", "x", bytes.NewReader(nil)); return err }(),
				"delete": s.Delete("a/b", fid1),
				"remove": s.RemoveConsultation(".."),
				"files":  func() error { _, err := s.Files("x/y"); return err }(),
			} {
				if !errors.Is(err, ErrBadID) {
					t.Errorf("%s with a bad id: %v, want ErrBadID", what, err)
				}
			}

			// A failing reader leaves nothing behind.
			boom := errors.New("boom")
			if _, err := s.Put(ctx, cid, fid2, "x", io.MultiReader(bytes.NewReader(plaintext(3*SegmentSize)), errReader{boom})); !errors.Is(err, boom) {
				t.Fatalf("put from a failing reader: %v", err)
			}
			if ok, _ := s.Exists(cid, fid2); ok {
				t.Fatal("a failed put left a file")
			}

			// Listing, per consultation.
			put(t, s, "c_other", fid2, []byte("other"))
			if fids, err := s.Files(cid); err != nil || !slices.Equal(fids, []string{fid1}) {
				t.Fatalf("Files(%s) = %v, %v", cid, fids, err)
			}
			cids, err := s.Consultations()
			slices.Sort(cids)
			if err != nil || !slices.Equal(cids, []string{"c_other", "c_sizes", cid}) {
				t.Fatalf("Consultations = %v, %v", cids, err)
			}

			// Wrong key: the sentinel of the local store.
			other := b.open(t, testRing(t, "k9"))
			var uk *UnknownKeyError
			if _, _, err := other.Open(cid, fid1); !errors.As(err, &uk) || uk.KeyID != "k1" {
				t.Fatalf("open with another key ring: %v", err)
			}

			// Rotation: rekey moves every file to the new key.
			s2 := b.open(t, ringOf(testRing(t, "k2").keys[0], ring.keys[0]))
			n, err := s2.Rekey(ctx)
			if err != nil || n != 7 {
				t.Fatalf("rekey: %d %v, want 7", n, err)
			}
			if f, _, err := s2.Open(cid, fid1); err != nil || f.KeyID() != "k2" {
				t.Fatalf("after rekey: %v", err)
			} else {
				f.Close()
			}
			if n, err := s2.Rekey(ctx); err != nil || n != 0 {
				t.Fatalf("second rekey: %d %v", n, err)
			}
			if got, err := readAll(s2, "c_sizes", fmt.Sprintf("%032x", 5)); err != nil || !bytes.Equal(got, big) {
				t.Fatalf("rekeyed file: %v", err)
			}
			if n, err := s2.MigratePlaintext(ctx); err != nil || n != 0 {
				t.Fatalf("migrate: %d %v", n, err)
			}

			// Deleting.
			if err := s2.Delete(cid, fid1); err != nil {
				t.Fatal(err)
			}
			if _, _, err := s2.Open(cid, fid1); !errors.Is(err, ErrNotFound) {
				t.Fatalf("open after delete: %v", err)
			}
			if err := s2.RemoveConsultation("c_sizes"); err != nil {
				t.Fatal(err)
			}
			if fids, err := s2.Files("c_sizes"); err != nil || len(fids) != 0 {
				t.Fatalf("files after RemoveConsultation: %v %v", fids, err)
			}
			if err := s2.RemoveTemporary("c_other"); err != nil {
				t.Fatal(err)
			}
			if n, err := s2.RemoveStaleTemporary(StaleTempAge, time.Now()); err != nil || n != 0 {
				t.Fatalf("RemoveStaleTemporary: %d %v", n, err)
			}
			if got, err := readAll(s2, "c_other", fid2); err != nil || string(got) != "other" {
				t.Fatalf("the other consultation's file: %q %v", got, err)
			}
		})
	}
}

// TestS3HoldsOnlyCiphertext reads the raw objects from the bucket: the
// blob format's header, never the plaintext; a changed object fails.
func TestS3HoldsOnlyCiphertext(t *testing.T) {
	opt, c := testBucket(t)
	s, err := OpenS3(t.Context(), opt, testRing(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	data := plaintext(2*SegmentSize + 99)
	put(t, s, cid, fid1, data)
	keys := s3test.Keys(t, c, opt.Bucket, "")
	if want := "files/" + cid + "/" + fid1; !slices.Equal(keys, []string{want}) {
		t.Fatalf("bucket holds %v, want [%s]", keys, want)
	}
	raw := rawObject(t, c, opt.Bucket, keys[0])
	if !bytes.HasPrefix(raw, []byte(magic+"\x01")) {
		t.Fatalf("object starts %q, want the blob format header", raw[:min(len(raw), 12)])
	}
	if bytes.Contains(raw, []byte("PLAINTEXT-MARKER")) || bytes.Contains(raw, []byte("staff:1")) {
		t.Fatal("the bucket holds plaintext")
	}
	if len(raw) <= len(data) {
		t.Fatalf("object of %d bytes for %d of plaintext", len(raw), len(data))
	}

	// Someone with write access to the bucket but not the key.
	raw[len(raw)/2] ^= 1
	if _, err := c.PutObject(t.Context(), opt.Bucket, keys[0], bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(s, cid, fid1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a changed object: %v, want ErrCorrupt", err)
	}
	// Moved to another file id: does not decrypt.
	raw[len(raw)/2] ^= 1
	if _, err := c.PutObject(t.Context(), opt.Bucket, "files/"+cid+"/"+fid2, bytes.NewReader(raw), int64(len(raw)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := readAll(s, cid, fid2); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("read of a copied object: %v, want ErrCorrupt", err)
	}
}

// TestS3AbortsUnfinishedUploads: an upload a crash left unfinished is
// aborted by RemoveConsultation, so nothing of the consultation remains.
func TestS3AbortsUnfinishedUploads(t *testing.T) {
	opt, c := testBucket(t)
	s, err := OpenS3(t.Context(), opt, testRing(t, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, cid, fid1, []byte("x"))
	core := minio.Core{Client: c}
	if _, err := core.NewMultipartUpload(t.Context(), opt.Bucket, "files/"+cid+"/"+fid2, minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveConsultation(cid); err != nil {
		t.Fatal(err)
	}
	if keys := s3test.Keys(t, c, opt.Bucket, ""); len(keys) != 0 {
		t.Fatalf("left in the bucket: %v", keys)
	}
	var left []string
	for u := range c.ListIncompleteUploads(t.Context(), opt.Bucket, "", true) {
		if u.Err != nil {
			t.Fatal(u.Err)
		}
		left = append(left, u.Key)
	}
	if len(left) != 0 {
		t.Fatalf("unfinished uploads left: %v", left)
	}
}

func rawObject(t *testing.T, c *minio.Client, bucket, key string) []byte {
	t.Helper()
	o, err := c.GetObject(t.Context(), bucket, key, minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestBackendModified: both backends say when a file was stored (what the
// orphan sweep of contracts compares with its age bound), and ErrNotFound
// for a file that is not there.
func TestBackendModified(t *testing.T) {
	for _, b := range backends(t) {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t, testRing(t, "k1"))
			before := time.Now().Add(-time.Minute) // the S3 server's clock may differ a little
			put(t, s, "c_mod", fmt.Sprintf("%032x", 7), plaintext(10))
			at, err := s.Modified("c_mod", fmt.Sprintf("%032x", 7))
			if err != nil || at.Before(before) || at.After(time.Now().Add(time.Minute)) {
				t.Fatalf("Modified = %v, %v; want about now", at, err)
			}
			if _, err := s.Modified("c_mod", fmt.Sprintf("%032x", 8)); !errors.Is(err, ErrNotFound) {
				t.Fatalf("Modified of a missing file: %v; want ErrNotFound", err)
			}
		})
	}
}
