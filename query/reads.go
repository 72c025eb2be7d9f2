package query

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"

	"github.com/seed992c72d9/streams/state"
)

// readMeta is what every key read answers besides the data.
type readMeta struct {
	Store     string           `json:"store"`
	Key       json.RawMessage  `json:"key"`
	Partition int              `json:"partition"`
	Position  map[string]int64 `json:"position"`
	ServedBy  string           `json:"servedBy"`
	Standby   bool             `json:"standby,omitempty"`
}

type getAnswer struct {
	readMeta
	Value json.RawMessage `json:"value"`
}

type notFoundAnswer struct {
	Error string `json:"error"`
	Code  string `json:"code"`
	readMeta
}

type windowJSON struct {
	Start int64           `json:"start"`
	End   int64           `json:"end"`
	Value json.RawMessage `json:"value"`
}

type windowsAnswer struct {
	readMeta
	Windows   []windowJSON `json:"windows"`
	Truncated bool         `json:"truncated"`
}

type sessionsAnswer struct {
	readMeta
	Sessions  []windowJSON `json:"sessions"`
	Truncated bool         `json:"truncated"`
}

// keyRead runs the common part of a key read of a store of kind want: look
// the store up, check the parameters (check validates those besides
// minPosition and allowStandby), parse the key, route, and forward or open.
// It returns a nil store when it answered already.
func (h *handler) keyRead(w http.ResponseWriter, r *http.Request, want, suffix string, check func(url.Values) *apiError, allowed ...string) (readMeta, state.Store, []byte) {
	md, s, kb, e := h.openKey(w, r, want, suffix, check, allowed...)
	if e != nil {
		h.fail(w, e)
	}
	return md, s, kb
}

func (h *handler) openKey(w http.ResponseWriter, r *http.Request, want, suffix string, check func(url.Values) *apiError, allowed ...string) (readMeta, state.Store, []byte, *apiError) {
	store, keyText := r.PathValue("store"), r.PathValue("key")
	info, e := h.lookup(store)
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	if info.Kind != want && (info.Kind == state.KindKeyValue || info.Kind == state.KindWindow || info.Kind == state.KindSession) {
		return readMeta{}, nil, nil, errorf(http.StatusBadRequest, CodeWrongKind, "store %q is a %s store, not a %s store", store, info.Kind, want)
	}
	rp, e := parseParams(r.URL.Query(), allowed...)
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	if check != nil {
		if e := check(r.URL.Query()); e != nil {
			return readMeta{}, nil, nil, e
		}
	}
	rp.hop = r.Header.Get(HopHeader) != ""
	kb, e := h.parseKey(info, keyText, "key")
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	p, e := partitionOf(info, kb)
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	rt, e := h.route(info, p, rp)
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	if !rt.local {
		h.relay(w, r, rt.endpoint, storePath(store, suffix+EscapeSegment(keyText)))
		return readMeta{}, nil, nil, nil
	}
	s, pos, e := h.open(info, p, rt, rp)
	if e != nil {
		return readMeta{}, nil, nil, e
	}
	kj, err := info.Keys.KeyJSON(kb)
	if err != nil {
		s.Close()
		return readMeta{}, nil, nil, errorf(http.StatusInternalServerError, CodeInternal, "rendering the key: %v", err)
	}
	if pos == nil {
		pos = map[string]int64{}
	}
	return readMeta{Store: store, Key: kj, Partition: p, Position: pos, ServedBy: h.inst.Endpoint(), Standby: rt.standby}, s, kb, nil
}

