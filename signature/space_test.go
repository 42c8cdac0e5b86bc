package signature

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/signature/pdftest"
)

// glyphBoxes over-estimates where pdftest's lines are (0.6 em per
// character is more than Helvetica's widest average).
func glyphBoxes(lines []pdftest.Text) []PageSize {
	var out []PageSize
	for _, l := range lines {
		out = append(out, PageSize{LLX: l.X, LLY: l.Y - 0.25*l.Size, URX: l.X + 0.6*l.Size*float64(len(l.Text)), URY: l.Y + l.Size})
	}
	return out
}

func TestPlaceFieldsAvoidsText(t *testing.T) {
	// Body text, a line "Ort, Datum" near the bottom where the default box
	// would be, and a footer.
	lines := append(pdftest.Body(780, 430), pdftest.Text{X: 56, Y: 110, Size: 11, Text: "Ort, Datum: ____________________"},
		pdftest.Text{X: 270, Y: 30, Size: 9, Text: "Seite 1 von 1"})
	info, err := LoadPDF(pdftest.TextPDF(lines), 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Ink) != 1 || info.Ink[0].Unknown {
		t.Fatalf("ink %+v", info.Ink)
	}
	page := info.PageSizes[0]
	def := DefaultSignatureRect(page, 0).pageSize()
	touches := func(b PageSize) bool {
		for _, g := range glyphBoxes(lines) {
			if overlaps(b, g) {
				return true
			}
		}
		return false
	}
	if !touches(def) {
		t.Fatal("the sample should have text where the default box is")
	}
	for n := 1; n <= 3; n++ {
		boxes, err := PlaceFields(info, n, nil)
		if err != nil {
			t.Fatalf("%d fields: %v", n, err)
		}
		for i, b := range boxes {
			if err := CheckFieldBox(info, "f", b); err != nil {
				t.Errorf("%d fields, box %d: %v", n, i, err)
			}
			if touches(b.Rect.pageSize()) {
				t.Errorf("%d fields, box %d %+v touches text", n, i, b)
			}
			for j := range i {
				if BoxesOverlap(b, boxes[j]) {
					t.Errorf("%d fields: boxes %d and %d overlap", n, i, j)
				}
			}
		}
		// Right under the body text (which ends at 430).
		if top := boxes[0].Rect.Y + boxes[0].Rect.H; top < 380 || top > 430 {
			t.Errorf("%d fields: first box top at %.0f, want just under the body text", n, top)
		}
	}

	// A box taken by the advisor is avoided too.
	first, _ := PlaceFields(info, 1, nil)
	second, err := PlaceFields(info, 1, first)
	if err != nil || BoxesOverlap(first[0], second[0]) {
		t.Fatalf("beside a taken box: %+v %+v, %v", first, second, err)
	}
}

func TestPlaceFieldsFullPages(t *testing.T) {
	// The last page is full: the fields go on the page before; when every
	// page read is full, the advisor has to place them.
	full := pdftest.Body(800, 30)
	info, err := LoadPDF(pdftest.TextPDF(pdftest.Body(800, 500), full), 0)
	if err != nil {
		t.Fatal(err)
	}
	boxes, err := PlaceFields(info, 2, nil)
	if err != nil || boxes[0].Page != 1 || boxes[1].Page != 1 {
		t.Fatalf("%+v, %v; want page 1", boxes, err)
	}
	info, err = LoadPDF(pdftest.TextPDF(full), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := PlaceFields(info, 1, nil); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("full page: %v, want ErrNoRoom", err)
	}
}

func TestCheckFieldBox(t *testing.T) {
	info, err := LoadPDF(pdftest.TextPDF(nil, nil), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		box  FieldBox
		ok   bool
	}{
		{"inside", FieldBox{Page: 2, Rect: Rect{X: 300, Y: 100, W: 230, H: 80}}, true},
		{"page 0", FieldBox{Page: 0, Rect: Rect{X: 300, Y: 100, W: 230, H: 80}}, false},
		{"page 3 of 2", FieldBox{Page: 3, Rect: Rect{X: 300, Y: 100, W: 230, H: 80}}, false},
		{"right edge", FieldBox{Page: 1, Rect: Rect{X: 400, Y: 100, W: 230, H: 80}}, false},
		{"below the page", FieldBox{Page: 1, Rect: Rect{X: 100, Y: -10, W: 230, H: 80}}, false},
		{"above the page", FieldBox{Page: 1, Rect: Rect{X: 100, Y: 800, W: 230, H: 80}}, false},
		{"tiny", FieldBox{Page: 1, Rect: Rect{X: 100, Y: 100, W: 20, H: 10}}, false},
		{"huge", FieldBox{Page: 1, Rect: Rect{X: 0, Y: 0, W: 595, H: 842}}, false},
	} {
		err := CheckFieldBox(info, "customer", c.box)
		if (err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, err)
		}
		if err != nil {
			if _, ok := errors.AsType[*FieldBoxError](err); !ok {
				t.Errorf("%s: %T", c.name, err)
			}
		}
	}
}

// A page that draws a form 100,000 times, and one that draws itself
// through forms, are read within bounds (a hang would time out).
func TestPageInkBounded(t *testing.T) {
	form := "<< /Type /XObject /Subtype /Form /BBox [0 0 100 20] /Resources << /XObject << /F 6 0 R >> >> /Length %d >>\nstream\n%s\nendstream"
	for name, c := range map[string]struct{ page, form string }{
		"many draws": {strings.Repeat("q 1 0 0 1 50 300 cm /F Do Q\n", 100000), "BT /F1 10 Tf 0 0 Td (x) Tj ET"},
		"recursion":  {"q 1 0 0 1 50 300 cm /F Do Q\n", "/F Do /F Do"},
	} {
		t.Run(name, func(t *testing.T) {
			doc := formPDF(fmt.Sprintf(form, len(c.form), c.form), c.page)
			start := time.Now()
			info, err := LoadPDF(doc, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s: %v, ink %+v", name, time.Since(start), info.Ink)
			if len(info.Ink) != 1 {
				t.Fatalf("ink %+v", info.Ink)
			}
			if b := info.Ink[0].Bands; !info.Ink[0].Unknown && (len(b) == 0 || b[0][0] > 300 || b[len(b)-1][1] < 300) {
				t.Fatalf("the form at y 300 is not in %v", b)
			}
		})
	}
}

// formPDF is one A4 page whose content is page and whose resources name
// form (object 6) /F.
func formPDF(form, page string) []byte {
	var b bytes.Buffer
	var offs []int
	obj := func(s string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), s)
	}
	b.WriteString("%PDF-1.7\n")
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj("<< /Type /Pages /Count 1 /Kids [3 0 R] >>")
	obj("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> /XObject << /F 6 0 R >> >> /Contents 4 0 R >>")
	obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(page), page))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
	obj(form)
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, x)
	return b.Bytes()
}
