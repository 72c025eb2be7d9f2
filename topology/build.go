package topology

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/state"
)

// Topology is a validated processing graph, split into sub-topologies. It is
// immutable and safe for concurrent use.
type Topology struct {
	subs    []*SubTopology
	globals []*SubTopology
	// globalStores maps global store names to the global sub-topology.
	globalStores map[string]*SubTopology
	copartition  [][]string
	nodes        map[string]*node
	stores       map[string]state.Builder
	storeSub     map[string]int
	internal     map[string]InternalTopic
	topicSubs    map[string]int
}

// SubTopology is a connected part of a topology. The runtime creates one
// task per sub-topology and input partition.
type SubTopology struct {
	// ID numbers sub-topologies from 0, upstream ones first.
	ID int
	// SourceTopics are the topics its sources read, as named in the
	// topology (internal topics without the application id prefix).
	SourceTopics []string
	// SinkTopics are the static topics its sinks write.
	SinkTopics []string
	// Stores are the names of its state stores, upstream ones first.
	Stores []string

	global bool
	nodes  []*node
	spec   exec.SubTopologySpec
}

// Spec returns what a task of this sub-topology instantiates. It is meant for
// this module's runtime and test driver.
func (s *SubTopology) Spec() *exec.SubTopologySpec { return &s.spec }

// Build validates the graph and returns the topology. The error joins every
// problem found; each names its node or store.
func (b *Builder) Build() (*Topology, error) {
	if b.built {
		return nil, errors.New("topology: Build called twice")
	}
	errs := slices.Clone(b.errs)
	for _, n := range b.nodes {
		if r, ok := n.factory.(resolver); ok {
			r.resolve()
		}
	}
	errs = append(errs, b.connectStores()...)
	errs = append(errs, b.checkEdges()...)
	for _, g := range b.copartition {
		for _, n := range g {
			if nd, ok := b.byName[n]; !ok || nd.kind != exec.KindSource {
				errs = append(errs, fmt.Errorf("topology: co-partition group names %q, which is not a source", n))
			}
		}
	}
	if len(errs) == 0 {
		errs = append(errs, b.checkCycles()...)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	b.built = true
	return b.split(), nil
}

func (b *Builder) connectStores() []error {
	var errs []error
	for _, c := range b.pending {
		n, ok := b.byName[c.processor]
		st, sok := b.stores[c.store]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("topology: state store %q: connected to unknown processor %q", c.store, c.processor))
			continue
		case n.kind != exec.KindProcessor:
			errs = append(errs, fmt.Errorf("topology: state store %q: %q is a %s; only processors use stores", c.store, c.processor, n.kind))
			continue
		case !sok:
			errs = append(errs, fmt.Errorf("topology: processor %q: uses state store %q, which is not added", c.processor, c.store))
			continue
		}
		if !slices.Contains(n.stores, c.store) {
			n.stores = append(n.stores, c.store)
		}
		if !slices.Contains(st.processors, c.processor) {
			st.processors = append(st.processors, c.processor)
		}
	}
	for _, name := range b.storeOrder {
		if len(b.stores[name].processors) == 0 {
			errs = append(errs, fmt.Errorf("topology: state store %q is not connected to any processor", name))
		}
	}
	return errs
}

func (b *Builder) checkEdges() []error {
	var errs []error
	for _, n := range b.nodes {
		if n.kind == exec.KindSink && n.topic == "" && !n.topicFunc {
			errs = append(errs, fmt.Errorf("topology: sink %q has no topic", n.name))
		}
		if n.kind == exec.KindSource {
			continue
		}
		if len(n.parents) == 0 {
			errs = append(errs, fmt.Errorf("topology: %s %q has no path from a source: it has no parent", n.kind, n.name))
			continue
		}
		seen := map[string]bool{}
		for _, p := range n.parents {
			if seen[p] {
				errs = append(errs, fmt.Errorf("topology: %s %q: parent %q is listed twice", n.kind, n.name, p))
				continue
			}
			seen[p] = true
			pn, ok := b.byName[p]
			if !ok {
				errs = append(errs, fmt.Errorf("topology: %s %q: unknown parent %q", n.kind, n.name, p))
				continue
			}
			if pn.kind == exec.KindSink {
				errs = append(errs, fmt.Errorf("topology: %s %q: parent %q is a sink, which has no children", n.kind, n.name, p))
				continue
			}
			if p == n.name {
				continue // reported as a cycle
			}
			if out, in := pn.factory.Out(), n.factory.In(); !out.Equal(in) {
				errs = append(errs, fmt.Errorf("topology: %s %q accepts %s, but its parent %q forwards %s", n.kind, n.name, in, p, out))
			}
		}
	}
	return errs
}

