package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/seed992c72d9/streams/serde"
)

// This file is the text/JSON-level face of the stores that package query
// serves over HTTP: keys arrive as text, values leave as JSON, and routing
// works on serialized key bytes.

// ErrBadKey is wrapped by ParseKey errors: the text is not a key of the
// store (a client error).
var ErrBadKey = errors.New("bad key")

// KeyParser parses keys given as text, such as a URL path segment.
type KeyParser interface {
	// ParseKey parses text as a key of the store and returns its
	// serialized bytes, whose murmur2 hash gives the key's partition. Keys
	// of a string kind are taken as they are; other key types are parsed
	// as JSON. Errors wrap ErrBadKey and say what is wrong.
	ParseKey(text string) ([]byte, error)
	// KeyJSON renders a serialized key as the JSON of the deserialized key.
	KeyJSON(key []byte) (json.RawMessage, error)
}

// QueryEntry is one key and value of a key-value query.
type QueryEntry struct {
	// Key is the serialized key.
	Key []byte
	// KeyJSON and Value are the deserialized key and value as JSON.
	KeyJSON json.RawMessage
	Value   json.RawMessage
}

// QueryWindow is one window of a window store query.
type QueryWindow struct {
	Start, End int64
	Value      json.RawMessage
}

// QuerySession is one session of a session store query.
type QuerySession struct {
	Start, End int64
	Value      json.RawMessage
}

// KeyValueQuerier is implemented by key-value stores (KeyValueStore, and
// so the timestamped stores of DSL tables, whose values render as
// {"value": ..., "timestamp": ...}).
type KeyValueQuerier interface {
	KeyParser
	// QueryGet returns the JSON of the value of a serialized key, and
	// whether the key is present.
	QueryGet(key []byte) (json.RawMessage, bool, error)
	// QueryRange returns up to limit entries whose serialized keys are in
	// [from, to] (a nil bound is open) and greater than after (nil: from
	// the start), in key byte order, and whether more entries follow.
	QueryRange(from, to, after []byte, limit int) ([]QueryEntry, bool, error)
}

// WindowQuerier is implemented by window stores.
type WindowQuerier interface {
	KeyParser
	// QueryWindows returns up to limit windows of a serialized key that
	// start in [timeFrom, timeTo], by ascending start, and whether more
	// follow.
	QueryWindows(key []byte, timeFrom, timeTo int64, limit int) ([]QueryWindow, bool, error)
}

// SessionQuerier is implemented by session stores.
type SessionQuerier interface {
	KeyParser
	// QuerySessions returns up to limit sessions of a serialized key that
	// end at or after earliestEnd and start at or before latestStart, by
	// ascending end then start, and whether more follow.
	QuerySessions(key []byte, earliestEnd, latestStart int64, limit int) ([]QuerySession, bool, error)
}

// maxKeyInError bounds how much of a bad key an error message repeats.
const maxKeyInError = 64

func quoteKey(text string) string {
	if len(text) > maxKeyInError {
		return fmt.Sprintf("%q...", text[:maxKeyInError])
	}
	return fmt.Sprintf("%q", text)
}

// parseKey parses text as a K and serializes it with ks.
func parseKey[K any](ks serde.Serde[K], text string) ([]byte, error) {
	var k K
	rv := reflect.ValueOf(&k).Elem()
	if rv.Kind() == reflect.String {
		rv.SetString(text)
	} else {
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&k); err != nil {
			return nil, fmt.Errorf("%w: key %s is not a JSON %s: %v", ErrBadKey, quoteKey(text), reflect.TypeFor[K](), err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%w: key %s has data after its JSON value", ErrBadKey, quoteKey(text))
		}
	}
	b, err := ks.Serialize(k)
	if err != nil {
		return nil, fmt.Errorf("%w: key %s cannot be serialized: %v", ErrBadKey, quoteKey(text), err)
	}
	if b == nil {
		return nil, fmt.Errorf("%w: key %s is null", ErrBadKey, quoteKey(text))
	}
	return b, nil
}

// queryJSONer is implemented by values that render differently in queries.
type queryJSONer interface{ queryJSON() any }

// queryJSON renders a timestamped value as {"value": ..., "timestamp": ...}.
func (v ValueAndTimestamp[V]) queryJSON() any {
	return struct {
		Value     V     `json:"value"`
		Timestamp int64 `json:"timestamp"`
	}{v.Value, v.Timestamp}
}

// toJSON marshals a deserialized key or value.
func toJSON[T any](v T) (json.RawMessage, error) {
	var x any = v
	if q, ok := x.(queryJSONer); ok {
		x = q.queryJSON()
	}
	b, err := json.Marshal(x)
	if err != nil {
		return nil, fmt.Errorf("rendering a %s as JSON: %w", reflect.TypeFor[T](), err)
	}
	return b, nil
}

// keyJSON deserializes a key with ks and renders it as JSON.
func keyJSON[K any](ks serde.Serde[K], key []byte) (json.RawMessage, error) {
	k, err := ks.Deserialize(key)
	if err != nil {
		return nil, fmt.Errorf("deserializing key: %w", err)
	}
	return toJSON(k)
}

// KeyJSON implements KeyParser.
func (b *KeyValueBuilder[K, V]) KeyJSON(key []byte) (json.RawMessage, error) {
	return keyJSON(b.ks, key)
}

