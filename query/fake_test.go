package query_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// fakeInst is an Instance over an in-memory state DB, with a settable
// state, assignment and task statuses.
type fakeInst struct {
	mu       sync.Mutex
	app      string
	endpoint string
	state    string
	infos    []query.StoreInfo
	builders map[string]state.Builder
	hosts    *[]query.Host // shared by the instances of a fake cluster
	hostsMu  *sync.Mutex
	status   map[processor.TaskID]query.TaskStatus
	pos      map[processor.TaskID]map[string]int64
	db       *state.DB
	opens    atomic.Int64
}

func (f *fakeInst) ApplicationID() string { return f.app }
func (f *fakeInst) Endpoint() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endpoint
}
func (f *fakeInst) State() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}
func (f *fakeInst) Describe() string          { return "Topologies:\n   Sub-topology: 0\n" }
func (f *fakeInst) Stores() []query.StoreInfo { return slices.Clone(f.infos) }
func (f *fakeInst) Hosts() []query.Host {
	f.hostsMu.Lock()
	defer f.hostsMu.Unlock()
	return slices.Clone(*f.hosts)
}
func (f *fakeInst) Status(t processor.TaskID) query.TaskStatus {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.Partition < 0 {
		return query.TaskStatus{Active: true}
	}
	return f.status[t]
}
func (f *fakeInst) setStatus(t processor.TaskID, st query.TaskStatus) {
	f.mu.Lock()
	f.status[t] = st
	f.mu.Unlock()
}
func (f *fakeInst) setState(s string) {
	f.mu.Lock()
	f.state = s
	f.mu.Unlock()
}
func (f *fakeInst) setPos(t processor.TaskID, pos map[string]int64) {
	f.mu.Lock()
	f.pos[t] = pos
	f.mu.Unlock()
}

func (f *fakeInst) Open(store string, t processor.TaskID) (state.Store, map[string]int64, error) {
	f.opens.Add(1)
	b, ok := f.builders[store]
	if !ok {
		return nil, nil, fmt.Errorf("%q: %w", store, query.ErrUnknownStore)
	}
	st := f.Status(t)
	if !st.Active && !st.Standby {
		return nil, nil, fmt.Errorf("task %s: %w", t, query.ErrNotLocal)
	}
	s, err := b.(state.ReadOnlyBuilder).BuildReadOnly(f.db.Committed(t, store))
	if err != nil {
		return nil, nil, err
	}
	f.mu.Lock()
	pos := maps.Clone(f.pos[t])
	f.mu.Unlock()
	return s, pos, nil
}

const (
	fakePartitions = 4
	fakeApp        = "app"
)

func task(p int32) processor.TaskID { return processor.TaskID{SubTopology: 0, Partition: p} }

func partitionOf(key []byte) int32 { return murmur2.Partition(key, fakePartitions) }

// fakeCluster is two instances: a runs partitions 0 and 1 and keeps a
// standby of 2; b runs 2 and 3 and keeps a standby of 0.
type fakeCluster struct {
	a, b       *fakeInst
	srvA, srvB *httptest.Server
	hosts      []query.Host
	hostsMu    sync.Mutex
	// counts are the values of store "counts" (active copies).
	counts map[string]int64
}

func counts() map[string]int64 {
	out := map[string]int64{}
	for i := range 200 {
		out[fmt.Sprintf("k%03d", i)] = int64(i*7 + 1)
	}
	return out
}

