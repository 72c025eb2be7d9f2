// Package exec runs sub-topologies: it turns the node specifications that
// package topology builds into typed node instances for one task, and drives
// records, punctuations and commits through them. Both the test driver and
// the Kafka runtime use it.
package exec

import (
	"reflect"

	"github.com/seed992c72d9/streams/state"
)

// Kind is the kind of a node.
type Kind int

const (
	KindSource Kind = iota
	KindProcessor
	KindSink
)

func (k Kind) String() string {
	switch k {
	case KindSource:
		return "source"
	case KindProcessor:
		return "processor"
	case KindSink:
		return "sink"
	}
	return "unknown"
}

// Types are the key and value types a node accepts or emits.
type Types struct {
	Key, Value reflect.Type
}

// Equal reports whether t and u are the same types.
func (t Types) Equal(u Types) bool { return t.Key == u.Key && t.Value == u.Value }

// String formats the types as "(K, V)".
func (t Types) String() string {
	return "(" + typeName(t.Key) + ", " + typeName(t.Value) + ")"
}

func typeName(t reflect.Type) string {
	if t == nil {
		return "?"
	}
	return t.String()
}

// Factory creates the runtime instances of one node.
type Factory interface {
	// Kind returns the node kind.
	Kind() Kind
	// In returns the types the node accepts; sources accept bytes and
	// return the zero Types.
	In() Types
	// Out returns the types the node forwards; sinks return the zero Types.
	Out() Types
	// New creates one instance of the node for a task.
	New(name string) (Node, error)
}

// NodeSpec is one node of a sub-topology.
type NodeSpec struct {
	Name     string
	Factory  Factory
	Children []string
	// Stores names the stores a processor is connected to.
	Stores []string
}

// SubTopologySpec is what a task instantiates.
type SubTopologySpec struct {
	ID int
	// Nodes in an order where every parent comes before its children.
	Nodes []NodeSpec
	// Stores are the builders of the stores the sub-topology's processors
	// use, in name order.
	Stores []state.Builder
}
