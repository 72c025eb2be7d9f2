package topology_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// pass forwards every record unchanged.
type pass[K, V any] struct{ ctx processor.Context[K, V] }

func (p *pass[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *pass[K, V]) Process(r processor.Record[K, V]) error { return p.ctx.Forward(r) }
func (p *pass[K, V]) Close() error                           { return nil }

func passOf[K, V any]() processor.Processor[K, V, K, V] { return &pass[K, V]{} }

// strPass is a processor of string keys and values.
var strPass processor.Supplier[string, string, string, string] = passOf[string, string]

// testStore is a minimal state store.
type testStore struct{ name string }

func (s *testStore) Name() string { return s.name }
func (s *testStore) Flush() error { return nil }
func (s *testStore) Close() error { return nil }

// testStoreBuilder builds a testStore named by its value.
type testStoreBuilder string

func (s testStoreBuilder) Name() string { return string(s) }

func (s testStoreBuilder) Changelog() (state.ChangelogConfig, bool) {
	return state.ChangelogConfig{}, false
}
func (s testStoreBuilder) Build(state.Env) (state.Store, error) {
	return &testStore{name: string(s)}, nil
}

func source(b *topology.Builder, name string, topics ...string) {
	topology.AddSource(b, name, serde.String(), serde.String(), topics...)
}

func sink(b *topology.Builder, name, topic string, parents ...string) {
	topology.AddSink(b, name, topic, serde.String(), serde.String(), parents...)
}

func wantBuildError(t *testing.T, b *topology.Builder, want string) {
	t.Helper()
	topo, err := b.Build()
	if err == nil {
		t.Fatalf("Build succeeded with %d sub-topologies, want error %q", len(topo.SubTopologies()), want)
	}
	if err.Error() != want {
		t.Fatalf("Build error:\n got %q\nwant %q", err.Error(), want)
	}
}

func TestBuildUnknownParent(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src", "nope")
	wantBuildError(t, b, `topology: processor "proc": unknown parent "nope"`)
}

func TestBuildUnknownSinkParent(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	sink(b, "out", "output", "missing")
	wantBuildError(t, b, `topology: sink "out": unknown parent "missing"`)
}

func TestBuildDuplicateName(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src")
	sink(b, "proc", "output", "proc")
	wantBuildError(t, b, `topology: node "proc": duplicate name: a node with this name is already added`)
}

func TestBuildParentListedTwice(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src", "src")
	wantBuildError(t, b, `topology: processor "proc": parent "src" is listed twice`)
}

func TestBuildStoreNotAdded(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src")
	b.ConnectProcessorAndStateStores("proc", "counts")
	wantBuildError(t, b, `topology: processor "proc": uses state store "counts", which is not added`)
}

func TestBuildStoreNotConnected(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src")
	b.AddStateStore(testStoreBuilder("counts"))
	wantBuildError(t, b, `topology: state store "counts" is not connected to any processor`)
}

func TestBuildStoreConnectedToUnknownProcessor(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	b.AddStateStore(testStoreBuilder("counts"), "ghost")
	wantBuildError(t, b, "topology: state store \"counts\": connected to unknown processor \"ghost\"\n"+
		"topology: state store \"counts\" is not connected to any processor")
}

func TestBuildStoreConnectedToSource(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src")
	b.AddStateStore(testStoreBuilder("counts"), "proc", "src")
	wantBuildError(t, b, `topology: state store "counts": "src" is a source; only processors use stores`)
}

func TestBuildDuplicateStore(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "proc", strPass, "src")
	b.AddStateStore(testStoreBuilder("counts"), "proc")
	b.AddStateStore(testStoreBuilder("counts"), "proc")
	wantBuildError(t, b, `topology: state store "counts": duplicate name: a store with this name is already added`)
}

func TestBuildCycle(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "a", strPass, "src", "c")
	topology.AddProcessor(b, "b", strPass, "a")
	topology.AddProcessor(b, "c", strPass, "b")
	wantBuildError(t, b, `topology: processor "a" is part of a cycle: a --> b --> c --> a`)
}

func TestBuildSelfLoop(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "loop", strPass, "src", "loop")
	wantBuildError(t, b, `topology: processor "loop" is part of a cycle: loop --> loop`)
}

func TestBuildSinkWithoutTopic(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	sink(b, "out", "", "src")
	wantBuildError(t, b, `topology: sink "out" has no topic`)
}

func TestBuildNoParent(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "orphan", strPass)
	sink(b, "out", "output", "orphan")
	wantBuildError(t, b, `topology: processor "orphan" has no path from a source: it has no parent`)
}

