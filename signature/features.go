package signature

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Feature thresholds. See CAPTURE.md, "Features".
const (
	// PauseMinMS is the shortest pause counted: a pen-up gap, or a stillness
	// inside a stroke, lasting at least this long.
	PauseMinMS = 100
	// StillRadiusPx: a stroke is still while its points stay within this
	// distance (CSS px) of the point where the stillness began.
	StillRadiusPx = 1.0
	// DirectionStepPx: movement directions are taken over steps of at least
	// this distance, so sensor jitter doesn't count as direction changes.
	DirectionStepPx = 2.0
	// DirectionChangeDeg: consecutive steps turning by more than this count
	// as a direction change.
	DirectionChangeDeg = 45.0
	// SpeedStepMS: speeds are taken over intervals of at least this long, so
	// coalesced events with coarse time stamps don't make speed spikes.
	SpeedStepMS = 5.0
)

// Features are the biometric features of a capture, computed by the server.
// Times are in ms, distances in CSS px.
type Features struct {
	// DurationMS from the first pen-down to the last pen-up.
	DurationMS  float64 `json:"duration_ms"`
	StrokeCount int     `json:"stroke_count"`
	PointCount  int     `json:"point_count"`
	// PenDownMS is the sum of the strokes' durations.
	PenDownMS float64 `json:"pen_down_ms"`
	// PenUpMS is the sum of the gaps between strokes.
	PenUpMS float64 `json:"pen_up_ms"`
	// PathLengthPx is the distance travelled with the pen down.
	PathLengthPx float64     `json:"path_length_px"`
	Pauses       Pauses      `json:"pauses"`
	Speed        Speed       `json:"speed"`
	Direction    Direction   `json:"direction"`
	Timestamps   Timestamps  `json:"timestamps"`
	BoundingBox  BoundingBox `json:"bounding_box"`
	// Pressure is nil when the device reported no pressure (every point 0 or
	// 0.5, the Pointer Events defaults).
	Pressure *Pressure `json:"pressure,omitempty"`
}

// Pauses counts pen-up gaps and in-stroke stillness of at least PauseMinMS.
type Pauses struct {
	Count      int     `json:"count"`
	TotalMS    float64 `json:"total_ms"`
	PenUpCount int     `json:"pen_up_count"`
	PenUpMS    float64 `json:"pen_up_ms"`
	StillCount int     `json:"still_count"`
	StillMS    float64 `json:"still_ms"`
}

// Speed with the pen down, in px/s and in canvas widths per second.
type Speed struct {
	// MeanPxS is the path length over the pen-down time.
	MeanPxS float64 `json:"mean_px_s"`
	// MaxPxS is the highest speed over an interval of at least SpeedStepMS.
	MaxPxS float64 `json:"max_px_s"`
	// StdDevPxS is the time-weighted standard deviation of those speeds.
	StdDevPxS   float64 `json:"stddev_px_s"`
	MeanNorm    float64 `json:"mean_norm"`
	MaxNorm     float64 `json:"max_norm"`
	StdDevNorm  float64 `json:"stddev_norm"`
	SampleCount int     `json:"sample_count"`
}

// Direction is the distribution of movement direction.
type Direction struct {
	// Bins are fractions of the path length moving in each of eight
	// directions, in the order E, NE, N, NW, W, SW, S, SE (N is up on the
	// screen); each bin is 45° wide, centred on its direction.
	Bins [8]float64 `json:"bins"`
	// Changes counts turns of more than DirectionChangeDeg between
	// consecutive steps of the same stroke.
	Changes int `json:"changes"`
}

// DirectionBinName returns the compass name of Direction.Bins[i].
func DirectionBinName(i int) string {
	names := [8]string{"E", "NE", "N", "NW", "W", "SW", "S", "SE"}
	if i < 0 || i >= len(names) {
		return ""
	}
	return names[i]
}

// Timestamps of the capture. Point times are ms since the capture start.
type Timestamps struct {
	StartedAt    time.Time `json:"started_at"`
	FirstPointMS float64   `json:"first_point_ms"`
	LastPointMS  float64   `json:"last_point_ms"`
	FirstPointAt time.Time `json:"first_point_at"`
	LastPointAt  time.Time `json:"last_point_at"`
}

// BoundingBox of all points, CSS px.
type BoundingBox struct {
	MinX float64 `json:"min_x"`
	MinY float64 `json:"min_y"`
	MaxX float64 `json:"max_x"`
	MaxY float64 `json:"max_y"`
	W    float64 `json:"w"`
	H    float64 `json:"h"`
}

