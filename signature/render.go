package signature

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"

	"golang.org/x/image/vector"
)

// Rendering defaults.
const (
	// DefaultRenderScale is the output pixels per CSS pixel when
	// RenderOptions.Scale is zero.
	DefaultRenderScale = 2.0
	// MaxRenderScale bounds RenderOptions.Scale.
	MaxRenderScale = 16.0
	// MaxRenderPx bounds the output's width and height whatever the options.
	MaxRenderPx = 4096
	// InkWidthPx is the line width in CSS px at pressure 0.5, and for devices
	// without pressure. The width goes from 0.4× at pressure 0 to 1.6× at 1.
	InkWidthPx = 2.4
	// MaxRenderExtentPx bounds the strokes' extent in CSS px; captures that
	// pass CheckPlausible stay within MaxCanvasPx.
	MaxRenderExtentPx = 100_000
	// RenderMarginPx is the margin around the strokes' bounding box, CSS px.
	RenderMarginPx = 6.0
)

// DefaultInk is the dark blue of a ball-point pen.
func DefaultInk() color.NRGBA { return color.NRGBA{R: 0x1a, G: 0x2a, B: 0x6c, A: 0xff} }

// Errors returned by RenderImage and RenderPNG.
var (
	// ErrNothingToRender: no points, or points spread absurdly far.
	ErrNothingToRender = errors.New("signature: capture has nothing to render")
	ErrRenderOptions   = errors.New("signature: invalid render options")
)

// RenderOptions say how to render a capture. The zero value renders at
// DefaultRenderScale on white in DefaultInk.
type RenderOptions struct {
	// MaxWidth and MaxHeight, in output pixels, when not zero: the image is
	// scaled down, keeping its aspect ratio, to fit.
	MaxWidth, MaxHeight int
	// Transparent renders on a transparent background (ink alpha is the
	// coverage); otherwise the background is opaque white.
	Transparent bool
	// Scale is output pixels per CSS pixel before fitting; 0 means
	// DefaultRenderScale.
	Scale float64
	// Ink is the ink colour; the zero value means DefaultInk. Its alpha is
	// ignored.
	Ink color.NRGBA
}

// RenderPNG renders the capture with RenderImage and encodes it as PNG
// (8-bit RGBA non-premultiplied when transparent, RGB otherwise).
func RenderPNG(c *Capture, opt RenderOptions) ([]byte, error) {
	img, err := RenderImage(c, opt)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.DefaultCompression}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("render signature: encode png: %w", err)
	}
	return buf.Bytes(), nil
}

// RenderImage renders the strokes anti-aliased, cropped to their bounding
// box plus RenderMarginPx (and half the widest line), with the line width
// following the pressure. A one-point stroke is a dot.
func RenderImage(c *Capture, opt RenderOptions) (*image.NRGBA, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("render signature: %w", err)
	}
	if c.PointCount() == 0 {
		return nil, ErrNothingToRender
	}
	scale := opt.Scale
	if scale == 0 {
		scale = DefaultRenderScale
	}
	if !(scale > 0 && scale <= MaxRenderScale) || opt.MaxWidth < 0 || opt.MaxHeight < 0 {
		return nil, fmt.Errorf("%w: scale %g (0..%g), max size %dx%d", ErrRenderOptions, opt.Scale, MaxRenderScale, opt.MaxWidth, opt.MaxHeight)
	}
	ink := opt.Ink
	if ink == (color.NRGBA{}) {
		ink = DefaultInk()
	}

	pressure := hasPressure(c)
	box := BoundingBox{MinX: math.Inf(1), MinY: math.Inf(1), MaxX: math.Inf(-1), MaxY: math.Inf(-1)}
	for _, s := range c.Strokes {
		for _, p := range s.Points {
			box.MinX, box.MaxX = min(box.MinX, p.X), max(box.MaxX, p.X)
			box.MinY, box.MaxY = min(box.MinY, p.Y), max(box.MaxY, p.Y)
		}
	}
	pad := RenderMarginPx + inkWidth(1, pressure)/2
	box.MinX, box.MinY, box.MaxX, box.MaxY = box.MinX-pad, box.MinY-pad, box.MaxX+pad, box.MaxY+pad
	box.W, box.H = box.MaxX-box.MinX, box.MaxY-box.MinY
	if !(box.W <= MaxRenderExtentPx && box.H <= MaxRenderExtentPx) {
		return nil, fmt.Errorf("%w: strokes span %gx%g px, at most %d", ErrNothingToRender, box.W, box.H, MaxRenderExtentPx)
	}

	s := scale
	limitW, limitH := float64(MaxRenderPx), float64(MaxRenderPx)
	if opt.MaxWidth > 0 {
		limitW = min(limitW, float64(opt.MaxWidth))
	}
	if opt.MaxHeight > 0 {
		limitH = min(limitH, float64(opt.MaxHeight))
	}
	s = min(s, limitW/box.W, limitH/box.H)
	w := max(1, min(int(limitW), int(math.Ceil(box.W*s-1e-9))))
	h := max(1, min(int(limitH), int(math.Ceil(box.H*s-1e-9))))

	r := vector.NewRasterizer(w, h)
	tx := func(p Point) (float64, float64) { return (p.X - box.MinX) * s, (p.Y - box.MinY) * s }
	radius := func(p Point) float64 { return max(0.5, inkWidth(p.P, pressure)*s/2) }
	for _, st := range c.Strokes {
		for j, p := range st.Points {
			x, y := tx(p)
			addDisc(r, x, y, radius(p))
			if j == 0 {
				continue
			}
			x0, y0 := tx(st.Points[j-1])
			addSegment(r, x0, y0, radius(st.Points[j-1]), x, y, radius(p))
		}
	}
	mask := image.NewAlpha(image.Rect(0, 0, w, h))
	r.DrawOp = draw.Src
	r.Draw(mask, mask.Bounds(), image.Opaque, image.Point{})

	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i, a := range mask.Pix {
		px := img.Pix[4*i : 4*i+4 : 4*i+4]
		if opt.Transparent {
			px[0], px[1], px[2], px[3] = ink.R, ink.G, ink.B, a
			continue
		}
		px[0], px[1], px[2], px[3] = overWhite(ink.R, a), overWhite(ink.G, a), overWhite(ink.B, a), 0xff
	}
	return img, nil
}

