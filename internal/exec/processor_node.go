package exec

import (
	"reflect"

	"github.com/seed992c72d9/streams/processor"
)

// ProcessorFactory returns the factory of a processor node that calls
// supplier once per task.
func ProcessorFactory[KIn, VIn, KOut, VOut any](supplier processor.Supplier[KIn, VIn, KOut, VOut]) Factory {
	return procFactory[KIn, VIn, KOut, VOut]{supplier}
}

type procFactory[KIn, VIn, KOut, VOut any] struct {
	supplier processor.Supplier[KIn, VIn, KOut, VOut]
}

func (procFactory[KIn, VIn, KOut, VOut]) Kind() Kind { return KindProcessor }
func (procFactory[KIn, VIn, KOut, VOut]) In() Types {
	return Types{reflect.TypeFor[KIn](), reflect.TypeFor[VIn]()}
}
func (procFactory[KIn, VIn, KOut, VOut]) Out() Types {
	return Types{reflect.TypeFor[KOut](), reflect.TypeFor[VOut]()}
}

func (f procFactory[KIn, VIn, KOut, VOut]) New(name string) (Node, error) {
	p := f.supplier()
	if p == nil {
		return nil, &NodeError{Node: name, Err: errNilProcessor}
	}
	return &procNode[KIn, VIn, KOut, VOut]{nodeBase: nodeBase{name: name}, p: p}, nil
}

type procNode[KIn, VIn, KOut, VOut any] struct {
	nodeBase
	p        processor.Processor[KIn, VIn, KOut, VOut]
	children childList[KOut, VOut]
}

func (n *procNode[KIn, VIn, KOut, VOut]) addChild(c Node) error {
	return n.children.add(n.name, procFactory[KIn, VIn, KOut, VOut]{}.Out(), c)
}

func (n *procNode[KIn, VIn, KOut, VOut]) init() error {
	if err := n.p.Init(n); err != nil {
		return wrapNode(n.name, err)
	}
	return nil
}

func (n *procNode[KIn, VIn, KOut, VOut]) close() error { return n.p.Close() }

// Receive processes one record.
func (n *procNode[KIn, VIn, KOut, VOut]) Receive(rec processor.Record[KIn, VIn]) error {
	if err := n.p.Process(rec); err != nil {
		return wrapNode(n.name, err)
	}
	return nil
}

// Forward implements processor.Context.
func (n *procNode[KIn, VIn, KOut, VOut]) Forward(rec processor.Record[KOut, VOut]) error {
	return n.children.forward(rec)
}

// ForwardTo implements processor.Context.
func (n *procNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, rec processor.Record[KOut, VOut]) error {
	return n.children.forwardTo(n.name, child, rec)
}

// FixedKeyProcessorFactory returns the factory of a fixed-key processor node.
func FixedKeyProcessorFactory[K, VIn, VOut any](supplier processor.FixedKeySupplier[K, VIn, VOut]) Factory {
	return fixedFactory[K, VIn, VOut]{supplier}
}

type fixedFactory[K, VIn, VOut any] struct {
	supplier processor.FixedKeySupplier[K, VIn, VOut]
}

func (fixedFactory[K, VIn, VOut]) Kind() Kind { return KindProcessor }
func (fixedFactory[K, VIn, VOut]) In() Types {
	return Types{reflect.TypeFor[K](), reflect.TypeFor[VIn]()}
}
func (fixedFactory[K, VIn, VOut]) Out() Types {
	return Types{reflect.TypeFor[K](), reflect.TypeFor[VOut]()}
}

func (f fixedFactory[K, VIn, VOut]) New(name string) (Node, error) {
	p := f.supplier()
	if p == nil {
		return nil, &NodeError{Node: name, Err: errNilProcessor}
	}
	return &fixedNode[K, VIn, VOut]{nodeBase: nodeBase{name: name}, p: p}, nil
}

type fixedNode[K, VIn, VOut any] struct {
	nodeBase
	p        processor.FixedKeyProcessor[K, VIn, VOut]
	children childList[K, VOut]
}

func (n *fixedNode[K, VIn, VOut]) addChild(c Node) error {
	return n.children.add(n.name, fixedFactory[K, VIn, VOut]{}.Out(), c)
}

func (n *fixedNode[K, VIn, VOut]) init() error {
	if err := n.p.Init(n); err != nil {
		return wrapNode(n.name, err)
	}
	return nil
}

func (n *fixedNode[K, VIn, VOut]) close() error { return n.p.Close() }

// Receive processes one record.
func (n *fixedNode[K, VIn, VOut]) Receive(rec processor.Record[K, VIn]) error {
	if err := n.p.Process(processor.NewFixedKeyRecord(rec)); err != nil {
		return wrapNode(n.name, err)
	}
	return nil
}

// Forward implements processor.FixedKeyContext.
func (n *fixedNode[K, VIn, VOut]) Forward(rec processor.FixedKeyRecord[K, VOut]) error {
	return n.children.forward(rec.Record())
}

// ForwardTo implements processor.FixedKeyContext.
func (n *fixedNode[K, VIn, VOut]) ForwardTo(child string, rec processor.FixedKeyRecord[K, VOut]) error {
	return n.children.forwardTo(n.name, child, rec.Record())
}
