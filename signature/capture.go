package signature

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"time"
)

// Capture format limits and version. See CAPTURE.md.
const (
	// CaptureVersion is the only capture format version this package reads.
	CaptureVersion = 1
	// MaxCaptureBytes bounds the size of an encoded capture.
	MaxCaptureBytes = 1 << 20
	// MaxPoints bounds the number of points over all strokes.
	MaxPoints = 50_000
	// MaxStrokes bounds the number of strokes.
	MaxStrokes = 200

	// maxJSONDepth is deeper than any valid capture or envelope nests
	// (capture: object > array > object > array > array).
	maxJSONDepth = 6
)

// Pointer types, as reported by the Pointer Events pointerType attribute.
const (
	PointerPen   = "pen"
	PointerTouch = "touch"
	PointerMouse = "mouse"
)

// Errors returned by DecodeCapture, wrapped with detail.
var (
	// ErrCaptureMalformed: not valid capture JSON (syntax, unknown or
	// duplicate keys, wrong shape, non-finite or out-of-range numbers).
	ErrCaptureMalformed = errors.New("signature: malformed capture")
	// ErrCaptureTooLarge: more bytes, strokes or points than allowed.
	ErrCaptureTooLarge = errors.New("signature: capture too large")
	// ErrCaptureVersion: a capture format version this package can't read.
	ErrCaptureVersion = errors.New("signature: unsupported capture version")
)

// Capture is the pen data of one handwritten signature as captured by the
// browser on a canvas (capture format version 1).
type Capture struct {
	// V is the format version, CaptureVersion.
	V int `json:"v"`
	// StartedAt is the wall-clock time the capture started (the browser's
	// clock, so informative only), UTC after decoding.
	StartedAt time.Time `json:"started_at"`
	// Canvas is the drawing surface in CSS pixels.
	Canvas Canvas `json:"canvas"`
	// Pointer is the pointer type of the capture: "pen", "touch" or "mouse".
	Pointer string `json:"pointer"`
	// Strokes in the order they were drawn.
	Strokes []Stroke `json:"strokes"`
}

// Canvas is the size of the drawing surface in CSS pixels and the device
// pixel ratio at capture time.
type Canvas struct {
	W   float64 `json:"w"`
	H   float64 `json:"h"`
	DPR float64 `json:"dpr"`
}

// Stroke is one pen-down … pen-up movement. Its first point is the pen-down,
// its last point the pen-up.
type Stroke struct {
	// T0 is the stroke start in ms since the capture start.
	T0 float64 `json:"t0"`
	// Pointer overrides Capture.Pointer for this stroke when not empty.
	Pointer string `json:"pointer,omitempty"`
	// Points, at least one.
	Points []Point `json:"points"`
}

// Point is one pointer sample. In JSON it is the array [x, y, t, p, tiltX,
// tiltY].
type Point struct {
	// X, Y in CSS pixels relative to the canvas' top-left corner.
	X, Y float64
	// T in ms since the stroke start (performance.now based, monotonic).
	T float64
	// P is the pressure 0..1 (0.5 for a mouse with a button pressed).
	P float64
	// TiltX, TiltY in degrees, -90..90.
	TiltX, TiltY float64
}

// StrokePointer returns the pointer type of stroke i.
func (c *Capture) StrokePointer(i int) string {
	if p := c.Strokes[i].Pointer; p != "" {
		return p
	}
	return c.Pointer
}

// PointCount returns the number of points over all strokes.
func (c *Capture) PointCount() int {
	n := 0
	for _, s := range c.Strokes {
		n += len(s.Points)
	}
	return n
}

