package window

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Suppressed configures a table's Suppress operator, Kafka Streams'
// Suppressed: which updates it holds back, and the buffer that holds them.
//
//   - UntilWindowCloses holds every update of a windowed table's window
//     until the window closes (stream time reaches its end plus the grace
//     period), then emits the window's final result once.
//   - UntilTimeLimit holds the updates of each key of any table until the
//     given stream time has passed since the key's first held update, then
//     emits the key's latest value: a rate limit.
type Suppressed struct {
	windowCloses bool
	timeLimitMs  int64
	buffer       BufferConfig
	err          error
}

// UntilWindowCloses suppresses the updates of a windowed table until each
// window closes, then emits the window's final value once; a window that
// is deleted before it closes emits nothing. The buffer must not emit early
// (it must be Unbounded or use ShutDownWhenFull): an early emit would not be
// final.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	s := Suppressed{windowCloses: true, buffer: buffer, err: buffer.err}
	if s.err == nil && buffer.full == EmitEarlyWhenFull {
		s.err = errors.New("window: UntilWindowCloses needs a strict buffer (Unbounded, or ShutDownWhenFull): " +
			"emitting early would emit results that are not final")
	}
	return s
}

// UntilTimeLimit suppresses the updates of each key until timeLimit of
// stream time has passed since the first update it holds back (stream time
// being the largest timestamp of the updates the operator saw), then emits
// the key's latest update. A zero limit emits every update at once.
func UntilTimeLimit(timeLimit time.Duration, buffer BufferConfig) Suppressed {
	ms, err := millis(timeLimit, "time limit")
	s := Suppressed{timeLimitMs: ms, buffer: buffer, err: firstErr(err, buffer.err)}
	if s.err == nil && ms < 0 {
		s.err = fmt.Errorf("window: time limit %v is negative", timeLimit)
	}
	return s
}

// Err reports an invalid configuration; Suppress reports it at Build.
func (s Suppressed) Err() error { return s.err }

// UntilWindowCloses reports whether s holds updates until their windows
// close.
func (s Suppressed) UntilWindowCloses() bool { return s.windowCloses }

// TimeLimitMs returns the time limit of an UntilTimeLimit suppression.
func (s Suppressed) TimeLimitMs() int64 { return s.timeLimitMs }

// Buffer returns the buffer configuration.
func (s Suppressed) Buffer() BufferConfig { return s.buffer }

// BufferFullPolicy says what a suppression does when its buffer is full.
type BufferFullPolicy int

const (
	// ShutDownWhenFull fails processing with an error naming the operator
	// and the buffer's use and bounds: a strict buffer never emits early.
	ShutDownWhenFull BufferFullPolicy = iota
	// EmitEarlyWhenFull emits the oldest buffered updates (by buffer time,
	// then key) until the buffer fits again.
	EmitEarlyWhenFull
)

func (p BufferFullPolicy) String() string {
	switch p {
	case ShutDownWhenFull:
		return "shut down when full"
	case EmitEarlyWhenFull:
		return "emit early when full"
	}
	return fmt.Sprintf("BufferFullPolicy(%d)", int(p))
}

// BufferConfig bounds a suppression buffer, by number of keys and by
// estimated bytes (each entry counts its key, its values, 8 bytes of buffer
// time and its record context: 20 bytes, the topic name and the headers),
// and says what happens when it is full. The buffer is kept in a logged
// state store unless WithLoggingDisabled. The zero BufferConfig is
// Unbounded.
type BufferConfig struct {
	maxRecords, maxBytes       int64
	hasMaxRecords, hasMaxBytes bool
	full                       BufferFullPolicy
	noLogging                  bool
	err                        error
}

// Unbounded returns a buffer with no bound; it never emits early.
func Unbounded() BufferConfig { return BufferConfig{full: ShutDownWhenFull} }

// MaxRecords returns a buffer of at most n keys that emits early when full
// (as Kafka Streams' BufferConfig.maxRecords); use ShutDownWhenFull for a
// strict one.
func MaxRecords(n int64) BufferConfig {
	return BufferConfig{full: EmitEarlyWhenFull}.WithMaxRecords(n)
}

// MaxBytes returns a buffer of at most n estimated bytes that emits early
// when full (as Kafka Streams' BufferConfig.maxBytes).
func MaxBytes(n int64) BufferConfig {
	return BufferConfig{full: EmitEarlyWhenFull}.WithMaxBytes(n)
}

// WithMaxRecords bounds the buffer to n keys.
func (c BufferConfig) WithMaxRecords(n int64) BufferConfig {
	c.maxRecords, c.hasMaxRecords = n, true
	if c.err == nil && n < 0 {
		c.err = fmt.Errorf("window: buffer record limit %d is negative", n)
	}
	return c
}

// WithMaxBytes bounds the buffer to n estimated bytes.
func (c BufferConfig) WithMaxBytes(n int64) BufferConfig {
	c.maxBytes, c.hasMaxBytes = n, true
	if c.err == nil && n < 0 {
		c.err = fmt.Errorf("window: buffer byte limit %d is negative", n)
	}
	return c
}

// EmitEarlyWhenFull makes a full buffer emit its oldest updates.
func (c BufferConfig) EmitEarlyWhenFull() BufferConfig { c.full = EmitEarlyWhenFull; return c }

// ShutDownWhenFull makes a full buffer fail processing.
func (c BufferConfig) ShutDownWhenFull() BufferConfig { c.full = ShutDownWhenFull; return c }

// WithLoggingDisabled keeps the buffer without a changelog: it survives
// restarts on the same state directory, but not a move to another instance.
func (c BufferConfig) WithLoggingDisabled() BufferConfig { c.noLogging = true; return c }

// MaxRecordsLimit returns the record bound (math.MaxInt64 when unbounded).
func (c BufferConfig) MaxRecordsLimit() int64 {
	if !c.hasMaxRecords {
		return math.MaxInt64
	}
	return c.maxRecords
}

// MaxBytesLimit returns the byte bound (math.MaxInt64 when unbounded).
func (c BufferConfig) MaxBytesLimit() int64 {
	if !c.hasMaxBytes {
		return math.MaxInt64
	}
	return c.maxBytes
}

// FullPolicy returns what a full buffer does.
func (c BufferConfig) FullPolicy() BufferFullPolicy { return c.full }

// Logging reports whether the buffer has a changelog.
func (c BufferConfig) Logging() bool { return !c.noLogging }

// Err reports an invalid configuration.
func (c BufferConfig) Err() error { return c.err }
