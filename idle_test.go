package streams_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// TestTaskWaitsForFetchedLag checks Kafka Streams' default task idling
// (max.task.idle.ms 0): a stream-table join whose table already holds its
// records when the application starts joins every stream record with
// them, even when the table's first fetch comes back after the stream's.
// The table's partition leads on its own broker, and the first fetch of
// it is held back a second (or longer); with MaxTaskIdle -1 the task does not
// wait for it and the stream records find no table values. With small
// queues the stream's queue fills while the task waits, and the thread
// pauses fetching it so that the client hands over the table's records.
func TestTaskWaitsForFetchedLag(t *testing.T) {
	for _, tc := range []struct {
		name string
		idle time.Duration
		// buffered is MaxBufferedRecords: with 10, the stream's queue is
		// full while the task waits for the table, and the thread must
		// still take the table's records from the client.
		buffered int
		// failEnds fails that many requests for the partitions' end
		// offsets (-1: all of them).
		failEnds int
		joined   bool
		// warn is a warning the application must log.
		warn string
		// hold is how long the table's first fetch is held back: longer
		// than the application retries end offsets for when they fail.
		hold time.Duration
		// tableEnd, if set, is the end offset the table's partition is
		// said to have: beyond its records, so that the task waits until
		// its limit.
		tableEnd int64
	}{
		{"default", 0, 0, 0, true, "", time.Second, 0},
		{"full queues", 0, 10, 0, true, "", time.Second, 0},
		{"never idle", -1, 0, 0, false, "", time.Second, 0},
		{"end offsets retried", 0, 0, 2, true, "", time.Second, 0},
		{"end offsets unknown", 0, 0, -1, false, "tasks will not wait for unfetched records of their partitions", 5 * time.Second, 0},
		{"end never reached", 0, 0, 0, true, "processing a task without records its partition holds on the broker", time.Second, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := kfake.NewCluster(kfake.NumBrokers(2), kfake.GroupMinSessionTimeout(100*time.Millisecond),
				kfake.SeedTopics(1, "table", "stream", "joined"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(c.Close)
			brokers := c.ListenAddrs()
			if err := c.MoveTopicPartition("table", 0, 1); err != nil {
				t.Fatal(err)
			}
			if err := c.MoveTopicPartition("stream", 0, 0); err != nil {
				t.Fatal(err)
			}
			var recs []*kgo.Record
			for i := range 5 {
				recs = append(recs, &kgo.Record{Topic: "table", Key: fmt.Appendf(nil, "k%d", i),
					Value: fmt.Appendf(nil, "t%d", i), Timestamp: time.UnixMilli(int64(1000 + i))})
			}
			const streamRecords = 50
			for i := range streamRecords {
				recs = append(recs, &kgo.Record{Topic: "stream", Key: fmt.Appendf(nil, "k%d", i%5),
					Value: fmt.Appendf(nil, "s%02d", i), Timestamp: time.UnixMilli(int64(2000 + i))})
			}
			kafkatest.Produce(t, brokers, recs...)

			// Hold back the first fetch of the table's partition.
			tableID := topicID(t, brokers, "table")
			var held atomic.Bool
			var warnings warnLog
			c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				for _, rt := range req.(*kmsg.FetchRequest).Topics {
					if (rt.Topic == "table" || rt.TopicID == tableID) && held.CompareAndSwap(false, true) {
						c.SleepControl(func() { time.Sleep(tc.hold) })
					}
				}
				return nil, nil, false
			})

			// Fail requests for the inputs' end offsets (only the
			// application asks for them; its consumer starts from the
			// earliest offsets).
			var failed atomic.Int32
			c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				lreq := req.(*kmsg.ListOffsetsRequest)
				inputs := slices.ContainsFunc(lreq.Topics, func(rt kmsg.ListOffsetsRequestTopic) bool {
					return (rt.Topic == "table" || rt.Topic == "stream") && len(rt.Partitions) > 0 && rt.Partitions[0].Timestamp == -1
				})
				if !inputs || (tc.tableEnd == 0 && tc.failEnds >= 0 && int(failed.Load()) >= tc.failEnds) {
					return nil, nil, false
				}
				if tc.tableEnd == 0 {
					failed.Add(1)
				}
				resp := lreq.ResponseKind().(*kmsg.ListOffsetsResponse)
				resp.Version = lreq.Version
				for _, rt := range lreq.Topics {
					t := kmsg.NewListOffsetsResponseTopic()
					t.Topic = rt.Topic
					for _, rp := range rt.Partitions {
						p := kmsg.NewListOffsetsResponseTopicPartition()
						p.Partition = rp.Partition
						p.LeaderEpoch = -1
						switch {
						case tc.tableEnd == 0:
							p.ErrorCode = kerr.UnknownTopicOrPartition.Code
						case rt.Topic == "table":
							p.Offset = tc.tableEnd
						default:
							p.Offset = streamRecords
						}
						t.Partitions = append(t.Partitions, p)
					}
					resp.Topics = append(resp.Topics, t)
				}
				return resp, nil, true
			})

			app, err := streams.New(joinTopology(t), streams.Config{ApplicationID: "idle-" + strings.ReplaceAll(tc.name, " ", "-"),
				Brokers: brokers, StateDir: t.TempDir(), MaxTaskIdle: tc.idle, MaxBufferedRecords: tc.buffered,
				Logger: slog.New(&warnings)})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			errc := make(chan error, 1)
			go func() { errc <- app.Run(ctx) }()
			out := kafkatest.ReadUntil(t, brokers, "joined", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= streamRecords })
			cancel()
			if err := <-errc; err != nil {
				t.Fatal(err)
			}
			if tc.failEnds != 0 && failed.Load() == 0 {
				t.Fatal("no request for end offsets failed; the test checks nothing")
			}
			if got := warnings.has(tc.warn); tc.warn != "" && !got {
				t.Fatalf("no warning %q; warnings: %q", tc.warn, warnings.all())
			}
			if !held.Load() {
				t.Fatal("no fetch from the table's broker was held back; the test checks nothing")
			}
			var got, want []string
			for _, r := range out {
				got = append(got, string(r.Key)+"="+string(r.Value))
			}
			for i := range streamRecords {
				table := fmt.Sprintf("t%d", i%5)
				if !tc.joined {
					table = "none"
				}
				want = append(want, fmt.Sprintf("k%d=s%02d+%s", i%5, i, table))
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Fatalf("joined:\n got %q\nwant %q", got, want)
			}
		})
	}
}

