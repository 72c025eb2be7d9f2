package query

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/seed992c72d9/streams/state"
)

var base64URL = base64.RawURLEncoding

// rangeToken is the continuation of a range scan: the partition to go on
// with and the last key returned from it, with the scan's bounds.
type rangeToken struct {
	V     int    `json:"v"`
	Store string `json:"s"`
	P     int    `json:"p"`
	After []byte `json:"a,omitempty"`
	From  []byte `json:"f,omitempty"`
	To    []byte `json:"t,omitempty"`
}

func (t rangeToken) encode() string {
	b, _ := json.Marshal(t)
	return base64URL.EncodeToString(b)
}

func decodeToken(s string) (rangeToken, error) {
	var t rangeToken
	b, err := base64URL.DecodeString(s)
	if err != nil {
		return t, errors.New("token is not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil || t.V != 1 {
		return t, errors.New("token is malformed")
	}
	if t.P < 0 {
		return t, errors.New("token has a negative partition")
	}
	return t, nil
}

type rangeEntry struct {
	Key       json.RawMessage `json:"key"`
	Value     json.RawMessage `json:"value"`
	Partition int             `json:"partition"`
}

type rangeAnswer struct {
	Store   string       `json:"store"`
	Entries []rangeEntry `json:"entries"`
	// Next continues the scan; absent when it is complete.
	Next string `json:"next,omitempty"`
	// Positions are the positions of the partitions read, by partition.
	Positions map[int]map[string]int64 `json:"positions"`
	// ServedBy names the instance that read each partition.
	ServedBy map[int]string `json:"servedBy"`
}

func (h *handler) rangeScan(w http.ResponseWriter, r *http.Request) {
	store := r.PathValue("store")
	info, e := h.lookup(store)
	if e != nil {
		h.fail(w, e)
		return
	}
	if info.Kind == state.KindWindow || info.Kind == state.KindSession {
		h.fail(w, errorf(http.StatusBadRequest, CodeWrongKind, "store %q is a %s store, not a %s store", store, info.Kind, state.KindKeyValue))
		return
	}
	q := r.URL.Query()
	rp, e := parseParams(q, "from", "to", "limit", "token", "partition")
	if e != nil {
		h.fail(w, e)
		return
	}
	rp.hop = r.Header.Get(HopHeader) != ""
	limit, e := parseLimit(q, h.opts.DefaultPageSize, h.opts.MaxPageSize, "MaxPageSize")
	if e != nil {
		h.fail(w, e)
		return
	}
	var from, to []byte
	if v, ok := q["from"]; ok {
		if from, e = h.parseKey(info, v[0], "from"); e != nil {
			h.fail(w, e)
			return
		}
	}
	if v, ok := q["to"]; ok {
		if to, e = h.parseKey(info, v[0], "to"); e != nil {
			h.fail(w, e)
			return
		}
	}
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		h.fail(w, badRequest("from is after to (in serialized key order)"))
		return
	}
	n := info.Partitions
	if info.SubTopology < 0 {
		n = 1
	}
	if n <= 0 {
		h.fail(w, unavailable(CodeUnavailable, "the partitions of store %q are not known yet", store))
		return
	}
	tok := rangeToken{V: 1, Store: store, From: from, To: to}
	if v := q.Get("token"); v != "" {
		t, err := decodeToken(v)
		if err != nil {
			h.fail(w, badRequest("%v", err))
			return
		}
		if t.Store != store {
			h.fail(w, badRequest("the token belongs to store %q, not %q", t.Store, store))
			return
		}
		if (q.Has("from") && !bytes.Equal(from, t.From)) || (q.Has("to") && !bytes.Equal(to, t.To)) {
			h.fail(w, badRequest("from and to differ from the token's: give the token alone"))
			return
		}
		if t.P >= n {
			h.fail(w, badRequest("the token's partition %d is out of the store's %d partitions", t.P, n))
			return
		}
		tok = t
	}
	single := -1
	if v := q.Get("partition"); v != "" {
		p, err := strconv.Atoi(v)
		if err != nil || p < 0 || p >= n {
			h.fail(w, badRequest("partition %q is not one of the store's %d partitions", v, n))
			return
		}
		if q.Has("token") && tok.P != p {
			h.fail(w, badRequest("the token is for partition %d, not %d", tok.P, p))
			return
		}
		single, tok.P = p, p
	}

	ans := rangeAnswer{Store: store, Entries: []rangeEntry{}, Positions: map[int]map[string]int64{}, ServedBy: map[int]string{}}
	p, after := tok.P, tok.After
	next := func(p int, after []byte) string {
		t := tok
		t.P, t.After = p, after
		return t.encode()
	}
	for {
		if len(ans.Entries) == limit {
			if single < 0 && p < n {
				ans.Next = next(p, after)
			}
			break
		}
		part, e := h.scanPartition(r, info, p, tok.From, tok.To, after, limit-len(ans.Entries), rp)
		if e != nil {
			if e.retryable() && len(ans.Entries) > 0 {
				// Keep what was read: the next page starts with the
				// partition that is unavailable now.
				ans.Next = next(p, after)
				break
			}
			h.fail(w, e)
			return
		}
		ans.Entries = append(ans.Entries, part.entries...)
		ans.Positions[p] = part.position
		ans.ServedBy[p] = part.servedBy
		if part.more {
			ans.Next = next(p, part.last)
			break
		}
		if single >= 0 {
			break
		}
		p, after = p+1, nil
		if p >= n {
			break
		}
	}
	writeJSON(w, http.StatusOK, ans)
}

