package topology_test

import (
	"fmt"
	"strings"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// upper forwards each record with its value in upper case.
type upper struct {
	ctx processor.Context[string, string]
}

func (p *upper) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *upper) Close() error                                     { return nil }
func (p *upper) Process(r processor.Record[string, string]) error {
	return p.ctx.Forward(r.WithValue(strings.ToUpper(r.Value)))
}

// The Processor API: wire a source, a processor and a sink by name, build the
// topology and print its description.
func ExampleNewBuilder() {
	b := topology.NewBuilder()
	topology.AddSource(b, "Source", serde.String(), serde.String(), "words")
	topology.AddProcessor(b, "Upper", func() processor.Processor[string, string, string, string] {
		return &upper{}
	}, "Source")
	topology.AddSink(b, "Sink", "shouts", serde.String(), serde.String(), "Upper")

	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(t.Describe())
	// Output:
	// Topologies:
	//    Sub-topology: 0
	//     Source: Source (topics: [words])
	//       --> Upper
	//     Processor: Upper (stores: [])
	//       --> Sink
	//       <-- Source
	//     Sink: Sink (topic: shouts)
	//       <-- Upper
}

// Build reports every problem it finds, each naming its node.
func ExampleBuilder_Build() {
	b := topology.NewBuilder()
	topology.AddSource(b, "Source", serde.String(), serde.Int64(), "numbers")
	// The sink expects string values, but its parent forwards int64 values.
	topology.AddSink(b, "Sink", "out", serde.String(), serde.String(), "Source")
	// This processor's parent does not exist.
	topology.AddProcessor(b, "Orphan", func() processor.Processor[string, string, string, string] {
		return &upper{}
	}, "Nowhere")

	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// topology: sink "Sink" accepts (string, string), but its parent "Source" forwards (string, int64)
	// topology: processor "Orphan": unknown parent "Nowhere"
}

// A repartition by hand: a sink writes an internal topic and a source reads
// it back, which splits the graph into two sub-topologies. The runtime
// prefixes the internal topic with the application id.
func ExampleBuilder_AddInternalTopic() {
	b := topology.NewBuilder()
	b.AddInternalTopic(topology.InternalTopic{Name: "by-user-repartition"})
	topology.AddSource(b, "Input", serde.String(), serde.String(), "clicks")
	topology.AddSink(b, "ToRepartition", "by-user-repartition", serde.String(), serde.String(), "Input")
	topology.AddSource(b, "FromRepartition", serde.String(), serde.String(), "by-user-repartition")
	topology.AddSink(b, "Output", "clicks-by-user", serde.String(), serde.String(), "FromRepartition")

	t, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, st := range t.SubTopologies() {
		fmt.Println(st.ID, st.SourceTopics, st.SinkTopics)
	}
	fmt.Println(t.IsInternal("by-user-repartition"), t.InternalTopics())
	// Output:
	// 0 [clicks] [by-user-repartition]
	// 1 [by-user-repartition] [clicks-by-user]
	// true [{by-user-repartition 0}]
}
