package signature

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

const minimalCapture = `{"v":1,"started_at":"2026-12-02T10:00:00.123Z","canvas":{"w":600,"h":220,"dpr":2},"pointer":"pen",` +
	`"strokes":[{"t0":0,"points":[[10,20,0,0.5,0,0],[11.5,20.25,8,0.625,-10,5]]},{"t0":100,"pointer":"mouse","points":[[30,40,0,0.5,0,0]]}]}`

func TestDecodeCapture(t *testing.T) {
	c, err := DecodeCapture([]byte(minimalCapture))
	if err != nil {
		t.Fatal(err)
	}
	want := &Capture{
		V:         1,
		StartedAt: time.Date(2026, 12, 2, 10, 0, 0, 123_000_000, time.UTC),
		Canvas:    Canvas{W: 600, H: 220, DPR: 2},
		Pointer:   "pen",
		Strokes: []Stroke{
			{T0: 0, Points: []Point{{10, 20, 0, 0.5, 0, 0}, {11.5, 20.25, 8, 0.625, -10, 5}}},
			{T0: 100, Pointer: "mouse", Points: []Point{{30, 40, 0, 0.5, 0, 0}}},
		},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("decoded\n%+v\nwant\n%+v", c, want)
	}
	if got := c.StrokePointer(1); got != "mouse" {
		t.Errorf("StrokePointer(1) = %q", got)
	}
	if got := c.StrokePointer(0); got != "pen" {
		t.Errorf("StrokePointer(0) = %q", got)
	}
	out, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != minimalCapture {
		t.Errorf("canonical form\n%s\nwant\n%s", out, minimalCapture)
	}
}

func TestCaptureMarshalRoundTrip(t *testing.T) {
	c := ExampleCapture()
	data, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeCapture(data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatal("decoded capture differs from the original")
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Fatal("canonical form is not stable")
	}
}

