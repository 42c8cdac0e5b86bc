package signature

// Where a signature field may go on an uploaded PDF: intake reads where
// the last pages have content (PageInk), PlaceFields finds free room for
// the signature boxes there, and CheckFieldBox validates a box an advisor
// chose.
//
// Content is found by reading the page's content streams (text, images,
// form XObjects, recursively) and its annotations; only vertical extents
// are kept, so a free band is free across the whole width of the page.
// Text is over-estimated: each glyph is taken as one em wide and from
// 0.3 em below the baseline to 1 em above it. Vector paths (rules,
// frames, backgrounds) do not count as content.

import (
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/digitorus/pdf"
)

// FieldBox is a signature field's place: a 1-based page and a rectangle
// in PDF points (lower-left corner, width, height).
type FieldBox struct {
	Page int  `json:"page"`
	Rect Rect `json:"rect"`
}

// PageInk is where one page has content, as merged vertical extents
// [bottom, top] in PDF points, lowest first.
type PageInk struct {
	Page  int          `json:"page"`
	Bands [][2]float64 `json:"bands"`
	// Unknown: the content could not be read (an inline image, a content
	// stream the reader can't tokenise, too many operators); the page
	// counts as full.
	Unknown bool `json:"unknown,omitempty"`
}

// Limits of the content reading.
const (
	inkPages       = 3        // the last pages read at intake
	maxInkOps      = 1 << 19  // operators over a page, forms included (about 1 s)
	maxInkForms    = 256      // form XObjects read per page; beyond, their BBox
	maxInkFormNest = 8        // form XObjects inside form XObjects
	maxInkBytes    = 64 << 20 // content inflated for one page, forms included
	inkClearance   = 8.0      // points kept free around content
	placeMargin    = 36.0     // points kept free at the page edges
)

// Sizes an advisor's box may have (points).
const (
	MinFieldW, MaxFieldW = 60.0, 500.0
	MinFieldH, MaxFieldH = 30.0, 250.0
)

// ErrNoRoom: the last pages have no free band large enough for the
// signature boxes; the advisor has to place them.
var ErrNoRoom = errors.New("signature: no free space for the signature fields on the last pages; place them yourself")

// FieldBoxError is an advisor's box that can't be used.
type FieldBoxError struct {
	Field  string
	Reason string
}

func (e *FieldBoxError) Error() string {
	return fmt.Sprintf("signature field %q: %s", e.Field, e.Reason)
}

// CheckFieldBox validates the box chosen for field: the page exists, the
// rectangle lies inside its MediaBox, and its size is sane.
func CheckFieldBox(info *PDFInfo, field string, b FieldBox) error {
	bad := func(format string, a ...any) error {
		return &FieldBoxError{Field: field, Reason: fmt.Sprintf(format, a...)}
	}
	if b.Page < 1 || b.Page > info.Pages {
		return bad("page %d does not exist (the document has %d)", b.Page, info.Pages)
	}
	r := b.Rect
	for _, v := range []float64{r.X, r.Y, r.W, r.H} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("the box has a coordinate that is not a number")
		}
	}
	if r.W < MinFieldW || r.W > MaxFieldW || r.H < MinFieldH || r.H > MaxFieldH {
		return bad("the box is %.0f × %.0f pt; it must be %.0f to %.0f pt wide and %.0f to %.0f pt high",
			r.W, r.H, MinFieldW, MaxFieldW, MinFieldH, MaxFieldH)
	}
	p := info.PageSizes[b.Page-1]
	if r.X < p.LLX || r.Y < p.LLY || r.X+r.W > p.URX || r.Y+r.H > p.URY {
		return bad("the box (%.0f, %.0f, %.0f × %.0f pt) is not inside page %d (%.0f, %.0f to %.0f, %.0f)",
			r.X, r.Y, r.W, r.H, b.Page, p.LLX, p.LLY, p.URX, p.URY)
	}
	return nil
}

// BoxesOverlap reports whether two boxes share area on the same page.
func BoxesOverlap(a, b FieldBox) bool {
	return a.Page == b.Page && overlaps(a.Rect.pageSize(), b.Rect.pageSize())
}

func (r Rect) pageSize() PageSize {
	return PageSize{LLX: r.X, LLY: r.Y, URX: r.X + r.W, URY: r.Y + r.H}
}