func wrongKind(store string, s state.Store, want string) *apiError {
	kind := "other"
	switch s.(type) {
	case state.KeyValueQuerier:
		kind = state.KindKeyValue
	case state.WindowQuerier:
		kind = state.KindWindow
	case state.SessionQuerier:
		kind = state.KindSession
	}
	return errorf(http.StatusBadRequest, CodeWrongKind, "store %q is a %s store, not a %s store", store, kind, want)
}

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	md, s, kb := h.keyRead(w, r, state.KindKeyValue, "/keys/", nil)
	if s == nil {
		return
	}
	defer s.Close()
	kv, ok := s.(state.KeyValueQuerier)
	if !ok {
		h.fail(w, wrongKind(md.Store, s, state.KindKeyValue))
		return
	}
	v, found, err := kv.QueryGet(kb)
	if err != nil {
		h.fail(w, errorf(http.StatusInternalServerError, CodeInternal, "reading store %q: %v", md.Store, err))
		return
	}
	if !found {
		writeJSON(w, http.StatusNotFound, notFoundAnswer{
			Error: fmt.Sprintf("key %s not found in store %q", md.Key, md.Store), Code: CodeKeyNotFound, readMeta: md})
		return
	}
	writeJSON(w, http.StatusOK, getAnswer{readMeta: md, Value: v})
}

// timeRange reads the from, to and limit parameters of window and session
// reads.
type timeRange struct {
	from, to int64
	limit    int
}

func (h *handler) parseTimeRange(q url.Values, tr *timeRange) *apiError {
	var e *apiError
	if tr.from, e = parseTime(q, "from", 0); e != nil {
		return e
	}
	if tr.to, e = parseTime(q, "to", math.MaxInt64); e != nil {
		return e
	}
	if tr.limit, e = parseLimit(q, h.opts.MaxResults, h.opts.MaxResults, "MaxResults"); e != nil {
		return e
	}
	return nil
}

func (h *handler) windows(w http.ResponseWriter, r *http.Request) {
	var tr timeRange
	check := func(q url.Values) *apiError {
		if e := h.parseTimeRange(q, &tr); e != nil {
			return e
		}
		if tr.to < tr.from {
			return badRequest("to %d is before from %d", tr.to, tr.from)
		}
		return nil
	}
	md, s, kb := h.keyRead(w, r, state.KindWindow, "/windows/", check, "from", "to", "limit")
	if s == nil {
		return
	}
	defer s.Close()
	ws, ok := s.(state.WindowQuerier)
	if !ok {
		h.fail(w, wrongKind(md.Store, s, state.KindWindow))
		return
	}
	got, more, err := ws.QueryWindows(kb, tr.from, tr.to, tr.limit)
	if err != nil {
		h.fail(w, errorf(http.StatusInternalServerError, CodeInternal, "reading store %q: %v", md.Store, err))
		return
	}
	ans := windowsAnswer{readMeta: md, Windows: make([]windowJSON, 0, len(got)), Truncated: more}
	for _, x := range got {
		ans.Windows = append(ans.Windows, windowJSON{Start: x.Start, End: x.End, Value: x.Value})
	}
	writeJSON(w, http.StatusOK, ans)
}

func (h *handler) sessions(w http.ResponseWriter, r *http.Request) {
	var tr timeRange
	check := func(q url.Values) *apiError { return h.parseTimeRange(q, &tr) }
	md, s, kb := h.keyRead(w, r, state.KindSession, "/sessions/", check, "from", "to", "limit")
	if s == nil {
		return
	}
	defer s.Close()
	ss, ok := s.(state.SessionQuerier)
	if !ok {
		h.fail(w, wrongKind(md.Store, s, state.KindSession))
		return
	}
	got, more, err := ss.QuerySessions(kb, tr.from, tr.to, tr.limit)
	if err != nil {
		h.fail(w, errorf(http.StatusInternalServerError, CodeInternal, "reading store %q: %v", md.Store, err))
		return
	}
	ans := sessionsAnswer{readMeta: md, Sessions: make([]windowJSON, 0, len(got)), Truncated: more}
	for _, x := range got {
		ans.Sessions = append(ans.Sessions, windowJSON{Start: x.Start, End: x.End, Value: x.Value})
	}
	writeJSON(w, http.StatusOK, ans)
}
