package kstream

import (
	"regexp"
	"runtime"
	"strings"
	"sync"
	"weak"

	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// generatedName matches the names the DSL generates, as Kafka Streams'
// createRepartitionedSource tells them apart: a repartition topic named
// after one gets generated node names, any other name gives
// "<topic>-sink", "<topic>-filter" and "<topic>-source".
var generatedName = regexp.MustCompile(`^KSTREAM.*-[0-9]{10}$`)

// repartitions remembers, per builder, the repartition topics that joins and
// aggregations created and the source node reading each, so that a second
// join of the same re-keyed stream, or a second aggregation of a grouped
// stream with a repartition name, reads the same topic instead of declaring
// it twice, as Kafka Streams reuses its repartition node.
var repartitions struct {
	mu sync.Mutex
	m  map[weak.Pointer[topology.Builder]]map[repartitionKey]string
}

type repartitionKey struct{ parent, topic string }

// repartitionOnce repartitions s through "<base>-repartition", or returns
// the stream of the source that already reads it for s's node.
func repartitionOnce[K, V any](s Stream[K, V], base string, ks serde.Serde[K], vs serde.Serde[V]) Stream[K, V] {
	topic := base
	if !strings.HasSuffix(topic, "-repartition") {
		topic += "-repartition"
	}
	wp := weak.Make(s.b)
	key := repartitionKey{s.node, topic}
	repartitions.mu.Lock()
	source, ok := repartitions.m[wp][key]
	repartitions.mu.Unlock()
	if ok {
		// Kafka Streams names a repartition every time, so that the
		// generated names that follow do not depend on the reuse.
		s.b.NewName(sinkPrefix)
		s.b.NewName(filterPrefix)
		s.b.NewName(sourcePrefix)
		return Stream[K, V]{b: s.b, node: source, keySerde: ks, valueSerde: vs, sources: []string{source}}
	}
	out := RepartitionThrough(s, base, generatedName.MatchString(base), ks, vs, nil, 0)
	repartitions.mu.Lock()
	defer repartitions.mu.Unlock()
	if repartitions.m == nil {
		repartitions.m = map[weak.Pointer[topology.Builder]]map[repartitionKey]string{}
	}
	nodes := repartitions.m[wp]
	if nodes == nil {
		nodes = map[repartitionKey]string{}
		repartitions.m[wp] = nodes
		runtime.AddCleanup(s.b, func(wp weak.Pointer[topology.Builder]) {
			repartitions.mu.Lock()
			delete(repartitions.m, wp)
			repartitions.mu.Unlock()
		}, wp)
	}
	nodes[key] = out.node
	return out
}
