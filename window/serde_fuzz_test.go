package window_test

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/window"
)

// Windowed keys come from repartition topics, output topics and
// changelogs. Their decoders must reject or decode any bytes without
// panicking, and a decoded key must encode back to the same bytes.

func windowedSeeds(f *testing.F, suffix int) {
	f.Add([]byte{})
	f.Add(make([]byte, suffix-1))
	f.Add(make([]byte, suffix))
	f.Add(append([]byte("key"), bytes.Repeat([]byte{0xff}, suffix)...))
	f.Add(append(binary.BigEndian.AppendUint64(nil, 42), make([]byte, suffix)...))
}

func FuzzTimeWindowedSerde(f *testing.F) {
	windowedSeeds(f, 8)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, s := range []serde.Serde[window.Windowed[string]]{
			window.TimeWindowedSerde(serde.String(), 60_000),
			window.TimeWindowedSerde(serde.String(), 1<<62),
		} {
			w, err := s.Deserialize(data)
			if len(data) < 8 {
				if err == nil {
					t.Fatalf("%s: %x decoded to %v", serde.Name(s), data, w)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %x: %v", serde.Name(s), data, err)
			}
			b, err := s.Serialize(w)
			if err != nil || !bytes.Equal(b, data) {
				t.Fatalf("%s: %x decodes to %v, which encodes to %x, %v", serde.Name(s), data, w, b, err)
			}
		}
		li := window.TimeWindowedSerde(serde.Int64(), 1000)
		w, err := li.Deserialize(data)
		if err != nil {
			return
		}
		if b, err := li.Serialize(w); err != nil || !bytes.Equal(b, data) {
			t.Fatalf("int64 key: %x decodes to %v, which encodes to %x, %v", data, w, b, err)
		}
	})
}

func FuzzSessionWindowedSerde(f *testing.F) {
	windowedSeeds(f, 16)
	f.Fuzz(func(t *testing.T, data []byte) {
		s := window.SessionWindowedSerde(serde.String())
		w, err := s.Deserialize(data)
		if len(data) < 16 {
			if err == nil {
				t.Fatalf("%x decoded to %v", data, w)
			}
			return
		}
		if err != nil {
			t.Fatalf("%x: %v", data, err)
		}
		b, err := s.Serialize(w)
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("%x decodes to %v, which encodes to %x, %v", data, w, b, err)
		}
		li := window.SessionWindowedSerde(serde.Int32())
		if w, err := li.Deserialize(data); err == nil {
			if b, err := li.Serialize(w); err != nil || !bytes.Equal(b, data) {
				t.Fatalf("int32 key: %x decodes to %v, which encodes to %x, %v", data, w, b, err)
			}
		}
	})
}
