package signature

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"testing"
)

// isInk reports whether the pixel is clearly ink: dark on white, or mostly
// opaque on transparent.
func isInk(c color.Color) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return n.A > 0x80 && n.R < 0x80 && n.G < 0x80 && n.B > n.R
}

func isBackground(c color.Color, transparent bool) bool {
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	if transparent {
		return n.A == 0
	}
	return n == color.NRGBA{0xff, 0xff, 0xff, 0xff}
}

func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode png: %v", err)
	}
	return img
}

func TestRenderLine(t *testing.T) {
	c := capture(Stroke{Points: line(100, 100, 300, 100, 400, 10, 0)})
	pad := RenderMarginPx + InkWidthPx/2 // 7.2 CSS px
	tests := []struct {
		name  string
		opt   RenderOptions
		w, h  int
		scale float64
	}{
		{"default", RenderOptions{}, int(math.Ceil((200 + 2*pad) * 2)), int(math.Ceil(2 * pad * 2)), 2},
		{"transparent scale 1", RenderOptions{Transparent: true, Scale: 1}, int(math.Ceil(200 + 2*pad)), int(math.Ceil(2 * pad)), 1},
		{"fit width", RenderOptions{MaxWidth: 107}, 107, int(math.Ceil(2 * pad * 107 / (200 + 2*pad))), 107 / (200 + 2*pad)},
		{"fit height", RenderOptions{MaxHeight: 10, Scale: 4}, int(math.Ceil((200 + 2*pad) * 10 / (2 * pad))), 10, 10 / (2 * pad)},
		{"limits larger than needed", RenderOptions{MaxWidth: 5000, MaxHeight: 5000}, int(math.Ceil((200 + 2*pad) * 2)), int(math.Ceil(2 * pad * 2)), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := RenderPNG(c, tt.opt)
			if err != nil {
				t.Fatal(err)
			}
			img := decodePNG(t, data)
			b := img.Bounds()
			if b.Dx() != tt.w || b.Dy() != tt.h {
				t.Fatalf("size %dx%d, want %dx%d", b.Dx(), b.Dy(), tt.w, tt.h)
			}
			// Ink along the line, at mid height; none in the corners.
			midY := int(pad * tt.scale)
			for _, x := range []float64{0.1, 0.5, 0.9} {
				px := int((pad + 200*x) * tt.scale)
				if !isInk(img.At(px, midY)) {
					t.Errorf("no ink at (%d,%d): %v", px, midY, img.At(px, midY))
				}
			}
			for _, p := range []image.Point{{0, 0}, {b.Dx() - 1, 0}, {0, b.Dy() - 1}, {b.Dx() - 1, b.Dy() - 1}} {
				if !isBackground(img.At(p.X, p.Y), tt.opt.Transparent) {
					t.Errorf("corner %v is %v, want background", p, img.At(p.X, p.Y))
				}
			}
		})
	}
}

func TestRenderExampleInkWhereStrokesAre(t *testing.T) {
	c := ExampleCapture()
	f := ComputeFeatures(c)
	for _, transparent := range []bool{false, true} {
		img, err := RenderImage(c, RenderOptions{Transparent: transparent})
		if err != nil {
			t.Fatal(err)
		}
		pad := RenderMarginPx + InkWidthPx*1.6/2
		wantW := int(math.Ceil((f.BoundingBox.W + 2*pad) * DefaultRenderScale))
		wantH := int(math.Ceil((f.BoundingBox.H + 2*pad) * DefaultRenderScale))
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Fatalf("size %v, want %dx%d", b.Size(), wantW, wantH)
		}
		onStroke := map[image.Point]bool{}
		for _, s := range c.Strokes {
			for _, p := range s.Points {
				q := image.Pt(int((p.X-f.BoundingBox.MinX+pad)*DefaultRenderScale), int((p.Y-f.BoundingBox.MinY+pad)*DefaultRenderScale))
				onStroke[q] = true
				if !isInk(img.At(q.X, q.Y)) {
					t.Fatalf("transparent=%v: no ink under point (%g,%g) at %v: %v", transparent, p.X, p.Y, q, img.At(q.X, q.Y))
				}
			}
		}
		// Most pixels are background, and every ink pixel is near a point.
		ink := 0
		b := img.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if !isInk(img.At(x, y)) {
					continue
				}
				ink++
				if !nearStroke(c, f.BoundingBox, pad, x, y) {
					t.Fatalf("ink at (%d,%d), far from the strokes", x, y)
				}
			}
		}
		if total := b.Dx() * b.Dy(); ink == 0 || ink > total/4 {
			t.Errorf("%d ink pixels of %d", ink, total)
		}
		if !transparent && img.Opaque() == false {
			t.Error("white variant is not opaque")
		}
		if transparent && img.Opaque() {
			t.Error("transparent variant is opaque")
		}
	}
}

