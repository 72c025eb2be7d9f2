package processor

import "time"

// NoTimestamp marks an unknown time, such as the stream time of a task that
// has not processed a record yet. It equals Kafka's ConsumerRecord.NO_TIMESTAMP.
const NoTimestamp int64 = -1

// Record is one typed key-value record flowing through a topology.
//
// Timestamp is the record's event time in milliseconds since the Unix epoch.
// Headers travel with the record to every sink; processors must not modify a
// received Headers slice in place (use [Headers.With] or [Headers.Without],
// which copy).
//
// A record read from Kafka with a null key or a null value (a tombstone)
// carries that fact with it while it passes through operators that keep the
// key or the value unchanged, so that it is written back as null by a sink
// and ignored by aggregations and joins exactly where Kafka Streams ignores
// nulls. [Record.KeyIsNull] and [Record.ValueIsNull] report it. Setting a new
// key or value with [Record.WithKey] or [Record.WithValue] clears the mark; a
// Record built as a struct literal is never null. For types that can hold nil
// (pointers, slices, maps) the null key or value is also their nil value;
// for other types it is the zero value.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp int64
	Headers   Headers

	// nulls holds keyNull and valueNull bits; unexported so that records
	// built by users are never null by accident.
	nulls uint8
}

const (
	keyNull   uint8 = 1 << 0
	valueNull uint8 = 1 << 1
)

// NewRecord returns a record with the given key, value and timestamp.
func NewRecord[K, V any](key K, value V, timestamp int64) Record[K, V] {
	return Record[K, V]{Key: key, Value: value, Timestamp: timestamp}
}

// Tombstone returns a record for key whose value is null: written to a topic
// it is a tombstone, and turned into a table it deletes the key.
func Tombstone[K, V any](key K, timestamp int64) Record[K, V] {
	return Record[K, V]{Key: key, Timestamp: timestamp, nulls: valueNull}
}

// KeyIsNull reports whether the record's key is null: it was read from Kafka
// without a key and has not been given one since.
func (r Record[K, V]) KeyIsNull() bool { return r.nulls&keyNull != 0 }

// ValueIsNull reports whether the record's value is null (a tombstone).
func (r Record[K, V]) ValueIsNull() bool { return r.nulls&valueNull != 0 }

// WithKey returns a copy of r with the given key; the copy's key is not null.
func (r Record[K, V]) WithKey(key K) Record[K, V] {
	r.Key = key
	r.nulls &^= keyNull
	return r
}

// WithValue returns a copy of r with the given value; the copy's value is not
// null.
func (r Record[K, V]) WithValue(value V) Record[K, V] {
	r.Value = value
	r.nulls &^= valueNull
	return r
}

// WithTimestamp returns a copy of r with the given timestamp.
func (r Record[K, V]) WithTimestamp(ts int64) Record[K, V] {
	r.Timestamp = ts
	return r
}

// WithHeaders returns a copy of r with the given headers.
func (r Record[K, V]) WithHeaders(h Headers) Record[K, V] {
	r.Headers = h
	return r
}

// Time returns the record timestamp as a time.Time.
func (r Record[K, V]) Time() time.Time { return time.UnixMilli(r.Timestamp) }

// Nulls returns the record's null marks as a small bit set, for code that
// builds records of other types from this one (see [Convert]).
func (r Record[K, V]) Nulls() NullMarks { return NullMarks(r.nulls) }

// NullMarks is the null-key and null-value state of a record.
type NullMarks uint8

// KeyNull reports whether the key is null.
func (n NullMarks) KeyNull() bool { return uint8(n)&keyNull != 0 }

// ValueNull reports whether the value is null.
func (n NullMarks) ValueNull() bool { return uint8(n)&valueNull != 0 }

// Convert builds a record of other types with the given key and value and
// r's timestamp and headers. keepKeyNull and keepValueNull say whether the
// new key and value stand for r's key and value (so that a null stays null),
// as when an operator changes only the type of a key or a value.
func Convert[K, V, KR, VR any](r Record[K, V], key KR, value VR, keepKeyNull, keepValueNull bool) Record[KR, VR] {
	out := Record[KR, VR]{Key: key, Value: value, Timestamp: r.Timestamp, Headers: r.Headers}
	if keepKeyNull {
		out.nulls |= r.nulls & keyNull
	}
	if keepValueNull {
		out.nulls |= r.nulls & valueNull
	}
	return out
}

// WithNulls returns a copy of r with the given null marks. It is meant for
// the engine's source nodes, which know whether the bytes they decoded were
// null.
func (r Record[K, V]) WithNulls(keyIsNull, valueIsNull bool) Record[K, V] {
	r.nulls = 0
	if keyIsNull {
		r.nulls |= keyNull
	}
	if valueIsNull {
		r.nulls |= valueNull
	}
	return r
}