// DecodeCapture decodes and structurally validates a capture sent by the
// browser. It is strict: one JSON value, no unknown or duplicate keys, keys
// spelled exactly, every number finite and in range, within the size limits.
// Whether the capture is plausibly a handwritten signature is CheckPlausible's
// business.
func DecodeCapture(data []byte) (*Capture, error) {
	if len(data) > MaxCaptureBytes {
		return nil, fmt.Errorf("%w: %d bytes, at most %d", ErrCaptureTooLarge, len(data), MaxCaptureBytes)
	}
	var c Capture
	if err := decodeStrict(data, &c); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCaptureMalformed, err)
	}
	if c.V != CaptureVersion {
		return nil, fmt.Errorf("%w: v=%d, want %d", ErrCaptureVersion, c.V, CaptureVersion)
	}
	c.StartedAt = c.StartedAt.UTC()
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// validate checks the structure: limits, pointer types, finite numbers and
// their ranges. It does not judge plausibility.
func (c *Capture) validate() error {
	if c.V != CaptureVersion {
		return fmt.Errorf("%w: v=%d, want %d", ErrCaptureVersion, c.V, CaptureVersion)
	}
	if c.StartedAt.IsZero() {
		return fmt.Errorf("%w: started_at missing", ErrCaptureMalformed)
	}
	if len(c.Strokes) > MaxStrokes {
		return fmt.Errorf("%w: %d strokes, at most %d", ErrCaptureTooLarge, len(c.Strokes), MaxStrokes)
	}
	if n := c.PointCount(); n > MaxPoints {
		return fmt.Errorf("%w: %d points, at most %d", ErrCaptureTooLarge, n, MaxPoints)
	}
	if !validPointer(c.Pointer) {
		return fmt.Errorf("%w: pointer %q", ErrCaptureMalformed, c.Pointer)
	}
	if !finite(c.Canvas.W, c.Canvas.H, c.Canvas.DPR) {
		return fmt.Errorf("%w: canvas: non-finite number", ErrCaptureMalformed)
	}
	for i, s := range c.Strokes {
		if s.Pointer != "" && !validPointer(s.Pointer) {
			return fmt.Errorf("%w: stroke %d: pointer %q", ErrCaptureMalformed, i, s.Pointer)
		}
		if !finite(s.T0) {
			return fmt.Errorf("%w: stroke %d: non-finite t0", ErrCaptureMalformed, i)
		}
		if len(s.Points) == 0 {
			return fmt.Errorf("%w: stroke %d: no points", ErrCaptureMalformed, i)
		}
		for j, p := range s.Points {
			if !finite(p.X, p.Y, p.T, p.P, p.TiltX, p.TiltY) {
				return fmt.Errorf("%w: stroke %d point %d: non-finite number", ErrCaptureMalformed, i, j)
			}
			if p.P < 0 || p.P > 1 {
				return fmt.Errorf("%w: stroke %d point %d: pressure %g not in 0..1", ErrCaptureMalformed, i, j, p.P)
			}
			if math.Abs(p.TiltX) > 90 || math.Abs(p.TiltY) > 90 {
				return fmt.Errorf("%w: stroke %d point %d: tilt not in -90..90", ErrCaptureMalformed, i, j)
			}
		}
	}
	return nil
}

func validPointer(p string) bool {
	return p == PointerPen || p == PointerTouch || p == PointerMouse
}

func finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Marshal returns the canonical JSON encoding of the capture: keys in the
// order of CAPTURE.md, no white space, started_at in UTC, numbers in the
// shortest form that round-trips (as encoding/json writes float64). Decoding
// the result gives back an equal capture, and encoding that gives the same
// bytes.
func (c *Capture) Marshal() ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("marshal capture: %w", err)
	}
	b := make([]byte, 0, 128+c.PointCount()*40)
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(c.V), 10)
	b = append(b, `,"started_at":`...)
	ts, err := c.StartedAt.UTC().MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("marshal capture: started_at: %w", err)
	}
	b = append(b, ts...)
	b = append(b, `,"canvas":{"w":`...)
	b = appendFloat(b, c.Canvas.W)
	b = append(b, `,"h":`...)
	b = appendFloat(b, c.Canvas.H)
	b = append(b, `,"dpr":`...)
	b = appendFloat(b, c.Canvas.DPR)
	b = append(b, `},"pointer":`...)
	b = strconv.AppendQuote(b, c.Pointer) // validated: a plain ASCII word
	b = append(b, `,"strokes":[`...)
	for i, s := range c.Strokes {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"t0":`...)
		b = appendFloat(b, s.T0)
		if s.Pointer != "" {
			b = append(b, `,"pointer":`...)
			b = strconv.AppendQuote(b, s.Pointer)
		}
		b = append(b, `,"points":[`...)
		for j, p := range s.Points {
			if j > 0 {
				b = append(b, ',')
			}
			b = p.appendJSON(b)
		}
		b = append(b, "]}"...)
	}
	b = append(b, "]}"...)
	if len(b) > MaxCaptureBytes {
		return nil, fmt.Errorf("marshal capture: %w: %d bytes canonical, at most %d", ErrCaptureTooLarge, len(b), MaxCaptureBytes)
	}
	return b, nil
}

// MarshalJSON encodes the point as [x,y,t,p,tiltX,tiltY].
func (p Point) MarshalJSON() ([]byte, error) {
	if !finite(p.X, p.Y, p.T, p.P, p.TiltX, p.TiltY) {
		return nil, fmt.Errorf("%w: non-finite number", ErrCaptureMalformed)
	}
	return p.appendJSON(make([]byte, 0, 48)), nil
}

func (p Point) appendJSON(b []byte) []byte {
	b = append(b, '[')
	for i, v := range [...]float64{p.X, p.Y, p.T, p.P, p.TiltX, p.TiltY} {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendFloat(b, v)
	}
	return append(b, ']')
}

// UnmarshalJSON decodes [x,y,t,p,tiltX,tiltY]: exactly six numbers. It
// parses directly rather than through encoding/json, which made decoding a
// large capture several times slower; encoding/json has already checked the
// syntax of data.
func (p *Point) UnmarshalJSON(data []byte) error {
	var a [6]float64
	i, n := 0, 0
	skip := func() {
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\n' || data[i] == '\r') {
			i++
		}
	}
	skip()
	if i == len(data) || data[i] != '[' {
		return errors.New("point: not an array [x,y,t,p,tiltX,tiltY]")
	}
	i++
	skip()
	if i < len(data) && data[i] == ']' {
		return errors.New("point: 0 numbers, want 6 [x,y,t,p,tiltX,tiltY]")
	}
	for {
		skip()
		start := i
		if i == len(data) || (data[i] != '-' && (data[i] < '0' || data[i] > '9')) {
			return errors.New("point: element is not a number")
		}
		for i < len(data) && data[i] != ',' && data[i] != ']' && data[i] != ' ' && data[i] != '\t' && data[i] != '\n' && data[i] != '\r' {
			i++
		}
		if n == len(a) {
			return errors.New("point: more than 6 numbers, want [x,y,t,p,tiltX,tiltY]")
		}
		v, err := strconv.ParseFloat(string(data[start:i]), 64)
		if err != nil {
			return fmt.Errorf("point: %w", err)
		}
		a[n] = v
		n++
		skip()
		if i == len(data) {
			return errors.New("point: unterminated array")
		}
		if data[i] == ']' {
			break
		}
		i++ // ','
	}
	if n != len(a) {
		return fmt.Errorf("point: %d numbers, want 6 [x,y,t,p,tiltX,tiltY]", n)
	}
	*p = Point{X: a[0], Y: a[1], T: a[2], P: a[3], TiltX: a[4], TiltY: a[5]}
	return nil
}

// appendFloat writes f as encoding/json writes a float64, normalising -0 to 0.
func appendFloat(b []byte, f float64) []byte {
	if f == 0 {
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs < 1e-6 || abs >= 1e21 {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7, as encoding/json does.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// decodeStrict decodes exactly one JSON value into v, rejecting unknown
// fields, keys that are not spelled exactly (encoding/json matches keys case
// insensitively), duplicate keys and nesting deeper than maxJSONDepth.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return checkJSONKeys(data, maxJSONDepth)
}

// checkJSONKeys walks syntactically valid JSON and checks that every object
// key is a plain lower-case ASCII word ([a-z0-9_], no escapes), that no
// object repeats a key and that nesting stays within maxDepth.
func checkJSONKeys(data []byte, maxDepth int) error {
	type frame struct {
		object bool
		keys   []string
	}
	var stack []frame
	expectKey := false
	for i := 0; i < len(data); i++ {
		switch data[i] {
		case '{', '[':
			if len(stack) >= maxDepth {
				return fmt.Errorf("nested deeper than %d", maxDepth)
			}
			stack = append(stack, frame{object: data[i] == '{'})
			expectKey = data[i] == '{'
		case '}', ']':
			if len(stack) == 0 {
				return errors.New("unbalanced brackets")
			}
			stack = stack[:len(stack)-1]
			expectKey = false
		case ',':
			expectKey = len(stack) > 0 && stack[len(stack)-1].object
		case '"':
			start := i + 1
			plain := true
			for i++; i < len(data) && data[i] != '"'; i++ {
				if data[i] == '\\' {
					plain = false
					i++
				}
			}
			if !expectKey {
				continue
			}
			expectKey = false
			if i >= len(data) {
				return errors.New("unterminated string")
			}
			key := string(data[start:i])
			if !plain || !plainKey(key) {
				return fmt.Errorf("key %q is not a plain lower-case name", key)
			}
			top := &stack[len(stack)-1]
			for _, k := range top.keys {
				if k == key {
					return fmt.Errorf("duplicate key %q", key)
				}
			}
			top.keys = append(top.keys, key)
		}
	}
	return nil
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// ExampleCapture returns a plausible, handwriting-like capture for tests: a
// pen signature of three strokes on a 600×220 canvas (a cursive word of
// loops with varying speed and pressure and a short stillness, a "w" with
// sharp turns, a dot), sampled at about 120 Hz. It is deterministic; each call returns a new
// value the caller may change.
func ExampleCapture() *Capture {
	const dt = 8.0 // ms between samples
	c := &Capture{
		V:         CaptureVersion,
		StartedAt: time.Date(2026, 12, 2, 10, 0, 0, 123_000_000, time.UTC),
		Canvas:    Canvas{W: 600, H: 220, DPR: 2},
		Pointer:   PointerPen,
	}
	// Stroke 1: five loops drifting rightwards, like "lllll" in cursive,
	// with a 120 ms stillness in the middle.
	var s1 []Point
	t := 0.0
	for i := 0; i <= 300; i++ {
		u := float64(i) / 300 // 0..1 along the word
		a := u * 5 * 2 * math.Pi
		x := 60 + 380*u + 22*math.Sin(a)
		y := 120 - 45*math.Sin(a/2)*math.Sin(a/2) + 6*math.Sin(3*u*math.Pi)
		p := 0.35 + 0.3*math.Sin(u*math.Pi) + 0.05*math.Sin(a)
		s1 = append(s1, Point{X: x, Y: y, T: t, P: p, TiltX: -20 + 5*u, TiltY: 15})
		if i == 150 {
			for k := 1; k <= 15; k++ {
				s1 = append(s1, Point{X: x + 0.1*float64(k%2), Y: y, T: t + float64(k)*dt, P: p, TiltX: -17.5, TiltY: 15})
			}
			t += 15 * dt
		}
		// Faster in the middle of each loop, slower at the turns.
		t += dt * (1.2 - 0.5*math.Abs(math.Cos(a)))
	}
	end1 := t
	// Stroke 2: a "w" with three cusps, slowing down into each, after a
	// 280 ms pen-up.
	var s2 []Point
	t = 0
	corners := [...][2]float64{{455, 60}, {477, 110}, {500, 70}, {522, 110}, {545, 60}}
	for k := 1; k < len(corners); k++ {
		a, b := corners[k-1], corners[k]
		for i := 0; i <= 22; i++ {
			if k > 1 && i == 0 {
				continue
			}
			u := (1 - math.Cos(math.Pi*float64(i)/22)) / 2
			s2 = append(s2, Point{X: a[0] + u*(b[0]-a[0]), Y: a[1] + u*(b[1]-a[1]), T: t, P: 0.3 + 0.1*float64(k), TiltX: -25, TiltY: 10})
			t += dt
		}
	}
	t -= dt
	end2 := end1 + 280 + t
	// Stroke 3: a dot, after a 350 ms pen-up.
	s3 := []Point{
		{X: 565, Y: 40, T: 0, P: 0.4, TiltX: -20, TiltY: 12},
		{X: 566, Y: 41, T: 9, P: 0.6, TiltX: -20, TiltY: 12},
		{X: 566.5, Y: 42.5, T: 18, P: 0.5, TiltX: -20, TiltY: 12},
	}
	c.Strokes = []Stroke{
		{T0: 40, Points: s1},
		{T0: 40 + end1 + 280, Points: s2},
		{T0: 40 + end2 + 350, Points: s3},
	}
	// Round as a browser reports: 1/100 px, 1/10 ms, 1/1000 pressure.
	round := func(v, perUnit float64) float64 { return math.Round(v*perUnit) / perUnit }
	for i := range c.Strokes {
		s := &c.Strokes[i]
		s.T0 = round(s.T0, 10)
		for j := range s.Points {
			p := &s.Points[j]
			p.X, p.Y, p.T, p.P = round(p.X, 100), round(p.Y, 100), round(p.T, 10), round(p.P, 1000)
			p.TiltX, p.TiltY = round(p.TiltX, 1), round(p.TiltY, 1)
		}
	}
	return c
}
