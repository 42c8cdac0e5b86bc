package signature

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
)

// A4 in PDF points.
var A4 = PageSize{URX: 595.28, URY: 841.89}

// ContractTemplate is the input of the built-in contract generator.
type ContractTemplate struct {
	Title   string
	Parties []Party
	// Clauses are numbered § 1, § 2, ... in order. If Pages is larger than
	// what they fill, generic clauses are appended until the document has
	// exactly Pages pages.
	Clauses []Clause
	Pages   int
	// Signatories label the signature boxes on the last page (e.g.
	// "Kunde / Customer"); their boxes are where Sign places a signature with
	// the same Index when SignRequest.Rect is zero. Default: two boxes.
	Signatories []string
	Place       string
	Date        time.Time // written into the document and its /CreationDate; zero: omitted
}

// Party is one contracting party.
type Party struct {
	Role    string // e.g. "Auftraggeber"
	Name    string
	Address string
}

// Clause is a numbered section of the contract.
type Clause struct {
	Heading string
	Text    string
}

// ErrTemplate is returned for a template that can't be laid out.
var ErrTemplate = errors.New("signature: invalid contract template")

const (
	tplMargin      = 56.0
	tplFooterY     = 28.0
	tplBodySize    = 10.5
	tplLeading     = 14.0
	tplMaxPages    = 500
	sigBoxW        = 230.0
	sigBoxH        = 80.0
	sigBoxGapX     = 23.0
	sigBoxGapY     = 34.0
	sigBoxBottom   = 70.0
	sigHeadingSkip = 30.0
)

// DefaultSignatureRect is where signature number index (0, 1, ...) goes on a
// page when no rectangle is given: boxes of 230×80 pt in two columns from
// the bottom-left margin upwards. The contract template draws its signature
// boxes at the same places.
func DefaultSignatureRect(page PageSize, index int) Rect {
	cols := int((page.Width() - 2*tplMargin + sigBoxGapX) / (sigBoxW + sigBoxGapX))
	if cols < 1 {
		cols = 1
	}
	col, row := index%cols, index/cols
	return Rect{
		X: page.LLX + tplMargin + float64(col)*(sigBoxW+sigBoxGapX),
		Y: page.LLY + sigBoxBottom + float64(row)*(sigBoxH+sigBoxGapY),
		W: sigBoxW,
		H: sigBoxH,
	}
}

// Rect is a rectangle in PDF points: lower-left corner and size.
type Rect struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// IsZero reports whether r is the zero rectangle (meaning: default placement).
func (r Rect) IsZero() bool { return r == Rect{} }

type tplLine struct {
	bold bool
	size float64
	text string
	skip float64 // vertical space before the line
}

// ContractPDF lays out t as an A4 PDF using the standard Helvetica fonts
// with WinAnsiEncoding (German umlauts and ß work; characters outside
// Windows-1252 become '?').
func ContractPDF(t ContractTemplate) ([]byte, error) {
	if strings.TrimSpace(t.Title) == "" {
		return nil, fmt.Errorf("%w: no title", ErrTemplate)
	}
	if t.Pages < 0 || t.Pages > tplMaxPages {
		return nil, fmt.Errorf("%w: pages %d out of range 0..%d", ErrTemplate, t.Pages, tplMaxPages)
	}
	if len(t.Signatories) == 0 {
		t.Signatories = []string{"Kunde / Customer", "Berater / Advisor"}
	}
	if len(t.Signatories) > 8 {
		return nil, fmt.Errorf("%w: at most 8 signatories", ErrTemplate)
	}
	clauses := append([]Clause(nil), t.Clauses...)
	pages := layoutContract(t, clauses)
	for n := 0; t.Pages > 0 && len(pages) < t.Pages; n++ {
		clauses = append(clauses, genericClause(len(clauses)+1))
		next := layoutContract(t, clauses)
		if len(next) > t.Pages {
			break
		}
		pages = next
	}
	if t.Pages > 0 && len(pages) != t.Pages {
		return nil, fmt.Errorf("%w: given clauses need %d pages, asked for %d", ErrTemplate, len(pages), t.Pages)
	}
	return writeContract(t, pages)
}

func genericClause(n int) Clause {
	return Clause{
		Heading: "Allgemeine Bestimmung " + strconv.Itoa(n),
		Text: "Die Parteien verpflichten sich, die in diesem Vertrag übernommenen Pflichten " +
			"gewissenhaft zu erfüllen. Änderungen und Ergänzungen bedürfen der Textform; " +
			"mündliche Nebenabreden bestehen nicht. Sollte eine Bestimmung unwirksam sein, " +
			"bleibt die Wirksamkeit der übrigen Bestimmungen unberührt. Für Streitigkeiten " +
			"gilt das Recht der Bundesrepublik Deutschland; Gerichtsstand ist, soweit " +
			"zulässig, der Sitz des Auftragnehmers. The parties agree that this clause is " +
			"binding in the same way as every other clause of this contract.",
	}
}

