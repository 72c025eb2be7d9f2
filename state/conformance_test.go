package state

import (
	"fmt"
	"testing"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
)

// The conformance suite: every engine must behave the same for every store.

func TestConformanceMemory(t *testing.T) { runStoreConformance(t, openMemory) }
func TestConformancePebble(t *testing.T) { runStoreConformance(t, openPebble) }

func runStoreConformance(t *testing.T, open openFunc) {
	tests := []struct {
		name string
		fn   func(*testing.T, openFunc)
	}{
		{"KVPointOps", testKVPointOps},
		{"KVPutIfAbsentAndPutAll", testKVPutIfAbsentAndPutAll},
		{"KVRanges", testKVRanges},
		{"KVPrefixScanAndCount", testKVPrefixScanAndCount},
		{"KVTombstones", testKVTombstones},
		{"KVEmptyValue", testKVEmptyValue},
		{"StagedVisibility", testStagedVisibility},
		{"Abort", testAbort},
		{"IterationSnapshot", testIterationSnapshot},
		{"EarlyBreakClosesIterators", testEarlyBreakClosesIterators},
		{"KVRestore", testKVRestore},
		{"CacheDedup", testCacheDedup},
		{"CacheEviction", testCacheEviction},
		{"CacheDeleteNeverStored", testCacheDeleteNeverStored},
		{"CacheAbort", testCacheAbort},
		{"CacheModel", testCacheModel},
		{"WindowFetchBounds", testWindowFetchBounds},
		{"WindowKeyPrefixes", testWindowKeyPrefixes},
		{"WindowRetention", testWindowRetention},
		{"WindowDuplicates", testWindowDuplicates},
		{"WindowChangelogAndRestore", testWindowChangelogAndRestore},
		{"WindowCache", testWindowCache},
		{"WindowCacheModel", testWindowCacheModel},
		{"WindowAbortReloadsStreamTime", testWindowAbortReloadsStreamTime},
		{"WindowReadOnly", testWindowReadOnly},
		{"SessionFind", testSessionFind},
		{"SessionKeyRanges", testSessionKeyRanges},
		{"SessionRetention", testSessionRetention},
		{"SessionChangelogAndRestore", testSessionChangelogAndRestore},
		{"SessionCache", testSessionCache},
		{"SessionCacheModel", testSessionCacheModel},
		{"BadSerdes", testBadSerdes},
		{"UseAfterClose", testUseAfterClose},
		{"TaskAndDBErrors", testTaskAndDBErrors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, open) })
	}
}

func kvStore(t *testing.T, h *harness, name string, opts ...StoreOption) *KeyValueStore[string, string] {
	return build[*KeyValueStore[string, string]](t, KeyValueStoreBuilder(name, serde.String(), serde.String(), opts...), h.env())
}

func kvs(t *testing.T, seq func(yield func(KeyValue[string, string], error) bool)) []string {
	t.Helper()
	var out []string
	for _, kv := range collect(t, seq) {
		out = append(out, kv.Key+"="+kv.Value)
	}
	return out
}

// get adapts a (V, bool, error) call for one-line checks.
func get[V any](t *testing.T) func(V, bool, error) (V, bool) {
	return func(v V, ok bool, err error) (V, bool) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v, ok
	}
}

func testKVPointOps(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := kvStore(t, h, "kv")
	if _, ok := get[string](t)(s.Get("a")); ok {
		t.Fatal("Get of a missing key found it")
	}
	must(t, s.Put("a", "1"))
	must(t, s.Put("a", "2"))
	if v, ok := get[string](t)(s.Get("a")); !ok || v != "2" {
		t.Fatalf("Get(a) = %q, %v; want 2, true", v, ok)
	}
	old, ok, err := s.Delete("a")
	if err != nil || !ok || old != "2" {
		t.Fatalf("Delete(a) = %q, %v, %v; want 2, true, nil", old, ok, err)
	}
	old, ok, err = s.Delete("a")
	if err != nil || ok || old != "" {
		t.Fatalf("second Delete(a) = %q, %v, %v; want \"\", false, nil", old, ok, err)
	}
	if _, ok := get[string](t)(s.Get("a")); ok {
		t.Fatal("Get after Delete found the key")
	}
}

