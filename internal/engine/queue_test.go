package engine

import (
	"testing"

	"github.com/seed992c72d9/streams/internal/exec"
)

// TestEntryQueueStaysBounded checks that a queue kept topped up, never
// drained, keeps its records in order in a buffer that does not grow with
// the number of records that passed through it, and that growing keeps them
// in order.
func TestEntryQueueStaysBounded(t *testing.T) {
	var q entryQueue
	next, want := int64(0), int64(0)
	for range 100000 {
		for q.len() < 100 {
			*q.add() = exec.Entry{TS: next}
			next++
		}
		for range 7 {
			if got := q.pop().TS; got != want {
				t.Fatalf("popped %d, want %d", got, want)
			}
			want++
		}
	}
	if c := cap(q.buf); c > 512 {
		t.Fatalf("after %d records through a queue of about 100, its buffer holds %d", next, c)
	}
	// Grow the ring while its entries wrap around its end: they keep
	// their order.
	for q.len() < 1000 {
		*q.add() = exec.Entry{TS: next}
		next++
	}
	if got, want := q.last().TS, next-1; got != want {
		t.Fatalf("last entry %d, want %d", got, want)
	}
	for q.len() > 0 {
		if got := q.pop().TS; got != want {
			t.Fatalf("popped %d, want %d", got, want)
		}
		want++
	}
	if want != next {
		t.Fatalf("popped %d records, pushed %d", want, next)
	}
}
