package kstream

import (
	"strconv"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/topology"
)

// BranchedStream splits a stream into branches by predicates. Each record
// goes to the first branch whose predicate it satisfies, or to the default
// branch when none does (or nowhere, without a default branch).
type BranchedStream[K, V any] struct {
	s        Stream[K, V]
	name     string
	preds    *[]func(K, V) bool
	children *[]string
	hasDef   *bool
	branches map[string]Stream[K, V]
	done     bool
}

// Split starts splitting the stream into branches; add them with Branch and
// finish with DefaultBranch or NoDefaultBranch. Options: Named (the prefix of
// the branch names).
func (s Stream[K, V]) Split(opts ...Option) *BranchedStream[K, V] {
	o := parseOptions(s.b, "Split", []string{optName}, opts)
	bs := &BranchedStream[K, V]{
		s: s, name: o.NodeName(s.b, branchPrefix),
		preds: new([]func(K, V) bool), children: new([]string), hasDef: new(bool),
		branches: map[string]Stream[K, V]{},
	}
	preds, children, hasDef := bs.preds, bs.children, bs.hasDef
	topology.AddProcessor(s.b, bs.name, func() processor.Processor[K, V, K, V] {
		return &branchProc[K, V]{preds: *preds, children: *children, hasDefault: *hasDef}
	}, s.node)
	return bs
}

// Branch adds a branch for the records that satisfy pred and no earlier
// branch's predicate. The branch is named the Split prefix followed by the
// Named option's name, or by its position counted from 1. Options: Named.
func (bs *BranchedStream[K, V]) Branch(pred func(key K, value V) bool, opts ...Option) *BranchedStream[K, V] {
	if bs.done {
		bs.s.b.Err(errBranchAfterEnd(bs.name))
		return bs
	}
	o := parseOptions(bs.s.b, "Branch", []string{optName}, opts)
	*bs.preds = append(*bs.preds, pred)
	bs.addChild(o.Name, len(*bs.preds))
	return bs
}

// DefaultBranch adds a branch for the records no predicate matched and
// returns every branch by name. Options: Named (default suffix "0").
func (bs *BranchedStream[K, V]) DefaultBranch(opts ...Option) map[string]Stream[K, V] {
	if bs.done {
		bs.s.b.Err(errBranchAfterEnd(bs.name))
		return bs.branches
	}
	o := parseOptions(bs.s.b, "DefaultBranch", []string{optName}, opts)
	*bs.hasDef = true
	bs.addChild(o.Name, 0)
	bs.done = true
	return bs.branches
}

// NoDefaultBranch drops the records no predicate matched and returns every
// branch by name.
func (bs *BranchedStream[K, V]) NoDefaultBranch() map[string]Stream[K, V] {
	bs.done = true
	return bs.branches
}

func (bs *BranchedStream[K, V]) addChild(suffix string, index int) {
	b := bs.s.b
	name := bs.name + strconv.Itoa(index)
	if suffix != "" {
		name = bs.name + suffix
	}
	b.NewName(name) // burn an index, as Kafka Streams does
	*bs.children = append(*bs.children, name)
	topology.AddProcessor(b, name, passSupplier[K, V], bs.name)
	out := bs.s
	out.node = name
	bs.branches[name] = out
}

type errBranchAfterEnd string

func (e errBranchAfterEnd) Error() string {
	return "kstream: Split " + strconv.Quote(string(e)) + ": branch added after DefaultBranch or NoDefaultBranch"
}

type branchProc[K, V any] struct {
	ctx        processor.Context[K, V]
	preds      []func(K, V) bool
	children   []string
	hasDefault bool
}

func (p *branchProc[K, V]) Init(ctx processor.Context[K, V]) error { p.ctx = ctx; return nil }
func (p *branchProc[K, V]) Close() error                           { return nil }
func (p *branchProc[K, V]) Process(r processor.Record[K, V]) error {
	for i, pred := range p.preds {
		if pred(r.Key, r.Value) {
			return p.ctx.ForwardTo(p.children[i], r)
		}
	}
	if p.hasDefault {
		return p.ctx.ForwardTo(p.children[len(p.children)-1], r)
	}
	return nil
}
