package state

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

func testIterationSnapshot(t *testing.T, open openFunc) {
	for _, cached := range []bool{false, true} {
		t.Run(fmt.Sprintf("cached=%v", cached), func(t *testing.T) {
			h := newHarness(t, open(t))
			h.cache = NewCache(1 << 20)
			s := kvStore(t, h, "kv", WithCaching(cached))
			for _, k := range []string{"a", "b", "c"} {
				must(t, s.Put(k, "1"))
			}
			var seen []string
			for kv, err := range s.All() {
				must(t, err)
				seen = append(seen, kv.Key+"="+kv.Value)
				must(t, s.Put("c", "2"))
				must(t, s.Put("d", "2"))
				_, _, err := s.Delete("b")
				must(t, err)
			}
			equal(t, "seen", seen, []string{"a=1", "b=1", "c=1"})
			equal(t, "after", kvs(t, s.All()), []string{"a=1", "c=2", "d=2"})

			w := build[*WindowStore[string, string]](t, WindowStoreBuilder("w", serde.String(), serde.String(), time.Hour, time.Minute, false, WithCaching(cached)), h.env())
			must(t, w.Put("k", "1", 0))
			must(t, w.Put("k", "1", 40*minute)) // another segment
			var starts []int64
			for e, err := range w.FetchRange("k", 0, math.MaxInt64) {
				must(t, err)
				starts = append(starts, e.Start)
				must(t, w.Put("k", "2", 20*minute))
				must(t, w.Put("k", "2", 45*minute))
			}
			equal(t, "window starts seen", starts, []int64{0, 40 * minute})
		})
	}
}

func testEarlyBreakClosesIterators(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv")
	cs := kvStore(t, h, "cached", WithCaching(true))
	w := build[*WindowStore[string, string]](t, WindowStoreBuilder("w", serde.String(), serde.String(), time.Hour, time.Minute, false), h.env())
	ss := build[*SessionStore[string, string]](t, SessionStoreBuilder("s", serde.String(), serde.String(), time.Hour), h.env())
	for i := range 5 {
		k := fmt.Sprint(i)
		must(t, s.Put(k, k))
		must(t, cs.Put(k, k))
		must(t, w.Put(k, k, int64(i)*10*minute))
		must(t, ss.Put(k, int64(i), int64(i)*10*minute, k))
	}
	h.commit()
	loops := map[string]func() bool{
		"kv":       func() bool { return breaks(s.All()) },
		"kv range": func() bool { return breaks(s.Range("1", "3")) },
		"cached":   func() bool { return breaks(cs.ReverseAll()) },
		"window":   func() bool { return breaks(w.All()) },
		"window backward": func() bool {
			return breaks(w.BackwardFetchAll(0, math.MaxInt64))
		},
		"session": func() bool { return breaks(ss.All()) },
	}
	for name, loop := range loops {
		if !loop() {
			t.Fatalf("%s: the loop saw nothing", name)
		}
		if h.ts.iters != 0 {
			t.Fatalf("%s: %d iterators open after breaking out of the loop", name, h.ts.iters)
		}
	}
	// A leaked iterator blocks the commit instead of corrupting the batch.
	it, err := h.ts.Bucket("kv").Iter(nil, nil, false)
	must(t, err)
	wantErrIs(t, h.ts.Commit(), ErrOpenIterators, "state: committing task 1_3: state: iterators are open (1)")
	wantErrIs(t, h.ts.Abort(), ErrOpenIterators, "state: aborting task 1_3: state: iterators are open (1)")
	must(t, it.Close())
	must(t, it.Close()) // twice is harmless
	h.commit()
	// Committed (DB) iterators: the DB's Close at cleanup reports leaked
	// ones (Pebble: "leaked iterators").
	ro := KeyValueStoreBuilder("kv", serde.String(), serde.String()).ReadOnly(db.Committed(h.id, "kv"))
	if !breaks(ro.All()) {
		t.Fatal("the committed loop saw nothing")
	}
}

// breaks ranges over seq, breaking out at the first element, and reports
// whether there was one.
func breaks[T any](seq func(func(T, error) bool)) bool {
	for range seq {
		return true
	}
	return false
}

