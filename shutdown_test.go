package streams_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// TestShutDownApplication runs two instances with the ShutDownApplication
// policy. A record whose processing fails (the counting topology rejects the
// value "poison") stops the instance that meets it, which tells the other
// through the group: both exit with an error naming the failure.
func TestShutDownApplication(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	ps := []*kafkatest.Process{
		startInstance(t, "shutdown", brokers, t.TempDir(), "eos", "STREAMS_TEST_FAILURE=app"),
		startInstance(t, "shutdown", brokers, t.TempDir(), "eos", "STREAMS_TEST_FAILURE=app"),
	}
	waitStable(t, ps, time.Second, 60*time.Second)
	kafkatest.Produce(t, c.ListenAddrs(), &kgo.Record{Topic: "input", Key: []byte("k"), Value: []byte("poison")})
	for i, p := range ps {
		if _, err := p.WaitFor("instance error:", 0, 60*time.Second); err != nil {
			t.Fatalf("instance %d: %v", i, err)
		}
	}
	for i, p := range ps {
		found := false
		for _, l := range p.Lines() {
			if strings.Contains(l, "instance error:") && strings.Contains(l, "the application was shut down by one of its instances") &&
				strings.Contains(l, "poison") {
				found = true
			}
		}
		if !found {
			t.Errorf("instance %d did not exit with the application shutdown naming the poison record:\n%s", i, strings.Join(p.Lines(), "\n"))
		}
	}
}

// TestCleanShutdownCommits stops an exactly-once application in the middle
// of ending a transaction: the broker cancels the application's context
// while it answers the heartbeat that the commit forces between committing
// the offsets and ending the transaction. A clean stop still commits what
// was processed: the group's committed offsets add up to the records the
// application processed, and the output holds exactly one update per
// committed input record.
func TestCleanShutdownCommits(t *testing.T) {
	c := kafkatest.Cluster(t, 2, "input", "output")
	brokers := c.ListenAddrs()
	topo, err := countTopology()
	if err != nil {
		t.Fatal(err)
	}
	produceCounted(t, brokers, 0, 20000, map[string]int64{})
	var before int64
	for round := range 3 {
		reg := prometheus.NewRegistry()
		app, err := streams.New(topo, streams.Config{ApplicationID: "clean-stop", Brokers: brokers, StateDir: t.TempDir(),
			Registerer: reg, CacheMaxBytes: -1})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- app.Run(ctx) }()
		deadline := time.Now().Add(60 * time.Second)
		for scrapeRegistry(t, reg)["streams_records_processed_total"] < 500 {
			if time.Now().After(deadline) {
				t.Fatal("timed out waiting for the application to process records")
			}
			time.Sleep(time.Millisecond)
		}
		c.ControlKey(int16(kmsg.Heartbeat), func(kmsg.Request) (kmsg.Response, error, bool) {
			cancel()
			return nil, nil, false
		})
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		committed := committedTotal(t, brokers, "clean-stop", "input")
		processed := int64(scrapeRegistry(t, reg)["streams_records_processed_total"])
		if committed-before != processed {
			t.Fatalf("round %d: the group committed %d more input records, the application processed %d", round, committed-before, processed)
		}
		before = committed
		out := kafkatest.ReadAll(t, brokers, "output", int(committed), 300*time.Millisecond)
		if int64(len(out)) != committed {
			t.Fatalf("round %d: %d committed output records for %d committed input records", round, len(out), committed)
		}
	}
}

// committedTotal sums the group's committed offsets over the topic.
func committedTotal(t *testing.T, brokers []string, group, topic string) int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	offs, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range offs[topic] {
		n += p.At
	}
	return n
}