func testKVPutIfAbsentAndPutAll(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := kvStore(t, h, "kv")
	v, ok, err := s.PutIfAbsent("a", "1")
	if err != nil || ok || v != "" {
		t.Fatalf("PutIfAbsent on absent = %q, %v, %v", v, ok, err)
	}
	v, ok, err = s.PutIfAbsent("a", "2")
	if err != nil || !ok || v != "1" {
		t.Fatalf("PutIfAbsent on present = %q, %v, %v; want 1, true", v, ok, err)
	}
	must(t, s.PutAll([]KeyValue[string, string]{{"b", "1"}, {"c", "1"}, {"b", "2"}}))
	equal(t, "All", kvs(t, s.All()), []string{"a=1", "b=2", "c=1"})
}

func testKVRanges(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := kvStore(t, h, "kv")
	for _, k := range []string{"a", "b", "ba", "c", "d"} {
		must(t, s.Put(k, k))
	}
	equal(t, "Range(b, c)", kvs(t, s.Range("b", "c")), []string{"b=b", "ba=ba", "c=c"})
	equal(t, "ReverseRange(b, c)", kvs(t, s.ReverseRange("b", "c")), []string{"c=c", "ba=ba", "b=b"})
	equal(t, "Range(b, b)", kvs(t, s.Range("b", "b")), []string{"b=b"})
	equal(t, "Range(bb, bz)", kvs(t, s.Range("bb", "bz")), nil)
	equal(t, "Range(c, b)", kvs(t, s.Range("c", "b")), nil)
	equal(t, "ReverseRange(c, b)", kvs(t, s.ReverseRange("c", "b")), nil)
	equal(t, "All", kvs(t, s.All()), []string{"a=a", "b=b", "ba=ba", "c=c", "d=d"})
	equal(t, "ReverseAll", kvs(t, s.ReverseAll()), []string{"d=d", "c=c", "ba=ba", "b=b", "a=a"})

	// The bound's bytes belong to the caller: a range must not write into
	// their spare capacity.
	bs := build[*KeyValueStore[[]byte, string]](t, KeyValueStoreBuilder("bytes", serde.Bytes(), serde.String()), h.env())
	must(t, bs.Put([]byte("k"), "v"))
	buf := []byte("kXYZ")
	for range bs.Range([]byte("a"), buf[:1]) {
	}
	if string(buf) != "kXYZ" {
		t.Fatalf("Range wrote into the caller's bytes: %q", buf)
	}
}

func testKVPrefixScanAndCount(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := kvStore(t, h, "kv")
	other := kvStore(t, h, "kv2") // a store whose name extends the first's
	for _, k := range []string{"a", "ab", "abc", "abd", "b"} {
		must(t, s.Put(k, "1"))
	}
	must(t, other.Put("ab", "x"))
	equal(t, "PrefixScan(ab)", kvs(t, s.PrefixScan("ab")), []string{"ab=1", "abc=1", "abd=1"})
	equal(t, "PrefixScan(z)", kvs(t, s.PrefixScan("z")), nil)
	n, err := s.ApproximateNumEntries()
	if err != nil || n != 5 {
		t.Fatalf("ApproximateNumEntries = %d, %v; want 5", n, err)
	}
}

func testKVTombstones(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := build[*KeyValueStore[string, *string]](t, KeyValueStoreBuilder("kv", serde.String(), serde.Nullable(serde.String())), h.env())
	v := "x"
	must(t, s.Put("a", &v))
	h.commit()
	must(t, s.Put("a", nil)) // serializes to nil: a delete
	if _, ok := get[*string](t)(s.Get("a")); ok {
		t.Fatal("a nil value did not delete the key")
	}
	recs := h.log.recs["kv"]
	if last := recs[len(recs)-1]; string(last.Key) != "a" || last.Value != nil {
		t.Fatalf("last changelog record = %q=%v, want a tombstone for a", last.Key, last.Value)
	}
}

