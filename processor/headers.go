package processor

// Header is one Kafka record header. A nil Value is a null header value.
type Header struct {
	Key   string
	Value []byte
}

// Headers is an ordered list of record headers; keys may repeat, as in Kafka.
// A Headers value is shared between records that flow through a topology, so
// it is treated as immutable: With and Without return new slices.
type Headers []Header

// Last returns the value of the last header with the given key.
func (h Headers) Last(key string) ([]byte, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i].Value, true
		}
	}
	return nil, false
}

// With returns a copy of h with the header key=value appended.
func (h Headers) With(key string, value []byte) Headers {
	out := make(Headers, len(h), len(h)+1)
	copy(out, h)
	return append(out, Header{Key: key, Value: value})
}

// Without returns a copy of h without any header named key.
func (h Headers) Without(key string) Headers {
	out := make(Headers, 0, len(h))
	for _, x := range h {
		if x.Key != key {
			out = append(out, x)
		}
	}
	return out
}
