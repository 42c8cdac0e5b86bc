package signature

import (
	"github.com/digitorus/pdf"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestHangScan(t *testing.T) {
	dir := os.Getenv("HANGDIR")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte(")
		s = strings.TrimSuffix(strings.TrimSpace(s), ")")
		data, err := strconv.Unquote(s)
		if err != nil {
			continue
		}
		start := time.Now()
		_, err = LoadPDF([]byte(data), 1<<20)
		if d := time.Since(start); d > time.Second {
			t.Errorf("%s: %v %v", f, d, err)
		}
	}
}

func FuzzParseRaw(f *testing.F) {
	for _, n := range []string{"valid-contract", "truncated-half", "page-cycle", "huge-size"} {
		b, _ := os.ReadFile("testdata/fuzz/FuzzLoadPDF/" + n)
		s := strings.TrimPrefix(string(b), "go test fuzz v1\n[]byte(")
		s = strings.TrimSuffix(strings.TrimSpace(s), ")")
		d, _ := strconv.Unquote(s)
		f.Add([]byte(d))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 5 || string(data[:5]) != "%PDF-" || preflight(data) != nil {
			return
		}
		start := time.Now()
		_ = parseGuarded(&guardedReaderAt{data: data}, func(r *pdf.Reader) error { _, err := describe(r); return err })
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("took %v", d)
		}
	})
}
