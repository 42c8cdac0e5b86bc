package blobs

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

const benchSize = 20 << 20

// plainPut is the store's write path before encryption: temporary file,
// io.Copy (of the request body, as Put gets it: no WriterTo), fsync,
// rename.
func plainPut(dir, name string, r io.Reader) error {
	tmp, err := os.CreateTemp(dir, tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, readerCtx{context.Background(), r})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(dir, name))
	}
	return err
}

// BenchmarkPut writes a 20 MiB file encrypted (Put) and plain (io.Copy to
// a synced temporary file, renamed) in every iteration and reports both
// and their ratio (encrypted/plain).
func BenchmarkPut(b *testing.B) {
	s := newStore(b, testRing(b, "k1"))
	data := plaintext(benchSize)
	plainDir := b.TempDir()
	ctx := context.Background()
	var enc, plain time.Duration
	i := 0
	b.SetBytes(2 * benchSize)
	for b.Loop() {
		fid := fmt.Sprintf("%032x", i)
		i++
		t0 := time.Now()
		if err := plainPut(plainDir, fid, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := s.Put(ctx, cid, fid, "staff:1", bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		plain += t1.Sub(t0)
		enc += t2.Sub(t1)
		os.Remove(filepath.Join(plainDir, fid))
		s.Delete(cid, fid)
	}
	report(b, i, enc, plain)
}

// BenchmarkOpenRead reads a 20 MiB file through Open (decrypting) and a
// plain os.Open + io.Copy, both to io.Discard.
func BenchmarkOpenRead(b *testing.B) {
	s := newStore(b, testRing(b, "k1"))
	data := plaintext(benchSize)
	put(b, s, cid, fid1, data)
	plainPath := filepath.Join(b.TempDir(), fid1)
	if err := os.WriteFile(plainPath, data, filePerm); err != nil {
		b.Fatal(err)
	}
	var enc, plain time.Duration
	i := 0
	b.SetBytes(2 * benchSize)
	for b.Loop() {
		i++
		t0 := time.Now()
		f, err := os.Open(plainPath)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, struct{ io.Reader }{f}); err != nil || n != benchSize {
			b.Fatal(n, err)
		}
		f.Close()
		t1 := time.Now()
		r, _, err := s.Open(cid, fid1)
		if err != nil {
			b.Fatal(err)
		}
		if n, err := io.Copy(io.Discard, r); err != nil || n != benchSize {
			b.Fatal(n, err)
		}
		r.Close()
		t2 := time.Now()
		plain += t1.Sub(t0)
		enc += t2.Sub(t1)
	}
	report(b, i, enc, plain)
}

func report(b *testing.B, n int, enc, plain time.Duration) {
	mb := float64(benchSize) / (1 << 20)
	b.ReportMetric(mb/(enc.Seconds()/float64(n)), "enc-MiB/s")
	b.ReportMetric(mb/(plain.Seconds()/float64(n)), "plain-MiB/s")
	b.ReportMetric(enc.Seconds()/plain.Seconds(), "enc/plain")
}
