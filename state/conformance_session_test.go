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

// sessionStore builds a string session store with a retention of 10
// minutes (segments of 5 minutes).
func sessionStore(t *testing.T, h *harness, name string, opts ...StoreOption) *SessionStore[string, string] {
	return build[*SessionStore[string, string]](t, SessionStoreBuilder(name, serde.String(), serde.String(), 10*time.Minute, opts...), h.env())
}

func sessions(t *testing.T, seq func(yield func(SessionEntry[string, string], error) bool)) []string {
	t.Helper()
	var out []string
	for _, e := range collect(t, seq) {
		out = append(out, fmt.Sprintf("%s[%d,%d]=%s", e.Key, e.Start, e.End, e.Value))
	}
	return out
}

func testSessionFind(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := sessionStore(t, h, "s")
	must(t, s.Put("k", 0, 10, "a"))
	must(t, s.Put("k", 20, 30, "b"))
	must(t, s.Put("k", 40, 50, "c"))
	must(t, s.Put("k", 5, 50, "d")) // the same end as c, an earlier start
	must(t, s.Put("k", 7*minute, 7*minute, "e"))
	must(t, s.Put("j", 20, 30, "other key"))
	// Sessions with end >= earliest end and start <= latest start, by
	// (end, start).
	equal(t, "FindSessions(25, 45)", sessions(t, s.FindSessions("k", 25, 45)), []string{"k[20,30]=b", "k[5,50]=d", "k[40,50]=c"})
	equal(t, "FindSessions(30, 40): inclusive", sessions(t, s.FindSessions("k", 30, 40)), []string{"k[20,30]=b", "k[5,50]=d", "k[40,50]=c"})
	equal(t, "FindSessions(31, 39)", sessions(t, s.FindSessions("k", 31, 39)), []string{"k[5,50]=d"})
	equal(t, "FindSessions(51, 4)", sessions(t, s.FindSessions("k", 51, 4)), nil)
	equal(t, "FindSessions(10, 0)", sessions(t, s.FindSessions("k", 10, 0)), []string{"k[0,10]=a"})
	equal(t, "FindSessions(-5, -1)", sessions(t, s.FindSessions("k", -5, -1)), nil)
	equal(t, "BackwardFindSessions(25, 45)", sessions(t, s.BackwardFindSessions("k", 25, 45)), []string{"k[40,50]=c", "k[5,50]=d", "k[20,30]=b"})
	equal(t, "Fetch(k)", sessions(t, s.Fetch("k")), []string{"k[0,10]=a", "k[20,30]=b", "k[5,50]=d", "k[40,50]=c", "k[420000,420000]=e"})
	equal(t, "BackwardFetch(k)", sessions(t, s.BackwardFetch("k")), []string{"k[420000,420000]=e", "k[40,50]=c", "k[5,50]=d", "k[20,30]=b", "k[0,10]=a"})
	equal(t, "Fetch(none)", sessions(t, s.Fetch("none")), nil)
	if v, ok := get[string](t)(s.FetchSession("k", 20, 30)); !ok || v != "b" {
		t.Fatalf("FetchSession = %q, %v", v, ok)
	}
	if _, ok := get[string](t)(s.FetchSession("k", 20, 31)); ok {
		t.Fatal("FetchSession found a session that is not there")
	}
	// Merging is the caller's: remove the parts, put the whole.
	for _, e := range collect(t, s.FindSessions("k", 25, 45)) {
		must(t, s.Remove("k", e.Start, e.End))
	}
	must(t, s.Put("k", 5, 50, "merged"))
	equal(t, "after merge", sessions(t, s.Fetch("k")), []string{"k[0,10]=a", "k[5,50]=merged", "k[420000,420000]=e"})
	equal(t, "FindSessionsEndingBetween(10, 50)", sessions(t, s.FindSessionsEndingBetween(10, 50)),
		[]string{"j[20,30]=other key", "k[0,10]=a", "k[5,50]=merged"})
	// A nil value removes.
	ns := build[*SessionStore[string, *string]](t, SessionStoreBuilder("nullable", serde.String(), serde.Nullable(serde.String()), time.Hour), h.env())
	v := "x"
	must(t, ns.Put("k", 0, 5, &v))
	must(t, ns.Put("k", 0, 5, nil))
	if _, ok := get[*string](t)(ns.FetchSession("k", 0, 5)); ok {
		t.Fatal("a nil value did not remove the session")
	}
	wantErr(t, s.Put("k", 10, 5, "x"), `state: store "s": invalid session [10, 5]: want 0 <= start <= end`)
	wantErr(t, s.Put("k", -1, 5, "x"), `state: store "s": invalid session [-1, 5]: want 0 <= start <= end`)
}

