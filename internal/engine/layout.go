package engine

import (
	"slices"

	"github.com/seed992c72d9/streams/topology"
)

// Layout maps a topology onto Kafka: the resolved names of the topics each
// sub-topology reads, and so its tasks for given partition counts.
type Layout struct {
	appID string
	topo  *topology.Topology
	subs  []subLayout
	// subOf maps resolved source topics to their sub-topology.
	subOf map[string]int
}

type subLayout struct {
	id       int
	topics   []string
	stateful bool
}

// NewLayout returns the layout of t for application appID.
func NewLayout(appID string, t *topology.Topology) *Layout {
	l := &Layout{appID: appID, topo: t, subOf: map[string]int{}}
	for _, st := range t.SubTopologies() {
		sl := subLayout{id: st.ID, stateful: len(st.Stores) > 0}
		for _, topic := range st.SourceTopics {
			r := l.Resolve(topic)
			sl.topics = append(sl.topics, r)
			l.subOf[r] = st.ID
		}
		l.subs = append(l.subs, sl)
	}
	return l
}

// Resolve returns a topic's name in Kafka: internal topics get the
// application id as prefix.
func (l *Layout) Resolve(topic string) string {
	if l.topo.IsInternal(topic) {
		return l.appID + "-" + topic
	}
	return topic
}

// Topics returns every resolved source topic, sorted.
func (l *Layout) Topics() []string {
	var out []string
	for _, s := range l.subs {
		out = append(out, s.topics...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// SubTopologyOf returns the sub-topology reading a resolved topic.
func (l *Layout) SubTopologyOf(topic string) (int, bool) {
	id, ok := l.subOf[topic]
	return id, ok
}

// Stateful reports whether a sub-topology has stores.
func (l *Layout) Stateful(sub int) bool { return l.subs[sub].stateful }

// Tasks returns every task for the given partition counts of the resolved
// source topics: each sub-topology has as many tasks as its widest source
// topic has partitions.
func (l *Layout) Tasks(counts map[string]int32) []TaskID {
	var out []TaskID
	for _, s := range l.subs {
		n := int32(0)
		for _, t := range s.topics {
			n = max(n, counts[t])
		}
		for p := range n {
			out = append(out, TaskID{SubTopology: s.id, Partition: p})
		}
	}
	return out
}

// TaskPartitions returns the topic-partitions a task reads.
func (l *Layout) TaskPartitions(counts map[string]int32, t TaskID) map[string][]int32 {
	out := map[string][]int32{}
	for _, topic := range l.subs[t.SubTopology].topics {
		if counts[topic] > t.Partition {
			out[topic] = append(out[topic], t.Partition)
		}
	}
	return out
}