// layoutContract returns the lines of each page; the last page ends with
// room for the signature area.
func layoutContract(t ContractTemplate, clauses []Clause) [][]tplLine {
	var lines []tplLine
	lines = append(lines, tplLine{bold: true, size: 18, text: t.Title, skip: 0})
	for i, p := range t.Parties {
		skip := 4.0
		if i == 0 {
			skip = 16
		}
		lines = append(lines, tplLine{bold: true, size: tplBodySize, text: p.Role + ": " + p.Name, skip: skip})
		if p.Address != "" {
			lines = append(lines, tplLine{size: tplBodySize, text: p.Address})
		}
	}
	for i, c := range clauses {
		lines = append(lines, tplLine{bold: true, size: 12, text: "§ " + strconv.Itoa(i+1) + " " + c.Heading, skip: 14})
		for _, para := range strings.Split(c.Text, "\n") {
			for _, l := range wrapText(para, tplBodySize, A4.Width()-2*tplMargin) {
				lines = append(lines, tplLine{size: tplBodySize, text: l})
			}
		}
	}
	top := A4.URY - tplMargin
	bottom := tplMargin
	rows := (len(t.Signatories) + 1) / 2
	sigTop := sigBoxBottom + float64(rows)*(sigBoxH+sigBoxGapY) + sigHeadingSkip
	var pages [][]tplLine
	var cur []tplLine
	y := top
	for _, l := range lines {
		h := l.skip + max(tplLeading, l.size*1.3)
		if y-h < bottom && len(cur) > 0 {
			pages = append(pages, cur)
			cur, y = nil, top
			l.skip = 0
			h = max(tplLeading, l.size*1.3)
		}
		y -= h
		cur = append(cur, l)
	}
	if y < sigTop+20 {
		pages = append(pages, cur)
		cur = nil
	}
	return append(pages, cur)
}

// wrapText breaks s into lines no wider than width using Helvetica metrics.
func wrapText(s string, size, width float64) []string {
	words := strings.Fields(s)
	var out []string
	var line string
	for _, w := range words {
		cand := w
		if line != "" {
			cand = line + " " + w
		}
		if line != "" && helveticaWidth(cand, false)*size/1000 > width {
			out = append(out, line)
			cand = w
		}
		line = cand
	}
	if line != "" {
		out = append(out, line)
	}
	return out
}

// helveticaWidth is the width of s in 1/1000 em, from Helvetica's AFM for
// ASCII and a conservative 600 for everything else.
func helveticaWidth(s string, bold bool) float64 {
	var w float64
	for _, r := range s {
		switch {
		case r == ' ':
			w += 278
		case r >= 'a' && r <= 'z':
			w += float64(helvLower[r-'a'])
		case r >= 'A' && r <= 'Z':
			w += float64(helvUpper[r-'A'])
		case r >= '0' && r <= '9':
			w += 556
		case r == '.' || r == ',' || r == ':' || r == ';' || r == 'i' || r == 'l':
			w += 278
		case r == 'ä' || r == 'ö' || r == 'ü':
			w += 556
		case r == 'Ä' || r == 'Ö' || r == 'Ü':
			w += 778
		default:
			w += 600
		}
	}
	if bold {
		w *= 1.06
	}
	return w
}

var (
	helvLower = [26]int{556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500}
	helvUpper = [26]int{667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611}
)

var winAnsi = encoding.ReplaceUnsupported(charmap.Windows1252.NewEncoder())

