package state

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

var benchEngines = []struct {
	name string
	open func(b *testing.B) *DB
}{
	{"memory", func(b *testing.B) *DB { return OpenMemory() }},
	{"pebble", func(b *testing.B) *DB { return benchPebble(b, false) }},
	{"pebble-sync", func(b *testing.B) *DB { return benchPebble(b, true) }},
}

func benchPebble(b *testing.B, sync bool) *DB {
	db, err := OpenPebble(b.TempDir(), PebbleOptions{SyncCommits: sync})
	if err != nil {
		b.Fatal(err)
	}
	return db
}

func benchTask(b *testing.B, db *DB) *TaskState {
	ts, err := db.Task(crashTask)
	if err != nil {
		b.Fatal(err)
	}
	return ts
}

const benchBatch = 1000

// BenchmarkPutCommit measures key-value puts committed in batches of 1000
// (no changelog, no cache): records/s.
func BenchmarkPutCommit(b *testing.B) {
	for _, e := range benchEngines {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			defer db.Close()
			ts := benchTask(b, db)
			defer ts.Close()
			st, err := KeyValueStoreBuilder("kv", serde.String(), serde.Bytes()).Build(Env{State: ts})
			if err != nil {
				b.Fatal(err)
			}
			s := st.(*KeyValueStore[string, []byte])
			keys := make([]string, 100_000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%08d", i)
			}
			value := make([]byte, 100)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := s.Put(keys[i%len(keys)], value); err != nil {
					b.Fatal(err)
				}
				if (i+1)%benchBatch == 0 {
					if err := ts.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := ts.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkWindowPutCommit is BenchmarkPutCommit for a window store, with
// window starts moving forward so that segments expire.
func BenchmarkWindowPutCommit(b *testing.B) {
	for _, e := range benchEngines[:2] {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			defer db.Close()
			ts := benchTask(b, db)
			defer ts.Close()
			st, err := WindowStoreBuilder("w", serde.String(), serde.Bytes(), time.Hour, time.Minute, false).Build(Env{State: ts})
			if err != nil {
				b.Fatal(err)
			}
			s := st.(*WindowStore[string, []byte])
			keys := make([]string, 10_000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%08d", i)
			}
			value := make([]byte, 100)
			b.ResetTimer()
			start := time.Now()
			for i := range b.N {
				if err := s.Put(keys[i%len(keys)], value, int64(i)); err != nil {
					b.Fatal(err)
				}
				if (i+1)%benchBatch == 0 {
					if err := ts.Commit(); err != nil {
						b.Fatal(err)
					}
				}
			}
			if err := ts.Commit(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
		})
	}
}

// BenchmarkGet measures the latency of random point gets over 100k
// committed keys, as percentiles of individual gets: by the task (through
// its staged batch) and by a reader of the committed state (interactive
// queries).
func BenchmarkGet(b *testing.B) {
	for _, e := range benchEngines[:2] {
		for _, committed := range []bool{false, true} {
			name := e.name + "/task"
			if committed {
				name = e.name + "/committed"
			}
			b.Run(name, func(b *testing.B) { benchGet(b, e.open, committed) })
		}
	}
}

func benchGet(b *testing.B, open func(*testing.B) *DB, committed bool) {
	db := open(b)
	defer db.Close()
	ts := benchTask(b, db)
	defer ts.Close()
	kb := KeyValueStoreBuilder("kv", serde.String(), serde.Bytes())
	st, err := kb.Build(Env{State: ts})
	if err != nil {
		b.Fatal(err)
	}
	s := st.(*KeyValueStore[string, []byte])
	keys := make([]string, 100_000)
	value := make([]byte, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%08d", i)
		if err := s.Put(keys[i], value); err != nil {
			b.Fatal(err)
		}
	}
	if err := ts.Commit(); err != nil {
		b.Fatal(err)
	}
	if committed {
		s = kb.ReadOnly(db.Committed(crashTask, "kv"))
	}
	order := rand.Perm(len(keys))
	lat := make([]time.Duration, b.N)
	b.ResetTimer()
	for i := range b.N {
		k := keys[order[i%len(order)]]
		t0 := time.Now()
		_, ok, err := s.Get(k)
		lat[i] = time.Since(t0)
		if err != nil || !ok {
			b.Fatal(ok, err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(q float64) float64 { return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Nanoseconds()) }
	b.ReportMetric(at(0.50), "p50-ns")
	b.ReportMetric(at(0.99), "p99-ns")
	b.ReportMetric(at(0.999), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
}

// discardLog is a ChangelogWriter that keeps nothing.
type discardLog struct{}

func (discardLog) Log(string, []byte, []byte, int64) error { return nil }

// BenchmarkCachedCount is the count aggregation's store traffic: a cached,
// logged, timestamped store of 100k random keys, each record a get and a
// put, with the cache flushed (through a listener that needs no old values)
// and the task committed every 24k records (a 100 ms commit interval at
// 240k records/s). The cache is smaller than the keys, as in the harness.
func BenchmarkCachedCount(b *testing.B) {
	db := benchPebble(b, false)
	defer db.Close()
	ts := benchTask(b, db)
	defer ts.Close()
	st, err := TimestampedKeyValueStoreBuilder("counts", serde.String(), serde.Int64(), WithCaching(true)).Build(
		Env{State: ts, Changelog: discardLog{}, Cache: NewCache(DefaultCacheBytes), Record: func() RecordContext { return RecordContext{} }})
	if err != nil {
		b.Fatal(err)
	}
	s := st.(*KeyValueStore[string, ValueAndTimestamp[int64]])
	s.SetFlushOldValues(false)
	s.SetFlushListener(func(string, *ValueAndTimestamp[int64], *ValueAndTimestamp[int64], RecordContext) error { return nil })
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%012d", i)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const perCommit = 24_000
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		k := keys[rng.IntN(len(keys))]
		v, _, err := s.Get(k)
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Put(k, ValueAndTimestamp[int64]{Value: v.Value + 1, Timestamp: int64(i)}); err != nil {
			b.Fatal(err)
		}
		if (i+1)%perCommit == 0 {
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := ts.Commit(); err != nil {
				b.Fatal(err)
			}
		}
	}
}