func (b *Builder) checkCycles() []error {
	const (
		white = iota
		grey
		black
	)
	color := make(map[string]int, len(b.nodes))
	var stack []string
	var visit func(name string) []string
	visit = func(name string) []string {
		color[name] = grey
		stack = append(stack, name)
		for _, p := range b.byName[name].parents {
			switch color[p] {
			case grey:
				i := slices.Index(stack, p)
				cycle := append(slices.Clone(stack[i:]), p)
				slices.Reverse(cycle)
				return cycle
			case white:
				if c := visit(p); c != nil {
					return c
				}
			}
		}
		stack = stack[:len(stack)-1]
		color[name] = black
		return nil
	}
	for _, n := range b.nodes {
		if color[n.name] == white {
			if c := visit(n.name); c != nil {
				return []error{fmt.Errorf("topology: %s %q is part of a cycle: %s", b.byName[c[0]].kind, c[0], strings.Join(c, " --> "))}
			}
		}
	}
	return nil
}

// split groups nodes into sub-topologies: nodes connected by an edge or by a
// shared store belong together. Groups are numbered in the order of their
// first added node, as Kafka Streams numbers them.
func (b *Builder) split() *Topology {
	uf := newUnionFind(len(b.nodes))
	for _, n := range b.nodes {
		for _, p := range n.parents {
			uf.union(n.added, b.byName[p].added)
		}
	}
	for _, name := range b.storeOrder {
		ps := b.stores[name].processors
		for _, p := range ps[1:] {
			uf.union(b.byName[ps[0]].added, b.byName[p].added)
		}
	}
	t := &Topology{
		globalStores: map[string]*SubTopology{},
		nodes:        b.byName,
		stores:       make(map[string]state.Builder, len(b.stores)),
		storeSub:     make(map[string]int, len(b.stores)),
		internal:     b.internal,
		topicSubs:    make(map[string]int),
	}
	groupOf := map[int]*SubTopology{}
	var all []*SubTopology
	for _, n := range b.nodes {
		root := uf.find(n.added)
		st, ok := groupOf[root]
		if !ok {
			st = &SubTopology{ID: len(all), global: b.global[n.name]}
			groupOf[root] = st
			all = append(all, st)
			if st.global {
				t.globals = append(t.globals, st)
			} else {
				t.subs = append(t.subs, st)
			}
		}
		st.nodes = append(st.nodes, n)
	}
	// Task sub-topologies are numbered without the global ones, so that
	// task ids do not depend on global stores.
	for i, st := range t.subs {
		st.ID = i
	}
	for i, st := range t.globals {
		st.ID = len(t.subs) + i
	}
	children := map[string][]string{}
	for _, n := range b.nodes {
		for _, p := range n.parents {
			children[p] = append(children[p], n.name)
		}
	}
	for _, st := range all {
		ordered := topoOrder(st.nodes, b.byName)
		st.nodes = ordered
		for _, n := range ordered {
			switch n.kind {
			case exec.KindSource:
				st.SourceTopics = append(st.SourceTopics, n.topics...)
				if !st.global {
					for _, topic := range n.topics {
						t.topicSubs[topic] = st.ID
					}
				}
			case exec.KindSink:
				if !n.topicFunc && !slices.Contains(st.SinkTopics, n.topic) {
					st.SinkTopics = append(st.SinkTopics, n.topic)
				}
			}
			for _, s := range n.stores {
				if !slices.Contains(st.Stores, s) {
					st.Stores = append(st.Stores, s)
				}
			}
			st.spec.Nodes = append(st.spec.Nodes, exec.NodeSpec{
				Name: n.name, Factory: n.factory, Children: children[n.name], Stores: slices.Clone(n.stores),
			})
		}
		// Stores stay in the order their first user appears upstream-first, so
		// that a commit flushes upstream caches before downstream ones.
		st.spec.ID = st.ID
		for _, s := range st.Stores {
			sb := b.stores[s].builder
			st.spec.Stores = append(st.spec.Stores, sb)
			if st.global {
				t.globalStores[s] = st
				continue
			}
			t.stores[s] = sb
			t.storeSub[s] = st.ID
		}
	}
	for _, g := range b.copartition {
		var topics []string
		for _, n := range g {
			for _, topic := range b.byName[n].topics {
				if !slices.Contains(topics, topic) {
					topics = append(topics, topic)
				}
			}
		}
		t.copartition = append(t.copartition, topics)
	}
	return t
}

