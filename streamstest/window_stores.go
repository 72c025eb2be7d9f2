package streamstest

import (
	"fmt"

	"github.com/seed992c72d9/streams/state"
)

// WindowStore returns the window store name of the task for partition,
// typed. It reads and writes the task's live state, including what is not
// committed yet. The stores of windowed aggregations (kstream.CountWindowed
// and the like) hold timestamped values: use TimestampedWindowStore for
// them.
func WindowStore[K, V any](d *Driver, name string, partition int32) (*state.WindowStore[K, V], error) {
	s, err := d.storeAny(name, partition)
	if err != nil {
		return nil, err
	}
	ws, ok := s.(*state.WindowStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streamstest: state store %q is a %T, not a %T", name, s, ws)
	}
	return ws, nil
}

// TimestampedWindowStore returns the window store of a time or sliding
// windowed aggregation: aggregates with the timestamp of their latest
// record, by key and window start.
func TimestampedWindowStore[K, V any](d *Driver, name string, partition int32) (*state.WindowStore[K, state.ValueAndTimestamp[V]], error) {
	return WindowStore[K, state.ValueAndTimestamp[V]](d, name, partition)
}

// SessionStore returns the session store name of the task for partition,
// typed, such as the store of a session windowed aggregation.
func SessionStore[K, V any](d *Driver, name string, partition int32) (*state.SessionStore[K, V], error) {
	s, err := d.storeAny(name, partition)
	if err != nil {
		return nil, err
	}
	ss, ok := s.(*state.SessionStore[K, V])
	if !ok {
		return nil, fmt.Errorf("streamstest: state store %q is a %T, not a %T", name, s, ss)
	}
	return ss, nil
}
