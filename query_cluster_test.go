package streams_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
)

// freeAddr returns a loopback address with a port that was free a moment
// ago, for a child instance's query server.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// queryDataSet is the input of the query tests: key i gets i%5+1 records,
// with increasing timestamps, so its count and its latest timestamp are
// known.
type queryDataSet struct {
	recs  []*kgo.Record
	count map[string]int64
	ts    map[string]int64
}

func newQueryDataSet(keys int) queryDataSet {
	d := queryDataSet{count: map[string]int64{}, ts: map[string]int64{}}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	j := 0
	for round := range 5 {
		for i := range keys {
			if i%5 < round {
				continue
			}
			k := fmt.Sprintf("key-%04d", i)
			ts := base.Add(time.Duration(j) * time.Millisecond)
			j++
			d.recs = append(d.recs, &kgo.Record{Topic: "input", Key: []byte(k), Value: []byte("x"), Timestamp: ts})
			d.count[k]++
			d.ts[k] = ts.UnixMilli()
		}
	}
	return d
}

// produce writes the data set. A first part goes alone, and the rest once
// the application committed it: every task then has committed offsets
// before the bulk arrives. (A transaction that aborts before a task's first
// commit can lose the records it read; see the report of this change.)
func (d queryDataSet) produce(t *testing.T, c *kfake.Cluster) {
	t.Helper()
	n := min(len(d.recs), 160)
	kafkatest.Produce(t, c.ListenAddrs(), d.recs[:n]...)
	kafkatest.ReadUntil(t, c.ListenAddrs(), "output", 60*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= n })
	kafkatest.Produce(t, c.ListenAddrs(), d.recs[n:]...)
}

