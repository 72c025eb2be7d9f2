package exec

import (
	"fmt"
	"time"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// schedule is one scheduled punctuation.
type schedule struct {
	node      *nodeBase
	interval  int64
	next      int64
	seq       uint64
	fn        processor.Punctuator
	cancelled bool
}

func (s *schedule) Cancel() { s.cancelled = true }

// advance moves next past now, skipping the intervals that were missed, as
// Kafka Streams' PunctuationSchedule.next does.
func (s *schedule) advance(now int64) {
	next := s.next + s.interval
	if now >= next {
		missed := (now - s.next) / s.interval
		next = s.next + (missed+1)*s.interval
	}
	s.next = next
}

// punctuations is a small queue of schedules of one clock. A task has few
// schedules, so a slice scanned for the earliest one is enough.
type punctuations struct {
	items []*schedule
	seq   uint64
}

func (q *punctuations) add(s *schedule) {
	q.seq++
	s.seq = q.seq
	q.items = append(q.items, s)
}

// due removes and returns the earliest schedule due at now (ties go to the
// first scheduled), or nil.
func (q *punctuations) due(now int64) *schedule {
	best := -1
	for i := 0; i < len(q.items); i++ {
		s := q.items[i]
		if s.cancelled {
			q.items = append(q.items[:i], q.items[i+1:]...)
			i--
			continue
		}
		if s.next > now {
			continue
		}
		if best < 0 || s.next < q.items[best].next || (s.next == q.items[best].next && s.seq < q.items[best].seq) {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	s := q.items[best]
	q.items = append(q.items[:best], q.items[best+1:]...)
	return s
}

// run fires every schedule due at now once and reports whether any fired.
func (q *punctuations) run(t *Task, now int64) (bool, error) {
	var fired []*schedule
	defer func() {
		for _, s := range fired {
			if !s.cancelled {
				q.items = append(q.items, s)
			}
		}
	}()
	for {
		s := q.due(now)
		if s == nil {
			return len(fired) > 0, nil
		}
		s.advance(now)
		fired = append(fired, s)
		t.metaValid = false
		t.rc = state.RecordContext{Timestamp: now}
		if err := s.fn(now); err != nil {
			return true, fmt.Errorf("task %s: punctuation of %q at %d: %w", t.id, s.node.name, now, wrapNode(s.node.name, err))
		}
	}
}

func (t *Task) schedule(n *nodeBase, interval time.Duration, typ processor.PunctuationType, fn processor.Punctuator) (processor.Cancellable, error) {
	ms := interval.Milliseconds()
	if ms < 1 {
		return nil, fmt.Errorf("processor %q: punctuation interval %v is below the minimum of 1ms", n.name, interval)
	}
	if fn == nil {
		return nil, fmt.Errorf("processor %q: nil punctuator", n.name)
	}
	s := &schedule{node: n, interval: ms, fn: fn}
	switch typ {
	case processor.StreamTime:
		s.next = 0
		t.streamPunct.add(s)
	case processor.WallClockTime:
		s.next = t.env.WallClock() + ms
		t.wallPunct.add(s)
	default:
		return nil, fmt.Errorf("processor %q: unknown punctuation type %v", n.name, typ)
	}
	return s, nil
}
