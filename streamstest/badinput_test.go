package streamstest_test

// Errors of stateful topologies: stores that cannot serialize, unknown
// stores, and DSL misuse found at Build.

import (
	"errors"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

var errBadRefused = errors.New("refused")

// badRefusing is a string serde that cannot serialize "bad".
func badRefusing() serde.Serde[string] {
	return serde.Funcs(func(s string) ([]byte, error) {
		if s == "bad" {
			return nil, errBadRefused
		}
		return []byte(s), nil
	}, serde.String().Deserialize)
}

func badErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

// A store whose value serde fails: Pipe returns the error, naming the task,
// the input record, the node and the store; the error wraps the serde's.
func TestStoreValueSerializationErrorNamesStore(t *testing.T) {
	for _, caching := range []bool{false, true} {
		b := topology.NewBuilder()
		agg := kstream.Aggregate(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.String())),
			func() string { return "" }, func(_, v, _ string) string { return v }, "latest",
			kstream.WithValueSerde(badRefusing()), kstream.WithCaching(caching))
		kstream.FromTable(agg).To("out")
		d := newDriver(t, b)
		in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
		must(t, in.PipeAt("k", "good", 1))
		err := in.PipeAt("k", "bad", 2)
		wantErr(t, err, `task 0_0: processing the record at in/0 offset 1: KSTREAM-AGGREGATE-0000000001: `+
			`state: store "latest": serializing value: refused`)
		if !errors.Is(err, errBadRefused) {
			t.Errorf("error %v does not wrap the serde's error", err)
		}
	}
}

// A store whose key serde fails, here a table's.
func TestStoreKeySerializationErrorNamesStore(t *testing.T) {
	b := topology.NewBuilder()
	tbl := kstream.ToTable(kstream.From(b, "in", badRefusing(), serde.String()), "tbl")
	kstream.FromTable(tbl).To("out", kstream.WithKeySerde(serde.String()))
	d := newDriver(t, b)
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	must(t, in.PipeAt("good", "v", 1))
	err := in.PipeAt("bad", "v", 2)
	badErrContains(t, err, `state: store "tbl": serializing key: refused`, "KSTREAM-TOTABLE-")
	if !errors.Is(err, errBadRefused) {
		t.Errorf("error %v does not wrap the serde's error", err)
	}
}

// badStoreUser looks a store up by name in Init or in Process.
type badStoreUser struct {
	ctx     processor.Context[string, string]
	store   string
	inInit  bool
	lookups int
}

func (p *badStoreUser) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.inInit {
		_, err := processor.GetStore[*state.KeyValueStore[string, string]](ctx, p.store)
		return err
	}
	return nil
}
func (p *badStoreUser) Close() error { return nil }
func (p *badStoreUser) Process(processor.Record[string, string]) error {
	p.lookups++
	_, err := processor.GetStore[*state.KeyValueStore[string, string]](p.ctx, p.store)
	return err
}

func badStoreUserTopology(store string, inInit bool) *topology.Builder {
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.String(), "in")
	topology.AddProcessor(b, "user", func() processor.Processor[string, string, string, string] {
		return &badStoreUser{store: store, inInit: inInit}
	}, "src")
	// A store that exists but is connected to another processor.
	topology.AddProcessor(b, "other", func() processor.Processor[string, string, string, string] {
		return &badStoreUser{store: "kv"}
	}, "src")
	b.AddStateStore(state.KeyValueStoreBuilder("kv", serde.String(), serde.String()), "other")
	return b
}

