package web

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"html"
	"image"
	_ "image/jpeg" // logo formats image.DecodeConfig reads
	_ "image/png"
	"io"
	"io/fs"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	_ "golang.org/x/image/webp"

	"github.com/parley-video/parley/config"
)

// Bounds of the company's image files.
const (
	maxLogoBytes    = 512 << 10
	maxFaviconBytes = 256 << 10
	minLogoSide     = 16
	maxLogoSide     = 4096
	logoHeight      = 28 // CSS px in the top bar
)

// brandFile is a logo or favicon read at start-up.
type brandFile struct {
	data        []byte
	contentType string
	etag        string
}

// brand is the company's look applied to every page (branding.* in the
// configuration): the logo and favicon in place of Parley's, a stylesheet
// of CSS custom properties with the brand colours, the company's name in
// the top bar. Tab titles name the company through staticFiles.brand.
type brand struct {
	company  string
	logo     *brandFile // nil: Parley's logo or branding.logo_url
	favicon  *brandFile // nil: the logo, or Parley's icon
	logoSrc  string     // the top bar's <img src>
	logoW    int        // its width at logoHeight
	iconLink string     // the <link rel="icon"> of every page
	theme    brandFile  // /brand/theme.css
}

// loadBrand reads and checks the branding files; errors name the key.
func loadBrand(cfg config.Config) (*brand, error) {
	b := &brand{company: strings.TrimSpace(cfg.Company.Name), logoSrc: "/static/img/logo.svg", logoW: logoHeight}
	bc := cfg.Branding
	if bc.LogoFile != "" {
		f, w, h, err := readBrandImage(bc.LogoFile, maxLogoBytes, false)
		if err != nil {
			return nil, fmt.Errorf("branding.logo_file: %w", err)
		}
		b.logo = f
		b.logoSrc = "/brand/logo?v=" + strings.Trim(f.etag, `"`)
		b.logoW = max(1, int(math.Round(float64(logoHeight*w)/float64(h))))
	} else if bc.LogoURL != "" {
		b.logoSrc = bc.LogoURL
	}
	if bc.FaviconFile != "" {
		f, _, _, err := readBrandImage(bc.FaviconFile, maxFaviconBytes, true)
		if err != nil {
			return nil, fmt.Errorf("branding.favicon_file: %w", err)
		}
		b.favicon = f
	} else if b.logo != nil {
		b.favicon = b.logo
	}
	b.iconLink = `<link rel="icon" href="/static/img/logo.svg" type="image/svg+xml">`
	if b.favicon != nil {
		b.iconLink = `<link rel="icon" href="/brand/favicon?v=` + strings.Trim(b.favicon.etag, `"`) + `" type="` + b.favicon.contentType + `">`
	}
	css := themeCSS(bc.Theme())
	b.theme = brandFile{data: css, contentType: "text/css; charset=utf-8", etag: etagOf(css)}
	return b, nil
}

// readBrandImage reads an image file of at most limit bytes: PNG, JPEG or
// WebP (ICO too for a favicon), with sides within bounds. SVG is refused:
// it can carry scripts, event handlers and references to other hosts, and
// a sanitiser we would have to trust is more code than the feature is
// worth; a PNG export of the logo is always at hand.
func readBrandImage(path string, limit int64, favicon bool) (*brandFile, int, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, 0, 0, fmt.Errorf("%s is larger than %d KiB; make it smaller", path, limit>>10)
	}
	ct := http.DetectContentType(data)
	switch {
	case ct == "image/x-icon" && favicon:
		return &brandFile{data: data, contentType: ct, etag: etagOf(data)}, 0, 0, nil
	case ct == "image/png", ct == "image/jpeg", ct == "image/webp":
	case bytes.Contains(data[:min(len(data), 1024)], []byte("<svg")):
		return nil, 0, 0, fmt.Errorf("%s is an SVG; SVG is refused because it can carry scripts and links to other hosts: export it as PNG", path)
	default:
		want := "PNG, JPEG or WebP"
		if favicon {
			want = "PNG, ICO, JPEG or WebP"
		}
		return nil, 0, 0, fmt.Errorf("%s is %s, not %s", path, ct, want)
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s is not a readable %s: %w", path, ct, err)
	}
	if cfg.Width < minLogoSide || cfg.Height < minLogoSide || cfg.Width > maxLogoSide || cfg.Height > maxLogoSide {
		return nil, 0, 0, fmt.Errorf("%s is %d×%d px; each side must be %d–%d px", path, cfg.Width, cfg.Height, minLogoSide, maxLogoSide)
	}
	return &brandFile{data: data, contentType: ct, etag: etagOf(data)}, cfg.Width, cfg.Height, nil
}

