package streams_test

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/query"
)

// TestQueryLoad is a load harness, not a test: with STREAMS_QUERY_LOAD=1 it
// runs two instances (child processes) on an in-process broker, loads 10k
// keys, then has 64 concurrent clients (STREAMS_QUERY_LOAD_CLIENTS) read
// random keys over loopback through one instance for 30 s each
// (STREAMS_QUERY_LOAD_DURATION): keys it holds (local reads), then keys the
// other instance holds (forwarded reads). It logs requests/s and latency
// percentiles.
//
//	STREAMS_QUERY_LOAD=1 go test -run TestQueryLoad -v -timeout 10m .
func TestQueryLoad(t *testing.T) {
	if os.Getenv("STREAMS_QUERY_LOAD") == "" {
		t.Skip("set STREAMS_QUERY_LOAD=1 to run the query load harness")
	}
	duration := 30 * time.Second
	if d, err := time.ParseDuration(os.Getenv("STREAMS_QUERY_LOAD_DURATION")); err == nil {
		duration = d
	}
	clients := 64
	if n, err := strconv.Atoi(os.Getenv("STREAMS_QUERY_LOAD_CLIENTS")); err == nil && n > 0 {
		clients = n
	}

	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	addrs := []string{freeAddr(t), freeAddr(t)}
	ps := []*kafkatest.Process{
		startInstance(t, "query-load", brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+addrs[0]),
		startInstance(t, "query-load", brokers, t.TempDir(), "eos", "STREAMS_TEST_QUERY_ADDR="+addrs[1]),
	}
	waitStable(t, ps, time.Second, 60*time.Second)
	d := newQueryDataSet(10000)
	d.produce(t, c)
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range ps {
				t.Logf("instance %d output:\n%s", i, strings.Join(p.Lines(), "\n"))
			}
		}
	})
	waitCounts(t, addrs[0], d, 120*time.Second)
	waitStable(t, ps, time.Second, 30*time.Second)

	// Split the keys by owner, as instance 0 sees the assignment.
	var md query.Metadata
	if err := json.Unmarshal([]byte(httpGet(t, addrs[0], "/v1/metadata").raw), &md); err != nil {
		t.Fatal(err)
	}
	mine := map[int32]bool{}
	for _, in := range md.Instances {
		if in.Endpoint == addrs[0] {
			for _, tk := range in.Active {
				mine[tk.Partition] = true
			}
		}
	}
	var local, remote []string
	for _, k := range d.keys() {
		if mine[murmur2.Partition([]byte(k), 8)] {
			local = append(local, k)
		} else {
			remote = append(remote, k)
		}
	}
	if len(local) == 0 || len(remote) == 0 {
		t.Fatalf("instance 0 holds %d keys and the other %d", len(local), len(remote))
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: clients * 2, MaxIdleConnsPerHost: clients * 2}}
	for _, phase := range []struct {
		name string
		keys []string
	}{{"local", local}, {"forwarded", remote}} {
		lat := make([][]time.Duration, clients)
		var failures sync.Map
		var wg sync.WaitGroup
		start := time.Now()
		stop := start.Add(duration)
		for g := range clients {
			wg.Go(func() {
				rng := rand.New(rand.NewPCG(uint64(g), 7))
				buf := make([]time.Duration, 0, 1<<16)
				for time.Now().Before(stop) {
					k := phase.keys[rng.IntN(len(phase.keys))]
					t0 := time.Now()
					resp, err := hc.Get("http://" + addrs[0] + "/v1/stores/counts/keys/" + k)
					if err != nil {
						failures.Store(err.Error(), true)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					buf = append(buf, time.Since(t0))
					if resp.StatusCode != http.StatusOK {
						failures.Store(fmt.Sprintf("status %d", resp.StatusCode), true)
					}
				}
				lat[g] = buf
			})
		}
		wg.Wait()
		elapsed := time.Since(start)
		all := slices.Concat(lat...)
		slices.Sort(all)
		pct := func(p float64) time.Duration { return all[min(len(all)-1, int(p*float64(len(all))))] }
		t.Logf("%s reads: %d clients, %d requests in %v: %.0f requests/s; p50 %v p99 %v p99.9 %v max %v",
			phase.name, clients, len(all), elapsed.Round(time.Millisecond), float64(len(all))/elapsed.Seconds(),
			pct(0.50), pct(0.99), pct(0.999), all[len(all)-1])
		failures.Range(func(k, _ any) bool {
			t.Errorf("%s reads: %v", phase.name, k)
			return true
		})
	}
	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
}
