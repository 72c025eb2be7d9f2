package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// restoreLog captures the "restored" log records of an instance.
type restoreLog struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (h *restoreLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *restoreLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *restoreLog) WithGroup(string) slog.Handler            { return h }
func (h *restoreLog) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "restored" {
		return nil
	}
	m := map[string]string{}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}

func runCounting(t *testing.T, brokers []string, app, dir string, logger *slog.Logger) (stop func()) {
	topo, err := countTopology()
	if err != nil {
		t.Fatal(err)
	}
	a, err := streams.New(topo, streams.Config{ApplicationID: app, Brokers: brokers, StateDir: dir, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- a.Run(ctx) }()
	return func() {
		cancel()
		if err := <-errc; err != nil {
			t.Error(err)
		}
	}
}

// TestRestoreOnAnotherInstance counts keys on one instance, stops it, and
// starts another with an empty state directory: it must restore every count
// from the changelog before processing, so that the next record of each key
// counts 2. STREAMS_RESTORE_KEYS sets the number of keys (default 20000);
// the restore rate is logged.
func TestRestoreOnAnotherInstance(t *testing.T) {
	keys := 20000
	if s := os.Getenv("STREAMS_RESTORE_KEYS"); s != "" {
		keys, _ = strconv.Atoi(s)
	}
	c := kafkatest.Cluster(t, 1, "input", "output")
	brokers := c.ListenAddrs()
	produceKeys := func() {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		defer cl.Close()
		var wg sync.WaitGroup
		for i := range keys {
			wg.Add(1)
			cl.Produce(context.Background(), &kgo.Record{Topic: "input", Key: []byte(fmt.Sprintf("key-%08d", i)), Value: []byte("x")},
				func(_ *kgo.Record, err error) {
					if err != nil {
						t.Error(err)
					}
					wg.Done()
				})
		}
		wg.Wait()
	}
	produceKeys()
	stop := runCounting(t, brokers, "restore", t.TempDir(), nil)
	kafkatest.ReadUntil(t, brokers, "output", 300*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= keys })
	stop()

	logs := &restoreLog{}
	stop = runCounting(t, brokers, "restore", t.TempDir(), slog.New(logs))
	produceKeys()
	twos := 0
	kafkatest.ReadUntil(t, brokers, "output", 300*time.Second, func(rs []*kgo.Record) bool {
		twos = 0
		for _, r := range rs[min(len(rs), keys):] {
			if binary.BigEndian.Uint64(r.Value) == 2 {
				twos++
			}
		}
		return len(rs) >= 2*keys
	})
	stop()
	if twos != keys {
		t.Errorf("%d of %d keys counted 2 after the restore", twos, keys)
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.recs) != 1 || logs.recs[0]["records"] != strconv.Itoa(keys) {
		t.Fatalf("restore logs %v, want one restore of %d records", logs.recs, keys)
	}
	t.Logf("restored %s records in %s (%s records/s)", logs.recs[0]["records"], logs.recs[0]["took"], logs.recs[0]["records_per_second"])
}
