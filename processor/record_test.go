package processor_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/processor"
)

func nulls[K, V any](r processor.Record[K, V]) [2]bool {
	return [2]bool{r.KeyIsNull(), r.ValueIsNull()}
}

func TestRecordNullMarks(t *testing.T) {
	r := processor.NewRecord("k", 1, 10)
	if nulls(r) != [2]bool{false, false} || r.Key != "k" || r.Value != 1 || r.Timestamp != 10 || r.Headers != nil {
		t.Errorf("NewRecord = %+v, nulls %v", r, nulls(r))
	}
	ts := processor.Tombstone[string, int]("k", 20)
	if nulls(ts) != [2]bool{false, true} || ts.Key != "k" || ts.Value != 0 || ts.Timestamp != 20 {
		t.Errorf("Tombstone = %+v, nulls %v", ts, nulls(ts))
	}
	both := r.WithNulls(true, true)
	if nulls(both) != [2]bool{true, true} || nulls(r) != [2]bool{false, false} {
		t.Errorf("WithNulls: copy %v, original %v", nulls(both), nulls(r))
	}
	if got := nulls(both.WithKey("new")); got != [2]bool{false, true} {
		t.Errorf("WithKey keeps nulls %v, want [false true]", got)
	}
	if got := nulls(both.WithValue(2)); got != [2]bool{true, false} {
		t.Errorf("WithValue keeps nulls %v, want [true false]", got)
	}
	h := processor.Headers{{Key: "a", Value: []byte("1")}}
	kept := both.WithTimestamp(30).WithHeaders(h)
	if nulls(kept) != [2]bool{true, true} || kept.Timestamp != 30 || !reflect.DeepEqual(kept.Headers, h) {
		t.Errorf("WithTimestamp/WithHeaders = %+v, nulls %v", kept, nulls(kept))
	}
	if m := both.Nulls(); !m.KeyNull() || !m.ValueNull() {
		t.Errorf("Nulls() = %v", m)
	}
	if got := processor.NewRecord("k", 1, 1500).Time(); !got.Equal(time.UnixMilli(1500)) {
		t.Errorf("Time() = %v", got)
	}
}

func TestConvert(t *testing.T) {
	h := processor.Headers{{Key: "a", Value: []byte("1")}}
	in := processor.NewRecord("k", "v", 5).WithHeaders(h).WithNulls(true, true)
	cases := []struct {
		keepKey, keepValue bool
		want               [2]bool
	}{
		{false, false, [2]bool{false, false}},
		{true, false, [2]bool{true, false}},
		{false, true, [2]bool{false, true}},
		{true, true, [2]bool{true, true}},
	}
	for _, c := range cases {
		out := processor.Convert(in, 7, 8.5, c.keepKey, c.keepValue)
		if nulls(out) != c.want || out.Key != 7 || out.Value != 8.5 || out.Timestamp != 5 || !reflect.DeepEqual(out.Headers, h) {
			t.Errorf("Convert(keep %t, %t) = %+v, nulls %v; want nulls %v", c.keepKey, c.keepValue, out, nulls(out), c.want)
		}
	}
	// A record that is not null stays not null.
	if got := nulls(processor.Convert(processor.NewRecord("k", "v", 1), 1, 2, true, true)); got != [2]bool{false, false} {
		t.Errorf("Convert of a non-null record: nulls %v", got)
	}
}

func TestFixedKeyRecord(t *testing.T) {
	h := processor.Headers{{Key: "a", Value: []byte("1")}}
	in := processor.NewFixedKeyRecord(processor.NewRecord("k", "v", 5).WithHeaders(h).WithNulls(true, true))
	if in.Key() != "k" || in.Value() != "v" || in.Timestamp() != 5 || !reflect.DeepEqual(in.Headers(), h) {
		t.Errorf("accessors: %+v", in.Record())
	}
	// WithValue keeps the key's null mark and clears the value's.
	out := processor.WithValue(in, 42).WithTimestamp(6).WithHeaders(nil)
	r := out.Record()
	if nulls(r) != [2]bool{true, false} || r.Key != "k" || r.Value != 42 || r.Timestamp != 6 || r.Headers != nil {
		t.Errorf("WithValue = %+v, nulls %v", r, nulls(r))
	}
	if in.Timestamp() != 5 {
		t.Errorf("WithTimestamp changed the original")
	}
}

func TestHeaders(t *testing.T) {
	h := processor.Headers{{Key: "a", Value: []byte("1")}, {Key: "b", Value: nil}, {Key: "a", Value: []byte("2")}}
	if v, ok := h.Last("a"); !ok || string(v) != "2" {
		t.Errorf("Last(a) = %q, %t", v, ok)
	}
	if v, ok := h.Last("b"); !ok || v != nil {
		t.Errorf("Last(b) = %q, %t; want nil, true", v, ok)
	}
	if v, ok := h.Last("c"); ok || v != nil {
		t.Errorf("Last(c) = %q, %t", v, ok)
	}
	orig := append(processor.Headers(nil), h...)
	with := h.With("c", []byte("3"))
	without := h.Without("a")
	if want := append(append(processor.Headers(nil), orig...), processor.Header{Key: "c", Value: []byte("3")}); !reflect.DeepEqual(with, want) {
		t.Errorf("With = %v, want %v", with, want)
	}
	if want := (processor.Headers{{Key: "b"}}); !reflect.DeepEqual(without, want) {
		t.Errorf("Without = %v, want %v", without, want)
	}
	// Neither changes h, even when h has spare capacity.
	if !reflect.DeepEqual(h, orig) {
		t.Errorf("h changed to %v", h)
	}
	roomy := make(processor.Headers, 1, 4)
	roomy[0] = processor.Header{Key: "x"}
	w1, w2 := roomy.With("y", nil), roomy.With("z", nil)
	if w1[1].Key != "y" || w2[1].Key != "z" {
		t.Errorf("With shares the backing array: %v, %v", w1, w2)
	}
	if got := processor.Headers(nil).Without("a"); len(got) != 0 {
		t.Errorf("nil.Without = %v", got)
	}
}

func TestEnumsString(t *testing.T) {
	got := []string{
		processor.Fail.String(), processor.Skip.String(), processor.DeadLetter.String(), processor.ErrorAction(9).String(),
		processor.StreamTime.String(), processor.WallClockTime.String(), processor.PunctuationType(5).String(),
		processor.TaskID{SubTopology: 3, Partition: 12}.String(),
	}
	want := []string{"fail", "skip", "dead-letter", "ErrorAction(9)", "stream-time", "wall-clock-time", "PunctuationType(5)", "3_12"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if a := processor.FailOnDeserializationError(nil); a != processor.Fail {
		t.Errorf("FailOnDeserializationError = %v", a)
	}
	if a := processor.SkipOnDeserializationError(nil); a != processor.Skip {
		t.Errorf("SkipOnDeserializationError = %v", a)
	}
	if a := processor.DeadLetterOnDeserializationError(nil); a != processor.DeadLetter {
		t.Errorf("DeadLetterOnDeserializationError = %v", a)
	}
}
