package window_test

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/window"
)

func TestWindowsFor(t *testing.T) {
	for _, c := range []struct {
		w    window.TimeWindows
		ts   int64
		want string
	}{
		{window.Tumbling(10 * time.Millisecond), 0, "[0/10]"},
		{window.Tumbling(10 * time.Millisecond), 9, "[0/10]"},
		{window.Tumbling(10 * time.Millisecond), 10, "[10/20]"},
		{window.Hopping(10*time.Millisecond, 5*time.Millisecond), 3, "[0/10]"},
		{window.Hopping(10*time.Millisecond, 5*time.Millisecond), 7, "[0/10 5/15]"},
		{window.Hopping(10*time.Millisecond, 3*time.Millisecond), 10, "[3/13 6/16 9/19]"},
		{window.Tumbling(time.Minute), 61_000, "[60000/120000]"},
	} {
		if got := fmt.Sprint(c.w.WindowsFor(c.ts)); got != c.want {
			t.Errorf("%+v.WindowsFor(%d) = %s, want %s", c.w, c.ts, got, c.want)
		}
	}
	if got := window.Tumbling(10 * time.Millisecond).WithGrace(5 * time.Millisecond).CloseMs(); got != 15 {
		t.Errorf("CloseMs = %d, want 15", got)
	}
}

func TestWindowErrors(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{window.Tumbling(0).Err(), "size 0s must be positive"},
		{window.Tumbling(time.Microsecond).Err(), "not a whole number of milliseconds"},
		{window.Hopping(time.Second, 2*time.Second).Err(), "at most the size"},
		{window.Tumbling(time.Second).WithGrace(-time.Second).Err(), "grace -1s is negative"},
		{window.Sliding(0).Err(), "time difference 0s must be positive"},
		{window.Session(0).Err(), "inactivity gap 0s must be positive"},
		{window.UntilTimeLimit(-time.Second, window.Unbounded()).Err(), "time limit -1s is negative"},
		{window.UntilWindowCloses(window.MaxRecords(3)).Err(), "needs a strict buffer"},
		{window.UntilWindowCloses(window.MaxRecords(-1).ShutDownWhenFull()).Err(), "record limit -1 is negative"},
		{window.UntilTimeLimit(time.Second, window.MaxBytes(-1)).Err(), "byte limit -1 is negative"},
	} {
		if c.err == nil || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("error %v, want one containing %q", c.err, c.want)
		}
	}
	for _, err := range []error{
		window.UntilWindowCloses(window.Unbounded()).Err(),
		window.UntilWindowCloses(window.MaxRecords(3).ShutDownWhenFull()).Err(),
		window.UntilWindowCloses(window.BufferConfig{}).Err(),
		window.UntilTimeLimit(0, window.MaxBytes(10)).Err(),
	} {
		if err != nil {
			t.Errorf("unexpected error %v", err)
		}
	}
}

func TestBufferConfig(t *testing.T) {
	var zero window.BufferConfig
	if zero.MaxRecordsLimit() != math.MaxInt64 || zero.MaxBytesLimit() != math.MaxInt64 ||
		zero.FullPolicy() != window.ShutDownWhenFull || !zero.Logging() {
		t.Errorf("the zero BufferConfig is not an unbounded, strict, logged buffer: %+v", zero)
	}
	c := window.MaxRecords(5).WithMaxBytes(100).WithLoggingDisabled()
	if c.MaxRecordsLimit() != 5 || c.MaxBytesLimit() != 100 || c.FullPolicy() != window.EmitEarlyWhenFull || c.Logging() {
		t.Errorf("MaxRecords(5).WithMaxBytes(100).WithLoggingDisabled() = %+v", c)
	}
	if got := c.ShutDownWhenFull().FullPolicy(); got != window.ShutDownWhenFull {
		t.Errorf("ShutDownWhenFull: %v", got)
	}
	s := window.UntilTimeLimit(2*time.Second, c)
	if s.UntilWindowCloses() || s.TimeLimitMs() != 2000 || s.Buffer().MaxRecordsLimit() != 5 {
		t.Errorf("UntilTimeLimit = %+v", s)
	}
	if !window.UntilWindowCloses(window.Unbounded()).UntilWindowCloses() {
		t.Error("UntilWindowCloses does not say so")
	}
	if window.ShutDownWhenFull.String() != "shut down when full" || window.EmitEarlyWhenFull.String() != "emit early when full" {
		t.Error("BufferFullPolicy names")
	}
}