// An unknown store name asked for by a processor: in Init the driver fails
// to start; in Process, Pipe returns the error. Both name the processor and
// the store.
func TestUnknownStoreNamesIt(t *testing.T) {
	topo, err := badStoreUserTopology("nope", true).Build()
	must(t, err)
	_, err = streamstest.New(topo)
	wantErr(t, err, `streamstest: task 0_0: initializing: user: processor "user": unknown state store "nope"`)

	d := newDriver(t, badStoreUserTopology("nope", false))
	err = streamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("k", "v", 1)
	wantErr(t, err, `task 0_0: processing the record at in/0 offset 0: user: processor "user": unknown state store "nope"`)

	// A store of the topology that the processor is not connected to.
	d = newDriver(t, badStoreUserTopology("kv", false))
	err = streamstest.NewInputTopic(d, "in", serde.String(), serde.String()).PipeAt("k", "v", 1)
	wantErr(t, err, `task 0_0: processing the record at in/0 offset 0: user: processor "user" is not connected to state store "kv"`)
}

type badPoint struct{ X, Y int }

// An aggregation of a type with no built-in serde and none given fails at
// Build, naming the operator and the option to pass.
func TestDSLMisuseFailsAtBuild(t *testing.T) {
	t.Run("stream aggregate value serde", func(t *testing.T) {
		b := topology.NewBuilder()
		kstream.Aggregate(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.String())),
			func() badPoint { return badPoint{} }, func(_, _ string, p badPoint) badPoint { p.X++; return p }, "points")
		_, err := b.Build()
		wantErr(t, err, "kstream: Aggregate KSTREAM-AGGREGATE-0000000001: no value serde for type "+
			"streamstest_test.badPoint; pass one with kstream.WithValueSerde")
	})
	t.Run("table aggregate value serde", func(t *testing.T) {
		b := topology.NewBuilder()
		users := ktable.From(b, "users", serde.String(), serde.String(), "users")
		ktable.Aggregate(ktable.GroupBy(users, func(k, v string) (string, string) { return v, k }),
			func() badPoint { return badPoint{} },
			func(_, _ string, p badPoint) badPoint { p.X++; return p },
			func(_, _ string, p badPoint) badPoint { p.X--; return p }, "points")
		_, err := b.Build()
		wantErr(t, err, "ktable: Aggregate KTABLE-AGGREGATE-0000000005: no value serde for type "+
			"streamstest_test.badPoint; pass one with ktable.WithValueSerde")
	})
	t.Run("group by key serde", func(t *testing.T) {
		b := topology.NewBuilder()
		s := kstream.From(b, "in", serde.String(), serde.String())
		kstream.Count(kstream.GroupBy(s, func(k, _ string) badPoint { return badPoint{X: len(k)} }), "counts")
		_, err := b.Build()
		wantErr(t, err, "kstream: Count KSTREAM-AGGREGATE-0000000002: no key serde for type "+
			"streamstest_test.badPoint; pass one to GroupBy with kstream.WithKeySerde")
	})
	t.Run("table group by key serde", func(t *testing.T) {
		b := topology.NewBuilder()
		users := ktable.From(b, "users", serde.String(), serde.String(), "users")
		ktable.Count(ktable.GroupBy(users, func(k, _ string) (badPoint, string) { return badPoint{X: len(k)}, k }), "points")
		_, err := b.Build()
		wantErr(t, err, "ktable: GroupBy KTABLE-SELECT-0000000002: no key serde for type "+
			"streamstest_test.badPoint; pass one with ktable.WithKeySerde")
	})
	t.Run("option an aggregation does not take", func(t *testing.T) {
		b := topology.NewBuilder()
		kstream.Count(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.String())), "counts",
			kstream.WithPartitions(3))
		_, err := b.Build()
		wantErr(t, err, "kstream: Count: option WithPartitions does not apply "+
			"(it takes Named, WithValueSerde, WithCaching, WithLogging)")
	})
	t.Run("invalid store name", func(t *testing.T) {
		b := topology.NewBuilder()
		kstream.Count(kstream.GroupByKey(kstream.From(b, "in", serde.String(), serde.String())), "no spaces")
		_, err := b.Build()
		badErrContains(t, err, `kstream: Count: state: store name "no spaces" may contain only`)
	})
}
