package query

import (
	"crypto/tls"
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
	"sync"
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
	// Auth, when enabled, authenticates every request: every /v1 path,
	// unknown paths, and /healthz and /readyz when ProtectHealth is set.
	// Others get a 401 (code "unauthorized").
	Auth *Auth
	// ProtectHealth puts /healthz and /readyz behind Auth too (default:
	// open, for probes).
	ProtectHealth bool
	// Transport carries requests forwarded to other instances (default: a
	// transport with connection pooling, dial, TLS and header timeouts,
	// and ForwardTLS). Redirects are never followed whatever the
	// transport.
	Transport http.RoundTripper
	// ForwardTLS, when set, is the TLS configuration of forwarded
	// requests (with the default Transport): the CAs that verify the other
	// instances' certificates and, for mutual TLS, this instance's client
	// certificate. It makes Scheme default to "https".
	ForwardTLS *tls.Config
	// Scheme of forwarded requests: "http" (default without ForwardTLS)
	// or "https".
	Scheme string
	// ForwardToken, when set, is sent as the bearer token of every request
	// forwarded to another instance. The credentials of the request that
	// caused a forward are never passed on.
	ForwardToken string
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
	// MaxRequestBytes bounds the request line and headers of a request
	// (default 64 KiB); a larger request is a 400. Requests with a body
	// are a 400 too.
	MaxRequestBytes int
	// MaxForwardBytes bounds the body of a forwarded answer (default
	// 32 MiB); a larger one is a 502.
	MaxForwardBytes int64
	// MaxConcurrent bounds the requests the handler works on at once
	// (default 256); past it, a request waits up to QueueWait for a slot
	// and then gets a 503 (code "overloaded"). /healthz and /readyz do
	// not count. A request holds its slot until its answer starts: a
	// client slow to read its answer does not hold one.
	MaxConcurrent int
	// QueueWait is how long a request waits for a slot (default 100 ms).
	QueueWait time.Duration
	// MaxForwardsPerPeer bounds the forwarded requests in flight to one
	// other instance (default MaxConcurrent/4); past it, a request that
	// needs that instance gets a 503 (code "overloaded") at once, so a
	// slow or stalled instance cannot take every slot.
	MaxForwardsPerPeer int
}