func testSessionKeyRanges(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := sessionStore(t, h, "s")
	// A key that is "a" | end(30) | start(0): its sessions sort among the
	// sessions of "a".
	tricky := "a" + string(appendInt64(nil, 30)) + string(appendInt64(nil, 0))
	must(t, s.Put("a", 0, 1000, "a"))
	must(t, s.Put("a\x00", 10, 20, "a00"))
	must(t, s.Put("ab", 0, 1000, "ab"))
	must(t, s.Put("b", 0, 5*minute, "b"))
	must(t, s.Put(tricky, 3, 5, "tricky"))
	equal(t, "FindSessions(a)", sessions(t, s.FindSessions("a", 0, math.MaxInt64)), []string{"a[0,1000]=a"})
	equal(t, "FindSessions(tricky)", sessions(t, s.FindSessions(tricky, 0, math.MaxInt64)), []string{tricky + "[3,5]=tricky"})
	// By segment, then key | end | start bytes.
	equal(t, `FindSessionsRange(a, a\x00)`, sessions(t, s.FindSessionsRange("a", "a\x00", 0, 100)),
		[]string{"a\x00[10,20]=a00", "a[0,1000]=a"})
	equal(t, "FindSessionsRange(a, b)", sessions(t, s.FindSessionsRange("a", "b", 15, 100)),
		[]string{"a\x00[10,20]=a00", "a[0,1000]=a", "ab[0,1000]=ab", "b[0,300000]=b"})
	equal(t, "BackwardFindSessionsRange(a, ab)", sessions(t, s.BackwardFindSessionsRange("a", "ab", 15, 100)),
		[]string{"ab[0,1000]=ab", "a[0,1000]=a", "a\x00[10,20]=a00"})
	equal(t, "FindSessionsRange(b, a)", sessions(t, s.FindSessionsRange("b", "a", 0, math.MaxInt64)), nil)
	equal(t, `FetchKeyRange(a\x00, a\x01)`, sessions(t, s.FetchKeyRange("a\x00", "a\x01")),
		[]string{"a\x00[10,20]=a00", tricky + "[3,5]=tricky"})
	equal(t, "BackwardFetchKeyRange(ab, b)", sessions(t, s.BackwardFetchKeyRange("ab", "b")), []string{"b[0,300000]=b", "ab[0,1000]=ab"})
	all := sessions(t, s.All())
	back := sessions(t, s.BackwardAll())
	if len(all) != 5 || len(back) != 5 || all[0] != back[4] || all[4] != back[0] {
		t.Fatalf("All = %q, BackwardAll = %q", all, back)
	}
}

func testSessionRetention(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := sessionStore(t, h, "s")
	must(t, s.Put("k", 0, 1*minute, "a"))
	must(t, s.Put("k", 2*minute, 6*minute, "b"))
	must(t, s.Put("k", 10*minute, 14*minute, "c"))
	// Stream time 14 min: sessions ending at or before 4 min are expired.
	equal(t, "Fetch", sessions(t, s.Fetch("k")), []string{"k[120000,360000]=b", "k[600000,840000]=c"})
	if _, ok := get[string](t)(s.FetchSession("k", 0, minute)); ok {
		t.Fatal("FetchSession returned an expired session")
	}
	must(t, s.Put("k", 0, 4*minute, "late"))
	must(t, s.Remove("k", 0, 3*minute)) // an expired remove is not counted
	if h.dropped[DroppedExpiredSession] != 1 {
		t.Fatalf("dropped = %v, want one %s", h.dropped, DroppedExpiredSession)
	}
	must(t, s.Put("k", 0, 4*minute+1, "inside"))
	equal(t, "FindSessions(0, 0)", sessions(t, s.FindSessions("k", 0, 0)), []string{"k[0,240001]=inside"})
	// Stream time 30 min: the segments before segment(20 min) = 4 go.
	must(t, s.Put("k", 29*minute, 30*minute, "d"))
	equal(t, "segments", segmentsOf(t, h.ts.Bucket("s")), []int64{6})
	equal(t, "Fetch at 30m", sessions(t, s.Fetch("k")), []string{"k[1740000,1800000]=d"})
	if got, _ := s.ObservedStreamTime(); got != 30*minute {
		t.Fatalf("ObservedStreamTime = %d", got)
	}
}