// KeyJSON implements KeyParser.
func (b *WindowBuilder[K, V]) KeyJSON(key []byte) (json.RawMessage, error) { return keyJSON(b.ks, key) }

// KeyJSON implements KeyParser.
func (b *SessionBuilder[K, V]) KeyJSON(key []byte) (json.RawMessage, error) {
	return keyJSON(b.ks, key)
}

// KeyJSON implements KeyParser.
func (s *KeyValueStore[K, V]) KeyJSON(key []byte) (json.RawMessage, error) { return keyJSON(s.ks, key) }

// KeyJSON implements KeyParser.
func (s *WindowStore[K, V]) KeyJSON(key []byte) (json.RawMessage, error) { return keyJSON(s.ks, key) }

// KeyJSON implements KeyParser.
func (s *SessionStore[K, V]) KeyJSON(key []byte) (json.RawMessage, error) { return keyJSON(s.ks, key) }

// ParseKey implements KeyParser.
func (b *KeyValueBuilder[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(b.ks, text) }

// ParseKey implements KeyParser.
func (b *WindowBuilder[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(b.ks, text) }

// ParseKey implements KeyParser.
func (b *SessionBuilder[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(b.ks, text) }

// ParseKey implements KeyParser.
func (s *KeyValueStore[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(s.ks, text) }

// ParseKey implements KeyParser.
func (s *WindowStore[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(s.ks, text) }

// ParseKey implements KeyParser.
func (s *SessionStore[K, V]) ParseKey(text string) ([]byte, error) { return parseKey(s.ks, text) }

// QueryGet implements KeyValueQuerier.
func (s *KeyValueStore[K, V]) QueryGet(key []byte) (json.RawMessage, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	vb, ok, err := s.kv.get(key)
	if err != nil {
		return nil, false, s.errorf("%w", err)
	}
	if !ok {
		return nil, false, nil
	}
	v, err := s.decode(vb)
	if err != nil {
		return nil, false, err
	}
	out, err := toJSON(v)
	if err != nil {
		return nil, false, s.errorf("%w", err)
	}
	return out, true, nil
}

// QueryRange implements KeyValueQuerier.
func (s *KeyValueStore[K, V]) QueryRange(from, to, after []byte, limit int) ([]QueryEntry, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		return nil, false, s.errorf("query limit %d is not positive", limit)
	}
	lower := from
	if after != nil {
		next := append(bytes.Clone(after), 0) // the smallest key after after
		if lower == nil || bytes.Compare(next, lower) > 0 {
			lower = next
		}
	}
	var upper []byte
	if to != nil {
		if lower != nil && bytes.Compare(lower, to) > 0 {
			return nil, false, nil
		}
		upper = append(bytes.Clone(to), 0)
	}
	var out []QueryEntry
	for e, err := range s.kv.iter(lower, upper, false) {
		if err != nil {
			return nil, false, s.errorf("%w", err)
		}
		if len(out) == limit {
			return out, true, nil
		}
		k, err := s.ks.Deserialize(e.Key)
		if err != nil {
			return nil, false, s.errorf("deserializing key: %w", err)
		}
		v, err := s.decode(e.Value)
		if err != nil {
			return nil, false, err
		}
		kj, err := toJSON(k)
		if err != nil {
			return nil, false, s.errorf("%w", err)
		}
		vj, err := toJSON(v)
		if err != nil {
			return nil, false, s.errorf("%w", err)
		}
		out = append(out, QueryEntry{Key: bytes.Clone(e.Key), KeyJSON: kj, Value: vj})
	}
	return out, false, nil
}

// QueryWindows implements WindowQuerier.
func (s *WindowStore[K, V]) QueryWindows(key []byte, timeFrom, timeTo int64, limit int) ([]QueryWindow, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		return nil, false, s.errorf("query limit %d is not positive", limit)
	}
	var out []QueryWindow
	for e, err := range s.fetch(key, timeFrom, timeTo, false) {
		if err != nil {
			return nil, false, err
		}
		if len(out) == limit {
			return out, true, nil
		}
		vj, err := toJSON(e.Value)
		if err != nil {
			return nil, false, s.errorf("%w", err)
		}
		out = append(out, QueryWindow{Start: e.Start, End: e.End, Value: vj})
	}
	return out, false, nil
}

// QuerySessions implements SessionQuerier.
func (s *SessionStore[K, V]) QuerySessions(key []byte, earliestEnd, latestStart int64, limit int) ([]QuerySession, bool, error) {
	if err := s.check(); err != nil {
		return nil, false, err
	}
	if limit <= 0 {
		return nil, false, s.errorf("query limit %d is not positive", limit)
	}
	k, err := s.ks.Deserialize(key)
	if err != nil {
		return nil, false, s.errorf("deserializing key: %w", err)
	}
	var out []QuerySession
	for e, err := range s.findKey(k, earliestEnd, latestStart, false) {
		if err != nil {
			return nil, false, err
		}
		if len(out) == limit {
			return out, true, nil
		}
		vj, err := toJSON(e.Value)
		if err != nil {
			return nil, false, s.errorf("%w", err)
		}
		out = append(out, QuerySession{Start: e.Start, End: e.End, Value: vj})
	}
	return out, false, nil
}
