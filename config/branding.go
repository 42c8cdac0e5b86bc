package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// BrandingConfig is the company's look: logo, favicon, colours and the
// sender name of e-mails. The company's name is company.name (tab titles
// read "Beratung – <name>").
type BrandingConfig struct {
	// LogoFile is a PNG, JPEG or WebP file (at most 512 KiB, 16–4096 px a
	// side) shown in every page's top bar; SVG is refused (it can carry
	// scripts). Read once at start-up. Empty: Parley's logo.
	LogoFile string `yaml:"logo_file"`
	// LogoURL is instead a path on this server's own origin (e.g.
	// /assets/logo.png, served by the reverse proxy in front of Parley).
	LogoURL string `yaml:"logo_url"`
	// FaviconFile is a PNG or ICO file (at most 256 KiB) for the browser
	// tab. Empty: the logo file, or Parley's icon.
	FaviconFile string `yaml:"favicon_file"`
	// PrimaryColor (#rrggbb) fills buttons (white text on it) and colours
	// links and headings on the light page backgrounds: it needs a WCAG
	// contrast of 4.5:1 against white and against each of them.
	PrimaryColor string `yaml:"primary_color"`
	// AccentColor (#rrggbb) fills active controls and switches with white
	// icons on them (4.5:1 against white); its darker shade for small
	// headings is derived.
	AccentColor string `yaml:"accent_color"`
	// MailSenderName is the display name of e-mails' From. Empty:
	// company.name.
	MailSenderName string `yaml:"mail_sender_name"`
}

// Default brand colours (web/static/css/app.css).
const (
	DefaultPrimaryColor = "#1b3a5c"
	DefaultAccentColor  = "#2f7d6d"
)

// MinContrast is WCAG 2.x AA's minimum for normal text.
const MinContrast = 4.5

// pageBackgrounds are the light backgrounds the pages put text on (white
// surfaces, the page, the tinted panels: --c-surface, --c-bg,
// --c-surface-2 in web/static/css/app.css).
func pageBackgrounds() []Color {
	return []Color{{0xff, 0xff, 0xff}, {0xf3, 0xf5, 0xf8}, {0xee, 0xf3, 0xf8}}
}

// brandTextColor is the text and icon colour on brand-coloured fills.
var brandTextColor = Color{0xff, 0xff, 0xff} // never assigned

// Theme is the brand's CSS colours; empty fields keep the stylesheet's.
type Theme struct {
	Primary, PrimaryHover, Accent, AccentStrong string
}

// Theme derives the pages' colours from the configured ones: a darker
// primary for hover, and an accent shade dark enough for text on the page
// backgrounds. Call after Validate.
func (b BrandingConfig) Theme() Theme {
	var t Theme
	if p, err := ParseColor(b.PrimaryColor); err == nil {
		t.Primary, t.PrimaryHover = p.String(), p.Darken(0.25).String()
	}
	if a, err := ParseColor(b.AccentColor); err == nil {
		t.Accent = a.String()
		t.AccentStrong = a.DarkenUntil(MinContrast, pageBackgrounds()...).String()
	}
	return t
}

// SenderName is the display name e-mails are sent with.
func (c *Config) SenderName() string {
	if n := strings.TrimSpace(c.Branding.MailSenderName); n != "" {
		return n
	}
	return c.Company.Name
}

// Color is an sRGB colour.
type Color struct{ R, G, B uint8 }

// ParseColor reads #rrggbb or #rgb.
func ParseColor(s string) (Color, error) {
	h := strings.TrimPrefix(strings.TrimSpace(s), "#")
	if len(s) == 0 || s[0] != '#' || (len(h) != 6 && len(h) != 3) {
		return Color{}, fmt.Errorf("%q is not a colour like #1b3a5c", s)
	}
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	v, err := strconv.ParseUint(h, 16, 32)
	if err != nil {
		return Color{}, fmt.Errorf("%q is not a colour like #1b3a5c", s)
	}
	return Color{uint8(v >> 16), uint8(v >> 8), uint8(v)}, nil
}

