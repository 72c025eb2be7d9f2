// Package topology builds the processing graph of an application: sources
// that read topics, processors, sinks that write topics, and the state stores
// processors use.
//
// A [Builder] records nodes in any order; [Builder.Build] validates the graph,
// splits it into sub-topologies (the connected parts of the graph, which
// repartition topics separate) and returns an immutable [Topology]. Errors
// name the node and the problem. [Topology.Describe] prints the graph in
// Kafka Streams' TopologyDescription format.
//
// Most applications use the DSL in packages kstream and ktable, which drive a
// Builder; the functions here are the Processor API's way to wire processors
// by hand.
package topology

import (
	"errors"
	"fmt"
	"slices"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// Builder records the nodes and stores of a topology. It is not safe for
// concurrent use. Methods that add to the graph record their errors, which
// Build returns.
type Builder struct {
	nodes  []*node
	byName map[string]*node
	stores map[string]*storeEntry
	// storeOrder keeps the order stores were added in.
	storeOrder []string
	internal   map[string]InternalTopic
	// sourceTopics maps each topic to the source node reading it.
	sourceTopics map[string]string
	pending      []connection
	copartition  [][]string
	// global marks the nodes of global stores.
	global map[string]bool
	index  int
	errs   []error
	built  bool
}

type node struct {
	name    string
	kind    exec.Kind
	factory exec.Factory
	parents []string
	stores  []string
	// source
	topics []string
	// sink
	topic     string
	topicFunc bool
	// added records the order of insertion.
	added int
}

type storeEntry struct {
	builder    state.Builder
	processors []string
}

// InternalTopic is a topic the application creates and owns, such as a
// repartition topic. Its name in Kafka is "<application.id>-<name>".
type InternalTopic struct {
	Name string
	// Partitions is the partition count; 0 takes the largest partition
	// count among the source topics of the sub-topology that writes it.
	Partitions int
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{
		byName:       make(map[string]*node),
		stores:       make(map[string]*storeEntry),
		internal:     make(map[string]InternalTopic),
		sourceTopics: make(map[string]string),
		global:       make(map[string]bool),
	}
}

// NewName returns a name made of prefix and the builder's next index, in
// Kafka Streams' style: NewName("KSTREAM-FILTER-") returns
// "KSTREAM-FILTER-0000000002" when two names were made before (the index
// starts at 0). The DSL names
// nodes it is not given a name for this way; the names depend only on the
// order in which the topology is defined.
func (b *Builder) NewName(prefix string) string {
	name := fmt.Sprintf("%s%010d", prefix, b.index)
	b.index++
	return name
}

// Err records an error to be returned by Build. The DSL uses it for errors
// found while the topology is defined.
func (b *Builder) Err(err error) {
	if err != nil {
		b.errs = append(b.errs, err)
	}
}

func (b *Builder) add(n *node) bool {
	if b.built {
		b.Err(fmt.Errorf("topology: node %q added after Build", n.name))
		return false
	}
	if n.name == "" {
		b.Err(fmt.Errorf("topology: a %s needs a name", n.kind))
		return false
	}
	if _, dup := b.byName[n.name]; dup {
		b.Err(fmt.Errorf("topology: node %q: duplicate name: a node with this name is already added", n.name))
		return false
	}
	n.added = len(b.nodes)
	b.nodes = append(b.nodes, n)
	b.byName[n.name] = n
	return true
}

// Source configures a source node in full. See AddSource for the short form.
type Source[K, V any] struct {
	Name       string
	Topics     []string
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// TimestampExtractor returns a record's event time; nil uses the Kafka
	// record timestamp.
	TimestampExtractor processor.TimestampExtractor[K, V]
	// WallClockTime stamps every record with the wall-clock time instead.
	WallClockTime bool
	// InvalidTimestamp says what to do with a negative timestamp.
	InvalidTimestamp InvalidTimestampPolicy
}

// InvalidTimestampPolicy says what a source does with a record whose
// timestamp is negative.
type InvalidTimestampPolicy = exec.InvalidTimestampPolicy

const (
	// FailOnInvalidTimestamp stops processing with an error naming the
	// record. It is the default.
	FailOnInvalidTimestamp = exec.FailOnInvalidTimestamp
	// SkipOnInvalidTimestamp drops the record and counts it.
	SkipOnInvalidTimestamp = exec.SkipOnInvalidTimestamp
	// UsePartitionTimeOnInvalidTimestamp stamps the record with its
	// partition's time (the largest timestamp seen on it), and fails when
	// the partition has no time yet.
	UsePartitionTimeOnInvalidTimestamp = exec.UsePartitionTimeOnInvalidTimestamp
)

// AddSource adds a source node that reads topics with the given serdes.
func AddSource[K, V any](b *Builder, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V], topics ...string) {
	AddSourceWith(b, Source[K, V]{Name: name, Topics: topics, KeySerde: keySerde, ValueSerde: valueSerde})
}