func TestBuildSinkWithoutParent(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	sink(b, "out", "output")
	wantBuildError(t, b, `topology: sink "out" has no path from a source: it has no parent`)
}

func TestBuildTypeMismatch(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "ints", passOf[string, int64], "src")
	wantBuildError(t, b, `topology: processor "ints" accepts (string, int64), but its parent "src" forwards (string, string)`)
}

func TestBuildSinkTypeMismatch(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.Int64(), serde.Bytes(), "input")
	sink(b, "out", "output", "src")
	wantBuildError(t, b, `topology: sink "out" accepts (string, string), but its parent "src" forwards (int64, []uint8)`)
}

func TestBuildSinkAsParent(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	sink(b, "out", "output", "src")
	topology.AddProcessor(b, "after", strPass, "out")
	wantBuildError(t, b, `topology: processor "after": parent "out" is a sink, which has no children`)
}

func TestBuildTopicReadTwice(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "first", "input", "other")
	source(b, "second", "input")
	sink(b, "out", "output", "second")
	wantBuildError(t, b, `topology: source "second": topic "input" is already read by source "first"`)
}

func TestBuildSourceErrors(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "none")
	source(b, "empty", "")
	topology.AddSource[string, string](b, "noserde", nil, serde.String(), "t")
	wantBuildError(t, b, "topology: source \"none\": no topics\n"+
		"topology: source \"empty\": empty topic name\n"+
		"topology: source \"noserde\": key and value serdes are required")
}

func TestBuildJoinsEveryError(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	topology.AddProcessor(b, "p1", strPass, "nope")
	sink(b, "s1", "", "src")
	wantBuildError(t, b, "topology: processor \"p1\": unknown parent \"nope\"\n"+
		"topology: sink \"s1\" has no topic")
}

func TestBuildTwice(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	sink(b, "out", "output", "src")
	if _, err := b.Build(); err != nil {
		t.Fatal(err)
	}
	wantBuildError(t, b, "topology: Build called twice")
	// Nodes added after Build are refused too.
	sink(b, "late", "output", "src")
	if b.HasNode("late") {
		t.Errorf("HasNode(late) = true after Build")
	}
}

