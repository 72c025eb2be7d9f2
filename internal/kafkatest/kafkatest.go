// Package kafkatest holds helpers for tests that run against franz-go's
// kfake broker: starting a cluster, producing input, reading output with
// read_committed isolation.
package kafkatest

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Cluster starts an in-process kfake cluster with the given topics (each
// with partitions partitions) and closes it when the test ends.
func Cluster(t testing.TB, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	if len(topics) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, topics...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Produce writes records synchronously.
func Produce(t testing.TB, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// ReadUntil reads topic from the start with read_committed isolation until
// done returns true for the records read so far, or the timeout passes.
func ReadUntil(t testing.TB, brokers []string, topic string, timeout time.Duration, done func([]*kgo.Record) bool) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	for !done(out) {
		if time.Now().After(deadline) {
			t.Fatalf("reading %s: timed out after %v with %d records", topic, timeout, len(out))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		f := cl.PollFetches(ctx)
		cancel()
		f.EachRecord(func(r *kgo.Record) { out = append(out, r) })
	}
	return out
}

// ReadAll reads topic from the start with read_committed isolation until it
// has at least min records and no new record arrived for quiet.
func ReadAll(t testing.TB, brokers []string, topic string, min int, quiet time.Duration) []*kgo.Record {
	t.Helper()
	var last time.Time
	var n int
	return ReadUntil(t, brokers, topic, 120*time.Second, func(rs []*kgo.Record) bool {
		if len(rs) != n {
			n, last = len(rs), time.Now()
		}
		return len(rs) >= min && time.Since(last) >= quiet
	})
}
