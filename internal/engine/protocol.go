package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// protocolVersion is the version of the subscription and assignment
// encodings; decoders reject versions they do not know.
const protocolVersion = 1

// Subscription is what a member tells the group leader in JoinGroup: who it
// is, where it serves queries, what it ran before, and how far its local
// state of each task has got.
type Subscription struct {
	ProcessID [16]byte
	Thread    int32
	Endpoint  string
	Active    []TaskID
	Standby   []TaskID
	// Offsets maps tasks with local state to the sum of their stores'
	// changelog offsets (a measure of how caught up the copy is).
	Offsets map[TaskID]int64
	// Shutdown, when set, asks the whole application to shut down, for
	// this reason.
	Shutdown string
}

// HostInfo is where one instance runs tasks, for routing queries.
type HostInfo struct {
	ProcessID [16]byte
	Endpoint  string
	Active    []TaskID
	Standby   []TaskID
}

// AssignmentInfo is what the leader hands each member besides partitions:
// its tasks, and every instance's tasks.
type AssignmentInfo struct {
	Active  []TaskID
	Standby []TaskID
	Hosts   []HostInfo
	// Shutdown, when set, tells every member to shut down: a member asked
	// for it, for this reason.
	Shutdown string
}

// Limits that keep a decoder from allocating on behalf of hostile input.
const (
	maxTasks    = 1 << 20
	maxHosts    = 1 << 14
	maxEndpoint = 1024
	maxReason   = 4096
)

var errShort = errors.New("truncated")

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail(errShort)
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(errShort)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) count(limit int, what string) int {
	n := r.uvarint()
	if n > uint64(limit) {
		r.fail(fmt.Errorf("%d %s exceed the limit of %d", n, what, limit))
		return 0
	}
	// Every element takes at least one byte.
	if n > uint64(len(r.b)) {
		r.fail(errShort)
		return 0
	}
	return int(n)
}

func (r *reader) tasks() []TaskID {
	n := r.count(maxTasks, "tasks")
	out := make([]TaskID, 0, n)
	for range n {
		sub := r.uvarint()
		p := r.uvarint()
		if sub > 1<<20 || p > 1<<31-1 {
			r.fail(fmt.Errorf("task %d_%d out of range", sub, p))
			return nil
		}
		out = append(out, TaskID{SubTopology: int(sub), Partition: int32(p)})
	}
	return out
}

func (r *reader) str(limit int) string {
	n := r.uvarint()
	if n > uint64(limit) {
		r.fail(fmt.Errorf("string of %d bytes exceeds the limit of %d", n, limit))
		return ""
	}
	return string(r.bytes(int(n)))
}

func appendTasks(b []byte, ts []TaskID) []byte {
	b = binary.AppendUvarint(b, uint64(len(ts)))
	for _, t := range ts {
		b = binary.AppendUvarint(b, uint64(t.SubTopology))
		b = binary.AppendUvarint(b, uint64(t.Partition))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// Encode returns the subscription's bytes.
func (s *Subscription) Encode() []byte {
	b := []byte{protocolVersion}
	b = append(b, s.ProcessID[:]...)
	b = binary.AppendVarint(b, int64(s.Thread))
	b = appendString(b, s.Endpoint)
	b = appendTasks(b, s.Active)
	b = appendTasks(b, s.Standby)
	keys := make([]TaskID, 0, len(s.Offsets))
	for t := range s.Offsets {
		keys = append(keys, t)
	}
	slices.SortFunc(keys, compareTasks)
	b = appendTasks(b, keys)
	for _, t := range keys {
		b = binary.AppendVarint(b, s.Offsets[t])
	}
	return appendString(b, s.Shutdown)
}

// DecodeSubscription parses a subscription, rejecting malformed input.
func DecodeSubscription(data []byte) (Subscription, error) {
	var s Subscription
	if len(data) == 0 || data[0] != protocolVersion {
		return s, fmt.Errorf("engine: subscription: unknown version")
	}
	r := &reader{b: data[1:]}
	copy(s.ProcessID[:], r.bytes(16))
	s.Thread = int32(r.varint())
	s.Endpoint = r.str(maxEndpoint)
	s.Active = r.tasks()
	s.Standby = r.tasks()
	keys := r.tasks()
	if len(keys) > 0 {
		s.Offsets = make(map[TaskID]int64, len(keys))
	}
	for _, t := range keys {
		s.Offsets[t] = r.varint()
	}
	s.Shutdown = r.str(maxReason)
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Errorf("%d trailing bytes", len(r.b)))
	}
	if r.err != nil {
		return Subscription{}, fmt.Errorf("engine: subscription: %w", r.err)
	}
	return s, nil
}

// Encode returns the assignment's bytes.
func (a *AssignmentInfo) Encode() []byte {
	b := []byte{protocolVersion}
	b = appendTasks(b, a.Active)
	b = appendTasks(b, a.Standby)
	b = binary.AppendUvarint(b, uint64(len(a.Hosts)))
	for _, h := range a.Hosts {
		b = append(b, h.ProcessID[:]...)
		b = appendString(b, h.Endpoint)
		b = appendTasks(b, h.Active)
		b = appendTasks(b, h.Standby)
	}
	return appendString(b, a.Shutdown)
}

// DecodeAssignment parses an assignment, rejecting malformed input.
func DecodeAssignment(data []byte) (AssignmentInfo, error) {
	var a AssignmentInfo
	if len(data) == 0 || data[0] != protocolVersion {
		return a, fmt.Errorf("engine: assignment: unknown version")
	}
	r := &reader{b: data[1:]}
	a.Active = r.tasks()
	a.Standby = r.tasks()
	n := r.count(maxHosts, "hosts")
	for range n {
		var h HostInfo
		copy(h.ProcessID[:], r.bytes(16))
		h.Endpoint = r.str(maxEndpoint)
		h.Active = r.tasks()
		h.Standby = r.tasks()
		if r.err != nil {
			break
		}
		a.Hosts = append(a.Hosts, h)
	}
	a.Shutdown = r.str(maxReason)
	if r.err == nil && len(r.b) != 0 {
		r.fail(fmt.Errorf("%d trailing bytes", len(r.b)))
	}
	if r.err != nil {
		return AssignmentInfo{}, fmt.Errorf("engine: assignment: %w", r.err)
	}
	return a, nil
}