// topicID returns a topic's ID, which fetch requests name it by.
func topicID(t *testing.T, brokers []string, topic string) [16]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil || len(resp.Topics) != 1 {
		t.Fatalf("metadata of %s: %v", topic, err)
	}
	return resp.Topics[0].TopicID
}

// warnLog captures the messages of warnings.
type warnLog struct {
	mu   sync.Mutex
	msgs []string
}

func (h *warnLog) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }
func (h *warnLog) WithAttrs([]slog.Attr) slog.Handler           { return h }
func (h *warnLog) WithGroup(string) slog.Handler                { return h }
func (h *warnLog) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	h.msgs = append(h.msgs, r.Message)
	h.mu.Unlock()
	return nil
}

func (h *warnLog) has(msg string) bool { return slices.Contains(h.all(), msg) }

func (h *warnLog) all() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.msgs)
}

// TestEnforcedProcessing checks that a task waits MaxTaskIdle for an input
// partition with nothing on the broker, then processes its other one, and
// counts that once in streams_enforced_processing_total.
func TestEnforcedProcessing(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "table", "stream", "joined")
	brokers := c.ListenAddrs()
	var recs []*kgo.Record
	for i := range 3 {
		recs = append(recs, &kgo.Record{Topic: "stream", Key: fmt.Appendf(nil, "k%d", i),
			Value: fmt.Appendf(nil, "s%d", i), Timestamp: time.UnixMilli(int64(2000 + i))})
	}
	kafkatest.Produce(t, brokers, recs...)
	reg := prometheus.NewRegistry()
	app, err := streams.New(joinTopology(t), streams.Config{ApplicationID: "enforced", Brokers: brokers, StateDir: t.TempDir(),
		MaxTaskIdle: 300 * time.Millisecond, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	out := kafkatest.ReadUntil(t, brokers, "joined", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 3 })
	enforced := scrapeRegistry(t, reg)["streams_enforced_processing_total"]
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range out {
		got = append(got, string(r.Key)+"="+string(r.Value))
	}
	if want := []string{"k0=s0+none", "k1=s1+none", "k2=s2+none"}; !slices.Equal(got, want) {
		t.Fatalf("joined %q, want %q", got, want)
	}
	if enforced != 1 {
		t.Fatalf("streams_enforced_processing_total = %v, want 1", enforced)
	}
}

// joinTopology left-joins the topic "stream" with the table of the topic
// "table" into "joined": "<stream value>+<table value>", or "+none".
func joinTopology(t *testing.T) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	table := ktable.From(b, "table", serde.String(), serde.String(), "table-store")
	stream := kstream.From(b, "stream", serde.String(), serde.String())
	kstream.LeftJoinTable(stream, table, func(v string, tv *string) string {
		if tv == nil {
			return v + "+none"
		}
		return v + "+" + *tv
	}).To("joined")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}