// AddSourceWith adds a source node configured by s.
func AddSourceWith[K, V any](b *Builder, s Source[K, V]) {
	if s.KeySerde == nil || s.ValueSerde == nil {
		b.Err(fmt.Errorf("topology: source %q: key and value serdes are required", s.Name))
		return
	}
	if len(s.Topics) == 0 {
		b.Err(fmt.Errorf("topology: source %q: no topics", s.Name))
		return
	}
	topics := make([]exec.Topic, len(s.Topics))
	for i, t := range s.Topics {
		if t == "" {
			b.Err(fmt.Errorf("topology: source %q: empty topic name", s.Name))
			return
		}
		topics[i] = exec.Topic{Name: t}
	}
	n := &node{name: s.Name, kind: exec.KindSource, topics: slices.Clone(s.Topics)}
	n.factory = &lazySource[K, V]{b: b, cfg: exec.SourceConfig[K, V]{
		Topics: topics, KeySerde: s.KeySerde, ValueSerde: s.ValueSerde,
		Extractor: s.TimestampExtractor, WallClock: s.WallClockTime, InvalidTimestamp: s.InvalidTimestamp,
	}}
	if !b.add(n) {
		return
	}
	for _, t := range s.Topics {
		if other, ok := b.sourceTopics[t]; ok {
			b.Err(fmt.Errorf("topology: source %q: topic %q is already read by source %q", s.Name, t, other))
			continue
		}
		b.sourceTopics[t] = s.Name
	}
}

// lazySource resolves which of its topics are internal at Build time, since
// internal topics may be declared after the source.
type lazySource[K, V any] struct {
	b   *Builder
	cfg exec.SourceConfig[K, V]
	f   exec.Factory
}

func (l *lazySource[K, V]) resolve() {
	for i := range l.cfg.Topics {
		_, l.cfg.Topics[i].Internal = l.b.internal[l.cfg.Topics[i].Name]
	}
	l.f = exec.SourceFactory(l.cfg)
}

func (l *lazySource[K, V]) Kind() exec.Kind                    { return exec.KindSource }
func (l *lazySource[K, V]) In() exec.Types                     { return exec.SourceFactory(l.cfg).In() }
func (l *lazySource[K, V]) Out() exec.Types                    { return exec.SourceFactory(l.cfg).Out() }
func (l *lazySource[K, V]) New(name string) (exec.Node, error) { return l.f.New(name) }

// AddProcessor adds a processor node whose instances supplier creates, as a
// child of parents.
func AddProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, supplier processor.Supplier[KIn, VIn, KOut, VOut], parents ...string) {
	if supplier == nil {
		b.Err(fmt.Errorf("topology: processor %q: nil supplier", name))
		return
	}
	b.add(&node{name: name, kind: exec.KindProcessor, factory: exec.ProcessorFactory(supplier), parents: slices.Clone(parents)})
}

// AddFixedKeyProcessor adds a processor node that cannot change keys.
func AddFixedKeyProcessor[K, VIn, VOut any](b *Builder, name string, supplier processor.FixedKeySupplier[K, VIn, VOut], parents ...string) {
	if supplier == nil {
		b.Err(fmt.Errorf("topology: processor %q: nil supplier", name))
		return
	}
	b.add(&node{name: name, kind: exec.KindProcessor, factory: exec.FixedKeyProcessorFactory(supplier), parents: slices.Clone(parents)})
}

// Sink configures a sink node in full. See AddSink for the short form.
type Sink[K, V any] struct {
	Name    string
	Parents []string
	// Topic is the topic written to, unless TopicFunc is set.
	Topic string
	// TopicFunc chooses the topic per record.
	TopicFunc  processor.TopicNameExtractor[K, V]
	KeySerde   serde.Serde[K]
	ValueSerde serde.Serde[V]
	// Partitioner chooses partitions; nil uses Kafka's default (murmur2
	// of the key bytes).
	Partitioner processor.Partitioner[K, V]
}

// AddSink adds a sink node that writes to topic with the given serdes.
func AddSink[K, V any](b *Builder, name, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], parents ...string) {
	AddSinkWith(b, Sink[K, V]{Name: name, Topic: topic, KeySerde: keySerde, ValueSerde: valueSerde, Parents: parents})
}

