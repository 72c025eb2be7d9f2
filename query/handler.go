package query

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// HopHeader marks a request that one instance forwarded to another. An
// instance that receives it answers from its local state or with 503; it
// never forwards the request again, so a stale or inconsistent view of the
// assignment cannot make requests loop.
const HopHeader = "Streams-Query-Hop"

// HandlerOptions configures NewHandler. Zero values take the defaults.
type HandlerOptions struct {
	// Logger receives proxying failures and internal errors (default:
	// discard).
	Logger *slog.Logger
	// Transport carries requests forwarded to other instances (default: a
	// transport with connection pooling and dial, TLS and header timeouts).
	// Redirects are never followed whatever the transport.
	Transport http.RoundTripper
	// Scheme of forwarded requests: "http" (default) or "https".
	Scheme string
	// PrepareForward, if set, is called on every request forwarded to
	// another instance, with the request that caused it: it may add
	// credentials. Only endpoints from the group's assignment are called.
	PrepareForward func(out, in *http.Request)
	// ForwardTimeout bounds a forwarded request (default 10 s).
	ForwardTimeout time.Duration
	// RetryAfter is the Retry-After of 503 answers (default 1 s).
	RetryAfter time.Duration
	// DefaultPageSize and MaxPageSize bound the entries of a range page
	// (defaults 100 and 1000).
	DefaultPageSize, MaxPageSize int
	// MaxResults bounds the windows or sessions of one answer (default
	// 10000); an answer cut short says "truncated".
	MaxResults int
	// MaxKeyBytes bounds the text of a key (default 16 KiB).
	MaxKeyBytes int
	// MaxForwardBytes bounds the body of a forwarded answer (default
	// 32 MiB); a larger one is a 502.
	MaxForwardBytes int64
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Transport == nil {
		o.Transport = &http.Transport{
			Proxy:                 nil, // instances talk directly
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		}
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = 10 * time.Second
	}
	if o.RetryAfter <= 0 {
		o.RetryAfter = time.Second
	}
	if o.MaxPageSize <= 0 {
		o.MaxPageSize = 1000
	}
	if o.DefaultPageSize <= 0 {
		o.DefaultPageSize = min(100, o.MaxPageSize)
	}
	o.DefaultPageSize = min(o.DefaultPageSize, o.MaxPageSize)
	if o.MaxResults <= 0 {
		o.MaxResults = 10000
	}
	if o.MaxKeyBytes <= 0 {
		o.MaxKeyBytes = 16 << 10
	}
	if o.MaxForwardBytes <= 0 {
		o.MaxForwardBytes = 32 << 20
	}
	return o
}

// Error codes of error answers ({"error": message, "code": code}).
const (
	CodeBadRequest   = "bad_request"        // 400: malformed key, range or parameter
	CodeWrongKind    = "wrong_kind"         // 400: the store does not support the read
	CodeUnknownStore = "unknown_store"      // 404
	CodeKeyNotFound  = "key_not_found"      // 404: the key is absent (the answer still has partition and position)
	CodeNotFound     = "not_found"          // 404: no such path
	CodeMethod       = "method_not_allowed" // 405
	CodeUnavailable  = "unavailable"        // 503: rebalancing, no owner, owner unreachable
	CodeRestoring    = "restoring"          // 503: the task is restoring its state
	CodeBehind       = "behind"             // 503: the state is behind minPosition
	CodeLoop         = "loop"               // 503: a forwarded request would be forwarded again
	CodeBadGateway   = "bad_gateway"        // 502: the owner's answer was unusable
	CodeInternal     = "internal"           // 500
)

const (
	stateRunning = "RUNNING"
	stateError   = "ERROR"
	// maxPositionEntries bounds the entries of a minPosition.
	maxPositionEntries = 4096
)

// apiError is an error answer.
type apiError struct {
	status int
	code   string
	msg    string
	// body, if set, is the answer to send as is (a forwarded error).
	body       []byte
	retryAfter string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, CodeBadRequest, format, args...)
}

func unavailable(code, format string, args ...any) *apiError {
	return errorf(http.StatusServiceUnavailable, code, format, args...)
}

// retryable reports whether e is a 503.
func (e *apiError) retryable() bool { return e.status == http.StatusServiceUnavailable }

