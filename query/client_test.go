package query_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// wrapped is a fake cluster whose instances' handlers go through
// middleware the test sets.
type wrapped struct {
	*fakeCluster
	sa, sb     *httptest.Server
	mwA, mwB   atomic.Pointer[func(http.ResponseWriter, *http.Request, http.Handler)]
	hopsA      atomic.Int64
	hopsB      atomic.Int64
	epA, epB   string
	handlerOpt query.HandlerOptions
}

// newWrapped serves the fake cluster's instances behind middleware. The
// instances advertise the wrapped servers.
func newWrapped(t *testing.T) *wrapped {
	w := &wrapped{fakeCluster: newFakeCluster(t, query.HandlerOptions{})}
	mk := func(f *fakeInst, mw *atomic.Pointer[func(http.ResponseWriter, *http.Request, http.Handler)], hops *atomic.Int64) *httptest.Server {
		h := query.NewHandler(f, query.HandlerOptions{})
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if r.Header.Get(query.HopHeader) != "" {
				hops.Add(1)
			}
			if m := mw.Load(); m != nil {
				(*m)(rw, r, h)
				return
			}
			h.ServeHTTP(rw, r)
		}))
		t.Cleanup(srv.Close)
		return srv
	}
	w.sa, w.sb = mk(w.a, &w.mwA, &w.hopsA), mk(w.b, &w.mwB, &w.hopsB)
	w.epA, w.epB = w.sa.Listener.Addr().String(), w.sb.Listener.Addr().String()
	w.a.mu.Lock()
	w.a.endpoint = w.epA
	w.a.mu.Unlock()
	w.b.mu.Lock()
	w.b.endpoint = w.epB
	w.b.mu.Unlock()
	w.hostsMu.Lock()
	w.hosts[0].Endpoint, w.hosts[1].Endpoint = w.epA, w.epB
	w.hostsMu.Unlock()
	return w
}

func setMW(p *atomic.Pointer[func(http.ResponseWriter, *http.Request, http.Handler)], f func(http.ResponseWriter, *http.Request, http.Handler)) {
	p.Store(&f)
}

func TestClient(t *testing.T) {
	w := newWrapped(t)
	ctx := t.Context()
	c, err := query.NewClient([]string{w.epA}, query.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	md, err := c.Metadata(ctx)
	if err != nil || len(md.Instances) != 2 {
		t.Fatalf("metadata: %+v, %v", md, err)
	}
	for _, k := range slices.Sorted(maps.Keys(w.counts)) {
		v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k, serde.String())
		if err != nil {
			t.Fatal(err)
		}
		p := partitionOf([]byte(k))
		owner := w.epA
		if p >= 2 {
			owner = w.epB
		}
		if v.Value != w.counts[k] || v.Timestamp != 1000+w.counts[k] || meta.Partition != int(p) || meta.ServedBy != owner || meta.Standby {
			t.Fatalf("Get(%s) = %+v, %+v", k, v, meta)
		}
		if meta.Position["input/"+string(rune('0'+p))] != 100+int64(p) {
			t.Fatalf("position %v", meta.Position)
		}
	}
	if n := w.hopsA.Load() + w.hopsB.Load(); n != 0 {
		t.Fatalf("the client asked instances that do not own the keys: %d forwarded requests", n)
	}

	// Without the key serde, any instance answers (forwarding).
	k2 := w.keyOn(2)
	v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k2, nil)
	if err != nil || v.Value != w.counts[k2] || meta.ServedBy != w.epB {
		t.Fatalf("Get without serde: %+v %+v %v", v, meta, err)
	}

	_, meta, err = query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", "absent", serde.String())
	if !errors.Is(err, query.ErrNotFound) || meta.Partition != int(partitionOf([]byte("absent"))) || len(meta.Position) == 0 {
		t.Fatalf("absent key: %+v, %v", meta, err)
	}
	var qe *query.Error
	if _, _, err := query.Get[string, int64](ctx, c, "nope", "a", serde.String()); !errors.As(err, &qe) || qe.Status != 404 || qe.Code != "unknown_store" {
		t.Fatalf("unknown store: %v", err)
	}

	id, _, err := query.Get[int64, string](ctx, c, "byid", 42, serde.Int64())
	if err != nil || id != "id-42" {
		t.Fatalf("int key: %q, %v", id, err)
	}

	seen := map[string]int{}
	for kv, err := range query.Range[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", nil, nil, query.PageSize(9)) {
		if err != nil {
			t.Fatal(err)
		}
		seen[kv.Key]++
		if kv.Value.Value != w.counts[kv.Key] {
			t.Fatalf("range: %s = %d", kv.Key, kv.Value.Value)
		}
	}
	if len(seen) != len(w.counts) {
		t.Fatalf("range visited %d keys, want %d", len(seen), len(w.counts))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("range visited %s %d times", k, n)
		}
	}
	from, to := "k010", "k019"
	n := 0
	for _, err := range query.Range[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", &from, &to, query.PageSize(3)) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 10 {
		t.Fatalf("bounded range: %d keys", n)
	}

	k3 := w.keyOn(3)
	ws, meta, err := query.Windows[string, int64](ctx, c, "windows", k3, serde.String(), 0, math.MaxInt64)
	if err != nil || len(ws) != 3 || ws[2].Start != 120_000 || ws[2].End != 180_000 || ws[2].Value != w.counts[k3]*10+2 || ws[0].Key != k3 || meta.Truncated {
		t.Fatalf("windows: %+v %+v %v", ws, meta, err)
	}
	ss, _, err := query.Sessions[string, int64](ctx, c, "sessions", k3, serde.String(), 0, math.MaxInt64)
	if err != nil || len(ss) != 1 || ss[0].Start != 100 || ss[0].End != 200 || ss[0].Value != w.counts[k3] {
		t.Fatalf("sessions: %+v %v", ss, err)
	}
}

