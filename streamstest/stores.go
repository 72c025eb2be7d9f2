package streamstest

import (
	"fmt"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// KeyValueStore returns the key-value store name of the task for partition,
// typed. It reads and writes the task's live state, including what is not
// committed yet. Stores of DSL tables and aggregations are timestamped: use
// TableStore for them.
func KeyValueStore[K, V any](d *Driver, name string, partition int32) (*state.KeyValueStore[K, V], error) {
	s, err := d.storeAny(name, partition)
	if err != nil {
		return nil, err
	}
	kv, ok := s.(*state.KeyValueStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streamstest: state store %q is a %T, not a %T", name, s, kv)
	}
	return kv, nil
}

// TableStore returns the timestamped key-value store of a DSL table or
// aggregation.
func TableStore[K, V any](d *Driver, name string, partition int32) (*state.KeyValueStore[K, state.ValueAndTimestamp[V]], error) {
	return KeyValueStore[K, state.ValueAndTimestamp[V]](d, name, partition)
}

// ReadKeyValueStore reads every entry of a key-value store over all
// partitions, partition by partition, each in key order. A global store is
// read once: it holds every partition.
func ReadKeyValueStore[K, V any](d *Driver, name string) ([]state.KeyValue[K, V], error) {
	var out []state.KeyValue[K, V]
	_, _, global := d.topo.GlobalStore(name)
	for p := int32(0); !global || p == 0; p++ {
		s, err := d.storeAny(name, p)
		if err != nil {
			if p > 0 {
				return out, nil
			}
			return nil, err
		}
		kv, ok := s.(*state.KeyValueStore[K, V])
		if !ok {
			return nil, fmt.Errorf("streamstest: state store %q is a %T, not a %T", name, s, kv)
		}
		for e, err := range kv.All() {
			if err != nil {
				return out, err
			}
			out = append(out, e)
		}
	}
	return out, nil
}

// ReadTable reads the values of a DSL table's store over all partitions,
// without their timestamps.
func ReadTable[K, V any](d *Driver, name string) ([]state.KeyValue[K, V], error) {
	rows, err := ReadKeyValueStore[K, state.ValueAndTimestamp[V]](d, name)
	out := make([]state.KeyValue[K, V], len(rows))
	for i, r := range rows {
		out[i] = state.KeyValue[K, V]{Key: r.Key, Value: r.Value.Value}
	}
	return out, err
}

func (d *Driver) storeAny(name string, partition int32) (processor.StateStore, error) {
	if _, st, ok := d.topo.GlobalStore(name); ok {
		for _, g := range d.globalTasks {
			if g.ID().SubTopology == st.ID {
				s, _ := g.Store(name)
				return s, nil
			}
		}
	}
	return d.Store(name, partition)
}
