package state

import (
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

func testBadSerdes(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	badKey := build[*KeyValueStore[string, string]](t, KeyValueStoreBuilder("badkey", failing[string](), serde.String()), h.env())
	wantErr(t, badKey.Put("k", "v"), `state: store "badkey": serializing key: boom`)
	_, _, err := badKey.Get("k")
	wantErr(t, err, `state: store "badkey": serializing key: boom`)
	for _, err := range badKey.Range("a", "b") {
		wantErr(t, err, `state: store "badkey": serializing key: boom`)
	}
	for _, err := range badKey.PrefixScan("a") {
		wantErr(t, err, `state: store "badkey": serializing prefix: boom`)
	}
	badValue := build[*KeyValueStore[string, string]](t, KeyValueStoreBuilder("badvalue", serde.String(), failing[string]()), h.env())
	wantErr(t, badValue.Put("k", "v"), `state: store "badvalue": serializing value: boom`)

	// Bytes written with one serde, read with one that cannot decode them.
	kv := kvStore(t, h, "kv")
	must(t, kv.Put("k", "v"))
	undecodable := build[*KeyValueStore[string, string]](t, KeyValueStoreBuilder("kv", serde.String(), failing[string]()), h.env())
	_, _, err = undecodable.Get("k")
	wantErr(t, err, `state: store "kv": deserializing value: cannot decode`)
	for _, err := range undecodable.All() {
		wantErr(t, err, `state: store "kv": deserializing value: cannot decode`)
	}
	badKeys := build[*KeyValueStore[string, string]](t, KeyValueStoreBuilder("kv", serde.Funcs(serde.String().Serialize, failing[string]().Deserialize), serde.String()), h.env())
	for _, err := range badKeys.All() {
		wantErr(t, err, `state: store "kv": deserializing key: cannot decode`)
	}
	i32 := build[*KeyValueStore[string, int32]](t, KeyValueStoreBuilder("kv", serde.String(), serde.Int32()), h.env())
	_, _, err = i32.Get("k")
	wantErr(t, err, `state: store "kv": deserializing value: `+mustErr(serde.Int32().Deserialize([]byte("v"))).Error())

	w := windowStore(t, h, "w", false)
	must(t, w.Put("k", "v", 0))
	bw := build[*WindowStore[string, string]](t, WindowStoreBuilder("w", failing[string](), failing[string](), 10*time.Minute, time.Minute, false), h.env())
	wantErr(t, bw.Put("k", "v", 0), `state: store "w": serializing key: boom`)
	for _, err := range bw.FetchAll(0, 10) {
		wantErr(t, err, `state: store "w": deserializing key: cannot decode`)
	}
	for _, err := range bw.FetchRange("k", 0, 10) {
		wantErr(t, err, `state: store "w": serializing key: boom`)
	}
	bv := build[*WindowStore[string, string]](t, WindowStoreBuilder("w", serde.String(), failing[string](), 10*time.Minute, time.Minute, false), h.env())
	_, _, err = bv.Fetch("k", 0)
	wantErr(t, err, `state: store "w": deserializing value: cannot decode`)
	for _, err := range bv.FetchRange("k", 0, 10) {
		wantErr(t, err, `state: store "w": deserializing value: cannot decode`)
	}
	wantErr(t, bv.Put("k", "v", 0), `state: store "w": serializing value: boom`)

	ss := sessionStore(t, h, "s")
	must(t, ss.Put("k", 0, 0, "v"))
	bs := build[*SessionStore[string, string]](t, SessionStoreBuilder("s", serde.String(), failing[string](), 10*time.Minute), h.env())
	for _, err := range bs.Fetch("k") {
		wantErr(t, err, `state: store "s": deserializing value: cannot decode`)
	}
	_, _, err = bs.FetchSession("k", 0, 0)
	wantErr(t, err, `state: store "s": deserializing value: cannot decode`)
	wantErr(t, bs.Put("k", 0, 0, "v"), `state: store "s": serializing value: boom`)
	bsk := build[*SessionStore[string, string]](t, SessionStoreBuilder("s", failing[string](), failing[string](), 10*time.Minute), h.env())
	wantErr(t, bsk.Remove("k", 0, 0), `state: store "s": serializing key: boom`)
	for _, err := range bsk.All() {
		wantErr(t, err, `state: store "s": deserializing key: cannot decode`)
	}

	// Builders validate.
	_, err = WindowStoreBuilder("w", serde.String(), serde.String(), time.Minute, time.Hour, false).Build(h.env())
	wantErr(t, err, `state: store "w": retention period 1m0s is shorter than the window size 1h0m0s`)
	_, err = WindowStoreBuilder("w", serde.String(), serde.String(), time.Minute, -time.Second, false).Build(h.env())
	wantErr(t, err, `state: store "w": window size -1s is negative`)
	_, err = SessionStoreBuilder("s", serde.String(), serde.String(), 0).Build(h.env())
	wantErr(t, err, `state: store "s": retention period 0s must be at least 1ms`)
	_, err = WindowStoreBuilder[string, string]("w", nil, serde.String(), time.Minute, time.Minute, false).Build(h.env())
	wantErr(t, err, `state: store "w": key and value serdes are required`)
	_, err = SessionStoreBuilder("bad name", serde.String(), serde.String(), time.Minute).Build(h.env())
	wantErr(t, err, `state: store name "bad name" may contain only ASCII letters, digits, '.', '_' and '-'`)
	_, err = SessionStoreBuilder("s", serde.String(), serde.String(), time.Minute).Build(Env{})
	wantErr(t, err, `state: store "s": the runtime provides no state`)
}

func mustErr[T any](_ T, err error) error { return err }

func testUseAfterClose(t *testing.T, open openFunc) {
	h := newHarness(t, open(t))
	h.cache = NewCache(1 << 20)
	kv := kvStore(t, h, "kv", WithCaching(true))
	w := windowStore(t, h, "w", false)
	s := sessionStore(t, h, "s")
	must(t, kv.Close())
	must(t, w.Close())
	must(t, s.Close())
	must(t, kv.Close()) // twice is fine
	errs := map[string]error{}
	_, _, errs["kv Get"] = kv.Get("k")
	errs["kv Put"] = kv.Put("k", "v")
	_, _, errs["kv PutIfAbsent"] = kv.PutIfAbsent("k", "v")
	errs["kv PutAll"] = kv.PutAll([]KeyValue[string, string]{{"k", "v"}})
	_, _, errs["kv Delete"] = kv.Delete("k")
	_, errs["kv ApproximateNumEntries"] = kv.ApproximateNumEntries()
	errs["kv Flush"] = kv.Flush()
	errs["kv RestoreBatch"] = kv.RestoreBatch(nil)
	for name, seq := range map[string]func(func(KeyValue[string, string], error) bool){
		"kv Range": kv.Range("a", "b"), "kv ReverseRange": kv.ReverseRange("a", "b"), "kv All": kv.All(),
		"kv ReverseAll": kv.ReverseAll(), "kv PrefixScan": kv.PrefixScan("a"),
	} {
		for _, err := range seq {
			errs[name] = err
		}
	}
	errs["w Put"] = w.Put("k", "v", 0)
	_, _, errs["w Fetch"] = w.Fetch("k", 0)
	_, errs["w ObservedStreamTime"] = w.ObservedStreamTime()
	errs["w Flush"] = w.Flush()
	errs["w RestoreBatch"] = w.RestoreBatch(nil)
	for name, seq := range map[string]func(func(WindowEntry[string, string], error) bool){
		"w FetchRange": w.FetchRange("k", 0, 1), "w BackwardFetchRange": w.BackwardFetchRange("k", 0, 1),
		"w FetchKeyRange": w.FetchKeyRange("a", "b", 0, 1), "w BackwardFetchKeyRange": w.BackwardFetchKeyRange("a", "b", 0, 1),
		"w FetchAll": w.FetchAll(0, 1), "w BackwardFetchAll": w.BackwardFetchAll(0, 1), "w All": w.All(), "w BackwardAll": w.BackwardAll(),
	} {
		for _, err := range seq {
			errs[name] = err
		}
	}
	errs["s Put"] = s.Put("k", 0, 0, "v")
	errs["s Remove"] = s.Remove("k", 0, 0)
	_, _, errs["s FetchSession"] = s.FetchSession("k", 0, 0)
	_, errs["s ObservedStreamTime"] = s.ObservedStreamTime()
	errs["s Flush"] = s.Flush()
	errs["s RestoreBatch"] = s.RestoreBatch(nil)
	for name, seq := range map[string]func(func(SessionEntry[string, string], error) bool){
		"s FindSessions": s.FindSessions("k", 0, 1), "s BackwardFindSessions": s.BackwardFindSessions("k", 0, 1),
		"s FindSessionsRange": s.FindSessionsRange("a", "b", 0, 1), "s BackwardFindSessionsRange": s.BackwardFindSessionsRange("a", "b", 0, 1),
		"s Fetch": s.Fetch("k"), "s BackwardFetch": s.BackwardFetch("k"), "s FetchKeyRange": s.FetchKeyRange("a", "b"),
		"s BackwardFetchKeyRange": s.BackwardFetchKeyRange("a", "b"), "s FindSessionsEndingBetween": s.FindSessionsEndingBetween(0, 1),
		"s All": s.All(), "s BackwardAll": s.BackwardAll(),
	} {
		for _, err := range seq {
			errs[name] = err
		}
	}
	if len(errs) != 43 {
		t.Fatalf("%d calls checked, want 43", len(errs))
	}
	want := map[byte]string{
		'k': `state: store "kv": state: store is closed`,
		'w': `state: store "w": state: store is closed`,
		's': `state: store "s": state: store is closed`,
	}
	for name, err := range errs {
		t.Run(name, func(t *testing.T) { wantErrIs(t, err, ErrClosed, want[name[0]]) })
	}

	// A closed task state: the buckets of its stores refuse.
	kv2 := kvStore(t, h, "kv2")
	w2 := windowStore(t, h, "w2", false)
	must(t, h.ts.Close())
	wantErrIs(t, kv2.Put("k", "v"), ErrClosed, `state: store "kv2": state: store is closed`)
	_, _, err := kv2.Get("k")
	wantErrIs(t, err, ErrClosed, `state: store "kv2": state: store is closed`)
	wantErrIs(t, w2.Put("k", "v", 0), ErrClosed, `state: store "w2": state: store is closed`)
	for _, err := range w2.All() {
		wantErrIs(t, err, ErrClosed, `state: store "w2": state: store is closed`)
	}
	wantErrIs(t, h.ts.Commit(), ErrClosed, `state: store is closed`)
	wantErrIs(t, h.ts.Abort(), ErrClosed, `state: store is closed`)
}

func testTaskAndDBErrors(t *testing.T, open openFunc) {
	db := open(t)
	h := newHarness(t, db)
	_, err := db.Task(h.id)
	wantErrIs(t, err, ErrTaskOpen, "state: task state is already open: task 1_3")
	wantErrIs(t, db.DropTask(h.id), ErrTaskOpen, "state: task state is already open: cannot drop task 1_3")
	kv := kvStore(t, h, "kv")
	must(t, kv.Put("k", "v"))
	h.commit()
	ro := KeyValueStoreBuilder("kv", serde.String(), serde.String()).ReadOnly(db.Committed(h.id, "kv"))
	must(t, h.ts.Close())
	// Closed, the task opens again and sees its committed state.
	ts, err := db.Task(h.id)
	must(t, err)
	if v, ok, err := ts.Bucket("kv").Get([]byte("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("reopened task reads %q, %v, %v", v, ok, err)
	}
	must(t, ts.Close())
	must(t, db.DropTask(h.id))
	if _, ok := get[string](t)(ro.Get("k")); ok {
		t.Fatal("DropTask left the committed state")
	}
	// A task state left open when the DB closes.
	ts, err = db.Task(h.id)
	must(t, err)
	must(t, db.Close())
	must(t, db.Close())
	_, err = db.Task(h.id)
	wantErrIs(t, err, ErrDBClosed, "state: DB is closed")
	wantErrIs(t, db.DropTask(h.id), ErrDBClosed, "state: DB is closed")
	_, _, err = ro.Get("k")
	wantErrIs(t, err, ErrDBClosed, `state: store "kv": state: DB is closed`)
	for _, err := range ro.All() {
		wantErrIs(t, err, ErrDBClosed, `state: store "kv": state: DB is closed`)
	}
	wantErrIs(t, ts.Commit(), ErrDBClosed, "state: DB is closed")
	wantErrIs(t, ts.Bucket("kv").Set([]byte("k"), nil), ErrDBClosed, "state: DB is closed")
	must(t, ts.Close())
}
