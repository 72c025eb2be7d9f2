// Package dsl holds what the stream and table DSLs share: table change
// records, value getters and the forwarding of materialized updates.
package dsl

import (
	"reflect"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// Change is an update to a table row: the new value and, when the
// downstream asked for it, the old one. A missing New is a delete.
type Change[V any] struct {
	New, Old       V
	HasNew, HasOld bool
}

// NewChange returns a Change from optional values.
func NewChange[V any](newV, oldV *V) Change[V] {
	var c Change[V]
	if newV != nil {
		c.New, c.HasNew = *newV, true
	}
	if oldV != nil {
		c.Old, c.HasOld = *oldV, true
	}
	return c
}

// ValueGetter reads a table's current value for a key, with its timestamp.
type ValueGetter[K, V any] interface {
	Get(key K) (state.ValueAndTimestamp[V], bool, error)
}

// GetterSupplier creates a table's value getter inside a processor that
// reads the table. Stores names the stores the getter reads, which the
// topology must connect to that processor.
type GetterSupplier[K, V any] struct {
	Stores []string
	New    func(ctx processor.BaseContext) (ValueGetter[K, V], error)
}

// StoreGetter returns the getter of a materialized table: it reads the
// table's timestamped store.
func StoreGetter[K, V any](store string) *GetterSupplier[K, V] {
	return &GetterSupplier[K, V]{
		Stores: []string{store},
		New: func(ctx processor.BaseContext) (ValueGetter[K, V], error) {
			s, err := processor.GetStore[*state.KeyValueStore[K, state.ValueAndTimestamp[V]]](ctx, store)
			if err != nil {
				return nil, err
			}
			return storeGetter[K, V]{s}, nil
		},
	}
}

type storeGetter[K, V any] struct {
	s *state.KeyValueStore[K, state.ValueAndTimestamp[V]]
}

func (g storeGetter[K, V]) Get(key K) (state.ValueAndTimestamp[V], bool, error) {
	return g.s.Get(key)
}

// GetterFunc adapts a function to ValueGetter.
type GetterFunc[K, V any] func(key K) (state.ValueAndTimestamp[V], bool, error)

// Get calls f.
func (f GetterFunc[K, V]) Get(key K) (state.ValueAndTimestamp[V], bool, error) { return f(key) }

// TableStore is a table's timestamped store.
type TableStore[K, V any] = state.KeyValueStore[K, state.ValueAndTimestamp[V]]

// Forwarder forwards the updates of a materialized table: at once when its
// store is not cached, or when the cache flushes otherwise, once per key and
// commit, with the value the store held before.
type Forwarder[K, V any] struct {
	ctx     processor.Context[K, Change[V]]
	cached  bool
	sendOld bool
}

// NewForwarder sets up forwarding for store. sendOld says whether old
// values are forwarded.
func NewForwarder[K, V any](ctx processor.Context[K, Change[V]], store *TableStore[K, V], sendOld bool) *Forwarder[K, V] {
	f := &Forwarder[K, V]{ctx: ctx, sendOld: sendOld}
	f.cached = store.SetFlushListener(func(key K, nv, ov *state.ValueAndTimestamp[V], rc state.RecordContext) error {
		var c Change[V]
		ts := rc.Timestamp
		if nv != nil {
			c.New, c.HasNew = nv.Value, true
			ts = nv.Timestamp
		}
		if ov != nil && sendOld {
			c.Old, c.HasOld = ov.Value, true
		}
		return ctx.Forward(processor.Record[K, Change[V]]{Key: key, Value: c, Timestamp: ts, Headers: rc.Headers})
	})
	store.SetFlushOldValues(sendOld)
	return f
}

// MaybeForward forwards rec unless the store is cached, in which case the
// flush forwards it. Old values are dropped unless sendOld is set.
func (f *Forwarder[K, V]) MaybeForward(rec processor.Record[K, Change[V]]) error {
	if f.cached {
		return nil
	}
	if !f.sendOld {
		var zero V
		rec.Value.Old, rec.Value.HasOld = zero, false
	}
	return f.ctx.Forward(rec)
}

// Dropped counts a dropped record on ctx.
func Dropped(ctx processor.BaseContext, reason string) { exec.CountDropped(ctx, reason) }

// OldValues is a table's switch for sending old values. Downstream operators
// that need old values (aggregations with a subtractor, outer joins) turn it
// on while the topology is defined; processors read it when they start.
type OldValues struct {
	on     bool
	parent []*OldValues
	// own is set for materialized tables, which read old values from their
	// own store and need nothing from upstream.
	own bool
}

// NewOldValues returns a switch; parents are the switches of the tables the
// table is computed from, turned on with it unless the table is materialized.
func NewOldValues(materialized bool, parents ...*OldValues) *OldValues {
	return &OldValues{own: materialized, parent: parents}
}

// Enable turns old values on, upstream as needed.
func (o *OldValues) Enable() {
	o.on = true
	if o.own {
		return
	}
	for _, p := range o.parent {
		p.Enable()
	}
}

// On reports whether old values are sent.
func (o *OldValues) On() bool { return o.on }

// NullCheck returns a function that reports whether a value of type T is
// nil, for the types that can hold nil (pointers, slices, maps, interfaces,
// channels and functions), or nil for the others, whose values are never
// null. Operators treat a nil key or value like one read from Kafka as null.
func NullCheck[T any]() func(T) bool {
	switch reflect.TypeFor[T]().Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Map, reflect.Interface, reflect.Chan, reflect.Func:
		return func(v T) bool { return reflect.ValueOf(&v).Elem().IsNil() }
	}
	return nil
}

// Nulls tells whether the key and the value of records of types K and V are
// null: marked null (read from Kafka as null) or nil.
type Nulls[K, V any] struct {
	key   func(K) bool
	value func(V) bool
}

// NewNulls returns the null checks for K and V.
func NewNulls[K, V any]() Nulls[K, V] {
	return Nulls[K, V]{key: NullCheck[K](), value: NullCheck[V]()}
}

// KeyNull reports whether r's key is null.
func (n Nulls[K, V]) KeyNull(r processor.Record[K, V]) bool {
	return r.KeyIsNull() || (n.key != nil && n.key(r.Key))
}

// ValueNull reports whether r's value is null.
func (n Nulls[K, V]) ValueNull(r processor.Record[K, V]) bool {
	return r.ValueIsNull() || (n.value != nil && n.value(r.Value))
}
