package config

import (
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestContrast(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"#000000", "#ffffff", 21},
		{"#ffffff", "#ffffff", 1},
		{"#777777", "#ffffff", 4.48}, // the classic just-failing grey
		{"#767676", "#fff", 4.54},    // the classic just-passing grey
		{"#1b3a5c", "#ffffff", 11.63},
	} {
		a, err := ParseColor(tc.a)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ParseColor(tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if got := Contrast(a, b); math.Abs(got-tc.want) > 0.05 {
			t.Errorf("Contrast(%s, %s) = %.2f, want %.2f", tc.a, tc.b, got, tc.want)
		}
	}
}

// TestBrandingValidate: colours that fail WCAG AA (4.5:1 against the text
// and backgrounds they are used with) stop the start with a message that
// names the key, the ratio and a shade that passes.
func TestBrandingValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    BrandingConfig
		want string // part of the error; "" valid
	}{
		{"defaults", BrandingConfig{}, ""},
		{"dark brand", BrandingConfig{PrimaryColor: "#8a1538", AccentColor: "#00594f", LogoURL: "/assets/logo.png", MailSenderName: "Musterbank Beratung"}, ""},
		{"light primary", BrandingConfig{PrimaryColor: "#5b9bd5"}, "branding.primary_color: #5b9bd5 has a contrast of only"},
		{"primary fine on white, not on the page", BrandingConfig{PrimaryColor: "#767676"}, "branding.primary_color"},
		{"light accent", BrandingConfig{AccentColor: "#7fd1b9"}, "branding.accent_color: #7fd1b9 has a contrast of only"},
		{"not a colour", BrandingConfig{PrimaryColor: "navy"}, `branding.primary_color: "navy" is not a colour`},
		{"logo from another host", BrandingConfig{LogoURL: "//cdn.example.com/logo.png"}, "branding.logo_url"},
		{"logo url absolute", BrandingConfig{LogoURL: "https://cdn.example.com/logo.png"}, "branding.logo_url"},
		{"logo twice", BrandingConfig{LogoURL: "/l.png", LogoFile: "l.png"}, "not both"},
		{"header injection", BrandingConfig{MailSenderName: "Bank\r\nBcc: x"}, "branding.mail_sender_name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			c.DataDir = t.TempDir()
			c.Branding = tc.b
			err := c.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate = %v, want %q", err, tc.want)
			}
			if m := regexp.MustCompile(`such as (#[0-9a-f]{6}) passes`).FindStringSubmatch(err.Error()); m != nil {
				if strings.HasPrefix(err.Error(), "branding.primary_color") {
					c.Branding.PrimaryColor = m[1]
				} else {
					c.Branding.AccentColor = m[1]
				}
				if err := c.Validate(); err != nil {
					t.Errorf("the suggested shade %s fails: %v", m[1], err)
				}
			} else if strings.Contains(err.Error(), "contrast") {
				t.Errorf("no passing shade suggested: %v", err)
			}
		})
	}
}

func TestSenderName(t *testing.T) {
	c := Default()
	c.Company.Name = "Musterbank"
	if got := c.SenderName(); got != "Musterbank" {
		t.Errorf("SenderName = %q", got)
	}
	c.Branding.MailSenderName = "Musterbank Videoberatung"
	if got := c.SenderName(); got != "Musterbank Videoberatung" {
		t.Errorf("SenderName = %q", got)
	}
}

func TestTheme(t *testing.T) {
	if th := (BrandingConfig{}).Theme(); th != (Theme{}) {
		t.Errorf("default theme %+v, want the stylesheet's own colours", th)
	}
	th := BrandingConfig{PrimaryColor: "#8A1538", AccentColor: "#00796b"}.Theme()
	if th.Primary != "#8a1538" || th.Accent != "#00796b" || th.PrimaryHover == "" {
		t.Fatalf("theme %+v", th)
	}
	strong, _ := ParseColor(th.AccentStrong)
	for _, bg := range pageBackgrounds() {
		if c := Contrast(strong, bg); c < MinContrast {
			t.Errorf("accent text %s on %s: %.2f:1", th.AccentStrong, bg, c)
		}
	}
}
