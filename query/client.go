package query

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// ClientOptions configures NewClient. Zero values take the defaults.
type ClientOptions struct {
	// HTTPClient sends the requests (default: pooled connections, 10 s
	// timeout). The client never follows redirects, whatever this one's
	// CheckRedirect says.
	HTTPClient *http.Client
	// Scheme is "http" (default without TLSConfig) or "https".
	Scheme string
	// TLSConfig, when set, is the TLS configuration of the default
	// HTTPClient: RootCAs that verify the instances' certificates and, for
	// mutual TLS, Certificates. It makes Scheme default to "https".
	TLSConfig *tls.Config
	// Token, when set, is sent as a bearer token (Authorization: Bearer)
	// with every request.
	Token string
	// PrepareRequest, if set, is called on every request, to add
	// credentials for example.
	PrepareRequest func(*http.Request)
	// HedgeDelay, when positive, sends a key read that has no answer after
	// this delay also to a standby of the key's task (with allowStandby
	// and, as minPosition, the latest changelog position this client saw
	// for the partition), and takes the first good answer; when both are
	// in, the one with the higher position.
	HedgeDelay time.Duration
	// MetadataMaxAge is how long cached metadata is used before it is
	// fetched again (default 30 s). A 503 or a forwarded answer refreshes it
	// sooner.
	MetadataMaxAge time.Duration
	// MaxAttempts bounds the tries of one read (default 5); 503 answers and
	// unreachable instances are retried after their Retry-After (at most
	// MaxRetryWait) until then or until the context ends.
	MaxAttempts int
	// MaxRetryWait bounds the wait between tries (default 1 s).
	MaxRetryWait time.Duration
	// MaxBodyBytes bounds an answer's body (default 64 MiB).
	MaxBodyBytes int64
}

// Client reads an application's state over HTTP from any of its instances.
// It learns from their metadata which instance holds each key and asks it
// directly. It is safe for concurrent use.
type Client struct {
	opts  ClientOptions
	http  *http.Client
	seeds []string

	mu     sync.Mutex
	md     *Metadata
	mdAt   time.Time
	stale  bool
	seen   map[storePartition]map[string]int64 // highest positions seen
	rrNext int
}

type storePartition struct {
	store     string
	partition int
}

// NewClient returns a client that starts from the given instance endpoints
// (host:port).
func NewClient(endpoints []string, opts ClientOptions) (*Client, error) {
	if len(endpoints) == 0 {
		return nil, errors.New("query: NewClient needs at least one endpoint")
	}
	for _, e := range endpoints {
		if !ValidEndpoint(e) {
			return nil, fmt.Errorf("query: endpoint %q is not host:port", e)
		}
	}
	if opts.Scheme == "" {
		opts.Scheme = "http"
		if opts.TLSConfig != nil {
			opts.Scheme = "https"
		}
	}
	if opts.Scheme != "http" && opts.Scheme != "https" {
		return nil, fmt.Errorf("query: scheme %q is neither http nor https", opts.Scheme)
	}
	if opts.MetadataMaxAge <= 0 {
		opts.MetadataMaxAge = 30 * time.Second
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 5
	}
	if opts.MaxRetryWait <= 0 {
		opts.MaxRetryWait = time.Second
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 64 << 20
	}
	hc := opts.HTTPClient
	if hc == nil {
		t := &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		}
		if opts.TLSConfig != nil {
			t.TLSClientConfig = opts.TLSConfig.Clone()
		}
		hc = &http.Client{Timeout: 10 * time.Second, Transport: t}
	}
	cp := *hc
	cp.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{opts: opts, http: &cp, seeds: slices.Clone(endpoints), seen: map[storePartition]map[string]int64{}}, nil
}

// Meta describes the state a read saw.
type Meta struct {
	// Partition is the store partition of the key (or of the entry).
	Partition int
	// Position is the position of the state read: the next offset per
	// "topic/partition" that it includes. Pass it (or a later one) as
	// MinPosition to read at least this fresh again.
	Position map[string]int64
	// ServedBy is the endpoint of the instance that read the state.
	ServedBy string
	// Standby says whether the state was a standby copy.
	Standby bool
	// Truncated says a window or session answer was cut at the server's
	// limit: narrow the time range to see the rest.
	Truncated bool
}

