package topology

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/seed992c72d9/streams/internal/exec"
)

// Description is a topology's structure, as Kafka Streams' TopologyDescription.
type Description struct {
	SubTopologies []SubTopologyDescription
	// GlobalStores are numbered after the sub-topologies.
	GlobalStores []GlobalStoreDescription
}

// GlobalStoreDescription describes the source and processor that keep a
// global store.
type GlobalStoreDescription struct {
	ID        int
	Source    NodeDescription
	Processor NodeDescription
}

// String prints the global store in Kafka Streams' format.
func (g GlobalStoreDescription) String() string {
	return fmt.Sprintf("Sub-topology: %d for global store (will not generate tasks)\n    %s\n    %s\n", g.ID, g.Source, g.Processor)
}

// SubTopologyDescription describes one sub-topology.
type SubTopologyDescription struct {
	ID int
	// Nodes are ordered as Kafka Streams orders them: by the size of the
	// graph below each node, largest first, then by name.
	Nodes []NodeDescription
}

// NodeDescription describes one node.
type NodeDescription struct {
	Kind string // "source", "processor" or "sink"
	Name string
	// Topics a source reads.
	Topics []string
	// Topic a sink writes; empty when it uses a topic name extractor.
	Topic string
	// Stores a processor uses, sorted.
	Stores []string
	// Successors and Predecessors are node names, in description order.
	Successors   []string
	Predecessors []string
}

// Describe returns the topology's description. Its String method prints Kafka
// Streams' text format.
func (t *Topology) Describe() *Description {
	d := &Description{}
	for _, st := range t.subs {
		d.SubTopologies = append(d.SubTopologies, describeSub(st))
	}
	for _, st := range t.globals {
		sd := describeSub(st)
		g := GlobalStoreDescription{ID: st.ID}
		for _, n := range sd.Nodes {
			if n.Kind == "source" {
				g.Source = n
			} else {
				g.Processor = n
			}
		}
		d.GlobalStores = append(d.GlobalStores, g)
	}
	return d
}

func describeSub(st *SubTopology) SubTopologyDescription {
	inSub := make(map[string]*node, len(st.nodes))
	for _, n := range st.nodes {
		inSub[n.name] = n
	}
	children := map[string][]string{}
	for _, n := range st.nodes {
		for _, p := range n.parents {
			children[p] = append(children[p], n.name)
		}
	}
	// size is the number of nodes reachable below a node, counting each
	// path, plus one: Kafka Streams' AbstractNode.size.
	size := map[string]int{}
	var sizeOf func(string) int
	sizeOf = func(name string) int {
		if s, ok := size[name]; ok {
			return s
		}
		s := 1
		for _, c := range children[name] {
			s += sizeOf(c)
		}
		size[name] = s
		return s
	}
	order := func(a, b string) int {
		if c := cmp.Compare(sizeOf(b), sizeOf(a)); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
	var out SubTopologyDescription
	out.ID = st.ID
	for _, n := range st.nodes {
		nd := NodeDescription{Kind: n.kind.String(), Name: n.name}
		nd.Successors = slices.Clone(children[n.name])
		slices.SortFunc(nd.Successors, order)
		nd.Predecessors = slices.Clone(n.parents)
		slices.SortFunc(nd.Predecessors, order)
		switch n.kind {
		case exec.KindSource:
			nd.Topics = slices.Clone(n.topics)
		case exec.KindSink:
			nd.Topic = n.topic
		case exec.KindProcessor:
			nd.Stores = slices.Clone(n.stores)
			slices.Sort(nd.Stores)
		}
		out.Nodes = append(out.Nodes, nd)
	}
	slices.SortFunc(out.Nodes, func(a, b NodeDescription) int { return order(a.Name, b.Name) })
	return out
}

// String prints the description in Kafka Streams' format:
//
//	Topologies:
//	   Sub-topology: 0
//	    Source: KSTREAM-SOURCE-0000000000 (topics: [input])
//	      --> KSTREAM-SINK-0000000001
//	    Sink: KSTREAM-SINK-0000000001 (topic: output)
//	      <-- KSTREAM-SOURCE-0000000000
func (d *Description) String() string {
	var sb strings.Builder
	sb.WriteString("Topologies:\n ")
	for _, st := range d.SubTopologies {
		sb.WriteString("  ")
		sb.WriteString(st.String())
	}
	for _, g := range d.GlobalStores {
		sb.WriteString("  ")
		sb.WriteString(g.String())
	}
	return sb.String()
}

// String prints one sub-topology in Kafka Streams' format.
func (s SubTopologyDescription) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Sub-topology: %d\n", s.ID)
	for _, n := range s.Nodes {
		sb.WriteString("    ")
		sb.WriteString(n.String())
		sb.WriteByte('\n')
	}
	sb.WriteByte('\n')
	return sb.String()
}

// String prints one node in Kafka Streams' format.
func (n NodeDescription) String() string {
	switch n.Kind {
	case "source":
		return fmt.Sprintf("Source: %s (topics: [%s])\n      --> %s", n.Name, strings.Join(n.Topics, ", "), names(n.Successors))
	case "sink":
		if n.Topic == "" {
			return fmt.Sprintf("Sink: %s (extractor class: topic name extractor)\n      <-- %s", n.Name, names(n.Predecessors))
		}
		return fmt.Sprintf("Sink: %s (topic: %s)\n      <-- %s", n.Name, n.Topic, names(n.Predecessors))
	}
	return fmt.Sprintf("Processor: %s (stores: [%s])\n      --> %s\n      <-- %s",
		n.Name, strings.Join(n.Stores, ", "), names(n.Successors), names(n.Predecessors))
}

func names(ns []string) string {
	if len(ns) == 0 {
		return "none"
	}
	return strings.Join(ns, ", ")
}
