package streams_test

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/kafkatest"
)

const crashKeys = 40

// startInstances starts n instances of the counting application as child
// processes and waits until each is running.
func startInstance(t *testing.T, app, brokers, dir, guarantee string, env ...string) *kafkatest.Process {
	env = append(env, "STREAMS_TEST_INSTANCE=1", "STREAMS_TEST_APP="+app, "STREAMS_TEST_BROKERS="+brokers,
		"STREAMS_TEST_STATE_DIR="+dir, "STREAMS_TEST_GUARANTEE="+guarantee)
	return kafkatest.Start(t, env...)
}

// waitStable waits until every instance's last state is RUNNING and stays
// so for settle.
func waitStable(t *testing.T, ps []*kafkatest.Process, settle, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	stableSince := time.Time{}
	for time.Now().Before(deadline) {
		all := true
		for _, p := range ps {
			lines := p.Lines()
			last := ""
			for i := len(lines) - 1; i >= 0; i-- {
				if strings.HasPrefix(lines[i], "state ") {
					last = lines[i]
					break
				}
			}
			if last != "state RUNNING" {
				all = false
			}
		}
		switch {
		case !all:
			stableSince = time.Time{}
		case stableSince.IsZero():
			stableSince = time.Now()
		case time.Since(stableSince) >= settle:
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	for i, p := range ps {
		t.Logf("instance %d output:\n%s", i, strings.Join(p.Lines(), "\n"))
	}
	t.Fatalf("instances not stable within %v", timeout)
}

func runCrash(t *testing.T, guarantee string) {
	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	app := "crash-" + guarantee
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}
	ps := make([]*kafkatest.Process, 3)
	for i := range ps {
		ps[i] = startInstance(t, app, brokers, dirs[i], guarantee)
	}
	waitStable(t, ps, time.Second, 60*time.Second)
	var outRecs []*kgo.Record
	want := map[string]int64{}
	defer func() {
		if !t.Failed() {
			return
		}
		for i, p := range ps {
			t.Logf("instance %d output:\n%s", i, strings.Join(p.Lines(), "\n"))
		}
		var k string
		for key := range want {
			k = key
			break
		}
		var lines []string
		for _, r := range outRecs {
			if string(r.Key) == k {
				lines = append(lines, fmt.Sprintf("%d@%d/%d pid=%d epoch=%d ts=%d", binary.BigEndian.Uint64(r.Value), r.Partition, r.Offset, r.ProducerID, r.ProducerEpoch, r.Timestamp.UnixMilli()))
			}
		}
		t.Logf("outputs of key %s:\n%s", k, strings.Join(lines, "\n"))
		t.Logf("diagnosis:\n%s", kafkatest.Diagnose(c.ListenAddrs(), app, "input", "output", app+"-counts-changelog"))
	}()

	// Produce in the background while an instance crashes and comes back.
	const total = 12000
	var wg sync.WaitGroup
	var mu sync.Mutex
	produced := 0
	wg.Go(func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
		if err != nil {
			t.Error(err)
			return
		}
		defer cl.Close()
		for i := 0; i < total; i += 200 {
			var recs []*kgo.Record
			for j := i; j < i+200; j++ {
				k := fmt.Sprintf("k%02d", j%crashKeys)
				recs = append(recs, &kgo.Record{Topic: "input", Key: []byte(k), Value: []byte(fmt.Sprint(j))})
			}
			if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			produced += len(recs)
			for _, r := range recs {
				want[string(r.Key)]++
			}
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
		}
	})
	for {
		mu.Lock()
		n := produced
		mu.Unlock()
		if n >= total/3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	ps[1].Kill()
	ps[1] = startInstance(t, app, brokers, dirs[1], guarantee)
	wg.Wait()
	waitStable(t, ps, time.Second, 60*time.Second)
	// Count what the input topic holds: the producer's retries under load
	// may write a batch twice, which is not the application's doing.
	want = map[string]int64{}
	for _, r := range kafkatest.ReadAll(t, c.ListenAddrs(), "input", total, 500*time.Millisecond) {
		want[string(r.Key)]++
	}

	counts := map[string][]int64{}
	kafkatest.ReadUntil(t, c.ListenAddrs(), "output", 90*time.Second, func(rs []*kgo.Record) bool {
		outRecs = rs
		counts = map[string][]int64{}
		for _, r := range rs {
			counts[string(r.Key)] = append(counts[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
		}
		for k, n := range want {
			seq := counts[k]
			if len(seq) == 0 || seq[len(seq)-1] < n {
				return false
			}
		}
		return true
	})
	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
	for i, p := range ps {
		for _, l := range p.Lines() {
			if strings.Contains(l, "below the partition's processed position") {
				t.Logf("instance %d skipped a record a stale rewind delivered again: %s", i, l)
			}
		}
	}
	for k, n := range want {
		seq := counts[k]
		if guarantee == "eos" {
			// Exactly once: every count from 1 to n, once, in order.
			ok := len(seq) == int(n)
			for i := 0; ok && i < len(seq); i++ {
				ok = seq[i] == int64(i+1)
			}
			if !ok {
				t.Errorf("key %s: %d outputs, want 1..%d exactly; got %v", k, len(seq), n, seq)
			}
			continue
		}
		// At least once: nothing lost (every count up to n appears).
		seen := map[int64]bool{}
		for _, v := range seq {
			seen[v] = true
		}
		for i := int64(1); i <= n; i++ {
			if !seen[i] {
				t.Errorf("key %s: count %d missing from %v", k, i, seq)
				break
			}
		}
	}
	if guarantee == "eos" {
		// The store's changelog ends with the exact counts.
		final := map[string]int64{}
		kafkatest.ReadUntil(t, c.ListenAddrs(), app+"-counts-changelog", 30*time.Second, func(rs []*kgo.Record) bool {
			for _, r := range rs {
				final[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
			}
			for k, n := range want {
				if final[k] != n {
					return false
				}
			}
			return true
		})
	}
}

func TestCrashExactlyOnce(t *testing.T) { runCrash(t, "eos") }

func TestCrashAtLeastOnce(t *testing.T) { runCrash(t, "alos") }
