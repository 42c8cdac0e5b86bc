// Package pdftest writes small, valid PDFs with text at chosen places, for
// tests of where signature fields go (signature.PlaceFields).
package pdftest

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/digitorus/pdf"
)

// Text is one line of Helvetica text with its baseline at (X, Y) points.
type Text struct {
	X, Y, Size float64
	Text       string // ASCII
}

// A4 is the page size the PDFs use (points).
const A4W, A4H = 595.0, 842.0

// TextPDF returns an A4 PDF with one page per element of pages, each
// showing its lines.
func TextPDF(pages ...[]Text) []byte {
	var b bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	n := len(pages)
	// 1 catalog, 2 pages, 3 font, then page i at 4+2i and its content at 5+2i.
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	kids := make([]string, n)
	for i := range pages {
		kids[i] = fmt.Sprintf("%d 0 R", 4+2*i)
	}
	obj(fmt.Sprintf("<< /Type /Pages /Count %d /Kids [%s] >>", n, strings.Join(kids, " ")))
	obj("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	for i, lines := range pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %g %g] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", A4W, A4H, 5+2*i))
		var c strings.Builder
		for _, l := range lines {
			esc := strings.NewReplacer(`\`, `\\`, `(`, `\(`, `)`, `\)`).Replace(l.Text)
			fmt.Fprintf(&c, "BT /F1 %g Tf %g %g Td (%s) Tj ET\n", l.Size, l.X, l.Y, esc)
		}
		obj(fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", c.Len()+0, c.String()))
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	return b.Bytes()
}

// Body returns lines of filler text from top down to (and including) the
// baseline bottom, every 14 points, 11 pt Helvetica at x = 56.
func Body(top, bottom float64) []Text {
	var out []Text
	for y := top; y >= bottom; y -= 14 {
		out = append(out, Text{X: 56, Y: y, Size: 11, Text: "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod."})
	}
	return out
}

// Widget is a signature field's widget as read back from a PDF.
type Widget struct {
	Field string
	Page  int
	Rect  [4]float64 // llx, lly, urx, ury
}

// Widgets reads the signature widgets of every page of pdf (its newest
// revision).
func Widgets(data []byte) ([]Widget, error) {
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, err
	}
	var out []Widget
	for p := 1; p <= r.NumPage(); p++ {
		annots := r.Page(p).V.Key("Annots")
		for i := 0; i < annots.Len(); i++ {
			a := annots.Index(i)
			if a.Key("FT").Name() != "Sig" && a.Key("Parent").Key("FT").Name() != "Sig" {
				continue
			}
			w := Widget{Field: a.Key("T").Text(), Page: p}
			for j := range w.Rect {
				w.Rect[j] = a.Key("Rect").Index(j).Float64()
			}
			w.Field = strings.TrimSpace(w.Field)
			out = append(out, w)
		}
	}
	return out, nil
}
