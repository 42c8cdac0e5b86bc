package web

import (
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"runtime"
	"testing"

	"github.com/parley-video/parley/config"
)

// TestClientStaysInBinary: loading the embedded client at start-up copies
// none of it onto the heap (it used to copy all of it, about 4 MiB, mostly
// pdf.js) and holds only the rewritten pages; files served from the
// binary carry the same bytes and ETag (SHA-256 of the content) as before
// and answer revalidation with 304.
func TestClientStaysInBinary(t *testing.T) {
	fsys := embeddedStatic()
	var clientBytes int64
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			info, _ := d.Info()
			clientBytes += info.Size()
		}
		return nil
	})
	b, err := loadBrand(config.Default())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client(fsys); err != nil { // first use of the MIME tables
		t.Fatal(err)
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	files, err := b.client(fsys)
	runtime.ReadMemStats(&m1)
	if err != nil {
		t.Fatal(err)
	}
	allocated := int64(m1.TotalAlloc - m0.TotalAlloc)
	var held int64
	for name, f := range files.files {
		if f.data != nil && path.Ext(name) != ".html" {
			t.Errorf("%s is held in memory", name)
		}
		held += int64(len(f.data))
	}
	t.Logf("client %d KiB; allocated at load %d KiB, pages held %d KiB", clientBytes>>10, allocated>>10, held>>10)
	if clientBytes < 1<<20 {
		t.Fatalf("the embedded client has only %d bytes", clientBytes)
	}
	if allocated > clientBytes/4 || held > clientBytes/8 {
		t.Errorf("loading the client allocated %d bytes and holds %d (the client has %d)", allocated, held, clientBytes)
	}

	for _, name := range []string{"vendor/pdfjs/pdf.min.mjs", "js/i18n.js", "login.html"} {
		w := httptest.NewRecorder()
		if err := files.serve(w, httptest.NewRequest("GET", "/static/"+name, nil), name, "no-cache"); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, err := files.content(name, files.files[name])
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(want)
		etag := `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		if w.Code != 200 || w.Body.String() != string(want) || w.Header().Get("ETag") != etag ||
			w.Header().Get("Content-Type") != contentType(name) {
			t.Errorf("%s: %d, %d bytes (want %d), ETag %s (want %s), %s", name, w.Code, w.Body.Len(), len(want),
				w.Header().Get("ETag"), etag, w.Header().Get("Content-Type"))
		}
		r := httptest.NewRequest("GET", "/static/"+name, nil)
		r.Header.Set("If-None-Match", etag)
		w = httptest.NewRecorder()
		if err := files.serve(w, r, name, "no-cache"); err != nil || w.Code != http.StatusNotModified {
			t.Errorf("%s revalidated: %d %v", name, w.Code, err)
		}
	}
}