func (d queryDataSet) keys() []string {
	out := make([]string, 0, len(d.count))
	for k := range d.count {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// wantValue is the exact JSON a count store answers for k.
func (d queryDataSet) wantValue(k string) string {
	return fmt.Sprintf(`{"value":%d,"timestamp":%d}`, d.count[k], d.ts[k])
}

type httpAnswer struct {
	status     int
	retryAfter string
	body       map[string]json.RawMessage
	raw        string
}

func httpGet(t testing.TB, addr, path string) httpAnswer {
	t.Helper()
	a, err := tryGet(addr, path)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func tryGet(addr, path string) (httpAnswer, error) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return httpAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	a := httpAnswer{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After"), raw: string(b)}
	_ = json.Unmarshal(b, &a.body)
	return a, err
}

func (a httpAnswer) str(field string) string {
	var s string
	_ = json.Unmarshal(a.body[field], &s)
	return s
}

// waitCounts polls addr until every key reads its final count.
func waitCounts(t *testing.T, addr string, d queryDataSet, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	keys := d.keys()
	for _, k := range keys {
		for {
			a := httpGet(t, addr, "/v1/stores/counts/keys/"+url.PathEscape(k))
			if a.status == http.StatusOK && string(a.body["value"]) == d.wantValue(k) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("key %s through %s: %d %s; want %s", k, addr, a.status, a.raw, d.wantValue(k))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// TestQueryCluster runs three instances with query servers and reads every
// key of a known data set through each of them (locally or forwarded),
// pages through the store, and reads through the Go client.
func TestQueryCluster(t *testing.T) {
	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	const app = "query-cluster"
	addrs := []string{freeAddr(t), freeAddr(t), freeAddr(t)}
	ps := make([]*kafkatest.Process, len(addrs))
	for i, addr := range addrs {
		ps[i] = startInstance(t, app, brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+addr, "STREAMS_TEST_STANDBYS=1")
	}
	waitStable(t, ps, time.Second, 60*time.Second)

	d := newQueryDataSet(300)
	d.produce(t, c)
	waitCounts(t, addrs[0], d, 60*time.Second)
	waitStable(t, ps, 500*time.Millisecond, 30*time.Second)

	t.Run("metadata", func(t *testing.T) {
		a := httpGet(t, addrs[2], "/v1/metadata")
		var md query.Metadata
		if err := json.Unmarshal([]byte(a.raw), &md); err != nil || a.status != 200 {
			t.Fatalf("%d %s: %v", a.status, a.raw, err)
		}
		var eps []string
		parts := map[int32]int{}
		for _, in := range md.Instances {
			eps = append(eps, in.Endpoint)
			for _, tk := range in.Active {
				parts[tk.Partition]++
			}
		}
		slices.Sort(eps)
		want := slices.Sorted(slices.Values(addrs))
		if !slices.Equal(eps, want) || md.State != "RUNNING" || md.ApplicationID != app || md.Endpoint != addrs[2] {
			t.Fatalf("metadata %s, want endpoints %v", a.raw, want)
		}
		for p := range int32(8) {
			if parts[p] != 1 {
				t.Fatalf("partition %d is active on %d instances: %s", p, parts[p], a.raw)
			}
		}
		if s := md.Stores[0]; s.Name != "counts" || s.Kind != "keyvalue" || s.Partitions != 8 || s.Changelog != app+"-counts-changelog" {
			t.Fatalf("store %+v", s)
		}
	})

	t.Run("every key through every instance", func(t *testing.T) {
		forwarded := 0
		for _, k := range d.keys() {
			var served []string
			for _, addr := range addrs {
				a := httpGet(t, addr, "/v1/stores/counts/keys/"+url.PathEscape(k))
				if a.status != 200 || string(a.body["value"]) != d.wantValue(k) || a.str("key") != k {
					t.Fatalf("key %s through %s: %d %s; want value %s", k, addr, a.status, a.raw, d.wantValue(k))
				}
				served = append(served, a.str("servedBy"))
				if a.str("servedBy") != addr {
					forwarded++
				}
			}
			if served[0] != served[1] || served[1] != served[2] {
				t.Fatalf("key %s served by %v", k, served)
			}
		}
		if want := len(d.count) * 2; forwarded != want {
			t.Fatalf("%d reads forwarded, want %d (each key is local on one of three instances)", forwarded, want)
		}
		a := httpGet(t, addrs[1], "/v1/stores/counts/keys/absent-key")
		if a.status != 404 || a.str("code") != "key_not_found" {
			t.Fatalf("absent key: %d %s", a.status, a.raw)
		}
		a = httpGet(t, addrs[1], "/v1/stores/nope/keys/x")
		if a.status != 404 || a.str("code") != "unknown_store" {
			t.Fatalf("unknown store: %d %s", a.status, a.raw)
		}
	})

	t.Run("standby reads", func(t *testing.T) {
		// Every key from the standby copy of its task, once the standby
		// caught up: the same value, and the changelog position of the
		// active copy. (The standby counts the transaction marker after the
		// last changelog record and the active does not: the standby may be
		// one ahead for the same data.)
		deadline := time.Now().Add(30 * time.Second)
		for _, k := range d.keys() {
			var km query.KeyMetadata
			if err := json.Unmarshal([]byte(httpGet(t, addrs[0], "/v1/metadata/stores/counts/keys/"+k).raw), &km); err != nil || len(km.Standbys) != 1 {
				t.Fatalf("key metadata of %s: %+v %v", k, km, err)
			}
			sb := km.Standbys[0]
			active := httpGet(t, km.Active, "/v1/stores/counts/keys/"+k)
			changelog := fmt.Sprintf("%s-counts-changelog/%d", app, km.Partition)
			var activePos map[string]int64
			_ = json.Unmarshal(active.body["position"], &activePos)
			for {
				a := httpGet(t, sb, "/v1/stores/counts/keys/"+k+"?allowStandby=true")
				var pos map[string]int64
				_ = json.Unmarshal(a.body["position"], &pos)
				if a.status == 200 && string(a.body["value"]) == d.wantValue(k) && (pos[changelog] == activePos[changelog] || pos[changelog] == activePos[changelog]+1) {
					if string(a.body["standby"]) != "true" || a.str("servedBy") != sb {
						t.Fatalf("standby read of %s: %s", k, a.raw)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("standby read of %s through %s: %d %s; active: %s", k, sb, a.status, a.raw, active.raw)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	})

	t.Run("paginated range through one instance", func(t *testing.T) {
		seen := map[string]int{}
		token, pages := "", 0
		for {
			path := "/v1/stores/counts/range?limit=17"
			if token != "" {
				path += "&token=" + url.QueryEscape(token)
			}
			a := httpGet(t, addrs[1], path)
			if a.status != 200 {
				t.Fatalf("page %d: %d %s", pages, a.status, a.raw)
			}
			pages++
			var entries []struct {
				Key   string          `json:"key"`
				Value json.RawMessage `json:"value"`
			}
			if err := json.Unmarshal(a.body["entries"], &entries); err != nil {
				t.Fatal(err)
			}
			if len(entries) > 17 {
				t.Fatalf("page of %d entries", len(entries))
			}
			for _, e := range entries {
				seen[e.Key]++
				if string(e.Value) != d.wantValue(e.Key) {
					t.Fatalf("range: %s = %s, want %s", e.Key, e.Value, d.wantValue(e.Key))
				}
			}
			if token = a.str("next"); token == "" {
				break
			}
		}
		if len(seen) != len(d.count) {
			t.Fatalf("range visited %d keys, want %d", len(seen), len(d.count))
		}
		for k, n := range seen {
			if n != 1 {
				t.Fatalf("range visited %s %d times", k, n)
			}
		}
		t.Logf("%d keys in %d pages", len(seen), pages)
	})

	t.Run("client", func(t *testing.T) {
		ctx := t.Context()
		cl, err := query.NewClient(addrs[:1], query.ClientOptions{HedgeDelay: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range d.keys() {
			v, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", k, serde.String())
			if err != nil || v.Value != d.count[k] || v.Timestamp != d.ts[k] {
				t.Fatalf("Get(%s) = %+v, %v; want %d at %d", k, v, err, d.count[k], d.ts[k])
			}
			if !slices.Contains(addrs, meta.ServedBy) || len(meta.Position) == 0 {
				t.Fatalf("Get(%s) meta %+v", k, meta)
			}
		}
		n := 0
		for kv, err := range query.Range[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", nil, nil, query.PageSize(50)) {
			if err != nil {
				t.Fatal(err)
			}
			if kv.Value.Value != d.count[kv.Key] {
				t.Fatalf("Range: %s = %d", kv.Key, kv.Value.Value)
			}
			n++
		}
		if n != len(d.count) {
			t.Fatalf("Range: %d keys, want %d", n, len(d.count))
		}
		md, err := cl.Metadata(ctx)
		if err != nil || len(md.Instances) != 3 {
			t.Fatalf("Metadata: %+v %v", md, err)
		}
		// At-least-this-fresh: a position read before is reached.
		_, meta, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", "key-0001", serde.String())
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := query.Get[string, state.ValueAndTimestamp[int64]](ctx, cl, "counts", "key-0001", serde.String(), query.MinPosition(meta.Position)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("health and metrics", func(t *testing.T) {
		for _, addr := range addrs {
			if a := httpGet(t, addr, "/readyz"); a.status != 200 {
				t.Fatalf("readyz of %s: %d %s", addr, a.status, a.raw)
			}
			if a := httpGet(t, addr, "/healthz"); a.status != 200 {
				t.Fatalf("healthz of %s: %d %s", addr, a.status, a.raw)
			}
			a := httpGet(t, addr, "/metrics")
			if a.status != 200 || !strings.Contains(a.raw, "streams_records_processed_total") {
				t.Fatalf("metrics of %s: %d %.300s", addr, a.status, a.raw)
			}
		}
		a := httpGet(t, addrs[0], "/v1/topology")
		if a.status != 200 || !strings.Contains(a.raw, "Sub-topology: 0") {
			t.Fatalf("topology: %d %s", a.status, a.raw)
		}
	})

	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
}

// holdChangelogFetches makes the broker hold every fetch of topic until
// release is called: an instance restoring from it stays restoring.
func holdChangelogFetches(t *testing.T, c *kfake.Cluster, topic string) (release func()) {
	t.Helper()
	adm := kadm.NewClient(mustClient(t, kgo.SeedBrokers(c.ListenAddrs()...)))
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	tds, err := adm.ListTopics(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	id := tds[topic].ID
	held := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(held) }) }
	t.Cleanup(release)
	c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
		select {
		case <-held:
			return nil, nil, false
		default:
		}
		for _, ft := range req.(*kmsg.FetchRequest).Topics {
			if ft.Topic == topic || ft.TopicID == id {
				c.SleepControl(func() { <-held })
				break
			}
		}
		return nil, nil, false
	})
	return release
}

func mustClient(t *testing.T, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// TestQueryRestoring reads keys from an instance whose tasks are still
// restoring their state from the changelog: 503 with Retry-After, then the
// exact values once restored.
func TestQueryRestoring(t *testing.T) {
	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	const app = "query-restore"
	first := startInstance(t, app, brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+freeAddr(t))
	waitStable(t, []*kafkatest.Process{first}, 500*time.Millisecond, 60*time.Second)
	d := newQueryDataSet(200)
	d.produce(t, c)
	// The counts are in the changelog once the output has them.
	kafkatest.ReadUntil(t, c.ListenAddrs(), "output", 60*time.Second, func(rs []*kgo.Record) bool {
		return len(rs) >= len(d.recs)
	})
	if err := first.Stop(30 * time.Second); err != nil {
		t.Fatal(err)
	}

	// A new instance with empty state restores every task from the
	// changelog, which the broker holds back.
	release := holdChangelogFetches(t, c, app+"-counts-changelog")
	addr := freeAddr(t)
	second := startInstance(t, app, brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+addr)
	deadline := time.Now().Add(60 * time.Second)
	var restoring httpAnswer
	for restoring.status == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no key answered 503 restoring; output:\n%s", strings.Join(second.Lines(), "\n"))
		}
		for _, k := range d.keys() {
			a, err := tryGet(addr, "/v1/stores/counts/keys/"+k)
			if err != nil {
				break // not listening yet
			}
			if a.status == 200 {
				t.Fatalf("key %s answered before its task restored: %s", k, a.raw)
			}
			if a.status == 503 && a.str("code") == "restoring" {
				restoring = a
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if restoring.retryAfter != "1" || !strings.Contains(restoring.str("error"), "is restoring its state") {
		t.Fatalf("restoring answer: Retry-After %q, %s", restoring.retryAfter, restoring.raw)
	}
	if a := httpGet(t, addr, "/readyz"); a.status != 503 || a.retryAfter == "" {
		t.Fatalf("readyz while restoring: %d %s", a.status, a.raw)
	}
	for _, l := range second.Lines() {
		if strings.HasPrefix(l, "restored") {
			t.Fatalf("a task restored while the broker held its changelog: %s", l)
		}
	}
	t.Logf("while restoring: %s", strings.TrimSpace(restoring.raw))
	release()
	waitCounts(t, addr, d, 60*time.Second)
	if a := httpGet(t, addr, "/readyz"); a.status != 200 {
		t.Fatalf("readyz after restoring: %d %s", a.status, a.raw)
	}
	if err := second.Stop(30 * time.Second); err != nil {
		t.Error(err)
	}
}