// String is #rrggbb.
func (c Color) String() string { return fmt.Sprintf("#%02x%02x%02x", c.R, c.G, c.B) }

// luminance is WCAG 2.x relative luminance.
func (c Color) luminance() float64 {
	ch := func(v uint8) float64 {
		s := float64(v) / 255
		if s <= 0.04045 {
			return s / 12.92
		}
		return math.Pow((s+0.055)/1.055, 2.4)
	}
	return 0.2126*ch(c.R) + 0.7152*ch(c.G) + 0.0722*ch(c.B)
}

// Contrast is the WCAG 2.x contrast ratio of a and b (1 to 21).
func Contrast(a, b Color) float64 {
	la, lb := a.luminance(), b.luminance()
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

// Darken scales c towards black by f (0: unchanged, 1: black).
func (c Color) Darken(f float64) Color {
	k := 1 - f
	return Color{uint8(math.Round(float64(c.R) * k)), uint8(math.Round(float64(c.G) * k)), uint8(math.Round(float64(c.B) * k))}
}

// DarkenUntil is the lightest shade of c (c itself if it passes) with at
// least min contrast against every colour of against.
func (c Color) DarkenUntil(min float64, against ...Color) Color {
	for f := 0.0; f < 1; f += 0.02 {
		d := c.Darken(f)
		if worstContrast(d, against) >= min {
			return d
		}
	}
	return Color{}
}

// worstContrast is c's lowest contrast against any of bgs.
func worstContrast(c Color, bgs []Color) float64 {
	worst := 21.0
	for _, b := range bgs {
		worst = min(worst, Contrast(c, b))
	}
	return worst
}

// validateBranding checks the colours' contrast and the logo settings'
// shape; web reads and checks the files themselves at start-up.
func (c *Config) validateBranding(bad func(key, format string, args ...any)) {
	b := c.Branding
	if _, err := ParseColor(orDefault(b.PrimaryColor, DefaultPrimaryColor)); err != nil {
		bad("branding.primary_color", "%v", err)
	} else {
		p, _ := ParseColor(orDefault(b.PrimaryColor, DefaultPrimaryColor))
		against := append([]Color{brandTextColor}, pageBackgrounds()...)
		if w := worstContrast(p, against); w < MinContrast {
			bad("branding.primary_color", "%s has a contrast of only %.1f:1 with the white text on buttons (%.1f:1) or as link text on the page backgrounds %s; "+
				"WCAG AA needs %.1f:1 for both. A darker shade such as %s passes",
				p, w, Contrast(p, brandTextColor), colorList(pageBackgrounds()), MinContrast, p.DarkenUntil(MinContrast, against...))
		}
	}
	if _, err := ParseColor(orDefault(b.AccentColor, DefaultAccentColor)); err != nil {
		bad("branding.accent_color", "%v", err)
	} else {
		a, _ := ParseColor(orDefault(b.AccentColor, DefaultAccentColor))
		if w := Contrast(a, brandTextColor); w < MinContrast {
			bad("branding.accent_color", "%s has a contrast of only %.1f:1 with the white icons and text on active controls; WCAG AA needs %.1f:1. A darker shade such as %s passes",
				a, w, MinContrast, a.DarkenUntil(MinContrast, brandTextColor))
		}
	}
	if b.LogoFile != "" && b.LogoURL != "" {
		bad("branding.logo_url", "set either branding.logo_file or branding.logo_url, not both")
	}
	if u := b.LogoURL; u != "" {
		if !strings.HasPrefix(u, "/") || strings.HasPrefix(u, "//") || strings.ContainsAny(u, "\"'<>\\ \t\r\n") {
			bad("branding.logo_url", "%q must be a path on this server such as /assets/logo.png (pages load nothing from other hosts)", u)
		}
	}
	if strings.ContainsAny(b.MailSenderName, "\r\n\"<>") {
		bad("branding.mail_sender_name", "must not contain line breaks, quotes or angle brackets")
	}
}

func orDefault(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

func colorList(cs []Color) string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return strings.Join(out, ", ")
}
