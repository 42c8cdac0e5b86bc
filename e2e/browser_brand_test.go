package e2e

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
)

// brandPrimary and brandAccent are the test company's colours (both pass
// the WCAG contrast check at start-up).
const (
	brandCompany = "Musterbank"
	brandPrimary = "#8a1538"
	brandAccent  = "#00695c"
)

// brandLogo writes a wide PNG logo (a burgundy mark and bar) into dir.
func brandLogo(t *testing.T, dir string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 200, 56))
	mark := color.RGBA{0x8a, 0x15, 0x38, 0xff}
	gold := color.RGBA{0xc8, 0x9b, 0x3c, 0xff}
	for x := range 200 {
		for y := range 56 {
			switch {
			case x < 56 && (x-28)*(x-28)+(y-28)*(y-28) <= 26*26:
				img.Set(x, y, mark)
				if x > 18 && x < 38 && y > 18 && y < 38 {
					img.Set(x, y, gold)
				}
			case x >= 68 && y >= 20 && y < 36:
				img.Set(x, y, mark)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "logo.png")
	if err := os.WriteFile(p, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// brandState is what a page shows of the company's look.
type brandState struct {
	Title        string `json:"title"`
	Primary      string `json:"primary"`
	Accent       string `json:"accent"`
	LogoSrc      string `json:"logoSrc"`
	LogoLoaded   bool   `json:"logoLoaded"`
	LogoWidth    int    `json:"logoWidth"`
	Icon         string `json:"icon"`
	Company      string `json:"company"`
	ButtonColour string `json:"buttonColour"`
}

// readBrand reads the page's brand: title, custom properties, logo,
// favicon, the top bar's name and the colour of the button sel.
func readBrand(t *testing.T, ctx context.Context, sel string) brandState {
	t.Helper()
	return within(t, ctx, 10*time.Second, "read the brand", chromedp.Evaluate[brandState](`(() => {
		const root = getComputedStyle(document.documentElement);
		const logo = document.querySelector('.topbar .brand-logo');
		const btn = document.querySelector(`+jsQuote(sel)+`);
		return {
			title: document.title,
			primary: root.getPropertyValue('--c-primary').trim(),
			accent: root.getPropertyValue('--c-accent').trim(),
			logoSrc: logo ? logo.getAttribute('src') : '',
			logoLoaded: !!logo && logo.complete && logo.naturalWidth === 200,
			logoWidth: logo ? Math.round(logo.getBoundingClientRect().width) : 0,
			icon: document.querySelector('link[rel="icon"]')?.getAttribute('href') || '',
			company: document.querySelector('.topbar .brand-name')?.textContent.trim() || '',
			buttonColour: btn ? getComputedStyle(btn).backgroundColor : '',
		};
	})()`))
}

// checkBrand fails the test for every part of the look a page lacks.
func checkBrand(t *testing.T, page string, b brandState, title string) {
	t.Helper()
	if b.Title != title {
		t.Errorf("%s: tab title %q, want %q", page, b.Title, title)
	}
	if b.Primary != brandPrimary || b.Accent != brandAccent {
		t.Errorf("%s: colours %s/%s, want %s/%s", page, b.Primary, b.Accent, brandPrimary, brandAccent)
	}
	if b.ButtonColour != "rgb(138, 21, 56)" {
		t.Errorf("%s: primary button is %s, want the brand's rgb(138, 21, 56)", page, b.ButtonColour)
	}
	if !strings.HasPrefix(b.LogoSrc, "/brand/logo") || !b.LogoLoaded || b.LogoWidth < 90 || b.LogoWidth > 110 {
		t.Errorf("%s: logo %q loaded=%v width %d px, want /brand/logo at 100×28", page, b.LogoSrc, b.LogoLoaded, b.LogoWidth)
	}
	if !strings.Contains(b.Icon, "/brand/favicon") { // the console's knock badge writes it back absolute
		t.Errorf("%s: favicon %q", page, b.Icon)
	}
	if b.Company != brandCompany {
		t.Errorf("%s: top bar names %q, want %q", page, b.Company, brandCompany)
	}
}

// TestBrowserBranding: with the company's logo, colours and name
// configured, the advisor console (1366×768) and the customer's join page
// (phone, 390×844) show them, tab titles name the company, and axe-core
// finds no WCAG 2.1 AA violation with the brand colours. Screenshots:
// brand-console.png, brand-join.png in the artifacts directory.
func TestBrowserBranding(t *testing.T) {
	logo := brandLogo(t, t.TempDir())
	srv := startServer(t, func(c *config.Config) {
		c.Company.Name = brandCompany
		c.Branding = config.BrandingConfig{LogoFile: logo, PrimaryColor: brandPrimary, AccentColor: brandAccent}
	})
	adv := newBrowser(t, "advisor", 1366, 768)
	advisorLogin(t, adv, srv.base)
	waitJS(t, adv, 10*time.Second, "console title", `document.title.startsWith('Beratungen')`)
	checkBrand(t, "console", readBrand(t, adv, `[data-testid="new-consultation"]`), "Beratungen – "+brandCompany)
	saveScreenshot(t, adv, "brand-console")
	checkA11y(t, adv, "brand-console")
	invite := createConsultation(t, adv, "Baufinanzierung")
	saveScreenshot(t, adv, "brand-console-invite")

	cust := newBrowser(t, "customer", 390, 844)
	within(t, cust, 30*time.Second, "customer opens the invite", chromedp.Steps(
		chromedp.Navigate(invite),
		chromedp.WaitVisible(`[data-testid="consent"]`),
	))
	waitJS(t, cust, 10*time.Second, "join title", `document.title.startsWith('Videoberatung')`)
	checkBrand(t, "join", readBrand(t, cust, `[data-testid="join"]`), "Videoberatung – "+brandCompany)
	saveScreenshot(t, cust, "brand-join")
	checkA11y(t, cust, "brand-join")
}