func newFakeCluster(t testing.TB, opts query.HandlerOptions) *fakeCluster {
	t.Helper()
	c := &fakeCluster{counts: counts()}
	builders := map[string]state.Builder{
		"counts":   state.TimestampedKeyValueStoreBuilder("counts", serde.String(), serde.Int64()),
		"byid":     state.KeyValueStoreBuilder("byid", serde.Int64(), serde.String()),
		"windows":  state.WindowStoreBuilder("windows", serde.String(), serde.Int64(), time.Hour, time.Minute, false),
		"sessions": state.SessionStoreBuilder("sessions", serde.String(), serde.Int64(), time.Hour),
	}
	var infos []query.StoreInfo
	for _, name := range []string{"byid", "counts", "sessions", "windows"} {
		b := builders[name]
		infos = append(infos, query.StoreInfo{Name: name, Kind: b.(interface{ Kind() string }).Kind(), SubTopology: 0,
			Partitions: fakePartitions, Keys: b.(state.KeyParser), Changelog: fakeApp + "-" + name + "-changelog"})
	}
	mk := func(active, standby []int32) (*fakeInst, *httptest.Server) {
		f := &fakeInst{app: fakeApp, state: "RUNNING", infos: infos, builders: builders, hosts: &c.hosts, hostsMu: &c.hostsMu,
			status: map[processor.TaskID]query.TaskStatus{}, pos: map[processor.TaskID]map[string]int64{}, db: state.OpenMemory()}
		t.Cleanup(func() { f.db.Close() })
		for _, p := range active {
			f.status[task(p)] = query.TaskStatus{Active: true}
			f.pos[task(p)] = map[string]int64{fmt.Sprintf("input/%d", p): 100 + int64(p), fmt.Sprintf("app-counts-changelog/%d", p): 10 + int64(p)}
			c.fill(t, f, p, 0)
		}
		for _, p := range standby {
			f.status[task(p)] = query.TaskStatus{Standby: true}
			// The standby copy is one update behind.
			f.pos[task(p)] = map[string]int64{fmt.Sprintf("app-counts-changelog/%d", p): 9 + int64(p)}
			c.fill(t, f, p, -1)
		}
		srv := httptest.NewUnstartedServer(query.NewHandler(f, opts))
		f.endpoint = srv.Listener.Addr().String()
		srv.Start()
		t.Cleanup(srv.Close)
		return f, srv
	}
	c.a, c.srvA = mk([]int32{0, 1}, []int32{2})
	c.b, c.srvB = mk([]int32{2, 3}, []int32{0})
	c.hosts = []query.Host{
		{Endpoint: c.a.endpoint, Active: []processor.TaskID{task(0), task(1)}, Standby: []processor.TaskID{task(2)}},
		{Endpoint: c.b.endpoint, Active: []processor.TaskID{task(2), task(3)}, Standby: []processor.TaskID{task(0)}},
	}
	return c
}

// fill writes the data of partition p into f's state, each count plus
// delta.
func (c *fakeCluster) fill(t testing.TB, f *fakeInst, p int32, delta int64) {
	t.Helper()
	ts, err := f.db.Task(task(p))
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	build := func(name string) state.Store {
		s, err := f.builders[name].Build(state.Env{Task: task(p), State: ts})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	cs := build("counts").(*state.KeyValueStore[string, state.ValueAndTimestamp[int64]])
	ws := build("windows").(*state.WindowStore[string, int64])
	ss := build("sessions").(*state.SessionStore[string, int64])
	ids := build("byid").(*state.KeyValueStore[int64, string])
	for k, n := range c.counts {
		if partitionOf([]byte(k)) != p {
			continue
		}
		must(t, cs.Put(k, state.ValueAndTimestamp[int64]{Value: n + delta, Timestamp: 1000 + n}))
		for w := range int64(3) {
			must(t, ws.Put(k, n*10+w+delta, w*60_000))
		}
		must(t, ss.Put(k, 100, 200, n+delta))
	}
	for id := range int64(50) {
		kb, _ := serde.Int64().Serialize(id)
		if partitionOf(kb) == p {
			must(t, ids.Put(id, fmt.Sprintf("id-%d", id+delta)))
		}
	}
	for _, s := range []state.Store{cs, ws, ss, ids} {
		must(t, s.Flush())
	}
	must(t, ts.Commit())
	for _, s := range []state.Store{cs, ws, ss, ids} {
		s.Close()
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// keyOn returns a key of "counts" in partition p.
func (c *fakeCluster) keyOn(p int32) string {
	keys := slices.Sorted(maps.Keys(c.counts))
	for _, k := range keys {
		if partitionOf([]byte(k)) == p {
			return k
		}
	}
	panic("no key")
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

func get(t *testing.T, base, path string, hdr ...string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return do(t, req)
}

func do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(b)}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(b, &a.body); err != nil {
			t.Fatalf("%s: %v: %s", req.URL, err, b)
		}
	}
	return a
}

// expect checks the status and, for errors, the code.
func (a answer) expect(t *testing.T, status int, code string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("status %d, want %d: %s", a.status, status, a.raw)
	}
	if code != "" && a.body["code"] != code {
		t.Fatalf("code %v, want %s: %s", a.body["code"], code, a.raw)
	}
	if status == http.StatusServiceUnavailable && a.header.Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %s", a.raw)
	}
}