func testSessionChangelogAndRestore(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	b := SessionStoreBuilder("s", serde.String(), serde.String(), 10*time.Minute, WithChangelogConfig(map[string]string{"min.insync.replicas": "2"}))
	cfg, ok := b.Changelog()
	if !ok || cfg.Configs["cleanup.policy"] != "compact,delete" || cfg.Configs["retention.ms"] != "87000000" || cfg.Configs["min.insync.replicas"] != "2" {
		t.Fatalf("changelog config = %v, %v", cfg, ok)
	}
	if _, ok := SessionStoreBuilder("s", serde.String(), serde.String(), time.Minute, WithLogging(false)).Changelog(); ok {
		t.Fatal("an unlogged store has a changelog")
	}
	s := build[*SessionStore[string, string]](t, b, h.env())
	h.rc.Timestamp = 5
	must(t, s.Put("k", 10, 20, "v"))
	rec := h.log.recs["s"][0]
	wantKey := appendInt64(appendInt64([]byte("k"), 20), 10)
	if !bytes.Equal(rec.Key, wantKey) || string(rec.Value) != "v" || rec.Timestamp != 5 {
		t.Fatalf("changelog record = %x=%q@%d, want %x=v@5", rec.Key, rec.Value, rec.Timestamp, wantKey)
	}
	for i := range 50 {
		end := int64(i) * 41_000
		start := max(0, end-int64(i%5)*1000)
		k := fmt.Sprint(i % 3)
		must(t, s.Put(k, start, end, fmt.Sprint(i)))
		if i%7 == 0 {
			must(t, s.Remove(k, start, end))
		}
	}
	h2 := newHarness(t, open(t))
	s2 := sessionStore(t, h2, "s")
	must(t, s2.RestoreBatch(h.log.recs["s"]))
	equal(t, "restored", sessions(t, s2.All()), sessions(t, s.All()))
	o1, _ := s.ObservedStreamTime()
	o2, _ := s2.ObservedStreamTime()
	if o1 != o2 {
		t.Fatalf("restored stream time %d, want %d", o2, o1)
	}
	wantErr(t, s2.RestoreBatch([]ChangelogRecord{{Key: appendInt64(appendInt64([]byte("k"), 5), 10), Offset: 3}}),
		`state: store "s": restoring record at offset 3: session changelog key has an invalid session [10, 5]`)
}

func testSessionCache(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	s := sessionStore(t, h, "s", WithCaching(true))
	var calls []string
	s.SetFlushListener(func(k string, start, end int64, nv, ov *string, rc RecordContext) error {
		calls = append(calls, fmt.Sprintf("%s[%d,%d] %s<-%s", k, start, end, str(nv), str(ov)))
		return nil
	})
	must(t, s.Put("k", 0, 10, "a"))
	must(t, s.Flush())
	calls, h.log.recs = nil, nil
	// A merge: the old session goes, the merged one comes.
	must(t, s.Remove("k", 0, 10))
	must(t, s.Put("k", 0, 20, "ab"))
	must(t, s.Put("k", 0, 20, "abc"))
	equal(t, "cached read", sessions(t, s.Fetch("k")), []string{"k[0,20]=abc"})
	must(t, s.Flush())
	equal(t, "listener", calls, []string{"k[0,10] <nil><-a", "k[0,20] abc<-<nil>"})
	if n := len(h.log.recs["s"]); n != 2 {
		t.Fatalf("%d changelog records, want 2", n)
	}
}

// testSessionCacheModel is testWindowCacheModel for a session store: random
// puts, removes, point fetches, commits and aborts through a cache of a few
// entries while session ends move forward (new ends keep opening while the
// cache evicts), every fetch compared with a model.
func testSessionCacheModel(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(4 * (int64(len("k000")+8+16+len("v000000")) + cacheEntryOverhead))
	s := sessionStore(t, h, "s", WithCaching(true))
	rng := rand.New(rand.NewPCG(5, 6))
	type sk struct {
		k          string
		start, end int64
	}
	committed, current := map[sk]string{}, map[sk]string{}
	for step := range 20000 {
		keys := 20
		if step%10000 > 2000 && step%10000 < 8000 {
			keys = 2000
		}
		// Ends up to 8 minutes: nothing expires (retention 10).
		end := int64(step/2500)*minute + int64(rng.IntN(3))*minute/2
		k := sk{fmt.Sprintf("k%03d", rng.IntN(keys)), max(end-int64(rng.IntN(2))*minute/4, 0), end}
		switch r := rng.IntN(100); {
		case r < 45:
			v := fmt.Sprintf("v%06d", step)
			must(t, s.Put(k.k, k.start, k.end, v))
			current[k] = v
		case r < 50:
			must(t, s.Remove(k.k, k.start, k.end))
			delete(current, k)
		case r < 98 || keys > 20:
			v, ok, err := s.FetchSession(k.k, k.start, k.end)
			must(t, err)
			if want, wantOK := current[k]; ok != wantOK || v != want {
				t.Fatalf("step %d: FetchSession(%s, %d, %d) = %q %v, want %q %v", step, k.k, k.start, k.end, v, ok, want, wantOK)
			}
		case r < 99:
			must(t, s.Flush())
			h.commit()
			committed = maps.Clone(current)
		default:
			must(t, h.ts.Abort())
			current = maps.Clone(committed)
		}
	}
}