// GlobalSubTopologies returns the sub-topologies that keep global stores.
// They create no tasks: every instance runs each of them over every
// partition of its topic.
func (t *Topology) GlobalSubTopologies() []*SubTopology { return t.globals }

// GlobalStore returns the builder of a global store and its sub-topology.
func (t *Topology) GlobalStore(name string) (state.Builder, *SubTopology, bool) {
	st, ok := t.globalStores[name]
	if !ok {
		return nil, nil, false
	}
	for _, b := range st.spec.Stores {
		if b.Name() == name {
			return b, st, true
		}
	}
	return nil, nil, false
}

// GlobalStores returns the names of the global stores, sorted.
func (t *Topology) GlobalStores() []string {
	out := make([]string, 0, len(t.globalStores))
	for name := range t.globalStores {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// CopartitionGroups returns the groups of topics that must have the same
// number of partitions.
func (t *Topology) CopartitionGroups() [][]string { return t.copartition }

// topoOrder orders nodes so that parents come before children, keeping the
// order of addition where the graph allows.
func topoOrder(nodes []*node, byName map[string]*node) []*node {
	in := make(map[string]int, len(nodes))
	for _, n := range nodes {
		in[n.name] = len(n.parents)
	}
	children := map[string][]*node{}
	for _, n := range nodes {
		for _, p := range n.parents {
			children[p] = append(children[p], n)
		}
	}
	var ready, out []*node
	for _, n := range nodes {
		if in[n.name] == 0 {
			ready = append(ready, n)
		}
	}
	for len(ready) > 0 {
		slices.SortFunc(ready, func(a, b *node) int { return cmp.Compare(a.added, b.added) })
		n := ready[0]
		ready = ready[1:]
		out = append(out, n)
		for _, c := range children[n.name] {
			in[c.name]--
			if in[c.name] == 0 {
				ready = append(ready, c)
			}
		}
	}
	return out
}

type unionFind struct{ parent []int }

func newUnionFind(n int) *unionFind {
	u := &unionFind{parent: make([]int, n)}
	for i := range u.parent {
		u.parent[i] = i
	}
	return u
}

func (u *unionFind) find(x int) int {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int) {
	ra, rb := u.find(a), u.find(b)
	if ra == rb {
		return
	}
	// The smaller index becomes the root, so a group's root is its first
	// added node.
	if ra < rb {
		u.parent[rb] = ra
	} else {
		u.parent[ra] = rb
	}
}

// SubTopologies returns the sub-topologies, ordered by ID.
func (t *Topology) SubTopologies() []*SubTopology { return t.subs }

// SubTopologyOf returns the sub-topology that reads topic (as named in the
// topology).
func (t *Topology) SubTopologyOf(topic string) (*SubTopology, bool) {
	id, ok := t.topicSubs[topic]
	if !ok {
		return nil, false
	}
	return t.subs[id], true
}

// InternalTopics returns the internal topics, sorted by name.
func (t *Topology) InternalTopics() []InternalTopic {
	out := make([]InternalTopic, 0, len(t.internal))
	for _, it := range t.internal {
		out = append(out, it)
	}
	slices.SortFunc(out, func(a, b InternalTopic) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// IsInternal reports whether topic names an internal topic.
func (t *Topology) IsInternal(topic string) bool {
	_, ok := t.internal[topic]
	return ok
}

// Stores returns the names of all state stores, sorted.
func (t *Topology) Stores() []string {
	out := make([]string, 0, len(t.stores))
	for name := range t.stores {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// Store returns a store's builder and the ID of its sub-topology.
func (t *Topology) Store(name string) (state.Builder, int, bool) {
	b, ok := t.stores[name]
	return b, t.storeSub[name], ok
}
