package signature

import (
	"errors"
	"math"
	"testing"
	"time"
)

var testStart = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

// line returns points from (x0,y0) to (x1,y1) at constant speed, one every
// stepMS, starting at t=tStart (ms since the stroke start).
func line(x0, y0, x1, y1, pxPerS, stepMS, tStart float64) []Point {
	l := math.Hypot(x1-x0, y1-y0)
	durMS := l / pxPerS * 1000
	n := int(math.Round(durMS / stepMS))
	pts := make([]Point, 0, n+1)
	for i := 0; i <= n; i++ {
		u := float64(i) / float64(n)
		pts = append(pts, Point{X: x0 + u*(x1-x0), Y: y0 + u*(y1-y0), T: tStart + float64(i)*stepMS, P: 0.5})
	}
	return pts
}

func capture(strokes ...Stroke) *Capture {
	return &Capture{V: 1, StartedAt: testStart, Canvas: Canvas{W: 600, H: 220, DPR: 1}, Pointer: PointerMouse, Strokes: strokes}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func TestFeaturesSpeedLine(t *testing.T) {
	// 200 px rightwards at 200 px/s, a point every 10 ms: one second.
	c := capture(Stroke{T0: 50, Points: line(100, 100, 300, 100, 200, 10, 0)})
	f := ComputeFeatures(c)
	checks := []struct {
		name      string
		got, want float64
	}{
		{"duration", f.DurationMS, 1000},
		{"pen down", f.PenDownMS, 1000},
		{"pen up", f.PenUpMS, 0},
		{"path", f.PathLengthPx, 200},
		{"mean speed", f.Speed.MeanPxS, 200},
		{"max speed", f.Speed.MaxPxS, 200},
		{"speed stddev", f.Speed.StdDevPxS, 0},
		{"mean speed / canvas width", f.Speed.MeanNorm, 200.0 / 600},
		{"E bin", f.Direction.Bins[0], 1},
		{"direction changes", float64(f.Direction.Changes), 0},
		{"pauses", float64(f.Pauses.Count), 0},
		{"first point", f.Timestamps.FirstPointMS, 50},
		{"last point", f.Timestamps.LastPointMS, 1050},
		{"box min x", f.BoundingBox.MinX, 100},
		{"box w", f.BoundingBox.W, 200},
		{"box h", f.BoundingBox.H, 0},
	}
	for _, ch := range checks {
		if !near(ch.got, ch.want, 1e-6) {
			t.Errorf("%s = %g, want %g", ch.name, ch.got, ch.want)
		}
	}
	if f.StrokeCount != 1 || f.PointCount != 101 || f.Speed.SampleCount != 100 {
		t.Errorf("counts: %d strokes, %d points, %d speed samples", f.StrokeCount, f.PointCount, f.Speed.SampleCount)
	}
	if f.Pressure != nil {
		t.Errorf("mouse capture has pressure %+v", f.Pressure)
	}
	if !f.Timestamps.StartedAt.Equal(testStart) || !f.Timestamps.LastPointAt.Equal(testStart.Add(1050*time.Millisecond)) {
		t.Errorf("timestamps %+v", f.Timestamps)
	}
}

func TestFeaturesVaryingSpeed(t *testing.T) {
	// 100 px at 100 px/s, then 150 px at 300 px/s, in one stroke.
	slow := line(0, 50, 100, 50, 100, 10, 0)
	fast := line(100, 50, 250, 50, 300, 10, slow[len(slow)-1].T)
	c := capture(Stroke{Points: append(slow, fast[1:]...)})
	f := ComputeFeatures(c)
	// 250 px in 1500 ms.
	mean := 250 / 1500.0 * 1000
	if !near(f.Speed.MeanPxS, mean, 1e-6) {
		t.Errorf("mean speed %g, want %g", f.Speed.MeanPxS, mean)
	}
	if !near(f.Speed.MaxPxS, 300, 1e-6) {
		t.Errorf("max speed %g, want 300", f.Speed.MaxPxS)
	}
	// Time-weighted: 1000 ms at 100 px/s, 500 ms at 300 px/s.
	if want := math.Sqrt((1000*(100-mean)*(100-mean) + 500*(300-mean)*(300-mean)) / 1500); !near(f.Speed.StdDevPxS, want, 1e-3) {
		t.Errorf("speed stddev %g, want %g", f.Speed.StdDevPxS, want)
	}
}

func TestFeaturesPauses(t *testing.T) {
	a := line(100, 100, 200, 100, 200, 10, 0) // 0..500 ms
	// Stroke b: 40 px, still for 150 ms, 40 px more.
	b := line(220, 100, 260, 100, 200, 10, 0) // 0..200 ms
	end := b[len(b)-1]
	for i := 1; i <= 15; i++ {
		b = append(b, Point{X: end.X + 0.3*float64(i%2), Y: end.Y, T: end.T + float64(i)*10, P: 0.5})
	}
	b = append(b, line(260, 100, 300, 100, 200, 10, b[len(b)-1].T)[1:]...)
	c := capture(Stroke{T0: 0, Points: a}, Stroke{T0: 800, Points: b})
	f := ComputeFeatures(c)
	want := Pauses{Count: 2, TotalMS: 450, PenUpCount: 1, PenUpMS: 300, StillCount: 1, StillMS: 150}
	if f.Pauses != want {
		t.Errorf("pauses %+v, want %+v", f.Pauses, want)
	}
	if !near(f.PenUpMS, 300, 1e-9) || !near(f.PenDownMS, 500+550, 1e-9) || !near(f.DurationMS, 800+550, 1e-9) {
		t.Errorf("pen up %g, pen down %g, duration %g", f.PenUpMS, f.PenDownMS, f.DurationMS)
	}
	// A gap shorter than PauseMinMS is pen-up time but no pause.
	c.Strokes[1].T0 = 550
	f = ComputeFeatures(c)
	if f.Pauses.PenUpCount != 0 || !near(f.PenUpMS, 50, 1e-9) {
		t.Errorf("short gap: %+v, pen up %g", f.Pauses, f.PenUpMS)
	}
}

func TestFeaturesDirection(t *testing.T) {
	square := line(100, 50, 200, 50, 200, 10, 0)                                                        // E
	for _, side := range [][4]float64{{200, 50, 200, 150}, {200, 150, 100, 150}, {100, 150, 100, 50}} { // S, W, N
		square = append(square, line(side[0], side[1], side[2], side[3], 200, 10, square[len(square)-1].T)[1:]...)
	}
	diag := line(100, 150, 200, 50, 200, 10, 0) // up and to the right: NE
	tests := []struct {
		name    string
		c       *Capture
		bins    [8]float64
		changes int
	}{
		{"rightwards", capture(Stroke{Points: line(100, 100, 300, 100, 200, 10, 0)}), [8]float64{1, 0, 0, 0, 0, 0, 0, 0}, 0},
		{"leftwards", capture(Stroke{Points: line(300, 100, 100, 100, 200, 10, 0)}), [8]float64{0, 0, 0, 0, 1, 0, 0, 0}, 0},
		{"down", capture(Stroke{Points: line(100, 20, 100, 200, 200, 10, 0)}), [8]float64{0, 0, 0, 0, 0, 0, 1, 0}, 0},
		{"north-east", capture(Stroke{Points: diag}), [8]float64{0, 1, 0, 0, 0, 0, 0, 0}, 0},
		{"square", capture(Stroke{Points: square}), [8]float64{0.25, 0, 0.25, 0, 0.25, 0, 0.25, 0}, 3},
		{"two strokes don't turn", capture(
			Stroke{Points: line(100, 100, 200, 100, 200, 10, 0)},
			Stroke{T0: 700, Points: line(200, 100, 200, 200, 200, 10, 0)},
		), [8]float64{0.5, 0, 0, 0, 0, 0, 0.5, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ComputeFeatures(tt.c)
			for i, w := range tt.bins {
				if !near(f.Direction.Bins[i], w, 1e-9) {
					t.Errorf("bin %s = %g, want %g", DirectionBinName(i), f.Direction.Bins[i], w)
				}
			}
			if f.Direction.Changes != tt.changes {
				t.Errorf("changes = %d, want %d", f.Direction.Changes, tt.changes)
			}
		})
	}
	if DirectionBinName(2) != "N" || DirectionBinName(7) != "SE" || DirectionBinName(8) != "" {
		t.Error("DirectionBinName")
	}
}

func TestFeaturesPressureAndEmpty(t *testing.T) {
	c := capture(Stroke{Points: []Point{{X: 1, P: 0.2}, {X: 2, T: 10, P: 0.4}, {X: 3, T: 20, P: 0.9}}})
	f := ComputeFeatures(c)
	if f.Pressure == nil || !near(f.Pressure.Mean, 0.5, 1e-9) || f.Pressure.Min != 0.2 || f.Pressure.Max != 0.9 {
		t.Errorf("pressure %+v", f.Pressure)
	}
	if f := ComputeFeatures(capture()); f.StrokeCount != 0 || f.DurationMS != 0 || f.BoundingBox != (BoundingBox{}) {
		t.Errorf("empty capture features %+v", f)
	}
}

func TestExampleCaptureFeatures(t *testing.T) {
	c := ExampleCapture()
	f := ComputeFeatures(c)
	if err := CheckPlausible(c, f); err != nil {
		t.Fatalf("ExampleCapture is implausible: %v", err)
	}
	if f.StrokeCount != 3 || f.Pauses.PenUpCount != 2 || f.Pauses.StillCount < 1 || f.Pressure == nil {
		t.Errorf("features %+v", f)
	}
	if f.Speed.StdDevPxS == 0 || f.Direction.Changes == 0 {
		t.Errorf("speed %+v, direction %+v: want variation", f.Speed, f.Direction)
	}
}

func TestCheckPlausible(t *testing.T) {
	good := func() *Capture { return ExampleCapture() }
	mouse := capture(
		Stroke{Points: line(100, 100, 300, 150, 400, 10, 0)},
		Stroke{T0: 900, Points: line(120, 60, 140, 180, 300, 10, 0)},
	)
	tests := []struct {
		name string
		c    *Capture
		code string // "" = plausible
	}{
		{"example", good(), ""},
		{"mouse lines", mouse, ""},
		{"NaN", func() *Capture { c := good(); c.Strokes[0].Points[3].X = math.NaN(); return c }(), CodeMalformed},
		{"zero width canvas", func() *Capture { c := good(); c.Canvas.W = 0; return c }(), CodeBadCanvas},
		{"huge canvas", func() *Capture { c := good(); c.Canvas.H = 1e6; return c }(), CodeBadCanvas},
		{"zero dpr", func() *Capture { c := good(); c.Canvas.DPR = 0; return c }(), CodeBadCanvas},
		{"absurd dpr", func() *Capture { c := good(); c.Canvas.DPR = 50; return c }(), CodeBadCanvas},
		{"too few points", capture(Stroke{Points: line(100, 100, 300, 100, 100, 500, 0)}), CodeTooFewPoints},
		{"no strokes", capture(), CodeTooFewPoints},
		{"time goes back", func() *Capture { c := good(); c.Strokes[0].Points[20].T = 1; return c }(), CodeTimeNotMonotonic},
		{"strokes overlap", func() *Capture { c := good(); c.Strokes[1].T0 = c.Strokes[0].T0 + 100; return c }(), CodeTimeNotMonotonic},
		{"negative t0", func() *Capture { c := good(); c.Strokes[0].T0 = -5; return c }(), CodeTimeNotMonotonic},
		{"negative first t", func() *Capture { c := good(); c.Strokes[0].Points[0].T = -5; return c }(), CodeTimeNotMonotonic},
		{"all points at one time", func() *Capture {
			c := good()
			for i := range c.Strokes {
				for j := range c.Strokes[i].Points {
					c.Strokes[i].Points[j].T = 0
				}
			}
			return c
		}(), CodeAbsurdSpeed},
		{"sustained absurd speed", capture(Stroke{Points: func() []Point {
			var pts []Point
			for i := range 61 { // 300 ms back and forth over 500 px every 5 ms
				pts = append(pts, Point{X: 50 + 500*float64(i%2), Y: 100, T: float64(i) * 5, P: 0.5})
			}
			return pts
		}()}), CodeAbsurdSpeed},
		{"too short", capture(Stroke{Points: line(100, 100, 300, 100, 2000, 10, 0)}), CodeTooShort},
		{"too long", capture(
			Stroke{Points: line(100, 100, 300, 100, 200, 10, 0)},
			Stroke{T0: 6 * 60 * 1000, Points: line(100, 150, 300, 150, 200, 10, 0)},
		), CodeTooLong},
		{"out of canvas", capture(Stroke{Points: line(100, 100, 650, 100, 400, 10, 0)}), CodeOutOfCanvas},
		{"above the canvas", capture(Stroke{Points: line(100, -30, 300, 100, 400, 10, 0)}), CodeOutOfCanvas},
		{"within the tolerance", capture(Stroke{Points: line(100, 100, 603, 100, 400, 10, 0)}), ""},
		{"a dot", capture(Stroke{Points: func() []Point {
			var pts []Point
			for i := range 100 {
				pts = append(pts, Point{X: 300 + 3*math.Sin(float64(i)), Y: 100 + 3*math.Cos(float64(i)), T: float64(i) * 10, P: 0.5})
			}
			return pts
		}()}), CodeTooSmall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPlausible(tt.c, ComputeFeatures(tt.c))
			if tt.code == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			var re *RejectError
			if !errors.As(err, &re) || re.Code != tt.code {
				t.Fatalf("CheckPlausible = %v, want code %s", err, tt.code)
			}
			if !errors.Is(err, ErrImplausible) {
				t.Errorf("%v is not ErrImplausible", err)
			}
			if re.Detail == "" {
				t.Error("no detail")
			}
		})
	}
}