// Error is an error answer of an instance.
type Error struct {
	// Status is the HTTP status; Code and Message come from the answer.
	Status  int
	Code    string
	Message string
	// RetryAfter is the answer's Retry-After, if any.
	RetryAfter time.Duration
	// Endpoint is the instance that answered.
	Endpoint string
}

func (e *Error) Error() string {
	return fmt.Sprintf("query: %s answered %d (%s): %s", e.Endpoint, e.Status, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) hold for key_not_found answers.
func (e *Error) Is(target error) bool { return target == ErrNotFound && e.Code == CodeKeyNotFound }

// ErrNotFound is matched (errors.Is) by the error of a read of an absent
// key. The Meta returned with it is valid: absent as of that position.
var ErrNotFound = errors.New("query: key not found")

// ReadOption changes one read.
type ReadOption func(*readOptions)

type readOptions struct {
	minPosition  map[string]int64
	allowStandby bool
	pageSize     int
}

// MinPosition makes the read wait (503 and retry) until the state includes
// pos: for each "topic/partition" of the key's partition, the state's
// position must be at least the offset.
func MinPosition(pos map[string]int64) ReadOption {
	return func(o *readOptions) { o.minPosition = pos }
}

// AllowStandby lets the read be answered by a standby copy, possibly
// behind the active one (bound it with MinPosition).
func AllowStandby() ReadOption { return func(o *readOptions) { o.allowStandby = true } }

// PageSize sets the entries asked per page of a Range.
func PageSize(n int) ReadOption { return func(o *readOptions) { o.pageSize = n } }

func (o readOptions) values() url.Values {
	q := url.Values{}
	if o.allowStandby {
		q.Set("allowStandby", "true")
	}
	if len(o.minPosition) > 0 {
		q.Set("minPosition", FormatPosition(o.minPosition))
	}
	return q
}

// keyText renders a key as the server parses it: a string kind as it is,
// other types as JSON.
func keyText[K any](key K) (string, error) {
	rv := reflect.ValueOf(&key).Elem()
	if rv.Kind() == reflect.String {
		return rv.String(), nil
	}
	b, err := json.Marshal(key)
	if err != nil {
		return "", fmt.Errorf("query: rendering the key as JSON: %w", err)
	}
	return string(b), nil
}

// Metadata fetches the metadata of the application from one of its
// instances and caches it.
func (c *Client) Metadata(ctx context.Context) (*Metadata, error) {
	return c.metadata(ctx, true)
}

func (c *Client) metadata(ctx context.Context, force bool) (*Metadata, error) {
	c.mu.Lock()
	md, fresh := c.md, c.md != nil && !c.stale && time.Since(c.mdAt) < c.opts.MetadataMaxAge
	c.mu.Unlock()
	if fresh && !force {
		return md, nil
	}
	var errs []error
	for _, ep := range c.candidates() {
		res := c.do(ctx, ep, "/v1/metadata", nil)
		if res.err != nil {
			errs = append(errs, res.err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		var m Metadata
		if err := json.Unmarshal(res.body, &m); err != nil {
			errs = append(errs, fmt.Errorf("query: metadata from %s: %w", ep, err))
			continue
		}
		c.mu.Lock()
		c.md, c.mdAt, c.stale = &m, time.Now(), false
		c.mu.Unlock()
		return &m, nil
	}
	return nil, fmt.Errorf("query: no instance answered with metadata: %w", errors.Join(errs...))
}

// candidates returns the endpoints to try for metadata: the instances last
// seen, then the seeds.
func (c *Client) candidates() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if c.md != nil {
		for _, in := range c.md.Instances {
			if ValidEndpoint(in.Endpoint) && !slices.Contains(out, in.Endpoint) {
				out = append(out, in.Endpoint)
			}
		}
	}
	rand.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	for _, s := range c.seeds {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// anyEndpoint returns an instance to send a request with no preferred
// instance to, round robin.
func (c *Client) anyEndpoint(md *Metadata) string {
	var eps []string
	if md != nil {
		for _, in := range md.Instances {
			if ValidEndpoint(in.Endpoint) {
				eps = append(eps, in.Endpoint)
			}
		}
	}
	if len(eps) == 0 {
		eps = c.seeds
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rrNext++
	return eps[c.rrNext%len(eps)]
}

// owners returns the active instance and the standbys of a key's task, and
// the key's partition (-1 when unknown).
func (c *Client) owners(md *Metadata, store string, kb []byte) (active string, standbys []string, partition int, changelog string) {
	partition = -1
	if md == nil || kb == nil {
		return "", nil, partition, ""
	}
	i := slices.IndexFunc(md.Stores, func(s StoreMetadata) bool { return s.Name == store })
	if i < 0 {
		return "", nil, partition, ""
	}
	s := md.Stores[i]
	if s.Global || s.Partitions <= 0 {
		return "", nil, partition, ""
	}
	partition = int(murmur2.Partition(kb, s.Partitions))
	task := Task{SubTopology: s.SubTopology, Partition: int32(partition)}
	for _, in := range md.Instances {
		if !ValidEndpoint(in.Endpoint) {
			continue
		}
		if slices.Contains(in.Active, task) && active == "" {
			active = in.Endpoint
		}
		if slices.Contains(in.Standby, task) {
			standbys = append(standbys, in.Endpoint)
		}
	}
	return active, standbys, partition, s.Changelog
}

type result struct {
	endpoint string
	status   int
	body     []byte
	err      error // transport errors and error answers (*Error)
	position map[string]int64
}

// definitive reports whether r answers the read (200, or a key that is
// absent).
func (r result) definitive() bool {
	var e *Error
	return r.err == nil || (errors.As(r.err, &e) && e.Code == CodeKeyNotFound)
}

// do sends one GET and reads the answer. Answers other than 200 become
// *Error.
func (c *Client) do(ctx context.Context, endpoint, path string, q url.Values) result {
	res := result{endpoint: endpoint}
	u := c.opts.Scheme + "://" + endpoint + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		res.err = fmt.Errorf("query: %w", err)
		return res
	}
	req.Header.Set("Accept", "application/json")
	if c.opts.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.opts.Token)
	}
	if c.opts.PrepareRequest != nil {
		c.opts.PrepareRequest(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		res.err = fmt.Errorf("query: %s: %w", endpoint, err)
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.opts.MaxBodyBytes+1))
	if err != nil {
		res.err = fmt.Errorf("query: reading the answer of %s: %w", endpoint, err)
		return res
	}
	if int64(len(body)) > c.opts.MaxBodyBytes {
		res.err = fmt.Errorf("query: the answer of %s is larger than %d bytes", endpoint, c.opts.MaxBodyBytes)
		return res
	}
	res.status, res.body = resp.StatusCode, body
	if resp.StatusCode != http.StatusOK {
		var eb struct {
			Error    string           `json:"error"`
			Code     string           `json:"code"`
			Position map[string]int64 `json:"position"`
		}
		_ = json.Unmarshal(body, &eb)
		if eb.Error == "" {
			eb.Error = strings.TrimSpace(string(body))
		}
		e := &Error{Status: resp.StatusCode, Code: eb.Code, Message: eb.Error, Endpoint: endpoint}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && ra >= 0 {
			e.RetryAfter = time.Duration(ra) * time.Second
		}
		res.err, res.position = e, eb.Position
		return res
	}
	var pb struct {
		Position map[string]int64 `json:"position"`
	}
	_ = json.Unmarshal(body, &pb)
	res.position = pb.Position
	return res
}

// retryable reports whether a failed try may succeed later: a 503, or an
// instance that could not be reached.
func retryable(err error) bool {
	var e *Error
	if errors.As(err, &e) {
		return e.Status == http.StatusServiceUnavailable || e.Status == http.StatusBadGateway
	}
	return err != nil
}

// refused reports whether an instance refused the client's credentials
// (401 or 403): trying again cannot help.
func refused(err error) bool {
	var e *Error
	return errors.As(err, &e) && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// wait sleeps before the next try.
func (c *Client) wait(ctx context.Context, err error, attempt int) error {
	d := time.Duration(50<<min(attempt, 5)) * time.Millisecond
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		d = e.RetryAfter
	}
	d = min(d, c.opts.MaxRetryWait)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func (c *Client) markStale() {
	c.mu.Lock()
	c.stale = true
	c.mu.Unlock()
}

// higher reports whether position a is ahead of b: at least as far on
// every topic-partition both have, and further on one.
func higher(a, b map[string]int64) bool {
	ahead := false
	for tp, av := range a {
		bv, ok := b[tp]
		if !ok {
			continue
		}
		if av < bv {
			return false
		}
		if av > bv {
			ahead = true
		}
	}
	return ahead
}

func (c *Client) remember(store string, partition int, pos map[string]int64) {
	if partition < 0 || len(pos) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	k := storePartition{store, partition}
	m := c.seen[k]
	if m == nil {
		m = map[string]int64{}
		c.seen[k] = m
	}
	for tp, v := range pos {
		if v > m[tp] {
			m[tp] = v
		}
	}
}

// hedgePosition returns the minimum position of a hedged read: the user's,
// raised to the latest changelog position seen for the partition.
func (c *Client) hedgePosition(store string, partition int, changelog string, user map[string]int64) map[string]int64 {
	out := map[string]int64{}
	for k, v := range user {
		out[k] = v
	}
	if changelog == "" {
		return out
	}
	tp := changelog + "/" + strconv.Itoa(partition)
	c.mu.Lock()
	v, ok := c.seen[storePartition{store, partition}][tp]
	c.mu.Unlock()
	if ok && v > out[tp] {
		out[tp] = v
	}
	return out
}

// readKey reads path (a key read of store) from the key's owner, retrying
// and hedging as configured, and returns the definitive answer.
func (c *Client) readKey(ctx context.Context, store string, kb []byte, path string, ro readOptions, extra url.Values) (result, error) {
	withExtra := func(q url.Values) url.Values {
		for k, v := range extra {
			q[k] = v
		}
		return q
	}
	var last result
	for attempt := 0; attempt < c.opts.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.wait(ctx, last.err, attempt); err != nil {
				return last, errors.Join(last.err, err)
			}
		}
		md, err := c.metadata(ctx, attempt > 0)
		if err != nil {
			last = result{err: err}
			if ctx.Err() != nil || refused(err) {
				return last, err
			}
			continue
		}
		active, standbys, partition, changelog := c.owners(md, store, kb)
		target := active
		if target == "" {
			target = c.anyEndpoint(md)
		}
		q := withExtra(ro.values())
		var res result
		if c.opts.HedgeDelay > 0 && len(standbys) > 0 && active != "" {
			hq := withExtra(ro.values())
			hq.Set("allowStandby", "true")
			if mp := c.hedgePosition(store, partition, changelog, ro.minPosition); len(mp) > 0 {
				hq.Set("minPosition", FormatPosition(mp))
			}
			res = c.hedged(ctx, target, q, standbys[rand.IntN(len(standbys))], hq, path)
		} else {
			res = c.do(ctx, target, path, q)
		}
		if res.definitive() {
			var sb struct {
				ServedBy  string `json:"servedBy"`
				Partition int    `json:"partition"`
			}
			if json.Unmarshal(res.body, &sb) == nil {
				if sb.ServedBy != "" && sb.ServedBy != res.endpoint {
					c.markStale() // the instance asked forwarded: the cached owners are out of date
				}
				c.remember(store, sb.Partition, res.position)
			}
			return res, res.err
		}
		last = res
		if !retryable(res.err) || ctx.Err() != nil {
			return res, res.err
		}
		c.markStale()
	}
	return last, last.err
}

// hedged sends a read to primary, and after the hedge delay (or at once if
// primary fails first) to standby too, and returns the first definitive
// answer, or the one with the higher position when both are in.
func (c *Client) hedged(ctx context.Context, primary string, pq url.Values, standby string, sq url.Values, path string) result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := make(chan result, 2)
	go func() { ch <- c.do(ctx, primary, path, pq) }()
	timer := time.NewTimer(c.opts.HedgeDelay)
	defer timer.Stop()
	inflight, hedgedYet := 1, false
	hedge := func() {
		if !hedgedYet {
			hedgedYet = true
			inflight++
			go func() { ch <- c.do(ctx, standby, path, sq) }()
		}
	}
	var first result
	haveFirst := false
	for {
		select {
		case r := <-ch:
			inflight--
			if r.definitive() {
				select {
				case r2 := <-ch:
					if r2.definitive() && higher(r2.position, r.position) {
						return r2
					}
				default:
				}
				return r
			}
			if !haveFirst {
				first, haveFirst = r, true
			}
			hedge()
			if inflight == 0 {
				return first
			}
		case <-timer.C:
			hedge()
		case <-ctx.Done():
			return result{endpoint: primary, err: ctx.Err()}
		}
	}
}

