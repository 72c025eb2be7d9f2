package engine

import (
	"reflect"
	"strconv"
	"testing"
)

func tk(sub int, p int32) TaskID { return TaskID{SubTopology: sub, Partition: p} }

// The subscription and assignment decoders read bytes that other members
// of the consumer group wrote (or anyone who can join it). They must reject
// or decode any input without panicking or allocating without bound, and
// what they decode must survive an encode and decode unchanged.

func FuzzDecodeSubscription(f *testing.F) {
	for _, s := range []Subscription{
		{},
		{ProcessID: [16]byte{1, 2, 3}, Thread: 3, Endpoint: "host-1:8080",
			Active: []TaskID{tk(0, 1), tk(2, 7)}, Standby: []TaskID{tk(1, 0)},
			Offsets: map[TaskID]int64{tk(0, 1): 42, tk(1, 0): -1}, Shutdown: "thread 0 failed"},
		{Thread: -1, Active: []TaskID{tk(1<<20, 1<<31-1)}},
	} {
		f.Add(s.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{protocolVersion})
	f.Add([]byte{2, 0})
	f.Add(append((&Subscription{}).Encode(), 0))
	f.Add(append([]byte{protocolVersion}, make([]byte, 17)...))
	f.Add([]byte{protocolVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := DecodeSubscription(data)
		if err != nil {
			if !reflect.DeepEqual(s, Subscription{}) {
				t.Fatalf("a failed decode returned %+v", s)
			}
			return
		}
		again, err := DecodeSubscription(s.Encode())
		if err != nil || !reflect.DeepEqual(s, again) {
			t.Fatalf("%x decodes to %+v, which round trips to %+v, %v", data, s, again, err)
		}
	})
}

func FuzzDecodeAssignment(f *testing.F) {
	for _, a := range []AssignmentInfo{
		{},
		{Active: []TaskID{tk(0, 0), tk(0, 3)}, Standby: []TaskID{tk(1, 2)},
			Hosts: []HostInfo{
				{ProcessID: [16]byte{9}, Endpoint: "a:1", Active: []TaskID{tk(0, 0)}},
				{Endpoint: "[::1]:8080", Standby: []TaskID{tk(0, 3)}},
			}, Shutdown: "stop"},
	} {
		f.Add(a.Encode())
	}
	f.Add([]byte{})
	f.Add([]byte{protocolVersion, 0, 0, 0xff, 0xff, 0x03})
	f.Add([]byte{protocolVersion, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := DecodeAssignment(data)
		if err != nil {
			if !reflect.DeepEqual(a, AssignmentInfo{}) {
				t.Fatalf("a failed decode returned %+v", a)
			}
			return
		}
		again, err := DecodeAssignment(a.Encode())
		if err != nil || !reflect.DeepEqual(a, again) {
			t.Fatalf("%x decodes to %+v, which round trips to %+v, %v", data, a, again, err)
		}
	})
}

// FuzzParsePartitionTime reads the partition time in committed offsets'
// metadata, which any client of the group can write.
func FuzzParsePartitionTime(f *testing.F) {
	for _, s := range []string{"", "streams:v1:0", "streams:v1:-1", "streams:v1:9223372036854775807",
		"streams:v1:9223372036854775808", "streams:v1:", "streams:v1:+5", "streams:v1:0x10", "streams:v2:5", "other"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, meta string) {
		pt, ok := parsePartitionTime(meta)
		if !ok {
			return // the caller ignores pt (an overflowing number gives the int64 limit)
		}
		if back, ok := parsePartitionTime(partitionTimeMeta(pt)); !ok || back != pt {
			t.Fatalf("%q parses to %d, which round trips to %d, %v", meta, pt, back, ok)
		}
		if want := "streams:v1:" + strconv.FormatInt(pt, 10); partitionTimeMeta(pt) != want {
			t.Fatalf("partitionTimeMeta(%d) = %q", pt, partitionTimeMeta(pt))
		}
	})
}
