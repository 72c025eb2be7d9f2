package state

import (
	"errors"
	"iter"
	"slices"
	"testing"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// openFunc opens a fresh DB for a test; the DB is closed at cleanup, and a
// close error (such as Pebble's "leaked iterators") fails the test.
type openFunc func(t *testing.T) *DB

func openMemory(t *testing.T) *DB {
	db := OpenMemory()
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing DB: %v", err)
		}
	})
	return db
}

func openPebbleIn(t *testing.T, dir string) *DB {
	db, err := OpenPebble(dir, PebbleOptions{BlockCacheBytes: 1 << 20, MemTableBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("closing DB: %v", err)
		}
	})
	return db
}

func openPebble(t *testing.T) *DB { return openPebbleIn(t, t.TempDir()) }

// recLog is a ChangelogWriter that keeps the records of each store.
type recLog struct{ recs map[string][]ChangelogRecord }

func (l *recLog) Log(store string, key, value []byte, ts int64) error {
	if l.recs == nil {
		l.recs = map[string][]ChangelogRecord{}
	}
	l.recs[store] = append(l.recs[store], ChangelogRecord{Key: key, Value: value, Timestamp: ts, Offset: int64(len(l.recs[store]))})
	return nil
}

// harness is one task's state with a recording changelog, a drop counter and
// a settable record context.
type harness struct {
	t       *testing.T
	db      *DB
	id      processor.TaskID
	ts      *TaskState
	log     *recLog
	cache   *Cache
	dropped map[string]int
	rc      RecordContext
}

func newHarness(t *testing.T, db *DB) *harness {
	t.Helper()
	h := &harness{t: t, db: db, id: processor.TaskID{SubTopology: 1, Partition: 3}, log: &recLog{}, dropped: map[string]int{}}
	ts, err := db.Task(h.id)
	if err != nil {
		t.Fatal(err)
	}
	h.ts = ts
	t.Cleanup(func() { ts.Close() })
	return h
}

func (h *harness) env() Env {
	return Env{
		Task: h.id, ApplicationID: "app", State: h.ts, Changelog: h.log, Cache: h.cache,
		Record:  func() RecordContext { return h.rc },
		Dropped: func(reason string) { h.dropped[reason]++ },
	}
}

func (h *harness) commit() {
	h.t.Helper()
	if err := h.ts.Commit(); err != nil {
		h.t.Fatal(err)
	}
}

func build[S Store](t *testing.T, b Builder, env Env) S {
	t.Helper()
	st, err := b.Build(env)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.(S)
}

func collect[T any](t *testing.T, seq iter.Seq2[T, error]) []T {
	t.Helper()
	var out []T
	for v, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error = %q\n want %q", err, want)
	}
}

func wantErrIs(t *testing.T, err, target error, want string) {
	t.Helper()
	wantErr(t, err, want)
	if !errors.Is(err, target) {
		t.Fatalf("error %q does not wrap %v", err, target)
	}
}

func equal[T comparable](t *testing.T, what string, got, want []T) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s:\n got %v\nwant %v", what, got, want)
	}
}

// failing is a serde whose every call fails.
func failing[T any]() serde.Serde[T] {
	return serde.Funcs(
		func(T) ([]byte, error) { return nil, errors.New("boom") },
		func([]byte) (T, error) { var z T; return z, errors.New("cannot decode") },
	)
}

// rawKeys returns the keys of a store's bucket as staged.
func rawKeys(t *testing.T, b *Bucket) [][]byte {
	t.Helper()
	var out [][]byte
	for e, err := range b.All(nil, nil, false) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), e.Key...))
	}
	return out
}