func metaOf(md readMeta, res result, truncated bool) Meta {
	served := md.ServedBy
	if served == "" {
		served = res.endpoint
	}
	return Meta{Partition: md.Partition, Position: md.Position, ServedBy: served, Standby: md.Standby, Truncated: truncated}
}

func keyBytes[K any](key K, ks serde.Serde[K]) ([]byte, error) {
	if ks == nil {
		return nil, nil
	}
	kb, err := ks.Serialize(key)
	if err != nil {
		return nil, fmt.Errorf("query: serializing the key: %w", err)
	}
	return kb, nil
}

// Get reads the value of key in a key-value store. ks, the store's key
// serde, locates the key's owner (nil: any instance, which forwards).
// The value is decoded from JSON into V; for the timestamped stores of DSL
// tables, use state.ValueAndTimestamp[V]. An absent key returns an error
// matching ErrNotFound, with a valid Meta.
func Get[K, V any](ctx context.Context, c *Client, store string, key K, ks serde.Serde[K], opts ...ReadOption) (V, Meta, error) {
	var zero V
	var ro readOptions
	for _, o := range opts {
		o(&ro)
	}
	text, err := keyText(key)
	if err != nil {
		return zero, Meta{}, err
	}
	kb, err := keyBytes(key, ks)
	if err != nil {
		return zero, Meta{}, err
	}
	res, err := c.readKey(ctx, store, kb, storePath(store, "/keys/"+EscapeSegment(text)), ro, nil)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			var nf notFoundAnswer
			_ = json.Unmarshal(res.body, &nf)
			return zero, metaOf(nf.readMeta, res, false), err
		}
		return zero, Meta{}, err
	}
	var ans getAnswer
	if err := json.Unmarshal(res.body, &ans); err != nil {
		return zero, Meta{}, fmt.Errorf("query: the answer of %s: %w", res.endpoint, err)
	}
	var v V
	if err := json.Unmarshal(ans.Value, &v); err != nil {
		return zero, Meta{}, fmt.Errorf("query: decoding the value of %s as %s: %w", text, reflect.TypeFor[V](), err)
	}
	return v, metaOf(ans.readMeta, res, false), nil
}

