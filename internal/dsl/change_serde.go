package dsl

import (
	"encoding/binary"
	"fmt"

	"github.com/seed992c72d9/streams/serde"
)

// ChangeSerde encodes a Change for a repartition topic: one flag byte (bit
// 0: new present, bit 1: old present), then, when both are present, the
// new value's length as a uvarint; then the new value's bytes, then the old
// value's.
func ChangeSerde[V any](vs serde.Serde[V]) serde.Serde[Change[V]] { return changeSerde[V]{vs} }

type changeSerde[V any] struct{ vs serde.Serde[V] }

func (c changeSerde[V]) Serialize(ch Change[V]) ([]byte, error) {
	var flags byte
	var nb, ob []byte
	var err error
	if ch.HasNew {
		flags |= 1
		if nb, err = c.vs.Serialize(ch.New); err != nil {
			return nil, err
		}
	}
	if ch.HasOld {
		flags |= 2
		if ob, err = c.vs.Serialize(ch.Old); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 1+binary.MaxVarintLen64+len(nb)+len(ob))
	out = append(out, flags)
	if flags == 3 {
		out = binary.AppendUvarint(out, uint64(len(nb)))
	}
	out = append(out, nb...)
	return append(out, ob...), nil
}

func (c changeSerde[V]) Deserialize(data []byte) (Change[V], error) {
	var ch Change[V]
	if len(data) == 0 {
		return ch, fmt.Errorf("change: empty data")
	}
	flags, rest := data[0], data[1:]
	if flags > 3 {
		return ch, fmt.Errorf("change: bad flags %#x", flags)
	}
	var nb, ob []byte
	switch flags {
	case 1:
		nb = rest
	case 2:
		ob = rest
	case 3:
		n, k := binary.Uvarint(rest)
		if k <= 0 || uint64(len(rest)-k) < n {
			return ch, fmt.Errorf("change: bad length")
		}
		nb, ob = rest[k:k+int(n)], rest[k+int(n):]
	}
	var err error
	if flags&1 != 0 {
		if ch.New, err = c.vs.Deserialize(nb); err != nil {
			return ch, err
		}
		ch.HasNew = true
	}
	if flags&2 != 0 {
		if ch.Old, err = c.vs.Deserialize(ob); err != nil {
			return ch, err
		}
		ch.HasOld = true
	}
	return ch, nil
}