// flushCall is one call of a KV flush listener.
type flushCall struct {
	key, newValue, oldValue string
	ts                      int64
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

func listen(s *KeyValueStore[string, string]) *[]flushCall {
	var calls []flushCall
	s.SetFlushListener(func(k string, nv, ov *string, rc RecordContext) error {
		calls = append(calls, flushCall{k, str(nv), str(ov), rc.Timestamp})
		return nil
	})
	return &calls
}

func logged(l *recLog, store string) []string {
	var out []string
	for _, r := range l.recs[store] {
		v := "<nil>"
		if r.Value != nil {
			v = string(r.Value)
		}
		out = append(out, fmt.Sprintf("%s=%s@%d", r.Key, v, r.Timestamp))
	}
	return out
}

func testCacheDedup(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	calls := listen(s)
	h.rc.Timestamp = 1
	must(t, s.Put("k", "v0"))
	must(t, s.Flush())
	h.commit()
	*calls = nil
	h.log.recs = nil
	for i, v := range []string{"v1", "v2", "v3"} {
		h.rc.Timestamp = int64(10 + i)
		must(t, s.Put("k", v))
	}
	if v, _ := get[string](t)(s.Get("k")); v != "v3" {
		t.Fatalf("Get from the cache = %q, want v3", v)
	}
	if len(h.log.recs) != 0 {
		t.Fatalf("the cache wrote through before the flush: %v", logged(h.log, "kv"))
	}
	must(t, s.Flush())
	equal(t, "changelog", logged(h.log, "kv"), []string{"k=v3@12"})
	equal(t, "listener", *calls, []flushCall{{"k", "v3", "v0", 12}})
	must(t, s.Flush())
	equal(t, "listener after a second flush", *calls, []flushCall{{"k", "v3", "v0", 12}})
}

func testCacheEviction(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	entry := int64(len("k1") + len("v") + cacheEntryOverhead)
	h.cache = NewCache(3 * entry)
	a := kvStore(t, h, "a", WithCaching(true))
	b := kvStore(t, h, "b", WithCaching(true))
	calls := listen(a)
	must(t, a.Put("k1", "v"))
	must(t, b.Put("o1", "v"))
	must(t, a.Put("k2", "v"))
	if len(h.log.recs) != 0 {
		t.Fatal("the cache flushed before it was full")
	}
	// k1 is the least recently used: evicting it flushes all of a's dirty
	// entries, k1 first, then in the order of their latest update (as
	// Kafka Streams' NamedCache); b keeps its own.
	must(t, a.Put("k3", "v"))
	equal(t, "a's changelog", logged(h.log, "a"), []string{"k1=v@0", "k2=v@0", "k3=v@0"})
	equal(t, "b's changelog", logged(h.log, "b"), nil)
	equal(t, "listener", *calls, []flushCall{{"k1", "v", "<nil>", 0}, {"k2", "v", "<nil>", 0}, {"k3", "v", "<nil>", 0}})
	if got := h.cache.Size(); got != 3*entry {
		t.Fatalf("cache size = %d, want %d", got, 3*entry)
	}
	// The evicted key reads from the store.
	if v, ok := get[string](t)(a.Get("k1")); !ok || v != "v" {
		t.Fatal("the evicted key is lost")
	}
}

func testCacheDeleteNeverStored(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	calls := listen(s)
	_, ok, err := s.Delete("never")
	if err != nil || ok {
		t.Fatalf("Delete(never) = %v, %v", ok, err)
	}
	must(t, s.Put("brief", "x"))
	_, _, err = s.Delete("brief") // put and deleted between flushes
	must(t, err)
	must(t, s.Flush())
	equal(t, "listener", *calls, nil)
	equal(t, "changelog", logged(h.log, "kv"), nil)
}

func testCacheAbort(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	must(t, s.Put("k", "committed"))
	must(t, s.Flush())
	h.commit()
	must(t, s.Put("k", "aborted"))
	must(t, s.Put("j", "aborted"))
	must(t, h.ts.Abort())
	if h.cache.Size() != 0 {
		t.Fatalf("cache holds %d bytes after an abort", h.cache.Size())
	}
	logs := len(h.log.recs["kv"])
	// The read misses and caches the committed value, clean: a flush
	// neither logs nor forwards it.
	if v, _ := get[string](t)(s.Get("k")); v != "committed" {
		t.Fatalf("after abort Get(k) = %q, want committed", v)
	}
	if want := int64(len("k") + len("committed") + cacheEntryOverhead); h.cache.Size() != want {
		t.Fatalf("cache holds %d bytes after a read, want one clean entry of %d", h.cache.Size(), want)
	}
	must(t, s.Flush())
	h.commit()
	equal(t, "after abort", kvs(t, s.All()), []string{"k=committed"})
	if n := len(h.log.recs["kv"]); n != logs {
		t.Fatalf("flushing a read entry logged %d records", n-logs)
	}
}

// testCacheModel runs random puts, deletes, reads, commits and aborts on a
// cached store with a cache of a few entries, so that keys are evicted and
// read back from the staged batch, and compares every read with a model.
// Long runs between commits evict more keys than the filter of staged keys
// holds (see cache_staged.go).
func testCacheModel(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	entry := int64(len("k0000") + len("v000000") + cacheEntryOverhead)
	h.cache = NewCache(4 * entry)
	s := kvStore(t, h, "kv", WithCaching(true))
	rng := rand.New(rand.NewPCG(1, 2))
	committed, current := map[string]string{}, map[string]string{}
	check := func(step int, k string) {
		t.Helper()
		v, ok, err := s.Get(k)
		if err != nil {
			t.Fatalf("step %d: Get(%s): %v", step, k, err)
		}
		want, wantOK := current[k]
		if ok != wantOK || (ok && v != want) {
			t.Fatalf("step %d: Get(%s) = %q %v, want %q %v", step, k, v, ok, want, wantOK)
		}
	}
	for step := range 20000 {
		keys := 50
		switch {
		case step%10000 == 8000:
			must(t, s.Flush())
			h.commit()
			committed = maps.Clone(current)
		case step%10000 > 2000 && step%10000 < 8000:
			keys = 4000 // a long run over many keys: the filter overflows
		}
		k := fmt.Sprintf("k%04d", rng.IntN(keys))
		switch r := rng.IntN(100); {
		case r < 45:
			v := fmt.Sprintf("v%06d", step)
			must(t, s.Put(k, v))
			current[k] = v
		case r < 55:
			_, _, err := s.Delete(k)
			must(t, err)
			delete(current, k)
		case r < 98:
			check(step, k)
		case keys > 50:
			check(step, k)
		case r < 99:
			must(t, s.Flush())
			h.commit()
			committed = maps.Clone(current)
		default:
			must(t, h.ts.Abort())
			current = maps.Clone(committed)
		}
	}
	must(t, s.Flush())
	h.commit()
	for k := range 4000 {
		check(-1, fmt.Sprintf("k%04d", k))
	}
}
