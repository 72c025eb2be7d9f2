package kafkatest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestInterleavedTransactions checks the broker's read_committed isolation
// when an aborted and a committed transaction interleave on one partition, as
// happens while a task moves from one instance to another.
func TestInterleavedTransactions(t *testing.T) {
	c := Cluster(t, 1, "t")
	brokers := c.ListenAddrs()
	ctx := context.Background()
	newTxn := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	p1, p2 := newTxn("p1"), newTxn("p2")
	for round := range 50 {
		if err := p1.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := p2.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			p1.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("abort-%d-%d", round, i))})
			p2.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("commit-%d-%d", round, i))})
		}
		if err := p1.EndTransaction(ctx, kgo.TryAbort); err != nil {
			t.Fatal(err)
		}
		if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
	}
	recs := ReadUntil(t, brokers, "t", 10*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 150 })
	time.Sleep(200 * time.Millisecond)
	for _, r := range recs {
		if string(r.Value[:5]) == "abort" {
			t.Errorf("read_committed returned aborted record %s at offset %d", r.Value, r.Offset)
		}
	}
	if len(recs) != 150 {
		t.Errorf("%d records, want 150", len(recs))
	}
}

// TestFencedTransactionAborted checks that a transaction left open by a
// producer that is then fenced (a new producer with the same transactional
// id starts, as a restarted instance does) is aborted for read_committed
// consumers, while another producer's transaction interleaves.
func TestFencedTransactionAborted(t *testing.T) {
	c := Cluster(t, 1, "t")
	brokers := c.ListenAddrs()
	ctx := context.Background()
	newTxn := func(id string) *kgo.Client {
		cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.TransactionalID(id), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		return cl
	}
	other := newTxn("other")
	for round := range 20 {
		zombie := newTxn("same")
		if err := zombie.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := other.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		zombie.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("abort-zombie-%d", round))})
		other.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("commit-other-%d", round))})
		// The zombie dies without ending its transaction; its successor
		// fences it.
		successor := newTxn("same")
		if err := successor.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		successor.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("commit-successor-%d", round))})
		other.ProduceSync(ctx, &kgo.Record{Topic: "t", Value: []byte(fmt.Sprintf("commit-other2-%d", round))})
		if err := successor.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		if err := other.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatal(err)
		}
		successor.Close()
	}
	recs := ReadUntil(t, brokers, "t", 10*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 60 })
	time.Sleep(200 * time.Millisecond)
	for _, r := range recs {
		if string(r.Value[:5]) == "abort" {
			t.Errorf("read_committed returned aborted record %s at offset %d", r.Value, r.Offset)
		}
	}
	if len(recs) != 60 {
		t.Errorf("%d records, want 60", len(recs))
	}
}