// AddSinkWith adds a sink node configured by s.
func AddSinkWith[K, V any](b *Builder, s Sink[K, V]) {
	n := &node{name: s.Name, kind: exec.KindSink, parents: slices.Clone(s.Parents), topic: s.Topic, topicFunc: s.TopicFunc != nil}
	n.factory = &lazySink[K, V]{b: b, cfg: exec.SinkConfig[K, V]{
		Topic: exec.Topic{Name: s.Topic}, TopicFunc: s.TopicFunc,
		KeySerde: s.KeySerde, ValueSerde: s.ValueSerde, Partitioner: s.Partitioner,
	}}
	if !b.add(n) {
		return
	}
	if s.KeySerde == nil || s.ValueSerde == nil {
		b.Err(fmt.Errorf("topology: sink %q: key and value serdes are required", s.Name))
	}
}

type lazySink[K, V any] struct {
	b   *Builder
	cfg exec.SinkConfig[K, V]
	f   exec.Factory
}

func (l *lazySink[K, V]) resolve() {
	_, l.cfg.Topic.Internal = l.b.internal[l.cfg.Topic.Name]
	l.f = exec.SinkFactory(l.cfg)
}

func (l *lazySink[K, V]) Kind() exec.Kind                    { return exec.KindSink }
func (l *lazySink[K, V]) In() exec.Types                     { return exec.SinkFactory(l.cfg).In() }
func (l *lazySink[K, V]) Out() exec.Types                    { return exec.SinkFactory(l.cfg).Out() }
func (l *lazySink[K, V]) New(name string) (exec.Node, error) { return l.f.New(name) }

type resolver interface{ resolve() }

// AddStateStore adds a store and connects it to the named processors.
func (b *Builder) AddStateStore(s state.Builder, processors ...string) {
	if s == nil {
		b.Err(errors.New("topology: nil state store builder"))
		return
	}
	name := s.Name()
	if name == "" {
		b.Err(errors.New("topology: a state store needs a name"))
		return
	}
	if _, dup := b.stores[name]; dup {
		b.Err(fmt.Errorf("topology: state store %q: duplicate name: a store with this name is already added", name))
		return
	}
	b.stores[name] = &storeEntry{builder: s}
	b.storeOrder = append(b.storeOrder, name)
	for _, p := range processors {
		b.connect(p, name)
	}
}

// ConnectProcessorAndStateStores connects a processor to stores, which may be
// added before or after.
func (b *Builder) ConnectProcessorAndStateStores(processorName string, stores ...string) {
	for _, s := range stores {
		b.connect(processorName, s)
	}
}

// connections are resolved in Build, so that processors and stores may be
// added in any order; until then they are kept on a pending list.
func (b *Builder) connect(processorName, store string) {
	b.pending = append(b.pending, connection{processorName, store})
}

type connection struct{ processor, store string }

// AddInternalTopic declares an internal topic (such as a repartition topic):
// sources and sinks that name it read and write "<application.id>-<name>".
func (b *Builder) AddInternalTopic(t InternalTopic) {
	if t.Name == "" {
		b.Err(errors.New("topology: an internal topic needs a name"))
		return
	}
	if t.Partitions < 0 {
		b.Err(fmt.Errorf("topology: internal topic %q: negative partition count %d", t.Name, t.Partitions))
		return
	}
	if _, dup := b.internal[t.Name]; dup {
		b.Err(fmt.Errorf("topology: internal topic %q is already declared", t.Name))
		return
	}
	b.internal[t.Name] = t
}

// HasNode reports whether a node with the given name was added.
func (b *Builder) HasNode(name string) bool {
	_, ok := b.byName[name]
	return ok
}

// AddCopartitionGroup declares that the topics the named source nodes read
// must be co-partitioned (have the same partition count), as the inputs of a
// join must. The Kafka runtime checks it before it starts (and gives
// internal topics in a group the group's partition count); the test driver
// does not check it.
func (b *Builder) AddCopartitionGroup(sourceNodes ...string) {
	if len(sourceNodes) > 1 {
		b.copartition = append(b.copartition, slices.Clone(sourceNodes))
	}
}

// AddGlobalStore adds a global store: every instance reads every partition
// of topic through a source node and a processor that keeps the store, which
// every processor of the topology may then read without being connected to
// it. The store must not be logged: its topic is its changelog.
func AddGlobalStore[K, V, KO, VO any](b *Builder, store state.Builder, sourceName, topic string, ks serde.Serde[K], vs serde.Serde[V], processorName string, supplier processor.Supplier[K, V, KO, VO]) {
	if _, logged := store.Changelog(); logged {
		b.Err(fmt.Errorf("topology: global store %q must not have a changelog: its topic %q is its changelog", store.Name(), topic))
		return
	}
	AddSource(b, sourceName, ks, vs, topic)
	AddProcessor(b, processorName, supplier, sourceName)
	b.AddStateStore(store, processorName)
	b.global[sourceName] = true
	b.global[processorName] = true
}
