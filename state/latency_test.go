package state

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/serde"
)

// opSamples is an Env.OpLatency that keeps the samples of each store and op.
type opSamples struct {
	resolved []string // "store/op", in the order the stores asked
	samples  map[string][]float64
}

type sampleObserver struct {
	o   *opSamples
	key string
}

func (s sampleObserver) Observe(v float64) { s.o.samples[s.key] = append(s.o.samples[s.key], v) }

func (o *opSamples) opLatency(store string, op StoreOp) Observer {
	key := store + "/" + op.String()
	o.resolved = append(o.resolved, key)
	return sampleObserver{o, key}
}

// counts returns how many samples each store/op has.
func (o *opSamples) counts() map[string]int {
	out := map[string]int{}
	for k, v := range o.samples {
		out[k] = len(v)
	}
	return out
}

func newOpSamples() *opSamples { return &opSamples{samples: map[string][]float64{}} }

func equalCounts(t *testing.T, got, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("samples by store/op:\n got %v\nwant %v", got, want)
	}
}

func TestStoreOpNames(t *testing.T) {
	var names []string
	for _, op := range StoreOps() {
		names = append(names, op.String())
	}
	equal(t, "op names", names, []string{"get", "put", "delete", "range", "flush"})
	if got := StoreOp(99).String(); got != "unknown" {
		t.Errorf("StoreOp(99) = %q", got)
	}
}