// Windows reads key's windows that start in [from, to] (ms) in a window
// store.
func Windows[K, V any](ctx context.Context, c *Client, store string, key K, ks serde.Serde[K], from, to int64, opts ...ReadOption) ([]state.WindowEntry[K, V], Meta, error) {
	var ro readOptions
	for _, o := range opts {
		o(&ro)
	}
	text, err := keyText(key)
	if err != nil {
		return nil, Meta{}, err
	}
	kb, err := keyBytes(key, ks)
	if err != nil {
		return nil, Meta{}, err
	}
	path := storePath(store, "/windows/"+EscapeSegment(text))
	res, err := c.readKey(ctx, store, kb, path, ro, url.Values{"from": {strconv.FormatInt(from, 10)}, "to": {strconv.FormatInt(to, 10)}})
	if err != nil {
		return nil, Meta{}, err
	}
	var ans windowsAnswer
	if err := json.Unmarshal(res.body, &ans); err != nil {
		return nil, Meta{}, fmt.Errorf("query: the answer of %s: %w", res.endpoint, err)
	}
	out := make([]state.WindowEntry[K, V], 0, len(ans.Windows))
	for _, w := range ans.Windows {
		e := state.WindowEntry[K, V]{Key: key, Start: w.Start, End: w.End}
		if err := json.Unmarshal(w.Value, &e.Value); err != nil {
			return nil, Meta{}, fmt.Errorf("query: decoding a window value as %s: %w", reflect.TypeFor[V](), err)
		}
		out = append(out, e)
	}
	return out, metaOf(ans.readMeta, res, ans.Truncated), nil
}

