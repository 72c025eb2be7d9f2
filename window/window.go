// Package window defines event-time windows: tumbling, hopping, sliding and
// session windows for aggregations, join windows for stream-stream joins,
// grace periods, and the windowed keys (with their serdes) that windowed
// aggregations produce.
//
// Times are milliseconds since the Unix epoch, as record timestamps are.
// Time windows are half-open, [start, end), and aligned to the epoch; sliding
// windows and session windows are closed, [start, end]. A window accepts
// records until stream time passes its end plus the grace period; later
// records are dropped as late.
package window

import (
	"fmt"
	"time"
)

// Window is a window's bounds in milliseconds. For time windows End is
// exclusive; for sliding and session windows it is inclusive.
type Window struct {
	Start, End int64
}

func (w Window) String() string { return fmt.Sprintf("%d/%d", w.Start, w.End) }

// Windowed is a key within a window: the key of a windowed aggregation's
// table.
type Windowed[K any] struct {
	Key    K
	Window Window
}

// String returns the windowed key as Kafka Streams prints it:
// "[key@start/end]".
func (w Windowed[K]) String() string {
	return fmt.Sprintf("[%v@%d/%d]", w.Key, w.Window.Start, w.Window.End)
}

func millis(d time.Duration, what string) (int64, error) {
	if d%time.Millisecond != 0 {
		return 0, fmt.Errorf("window: %s %v is not a whole number of milliseconds", what, d)
	}
	return d.Milliseconds(), nil
}

// TimeWindows are fixed-size windows aligned to the epoch: tumbling when the
// advance equals the size, hopping (overlapping) when it is smaller.
type TimeWindows struct {
	// SizeMs and AdvanceMs are the window size and the distance between
	// window starts.
	SizeMs, AdvanceMs int64
	// GraceMs is how long after a window's end it still accepts records.
	GraceMs int64
	err     error
}

// Tumbling returns non-overlapping windows of the given size, with no grace.
func Tumbling(size time.Duration) TimeWindows { return Hopping(size, size) }

// Hopping returns windows of the given size starting every advance, with no
// grace. The advance must be positive and at most the size.
func Hopping(size, advance time.Duration) TimeWindows {
	s, err := millis(size, "size")
	a, err2 := millis(advance, "advance")
	w := TimeWindows{SizeMs: s, AdvanceMs: a, err: firstErr(err, err2)}
	switch {
	case w.err != nil:
	case s <= 0:
		w.err = fmt.Errorf("window: size %v must be positive", size)
	case a <= 0 || a > s:
		w.err = fmt.Errorf("window: advance %v must be positive and at most the size %v", advance, size)
	}
	return w
}

// WithGrace returns w with a grace period.
func (w TimeWindows) WithGrace(grace time.Duration) TimeWindows {
	g, err := millis(grace, "grace")
	w.GraceMs, w.err = g, firstErr(w.err, err)
	if w.err == nil && g < 0 {
		w.err = fmt.Errorf("window: grace %v is negative", grace)
	}
	return w
}

// Err reports an invalid definition; the DSL reports it at Build.
func (w TimeWindows) Err() error { return w.err }

// WindowsFor returns the windows a record with timestamp ts falls in, by
// start, as Kafka Streams' TimeWindows.windowsFor does.
func (w TimeWindows) WindowsFor(ts int64) []Window {
	start := (max(0, ts-w.SizeMs+w.AdvanceMs) / w.AdvanceMs) * w.AdvanceMs
	var out []Window
	for ; start <= ts; start += w.AdvanceMs {
		out = append(out, Window{Start: start, End: start + w.SizeMs})
	}
	return out
}

// CloseMs is how long after a window's start it closes: size plus grace.
func (w TimeWindows) CloseMs() int64 { return w.SizeMs + w.GraceMs }

// SlidingWindows are windows of a fixed time difference that slide with the
// records: two records fall in a common window when their timestamps differ
// by at most the time difference. Windows are closed, [start, end].
type SlidingWindows struct {
	TimeDifferenceMs int64
	GraceMs          int64
	err              error
}

// Sliding returns sliding windows of the given maximum time difference, with
// no grace.
func Sliding(timeDifference time.Duration) SlidingWindows {
	d, err := millis(timeDifference, "time difference")
	w := SlidingWindows{TimeDifferenceMs: d, err: err}
	if err == nil && d <= 0 {
		w.err = fmt.Errorf("window: time difference %v must be positive", timeDifference)
	}
	return w
}

// WithGrace returns w with a grace period.
func (w SlidingWindows) WithGrace(grace time.Duration) SlidingWindows {
	g, err := millis(grace, "grace")
	w.GraceMs, w.err = g, firstErr(w.err, err)
	if w.err == nil && g < 0 {
		w.err = fmt.Errorf("window: grace %v is negative", grace)
	}
	return w
}

// Err reports an invalid definition.
func (w SlidingWindows) Err() error { return w.err }

// SessionWindows group a key's records into sessions: a session grows while
// records arrive within the inactivity gap of it, and sessions that come
// within the gap of each other merge. Sessions are closed, [first, last].
type SessionWindows struct {
	GapMs   int64
	GraceMs int64
	err     error
}

// Session returns session windows with the given inactivity gap, with no
// grace.
func Session(inactivityGap time.Duration) SessionWindows {
	g, err := millis(inactivityGap, "inactivity gap")
	w := SessionWindows{GapMs: g, err: err}
	if err == nil && g <= 0 {
		w.err = fmt.Errorf("window: inactivity gap %v must be positive", inactivityGap)
	}
	return w
}

// WithGrace returns w with a grace period.
func (w SessionWindows) WithGrace(grace time.Duration) SessionWindows {
	g, err := millis(grace, "grace")
	w.GraceMs, w.err = g, firstErr(w.err, err)
	if w.err == nil && g < 0 {
		w.err = fmt.Errorf("window: grace %v is negative", grace)
	}
	return w
}

// Err reports an invalid definition.
func (w SessionWindows) Err() error { return w.err }

// JoinWindows bound a stream-stream join: a left record at time t joins the
// right records with timestamps in [t - before, t + after], inclusive.
type JoinWindows struct {
	BeforeMs, AfterMs int64
	GraceMs           int64
	err               error
}

// Join returns symmetric join windows: records join when their timestamps
// differ by at most timeDifference. There is no grace.
func Join(timeDifference time.Duration) JoinWindows {
	return JoinAsymmetric(timeDifference, timeDifference)
}

// JoinAsymmetric returns join windows that reach before back and after
// forward from each left record's timestamp. Either may be negative, but
// before + after must not be.
func JoinAsymmetric(before, after time.Duration) JoinWindows {
	b, err := millis(before, "before")
	a, err2 := millis(after, "after")
	w := JoinWindows{BeforeMs: b, AfterMs: a, err: firstErr(err, err2)}
	if w.err == nil && b+a < 0 {
		w.err = fmt.Errorf("window: join window before %v + after %v is negative", before, after)
	}
	return w
}

// WithGrace returns w with a grace period.
func (w JoinWindows) WithGrace(grace time.Duration) JoinWindows {
	g, err := millis(grace, "grace")
	w.GraceMs, w.err = g, firstErr(w.err, err)
	if w.err == nil && g < 0 {
		w.err = fmt.Errorf("window: grace %v is negative", grace)
	}
	return w
}

// Err reports an invalid definition.
func (w JoinWindows) Err() error { return w.err }

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}