// themeCSS is the brand stylesheet: custom properties over app.css's.
func themeCSS(t config.Theme) []byte {
	var b strings.Builder
	b.WriteString("/* The company's colours (branding.* in the configuration). */\n:root {\n")
	for _, v := range []struct{ name, val string }{
		{"--c-primary", t.Primary}, {"--c-primary-hover", t.PrimaryHover},
		{"--c-accent", t.Accent}, {"--c-accent-strong", t.AccentStrong},
	} {
		if v.val != "" {
			fmt.Fprintf(&b, "  %s: %s;\n", v.name, v.val)
		}
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`
}

// page applies the brand to one HTML page: the logo, the favicon, the
// brand stylesheet after the page's own, the company in the top bar.
func (b *brand) page(p []byte) []byte {
	p = bytes.ReplaceAll(p, []byte(`<link rel="icon" href="/static/img/logo.svg" type="image/svg+xml">`), []byte(b.iconLink))
	p = bytes.ReplaceAll(p, []byte(`src="/static/img/logo.svg" alt="" width="28" height="28"`),
		[]byte(`src="`+html.EscapeString(b.logoSrc)+`" alt="" width="`+strconv.Itoa(b.logoW)+`" height="`+strconv.Itoa(logoHeight)+`"`))
	if b.company != "" {
		esc := []byte(">" + html.EscapeString(b.company) + "</span>")
		p = bytes.Replace(p, []byte(`class="brand-name">Parley</span>`), append([]byte(`class="brand-name"`), esc...), 1)
		p = bytes.Replace(p, []byte(`id="topbar-company">Parley</span>`), append([]byte(`id="topbar-company"`), esc...), 1)
	}
	return bytes.Replace(p, []byte("</head>"), []byte(`<link rel="stylesheet" href="/brand/theme.css?v=`+strings.Trim(b.theme.etag, `"`)+`">`+"\n</head>"), 1)
}

// client is the browser client in fsys with the brand applied to its
// pages; tab titles name the company, not Parley.
func (b *brand) client(fsys fs.FS) (*staticFiles, error) {
	files, err := newStaticFiles(fsys)
	if err != nil {
		return nil, err
	}
	if err := files.brand(b.company); err != nil {
		return nil, err
	}
	if err := files.rewritePages(b.page); err != nil {
		return nil, err
	}
	return files, nil
}

// brandRoutes serves the logo, the favicon and the colours.
func (s *Server) brandRoutes(e *gin.Engine) {
	serve := func(f func() *brandFile) gin.HandlerFunc {
		return s.page(func(c *gin.Context) error {
			bf := f()
			if bf == nil {
				return errNoFile
			}
			h := c.Writer.Header()
			h.Set("Content-Type", bf.contentType)
			h.Set("ETag", bf.etag)
			h.Set("Cache-Control", "public, max-age=86400")
			http.ServeContent(c.Writer, c.Request, "", time.Time{}, bytes.NewReader(bf.data))
			return nil
		})
	}
	e.GET("/brand/logo", serve(func() *brandFile { return s.brand.logo }))
	e.GET("/brand/favicon", serve(func() *brandFile { return s.brand.favicon }))
	e.GET("/brand/theme.css", serve(func() *brandFile { return &s.brand.theme }))
}