// nearStroke reports whether output pixel (x,y) lies within a few CSS px of
// a stroke segment.
func nearStroke(c *Capture, box BoundingBox, pad float64, x, y int) bool {
	px := (float64(x)+0.5)/DefaultRenderScale + box.MinX - pad
	py := (float64(y)+0.5)/DefaultRenderScale + box.MinY - pad
	for _, s := range c.Strokes {
		for j, p := range s.Points {
			a := p
			if j > 0 {
				a = s.Points[j-1]
			}
			if segDist(px, py, a, p) < InkWidthPx+1 {
				return true
			}
		}
	}
	return false
}

func segDist(px, py float64, a, b Point) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	u := 0.0
	if l2 := dx*dx + dy*dy; l2 > 0 {
		u = max(0, min(1, ((px-a.X)*dx+(py-a.Y)*dy)/l2))
	}
	return math.Hypot(px-a.X-u*dx, py-a.Y-u*dy)
}

func TestRenderPressureWidth(t *testing.T) {
	// Same line, light and heavy pressure: the heavy one has more ink.
	inkCount := func(p float64) int {
		pts := line(100, 100, 300, 100, 400, 10, 0)
		for i := range pts {
			pts[i].P = p
		}
		c := capture(Stroke{Points: pts})
		c.Pointer = PointerPen
		img, err := RenderImage(c, RenderOptions{Scale: 4})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i-3] < 0x80 { // dark red channel: ink
				n++
			}
		}
		return n
	}
	light, heavy := inkCount(0.1), inkCount(0.9)
	if heavy < 2*light {
		t.Errorf("ink pixels at pressure 0.1: %d, at 0.9: %d; want the heavy line much wider", light, heavy)
	}
}

func TestRenderCustomInkAndDot(t *testing.T) {
	c := capture(Stroke{Points: []Point{{X: 50, Y: 50, P: 0.5}}})
	red := color.NRGBA{R: 0xff, A: 0xff}
	img, err := RenderImage(c, RenderOptions{Ink: red, Transparent: true})
	if err != nil {
		t.Fatal(err)
	}
	centre := img.NRGBAAt(img.Bounds().Dx()/2, img.Bounds().Dy()/2)
	if centre != red {
		t.Errorf("dot centre %v, want %v", centre, red)
	}
}

func TestRenderErrors(t *testing.T) {
	far := capture(Stroke{Points: []Point{{X: 0, P: 0.5}, {X: 1e9, T: 10, P: 0.5}}})
	tests := []struct {
		name string
		c    *Capture
		opt  RenderOptions
		want error
	}{
		{"no points", capture(), RenderOptions{}, ErrNothingToRender},
		{"absurd extent", far, RenderOptions{}, ErrNothingToRender},
		{"negative scale", ExampleCapture(), RenderOptions{Scale: -1}, ErrRenderOptions},
		{"huge scale", ExampleCapture(), RenderOptions{Scale: 100}, ErrRenderOptions},
		{"NaN scale", ExampleCapture(), RenderOptions{Scale: math.NaN()}, ErrRenderOptions},
		{"negative size", ExampleCapture(), RenderOptions{MaxWidth: -1}, ErrRenderOptions},
		{"malformed capture", func() *Capture { c := ExampleCapture(); c.V = 9; return c }(), RenderOptions{}, ErrCaptureVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := RenderPNG(tt.c, tt.opt); !errors.Is(err, tt.want) {
				t.Fatalf("RenderPNG = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestRenderHardLimit(t *testing.T) {
	c := capture(Stroke{Points: line(0, 0, 9000, 10, 20000, 10, 0)})
	img, err := RenderImage(c, RenderOptions{Scale: 16})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() > MaxRenderPx || b.Dy() > MaxRenderPx {
		t.Fatalf("size %v beyond MaxRenderPx", b.Size())
	}
}