func testKVEmptyValue(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	s := build[*KeyValueStore[string, []byte]](t, KeyValueStoreBuilder("kv", serde.String(), serde.Bytes()), h.env())
	must(t, s.Put("empty", []byte{}))
	must(t, s.Put("nil", nil))
	check := func(when string, s *KeyValueStore[string, []byte]) {
		t.Helper()
		v, ok := get[[]byte](t)(s.Get("empty"))
		if !ok || v == nil || len(v) != 0 {
			t.Fatalf("%s: Get(empty) = %#v, %v; want []byte{}, true", when, v, ok)
		}
		if _, ok := get[[]byte](t)(s.Get("nil")); ok {
			t.Fatalf("%s: a nil value was stored", when)
		}
		all := collect(t, s.All())
		if len(all) != 1 || all[0].Key != "empty" || all[0].Value == nil {
			t.Fatalf("%s: All = %#v, want one non-nil empty value", when, all)
		}
	}
	check("staged", s)
	h.commit()
	check("committed", s)
	ro := KeyValueStoreBuilder("kv", serde.String(), serde.Bytes()).ReadOnly(db.Committed(h.id, "kv"))
	check("read-only", ro)
}

func testStagedVisibility(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	s := kvStore(t, h, "kv")
	ro := KeyValueStoreBuilder("kv", serde.String(), serde.String()).ReadOnly(db.Committed(h.id, "kv"))
	must(t, s.Put("a", "1"))
	if v, ok := get[string](t)(s.Get("a")); !ok || v != "1" {
		t.Fatal("the task does not read its own staged write")
	}
	if _, ok := get[string](t)(ro.Get("a")); ok {
		t.Fatal("a staged write is visible in the committed state")
	}
	equal(t, "committed All before commit", kvs(t, ro.All()), nil)
	h.commit()
	if v, ok := get[string](t)(ro.Get("a")); !ok || v != "1" {
		t.Fatal("a committed write is not visible in the committed state")
	}
	// Another task's state is apart.
	other := KeyValueStoreBuilder("kv", serde.String(), serde.String()).ReadOnly(db.Committed(processor.TaskID{SubTopology: 1, Partition: 4}, "kv"))
	equal(t, "other task", kvs(t, other.All()), nil)
}

func testAbort(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	s := kvStore(t, h, "kv")
	must(t, s.Put("a", "1"))
	h.commit()
	must(t, s.Put("a", "2"))
	must(t, s.Put("b", "2"))
	if h.ts.StagedBytes() == 0 {
		t.Fatal("StagedBytes = 0 with staged writes")
	}
	must(t, h.ts.Abort())
	equal(t, "after abort", kvs(t, s.All()), []string{"a=1"})
	must(t, s.Put("c", "3"))
	h.commit()
	ro := KeyValueStoreBuilder("kv", serde.String(), serde.String()).ReadOnly(db.Committed(h.id, "kv"))
	equal(t, "committed", kvs(t, ro.All()), []string{"a=1", "c=3"})
}

func testKVRestore(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	s := kvStore(t, h, "kv")
	ts := build[*KeyValueStore[string, ValueAndTimestamp[string]]](t,
		TimestampedKeyValueStoreBuilder("ts", serde.String(), serde.String()), h.env())
	for i := range 20 {
		h.rc.Timestamp = int64(100 + i)
		k := fmt.Sprint(i % 7)
		must(t, s.Put(k, fmt.Sprint(i)))
		must(t, ts.Put(k, ValueAndTimestamp[string]{Value: fmt.Sprint(i), Timestamp: int64(1000 + i)}))
		if i%5 == 0 {
			_, _, err := s.Delete(fmt.Sprint((i + 3) % 7))
			must(t, err)
		}
	}
	h2 := newHarness(t, open(t))
	s2 := kvStore(t, h2, "kv")
	ts2 := build[*KeyValueStore[string, ValueAndTimestamp[string]]](t,
		TimestampedKeyValueStoreBuilder("ts", serde.String(), serde.String()), h2.env())
	must(t, s2.RestoreBatch(h.log.recs["kv"]))
	must(t, ts2.RestoreBatch(h.log.recs["ts"]))
	equal(t, "restored", kvs(t, s2.All()), kvs(t, s.All()))
	equal(t, "restored timestamped", collect(t, ts2.All()), collect(t, ts.All()))
	if len(h2.log.recs) != 0 {
		t.Fatalf("restoring wrote to the changelog: %v", h2.log.recs)
	}
}
