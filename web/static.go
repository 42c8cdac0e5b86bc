package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
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

// staticFile is one client file held in memory with its validator.
type staticFile struct {
	data        []byte
	etag        string
	contentType string
}

// staticFiles serves the client's files: no directory listings, no hidden
// files, explicit content types, ETags for revalidation.
type staticFiles struct {
	files map[string]staticFile
}

func newStaticFiles(fsys fs.FS) (*staticFiles, error) {
	sf := &staticFiles{files: map[string]staticFile{}}
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
		data, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		sf.files[p] = staticFile{
			data:        data,
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
			contentType: contentType(p),
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read client files: %w", err)
	}
	return sf, nil
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
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.data))
	return nil
}

// rewritePages passes every HTML page through f (the brand, branding.go).
func (sf *staticFiles) rewritePages(f func([]byte) []byte) {
	for name, file := range sf.files {
		if path.Ext(name) != ".html" {
			continue
		}
		file.data = f(file.data)
		file.etag = etagOf(file.data)
		sf.files[name] = file
	}
}

// brand writes the company name into every page of the client: the
// <title> ends in it instead of "Parley", and <body> gets
// data-company="…", from which i18n.js builds the translated tab titles.
func (sf *staticFiles) brand(company string) {
	company = strings.TrimSpace(company)
	if company == "" {
		return
	}
	esc := html.EscapeString(company)
	for name, f := range sf.files {
		if path.Ext(name) != ".html" {
			continue
		}
		data := bytes.Replace(f.data, []byte(" – Parley</title>"), []byte(" – "+esc+"</title>"), 1)
		data = bytes.Replace(data, []byte("<body "), []byte(`<body data-company="`+esc+`" `), 1)
		sum := sha256.Sum256(data)
		f.data = data
		f.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
		sf.files[name] = f
	}
}