// overWhite blends an ink channel with coverage a over white.
func overWhite(ink, a uint8) uint8 {
	return uint8((uint32(ink)*uint32(a) + 0xff*uint32(0xff-a) + 127) / 0xff)
}

// hasPressure reports whether any point carries a real pressure reading
// (not 0 or the 0.5 default).
func hasPressure(c *Capture) bool {
	for _, s := range c.Strokes {
		for _, p := range s.Points {
			if p.P != 0 && p.P != 0.5 {
				return true
			}
		}
	}
	return false
}

// inkWidth is the line width in CSS px at pressure p.
func inkWidth(p float64, pressure bool) float64 {
	if !pressure {
		return InkWidthPx
	}
	return InkWidthPx * (0.4 + 1.2*p)
}

// Every shape is added with the same orientation: the rasterizer sums signed
// coverage, so opposite orientations would cancel where shapes overlap.

// addDisc adds a polygon approximating a disc, its angles decreasing, so its
// signed area (shoelace, in x, y) is negative.
func addDisc(r *vector.Rasterizer, cx, cy, rad float64) {
	n := int(math.Ceil(2 * math.Pi * rad / 1.5))
	n = min(max(n, 8), 64)
	r.MoveTo(float32(cx+rad), float32(cy))
	for i := 1; i < n; i++ {
		a := -2 * math.Pi * float64(i) / float64(n)
		r.LineTo(float32(cx+rad*math.Cos(a)), float32(cy+rad*math.Sin(a)))
	}
	r.ClosePath()
}

// addSegment adds the quadrilateral joining two discs' diameters across the
// segment's direction.
func addSegment(r *vector.Rasterizer, x0, y0, r0, x1, y1, r1 float64) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l < 1e-6 {
		return
	}
	nx, ny := -dy/l, dx/l
	pts := [4][2]float64{
		{x0 - nx*r0, y0 - ny*r0},
		{x1 - nx*r1, y1 - ny*r1},
		{x1 + nx*r1, y1 + ny*r1},
		{x0 + nx*r0, y0 + ny*r0},
	}
	if signedArea(pts[:]) > 0 { // addDisc's polygons have negative area
		pts[1], pts[3] = pts[3], pts[1]
	}
	r.MoveTo(float32(pts[0][0]), float32(pts[0][1]))
	for _, p := range pts[1:] {
		r.LineTo(float32(p[0]), float32(p[1]))
	}
	r.ClosePath()
}

func signedArea(pts [][2]float64) float64 {
	a := 0.0
	for i := range pts {
		j := (i + 1) % len(pts)
		a += pts[i][0]*pts[j][1] - pts[j][0]*pts[i][1]
	}
	return a
}
