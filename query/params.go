package query

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed992c72d9/streams/state"
)

// parseParams checks the query parameters against allowed and parses the
// common ones.
func parseParams(q url.Values, allowed ...string) (readParams, *apiError) {
	var rp readParams
	for k, vs := range q {
		if !slices.Contains(allowed, k) && k != "minPosition" && k != "allowStandby" {
			return rp, badRequest("unknown parameter %q", k)
		}
		if len(vs) > 1 {
			return rp, badRequest("parameter %q is given %d times", k, len(vs))
		}
	}
	if v := q.Get("allowStandby"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return rp, badRequest("allowStandby %q is not a boolean", v)
		}
		rp.allowStandby = b
	}
	if v := q.Get("minPosition"); v != "" {
		m, err := ParsePosition(v)
		if err != nil {
			return rp, badRequest("minPosition: %v", err)
		}
		rp.minPosition = m
	}
	return rp, nil
}

// ParsePosition parses a position written as "topic/partition:offset"
// entries separated by commas, as the minPosition parameter takes it.
func ParsePosition(s string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, e := range strings.Split(s, ",") {
		if len(out) >= maxPositionEntries {
			return nil, fmt.Errorf("more than %d entries", maxPositionEntries)
		}
		i := strings.LastIndexByte(e, ':')
		if i < 0 {
			return nil, fmt.Errorf("entry %q is not topic/partition:offset", e)
		}
		tp, offText := e[:i], e[i+1:]
		j := strings.LastIndexByte(tp, '/')
		if j <= 0 {
			return nil, fmt.Errorf("entry %q is not topic/partition:offset", e)
		}
		if !legalTopic(tp[:j]) {
			return nil, fmt.Errorf("entry %q: %q is not a Kafka topic name (letters, digits, '.', '_', '-'; at most 249)", e, tp[:j])
		}
		part, err := strconv.ParseInt(tp[j+1:], 10, 32)
		if err != nil || part < 0 {
			return nil, fmt.Errorf("entry %q: partition %q is not a partition number", e, tp[j+1:])
		}
		off, err := strconv.ParseInt(offText, 10, 64)
		if err != nil || off < 0 {
			return nil, fmt.Errorf("entry %q: offset %q is not an offset", e, offText)
		}
		key := tp[:j] + "/" + strconv.FormatInt(part, 10)
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("%s is given twice", key)
		}
		out[key] = off
	}
	return out, nil
}

// legalTopic reports whether s may name a Kafka topic.
func legalTopic(s string) bool {
	if s == "" || len(s) > 249 || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// FormatPosition writes a position as ParsePosition reads it, sorted.
func FormatPosition(pos map[string]int64) string {
	keys := make([]string, 0, len(pos))
	for k := range pos {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(k)
		sb.WriteByte(':')
		sb.WriteString(strconv.FormatInt(pos[k], 10))
	}
	return sb.String()
}

func (h *handler) parseKey(info StoreInfo, text, what string) ([]byte, *apiError) {
	if len(text) > h.opts.MaxKeyBytes {
		return nil, badRequest("%s is %d bytes long, more than the limit MaxKeyBytes = %d", what, len(text), h.opts.MaxKeyBytes)
	}
	if info.Keys == nil {
		return nil, errorf(http.StatusBadRequest, CodeWrongKind, "store %q cannot parse keys from text", info.Name)
	}
	kb, err := info.Keys.ParseKey(text)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), state.ErrBadKey.Error()+": ")
		if what != "key" {
			msg = what + ": " + msg
		}
		return nil, badRequest("%s", msg)
	}
	return kb, nil
}

// parseTime reads a time parameter: milliseconds since the epoch, or an
// RFC 3339 time.
func parseTime(q url.Values, name string, def int64) (int64, *apiError) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
		return ms, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UnixMilli(), nil
	}
	return 0, badRequest("%s %q is neither milliseconds since the epoch nor an RFC 3339 time", name, v)
}

// parseLimit reads the limit parameter; limitName names the maximum.
func parseLimit(q url.Values, def, maxN int, limitName string) (int, *apiError) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, badRequest("limit %q is not a positive number", v)
	}
	if n > maxN {
		return 0, badRequest("limit %d is more than the limit %s = %d", n, limitName, maxN)
	}
	return n, nil
}