type handler struct {
	inst   Instance
	opts   HandlerOptions
	client *http.Client
}

// NewHandler returns the HTTP API of an application instance: store list,
// key lookups, paginated range scans, window and session fetches, metadata,
// the topology, /healthz and /readyz. See docs/queries.md.
//
// Reads of a key (or partition) held by another instance are forwarded to
// it, only to endpoints that inst.Hosts names, once (HopHeader), without
// following redirects. The handler keeps no state between requests and is
// safe for concurrent use; wrap it to add authentication or rate limits.
func NewHandler(inst Instance, opts HandlerOptions) http.Handler {
	h := &handler{inst: inst, opts: opts.withDefaults()}
	h.client = &http.Client{
		Transport: h.opts.Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/stores", h.listStores)
	mux.HandleFunc("GET /v1/stores/{store}", h.storeInfo)
	mux.HandleFunc("GET /v1/stores/{store}/keys/{key}", h.get)
	mux.HandleFunc("GET /v1/stores/{store}/range", h.rangeScan)
	mux.HandleFunc("GET /v1/stores/{store}/windows/{key}", h.windows)
	mux.HandleFunc("GET /v1/stores/{store}/sessions/{key}", h.sessions)
	mux.HandleFunc("GET /v1/metadata", h.metadata)
	mux.HandleFunc("GET /v1/metadata/stores/{store}/keys/{key}", h.keyMetadata)
	mux.HandleFunc("GET /v1/topology", h.topology)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /readyz", h.readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			h.fail(w, errorf(http.StatusMethodNotAllowed, CodeMethod, "method %s is not allowed: the query API is read-only", r.Method))
			return
		}
		h.fail(w, errorf(http.StatusNotFound, CodeNotFound, "no such path %q", r.URL.Path))
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "rendering the answer: " + err.Error(), Code: CodeInternal})
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

func (h *handler) fail(w http.ResponseWriter, e *apiError) {
	if e.status == http.StatusServiceUnavailable {
		ra := e.retryAfter
		if ra == "" {
			ra = strconv.Itoa(int(math.Ceil(h.opts.RetryAfter.Seconds())))
		}
		w.Header().Set("Retry-After", ra)
	}
	if e.status >= 500 && e.status != http.StatusServiceUnavailable {
		h.opts.Logger.Warn("query failed", "status", e.status, "error", e.msg)
	}
	if e.body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(e.status)
		_, _ = w.Write(e.body)
		return
	}
	writeJSON(w, e.status, errorBody{Error: e.msg, Code: e.code})
}

func (h *handler) lookup(name string) (StoreInfo, *apiError) {
	if sl, ok := h.inst.(StoreLookup); ok {
		if s, ok := sl.Store(name); ok {
			return s, nil
		}
		return StoreInfo{}, errorf(http.StatusNotFound, CodeUnknownStore, "unknown store %q", name)
	}
	for _, s := range h.inst.Stores() {
		if s.Name == name {
			return s, nil
		}
	}
	return StoreInfo{}, errorf(http.StatusNotFound, CodeUnknownStore, "unknown store %q", name)
}

// taskOf returns the task holding partition p of a store.
func taskOf(info StoreInfo, p int) processor.TaskID {
	if info.SubTopology < 0 {
		return processor.TaskID{SubTopology: info.SubTopology, Partition: -1}
	}
	return processor.TaskID{SubTopology: info.SubTopology, Partition: int32(p)}
}

// partitionOf returns the partition of a serialized key.
func partitionOf(info StoreInfo, key []byte) (int, *apiError) {
	if info.SubTopology < 0 {
		return 0, nil
	}
	if info.Partitions <= 0 {
		return 0, unavailable(CodeUnavailable, "the partitions of store %q are not known yet", info.Name)
	}
	return int(murmur2.Partition(key, info.Partitions)), nil
}

// readParams are the parameters every read takes.
type readParams struct {
	minPosition  map[string]int64
	allowStandby bool
	hop          bool
}

// route says where a read of partition p happens: locally (standby says
// whether from a standby copy), or at endpoint.
type route struct {
	local    bool
	standby  bool
	endpoint string
}