// Pressure statistics over all points.
type Pressure struct {
	Mean float64 `json:"mean"`
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

// strokeStart and strokeEnd are ms since the capture start.
func strokeStart(s Stroke) float64 { return s.T0 + s.Points[0].T }
func strokeEnd(s Stroke) float64   { return s.T0 + s.Points[len(s.Points)-1].T }

// ComputeFeatures computes the features of a structurally valid capture (as
// returned by DecodeCapture). Strokes without points are skipped.
func ComputeFeatures(c *Capture) Features {
	f := Features{Timestamps: Timestamps{StartedAt: c.StartedAt}}
	var (
		first, prev     *Stroke
		box             = BoundingBox{MinX: math.Inf(1), MinY: math.Inf(1), MaxX: math.Inf(-1), MaxY: math.Inf(-1)}
		pSum, pMin, pMx = 0.0, math.Inf(1), math.Inf(-1)
		hasPressure     bool
		dirTotal        float64
		speeds          []speedSample
	)
	for i := range c.Strokes {
		s := &c.Strokes[i]
		if len(s.Points) == 0 {
			continue
		}
		f.StrokeCount++
		f.PointCount += len(s.Points)
		if first == nil {
			first = s
		}
		if prev != nil {
			gap := max(0, strokeStart(*s)-strokeEnd(*prev))
			f.PenUpMS += gap
			if gap >= PauseMinMS {
				f.Pauses.PenUpCount++
				f.Pauses.PenUpMS += gap
			}
		}
		prev = s
		f.PenDownMS += max(0, s.Points[len(s.Points)-1].T-s.Points[0].T)
		for j, p := range s.Points {
			box.MinX, box.MaxX = min(box.MinX, p.X), max(box.MaxX, p.X)
			box.MinY, box.MaxY = min(box.MinY, p.Y), max(box.MaxY, p.Y)
			pSum += p.P
			pMin, pMx = min(pMin, p.P), max(pMx, p.P)
			if p.P != 0 && p.P != 0.5 {
				hasPressure = true
			}
			if j > 0 {
				f.PathLengthPx += dist(s.Points[j-1], p)
			}
		}
		n, ms := stillness(s.Points)
		f.Pauses.StillCount += n
		f.Pauses.StillMS += ms
		dirTotal += directions(s.Points, &f.Direction)
		speeds = appendSpeeds(speeds, s.Points)
	}
	if f.StrokeCount == 0 {
		return f
	}
	f.DurationMS = strokeEnd(*prev) - strokeStart(*first)
	f.Pauses.Count = f.Pauses.PenUpCount + f.Pauses.StillCount
	f.Pauses.TotalMS = f.Pauses.PenUpMS + f.Pauses.StillMS
	box.W, box.H = box.MaxX-box.MinX, box.MaxY-box.MinY
	f.BoundingBox = box
	f.Timestamps.FirstPointMS = strokeStart(*first)
	f.Timestamps.LastPointMS = strokeEnd(*prev)
	f.Timestamps.FirstPointAt = c.StartedAt.Add(msDuration(f.Timestamps.FirstPointMS))
	f.Timestamps.LastPointAt = c.StartedAt.Add(msDuration(f.Timestamps.LastPointMS))
	if hasPressure {
		f.Pressure = &Pressure{Mean: pSum / float64(f.PointCount), Min: pMin, Max: pMx}
	}
	if dirTotal > 0 {
		for i := range f.Direction.Bins {
			f.Direction.Bins[i] /= dirTotal
		}
	}
	f.Speed = speedStats(speeds, f.PathLengthPx, f.PenDownMS, c.Canvas.W)
	return f
}

func msDuration(ms float64) time.Duration {
	return time.Duration(math.Round(ms * float64(time.Millisecond)))
}

func dist(a, b Point) float64 { return math.Hypot(b.X-a.X, b.Y-a.Y) }

// stillness finds the runs of points that stay within StillRadiusPx of the
// run's first point for at least PauseMinMS. It is linear: the next run
// starts after the end of the current one.
func stillness(pts []Point) (count int, totalMS float64) {
	for a := 0; a < len(pts); {
		b := a
		for b+1 < len(pts) && dist(pts[a], pts[b+1]) < StillRadiusPx {
			b++
		}
		if d := pts[b].T - pts[a].T; d >= PauseMinMS {
			count++
			totalMS += d
		}
		a = b + 1
	}
	return count, totalMS
}

// directions adds the stroke's movement steps (of at least DirectionStepPx)
// to the histogram, weighted by length, counts direction changes and returns
// the total step length.
func directions(pts []Point, d *Direction) float64 {
	total := 0.0
	anchor := pts[0]
	var prevDX, prevDY float64
	havePrev := false
	for _, p := range pts[1:] {
		dx, dy := p.X-anchor.X, p.Y-anchor.Y
		l := math.Hypot(dx, dy)
		if l < DirectionStepPx {
			continue
		}
		angle := math.Atan2(-dy, dx) // screen y grows downwards; N is up
		bin := int(math.Round(angle/(math.Pi/4))) % 8
		if bin < 0 {
			bin += 8
		}
		d.Bins[bin] += l
		total += l
		if havePrev {
			turn := math.Abs(math.Atan2(prevDX*dy-prevDY*dx, prevDX*dx+prevDY*dy))
			if turn > DirectionChangeDeg*math.Pi/180 {
				d.Changes++
			}
		}
		prevDX, prevDY, havePrev = dx, dy, true
		anchor = p
	}
	return total
}

type speedSample struct{ pxPerS, ms float64 }

// appendSpeeds appends the stroke's speeds over intervals of at least
// SpeedStepMS.
func appendSpeeds(out []speedSample, pts []Point) []speedSample {
	anchor, path := pts[0], 0.0
	for j := 1; j < len(pts); j++ {
		path += dist(pts[j-1], pts[j])
		dt := pts[j].T - anchor.T
		if dt < SpeedStepMS {
			continue
		}
		out = append(out, speedSample{pxPerS: path / dt * 1000, ms: dt})
		anchor, path = pts[j], 0
	}
	return out
}

func speedStats(samples []speedSample, pathPx, penDownMS, canvasW float64) Speed {
	var s Speed
	s.SampleCount = len(samples)
	if penDownMS > 0 {
		s.MeanPxS = pathPx / penDownMS * 1000
	}
	var wsum, vsum float64
	for _, x := range samples {
		s.MaxPxS = max(s.MaxPxS, x.pxPerS)
		wsum += x.ms
		vsum += x.ms * x.pxPerS
	}
	if wsum > 0 {
		mean := vsum / wsum
		var sq float64
		for _, x := range samples {
			sq += x.ms * (x.pxPerS - mean) * (x.pxPerS - mean)
		}
		s.StdDevPxS = math.Sqrt(sq / wsum)
	}
	if canvasW > 0 {
		s.MeanNorm, s.MaxNorm, s.StdDevNorm = s.MeanPxS/canvasW, s.MaxPxS/canvasW, s.StdDevPxS/canvasW
	}
	return s
}

// Plausibility thresholds. See CAPTURE.md, "Plausibility".
const (
	MinPoints     = 10
	MinDurationMS = 200
	MaxDurationMS = 5 * 60 * 1000
	// CanvasTolerancePx: points may lie this far outside the canvas.
	CanvasTolerancePx = 4.0
	// MinExtentPx: the larger side of the bounding box must reach this.
	MinExtentPx = 20.0
	// MaxCanvasPx bounds the canvas' width and height; MaxDPR its pixel ratio.
	MaxCanvasPx = 10_000
	MaxDPR      = 10
	// MaxSustainedSpeedPxS over any in-stroke interval of at least
	// SustainedWindowMS.
	MaxSustainedSpeedPxS = 20_000
	SustainedWindowMS    = 50
)

// Reject codes, stable strings the browser maps to its own texts.
const (
	CodeMalformed        = "malformed"
	CodeBadCanvas        = "bad_canvas"
	CodeTooFewPoints     = "too_few_points"
	CodeTimeNotMonotonic = "time_not_monotonic"
	CodeAbsurdSpeed      = "absurd_speed"
	CodeTooShort         = "too_short"
	CodeTooLong          = "too_long"
	CodeOutOfCanvas      = "out_of_canvas"
	CodeTooSmall         = "too_small"
)

// ErrImplausible matches every *RejectError with errors.Is.
var ErrImplausible = errors.New("signature: not plausibly a handwritten signature")

// RejectError says why a capture is not plausibly a handwritten signature.
// Detail is for developers (numbers, never pen data); users see a text chosen
// by Code.
type RejectError struct {
	Code   string
	Detail string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("signature implausible (%s): %s", e.Code, e.Detail)
}

// Is makes errors.Is(err, ErrImplausible) true.
func (e *RejectError) Is(target error) bool { return target == ErrImplausible }

func reject(code, format string, args ...any) error {
	return &RejectError{Code: code, Detail: fmt.Sprintf(format, args...)}
}

// CheckPlausible returns nil when the capture is plausibly a handwritten
// signature, else a *RejectError. f must be ComputeFeatures(c). The checks
// run in the order of the codes in CAPTURE.md; the first failing one is
// reported.
func CheckPlausible(c *Capture, f Features) error {
	if err := c.validate(); err != nil {
		return reject(CodeMalformed, "%v", err)
	}
	cv := c.Canvas
	if cv.W < MinExtentPx || cv.H < MinExtentPx || cv.W > MaxCanvasPx || cv.H > MaxCanvasPx {
		return reject(CodeBadCanvas, "canvas %gx%g px, each side must be %g..%d", cv.W, cv.H, MinExtentPx, MaxCanvasPx)
	}
	if cv.DPR <= 0 || cv.DPR > MaxDPR {
		return reject(CodeBadCanvas, "device pixel ratio %g, must be in (0, %d]", cv.DPR, MaxDPR)
	}
	if f.PointCount < MinPoints {
		return reject(CodeTooFewPoints, "%d points, at least %d needed", f.PointCount, MinPoints)
	}
	if err := checkMonotonic(c); err != nil {
		return err
	}
	if f.PenDownMS == 0 && f.PathLengthPx > 0 {
		return reject(CodeAbsurdSpeed, "all points of each stroke share one time stamp")
	}
	if f.DurationMS < MinDurationMS {
		return reject(CodeTooShort, "%.0f ms, at least %d ms needed", f.DurationMS, MinDurationMS)
	}
	if f.DurationMS > MaxDurationMS {
		return reject(CodeTooLong, "%.0f ms, at most %d ms allowed", f.DurationMS, MaxDurationMS)
	}
	if v := maxSustainedSpeed(c); v > MaxSustainedSpeedPxS {
		return reject(CodeAbsurdSpeed, "%.0f px/s over %d ms, at most %d px/s", v, SustainedWindowMS, MaxSustainedSpeedPxS)
	}
	b := f.BoundingBox
	if b.MinX < -CanvasTolerancePx || b.MinY < -CanvasTolerancePx ||
		b.MaxX > cv.W+CanvasTolerancePx || b.MaxY > cv.H+CanvasTolerancePx {
		return reject(CodeOutOfCanvas, "points outside the %gx%g canvas by more than %g px", cv.W, cv.H, CanvasTolerancePx)
	}
	if max(b.W, b.H) < MinExtentPx {
		return reject(CodeTooSmall, "bounding box %.1fx%.1f px, larger side must reach %g px", b.W, b.H, MinExtentPx)
	}
	return nil
}

func checkMonotonic(c *Capture) error {
	prevEnd := math.Inf(-1)
	for i, s := range c.Strokes {
		if s.T0 < 0 {
			return reject(CodeTimeNotMonotonic, "stroke %d starts at t0=%g ms, before the capture", i, s.T0)
		}
		if s.Points[0].T < 0 {
			return reject(CodeTimeNotMonotonic, "stroke %d: first point at t=%g ms, before the stroke", i, s.Points[0].T)
		}
		for j := 1; j < len(s.Points); j++ {
			if s.Points[j].T < s.Points[j-1].T {
				return reject(CodeTimeNotMonotonic, "stroke %d: point %d goes back in time", i, j)
			}
		}
		if strokeStart(s) < prevEnd {
			return reject(CodeTimeNotMonotonic, "stroke %d starts before stroke %d ended", i, i-1)
		}
		prevEnd = strokeEnd(s)
	}
	return nil
}

// maxSustainedSpeed is the highest speed (px/s) over any in-stroke interval
// of at least SustainedWindowMS, measured between sample points. Time must be
// monotonic within strokes.
func maxSustainedSpeed(c *Capture) float64 {
	best := 0.0
	var cum []float64
	for _, s := range c.Strokes {
		pts := s.Points
		cum = append(cum[:0], 0)
		for j := 1; j < len(pts); j++ {
			cum = append(cum, cum[j-1]+dist(pts[j-1], pts[j]))
		}
		j := 0
		for i := range pts {
			for j < len(pts) && pts[j].T-pts[i].T < SustainedWindowMS {
				j++
			}
			if j == len(pts) {
				break
			}
			best = max(best, (cum[j]-cum[i])/(pts[j].T-pts[i].T)*1000)
		}
	}
	return best
}
