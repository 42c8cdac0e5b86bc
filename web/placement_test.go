package web

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
	"github.com/parley-video/parley/signature/pdftest"
)

// wordBoxes are the words of page 1 of a PDF as poppler's pdftotext finds
// them, in PDF points (lower-left origin): llx, lly, urx, ury.
func wordBoxes(t *testing.T, pdf []byte) [][4]float64 {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftotext", "-bbox", "-f", "1", "-l", "1", in, "-").Output()
	if err != nil {
		t.Fatalf("pdftotext: %v", err)
	}
	page := regexp.MustCompile(`<page width="([\d.]+)" height="([\d.]+)"`).FindSubmatch(out)
	if page == nil {
		t.Fatalf("pdftotext: no page in %s", out)
	}
	h, _ := strconv.ParseFloat(string(page[2]), 64)
	var boxes [][4]float64
	for _, m := range regexp.MustCompile(`<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)"`).FindAllSubmatch(out, -1) {
		var f [4]float64
		for i := range f {
			f[i], _ = strconv.ParseFloat(string(m[i+1]), 64)
		}
		boxes = append(boxes, [4]float64{f[0], h - f[3], f[2], h - f[1]})
	}
	return boxes
}

func rectsOverlap(a, b [4]float64) bool {
	return a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3]
}

// Signature fields on an uploaded PDF: the advisor's box is checked
// against the page (400 bad_field_box with the reason), the signed widget
// is where it was placed, and without a box the field goes into free
// space that touches no text, even with text near the bottom of the page.
func TestDocumentFieldPlacement(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Upload")
	base := "/api/v1/consultations/" + id + "/documents"
	origin := []string{"Origin", e.ts.URL}
	cu := e.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	capture, err := signature.ExampleCapture().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Two pages; the last has body text, a line where the default box of
	// the template would be (y 70-150) and a footer.
	last := append(pdftest.Body(780, 430), pdftest.Text{X: 56, Y: 110, Size: 11, Text: "Ort, Datum: ____________________"},
		pdftest.Text{X: 270, Y: 30, Size: 9, Text: "Seite 2 von 2"})
	doc := pdftest.TextPDF(pdftest.Body(800, 60), last)
	present := func(query string) response {
		return e.staff(adv, "POST", base+"?name=Vertrag.pdf&signers=customer,advisor"+query, string(doc), "Content-Type", "application/pdf")
	}

	for _, c := range []struct{ name, query, want string }{
		{"outside the page", "&box.customer=2,450,100,230,80", "not inside page 2"},
		{"below the page", "&box.customer=1,100,-40,230,80", "not inside page 1"},
		{"no such page", "&box.customer=3,100,100,230,80", "page 3 does not exist"},
		{"too small", "&box.customer=1,100,100,10,5", "wide"},
		{"no such signer", "&box.notary=1,100,100,230,80", "no such signer"},
		{"overlapping boxes", "&box.customer=1,100,300,230,80&box.advisor=1,200,320,230,80", "overlaps"},
		{"not numbers", "&box.customer=1,a,b,c,d", "box.customer must be"},
	} {
		r := present(c.query)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s; want 400 naming %q", c.name, r.StatusCode, r.body, c.want)
		} else if code := r.errCode(t); code != "bad_field_box" && code != "bad_request" {
			t.Errorf("%s: code %s", c.name, code)
		}
	}

	sign := func(d documentJSON) []byte {
		t.Helper()
		if r := e.do(cu, "POST", base+"/"+d.ID+"/sign/customer", string(capture), origin...); r.StatusCode != http.StatusOK {
			t.Fatalf("customer signs: %d %s", r.StatusCode, r.body)
		}
		r := e.staff(adv, "POST", base+"/"+d.ID+"/sign/advisor", string(capture), "Content-Type", "application/json")
		if r.StatusCode != http.StatusOK {
			t.Fatalf("advisor signs: %d %s", r.StatusCode, r.body)
		}
		return e.do(adv, "GET", d.PDFURL, nil).body
	}

	// The advisor's boxes: the widgets are exactly there.
	r := present("&box.customer=1,300,500,200,60&box.advisor=2,320,200,230,80")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("present with boxes: %d %s", r.StatusCode, r.body)
	}
	ws, err := pdftest.Widgets(sign(docOf(t, r)))
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprint([]pdftest.Widget{{Field: "customer", Page: 1, Rect: [4]float64{300, 500, 500, 560}}, {Field: "advisor", Page: 2, Rect: [4]float64{320, 200, 550, 280}}})
	if got := fmt.Sprint(ws); got != want {
		t.Fatalf("widgets %s; want %s", got, want)
	}

	// No boxes: free space on the last page, no word touched.
	r = present("")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("present: %d %s", r.StatusCode, r.body)
	}
	signed := sign(docOf(t, r))
	if ws, err = pdftest.Widgets(signed); err != nil || len(ws) != 2 {
		t.Fatalf("widgets %v, %v", ws, err)
	}
	words := wordBoxes(t, onlyPage(t, doc, 2))
	if len(words) < 10 {
		t.Fatalf("pdftotext found %d words", len(words))
	}
	def := signature.DefaultSignatureRect(signature.PageSize{URX: pdftest.A4W, URY: pdftest.A4H}, 0)
	defBox := [4]float64{def.X, def.Y, def.X + def.W, def.Y + def.H}
	touched := 0
	for _, w := range words {
		if rectsOverlap(defBox, w) {
			touched++
		}
		for _, wd := range ws {
			if wd.Page != 2 || rectsOverlap(wd.Rect, w) {
				t.Errorf("widget %+v touches word %v (or is not on the last page)", wd, w)
			}
		}
	}
	if touched == 0 {
		t.Fatal("the sample has no text where the template's default box is: the test shows nothing")
	}
	if rectsOverlap(ws[0].Rect, ws[1].Rect) {
		t.Fatalf("the two widgets overlap: %v", ws)
	}
	if v := e.staff(adv, "GET", "/api/v1/consultations/"+id+"/documents", nil); v.StatusCode != http.StatusOK || !bytes.Contains(v.body, []byte(`"state":"signed"`)) {
		t.Fatalf("list: %d %s", v.StatusCode, v.body)
	}
}

// onlyPage writes page n of pdf alone (qpdf), for pdftotext.
func onlyPage(t *testing.T, pdf []byte, n int) []byte {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("qpdf", in, "--pages", in, strconv.Itoa(n), "--", out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v %s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