func (h *handler) route(info StoreInfo, p int, rp readParams) (route, *apiError) {
	task := taskOf(info, p)
	st := h.inst.Status(task)
	if st.Restoring {
		return route{}, unavailable(CodeRestoring, "task %s of store %q is restoring its state", task, info.Name)
	}
	if s := h.inst.State(); s != stateRunning {
		return route{}, unavailable(CodeUnavailable, "instance is %s", s)
	}
	if st.Active {
		return route{local: true}, nil
	}
	if rp.allowStandby && st.Standby {
		return route{local: true, standby: true}, nil
	}
	self := h.inst.Endpoint()
	var owner string
	var standbys []string
	ownedHere, noEndpoint := false, false
	for _, host := range h.inst.Hosts() {
		if slices.Contains(host.Active, task) {
			switch {
			case host.Endpoint == "":
				noEndpoint = true
			case host.Endpoint == self:
				ownedHere = true
			case owner == "":
				owner = host.Endpoint
			}
		}
		if slices.Contains(host.Standby, task) && host.Endpoint != self && host.Endpoint != "" {
			standbys = append(standbys, host.Endpoint)
		}
	}
	if ownedHere {
		return route{}, unavailable(CodeUnavailable, "task %s of store %q is assigned to this instance but not running yet", task, info.Name)
	}
	if owner == "" && noEndpoint && !(rp.allowStandby && len(standbys) > 0) {
		return route{}, unavailable(CodeUnavailable, "the instance running task %s of store %q advertises no endpoint (Config.AdvertisedEndpoint)", task, info.Name)
	}
	if owner == "" && rp.allowStandby && len(standbys) > 0 {
		owner = standbys[0]
	}
	if owner == "" {
		return route{}, unavailable(CodeUnavailable, "no instance runs task %s of store %q", task, info.Name)
	}
	if rp.hop {
		return route{}, unavailable(CodeLoop, "task %s of store %q is not held here and the request was already forwarded once (to %s); the assignment is changing", task, info.Name, self)
	}
	return route{endpoint: owner}, nil
}

// open opens the committed state of partition p for a local read and
// checks it against the requested minimum position.
func (h *handler) open(info StoreInfo, p int, rt route, rp readParams) (state.Store, map[string]int64, *apiError) {
	task := taskOf(info, p)
	s, pos, err := h.inst.Open(info.Name, task)
	switch {
	case errors.Is(err, ErrUnknownStore):
		return nil, nil, errorf(http.StatusNotFound, CodeUnknownStore, "%v", err)
	case errors.Is(err, ErrNotLocal):
		return nil, nil, unavailable(CodeUnavailable, "task %s of store %q moved: %v", task, info.Name, err)
	case err != nil:
		return nil, nil, errorf(http.StatusInternalServerError, CodeInternal, "opening store %q of task %s: %v", info.Name, task, err)
	}
	if rt.standby && len(pos) == 0 {
		s.Close()
		return nil, nil, unavailable(CodeUnavailable, "the standby copy of task %s of store %q has no state yet", task, info.Name)
	}
	if why, behind := behindOf(pos, rp.minPosition, task); behind {
		s.Close()
		return nil, nil, unavailable(CodeBehind, "the state of task %s of store %q is behind the requested position: %s", task, info.Name, why)
	}
	return s, pos, nil
}

// behindOf reports whether pos fails to reach min for task. An entry of min
// applies to a task of the same partition (for a global store, to the
// topics its position has); an applicable entry that pos lacks is not
// reached.
func behindOf(pos, minPos map[string]int64, task processor.TaskID) (string, bool) {
	keys := make([]string, 0, len(minPos))
	for k := range minPos {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, tp := range keys {
		want := minPos[tp]
		i := strings.LastIndexByte(tp, '/')
		topic, part := tp[:i], tp[i+1:]
		if task.Partition >= 0 {
			if part != strconv.Itoa(int(task.Partition)) {
				continue
			}
		} else if !hasTopic(pos, topic) {
			continue
		}
		have, ok := pos[tp]
		if !ok {
			return fmt.Sprintf("%s has no position, want %d", tp, want), true
		}
		if have < want {
			return fmt.Sprintf("%s is at %d, want %d", tp, have, want), true
		}
	}
	return "", false
}

func hasTopic(pos map[string]int64, topic string) bool {
	for tp := range pos {
		if i := strings.LastIndexByte(tp, '/'); i >= 0 && tp[:i] == topic {
			return true
		}
	}
	return false
}