func TestBuildAfterFailedBuild(t *testing.T) {
	// A failed Build may be retried once the problem is fixed.
	b := topology.NewBuilder()
	source(b, "src", "input")
	b.ConnectProcessorAndStateStores("proc", "counts")
	wantBuildError(t, b, `topology: state store "counts": connected to unknown processor "proc"`)
	topology.AddProcessor(b, "proc", strPass, "src")
	b.AddStateStore(testStoreBuilder("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	if got := topo.Stores(); !reflect.DeepEqual(got, []string{"counts"}) {
		t.Errorf("Stores() = %v", got)
	}
}

func TestNewName(t *testing.T) {
	b := topology.NewBuilder()
	got := []string{b.NewName("KSTREAM-SOURCE-"), b.NewName("KSTREAM-FILTER-"), b.NewName("X")}
	want := []string{"KSTREAM-SOURCE-0000000000", "KSTREAM-FILTER-0000000001", "X0000000002"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("NewName = %v, want %v", got, want)
	}
}

func TestInternalTopicErrors(t *testing.T) {
	b := topology.NewBuilder()
	source(b, "src", "input")
	b.AddInternalTopic(topology.InternalTopic{Name: "rep", Partitions: 2})
	b.AddInternalTopic(topology.InternalTopic{Name: "rep"})
	b.AddInternalTopic(topology.InternalTopic{Name: "neg", Partitions: -1})
	b.AddInternalTopic(topology.InternalTopic{})
	wantBuildError(t, b, "topology: internal topic \"rep\" is already declared\n"+
		"topology: internal topic \"neg\": negative partition count -1\n"+
		"topology: an internal topic needs a name")
}

func nodeNames(spec *exec.SubTopologySpec) []string {
	var out []string
	for _, n := range spec.Nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestSubTopologies(t *testing.T) {
	b := topology.NewBuilder()
	// Sub-topology 0: the first node added is "b-src".
	source(b, "b-src", "topic-b")
	// Sub-topology 1: two chains joined by a shared store.
	source(b, "a-src", "topic-a")
	source(b, "c-src", "topic-c")
	topology.AddProcessor(b, "c-proc", strPass, "c-src")
	topology.AddProcessor(b, "a-proc", strPass, "a-src")
	sink(b, "c-out", "out-c", "c-proc")
	b.AddStateStore(testStoreBuilder("shared"), "a-proc")
	b.ConnectProcessorAndStateStores("c-proc", "shared")
	// Sub-topology 0 continues; a repartition topic leads to sub-topology 2.
	topology.AddProcessor(b, "b-proc", strPass, "b-src")
	b.AddStateStore(testStoreBuilder("b-store"), "b-proc")
	b.AddInternalTopic(topology.InternalTopic{Name: "rep", Partitions: 4})
	sink(b, "b-to-rep", "rep", "b-proc")
	sink(b, "b-out", "out-b", "b-proc")
	sink(b, "b-out-again", "out-b", "b-src")
	source(b, "rep-src", "rep")
	sink(b, "rep-out", "out-rep", "rep-src")

	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	type sub struct {
		ID                            int
		Sources, Sinks, Stores, Nodes []string
	}
	var got []sub
	for _, st := range topo.SubTopologies() {
		got = append(got, sub{st.ID, st.SourceTopics, st.SinkTopics, st.Stores, nodeNames(st.Spec())})
		if st.Spec().ID != st.ID {
			t.Errorf("sub-topology %d: spec ID %d", st.ID, st.Spec().ID)
		}
	}
	want := []sub{
		{0, []string{"topic-b"}, []string{"rep", "out-b"}, []string{"b-store"},
			[]string{"b-src", "b-proc", "b-to-rep", "b-out", "b-out-again"}},
		{1, []string{"topic-a", "topic-c"}, []string{"out-c"}, []string{"shared"},
			[]string{"a-src", "c-src", "c-proc", "a-proc", "c-out"}},
		{2, []string{"rep"}, []string{"out-rep"}, nil, []string{"rep-src", "rep-out"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sub-topologies:\n got %+v\nwant %+v", got, want)
	}

	for topic, id := range map[string]int{"topic-b": 0, "topic-a": 1, "topic-c": 1, "rep": 2} {
		st, ok := topo.SubTopologyOf(topic)
		if !ok || st.ID != id {
			t.Errorf("SubTopologyOf(%q) = %v, %v; want sub-topology %d", topic, st, ok, id)
		}
	}
	if _, ok := topo.SubTopologyOf("out-b"); ok {
		t.Errorf("SubTopologyOf(out-b) found a reader")
	}
	if got, want := topo.InternalTopics(), []topology.InternalTopic{{Name: "rep", Partitions: 4}}; !reflect.DeepEqual(got, want) {
		t.Errorf("InternalTopics() = %v, want %v", got, want)
	}
	if !topo.IsInternal("rep") || topo.IsInternal("out-rep") {
		t.Errorf("IsInternal(rep) = %t, IsInternal(out-rep) = %t", topo.IsInternal("rep"), topo.IsInternal("out-rep"))
	}
	if got := topo.Stores(); !reflect.DeepEqual(got, []string{"b-store", "shared"}) {
		t.Errorf("Stores() = %v", got)
	}
	if sb, id, ok := topo.Store("shared"); !ok || id != 1 || sb.Name() != "shared" {
		t.Errorf("Store(shared) = %v, %d, %t", sb, id, ok)
	}
	if _, _, ok := topo.Store("nope"); ok {
		t.Errorf("Store(nope) found")
	}

	// The specs wire children in the order they were added and name the
	// stores each processor uses.
	spec := topo.SubTopologies()[0].Spec()
	var wiring []string
	for _, n := range spec.Nodes {
		wiring = append(wiring, n.Name+" "+n.Factory.Kind().String()+" "+n.Factory.In().String()+
			"->"+n.Factory.Out().String()+" children="+strings.Join(n.Children, ",")+" stores="+strings.Join(n.Stores, ","))
	}
	wantWiring := []string{
		"b-src source (?, ?)->(string, string) children=b-proc,b-out-again stores=",
		"b-proc processor (string, string)->(string, string) children=b-to-rep,b-out stores=b-store",
		"b-to-rep sink (string, string)->(?, ?) children= stores=",
		"b-out sink (string, string)->(?, ?) children= stores=",
		"b-out-again sink (string, string)->(?, ?) children= stores=",
	}
	if !reflect.DeepEqual(wiring, wantWiring) {
		t.Errorf("wiring:\n got %q\nwant %q", wiring, wantWiring)
	}
	if got := spec.Stores; len(got) != 1 || got[0].Name() != "b-store" {
		t.Errorf("spec stores = %v", got)
	}
}