func (o HandlerOptions) withDefaults() HandlerOptions {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Transport == nil {
		t := &http.Transport{
			Proxy:                 nil, // instances talk directly
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		}
		if o.ForwardTLS != nil {
			t.TLSClientConfig = o.ForwardTLS.Clone()
		}
		o.Transport = t
	}
	if o.Scheme == "" {
		o.Scheme = "http"
		if o.ForwardTLS != nil {
			o.Scheme = "https"
		}
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
	if o.MaxRequestBytes <= 0 {
		o.MaxRequestBytes = 64 << 10
	}
	if o.MaxForwardBytes <= 0 {
		o.MaxForwardBytes = 32 << 20
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 256
	}
	if o.QueueWait <= 0 {
		o.QueueWait = 100 * time.Millisecond
	}
	if o.MaxForwardsPerPeer <= 0 {
		o.MaxForwardsPerPeer = max(o.MaxConcurrent/4, 1)
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
	CodeUnauthorized = "unauthorized"       // 401: no valid credentials
	CodeOverloaded   = "overloaded"         // 503: too many requests in flight here, or to the owner
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
	mux    *http.ServeMux
	// slots bounds the requests in progress.
	slots chan struct{}

	peerMu sync.Mutex
	// peers counts the forwarded requests in flight by endpoint.
	peers map[string]int
}

// NewHandler returns the HTTP API of an application instance: store list,
// key lookups, paginated range scans, window and session fetches, metadata,
// the topology, /healthz and /readyz. See docs/queries.md.
//
// Reads of a key (or partition) held by another instance are forwarded to
// it, only to endpoints that inst.Hosts names, once (HopHeader), without
// following redirects. With opts.Auth, every request but health checks
// must authenticate. The handler bounds the requests it works on at once,
// and those it forwards to each other instance. It is safe for concurrent
// use.
func NewHandler(inst Instance, opts HandlerOptions) http.Handler {
	h := &handler{inst: inst, opts: opts.withDefaults(), peers: map[string]int{}}
	h.slots = make(chan struct{}, h.opts.MaxConcurrent)
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
	h.mux = mux
	return h
}

// ServeHTTP authenticates the request, checks its size, takes a slot and
// serves it.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	health := r.URL.Path == "/healthz" || r.URL.Path == "/readyz"
	if (!health || h.opts.ProtectHealth) && !h.opts.Auth.Allow(r) {
		unauthorized(w, r, h.opts.Auth)
		return
	}
	if e := h.checkSize(r); e != nil {
		h.fail(w, e)
		return
	}
	if p := r.URL.EscapedPath(); !canonical(p) {
		// http.ServeMux would redirect to the cleaned path: another
		// resource (a key "x/.." would read "x"'s store). Refuse instead.
		h.fail(w, errorf(http.StatusNotFound, CodeNotFound, "no such path %q: a path segment \".\" or \"..\" (a key, say) must be percent-encoded as %%2E, and segments cannot be empty", p))
		return
	}
	if health {
		h.mux.ServeHTTP(w, r)
		return
	}
	if !h.acquire(r) {
		h.fail(w, unavailable(CodeOverloaded, "this instance is serving %d requests, its limit (MaxConcurrent)", h.opts.MaxConcurrent))
		return
	}
	rw := &slotWriter{ResponseWriter: w, release: h.release}
	defer rw.done()
	h.mux.ServeHTTP(rw, r)
}

// canonical reports whether an escaped path is clean: no "." or ".."
// segment and no empty one (but a trailing slash).
func canonical(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, s := range segs {
		if s == "." || s == ".." || (s == "" && i != len(segs)-1) {
			return false
		}
	}
	return true
}

// checkSize refuses requests larger than MaxRequestBytes and requests with
// a body.
func (h *handler) checkSize(r *http.Request) *apiError {
	n := len(r.Method) + len(r.RequestURI) + len(r.Proto) + 4
	for k, vs := range r.Header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	if n > h.opts.MaxRequestBytes {
		return badRequest("the request is %d bytes (request line and headers), more than the limit MaxRequestBytes = %d", n, h.opts.MaxRequestBytes)
	}
	if (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.ContentLength > 0 || len(r.TransferEncoding) > 0) {
		return badRequest("the query API takes no request body")
	}
	return nil
}

// acquire takes a slot, waiting up to QueueWait.
func (h *handler) acquire(r *http.Request) bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(h.opts.QueueWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return true
	case <-t.C:
		return false
	case <-r.Context().Done():
		return false
	}
}

func (h *handler) release() { <-h.slots }

// slotWriter gives the request's slot back when the answer starts, or when
// the handler returns.
type slotWriter struct {
	http.ResponseWriter
	release func()
	once    sync.Once
}

func (s *slotWriter) done() { s.once.Do(s.release) }

func (s *slotWriter) WriteHeader(status int) {
	s.done()
	s.ResponseWriter.WriteHeader(status)
}

func (s *slotWriter) Write(b []byte) (int, error) {
	s.done()
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *slotWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// acquirePeer counts a forwarded request to endpoint, unless
// MaxForwardsPerPeer are in flight.
func (h *handler) acquirePeer(endpoint string) bool {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	if h.peers[endpoint] >= h.opts.MaxForwardsPerPeer {
		return false
	}
	h.peers[endpoint]++
	return true
}

func (h *handler) releasePeer(endpoint string) {
	h.peerMu.Lock()
	defer h.peerMu.Unlock()
	if h.peers[endpoint]--; h.peers[endpoint] <= 0 {
		delete(h.peers, endpoint)
	}
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