// Sessions reads key's sessions that end at or after earliestEnd and start
// at or before latestStart (0 and math.MaxInt64 for all) in a session
// store.
func Sessions[K, V any](ctx context.Context, c *Client, store string, key K, ks serde.Serde[K], earliestEnd, latestStart int64, opts ...ReadOption) ([]state.SessionEntry[K, V], Meta, error) {
	var ro readOptions
	for _, o := range opts {
		o(&ro)
	}
	text, err := keyText(key)
	if err != nil {
		return nil, Meta{}, err
	}
	kb, err := keyBytes(key, ks)
	if err != nil {
		return nil, Meta{}, err
	}
	path := storePath(store, "/sessions/"+EscapeSegment(text))
	res, err := c.readKey(ctx, store, kb, path, ro, url.Values{"from": {strconv.FormatInt(earliestEnd, 10)}, "to": {strconv.FormatInt(latestStart, 10)}})
	if err != nil {
		return nil, Meta{}, err
	}
	var ans sessionsAnswer
	if err := json.Unmarshal(res.body, &ans); err != nil {
		return nil, Meta{}, fmt.Errorf("query: the answer of %s: %w", res.endpoint, err)
	}
	out := make([]state.SessionEntry[K, V], 0, len(ans.Sessions))
	for _, w := range ans.Sessions {
		e := state.SessionEntry[K, V]{Key: key, Start: w.Start, End: w.End}
		if err := json.Unmarshal(w.Value, &e.Value); err != nil {
			return nil, Meta{}, fmt.Errorf("query: decoding a session value as %s: %w", reflect.TypeFor[V](), err)
		}
		out = append(out, e)
	}
	return out, metaOf(ans.readMeta, res, ans.Truncated), nil
}

