package query_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/query"
)

func TestGetLocalAndForwarded(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	for _, k := range slices.Sorted(maps.Keys(c.counts)) {
		p := partitionOf([]byte(k))
		owner := c.a.endpoint
		if p >= 2 {
			owner = c.b.endpoint
		}
		for _, base := range []string{c.srvA.URL, c.srvB.URL} {
			a := get(t, base, "/v1/stores/counts/keys/"+k)
			a.expect(t, http.StatusOK, "")
			want := fmt.Sprintf(`{"store":"counts","key":%q,"partition":%d,"position":{"app-counts-changelog/%d":%d,"input/%d":%d},"servedBy":%q,"value":{"value":%d,"timestamp":%d}}`+"\n",
				k, p, p, 10+p, p, 100+p, owner, c.counts[k], 1000+c.counts[k])
			if a.raw != want {
				t.Fatalf("GET %s via %s:\n got %s\nwant %s", k, base, a.raw, want)
			}
		}
	}
}

func TestGetErrors(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	k0 := c.keyOn(0)
	for _, tc := range []struct {
		name, path string
		status     int
		code, msg  string
	}{
		{"unknown store", "/v1/stores/nope/keys/a", 404, "unknown_store", `unknown store "nope"`},
		{"absent key", "/v1/stores/counts/keys/zzz", 404, "key_not_found", `key "zzz" not found in store "counts"`},
		{"bad int key", "/v1/stores/byid/keys/abc", 400, "bad_request", `key "abc" is not a JSON int64: invalid character`},
		{"fraction key", "/v1/stores/byid/keys/1.5", 400, "bad_request", `key "1.5" is not a JSON int64`},
		{"unknown parameter", "/v1/stores/counts/keys/" + k0 + "?minposition=x/0:1", 400, "bad_request", `unknown parameter "minposition"`},
		{"bad minPosition", "/v1/stores/counts/keys/" + k0 + "?minPosition=input:1", 400, "bad_request", `minPosition: entry "input:1" is not topic/partition:offset`},
		{"bad minPosition offset", "/v1/stores/counts/keys/" + k0 + "?minPosition=input/0:x", 400, "bad_request", `offset "x" is not an offset`},
		{"bad allowStandby", "/v1/stores/counts/keys/" + k0 + "?allowStandby=maybe", 400, "bad_request", `allowStandby "maybe" is not a boolean`},
		{"repeated parameter", "/v1/stores/counts/keys/" + k0 + "?allowStandby=1&allowStandby=0", 400, "bad_request", `parameter "allowStandby" is given 2 times`},
		{"window read of a key-value store", "/v1/stores/counts/windows/" + k0, 400, "wrong_kind", `store "counts" is a keyvalue store, not a window store`},
		{"key read of a window store", "/v1/stores/windows/keys/" + k0, 400, "wrong_kind", `store "windows" is a window store, not a keyvalue store`},
		{"to before from", "/v1/stores/windows/windows/" + k0 + "?from=10&to=5", 400, "bad_request", `to 5 is before from 10`},
		{"bad time", "/v1/stores/windows/windows/" + k0 + "?from=yesterday", 400, "bad_request", `from "yesterday" is neither milliseconds`},
		{"bad limit", "/v1/stores/windows/windows/" + k0 + "?limit=0", 400, "bad_request", `limit "0" is not a positive number`},
		{"limit too large", "/v1/stores/counts/range?limit=5000", 400, "bad_request", `limit 5000 is more than the limit MaxPageSize = 1000`},
		{"range of unknown store", "/v1/stores/nope/range", 404, "unknown_store", `unknown store "nope"`},
		{"range from after to", "/v1/stores/counts/range?from=b&to=a", 400, "bad_request", `from is after to`},
		{"bad token", "/v1/stores/counts/range?token=!!", 400, "bad_request", `token is not base64url`},
		{"garbage token", "/v1/stores/counts/range?token=" + "eyJ4IjoxfQ", 400, "bad_request", `token is malformed`},
		{"bad partition", "/v1/stores/counts/range?partition=4", 400, "bad_request", `partition "4" is not one of the store's 4 partitions`},
		{"range of a window store", "/v1/stores/windows/range", 400, "wrong_kind", `store "windows" is a window store`},
		{"unknown path", "/v1/nothing", 404, "not_found", `no such path "/v1/nothing"`},
		{"metadata of unknown store", "/v1/metadata/stores/nope/keys/a", 404, "unknown_store", `unknown store "nope"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, c.srvA.URL, tc.path)
			a.expect(t, tc.status, tc.code)
			if msg, _ := a.body["error"].(string); !strings.Contains(msg, tc.msg) {
				t.Fatalf("error %q does not say %q", msg, tc.msg)
			}
		})
	}
	t.Run("absent key still has partition and position", func(t *testing.T) {
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/zzz")
		p := partitionOf([]byte("zzz"))
		if a.body["partition"] != float64(p) || a.body["position"] == nil {
			t.Fatalf("absent key answer: %s", a.raw)
		}
	})
	t.Run("post", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodPost, c.srvA.URL+"/v1/stores/counts/keys/a", strings.NewReader("x"))
		a := do(t, req)
		a.expect(t, http.StatusMethodNotAllowed, "method_not_allowed")
	})
}

func TestUnavailable(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	k0, k2 := c.keyOn(0), c.keyOn(2)

	t.Run("restoring", func(t *testing.T) {
		c.a.setStatus(task(0), query.TaskStatus{Restoring: true})
		defer c.a.setStatus(task(0), query.TaskStatus{Active: true})
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k0)
		a.expect(t, 503, "restoring")
		if a.header.Get("Retry-After") != "1" {
			t.Fatalf("Retry-After %q", a.header.Get("Retry-After"))
		}
		// Through the other instance too: it forwards and relays the 503.
		get(t, c.srvB.URL, "/v1/stores/counts/keys/"+k0).expect(t, 503, "restoring")
		get(t, c.srvA.URL, "/readyz").expect(t, 503, "")
	})
	t.Run("rebalancing", func(t *testing.T) {
		c.a.setState("REBALANCING")
		defer c.a.setState("RUNNING")
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k0)
		a.expect(t, 503, "unavailable")
		if !strings.Contains(a.body["error"].(string), "instance is REBALANCING") {
			t.Fatal(a.raw)
		}
		r := get(t, c.srvA.URL, "/readyz")
		r.expect(t, 503, "")
		if r.body["reason"] != "instance is REBALANCING" {
			t.Fatal(r.raw)
		}
		get(t, c.srvA.URL, "/healthz").expect(t, 200, "")
	})
	t.Run("no owner", func(t *testing.T) {
		c.hostsMu.Lock()
		saved := slices.Clone(c.hosts)
		c.hosts[1].Active = []processor.TaskID{task(3)}
		c.hostsMu.Unlock()
		defer func() { c.hostsMu.Lock(); c.hosts = saved; c.hostsMu.Unlock() }()
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2)
		a.expect(t, 503, "unavailable")
		if !strings.Contains(a.body["error"].(string), "no instance runs task 0_2") {
			t.Fatal(a.raw)
		}
	})
	t.Run("assigned here but not running", func(t *testing.T) {
		c.a.setStatus(task(0), query.TaskStatus{})
		defer c.a.setStatus(task(0), query.TaskStatus{Active: true})
		get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k0).expect(t, 503, "unavailable")
		get(t, c.srvA.URL, "/readyz").expect(t, 503, "")
	})
	t.Run("owner unreachable", func(t *testing.T) {
		c.hostsMu.Lock()
		saved := slices.Clone(c.hosts)
		dead := httptest.NewServer(http.NotFoundHandler())
		deadAddr := dead.Listener.Addr().String()
		dead.Close()
		c.hosts[1].Endpoint = deadAddr
		c.hostsMu.Unlock()
		defer func() { c.hostsMu.Lock(); c.hosts = saved; c.hostsMu.Unlock() }()
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2)
		a.expect(t, 503, "unavailable")
		if !strings.Contains(a.body["error"].(string), "is unreachable") {
			t.Fatal(a.raw)
		}
	})
	t.Run("ready", func(t *testing.T) {
		r := get(t, c.srvA.URL, "/readyz")
		r.expect(t, 200, "")
		if r.body["status"] != "ready" {
			t.Fatal(r.raw)
		}
	})
}

func TestHopLoop(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	k2 := c.keyOn(2)
	// A forwarded request (hop header) for a key A does not hold.
	a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2, query.HopHeader, c.b.endpoint)
	a.expect(t, 503, "loop")

	// X and Y each believe the other runs task 2 (assignments seen at
	// different times): a request goes from X to Y once, and Y answers 503
	// instead of sending it back.
	x := &swapHosts{fakeInst: c.a}
	y := &swapHosts{fakeInst: c.b}
	cx, cy := &countingHandler{h: query.NewHandler(x, query.HandlerOptions{})}, &countingHandler{h: query.NewHandler(y, query.HandlerOptions{})}
	sx, sy := httptest.NewServer(cx), httptest.NewServer(cy)
	defer sx.Close()
	defer sy.Close()
	ex, ey := sx.Listener.Addr().String(), sy.Listener.Addr().String()
	x.ep, y.ep = ex, ey
	x.hosts = []query.Host{{Endpoint: ex}, {Endpoint: ey, Active: []processor.TaskID{task(2)}}}
	y.hosts = []query.Host{{Endpoint: ex, Active: []processor.TaskID{task(2)}}, {Endpoint: ey}}
	c.b.setStatus(task(2), query.TaskStatus{})
	a = get(t, sx.URL, "/v1/stores/counts/keys/"+k2)
	a.expect(t, 503, "loop")
	if cx.n.Load() != 1 || cy.n.Load() != 1 {
		t.Fatalf("X got %d requests and Y %d, want 1 and 1", cx.n.Load(), cy.n.Load())
	}
}

// swapHosts overrides the hosts an instance sees.
type swapHosts struct {
	*fakeInst
	ep    string
	hosts []query.Host
}

func (s *swapHosts) Hosts() []query.Host { return s.hosts }
func (s *swapHosts) Endpoint() string    { return s.ep }

type countingHandler struct {
	h http.Handler
	n atomic.Int64
}

func (c *countingHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	if c.h == nil {
		w.WriteHeader(http.StatusTeapot)
		return
	}
	c.h.ServeHTTP(w, r)
}

// TestForwardOnlyToHosts checks that nothing in a request can make an
// instance call an endpoint that its assignment does not name.
func TestForwardOnlyToHosts(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	evil := &countingHandler{}
	evilSrv := httptest.NewServer(evil)
	defer evilSrv.Close()
	evilEP := evilSrv.Listener.Addr().String()
	k2 := c.keyOn(2)

	for _, tc := range []struct {
		name string
		path string
		hdr  []string
	}{
		{"host header", "/v1/stores/counts/keys/" + k2, []string{"Host", evilEP}},
		{"forwarded headers", "/v1/stores/counts/keys/" + k2, []string{"X-Forwarded-Host", evilEP, "Forwarded", "host=" + evilEP}},
		{"absolute key", "/v1/stores/counts/keys/" + url.PathEscape("http://"+evilEP+"/x"), nil},
		{"range", "/v1/stores/counts/range?limit=1000", []string{"Host", evilEP}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := get(t, c.srvA.URL, tc.path, tc.hdr...)
			if a.status != 200 && a.status != 404 {
				t.Fatalf("status %d: %s", a.status, a.raw)
			}
		})
	}
	get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2+"?endpoint="+evilEP).expect(t, 400, "bad_request")
	if n := evil.n.Load(); n != 0 {
		t.Fatalf("the endpoint outside the assignment got %d requests", n)
	}

	t.Run("malformed endpoint in the assignment", func(t *testing.T) {
		c.hostsMu.Lock()
		saved := slices.Clone(c.hosts)
		c.hosts[1].Endpoint = evilEP + "/x?y=@"
		c.hostsMu.Unlock()
		defer func() { c.hostsMu.Lock(); c.hosts = saved; c.hostsMu.Unlock() }()
		get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2).expect(t, 502, "bad_gateway")
		if n := evil.n.Load(); n != 0 {
			t.Fatalf("a malformed endpoint was called: %d requests", n)
		}
	})

	t.Run("redirects are not followed", func(t *testing.T) {
		redir := httptest.NewServer(http.RedirectHandler(evilSrv.URL+"/v1/stores/counts/keys/"+k2, http.StatusFound))
		defer redir.Close()
		c.hostsMu.Lock()
		saved := slices.Clone(c.hosts)
		c.hosts[1].Endpoint = redir.Listener.Addr().String()
		c.hostsMu.Unlock()
		defer func() { c.hostsMu.Lock(); c.hosts = saved; c.hostsMu.Unlock() }()
		a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k2)
		a.expect(t, 502, "bad_gateway")
		if a.header.Get("Location") != "" {
			t.Fatal("the redirect reached the client")
		}
		if n := evil.n.Load(); n != 0 {
			t.Fatalf("a redirect was followed: %d requests", n)
		}
	})
}

func TestMinPosition(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	k0 := c.keyOn(0)
	path := "/v1/stores/counts/keys/" + k0 + "?minPosition="
	for _, tc := range []struct {
		min    string
		status int
		code   string
	}{
		{"input/0:100", 200, ""},
		{"input/0:101", 503, "behind"},
		{"app-counts-changelog/0:10", 200, ""},
		{"app-counts-changelog/0:11", 503, "behind"},
		{"input/1:999,input/3:999", 200, ""}, // other partitions do not apply
		{"other/0:1", 503, "behind"},         // a topic-partition the state has no position for
		{"input/0:50,app-counts-changelog/0:10", 200, ""},
	} {
		t.Run(tc.min, func(t *testing.T) {
			for _, base := range []string{c.srvA.URL, c.srvB.URL} { // local, and forwarded
				get(t, base, path+url.QueryEscape(tc.min)).expect(t, tc.status, tc.code)
			}
		})
	}
	// The state catches up: the same request succeeds.
	c.a.setPos(task(0), map[string]int64{"input/0": 101, "app-counts-changelog/0": 11})
	get(t, c.srvA.URL, path+"input/0:101").expect(t, 200, "")
}

func TestStandbyRead(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	k0 := c.keyOn(0)
	// B keeps a standby of partition 0: without allowStandby it forwards to
	// A, with it it reads its own copy (one update behind).
	a := get(t, c.srvB.URL, "/v1/stores/counts/keys/"+k0)
	a.expect(t, 200, "")
	if a.body["servedBy"] != c.a.endpoint || a.body["standby"] != nil {
		t.Fatal(a.raw)
	}
	a = get(t, c.srvB.URL, "/v1/stores/counts/keys/"+k0+"?allowStandby=true")
	a.expect(t, 200, "")
	v := a.body["value"].(map[string]any)["value"].(float64)
	if a.body["servedBy"] != c.b.endpoint || a.body["standby"] != true || int64(v) != c.counts[k0]-1 {
		t.Fatal(a.raw)
	}
	// A standby behind the requested changelog position answers 503.
	get(t, c.srvB.URL, "/v1/stores/counts/keys/"+k0+"?allowStandby=true&minPosition=app-counts-changelog/0:10").expect(t, 503, "behind")
	get(t, c.srvB.URL, "/v1/stores/counts/keys/"+k0+"?allowStandby=true&minPosition=app-counts-changelog/0:9").expect(t, 200, "")
	// With no active owner, allowStandby reads go to a standby.
	c.hostsMu.Lock()
	c.hosts[0].Active = []processor.TaskID{task(1)}
	c.hostsMu.Unlock()
	c.a.setStatus(task(0), query.TaskStatus{})
	get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k0).expect(t, 503, "unavailable")
	a = get(t, c.srvA.URL, "/v1/stores/counts/keys/"+k0+"?allowStandby=1")
	a.expect(t, 200, "")
	if a.body["servedBy"] != c.b.endpoint || a.body["standby"] != true {
		t.Fatal(a.raw)
	}
}

// scan pages through a range and returns the keys and values seen, in
// order, and the number of pages.
func scan(t *testing.T, base, query string) ([]string, map[string]float64, int) {
	t.Helper()
	var keys []string
	vals := map[string]float64{}
	pages := 0
	q := query
	for {
		a := get(t, base, "/v1/stores/counts/range?"+q)
		a.expect(t, 200, "")
		pages++
		for _, e := range a.body["entries"].([]any) {
			m := e.(map[string]any)
			k := m["key"].(string)
			keys = append(keys, k)
			vals[k] = m["value"].(map[string]any)["value"].(float64)
			if int32(m["partition"].(float64)) != partitionOf([]byte(k)) {
				t.Fatalf("key %s reported in partition %v", k, m["partition"])
			}
		}
		next, _ := a.body["next"].(string)
		if next == "" {
			return keys, vals, pages
		}
		if pages > 1000 {
			t.Fatal("too many pages")
		}
		q = "token=" + url.QueryEscape(next)
		if strings.Contains(query, "limit=") {
			q += "&" + query[strings.Index(query, "limit="):]
		}
	}
}

func TestRangePagination(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{DefaultPageSize: 13})
	all := slices.Sorted(maps.Keys(c.counts))
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"default page", "", all},
		{"page of 1", "limit=1", all},
		{"page of 7", "limit=7", all},
		{"page of 50", "limit=50", all},
		{"one page", "limit=1000", all},
		{"bounded", "from=k050&to=k099&limit=7", all[50:100]},
		{"open to", "from=k190&limit=3", all[190:]},
		{"open from", "to=k009&limit=4", all[:10]},
		{"empty", "from=x&limit=4", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, base := range []string{c.srvA.URL, c.srvB.URL} {
				keys, vals, _ := scan(t, base, tc.query)
				seen := map[string]int{}
				for _, k := range keys {
					seen[k]++
				}
				for k, n := range seen {
					if n != 1 {
						t.Fatalf("key %s visited %d times", k, n)
					}
				}
				if got := slices.Sorted(maps.Keys(seen)); !slices.Equal(got, tc.want) {
					t.Fatalf("visited %d keys, want %d: %v", len(got), len(tc.want), got)
				}
				for k, v := range vals {
					if int64(v) != c.counts[k] {
						t.Fatalf("key %s = %v, want %d", k, v, c.counts[k])
					}
				}
			}
		})
	}
	t.Run("single partition", func(t *testing.T) {
		keys, _, pages := scan(t, c.srvA.URL, "partition=3&limit=5")
		var want []string
		for _, k := range all {
			if partitionOf([]byte(k)) == 3 {
				want = append(want, k)
			}
		}
		if !slices.Equal(keys, want) {
			t.Fatalf("partition 3: %v, want %v", keys, want)
		}
		if pages != (len(want)+4)/5 && pages != (len(want)+4)/5+1 {
			t.Fatalf("%d pages for %d keys", pages, len(want))
		}
	})
	t.Run("token for another store", func(t *testing.T) {
		a := get(t, c.srvA.URL, "/v1/stores/counts/range?limit=1")
		next := a.body["next"].(string)
		get(t, c.srvA.URL, "/v1/stores/byid/range?token="+next).expect(t, 400, "bad_request")
		get(t, c.srvA.URL, "/v1/stores/counts/range?from=a&token="+next).expect(t, 400, "bad_request")
	})
	t.Run("partition unavailable mid-scan", func(t *testing.T) {
		c.b.setStatus(task(2), query.TaskStatus{Restoring: true})
		defer c.b.setStatus(task(2), query.TaskStatus{Active: true})
		a := get(t, c.srvA.URL, "/v1/stores/counts/range?limit=1000")
		a.expect(t, 200, "")
		n := 0
		for _, e := range a.body["entries"].([]any) {
			if p := e.(map[string]any)["partition"].(float64); p >= 2 {
				t.Fatalf("entry of partition %v", p)
			}
			n++
		}
		if n == 0 || a.body["next"] == nil {
			t.Fatalf("want the entries of partitions 0 and 1 and a continuation: %s", a.raw)
		}
		get(t, c.srvA.URL, "/v1/stores/counts/range?limit=1000&token="+a.body["next"].(string)).expect(t, 503, "restoring")
	})
}

func TestWindowsAndSessions(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	for _, p := range []int32{0, 3} {
		k := c.keyOn(p)
		n := c.counts[k]
		for _, base := range []string{c.srvA.URL, c.srvB.URL} {
			a := get(t, base, "/v1/stores/windows/windows/"+k+"?from=60000&to=1970-01-01T00:02:00Z")
			a.expect(t, 200, "")
			want := fmt.Sprintf(`[{"end":120000,"start":60000,"value":%d},{"end":180000,"start":120000,"value":%d}]`, n*10+1, n*10+2)
			if got, _ := json.Marshal(a.body["windows"]); string(got) != want || a.body["truncated"] != false {
				t.Fatalf("windows of %s: %s, want %s", k, a.raw, want)
			}
			a = get(t, base, "/v1/stores/windows/windows/"+k+"?limit=1")
			if len(a.body["windows"].([]any)) != 1 || a.body["truncated"] != true {
				t.Fatalf("limit 1: %s", a.raw)
			}
			a = get(t, base, "/v1/stores/sessions/sessions/"+k)
			a.expect(t, 200, "")
			if got, _ := json.Marshal(a.body["sessions"]); string(got) != fmt.Sprintf(`[{"end":200,"start":100,"value":%d}]`, n) {
				t.Fatalf("sessions of %s: %s", k, a.raw)
			}
			a = get(t, base, "/v1/stores/sessions/sessions/"+k+"?from=201")
			if got, _ := json.Marshal(a.body["sessions"]); string(got) != `[]` {
				t.Fatalf("sessions ending after 201: %s", a.raw)
			}
		}
	}
}

func TestMetadata(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	a := get(t, c.srvB.URL, "/v1/metadata")
	a.expect(t, 200, "")
	var md query.Metadata
	if err := json.Unmarshal([]byte(a.raw), &md); err != nil {
		t.Fatal(err)
	}
	if md.ApplicationID != "app" || md.Endpoint != c.b.endpoint || md.State != "RUNNING" || len(md.Instances) != 2 || len(md.Stores) != 4 {
		t.Fatalf("metadata: %s", a.raw)
	}
	for _, in := range md.Instances {
		want := []query.Task{{0, 0}, {0, 1}}
		if in.Endpoint == c.b.endpoint {
			want = []query.Task{{0, 2}, {0, 3}}
		}
		if !slices.Equal(in.Active, want) {
			t.Fatalf("instance %s active %v, want %v", in.Endpoint, in.Active, want)
		}
	}
	if s := md.Stores[1]; s.Name != "counts" || s.Kind != "keyvalue" || s.Partitions != 4 || s.Changelog != "app-counts-changelog" {
		t.Fatalf("store: %+v", s)
	}

	k := c.keyOn(2)
	a = get(t, c.srvA.URL, "/v1/metadata/stores/counts/keys/"+k)
	want := fmt.Sprintf(`{"store":"counts","key":%q,"partition":2,"task":{"subTopology":0,"partition":2},"active":%q,"standbys":[%q]}`+"\n", k, c.b.endpoint, c.a.endpoint)
	if a.raw != want {
		t.Fatalf("key metadata:\n got %s\nwant %s", a.raw, want)
	}
	a = get(t, c.srvA.URL, "/v1/stores")
	if !strings.Contains(a.raw, `{"name":"windows","kind":"window","subTopology":0,"partitions":4,"changelog":"app-windows-changelog"}`) {
		t.Fatal(a.raw)
	}
	a = get(t, c.srvA.URL, "/v1/topology")
	if a.status != 200 || !strings.HasPrefix(a.raw, "Topologies:") {
		t.Fatal(a.raw)
	}
}

func TestKeysWithSlashesAndJSON(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	for id := range int64(50) {
		for _, base := range []string{c.srvA.URL, c.srvB.URL} {
			a := get(t, base, fmt.Sprintf("/v1/stores/byid/keys/%d", id))
			a.expect(t, 200, "")
			if a.body["key"] != float64(id) || a.body["value"] != fmt.Sprintf("id-%d", id) {
				t.Fatal(a.raw)
			}
		}
	}
	// The empty key has no path: the path does not match.
	get(t, c.srvA.URL, "/v1/stores/counts/keys/").expect(t, 404, "not_found")
	// A string key with a slash and spaces, escaped in the path: absent, but
	// parsed whole.
	a := get(t, c.srvA.URL, "/v1/stores/counts/keys/"+url.PathEscape("a/b c"))
	a.expect(t, 404, "key_not_found")
	if a.body["key"] != "a/b c" {
		t.Fatal(a.raw)
	}
}

// TestConcurrent runs many reads of every kind at once (for the race
// detector) and checks every answer.
func TestConcurrent(t *testing.T) {
	c := newFakeCluster(t, query.HandlerOptions{})
	keys := slices.Sorted(maps.Keys(c.counts))
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				k := keys[(g*40+i)%len(keys)]
				base := c.srvA.URL
				if i%2 == 1 {
					base = c.srvB.URL
				}
				resp, err := http.Get(base + "/v1/stores/counts/keys/" + k)
				if err != nil {
					errs <- err
					return
				}
				var body struct {
					Value struct{ Value int64 }
				}
				err = json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != 200 || body.Value.Value != c.counts[k] {
					errs <- fmt.Errorf("key %s: status %d value %d err %v", k, resp.StatusCode, body.Value.Value, err)
					return
				}
				if i%10 == 0 {
					resp, err := http.Get(base + "/v1/stores/counts/range?limit=17")
					if err != nil {
						errs <- err
						return
					}
					resp.Body.Close()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