// PlaceFields finds room for n signature boxes of the default size
// (DefaultSignatureRect's) that touch no content and none of the taken
// boxes: side by side in rows, in the lowest free full-width band of the
// last page that holds them all, right under the content above the band;
// failing that, of the page before (as far as intake read, PDFInfo.Ink).
// ErrNoRoom when none has room.
func PlaceFields(info *PDFInfo, n int, taken []FieldBox) ([]FieldBox, error) {
	if n <= 0 {
		return nil, nil
	}
	ink := append([]PageInk(nil), info.Ink...)
	sort.Slice(ink, func(i, j int) bool { return ink[i].Page > ink[j].Page })
	for _, pi := range ink {
		if pi.Unknown || pi.Page < 1 || pi.Page > info.Pages {
			continue
		}
		ps := info.PageSizes[pi.Page-1]
		cols := int((ps.Width() - 2*placeMargin + sigBoxGapX) / (sigBoxW + sigBoxGapX))
		if cols < 1 {
			continue
		}
		cols = min(cols, n)
		rows := (n + cols - 1) / cols
		need := float64(rows)*sigBoxH + float64(rows-1)*sigBoxGapY
		bands := append([][2]float64(nil), pi.Bands...)
		for _, t := range taken {
			if t.Page == pi.Page {
				bands = append(bands, [2]float64{t.Rect.Y, t.Rect.Y + t.Rect.H})
			}
		}
		for _, gap := range freeGaps(mergeBands(bands), ps.LLY+placeMargin, ps.URY-placeMargin, inkClearance) {
			if gap[1]-gap[0] < need {
				continue
			}
			out := make([]FieldBox, n)
			for i := range out {
				col, row := i%cols, i/cols
				out[i] = FieldBox{Page: pi.Page, Rect: Rect{
					X: ps.LLX + placeMargin + float64(col)*(sigBoxW+sigBoxGapX),
					Y: gap[1] - sigBoxH - float64(row)*(sigBoxH+sigBoxGapY),
					W: sigBoxW, H: sigBoxH,
				}}
			}
			return out, nil
		}
	}
	return nil, ErrNoRoom
}

// mergeBands sorts and merges overlapping intervals.
func mergeBands(bands [][2]float64) [][2]float64 {
	sort.Slice(bands, func(i, j int) bool { return bands[i][0] < bands[j][0] })
	var out [][2]float64
	for _, b := range bands {
		if n := len(out); n > 0 && b[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], b[1])
			continue
		}
		out = append(out, b)
	}
	return out
}

// freeGaps returns the free intervals of [lo, hi] between merged bands,
// each band grown by clearance, lowest first.
func freeGaps(bands [][2]float64, lo, hi, clearance float64) [][2]float64 {
	var out [][2]float64
	at := lo
	for _, b := range bands {
		if b[0]-clearance > at {
			out = append(out, [2]float64{at, min(b[0]-clearance, hi)})
		}
		at = max(at, b[1]+clearance)
		if at >= hi {
			return out
		}
	}
	if at < hi {
		out = append(out, [2]float64{at, hi})
	}
	return out
}

// pageInk reads where page (a page dictionary) has content.
func pageInk(num int, page pdf.Value) PageInk {
	pi := PageInk{Page: num}
	ir := &inkReader{}
	func() {
		defer func() {
			if recover() != nil {
				pi.Unknown = true
			}
		}()
		res := pdf.Page{V: page}.Resources()
		ir.run(page.Key("Contents"), res, identity, 0)
		annots := page.Key("Annots")
		for i := 0; i < annots.Len() && i < 1000; i++ {
			if box, ok := rectOf(annots.Index(i).Key("Rect")); ok {
				ir.bands = append(ir.bands, [2]float64{box.LLY, box.URY})
			}
		}
	}()
	if ir.unknown {
		pi.Unknown = true
	}
	if !pi.Unknown {
		pi.Bands = mergeBands(ir.bands)
	}
	return pi
}

// matrix is a PDF transformation [a b c d e f].
type matrix [6]float64

var identity = matrix{1, 0, 0, 1, 0, 0}

// mul is m × n (m applied first).
func (m matrix) mul(n matrix) matrix {
	return matrix{
		m[0]*n[0] + m[1]*n[2], m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2], m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4], m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

func (m matrix) apply(x, y float64) (float64, float64) {
	return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
}

// inkReader collects vertical extents of text and XObjects.
type inkReader struct {
	bands   [][2]float64
	ops     int
	read    int64 // content bytes inflated so far
	forms   int   // form XObjects read so far
	unknown bool
}

var errInkTooMany = errors.New("too many content operators")

// box adds the vertical extent of the rectangle (x0,y0)-(x1,y1) under m.
func (ir *inkReader) box(m matrix, x0, y0, x1, y1 float64) {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range [][2]float64{{x0, y0}, {x1, y0}, {x0, y1}, {x1, y1}} {
		_, y := m.apply(p[0], p[1])
		lo, hi = min(lo, y), max(hi, y)
	}
	if !math.IsNaN(lo) && !math.IsNaN(hi) && !math.IsInf(lo, 0) && !math.IsInf(hi, 0) {
		ir.bands = append(ir.bands, [2]float64{lo, hi})
	}
}

type inkState struct {
	ctm                      matrix
	tm, tlm                  matrix
	size, leading, rise, scl float64
}

