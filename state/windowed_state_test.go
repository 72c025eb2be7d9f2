package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/RaduBerinde/btreemap"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// Marks of window and session stores, the suppression buffer, and the
// cache's flush order: what the windowed DSL keeps in the task's state.

func TestMarksMemory(t *testing.T) { testMarks(t, openMemory) }
func TestMarksPebble(t *testing.T) { testMarks(t, openPebble) }

func testMarks(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	wb := WindowStoreBuilder("w", serde.String(), serde.String(), time.Minute, 10*time.Millisecond, false)
	sb := SessionStoreBuilder("s", serde.String(), serde.String(), time.Minute)
	w := build[*WindowStore[string, string]](t, wb, h.env())
	s := build[*SessionStore[string, string]](t, sb, h.env())

	if _, ok, err := w.Mark("stream-time"); err != nil || ok {
		t.Fatalf("Mark before any = %v, %v", ok, err)
	}
	must(t, w.Put("a", "x", 100))
	must(t, w.SetMark("stream-time", 105))
	must(t, s.Put("a", 5, 7, "y"))
	must(t, s.SetMark("stream-time", 7))
	if v, ok, err := w.Mark("stream-time"); err != nil || !ok || v != 105 {
		t.Fatalf("Mark = %d, %v, %v", v, ok, err)
	}
	// Not staged until the store flushes.
	if _, ok, _ := h.ts.Bucket("w").Get(markBucketKey("stream-time")); ok {
		t.Fatal("the mark was staged before the flush")
	}
	must(t, w.Flush())
	must(t, s.Flush())
	equal(t, "w's changelog", logged(h.log, "w"), []string{"a\x00\x00\x00\x00\x00\x00\x00d\x00\x00\x00\x00=x@0",
		"stream-time" + string(markChangelogSuffix) + "=\x00\x00\x00\x00\x00\x00\x00i@105"})
	h.commit()

	// An abort forgets marks set since the commit.
	must(t, w.SetMark("stream-time", 500))
	must(t, h.ts.Abort())
	if v, _, err := w.Mark("stream-time"); err != nil || v != 105 {
		t.Fatalf("Mark after abort = %d, %v", v, err)
	}
	// A mark set and committed without a flush is staged by the commit and
	// logged at the next flush.
	must(t, w.SetMark("stream-time", 200))
	h.commit()
	if n := len(h.log.recs["w"]); n != 2 {
		t.Fatalf("logged %d records before the flush, want 2", n)
	}
	must(t, w.Flush())
	if n := len(h.log.recs["w"]); n != 3 {
		t.Fatalf("logged %d records after the flush, want 3", n)
	}

	// A new task state reads the committed marks.
	must(t, w.Close())
	must(t, s.Close())
	must(t, h.ts.Close())
	h2 := newHarness(t, db)
	w2 := build[*WindowStore[string, string]](t, wb, h2.env())
	s2 := build[*SessionStore[string, string]](t, sb, h2.env())
	if v, ok, err := w2.Mark("stream-time"); err != nil || !ok || v != 200 {
		t.Fatalf("reopened Mark = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s2.Mark("stream-time"); err != nil || !ok || v != 7 {
		t.Fatalf("reopened session Mark = %d, %v, %v", v, ok, err)
	}

	// Restoring the changelogs on a fresh DB brings marks and data back.
	h3 := newHarness(t, OpenMemory())
	w3 := build[*WindowStore[string, string]](t, wb, h3.env())
	s3 := build[*SessionStore[string, string]](t, sb, h3.env())
	must(t, w3.RestoreBatch(h.log.recs["w"]))
	must(t, s3.RestoreBatch(h.log.recs["s"]))
	if v, ok, err := w3.Mark("stream-time"); err != nil || !ok || v != 200 {
		t.Fatalf("restored Mark = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := s3.Mark("stream-time"); err != nil || !ok || v != 7 {
		t.Fatalf("restored session Mark = %d, %v, %v", v, ok, err)
	}
	if v, ok, err := w3.Fetch("a", 100); err != nil || !ok || v != "x" {
		t.Fatalf("restored window = %q, %v, %v", v, ok, err)
	}
	if got := collect(t, w3.All()); len(got) != 1 {
		t.Fatalf("restored windows = %v", got)
	}
	if got := collect(t, s3.All()); len(got) != 1 || got[0].Value != "y" {
		t.Fatalf("restored sessions = %v", got)
	}
}

func TestTimeOrderedBufferMemory(t *testing.T) { testTimeOrderedBuffer(t, openMemory) }
func TestTimeOrderedBufferPebble(t *testing.T) { testTimeOrderedBuffer(t, openPebble) }

func bufferContents(t *testing.T, b *TimeOrderedBuffer) string {
	t.Helper()
	var out string
	for _, r := range b.sortedRecords() {
		out += fmt.Sprintf("%s@%d(prior=%s old=%s new=%s ts=%d) ", r.Key, r.Time, nullStr(r.Prior), nullStr(r.Old), nullStr(r.New), r.Context.Timestamp)
	}
	return out
}

func (s *TimeOrderedBuffer) sortedRecords() []BufferedRecord {
	if err := s.check(); err != nil {
		panic(err)
	}
	var out []BufferedRecord
	for _, r := range s.sorted.Ascend(btreemap.Min[bufferKey](), btreemap.Max[bufferKey]()) {
		out = append(out, *r)
	}
	return out
}

func nullStr(b []byte) string {
	if b == nil {
		return "<null>"
	}
	return string(b)
}

func testTimeOrderedBuffer(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	bb := TimeOrderedBufferBuilder("buf")
	b := build[*TimeOrderedBuffer](t, bb, h.env())
	rc := func(ts int64) RecordContext {
		return RecordContext{Timestamp: ts, Topic: "in", Partition: 1, Offset: ts,
			Headers: processor.Headers{{Key: "h", Value: []byte("v")}}}
	}
	must(t, b.Put(10, []byte("b"), nil, []byte("1"), rc(10)))
	must(t, b.Put(5, []byte("a"), []byte("0"), []byte("1"), rc(11)))
	// An update keeps the key's buffer time and prior value.
	must(t, b.Put(20, []byte("b"), []byte("1"), []byte("2"), rc(12)))
	must(t, b.SetStreamTime(12))
	if got, want := bufferContents(t, b), "a@5(prior=0 old=0 new=1 ts=11) b@10(prior=<null> old=1 new=2 ts=12) "; got != want {
		t.Fatalf("buffer:\n got %s\nwant %s", got, want)
	}
	if v, ok, err := b.PriorValue([]byte("b")); err != nil || !ok || v != nil {
		t.Fatalf("PriorValue(b) = %q, %v, %v", v, ok, err)
	}
	if v, ok, err := b.PriorValue([]byte("a")); err != nil || !ok || string(v) != "0" {
		t.Fatalf("PriorValue(a) = %q, %v, %v", v, ok, err)
	}
	if _, ok, _ := b.PriorValue([]byte("c")); ok {
		t.Fatal("PriorValue(c) buffered")
	}
	if m, _ := b.MinTime(); m != 5 {
		t.Fatalf("MinTime = %d", m)
	}
	if n, _ := b.Len(); n != 2 {
		t.Fatalf("Len = %d", n)
	}
	// a: 8 + 1 + prior 1 + new 1 + 20 + topic 2 + header 2 = 35; b: old
	// differs from the null prior: 8 + 1 + 1 + 1 + 24 = 35.
	if size, _ := b.SizeBytes(); size != 70 {
		t.Fatalf("SizeBytes = %d", size)
	}
	must(t, b.Flush())
	h.commit()
	if got := len(h.log.recs["buf"]); got != 3 {
		t.Fatalf("logged %d records, want 3 (two keys, stream time)", got)
	}

	// Evict a; the flush logs its tombstone.
	var evicted []string
	must(t, b.EvictWhile(func() bool { m, _ := b.MinTime(); return m <= 5 }, func(r BufferedRecord) error {
		evicted = append(evicted, fmt.Sprintf("%s=%s@%d %s", r.Key, r.New, r.Context.Timestamp, r.Context.Headers))
		return nil
	}))
	equal(t, "evicted", evicted, []string{"a=1@11 [{h v}]"})
	if m, _ := b.MinTime(); m != 10 {
		t.Fatalf("MinTime after evicting = %d", m)
	}
	must(t, b.Flush())
	last := h.log.recs["buf"][len(h.log.recs["buf"])-1]
	if string(last.Key) != "ea" || last.Value != nil {
		t.Fatalf("last changelog record = %q=%q, want the tombstone of a", last.Key, last.Value)
	}
	// Uncommitted puts go with an abort.
	must(t, b.Put(1, []byte("z"), nil, []byte("9"), rc(13)))
	must(t, h.ts.Abort())
	if got, want := bufferContents(t, b), "a@5(prior=0 old=0 new=1 ts=11) b@10(prior=<null> old=1 new=2 ts=12) "; got != want {
		t.Fatalf("buffer after abort:\n got %s\nwant %s", got, want)
	}
	must(t, b.EvictWhile(func() bool { m, _ := b.MinTime(); return m <= 5 }, func(BufferedRecord) error { return nil }))
	must(t, b.Flush())
	h.commit()

	// A new task state loads the committed buffer and stream time.
	must(t, b.Close())
	must(t, h.ts.Close())
	h2 := newHarness(t, db)
	b2 := build[*TimeOrderedBuffer](t, bb, h2.env())
	if got, want := bufferContents(t, b2), "b@10(prior=<null> old=1 new=2 ts=12) "; got != want {
		t.Fatalf("reopened buffer:\n got %s\nwant %s", got, want)
	}
	if st, ok, _ := b2.StreamTime(); !ok || st != 12 {
		t.Fatalf("reopened stream time = %d, %v", st, ok)
	}
	if r := b2.sortedRecords()[0]; r.Context.Topic != "in" || r.Context.Partition != 1 || r.Context.Offset != 12 || len(r.Context.Headers) != 1 {
		t.Fatalf("reopened record context = %+v", r.Context)
	}

	// The changelog restores the same buffer on a fresh DB.
	h3 := newHarness(t, OpenMemory())
	b3 := build[*TimeOrderedBuffer](t, bb, h3.env())
	must(t, b3.RestoreBatch(h.log.recs["buf"]))
	if got, want := bufferContents(t, b3), "b@10(prior=<null> old=1 new=2 ts=12) "; got != want {
		t.Fatalf("restored buffer:\n got %s\nwant %s", got, want)
	}
	if st, ok, _ := b3.StreamTime(); !ok || st != 12 {
		t.Fatalf("restored stream time = %d, %v", st, ok)
	}

	// Unlogged buffers log nothing.
	h4 := newHarness(t, OpenMemory())
	b4 := build[*TimeOrderedBuffer](t, TimeOrderedBufferBuilder("quiet", WithLogging(false)), h4.env())
	must(t, b4.Put(1, []byte("k"), nil, []byte("v"), rc(1)))
	must(t, b4.Flush())
	if len(h4.log.recs["quiet"]) != 0 {
		t.Fatal("an unlogged buffer logged")
	}
	if _, ok := TimeOrderedBufferBuilder("quiet", WithLogging(false)).Changelog(); ok {
		t.Fatal("an unlogged buffer has a changelog")
	}
}

// TestCacheFlushOrder checks that a cache flushes dirty entries in the
// order of their latest update, as Kafka Streams' NamedCache: an entry
// updated again moves behind the others.
func TestCacheFlushOrder(t *testing.T) {
	h := newHarness(t, openMemory(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	calls := listen(s)
	for _, k := range []string{"a", "b", "a", "c", "b"} {
		must(t, s.Put(k, "v"+k))
	}
	must(t, s.Flush())
	var keys []string
	for _, c := range *calls {
		keys = append(keys, c.key)
	}
	equal(t, "flush order", keys, []string{"a", "c", "b"})
	// Many updates of few keys keep the dirty list short.
	for i := range 10_000 {
		must(t, s.Put(fmt.Sprint(i%3), "v"))
	}
	if n := len(s.cache.dirty); n > 2*3+64+1 {
		t.Fatalf("dirty list of %d places for 3 keys", n)
	}
	*calls = nil
	must(t, s.Flush())
	if len(*calls) != 3 {
		t.Fatalf("flushed %d entries, want 3", len(*calls))
	}
}

// TestTimestampedAppend checks that the timestamped serde appends what it
// serializes.
func TestTimestampedAppend(t *testing.T) {
	for _, vs := range []serde.Serde[string]{serde.String(), serde.Funcs(
		func(s string) ([]byte, error) { return []byte(s), nil },
		func(b []byte) (string, error) { return string(b), nil })} {
		ts := TimestampedSerde(vs)
		for _, v := range []ValueAndTimestamp[string]{{"", 0}, {"abc", 42}, {"x", -1}} {
			want, err := ts.Serialize(v)
			must(t, err)
			got, notNull, err := ts.(serde.Appender[ValueAndTimestamp[string]]).AppendSerialize([]byte("pre"), v)
			must(t, err)
			if !notNull || string(got) != "pre"+string(want) {
				t.Errorf("AppendSerialize(%v) = %q, %v; want pre+%q", v, got, notNull, want)
			}
		}
	}
	nb := TimestampedSerde(serde.Bytes())
	if got, notNull, err := nb.(serde.Appender[ValueAndTimestamp[[]byte]]).AppendSerialize(nil, ValueAndTimestamp[[]byte]{nil, 3}); err != nil || notNull || got != nil {
		t.Errorf("AppendSerialize(null) = %q, %v, %v", got, notNull, err)
	}
}

// TestWindowFreshLookups checks the shortcut of cached window stores: a
// window of a timestamp first written while the store is open is in the
// cache or nowhere, until the cache removes an entry or the store restores.
func TestWindowFreshLookups(t *testing.T) {
	h := newHarness(t, openMemory(t))
	h.cache = NewCache(1 << 20)
	wb := WindowStoreBuilder("w", serde.String(), serde.String(), time.Hour, time.Minute, false, WithCaching(true))
	w := build[*WindowStore[string, string]](t, wb, h.env())
	fetch := func(k string, start int64) string {
		v, ok, err := w.Fetch(k, start)
		must(t, err)
		if !ok {
			return "<absent>"
		}
		return v
	}
	must(t, w.Put("a", "1", 60_000))
	if got := fetch("b", 60_000); got != "<absent>" {
		t.Fatalf("b = %s", got)
	}
	must(t, w.Flush())
	h.commit()
	// A restored window of the same start bypasses the cache.
	must(t, w.RestoreBatch([]ChangelogRecord{{Key: []byte("b\x00\x00\x00\x00\x00\x00\xea\x60\x00\x00\x00\x00"), Value: []byte("2")}}))
	if got := fetch("b", 60_000); got != "2" {
		t.Fatalf("restored b = %s", got)
	}
	// Entries the cache evicts are read from the store.
	h2 := newHarness(t, openMemory(t))
	h2.cache = NewCache(600)
	w2 := build[*WindowStore[string, string]](t, wb, h2.env())
	for i := range 20 {
		must(t, w2.Put(fmt.Sprint(i), fmt.Sprint(i), 120_000))
	}
	for i := range 20 {
		v, ok, err := w2.Fetch(fmt.Sprint(i), 120_000)
		must(t, err)
		if !ok || v != fmt.Sprint(i) {
			t.Fatalf("window %d = %q, %v after evictions", i, v, ok)
		}
	}
}

// TestCacheFlushStagesInKeyOrder checks a commit flush of a cached, logged
// store: it logs and forwards in update order while it stages in key order,
// and a value the listener writes back while the flush forwards (to a key
// the flush has staged but not yet forwarded) is logged, forwarded and
// staged in the same flush, after the others: the changelog, the listener
// and the committed state agree.
func TestCacheFlushStagesInKeyOrder(t *testing.T) {
	h := newHarness(t, openPebble(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	var calls []string
	wroteBack := false
	s.SetFlushListener(func(k string, nv, ov *string, rc RecordContext) error {
		calls = append(calls, k+"="+str(nv))
		if k == "c" && !wroteBack {
			wroteBack = true
			// "a" is staged and not yet forwarded: it sorts first but
			// was updated last.
			if v, _ := get[string](t)(s.Get("b")); v != "b1" {
				t.Errorf("Get(b) during the flush = %q, want b1", v)
			}
			return s.Put("a", "a2")
		}
		return nil
	})
	for _, kv := range [][2]string{{"c", "c1"}, {"b", "b1"}, {"a", "a1"}} {
		must(t, s.Put(kv[0], kv[1]))
	}
	must(t, s.Flush())
	h.commit()
	equal(t, "forwarded", calls, []string{"c=c1", "b=b1", "a=a2"})
	equal(t, "logged", logged(h.log, "kv"), []string{"c=c1@0", "b=b1@0", "a=a2@0"})
	if v, _ := get[string](t)(s.Get("a")); v != "a2" {
		t.Fatalf("Get(a) after the commit = %q, want a2", v)
	}
	// The committed state, read past the cache.
	if v, ok, err := s.bucket.getCommitted([]byte("a")); err != nil || !ok || string(v) != "a2" {
		t.Fatalf("committed a = %q, %v, %v; want a2", v, ok, err)
	}
}

// TestRemovedKeysFilter checks the growing Bloom filter of a fresh window's
// removed keys: no added key is ever reported absent, few others are reported
// present, and past its bound it reports every key.
func TestRemovedKeysFilter(t *testing.T) {
	var r removedKeys
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%09d", i) }
	const n = 200_000
	for i := range n {
		r.add(key(i))
		if i%997 == 0 && !r.mayHave(key(i/2)) {
			t.Fatalf("after %d keys, key %d reported absent", i+1, i/2)
		}
	}
	for i := range n {
		if !r.mayHave(key(i)) {
			t.Fatalf("key %d reported absent", i)
		}
	}
	if r.full {
		t.Fatalf("full after %d keys", n)
	}
	fp := 0
	for i := n; i < 2*n; i++ {
		if r.mayHave(key(i)) {
			fp++
		}
	}
	// Each part has about 0.5 % false positives; a key is checked against
	// every part.
	if rate := float64(fp) / n; rate > 0.04 {
		t.Fatalf("false positive rate %.3f over %d parts", rate, len(r.parts))
	}
	for i := n; i < 1_000_000 && !r.full; i++ {
		r.add(key(i))
	}
	if !r.full || !r.mayHave([]byte("never added")) {
		t.Fatalf("full = %v after 1M keys; want every key reported", r.full)
	}
}

// TestCacheFlushReentrant flushes a store from inside its own flush (a
// listener that writes to the store and flushes it, as a Processor API
// processor downstream could): every update is forwarded and logged once,
// in order, and the committed state holds the latest values.
func TestCacheFlushReentrant(t *testing.T) {
	h := newHarness(t, openPebble(t))
	h.cache = NewCache(1 << 20)
	s := kvStore(t, h, "kv", WithCaching(true))
	// A first flush leaves the flush's buffers grown, for the nested
	// flush to reuse if it wrongly did.
	for i := range 10 {
		must(t, s.Put(fmt.Sprintf("w%d", i), "w"))
	}
	must(t, s.Flush())
	h.commit()
	h.log.recs = nil
	var calls []string
	nested := false
	s.SetFlushListener(func(k string, nv, ov *string, rc RecordContext) error {
		calls = append(calls, k+"="+str(nv))
		if k == "k2" && !nested {
			nested = true
			must(t, s.Put("k0", "k0b"))
			for _, k := range []string{"k9", "k8", "k7"} {
				must(t, s.Put(k, k))
			}
			return s.Flush()
		}
		return nil
	})
	for i := range 5 {
		must(t, s.Put(fmt.Sprintf("k%d", i), fmt.Sprintf("k%d", i)))
	}
	must(t, s.Flush())
	h.commit()
	// The nested flush forwards at once, inside k2's turn.
	want := []string{"k0=k0", "k1=k1", "k2=k2", "k0=k0b", "k9=k9", "k8=k8", "k7=k7", "k3=k3", "k4=k4"}
	equal(t, "forwarded", calls, want)
	var wantLog []string
	for _, c := range want {
		wantLog = append(wantLog, c+"@0")
	}
	equal(t, "logged", logged(h.log, "kv"), wantLog)
	for k, v := range map[string]string{"k0": "k0b", "k3": "k3", "k4": "k4", "k7": "k7", "k9": "k9"} {
		if got, ok, err := s.bucket.getCommitted([]byte(k)); err != nil || !ok || string(got) != v {
			t.Errorf("committed %s = %q, %v, %v; want %s", k, got, ok, err, v)
		}
	}
}
