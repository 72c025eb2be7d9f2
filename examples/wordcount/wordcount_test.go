package main

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/examples/internal/extest"
	"github.com/seed992c72d9/streams/internal/kafkatest"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
)

// want is what the word count writes for Lines, in order: every new count.
var want = []streamstest.KeyValue[string, int64]{
	{Key: "all", Value: 1}, {Key: "streams", Value: 1}, {Key: "lead", Value: 1}, {Key: "to", Value: 1},
	{Key: "kafka", Value: 1},
	{Key: "hello", Value: 1}, {Key: "kafka", Value: 2}, {Key: "streams", Value: 2},
	{Key: "join", Value: 1}, {Key: "kafka", Value: 3}, {Key: "summit", Value: 1},
}

func TestWords(t *testing.T) {
	got := Words("Don't PANIC: 42 streams,  all\tthe way")
	if exp := []string{"don't", "panic", "42", "streams", "all", "the", "way"}; !slices.Equal(got, exp) {
		t.Errorf("Words: got %q, want %q", got, exp)
	}
}

// TestTopology runs the word count in the test driver: every count, in
// order, and the final state of the store.
func TestTopology(t *testing.T) {
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, InputTopic, serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, OutputTopic, serde.String(), serde.Int64())
	for i, line := range Lines {
		if err := in.PipeAt(fmt.Sprint(i), line, int64(i+1)*1000); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("output:\n got %v\nwant %v", got, want)
	}

	table, err := streamstest.ReadTable[string, int64](d, CountStore)
	if err != nil {
		t.Fatal(err)
	}
	if s := fmt.Sprint(table); s != "[{all 1} {hello 1} {join 1} {kafka 3} {lead 1} {streams 2} {summit 1} {to 1}]" {
		t.Errorf("store %s: %s", CountStore, s)
	}
	if topics := fmt.Sprint(topo.InternalTopics()); topics != "[{counts-repartition 0}]" {
		t.Errorf("internal topics %s, want the repartition topic of the grouping", topics)
	}
}

// TestOnKafka runs the word count as an application against an in-process
// broker, with two partitions and without the record cache, and reads its
// output with read_committed isolation: each word's counts arrive one by
// one, in order, exactly once.
func TestOnKafka(t *testing.T) {
	c := kafkatest.Cluster(t, 2, InputTopic, OutputTopic)
	brokers := c.ListenAddrs()
	var recs []*kgo.Record
	for _, line := range Lines {
		recs = append(recs, &kgo.Record{Topic: InputTopic, Value: []byte(line)})
	}
	kafkatest.Produce(t, brokers, recs...)
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	extest.RunApp(t, topo, brokers, streams.Config{CacheMaxBytes: -1})

	out := kafkatest.ReadUntil(t, brokers, OutputTopic, 20*time.Second, func(rs []*kgo.Record) bool {
		return len(rs) >= len(want)
	})
	got := map[string][]int64{}
	for _, r := range out {
		got[string(r.Key)] = append(got[string(r.Key)], int64(binary.BigEndian.Uint64(r.Value)))
	}
	exp := map[string][]int64{}
	for _, kv := range want {
		exp[kv.Key] = append(exp[kv.Key], kv.Value)
	}
	if fmt.Sprint(got) != fmt.Sprint(exp) || len(out) != len(want) {
		t.Errorf("read %d records: %v\nwant %d: %v", len(out), got, len(want), exp)
	}
}

// TestRun runs the program as `go run ./examples/wordcount` does, on its
// embedded broker, with one more line typed on stdin; it waits for the
// final count of "kafka", asks the query server for it with the URL the
// program printed, and stops the program as Ctrl-C does.
func TestRun(t *testing.T) {
	p := extest.Start(t, run, strings.NewReader("Kafka Streams for Go\n"), "--http", "127.0.0.1:0")
	p.WaitFor(`(?m)^  kafka = 4$`, 30*time.Second)
	url := p.WaitFor(`curl (http://\S+/keys/kafka)`, time.Second)[1]
	code, body := extest.Get(t, url)
	if code != 200 || !strings.Contains(body, `"value":{"value":4,`) {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.HasSuffix(p.Out.String(), "stopped\n") {
		t.Errorf("output does not end with \"stopped\":\n%s", p.Out.String())
	}
}
