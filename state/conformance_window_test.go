package state

import (
	"bytes"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

const minute = int64(60_000)

// windowStore builds a string window store with a retention of 10 minutes
// (segments of 5 minutes) and windows of 1 minute.
func windowStore(t *testing.T, h *harness, name string, dups bool, opts ...StoreOption) *WindowStore[string, string] {
	return build[*WindowStore[string, string]](t,
		WindowStoreBuilder(name, serde.String(), serde.String(), 10*time.Minute, time.Minute, dups, opts...), h.env())
}

func windows(t *testing.T, seq func(yield func(WindowEntry[string, string], error) bool)) []string {
	t.Helper()
	var out []string
	for _, e := range collect(t, seq) {
		if e.End != e.Start+minute {
			t.Fatalf("window %v: end is not start + size", e)
		}
		out = append(out, fmt.Sprintf("%s@%d=%s", e.Key, e.Start, e.Value))
	}
	return out
}

// segmentsOf returns the segment ids holding entries in a store's bucket.
func segmentsOf(t *testing.T, b *Bucket) []int64 {
	t.Helper()
	var out []int64
	for _, k := range rawKeys(t, b) {
		if k[0] == 0xFF {
			continue // the metadata
		}
		if id := int64(k[7]); len(out) == 0 || out[len(out)-1] != id {
			out = append(out, id)
		}
	}
	return out
}

func testWindowFetchBounds(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	w := windowStore(t, h, "w", false)
	for _, start := range []int64{0, 1 * minute, 4 * minute, 5 * minute, 9 * minute} {
		must(t, w.Put("a", fmt.Sprint(start/minute), start))
		must(t, w.Put("b", fmt.Sprint(start/minute), start))
	}
	equal(t, "segments", segmentsOf(t, h.ts.Bucket("w")), []int64{0, 1})
	if v, ok := get[string](t)(w.Fetch("a", 4*minute)); !ok || v != "4" {
		t.Fatalf("Fetch(a, 4m) = %q, %v", v, ok)
	}
	if _, ok := get[string](t)(w.Fetch("a", 2*minute)); ok {
		t.Fatal("Fetch of a missing window found it")
	}
	equal(t, "FetchRange(a, 1m, 5m)", windows(t, w.FetchRange("a", 1*minute, 5*minute)),
		[]string{"a@60000=1", "a@240000=4", "a@300000=5"})
	equal(t, "BackwardFetchRange(a, 1m, 5m)", windows(t, w.BackwardFetchRange("a", 1*minute, 5*minute)),
		[]string{"a@300000=5", "a@240000=4", "a@60000=1"})
	equal(t, "FetchRange(a, 2m, 3m)", windows(t, w.FetchRange("a", 2*minute, 3*minute)), nil)
	equal(t, "FetchRange(a, 5m, 1m)", windows(t, w.FetchRange("a", 5*minute, 1*minute)), nil)
	equal(t, "FetchRange(a, -10, 0)", windows(t, w.FetchRange("a", -10, 0)), []string{"a@0=0"})
	equal(t, "FetchRange(c, all)", windows(t, w.FetchRange("c", 0, math.MaxInt64)), nil)
	// By segment, then key | start bytes.
	equal(t, "FetchKeyRange(a, b, 4m, 5m)", windows(t, w.FetchKeyRange("a", "b", 4*minute, 5*minute)),
		[]string{"a@240000=4", "b@240000=4", "a@300000=5", "b@300000=5"})
	equal(t, "BackwardFetchKeyRange(a, b, 4m, 5m)", windows(t, w.BackwardFetchKeyRange("a", "b", 4*minute, 5*minute)),
		[]string{"b@300000=5", "a@300000=5", "b@240000=4", "a@240000=4"})
	equal(t, "FetchKeyRange(b, b, 0, 1m)", windows(t, w.FetchKeyRange("b", "b", 0, minute)), []string{"b@0=0", "b@60000=1"})
	equal(t, "FetchKeyRange(b, a)", windows(t, w.FetchKeyRange("b", "a", 0, math.MaxInt64)), nil)
	equal(t, "FetchAll(9m, 9m)", windows(t, w.FetchAll(9*minute, 9*minute)), []string{"a@540000=9", "b@540000=9"})
	equal(t, "BackwardFetchAll(0, 1m)", windows(t, w.BackwardFetchAll(0, 1*minute)),
		[]string{"b@60000=1", "b@0=0", "a@60000=1", "a@0=0"})
	equal(t, "All", windows(t, w.All()), []string{"a@0=0", "a@60000=1", "a@240000=4", "b@0=0", "b@60000=1", "b@240000=4",
		"a@300000=5", "a@540000=9", "b@300000=5", "b@540000=9"})
	equal(t, "BackwardAll", windows(t, w.BackwardAll()), []string{"b@540000=9", "b@300000=5", "a@540000=9", "a@300000=5",
		"b@240000=4", "b@60000=1", "b@0=0", "a@240000=4", "a@60000=1", "a@0=0"})
	// A nil value deletes.
	ns := build[*WindowStore[string, *string]](t, WindowStoreBuilder("nullable", serde.String(), serde.Nullable(serde.String()), time.Hour, time.Minute, false), h.env())
	v := "x"
	must(t, ns.Put("k", &v, 0))
	must(t, ns.Put("k", nil, 0))
	if _, ok := get[*string](t)(ns.Fetch("k", 0)); ok {
		t.Fatal("a nil value did not delete the window")
	}
	wantErr(t, w.Put("k", "v", -1), `state: store "w": window start -1 is negative`)
}

func testWindowKeyPrefixes(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	w := windowStore(t, h, "w", false)
	// A key that is "a" | start(1000) | seq(0): its windows sort among the
	// windows of "a".
	tricky := "a" + string(appendInt64(nil, 1000)) + "\x00\x00\x00\x00"
	must(t, w.Put("a", "a0", 1000))
	must(t, w.Put("ab", "ab", 1000))
	must(t, w.Put("a\x00", "a00", 500))
	must(t, w.Put(tricky, "tricky", 5))
	equal(t, "FetchRange(a)", windows(t, w.FetchRange("a", 0, 2000)), []string{"a@1000=a0"})
	equal(t, "BackwardFetchRange(a)", windows(t, w.BackwardFetchRange("a", 0, 2000)), []string{"a@1000=a0"})
	if v, ok := get[string](t)(w.Fetch("a", 1000)); !ok || v != "a0" {
		t.Fatalf("Fetch(a) = %q, %v", v, ok)
	}
	equal(t, "FetchRange(ab)", windows(t, w.FetchRange("ab", 0, 2000)), []string{"ab@1000=ab"})
	equal(t, "FetchRange(tricky)", windows(t, w.FetchRange(tricky, 0, 2000)), []string{tricky + "@5=tricky"})
	// "a" is a proper prefix of the upper key "a\x00", and its window at
	// 1000 sorts after "a\x00" | 1000 | max seq: the range still finds it.
	equal(t, `FetchKeyRange(a, a\x00)`, windows(t, w.FetchKeyRange("a", "a\x00", 0, 1000)),
		[]string{"a\x00@500=a00", "a@1000=a0"})
	equal(t, "FetchKeyRange(a, a)", windows(t, w.FetchKeyRange("a", "a", 0, 2000)), []string{"a@1000=a0"})
	equal(t, `FetchKeyRange(a\x00, b)`, windows(t, w.FetchKeyRange("a\x00", "b", 0, 2000)),
		[]string{"a\x00@500=a00", tricky + "@5=tricky", "ab@1000=ab"})
}

func testWindowRetention(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	w := windowStore(t, h, "w", false)
	for _, start := range []int64{0, 3 * minute, 5 * minute, 10 * minute} {
		must(t, w.Put("k", "v", start))
	}
	segments := func() []int64 { return segmentsOf(t, h.ts.Bucket("w")) }
	equal(t, "segments", segments(), []int64{0, 1, 2})
	// Stream time 14 min: the live segments start at segment(4 min) = 0,
	// but windows starting at or before 4 min are expired.
	must(t, w.Put("k", "v", 14*minute))
	equal(t, "FetchRange after 14m", windows(t, w.FetchRange("k", 0, math.MaxInt64)),
		[]string{"k@300000=v", "k@600000=v", "k@840000=v"})
	equal(t, "FetchAll after 14m", windows(t, w.FetchAll(0, 5*minute)), []string{"k@300000=v"})
	if _, ok := get[string](t)(w.Fetch("k", 3*minute)); ok {
		t.Fatal("Fetch returned an expired window")
	}
	equal(t, "segments after 14m", segments(), []int64{0, 1, 2})
	must(t, w.Put("k", "late", 4*minute)) // 4m <= 14m - 10m: expired
	if h.dropped[DroppedExpiredWindow] != 1 {
		t.Fatalf("dropped = %v, want one %s", h.dropped, DroppedExpiredWindow)
	}
	must(t, w.Put("k", "v", 4*minute+1)) // just inside
	if v, ok := get[string](t)(w.Fetch("k", 4*minute+1)); !ok || v != "v" {
		t.Fatal("a window just inside the retention period was dropped")
	}
	// Stream time 15 min: segment 0 (0-5 min) goes as a whole.
	must(t, w.Put("k", "v", 15*minute))
	equal(t, "segments after 15m", segments(), []int64{1, 2, 3})
	// A jump skips segments: everything before segment(40m-10m) = 6 goes.
	must(t, w.Put("k", "v", 40*minute))
	equal(t, "segments after 40m", segments(), []int64{8})
	if h.dropped[DroppedExpiredWindow] != 1 {
		t.Fatalf("dropped = %v, want one", h.dropped)
	}
	if got, _ := w.ObservedStreamTime(); got != 40*minute {
		t.Fatalf("ObservedStreamTime = %d", got)
	}
	// An expired delete is not counted.
	ns := build[*WindowStore[string, *string]](t, WindowStoreBuilder("nullable", serde.String(), serde.Nullable(serde.String()), 10*time.Minute, time.Minute, false), h.env())
	v := "v"
	must(t, ns.Put("k", &v, 40*minute))
	must(t, ns.Put("k", nil, 0))
	if h.dropped[DroppedExpiredWindow] != 1 {
		t.Fatalf("an expired delete was counted: %v", h.dropped)
	}
	// The stream time is committed with the data and survives a restart.
	h.commit()
	must(t, w.Close())
	w2 := windowStore(t, h, "w", false)
	must(t, w2.Put("k", "late", 30*minute))
	if h.dropped[DroppedExpiredWindow] != 2 {
		t.Fatalf("after a restart, a late write was not dropped: %v", h.dropped)
	}
}

func testWindowDuplicates(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	w := windowStore(t, h, "w", true, WithCaching(true))
	for _, v := range []string{"1", "2", "3"} {
		must(t, w.Put("k", v, 1000))
	}
	must(t, w.Put("k", "4", 2000))
	equal(t, "FetchRange", windows(t, w.FetchRange("k", 0, 5000)), []string{"k@1000=1", "k@1000=2", "k@1000=3", "k@2000=4"})
	if v, ok := get[string](t)(w.Fetch("k", 1000)); !ok || v != "3" {
		t.Fatalf("Fetch = %q, %v; want the latest put", v, ok)
	}
	if w.SetFlushListener(func(string, int64, *string, *string, RecordContext) error { return nil }) {
		t.Fatal("a store retaining duplicates is cached")
	}
	// Sequence numbers survive a restart: a new put never replaces one.
	h.commit()
	must(t, w.Close())
	w2 := windowStore(t, h, "w", true)
	must(t, w2.Put("k", "5", 1000))
	equal(t, "after restart", windows(t, w2.FetchRange("k", 1000, 1000)), []string{"k@1000=1", "k@1000=2", "k@1000=3", "k@1000=5"})
	// Restored on another instance, the store carries on after the last
	// sequence number of the changelog.
	h2 := newHarness(t, open(t))
	w3 := windowStore(t, h2, "w", true)
	must(t, w3.RestoreBatch(h.log.recs["w"]))
	must(t, w3.Put("k", "6", 1000))
	equal(t, "restored", windows(t, w3.FetchRange("k", 1000, 1000)), []string{"k@1000=1", "k@1000=2", "k@1000=3", "k@1000=5", "k@1000=6"})
}

func testWindowChangelogAndRestore(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	b := WindowStoreBuilder("w", serde.String(), serde.String(), 10*time.Minute, time.Minute, false)
	cfg, ok := b.Changelog()
	if !ok || len(cfg.Configs) != 2 || cfg.Configs["cleanup.policy"] != "compact,delete" || cfg.Configs["retention.ms"] != "87000000" {
		t.Fatalf("changelog config = %v, %v", cfg, ok)
	}
	w := build[*WindowStore[string, string]](t, b, h.env())
	h.rc.Timestamp = 77
	must(t, w.Put("k", "v", 1000))
	rec := h.log.recs["w"][0]
	wantKey := append(append([]byte("k"), appendInt64(nil, 1000)...), 0, 0, 0, 0)
	if !bytes.Equal(rec.Key, wantKey) || string(rec.Value) != "v" || rec.Timestamp != 77 {
		t.Fatalf("changelog record = %x=%q@%d, want %x=v@77", rec.Key, rec.Value, rec.Timestamp, wantKey)
	}
	for i := range 60 {
		h.rc.Timestamp = int64(i)
		start := int64(i) * 37_000
		must(t, w.Put(fmt.Sprint(i%4), fmt.Sprint(i), start))
		if i%9 == 0 {
			must(t, w.Put(fmt.Sprint((i+1)%4), "", start)) // empty, not a delete
		}
	}
	h2 := newHarness(t, open(t))
	w2 := windowStore(t, h2, "w", false)
	recs := h.log.recs["w"]
	must(t, w2.RestoreBatch(recs[:25]))
	must(t, w2.RestoreBatch(recs[25:]))
	equal(t, "restored", windows(t, w2.All()), windows(t, w.All()))
	o1, _ := w.ObservedStreamTime()
	o2, _ := w2.ObservedStreamTime()
	if o1 != o2 {
		t.Fatalf("restored stream time %d, want %d", o2, o1)
	}
	if len(h2.log.recs) != 0 || len(h2.dropped) != 0 {
		t.Fatalf("restoring logged %v and dropped %v", h2.log.recs, h2.dropped)
	}
	wantErr(t, w2.RestoreBatch([]ChangelogRecord{{Key: []byte("short"), Offset: 9}}),
		`state: store "w": restoring record at offset 9: window changelog key of 5 bytes is shorter than its 12-byte suffix`)
}

func testWindowCache(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	w := windowStore(t, h, "w", false, WithCaching(true))
	var calls []string
	if !w.SetFlushListener(func(k string, start int64, nv, ov *string, rc RecordContext) error {
		calls = append(calls, fmt.Sprintf("%s@%d %s<-%s ts=%d", k, start, str(nv), str(ov), rc.Timestamp))
		return nil
	}) {
		t.Fatal("the store is not cached")
	}
	must(t, w.Put("k", "v0", 1000))
	must(t, w.Flush())
	calls, h.log.recs = nil, nil
	for i := range 3 {
		h.rc.Timestamp = int64(i)
		must(t, w.Put("k", fmt.Sprint("v", i+1), 1000))
	}
	must(t, w.Put("j", "x", 2000))
	equal(t, "merged fetch", windows(t, w.FetchKeyRange("a", "z", 0, 5000)), []string{"j@2000=x", "k@1000=v3"})
	must(t, w.Flush())
	equal(t, "listener", calls, []string{"k@1000 v3<-v0 ts=2", "j@2000 x<-<nil> ts=2"})
	equal(t, "changelog", logged(h.log, "w"), []string{
		"k" + string(appendInt64(nil, 1000)) + "\x00\x00\x00\x00=v3@2",
		"j" + string(appendInt64(nil, 2000)) + "\x00\x00\x00\x00=x@2"})
	// A cached window whose segment expires before the flush is still
	// forwarded, but not written back into the deleted segment.
	calls = nil
	must(t, w.Put("k", "old", 3000))
	must(t, w.Put("k", "new", 60*minute))
	must(t, w.Flush())
	equal(t, "listener", calls, []string{"k@3000 old<-<nil> ts=2", "k@3600000 new<-<nil> ts=2"})
	equal(t, "segments", segmentsOf(t, h.ts.Bucket("w")), []int64{12})
}

func testWindowAbortReloadsStreamTime(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	w := windowStore(t, h, "w", false)
	must(t, w.Put("k", "v", 1000))
	h.commit()
	must(t, w.Put("k", "v", 100*minute))
	must(t, h.ts.Abort())
	if got, _ := w.ObservedStreamTime(); got != 1000 {
		t.Fatalf("after abort, stream time %d, want 1000", got)
	}
	must(t, w.Put("k", "v", 2000)) // not expired: the aborted time is gone
	if h.dropped[DroppedExpiredWindow] != 0 {
		t.Fatal("a write was dropped against an aborted stream time")
	}
	equal(t, "after abort", windows(t, w.FetchRange("k", 0, math.MaxInt64)), []string{"k@1000=v", "k@2000=v"})
}

func testWindowReadOnly(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	b := WindowStoreBuilder("w", serde.String(), serde.String(), 10*time.Minute, time.Minute, false)
	w := build[*WindowStore[string, string]](t, b, h.env())
	ro, err := b.ReadOnly(db.Committed(h.id, "w"))
	must(t, err)
	must(t, w.Put("k", "v", 1000))
	equal(t, "before commit", windows(t, ro.All()), nil)
	h.commit()
	equal(t, "after commit", windows(t, ro.FetchRange("k", 0, 5000)), []string{"k@1000=v"})
	must(t, w.Put("k", "v", 60*minute))
	h.commit()
	equal(t, "expired", windows(t, ro.FetchRange("k", 0, 5000)), nil)
	wantErrIs(t, ro.Put("k", "v", 1), ErrReadOnly, `state: store "w": state: bucket is read-only`)
	wantErrIs(t, ro.RestoreBatch(nil), ErrReadOnly, `state: store "w": state: bucket is read-only`)
}

// testWindowCacheModel is testCacheModel for a window store: random puts,
// fetches, commits and aborts through a cache of a few entries, every fetch
// compared with a model. Window starts are either five fixed ones or move
// forward, so that new (fresh) windows keep opening while the cache evicts
// entries of older and newer ones.
func testWindowCacheModel(t *testing.T, open openFunc) {
	t.Run("fixed", func(t *testing.T) { runWindowCacheModel(t, open, false) })
	t.Run("moving", func(t *testing.T) { runWindowCacheModel(t, open, true) })
}

func runWindowCacheModel(t *testing.T, open openFunc, moving bool) {
	h := newHarness(t, open(t))
	h.cache = NewCache(4 * (int64(len("k000")+8+4+len("v000000")) + cacheEntryOverhead))
	w := windowStore(t, h, "w", false, WithCaching(true))
	rng := rand.New(rand.NewPCG(3, 4))
	type wk struct {
		k     string
		start int64
	}
	committed, current := map[wk]string{}, map[wk]string{}
	for step := range 20000 {
		keys := 20
		if step%10000 > 2000 && step%10000 < 8000 {
			keys = 2000 // a long run between commits: the filter of staged keys overflows
		}
		if step%10000 == 8000 {
			must(t, w.Flush())
			h.commit()
			committed = maps.Clone(current)
		}
		k := wk{fmt.Sprintf("k%03d", rng.IntN(keys)), int64(rng.IntN(5)) * minute}
		if moving {
			// Up to 8 minutes: nothing expires (retention 10).
			k.start = int64(step/2500)*minute + int64(rng.IntN(3))*minute/2
		}
		switch r := rng.IntN(100); {
		case r < 50:
			v := fmt.Sprintf("v%06d", step)
			must(t, w.Put(k.k, v, k.start))
			current[k] = v
		case r < 98 || keys > 20:
			v, ok, err := w.Fetch(k.k, k.start)
			must(t, err)
			if want, wantOK := current[k]; ok != wantOK || v != want {
				t.Fatalf("step %d: Fetch(%s, %d) = %q %v, want %q %v", step, k.k, k.start, v, ok, want, wantOK)
			}
		case r < 99:
			must(t, w.Flush())
			h.commit()
			committed = maps.Clone(current)
		default:
			must(t, h.ts.Abort())
			current = maps.Clone(committed)
		}
	}
}
