package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// The browser client (written separately, see web/static). "all:" keeps
// the build working while a directory is still empty or holds only a
// placeholder; hidden files are never served (see hiddenPath).
//
//go:embed all:static
var staticFS embed.FS

// embeddedStatic is the client with paths relative to web/static.
func embeddedStatic() fs.FS {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err) // "static" is a valid, constant path
	}
	return sub
}

// staticFile is one client file with its validator. The client's files
// stay in the binary (embed) and are read from there per request; only
// pages rewritten at start-up (the brand) are held in memory. The ETag is
// computed when the file is first served, so start-up neither copies the
// client (about 4 MiB, mostly pdf.js) onto the heap nor pages it in.
type staticFile struct {
	data        []byte // rewritten content; nil: read name from fsys
	contentType string

	etagOnce sync.Once
	etag     string
}

// staticFiles serves the client's files: no directory listings, no hidden
// files, explicit content types, ETags for revalidation.
type staticFiles struct {
	fsys  fs.FS
	files map[string]*staticFile
}

func newStaticFiles(fsys fs.FS) (*staticFiles, error) {
	sf := &staticFiles{fsys: fsys, files: map[string]*staticFile{}}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != "." && hiddenPath(p) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		sf.files[p] = &staticFile{contentType: contentType(p)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read client files: %w", err)
	}
	return sf, nil
}

// open returns the content of the file name, from memory or from fsys.
func (sf *staticFiles) open(name string, f *staticFile) (io.ReadSeeker, func(), error) {
	if f.data != nil {
		return bytes.NewReader(f.data), func() {}, nil
	}
	file, err := sf.fsys.Open(name)
	if err != nil {
		return nil, nil, fmt.Errorf("client file %s: %w", name, err)
	}
	if rs, ok := file.(io.ReadSeeker); ok { // embed and fstest files are
		return rs, func() { file.Close() }, nil
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		return nil, nil, fmt.Errorf("client file %s: %w", name, err)
	}
	return bytes.NewReader(data), func() {}, nil
}

// etagFor returns f's ETag, hashing its content on the first call.
func (sf *staticFiles) etagFor(name string, f *staticFile) (string, error) {
	var err error
	f.etagOnce.Do(func() {
		if f.data != nil {
			f.etag = etagOf(f.data)
			return
		}
		var r io.ReadSeeker
		var done func()
		if r, done, err = sf.open(name, f); err != nil {
			return
		}
		defer done()
		h := sha256.New()
		if _, err = io.Copy(h, r); err != nil {
			err = fmt.Errorf("client file %s: %w", name, err)
			return
		}
		f.etag = `"` + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:12]) + `"`
	})
	if err == nil && f.etag == "" {
		// An earlier call failed (the embedded files cannot change, so
		// it will not succeed now).
		err = fmt.Errorf("client file %s: no validator", name)
	}
	return f.etag, err
}

// content returns the whole content of a file (pages rewritten at
// start-up).
func (sf *staticFiles) content(name string, f *staticFile) ([]byte, error) {
	if f.data != nil {
		return f.data, nil
	}
	data, err := fs.ReadFile(sf.fsys, name)
	if err != nil {
		return nil, fmt.Errorf("read client file %s: %w", name, err)
	}
	return data, nil
}

// hiddenPath reports whether any element of p starts with "." or "_".
func hiddenPath(p string) bool {
	for _, el := range strings.Split(p, "/") {
		if strings.HasPrefix(el, ".") || strings.HasPrefix(el, "_") {
			return true
		}
	}
	return false
}

// contentType is the Content-Type of a client file by its extension; never
// left to sniffing.
func contentType(name string) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm":
		return "text/html; charset=utf-8"
	case ".js", ".mjs":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".json", ".map":
		return "application/json"
	case ".webmanifest":
		return "application/manifest+json"
	case ".svg":
		return "image/svg+xml"
	case ".png":
		return "image/png"
	case ".jpg", ".jpeg":
		return "image/jpeg"
	case ".webp":
		return "image/webp"
	case ".ico":
		return "image/x-icon"
	case ".woff2":
		return "font/woff2"
	case ".woff":
		return "font/woff"
	case ".ttf":
		return "font/ttf"
	case ".txt":
		return "text/plain; charset=utf-8"
	case ".wasm":
		return "application/wasm"
	case ".mp3":
		return "audio/mpeg"
	case ".ogg", ".oga":
		return "audio/ogg"
	case ".wav":
		return "audio/wav"
	}
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

// serve writes the file name (relative to web/static) with the given
// Cache-Control, answering conditional requests. errNoFile if absent.
func (sf *staticFiles) serve(w http.ResponseWriter, r *http.Request, name, cacheControl string) error {
	f, ok := sf.files[name]
	if !ok || hiddenPath(name) {
		return errNoFile
	}
	etag, err := sf.etagFor(name, f)
	if err != nil {
		return err
	}
	content, done, err := sf.open(name, f)
	if err != nil {
		return err
	}
	defer done()
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", etag)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, "", time.Time{}, content)
	return nil
}

// rewritePages passes every HTML page through f (the brand, branding.go);
// the pages are then held in memory.
func (sf *staticFiles) rewritePages(rewrite func([]byte) []byte) error {
	for name, f := range sf.files {
		if path.Ext(name) != ".html" {
			continue
		}
		data, err := sf.content(name, f)
		if err != nil {
			return err
		}
		f.data = rewrite(data)
	}
	return nil
}

// brand writes the company name into every page of the client: the
// <title> ends in it instead of "Parley", and <body> gets
// data-company="…", from which i18n.js builds the translated tab titles.
func (sf *staticFiles) brand(company string) error {
	company = strings.TrimSpace(company)
	if company == "" {
		return nil
	}
	esc := html.EscapeString(company)
	return sf.rewritePages(func(data []byte) []byte {
		data = bytes.Replace(data, []byte(" – Parley</title>"), []byte(" – "+esc+"</title>"), 1)
		return bytes.Replace(data, []byte("<body "), []byte(`<body data-company="`+esc+`" `), 1)
	})
}
