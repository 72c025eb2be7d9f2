package streams_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

func doublingTopology(t *testing.T) *topology.Topology {
	b := topology.NewBuilder()
	in := kstream.From(b, "numbers", serde.String(), serde.Int64())
	kstream.MapValues(in, func(v int64) int64 { return 2 * v }).To("doubled")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func int64Bytes(v int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(v)) }

func producePoison(t *testing.T, brokers []string) {
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "numbers", Partition: 0, Key: []byte("a"), Value: int64Bytes(1)},
		&kgo.Record{Topic: "numbers", Partition: 0, Key: []byte("b"), Value: []byte{1, 2, 3},
			Headers: []kgo.RecordHeader{{Key: "origin", Value: []byte("test")}}},
		&kgo.Record{Topic: "numbers", Partition: 0, Key: []byte("c"), Value: int64Bytes(2)},
	)
}

func TestPoisonPillDeadLetter(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "numbers", "doubled", "dlq")
	brokers := c.ListenAddrs()
	producePoison(t, brokers)
	app, err := streams.New(doublingTopology(t), streams.Config{
		ApplicationID: "poison-dlq", Brokers: brokers, StateDir: t.TempDir(),
		DeserializationHandler: processor.DeadLetterOnDeserializationError, DeadLetterTopic: "dlq",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	out := kafkatest.ReadUntil(t, brokers, "doubled", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 2 })
	dlq := kafkatest.ReadUntil(t, brokers, "dlq", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if got := []string{string(out[0].Key), string(out[1].Key)}; got[0] != "a" || got[1] != "c" ||
		binary.BigEndian.Uint64(out[0].Value) != 2 || binary.BigEndian.Uint64(out[1].Value) != 4 {
		t.Errorf("doubled: got %q=%x %q=%x, want a=2 c=4", out[0].Key, out[0].Value, out[1].Key, out[1].Value)
	}
	if len(dlq) != 1 {
		t.Fatalf("dead-letter topic has %d records, want 1", len(dlq))
	}
	d := dlq[0]
	if string(d.Key) != "b" || string(d.Value) != "\x01\x02\x03" {
		t.Errorf("dead letter holds key %q value %x, want the original b / 010203", d.Key, d.Value)
	}
	headers := map[string]string{}
	for _, h := range d.Headers {
		headers[h.Key] = string(h.Value)
	}
	want := map[string]string{
		"origin":                   "test",
		"streams.error":            "deserializing the value of the record at numbers/0 offset 1: serde.Int64: wrong data size: got 3 bytes, want 8",
		"streams.error.part":       "value",
		"streams.source.topic":     "numbers",
		"streams.source.partition": "0",
		"streams.source.offset":    "1",
		"streams.task":             "0_0",
	}
	for k, v := range want {
		if headers[k] != v {
			t.Errorf("dead letter header %s = %q, want %q", k, headers[k], v)
		}
	}
}

func TestPoisonPillFails(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "numbers", "doubled")
	brokers := c.ListenAddrs()
	producePoison(t, brokers)
	app, err := streams.New(doublingTopology(t), streams.Config{
		ApplicationID: "poison-fail", Brokers: brokers, StateDir: t.TempDir(),
		ThreadFailure: streams.ReplaceThread, MaxThreadRestarts: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err = app.Run(ctx)
	const want = "deserializing the value of the record at numbers/0 offset 1: serde.Int64: wrong data size: got 3 bytes, want 8"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run returned %v, want an error containing %q", err, want)
	}
	var de *processor.DeserializationError
	if !errors.As(err, &de) || de.Topic != "numbers" || de.Partition != 0 || de.Offset != 1 {
		t.Errorf("error %v does not unwrap to the record's coordinates", err)
	}
	if ctx.Err() != nil {
		t.Errorf("Run kept restarting until the context ended instead of failing")
	}
	if app.State() != streams.Error {
		t.Errorf("state %v, want ERROR", app.State())
	}
	// The poison pill's offset was never committed: a restart meets it
	// again rather than skipping it.
	out := kafkatest.ReadUntil(t, brokers, "doubled", 5*time.Second, func(rs []*kgo.Record) bool { return true })
	for _, r := range out {
		if string(r.Key) == "c" {
			t.Errorf("record c after the poison pill was output")
		}
	}
}

// TestProcessingErrorDeadLetter sends a record whose processing fails to the
// dead-letter topic and goes on.
func TestProcessingErrorDeadLetter(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "numbers", "doubled", "dlq")
	brokers := c.ListenAddrs()
	kafkatest.Produce(t, brokers,
		&kgo.Record{Topic: "numbers", Key: []byte("a"), Value: int64Bytes(1)},
		&kgo.Record{Topic: "numbers", Key: []byte("b"), Value: int64Bytes(-7)},
		&kgo.Record{Topic: "numbers", Key: []byte("c"), Value: int64Bytes(2)},
	)
	b := topology.NewBuilder()
	in := kstream.From(b, "numbers", serde.String(), serde.Int64())
	kstream.ProcessValues(in, func() processor.FixedKeyProcessor[string, int64, int64] { return &rejectNegative{} }).To("doubled")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID: "processing-dlq", Brokers: brokers, StateDir: t.TempDir(),
		ProcessingErrorHandler: processor.DeadLetterOnProcessingError, DeadLetterTopic: "dlq",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- app.Run(ctx) }()
	out := kafkatest.ReadUntil(t, brokers, "doubled", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 2 })
	dlq := kafkatest.ReadUntil(t, brokers, "dlq", 30*time.Second, func(rs []*kgo.Record) bool { return len(rs) >= 1 })
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if string(out[0].Key) != "a" || string(out[1].Key) != "c" {
		t.Errorf("outputs %q, %q; want a, c", out[0].Key, out[1].Key)
	}
	headers := map[string]string{}
	for _, h := range dlq[0].Headers {
		headers[h.Key] = string(h.Value)
	}
	if string(dlq[0].Key) != "b" || headers["streams.error.kind"] != "processing" ||
		headers["streams.error"] != "processing the record at numbers/0 offset 1: KSTREAM-PROCESSVALUES-0000000001: negative value -7" {
		t.Errorf("dead letter key %q headers %v", dlq[0].Key, headers)
	}
}

type rejectNegative struct {
	ctx processor.FixedKeyContext[string, int64]
}

func (p *rejectNegative) Init(ctx processor.FixedKeyContext[string, int64]) error {
	p.ctx = ctx
	return nil
}
func (p *rejectNegative) Close() error { return nil }
func (p *rejectNegative) Process(r processor.FixedKeyRecord[string, int64]) error {
	if r.Value() < 0 {
		return fmt.Errorf("negative value %d", r.Value())
	}
	return p.ctx.Forward(processor.WithValue(r, 2*r.Value()))
}