func TestClientRetriesUnavailable(t *testing.T) {
	w := newWrapped(t)
	ctx := t.Context()
	c, err := query.NewClient([]string{w.epB}, query.ClientOptions{MaxRetryWait: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k0 := w.keyOn(0)
	w.a.setStatus(task(0), query.TaskStatus{Restoring: true})
	var unavailable atomic.Int64
	// After A answered 503 twice, the task finishes restoring.
	setMW(&w.mwA, func(rw http.ResponseWriter, r *http.Request, h http.Handler) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == 503 && unavailable.Add(1) == 2 {
			w.a.setStatus(task(0), query.TaskStatus{Active: true})
		}
		maps.Copy(rw.Header(), rec.Header())
		rw.WriteHeader(rec.Code)
		_, _ = rw.Write(rec.Body.Bytes())
	})
	v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k0, serde.String())
	if err != nil || v.Value != w.counts[k0] || meta.ServedBy != w.epA {
		t.Fatalf("Get = %+v %+v %v", v, meta, err)
	}
	if unavailable.Load() != 2 {
		t.Fatalf("%d answers were 503, want 2", unavailable.Load())
	}

	// A read that stays unavailable fails after MaxAttempts with the 503.
	w.a.setStatus(task(0), query.TaskStatus{Restoring: true})
	unavailable.Store(100)
	_, _, err = query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k0, serde.String())
	var qe *query.Error
	if !errors.As(err, &qe) || qe.Status != 503 || qe.Code != "restoring" || qe.RetryAfter != time.Second {
		t.Fatalf("err = %v", err)
	}
}

func TestClientHedging(t *testing.T) {
	w := newWrapped(t)
	ctx := t.Context()
	k0 := w.keyOn(0)

	t.Run("slow active, standby answers", func(t *testing.T) {
		c, err := query.NewClient([]string{w.epA}, query.ClientOptions{HedgeDelay: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Metadata(ctx); err != nil {
			t.Fatal(err)
		}
		// A answers key reads only once the client gave up on them.
		setMW(&w.mwA, func(rw http.ResponseWriter, r *http.Request, h http.Handler) {
			if r.URL.Path != "/v1/metadata" {
				<-r.Context().Done()
				return
			}
			h.ServeHTTP(rw, r)
		})
		defer w.mwA.Store(nil)
		v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k0, serde.String())
		if err != nil || !meta.Standby || meta.ServedBy != w.epB || v.Value != w.counts[k0]-1 {
			t.Fatalf("hedged Get = %+v %+v %v", v, meta, err)
		}
	})

	t.Run("standby behind what the client saw", func(t *testing.T) {
		c, err := query.NewClient([]string{w.epA}, query.ClientOptions{HedgeDelay: 5 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		// A first read sees changelog position 10 of partition 0.
		if _, _, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k0, serde.String()); err != nil {
			t.Fatal(err)
		}
		standbyDone := make(chan struct{})
		var once sync.Once
		var standbyStatus atomic.Int64
		setMW(&w.mwB, func(rw http.ResponseWriter, r *http.Request, h http.Handler) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			maps.Copy(rw.Header(), rec.Header())
			rw.WriteHeader(rec.Code)
			_, _ = rw.Write(rec.Body.Bytes())
			if r.URL.Query().Get("allowStandby") == "true" {
				standbyStatus.Store(int64(rec.Code))
				once.Do(func() { close(standbyDone) })
			}
		})
		defer w.mwB.Store(nil)
		// A answers once the standby has.
		setMW(&w.mwA, func(rw http.ResponseWriter, r *http.Request, h http.Handler) {
			if r.URL.Path != "/v1/metadata" {
				select {
				case <-standbyDone:
				case <-r.Context().Done():
					return
				}
			}
			h.ServeHTTP(rw, r)
		})
		defer w.mwA.Store(nil)
		v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, c, "counts", k0, serde.String())
		if err != nil || meta.Standby || meta.ServedBy != w.epA || v.Value != w.counts[k0] {
			t.Fatalf("hedged Get = %+v %+v %v", v, meta, err)
		}
		if standbyStatus.Load() != 503 {
			t.Fatalf("the standby answered %d, want 503 (behind)", standbyStatus.Load())
		}
	})
}

func TestClientContext(t *testing.T) {
	w := newWrapped(t)
	c, err := query.NewClient([]string{w.epA}, query.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.a.setState("REBALANCING")
	w.b.setState("REBALANCING")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, _, err := query.Get[string, int64](ctx, c, "counts", "k001", serde.String()); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if _, err := query.NewClient(nil, query.ClientOptions{}); err == nil {
		t.Fatal("NewClient without endpoints")
	}
	if _, err := query.NewClient([]string{"http://x:1"}, query.ClientOptions{}); err == nil {
		t.Fatal("NewClient with a URL")
	}
}