func TestCaptureMarshalCanonical(t *testing.T) {
	// Offsets, -0, exponents and white space all end in the same bytes.
	in := `{ "strokes":[{"points":[ [ 1E1 , -0,0,5e-1,0,	0 ] ],"t0":0}], "pointer":"touch", "v":1,
		"canvas":{"dpr":1,"h":100,"w":2e2}, "started_at":"2026-12-02T11:00:00.5+01:00" }`
	c, err := DecodeCapture([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"started_at":"2026-12-02T10:00:00.5Z","canvas":{"w":200,"h":100,"dpr":1},"pointer":"touch","strokes":[{"t0":0,"points":[[10,0,0,0.5,0,0]]}]}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	tiny := Point{X: 1e-7, Y: 1e21, T: 123456789.125, P: 0.1}
	b, err := tiny.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "[1e-7,1e+21,123456789.125,0.1,0,0]" {
		t.Errorf("point encodes as %s", b)
	}
}

func TestDecodeCaptureRejects(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(minimalCapture, old) {
			panic("test: " + old + " not in minimalCapture")
		}
		return strings.Replace(minimalCapture, old, new, 1)
	}
	manyPoints := func(n int) string {
		var b strings.Builder
		b.WriteString(`{"v":1,"started_at":"2026-12-02T10:00:00Z","canvas":{"w":600,"h":220,"dpr":1},"pointer":"pen","strokes":[{"t0":0,"points":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "[1,1,%d,0.5,0,0]", i)
		}
		b.WriteString("]}]}")
		return b.String()
	}
	manyStrokes := func(n int) string {
		s := strings.Repeat(`{"t0":0,"points":[[1,1,0,0,0,0]]},`, n)
		return `{"v":1,"started_at":"2026-12-02T10:00:00Z","canvas":{"w":600,"h":220,"dpr":1},"pointer":"pen","strokes":[` + s[:len(s)-1] + "]}"
	}
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty", ``, ErrCaptureMalformed},
		{"not json", `hello`, ErrCaptureMalformed},
		{"null", `null`, ErrCaptureVersion},
		{"array", `[]`, ErrCaptureMalformed},
		{"version 2", replace(`"v":1`, `"v":2`), ErrCaptureVersion},
		{"version missing", replace(`"v":1,`, ``), ErrCaptureVersion},
		{"unknown field", replace(`"v":1`, `"v":1,"x":0`), ErrCaptureMalformed},
		{"unknown nested field", replace(`"dpr":2`, `"dpr":2,"z":1`), ErrCaptureMalformed},
		{"duplicate key", replace(`"v":1`, `"v":1,"v":1`), ErrCaptureMalformed},
		{"key in other case", replace(`"v":1`, `"V":1`), ErrCaptureMalformed},
		{"escaped key", replace(`"v":1`, `"\u0076":1`), ErrCaptureMalformed},
		{"trailing value", minimalCapture + `{}`, ErrCaptureMalformed},
		{"trailing garbage", minimalCapture + `x`, ErrCaptureMalformed},
		{"started_at missing", replace(`"started_at":"2026-12-02T10:00:00.123Z",`, ``), ErrCaptureMalformed},
		{"started_at bad", replace(`2026-12-02T10:00:00.123Z`, `yesterday`), ErrCaptureMalformed},
		{"pointer unknown", replace(`"pointer":"pen"`, `"pointer":"eraser"`), ErrCaptureMalformed},
		{"pointer empty", replace(`"pointer":"pen"`, `"pointer":""`), ErrCaptureMalformed},
		{"stroke pointer unknown", replace(`"pointer":"mouse"`, `"pointer":"finger"`), ErrCaptureMalformed},
		{"five numbers", replace(`[30,40,0,0.5,0,0]`, `[30,40,0,0.5,0]`), ErrCaptureMalformed},
		{"seven numbers", replace(`[30,40,0,0.5,0,0]`, `[30,40,0,0.5,0,0,0]`), ErrCaptureMalformed},
		{"point null", replace(`[30,40,0,0.5,0,0]`, `null`), ErrCaptureMalformed},
		{"point string", replace(`[30,40,0,0.5,0,0]`, `["30",40,0,0.5,0,0]`), ErrCaptureMalformed},
		{"point nested array", replace(`[30,40,0,0.5,0,0]`, `[[30,1],40,0,0.5,0,0]`), ErrCaptureMalformed},
		{"point bool", replace(`[30,40,0,0.5,0,0]`, `[30,40,0,0.5,0,true]`), ErrCaptureMalformed},
		{"point object", replace(`[30,40,0,0.5,0,0]`, `{"x":30}`), ErrCaptureMalformed},
		{"point empty", replace(`[30,40,0,0.5,0,0]`, `[ ]`), ErrCaptureMalformed},
		{"number overflows", replace(`[30,40`, `[1e400,40`), ErrCaptureMalformed},
		{"NaN literal", replace(`[30,40`, `[NaN,40`), ErrCaptureMalformed},
		{"pressure above 1", replace(`0.625`, `1.5`), ErrCaptureMalformed},
		{"pressure negative", replace(`0.625`, `-0.1`), ErrCaptureMalformed},
		{"tilt above 90", replace(`-10,5`, `-91,5`), ErrCaptureMalformed},
		{"stroke without points", replace(`"points":[[30,40,0,0.5,0,0]]`, `"points":[]`), ErrCaptureMalformed},
		{"too deep", replace(`"dpr":2`, `"dpr":[[[[[[1]]]]]]`), ErrCaptureMalformed},
		{"too many bytes", minimalCapture + strings.Repeat(" ", MaxCaptureBytes), ErrCaptureTooLarge},
		{"too many points", manyPoints(MaxPoints + 1), ErrCaptureTooLarge},
		{"too many strokes", manyStrokes(MaxStrokes + 1), ErrCaptureTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := DecodeCapture([]byte(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("DecodeCapture = %v, %v; want %v", c, err, tt.want)
			}
		})
	}
	// At the limits it still decodes.
	for name, in := range map[string]string{"max points": manyPoints(MaxPoints), "max strokes": manyStrokes(MaxStrokes)} {
		if _, err := DecodeCapture([]byte(in)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCheckJSONKeys(t *testing.T) {
	tests := []struct {
		in string
		ok bool
	}{
		{`{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, true},
		{`{"a":"{\"a\":1,\"a\":2}","b":"\\"}`, true},
		{`["a","a"]`, true},
		{`{"a":1,"a":2}`, false},
		{`{"a":{"b":1,"b":1}}`, false},
		{`{"A":1}`, false},
		{`{"":1}`, false},
		{`{"a\"":1}`, false},
		{`[[[]]]`, true},
	}
	for _, tt := range tests {
		err := checkJSONKeys([]byte(tt.in), 3)
		if (err == nil) != tt.ok {
			t.Errorf("checkJSONKeys(%s) = %v, want ok=%v", tt.in, err, tt.ok)
		}
	}
	if err := checkJSONKeys([]byte(`[[[[]]]]`), 3); err == nil {
		t.Error("depth 4 accepted with limit 3")
	}
}

func TestExampleCaptureIsFresh(t *testing.T) {
	a, b := ExampleCapture(), ExampleCapture()
	a.Strokes[0].Points[0].X = -1
	if b.Strokes[0].Points[0].X == -1 {
		t.Fatal("ExampleCapture shares memory between calls")
	}
	if !reflect.DeepEqual(ExampleCapture(), b) {
		t.Fatal("ExampleCapture is not deterministic")
	}
}

func FuzzDecodeCapture(f *testing.F) {
	f.Add([]byte(minimalCapture))
	if data, err := ExampleCapture().Marshal(); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCapture(data)
		if err != nil {
			if c != nil {
				t.Fatal("capture returned with an error")
			}
			return
		}
		out, err := c.Marshal()
		if err != nil {
			t.Fatalf("decoded capture doesn't marshal: %v", err)
		}
		back, err := DecodeCapture(out)
		if err != nil {
			t.Fatalf("canonical form doesn't decode: %v\n%s", err, out)
		}
		again, err := back.Marshal()
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("canonical form not stable: %v\n%s\n%s", err, out, again)
		}
		f := ComputeFeatures(c)
		_ = CheckPlausible(c, f)
		if c.PointCount() > 0 && c.PointCount() < 2000 {
			_, _ = RenderImage(c, RenderOptions{MaxWidth: 64, MaxHeight: 64})
		}
	})
}