// run reads the content stream(s) contents with resources res under ctm.
func (ir *inkReader) run(contents, res pdf.Value, ctm matrix, depth int) {
	var streams []pdf.Value
	switch contents.Kind() {
	case pdf.Stream:
		streams = []pdf.Value{contents}
	case pdf.Array:
		for i := 0; i < contents.Len() && i < 1000; i++ {
			streams = append(streams, contents.Index(i))
		}
	}
	g := inkState{ctm: ctm, tm: identity, tlm: identity, scl: 1}
	var stack []inkState
	num := func(v pdf.Value) float64 { return v.Float64() }
	show := func(n int) {
		w := float64(n) * g.size * g.scl
		ir.box(g.tm.mul(g.ctm), 0, g.rise-0.3*g.size, w, g.rise+g.size)
		g.tm = matrix{1, 0, 0, 1, w, 0}.mul(g.tm)
	}
	nextLine := func() {
		g.tlm = matrix{1, 0, 0, 1, 0, -g.leading}.mul(g.tlm)
		g.tm = g.tlm
	}
	for _, s := range streams {
		if s.Kind() != pdf.Stream {
			continue
		}
		// Measured first (the interpreter can't be stopped by size): a
		// form drawn many times is inflated each time.
		n, _ := io.Copy(io.Discard, io.LimitReader(s.Reader(), maxInkBytes-ir.read+1))
		if ir.read += n; ir.read > maxInkBytes {
			panic(errInkTooMany)
		}
		pdf.Interpret(s, func(stk *pdf.Stack, op string) {
			if ir.ops++; ir.ops > maxInkOps {
				panic(errInkTooMany)
			}
			args := make([]pdf.Value, stk.Len())
			for i := len(args) - 1; i >= 0; i-- {
				args[i] = stk.Pop()
			}
			switch op {
			case "q":
				if len(stack) < 64 {
					stack = append(stack, g)
				}
			case "Q":
				if n := len(stack); n > 0 {
					g, stack = stack[n-1], stack[:n-1]
				}
			case "cm":
				if len(args) == 6 {
					var m matrix
					for i := range m {
						m[i] = num(args[i])
					}
					g.ctm = m.mul(g.ctm)
				}
			case "BT":
				g.tm, g.tlm = identity, identity
			case "Tf":
				if len(args) == 2 {
					g.size = math.Abs(num(args[1]))
				}
			case "TL":
				if len(args) == 1 {
					g.leading = num(args[0])
				}
			case "Ts":
				if len(args) == 1 {
					g.rise = num(args[0])
				}
			case "Tz":
				if len(args) == 1 {
					g.scl = math.Abs(num(args[0])) / 100
				}
			case "Td", "TD":
				if len(args) == 2 {
					if op == "TD" {
						g.leading = -num(args[1])
					}
					g.tlm = matrix{1, 0, 0, 1, num(args[0]), num(args[1])}.mul(g.tlm)
					g.tm = g.tlm
				}
			case "Tm":
				if len(args) == 6 {
					for i := range g.tlm {
						g.tlm[i] = num(args[i])
					}
					g.tm = g.tlm
				}
			case "T*":
				nextLine()
			case "Tj", "'", "\"":
				if op != "Tj" {
					nextLine()
				}
				if len(args) > 0 {
					show(len(args[len(args)-1].RawString()))
				}
			case "TJ":
				if len(args) == 1 {
					a, n := args[0], 0
					for i := 0; i < a.Len(); i++ {
						if e := a.Index(i); e.Kind() == pdf.String {
							n += len(e.RawString())
						}
					}
					show(n)
				}
			case "BI", "ID", "EI":
				// Inline images: the tokeniser can't step over their data.
				ir.unknown = true
				panic(errInkTooMany)
			case "Do":
				if len(args) == 1 {
					ir.xobject(res.Key("XObject").Key(args[0].Name()), g.ctm, depth)
				}
			}
		})
	}
}

// xobject adds an image (the unit square) or a form (its content,
// recursively; its bounding box beyond maxInkFormNest deep or
// maxInkForms read).
func (ir *inkReader) xobject(x pdf.Value, ctm matrix, depth int) {
	switch x.Key("Subtype").Name() {
	case "Image":
		ir.box(ctm, 0, 0, 1, 1)
	case "Form":
		m := identity
		if a := x.Key("Matrix"); a.Len() == 6 {
			for i := range m {
				m[i] = a.Index(i).Float64()
			}
		}
		m = m.mul(ctm)
		if ir.forms++; depth >= maxInkFormNest || ir.forms > maxInkForms {
			if bb, ok := rectOf(x.Key("BBox")); ok {
				ir.box(m, bb.LLX, bb.LLY, bb.URX, bb.URY)
			} else {
				ir.unknown = true
			}
			return
		}
		res := x.Key("Resources")
		ir.run(x, res, m, depth+1)
	}
}
