package topology_test

import (
	"flag"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of topology descriptions")

func checkGolden(t *testing.T, got, path string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("description differs from %s:\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// splitMergeRepartition is a DSL topology with a split, a merge, a
// repartition and two sinks, plus a processor with stores:
//
//	input ─▶ split ─┬─ branch 1 ─▶ mapValues ─┐
//	                ├─ branch 2 ──────────────┴▶ merge ─▶ repartition ─▶ process(store) ─▶ output
//	                └─ default ─────────────────────────────────────────────────────────▶ rest
func splitMergeRepartition() *topology.Builder {
	b := topology.NewBuilder()
	src := kstream.From(b, "input", serde.String(), serde.String())
	branches := src.Split().
		Branch(func(_, v string) bool { return strings.HasPrefix(v, "a") }).
		Branch(func(_, v string) bool { return strings.HasPrefix(v, "b") }).
		DefaultBranch()
	upper := kstream.MapValues(branches["KSTREAM-BRANCH-00000000011"], strings.ToUpper)
	merged := upper.Merge(branches["KSTREAM-BRANCH-00000000012"])
	b.AddStateStore(testStoreBuilder("seen"))
	b.AddStateStore(testStoreBuilder("counts"))
	kstream.Process(merged.Repartition(), strPass, kstream.WithStores("seen", "counts")).To("output")
	branches["KSTREAM-BRANCH-00000000010"].To("rest")
	return b
}

func TestDescribeGolden(t *testing.T) {
	topo, err := splitMergeRepartition().Build()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, topo.Describe().String(), "testdata/split-merge-repartition.golden")
}

func TestDescribeNamed(t *testing.T) {
	// Named operators, a topic-name extractor, a node with two parents that
	// are not in description order, and a source of two topics.
	b := topology.NewBuilder()
	src := kstream.FromTopics(b, []string{"clicks", "views"}, serde.String(), serde.String(), kstream.Named("events"))
	branches := src.Split(kstream.Named("route-")).
		Branch(func(k, _ string) bool { return k == "" }, kstream.Named("anonymous")).
		DefaultBranch(kstream.Named("known"))
	branches["route-anonymous"].To("anonymous", kstream.Named("anon-sink"))
	known := branches["route-known"].Repartition(kstream.Named("by-user"), kstream.WithPartitions(6))
	audit := kstream.From(b, "audit", serde.String(), serde.String(), kstream.Named("audit-src"))
	known.Peek(func(string, string) {}, kstream.Named("z-peek")).
		Merge(audit, kstream.Named("all")).
		ToFunc(func(r processor.Record[string, string]) string { return "out-" + r.Key }, kstream.Named("dynamic"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, topo.Describe().String(), "testdata/named.golden")

	// The structured description.
	d := topo.Describe()
	if len(d.SubTopologies) != 2 {
		t.Fatalf("%d sub-topologies, want 2", len(d.SubTopologies))
	}
	got := d.SubTopologies[1]
	want := topology.SubTopologyDescription{ID: 1, Nodes: []topology.NodeDescription{
		{Kind: "source", Name: "by-user-repartition-source", Topics: []string{"by-user-repartition"},
			Successors: []string{"z-peek"}},
		{Kind: "source", Name: "audit-src", Topics: []string{"audit"}, Successors: []string{"all"}},
		{Kind: "processor", Name: "z-peek", Successors: []string{"all"},
			Predecessors: []string{"by-user-repartition-source"}},
		{Kind: "processor", Name: "all", Successors: []string{"dynamic"}, Predecessors: []string{"audit-src", "z-peek"}},
		{Kind: "sink", Name: "dynamic", Predecessors: []string{"all"}},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sub-topology 1:\n got %+v\nwant %+v", got, want)
	}
}

func TestDescribeEmpty(t *testing.T) {
	topo, err := topology.NewBuilder().Build()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := topo.Describe().String(), "Topologies:\n "; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}