// Range iterates over the entries of a key-value store whose keys are in
// [from, to] (nil: open), partition by partition, each partition in
// serialized key order, reading pages through one instance. Each key
// present during the whole scan is visited exactly once. The iteration
// stops at the first error, which it yields.
func Range[K, V any](ctx context.Context, c *Client, store string, from, to *K, opts ...ReadOption) iter.Seq2[state.KeyValue[K, V], error] {
	return func(yield func(state.KeyValue[K, V], error) bool) {
		var ro readOptions
		for _, o := range opts {
			o(&ro)
		}
		q := ro.values()
		if ro.pageSize > 0 {
			q.Set("limit", strconv.Itoa(ro.pageSize))
		}
		for _, b := range []struct {
			name string
			k    *K
		}{{"from", from}, {"to", to}} {
			if b.k != nil {
				t, err := keyText(*b.k)
				if err != nil {
					yield(state.KeyValue[K, V]{}, err)
					return
				}
				q.Set(b.name, t)
			}
		}
		path := storePath(store, "/range")
		for {
			res, err := c.readPage(ctx, path, q)
			if err != nil {
				yield(state.KeyValue[K, V]{}, err)
				return
			}
			var ans rangeAnswer
			if err := json.Unmarshal(res.body, &ans); err != nil {
				yield(state.KeyValue[K, V]{}, fmt.Errorf("query: the answer of %s: %w", res.endpoint, err))
				return
			}
			for _, e := range ans.Entries {
				var kv state.KeyValue[K, V]
				if err := json.Unmarshal(e.Key, &kv.Key); err != nil {
					yield(kv, fmt.Errorf("query: decoding a key as %s: %w", reflect.TypeFor[K](), err))
					return
				}
				if err := json.Unmarshal(e.Value, &kv.Value); err != nil {
					yield(kv, fmt.Errorf("query: decoding a value as %s: %w", reflect.TypeFor[V](), err))
					return
				}
				if !yield(kv, nil) {
					return
				}
			}
			for p, pos := range ans.Positions {
				c.remember(store, p, pos)
			}
			if ans.Next == "" {
				return
			}
			q.Del("from")
			q.Del("to")
			q.Set("token", ans.Next)
		}
	}
}

// readPage reads one range page from any instance, retrying.
func (c *Client) readPage(ctx context.Context, path string, q url.Values) (result, error) {
	var last result
	for attempt := 0; attempt < c.opts.MaxAttempts; attempt++ {
		if attempt > 0 {
			if err := c.wait(ctx, last.err, attempt); err != nil {
				return last, errors.Join(last.err, err)
			}
		}
		md, _ := c.metadata(ctx, false)
		res := c.do(ctx, c.anyEndpoint(md), path, q)
		if res.err == nil {
			return res, nil
		}
		last = res
		if !retryable(res.err) || ctx.Err() != nil {
			return res, res.err
		}
		c.markStale()
	}
	return last, last.err
}