type partitionPage struct {
	entries  []rangeEntry
	more     bool
	last     []byte // the last key returned, when more
	position map[string]int64
	servedBy string
}

// scanPartition reads up to limit entries of partition p after after,
// locally or from the partition's owner.
func (h *handler) scanPartition(r *http.Request, info StoreInfo, p int, from, to, after []byte, limit int, rp readParams) (partitionPage, *apiError) {
	rt, e := h.route(info, p, rp)
	if e != nil {
		return partitionPage{}, e
	}
	if !rt.local {
		return h.scanRemote(r, info, p, rt.endpoint, from, to, after, limit, rp)
	}
	s, pos, e := h.open(info, p, rt, rp)
	if e != nil {
		return partitionPage{}, e
	}
	defer s.Close()
	kv, ok := s.(state.KeyValueQuerier)
	if !ok {
		return partitionPage{}, wrongKind(info.Name, s, state.KindKeyValue)
	}
	got, more, err := kv.QueryRange(from, to, after, limit)
	if err != nil {
		return partitionPage{}, errorf(http.StatusInternalServerError, CodeInternal, "reading store %q: %v", info.Name, err)
	}
	out := partitionPage{more: more, position: pos, servedBy: h.inst.Endpoint(), entries: make([]rangeEntry, 0, len(got))}
	for _, x := range got {
		out.entries = append(out.entries, rangeEntry{Key: x.KeyJSON, Value: x.Value, Partition: p})
	}
	if more && len(got) > 0 {
		out.last = got[len(got)-1].Key
	}
	return out, nil
}

func (h *handler) scanRemote(r *http.Request, info StoreInfo, p int, endpoint string, from, to, after []byte, limit int, rp readParams) (partitionPage, *apiError) {
	q := url.Values{}
	q.Set("partition", strconv.Itoa(p))
	q.Set("token", rangeToken{V: 1, Store: info.Name, P: p, After: after, From: from, To: to}.encode())
	q.Set("limit", strconv.Itoa(limit))
	if rp.allowStandby {
		q.Set("allowStandby", "true")
	}
	if len(rp.minPosition) > 0 {
		q.Set("minPosition", FormatPosition(rp.minPosition))
	}
	status, hdr, body, e := h.forward(r.Context(), r, endpoint, storePath(info.Name, "/range"), q)
	if e != nil {
		return partitionPage{}, e
	}
	if status != http.StatusOK {
		return partitionPage{}, &apiError{status: status, body: body, retryAfter: hdr.Get("Retry-After"),
			msg: fmt.Sprintf("partition %d from %s: %d %s", p, endpoint, status, bytes.TrimSpace(body))}
	}
	var ans rangeAnswer
	if err := json.Unmarshal(body, &ans); err != nil {
		return partitionPage{}, errorf(http.StatusBadGateway, CodeBadGateway, "the answer of %s for partition %d is not a range answer: %v", endpoint, p, err)
	}
	out := partitionPage{entries: ans.Entries, position: ans.Positions[p], servedBy: ans.ServedBy[p]}
	if ans.Next != "" {
		t, err := decodeToken(ans.Next)
		if err != nil || t.P != p || t.After == nil {
			return partitionPage{}, errorf(http.StatusBadGateway, CodeBadGateway, "the answer of %s for partition %d has a bad continuation", endpoint, p)
		}
		out.more, out.last = true, t.After
	}
	if len(out.entries) > limit {
		return partitionPage{}, errorf(http.StatusBadGateway, CodeBadGateway, "%s returned %d entries for a limit of %d", endpoint, len(out.entries), limit)
	}
	for i := range out.entries {
		out.entries[i].Partition = p
	}
	return out, nil
}
