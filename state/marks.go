package state

import (
	"bytes"
	"encoding/binary"
)

// Marks are small named int64 values that the processor owning a window or
// session store keeps with the store's data: the windowed aggregations keep
// their observed stream time (the largest record timestamp they saw, which
// is not the store's own observed stream time, the latest window start) and
// the window close time they last emitted up to. A mark is staged in the
// task's state when the store flushes, so it commits atomically with the
// windows it describes, survives restarts and is dropped by an abort; a
// logged store also writes it to its changelog, so that a restore on another
// instance brings it back.
//
// In the store's bucket a mark lives under 0xFF 'k' name, after every
// segment (segment ids start with a byte <= 0x7F) and apart from the
// store's metadata (0xFF 'm' ...). In the changelog its key is name followed
// by 16 0xFF bytes: read as a window key (key | start | seq) or a session
// key (key | end | start) its time is negative, which no window or session
// has, so the two never collide.

var markBucketPrefix = []byte{0xFF, 'k'}

// markChangelogSuffix ends the changelog key of a mark.
var markChangelogSuffix = bytes.Repeat([]byte{0xFF}, 16)

func markBucketKey(name string) []byte {
	return append(bytes.Clone(markBucketPrefix), name...)
}

func markChangelogKey(name string) []byte {
	return append([]byte(name), markChangelogSuffix...)
}

// markName returns the mark a changelog key stands for, if it is one.
func markName(changelogKey []byte) (string, bool) {
	if len(changelogKey) < len(markChangelogSuffix) || !bytes.HasSuffix(changelogKey, markChangelogSuffix) {
		return "", false
	}
	return string(changelogKey[:len(changelogKey)-len(markChangelogSuffix)]), true
}

// markSet is a segmented store's marks as the task sees them: values read
// or set since the last abort, and the ones changed since they were last
// staged (and logged).
type markSet struct {
	vals map[string]*markVal
	// dirty marks are staged (and logged) at the next flush or commit.
	dirty []*markVal
	// unlogged marks were staged by a commit without going to the
	// changelog; the next flush logs them.
	unlogged []*markVal
}

type markVal struct {
	name            string
	v               int64
	ok              bool
	dirty, unlogged bool
}

func (m *markSet) reset() {
	m.vals, m.dirty, m.unlogged = nil, nil, nil
}

// mark returns the value of a mark, reading it from the bucket the first
// time.
func (s *segmented) mark(name string) (int64, bool, error) {
	if mv, ok := s.marks.vals[name]; ok && !s.readOnly {
		return mv.v, mv.ok, nil
	}
	mv, err := s.loadMark(name)
	if err != nil {
		return 0, false, err
	}
	return mv.v, mv.ok, nil
}

func (s *segmented) loadMark(name string) (*markVal, error) {
	v, ok, err := s.bucket.Get(markBucketKey(name))
	if err != nil {
		return nil, s.errorf("reading mark %q: %w", name, err)
	}
	mv := &markVal{name: name}
	if ok {
		if len(v) != 8 {
			return nil, s.errorf("corrupt mark %q: %d bytes, want 8", name, len(v))
		}
		mv.v, mv.ok = int64(binary.BigEndian.Uint64(v)), true
	}
	if !s.readOnly {
		if s.marks.vals == nil {
			s.marks.vals = map[string]*markVal{}
		}
		s.marks.vals[name] = mv
	}
	return mv, nil
}

// setMark sets a mark in memory; it is staged at the next flush or commit.
func (s *segmented) setMark(name string, v int64) error {
	if s.readOnly {
		return s.errorf("%w", ErrReadOnly)
	}
	if name == "" {
		return s.errorf("a mark needs a name")
	}
	mv, ok := s.marks.vals[name]
	if !ok {
		var err error
		if mv, err = s.loadMark(name); err != nil {
			return err
		}
	}
	if mv.ok && mv.v == v {
		return nil
	}
	mv.v, mv.ok = v, true
	if !mv.dirty {
		mv.dirty = true
		s.marks.dirty = append(s.marks.dirty, mv)
	}
	return nil
}