// pdfWinAnsiString encodes s as a PDF literal string in WinAnsiEncoding,
// escaping everything outside printable ASCII so the file stays 7-bit.
func pdfWinAnsiString(s string) string {
	enc, err := winAnsi.String(s)
	if err != nil {
		enc = strings.Map(func(r rune) rune {
			if r < 0x80 {
				return r
			}
			return '?'
		}, s)
	}
	var b strings.Builder
	b.WriteByte('(')
	for i := 0; i < len(enc); i++ {
		c := enc[i]
		switch {
		case c == '(' || c == ')' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c > 0x7e:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte(')')
	return b.String()
}

func writeContract(t ContractTemplate, pages [][]tplLine) ([]byte, error) {
	w := newPDFWriter()
	catalog := w.reserve()
	pagesObj := w.reserve()
	fontReg := w.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	fontBold := w.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>")
	var kids []string
	for i, lines := range pages {
		var c bytes.Buffer
		y := A4.URY - tplMargin
		for _, l := range lines {
			y -= l.skip + max(tplLeading, l.size*1.3)
			font := "F1"
			if l.bold {
				font = "F2"
			}
			fmt.Fprintf(&c, "BT /%s %.1f Tf %.2f %.2f Td %s Tj ET\n", font, l.size, tplMargin, y, pdfWinAnsiString(l.text))
		}
		footer := fmt.Sprintf("Seite %d von %d", i+1, len(pages))
		fw := helveticaWidth(footer, false) * 9 / 1000
		fmt.Fprintf(&c, "BT /F1 9 Tf %.2f %.2f Td %s Tj ET\n", (A4.Width()-fw)/2, tplFooterY, pdfWinAnsiString(footer))
		if i == len(pages)-1 {
			writeSignatureArea(&c, t)
		}
		content := w.addStream("", c.Bytes())
		page := w.add(fmt.Sprintf("<< /Type /Page /Parent %d 0 R /MediaBox [0 0 %.2f %.2f] /Resources << /Font << /F1 %d 0 R /F2 %d 0 R >> >> /Contents %d 0 R >>",
			pagesObj, A4.URX, A4.URY, fontReg, fontBold, content))
		kids = append(kids, fmt.Sprintf("%d 0 R", page))
	}
	w.set(pagesObj, fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(kids)))
	w.set(catalog, fmt.Sprintf("<< /Type /Catalog /Pages %d 0 R >>", pagesObj))
	info := "<< /Producer (Parley) /Title " + pdfWinAnsiString(t.Title)
	if !t.Date.IsZero() {
		info += " /CreationDate " + pdfDate(t.Date)
	}
	infoObj := w.add(info + " >>")
	return w.finish(catalog, infoObj)
}

func writeSignatureArea(c *bytes.Buffer, t ContractTemplate) {
	rows := (len(t.Signatories) + 1) / 2
	headY := sigBoxBottom + float64(rows)*(sigBoxH+sigBoxGapY) + 6
	head := "Unterschriften / Signatures"
	if t.Place != "" || !t.Date.IsZero() {
		head += " — " + strings.TrimSpace(t.Place+" "+formatDay(t.Date))
	}
	fmt.Fprintf(c, "BT /F2 12 Tf %.2f %.2f Td %s Tj ET\n", tplMargin, headY, pdfWinAnsiString(head))
	c.WriteString("0.6 G 0.5 w\n")
	for i, label := range t.Signatories {
		r := DefaultSignatureRect(A4, i)
		fmt.Fprintf(c, "%.2f %.2f %.2f %.2f re S\n", r.X, r.Y, r.W, r.H)
		fmt.Fprintf(c, "BT /F1 9 Tf %.2f %.2f Td %s Tj ET\n", r.X, r.Y-12, pdfWinAnsiString(label))
	}
}

func formatDay(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format("02.01.2006")
}

// pdfDate formats t as a PDF date string (D:YYYYMMDDHHmmSSZ, in UTC).
func pdfDate(t time.Time) string {
	return "(D:" + t.UTC().Format("20060102150405") + "Z)"
}

// pdfWriter writes a complete PDF with a classic xref table.
type pdfWriter struct {
	objs [][]byte // index = object number - 1
}

func newPDFWriter() *pdfWriter { return &pdfWriter{} }

func (w *pdfWriter) reserve() int {
	w.objs = append(w.objs, nil)
	return len(w.objs)
}

func (w *pdfWriter) set(n int, body string) { w.objs[n-1] = []byte(body) }

func (w *pdfWriter) add(body string) int {
	n := w.reserve()
	w.set(n, body)
	return n
}

func (w *pdfWriter) addStream(dict string, data []byte) int {
	n := w.reserve()
	var b bytes.Buffer
	fmt.Fprintf(&b, "<< %s/Length %d >>\nstream\n", dict, len(data))
	b.Write(data)
	b.WriteString("\nendstream")
	w.objs[n-1] = b.Bytes()
	return n
}

func (w *pdfWriter) finish(root, info int) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(w.objs))
	for i, o := range w.objs {
		if o == nil {
			return nil, fmt.Errorf("%w: object %d never written", ErrTemplate, i+1)
		}
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n", i+1)
		b.Write(o)
		b.WriteString("\nendobj\n")
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(w.objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(w.objs)+1, root, info, xref)
	return b.Bytes(), nil
}
