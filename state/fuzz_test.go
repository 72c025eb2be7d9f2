package state

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// Changelog records are read back on restore (by this instance, or another
// one after a move): their keys and values are outside input. These fuzz
// targets feed arbitrary bytes to the decoders that read them.

// FuzzTimestampedSerde decodes the values of timestamped key-value stores.
func FuzzTimestampedSerde(f *testing.F) {
	ts := TimestampedSerde(serde.String())
	for _, v := range []ValueAndTimestamp[string]{{}, {Value: "v", Timestamp: 1717171717171}, {Value: "x", Timestamp: -1}} {
		b, _ := ts.Serialize(v)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := ts.Deserialize(data)
		if len(data) < 8 {
			if err == nil {
				t.Fatalf("%x decoded to %+v", data, v)
			}
			return
		}
		if err != nil {
			t.Fatalf("%x: %v", data, err)
		}
		b, err := ts.Serialize(v)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%x decodes to %+v, which encodes to %x, %v", data, v, b, err)
		}
		a, notNull, err := ts.(serde.Appender[ValueAndTimestamp[string]]).AppendSerialize(nil, v)
		if err != nil || !notNull || !bytes.Equal(a, data) {
			t.Fatalf("AppendSerialize(%+v) = %x, %v, %v", v, a, notNull, err)
		}
		ti := TimestampedSerde(serde.Int64())
		if w, err := ti.Deserialize(data); err == nil {
			if b, err := ti.Serialize(w); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("int64: %x decodes to %+v, which encodes to %x, %v", data, w, b, err)
			}
		}
	})
}

// FuzzWindowKey decodes window store keys (segment | key | start | seq)
// and window changelog keys (key | start | seq).
func FuzzWindowKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, windowSuffix))
	f.Add(make([]byte, 8+windowSuffix))
	f.Add(append(append(make([]byte, 8), "key"...), bytes.Repeat([]byte{0xff}, windowSuffix)...))
	f.Add(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64([]byte("k"), 60_000), 7))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, start, seq, ok := splitWindowKey(data)
		if ok != (len(data) >= 8+windowSuffix) {
			t.Fatalf("splitWindowKey(%x) ok = %v", data, ok)
		}
		if ok {
			back := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(append(bytes.Clone(data[:8]), k...), uint64(start)), seq)
			if !bytes.Equal(back, data) {
				t.Fatalf("splitWindowKey(%x) = %x, %d, %d", data, k, start, seq)
			}
		}
		ts, err := windowChangelogTime(data)
		if err == nil && (len(data) < windowSuffix || ts < 0 || ts != int64(binary.BigEndian.Uint64(data[len(data)-windowSuffix:]))) {
			t.Fatalf("windowChangelogTime(%x) = %d", data, ts)
		}
	})
}

// FuzzSessionKey decodes session store keys (segment | key | end | start)
// and session changelog keys (key | end | start).
func FuzzSessionKey(f *testing.F) {
	f.Add([]byte{})
	f.Add(make([]byte, sessionSuffix))
	f.Add(make([]byte, 8+sessionSuffix))
	f.Add(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("k"), 200), 100))
	f.Add(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64([]byte("k"), 100), 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, start, end, ok := splitSessionKey(data)
		if ok != (len(data) >= 8+sessionSuffix) {
			t.Fatalf("splitSessionKey(%x) ok = %v", data, ok)
		}
		if ok {
			back := binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(append(bytes.Clone(data[:8]), k...), uint64(end)), uint64(start))
			if !bytes.Equal(back, data) {
				t.Fatalf("splitSessionKey(%x) = %x, %d, %d", data, k, start, end)
			}
		}
		end2, err := sessionChangelogTime(data)
		if err == nil {
			n := len(data) - sessionSuffix
			s := int64(binary.BigEndian.Uint64(data[n+8:]))
			if end2 != int64(binary.BigEndian.Uint64(data[n:])) || s < 0 || end2 < s {
				t.Fatalf("sessionChangelogTime(%x) = %d", data, end2)
			}
		}
	})
}

// FuzzBufferedRecord decodes the entries of suppression buffers, which
// their changelog restores.
func FuzzBufferedRecord(f *testing.F) {
	for _, r := range []*BufferedRecord{
		{},
		{Time: 5, Prior: []byte{}, Old: []byte("o"), New: []byte("n"),
			Context: RecordContext{Topic: "t", Partition: 3, Offset: 99, Timestamp: 1000,
				Headers: []processor.Header{{Key: "h", Value: []byte("v")}, {Key: "", Value: nil}}}},
	} {
		f.Add([]byte("key"), encodeBuffered(r))
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte{}, make([]byte, 28))
	f.Add([]byte("k"), append(make([]byte, 28), 1, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Add([]byte("k"), append(make([]byte, 28), 0, 0xff, 0xff, 0xff, 0xff, 0x0f))
	f.Fuzz(func(t *testing.T, key, data []byte) {
		r, err := decodeBuffered(key, data)
		if err != nil {
			return
		}
		if !bytes.Equal(r.Key, key) {
			t.Fatalf("key %x decoded as %x", key, r.Key)
		}
		again, err := decodeBuffered(key, encodeBuffered(r))
		if err != nil || !reflect.DeepEqual(r, again) {
			t.Fatalf("%x decodes to %+v, which round trips to %+v, %v", data, r, again, err)
		}
	})
}
