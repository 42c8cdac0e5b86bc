package web

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/config"
)

// writePNG writes a w×h PNG into dir and returns its path.
func writePNG(t *testing.T, dir, name string, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{0x8a, 0x15, 0x38, 0xff})
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBrandedPages: with branding.* set, every page (the client's and the
// server-rendered ones) carries the company's logo (at its aspect ratio),
// favicon, colours and name, and the tab title names the company.
func TestBrandedPages(t *testing.T) {
	dir := t.TempDir()
	logo := writePNG(t, dir, "logo.png", 240, 56)
	e := newEnv(t, func(c *config.Config) {
		c.Company.Name = "Musterbank"
		c.Branding = config.BrandingConfig{LogoFile: logo, PrimaryColor: "#8A1538", AccentColor: "#00796b"}
	})
	files, err := e.srv.brand.client(embeddedStatic())
	if err != nil {
		t.Fatal(err)
	}
	e.srv.files = files
	c := e.client()
	css := e.do(c, "GET", "/brand/theme.css", nil)
	if css.StatusCode != 200 || !strings.HasPrefix(css.Header.Get("Content-Type"), "text/css") ||
		!strings.Contains(string(css.body), "--c-primary: #8a1538;") || !strings.Contains(string(css.body), "--c-accent: #00796b;") {
		t.Fatalf("theme.css: %d %s\n%s", css.StatusCode, css.Header.Get("Content-Type"), css.body)
	}
	img := e.do(c, "GET", "/brand/logo", nil)
	want, _ := os.ReadFile(logo)
	if img.StatusCode != 200 || img.Header.Get("Content-Type") != "image/png" || !bytes.Equal(img.body, want) {
		t.Fatalf("logo: %d %s", img.StatusCode, img.Header.Get("Content-Type"))
	}
	if fav := e.do(c, "GET", "/brand/favicon", nil); fav.StatusCode != 200 || !bytes.Equal(fav.body, want) {
		t.Fatalf("favicon (the logo without favicon_file): %d", fav.StatusCode)
	}
	for _, p := range []string{"/static/join.html", "/static/app.html", "/static/login.html", "/static/backoffice.html",
		"/static/my-data.html", "/static/users.html", "/static/data-requests.html", "/privacy", "/j/no-such-token", "/nope"} {
		r := e.do(c, "GET", p, nil)
		body := string(r.body)
		for _, w := range []string{
			`<link rel="stylesheet" href="/brand/theme.css?v=`,
			`<link rel="icon" href="/brand/favicon?v=`,
			`src="/brand/logo?v=`,
			`width="120" height="28"`, // 240×56 at 28 px high
			"Musterbank</span>",
			"– Musterbank</title>",
		} {
			if !strings.Contains(body, w) {
				t.Errorf("%s (%d) lacks %s", p, r.StatusCode, w)
			}
		}
		if strings.Contains(body, "/static/img/logo.svg") || strings.Contains(body, "– Parley</title>") {
			t.Errorf("%s still shows Parley's logo or title", p)
		}
		// The brand stylesheet comes after the page's own, so it wins.
		if strings.Index(body, "/brand/theme.css") < strings.LastIndex(body, `rel="stylesheet" href="/static/`) {
			t.Errorf("%s: brand stylesheet before the page's own", p)
		}
	}
}

// TestUnbrandedPagesUnchanged: without branding.* the pages keep Parley's
// logo and colours (the brand stylesheet sets nothing).
func TestUnbrandedPagesUnchanged(t *testing.T) {
	e := newEnv(t)
	css := e.do(e.client(), "GET", "/brand/theme.css", nil)
	if strings.Contains(string(css.body), "--c-") {
		t.Errorf("default theme sets colours:\n%s", css.body)
	}
	if r := e.do(e.client(), "GET", "/brand/logo", nil); r.StatusCode != 404 {
		t.Errorf("/brand/logo without a logo file: %d", r.StatusCode)
	}
	files, err := e.srv.brand.client(embeddedStatic())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(files.files["join.html"].data), `src="/static/img/logo.svg" alt="" width="28" height="28"`) {
		t.Error("join.html lost Parley's logo")
	}
}

// TestBrandFilesChecked: logo and favicon files are checked at start-up:
// SVG refused, size, type and dimensions bounded; the error names the key.
func TestBrandFilesChecked(t *testing.T) {
	dir := t.TempDir()
	svg := filepath.Join(dir, "logo.svg")
	os.WriteFile(svg, []byte(`<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`), 0o600)
	big := filepath.Join(dir, "big.png")
	os.WriteFile(big, append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, maxLogoBytes)...), 0o600)
	gif := filepath.Join(dir, "logo.gif")
	os.WriteFile(gif, []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), 0o600)
	tiny := writePNG(t, dir, "tiny.png", 8, 8)
	ico := filepath.Join(dir, "favicon.ico")
	os.WriteFile(ico, []byte("\x00\x00\x01\x00\x01\x00\x10\x10\x00\x00\x01\x00\x20\x00"), 0o600)
	okPNG := writePNG(t, dir, "ok.png", 64, 64)
	for _, tc := range []struct {
		name string
		b    config.BrandingConfig
		want string // part of the error; "" fine
	}{
		{"png logo", config.BrandingConfig{LogoFile: okPNG}, ""},
		{"ico favicon", config.BrandingConfig{FaviconFile: ico}, ""},
		{"svg logo", config.BrandingConfig{LogoFile: svg}, "branding.logo_file: " + svg + " is an SVG; SVG is refused"},
		{"svg favicon", config.BrandingConfig{FaviconFile: svg}, "branding.favicon_file"},
		{"too big", config.BrandingConfig{LogoFile: big}, "larger than 512 KiB"},
		{"gif", config.BrandingConfig{LogoFile: gif}, "image/gif, not PNG, JPEG or WebP"},
		{"ico logo", config.BrandingConfig{LogoFile: ico}, "not PNG, JPEG or WebP"},
		{"tiny", config.BrandingConfig{LogoFile: tiny}, "8×8 px"},
		{"missing", config.BrandingConfig{LogoFile: filepath.Join(dir, "nope.png")}, "branding.logo_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Branding = tc.b
			_, err := loadBrand(cfg)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("loadBrand: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("loadBrand = %v, want %q", err, tc.want)
			}
		})
	}
}