// TestKeyValueStoreOpLatency checks which key-value operations are timed:
// the first and every 64th of each kind (each kind counted apart), every
// flush, and nothing for a store built without OpLatency.
func TestKeyValueStoreOpLatency(t *testing.T) {
	h := newHarness(t, openMemory(t))
	o := newOpSamples()
	env := h.env()
	env.OpLatency = o.opLatency
	s := build[*KeyValueStore[string, int64]](t, KeyValueStoreBuilder("kv", serde.String(), serde.Int64()), env)
	equal(t, "observers resolved at build", o.resolved, []string{"kv/get", "kv/put", "kv/delete", "kv/range", "kv/flush"})
	equalCounts(t, o.counts(), map[string]int{})

	// Alternating kinds: a shared counter would time only one of them.
	for i := range 130 {
		must(t, s.Put(fmt.Sprintf("k%03d", i), int64(i)))
		if _, ok, err := s.Get(fmt.Sprintf("k%03d", i)); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	equalCounts(t, o.counts(), map[string]int{"kv/get": 3, "kv/put": 3}) // ops 1, 65, 129
	for i := range 65 {
		if _, _, err := s.Delete(fmt.Sprintf("k%03d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Delete's read of the old value is not a get of its own.
	equalCounts(t, o.counts(), map[string]int{"kv/get": 3, "kv/put": 3, "kv/delete": 2})
	for range 2 {
		if got := len(collect(t, s.Range("k100", "k109"))); got != 10 {
			t.Fatalf("range: %d entries", got)
		}
	}
	collect(t, s.All())
	must(t, s.Flush())
	must(t, s.Flush())
	equalCounts(t, o.counts(), map[string]int{"kv/get": 3, "kv/put": 3, "kv/delete": 2, "kv/range": 1, "kv/flush": 2})
	for k, vs := range o.samples {
		for _, v := range vs {
			if v < 0 || v > 10 {
				t.Errorf("%s: sample %v s", k, v)
			}
		}
	}

	plain := build[*KeyValueStore[string, int64]](t, KeyValueStoreBuilder("plain", serde.String(), serde.Int64()), h.env())
	if plain.lat != nil {
		t.Fatal("a store without OpLatency times its operations")
	}
	must(t, plain.Put("a", 1))
	must(t, plain.Flush())
	equalCounts(t, o.counts(), map[string]int{"kv/get": 3, "kv/put": 3, "kv/delete": 2, "kv/range": 1, "kv/flush": 2})
}

// TestRangeLatencyExcludesLoopBody checks that a sampled iteration's time
// is the store's, not the caller's loop body's.
func TestRangeLatencyExcludesLoopBody(t *testing.T) {
	h := newHarness(t, openMemory(t))
	o := newOpSamples()
	env := h.env()
	env.OpLatency = o.opLatency
	s := build[*KeyValueStore[string, int64]](t, KeyValueStoreBuilder("kv", serde.String(), serde.Int64()), env)
	for i := range 3 {
		must(t, s.Put(fmt.Sprint(i), int64(i)))
	}
	const body = 50 * time.Millisecond
	start := time.Now()
	n := 0
	for _, err := range s.All() {
		must(t, err)
		n++
		time.Sleep(body)
	}
	total := time.Since(start)
	got := o.samples["kv/range"]
	if n != 3 || len(got) != 1 {
		t.Fatalf("%d entries, samples %v", n, got)
	}
	if d := time.Duration(got[0] * float64(time.Second)); d < 0 || d > total-3*body {
		t.Errorf("range latency %v; the loop took %v, of which %v in its body", d, total, 3*body)
	}
}

// TestWindowAndSessionStoreOpLatency checks the timed operations of window
// and session stores.
func TestWindowAndSessionStoreOpLatency(t *testing.T) {
	h := newHarness(t, openMemory(t))
	o := newOpSamples()
	env := h.env()
	env.OpLatency = o.opLatency
	w := build[*WindowStore[string, int64]](t, WindowStoreBuilder("w", serde.String(), serde.Int64(), 2*time.Hour, time.Minute, false), env)
	ss := build[*SessionStore[string, int64]](t, SessionStoreBuilder("s", serde.String(), serde.Int64(), time.Hour), env)
	for i := range 65 {
		must(t, w.Put("a", int64(i), int64(i)*60_000))
		if _, ok, err := w.Fetch("a", int64(i)*60_000); err != nil || !ok {
			t.Fatal(ok, err)
		}
		must(t, ss.Put("a", int64(i)*10, int64(i)*10+5, int64(i)))
		if _, ok, err := ss.FetchSession("a", int64(i)*10, int64(i)*10+5); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	must(t, ss.Remove("a", 0, 5))
	if got := len(collect(t, w.FetchRange("a", 0, math.MaxInt64))); got != 65 {
		t.Fatalf("window fetch: %d", got)
	}
	collect(t, w.FetchAll(0, math.MaxInt64))
	collect(t, w.FetchKeyRange("a", "b", 0, math.MaxInt64))
	if got := len(collect(t, ss.FindSessions("a", 0, math.MaxInt64))); got != 64 {
		t.Fatalf("sessions found: %d", got)
	}
	must(t, w.Flush())
	must(t, ss.Flush())
	equalCounts(t, o.counts(), map[string]int{
		"w/get": 2, "w/put": 2, "w/range": 1, "w/flush": 1,
		"s/get": 2, "s/put": 2, "s/delete": 1, "s/range": 1, "s/flush": 1,
	})
	// Three window iterations so far, the first timed: the 61 next are
	// not, the 65th iteration is.
	for range 61 {
		collect(t, w.All())
	}
	if got := o.counts()["w/range"]; got != 1 {
		t.Errorf("window iterations timed after 64: %d, want 1", got)
	}
	collect(t, w.BackwardFetchRange("a", 0, 60_000))
	if got := o.counts()["w/range"]; got != 2 {
		t.Errorf("window iterations timed after 65: %d, want 2", got)
	}
	ro, err := WindowStoreBuilder("w", serde.String(), serde.Int64(), 2*time.Hour, time.Minute, false).ReadOnly(h.db.Committed(h.id, "w"))
	must(t, err)
	if ro.lat != nil {
		t.Error("a read-only window store times its operations")
	}
}

// TestOpLatencyUnsampledAllocs checks that an unsampled operation of a
// store with OpLatency allocates no more than one of a store without.
func TestOpLatencyUnsampledAllocs(t *testing.T) {
	h := newHarness(t, openMemory(t))
	o := newOpSamples()
	timed := build[*KeyValueStore[string, int64]](t, KeyValueStoreBuilder("timed", serde.String(), serde.Int64()),
		Env{State: h.ts, OpLatency: o.opLatency})
	plain := build[*KeyValueStore[string, int64]](t, KeyValueStoreBuilder("plain", serde.String(), serde.Int64()), Env{State: h.ts})
	for _, s := range []*KeyValueStore[string, int64]{timed, plain} {
		for i := range 10 {
			must(t, s.Put(fmt.Sprint(i), int64(i)))
		}
	}
	for _, c := range []struct {
		op StoreOp
		do func(s *KeyValueStore[string, int64])
	}{
		{OpGet, func(s *KeyValueStore[string, int64]) { _, _, _ = s.Get("5") }},
		{OpPut, func(s *KeyValueStore[string, int64]) { _ = s.Put("5", 5) }},
		{OpDelete, func(s *KeyValueStore[string, int64]) { _, _, _ = s.Delete("5") }},
		{OpRange, func(s *KeyValueStore[string, int64]) {
			for range s.Range("2", "7") {
			}
		}},
	} {
		// The next 63 operations of the kind (AllocsPerRun's warm-up and
		// 62 runs) are unsampled.
		timed.lat.n[c.op] = 1
		before := len(o.samples["timed/"+c.op.String()])
		got := testing.AllocsPerRun(62, func() { c.do(timed) })
		want := testing.AllocsPerRun(62, func() { c.do(plain) })
		if len(o.samples["timed/"+c.op.String()]) != before || timed.lat.n[c.op] != 64 {
			t.Fatalf("%v: an operation was sampled", c.op)
		}
		if got != want {
			t.Errorf("%v: %v allocations unsampled, %v without OpLatency", c.op, got, want)
		}
	}
}

type discardSamples struct{}

func (discardSamples) Observe(float64) {}

// BenchmarkStoreOpLatency measures a put and a get of a key-value store in
// memory, with no store latency (off) and with it (on: 1 in 64 of each
// timed).
func BenchmarkStoreOpLatency(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			db := OpenMemory()
			defer db.Close()
			ts := benchTask(b, db)
			defer ts.Close()
			env := Env{State: ts}
			if on {
				env.OpLatency = func(string, StoreOp) Observer { return discardSamples{} }
			}
			st, err := KeyValueStoreBuilder("kv", serde.String(), serde.Int64()).Build(env)
			if err != nil {
				b.Fatal(err)
			}
			s := st.(*KeyValueStore[string, int64])
			keys := make([]string, 1000)
			for i := range keys {
				keys[i] = fmt.Sprintf("key-%08d", i)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := keys[i%len(keys)]
				if err := s.Put(k, int64(i)); err != nil {
					b.Fatal(err)
				}
				if _, _, err := s.Get(k); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