func TestWindowedSerdes(t *testing.T) {
	tw := window.TimeWindowedSerde(serde.String(), 10)
	k := window.Windowed[string]{Key: "key", Window: window.Window{Start: 20, End: 30}}
	b, err := tw.Serialize(k)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("key"), 0, 0, 0, 0, 0, 0, 0, 20); !bytes.Equal(b, want) {
		t.Errorf("time-windowed bytes = %v, want %v", b, want)
	}
	if got, err := tw.Deserialize(b); err != nil || got != k {
		t.Errorf("time-windowed round trip = %v, %v", got, err)
	}
	sw := window.SessionWindowedSerde(serde.String())
	sk := window.Windowed[string]{Key: "key", Window: window.Window{Start: 3, End: 7}}
	b, err = sw.Serialize(sk)
	if err != nil {
		t.Fatal(err)
	}
	if want := append([]byte("key"), 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 3); !bytes.Equal(b, want) {
		t.Errorf("session-windowed bytes = %v, want %v", b, want)
	}
	if got, err := sw.Deserialize(b); err != nil || got != sk {
		t.Errorf("session-windowed round trip = %v, %v", got, err)
	}
	if _, err := tw.Deserialize([]byte{1, 2}); err == nil {
		t.Error("a short time-windowed key decoded")
	}
	if _, err := sw.Deserialize([]byte{1, 2}); err == nil {
		t.Error("a short session-windowed key decoded")
	}
	// Sinks partition windowed keys by their key alone.
	type baseKeyer interface {
		SerializeBaseKey(window.Windowed[string]) ([]byte, error)
	}
	for _, s := range []serde.Serde[window.Windowed[string]]{tw, sw} {
		bk, ok := s.(baseKeyer)
		if !ok {
			t.Fatalf("%T does not serialize base keys", s)
		}
		if b, err := bk.SerializeBaseKey(k); err != nil || string(b) != "key" {
			t.Errorf("%T.SerializeBaseKey = %q, %v", s, b, err)
		}
	}
	if got := k.String(); got != "[key@20/30]" {
		t.Errorf("String = %s", got)
	}
}

// TestWindowedSerdesAppend checks the bytes the windowed serdes append to a
// buffer and serialize, with an appending inner serde and without one, and
// that they report as null only what Serialize returns as null.
func TestWindowedSerdesAppend(t *testing.T) {
	plain := serde.Funcs(func(s string) ([]byte, error) { return []byte(s), nil },
		func(b []byte) (string, error) { return string(b), nil })
	failing := serde.Funcs(func(string) ([]byte, error) { return nil, errors.New("no") },
		func([]byte) (string, error) { return "", nil })
	k := window.Windowed[string]{Key: "key", Window: window.Window{Start: 20, End: 30}}
	timeBytes := "key\x00\x00\x00\x00\x00\x00\x00\x14"
	sessionBytes := "key\x00\x00\x00\x00\x00\x00\x00\x1e\x00\x00\x00\x00\x00\x00\x00\x14"
	for _, c := range []struct {
		s    serde.Serde[window.Windowed[string]]
		want string
	}{
		{window.TimeWindowedSerde(serde.String(), 10), timeBytes},
		{window.TimeWindowedSerde(plain, 10), timeBytes},
		{window.SessionWindowedSerde(serde.String()), sessionBytes},
		{window.SessionWindowedSerde(plain), sessionBytes},
	} {
		a, ok := c.s.(serde.Appender[window.Windowed[string]])
		if !ok {
			t.Fatalf("%s does not append", serde.Name(c.s))
		}
		got, notNull, err := a.AppendSerialize([]byte("prefix"), k)
		if err != nil || !notNull || string(got) != "prefix"+c.want {
			t.Errorf("%s: appended %q, %v, %v; want %q, true", serde.Name(c.s), got, notNull, err, "prefix"+c.want)
		}
		if b, err := c.s.Serialize(k); err != nil || string(b) != c.want {
			t.Errorf("%s: serialized %q, %v; want %q", serde.Name(c.s), b, err, c.want)
		}
	}
	// A null key: no time-windowed key, a session-windowed key of its
	// window alone.
	nk := window.Windowed[[]byte]{Window: window.Window{Start: 20, End: 30}}
	for _, s := range []serde.Serde[window.Windowed[[]byte]]{
		window.TimeWindowedSerde(serde.Bytes(), 10),
		window.SessionWindowedSerde(serde.Bytes()),
	} {
		want, err := s.Serialize(nk)
		if err != nil {
			t.Fatal(err)
		}
		got, notNull, err := s.(serde.Appender[window.Windowed[[]byte]]).AppendSerialize([]byte("prefix"), nk)
		if err != nil || notNull != (want != nil) || string(got) != "prefix"+string(want) {
			t.Errorf("%s, null key: appended %q, %v, %v; Serialize returns %v", serde.Name(s), got, notNull, err, want)
		}
	}
	for _, s := range []serde.Serde[window.Windowed[string]]{
		window.TimeWindowedSerde(failing, 10),
		window.SessionWindowedSerde(failing),
	} {
		got, notNull, err := s.(serde.Appender[window.Windowed[string]]).AppendSerialize([]byte("prefix"), k)
		if err == nil || err.Error() != "no" || notNull || string(got) != "prefix" {
			t.Errorf("%s with a failing key serde: appended %q, %v, %v; want %q, false, no", serde.Name(s), got, notNull, err, "prefix")
		}
	}
}