// stageMarks writes the changed marks to the task's staged state and, when
// log is set and the store is logged, to the changelog (with the marks a
// commit staged without logging).
func (s *segmented) stageMarks(log bool) error {
	if len(s.marks.dirty) == 0 && (!log || len(s.marks.unlogged) == 0) {
		return nil
	}
	for _, mv := range s.marks.dirty {
		if err := s.bucket.Set(markBucketKey(mv.name), binary.BigEndian.AppendUint64(nil, uint64(mv.v))); err != nil {
			return s.errorf("writing mark %q: %w", mv.name, err)
		}
		mv.dirty = false
		if s.log != nil && !mv.unlogged {
			mv.unlogged = true
			s.marks.unlogged = append(s.marks.unlogged, mv)
		}
	}
	s.marks.dirty = s.marks.dirty[:0]
	if !log || s.log == nil {
		return nil
	}
	for _, mv := range s.marks.unlogged {
		if err := s.log.Log(s.name, markChangelogKey(mv.name), binary.BigEndian.AppendUint64(nil, uint64(mv.v)), max(mv.v, 0)); err != nil {
			return s.errorf("logging mark %q: %w", mv.name, err)
		}
		mv.unlogged = false
	}
	s.marks.unlogged = s.marks.unlogged[:0]
	return nil
}

// restoreMark applies a mark's changelog record to the bucket.
func (s *segmented) restoreMark(name string, value []byte) error {
	s.marks.reset()
	var err error
	if value == nil {
		err = s.bucket.Delete(markBucketKey(name))
	} else {
		if len(value) != 8 {
			return s.errorf("restoring mark %q: %d bytes, want 8", name, len(value))
		}
		err = s.bucket.Set(markBucketKey(name), value)
	}
	if err != nil {
		return s.errorf("restoring mark %q: %w", name, err)
	}
	return nil
}

// splitMarks separates the mark records of a changelog batch from the
// others, applying the marks.
func (s *segmented) splitMarks(recs []ChangelogRecord) ([]ChangelogRecord, error) {
	n := 0
	for _, r := range recs {
		if _, ok := markName(r.Key); ok {
			n++
		}
	}
	if n == 0 {
		return recs, nil
	}
	out := make([]ChangelogRecord, 0, len(recs)-n)
	for _, r := range recs {
		if name, ok := markName(r.Key); ok {
			if err := s.restoreMark(name, r.Value); err != nil {
				return nil, err
			}
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// Mark returns the value a processor keeps under name with the store's
// data (see SetMark), and false when it never set one.
func (s *WindowStore[K, V]) Mark(name string) (int64, bool, error) {
	if err := s.check(); err != nil {
		return 0, false, err
	}
	return s.seg.mark(name)
}

// SetMark keeps v under name with the store's data. Processors use marks
// for what they must remember with their windows, such as their observed
// stream time: a mark commits atomically with the windows (it is staged when
// the store flushes, before the task commits), survives restarts, is
// forgotten by an abort and, when the store is logged, is restored from the
// changelog.
func (s *WindowStore[K, V]) SetMark(name string, v int64) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.seg.setMark(name, v)
}

// Mark returns the value a processor keeps under name with the store's
// data (see SetMark), and false when it never set one.
func (s *SessionStore[K, V]) Mark(name string) (int64, bool, error) {
	if err := s.check(); err != nil {
		return 0, false, err
	}
	return s.seg.mark(name)
}

// SetMark keeps v under name with the store's sessions, as
// WindowStore.SetMark does.
func (s *SessionStore[K, V]) SetMark(name string, v int64) error {
	if err := s.check(); err != nil {
		return err
	}
	return s.seg.setMark(name, v)
}
