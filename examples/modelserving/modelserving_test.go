package main

import (
	"encoding/json"
	"fmt"
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

var (
	weights  = map[string]float64{"alcohol": 0.3, "volatile_acidity": -1.2, "sulphates": 0.8}
	redV1    = Model{Version: 1, Intercept: 2.0, Weights: weights, Threshold: 6}
	redV2    = Model{Version: 2, Intercept: 2.5, Weights: weights, Threshold: 6}
	features = map[string]float64{"alcohol": 12, "volatile_acidity": 0.5, "sulphates": 1}
)

// event is one input record: a model (nil model: a tombstone) or a data
// record.
type event struct {
	ts     int64
	key    string
	model  *Model
	record *Record
}

// events is the test input, in timestamp order.
var events = []event{
	{ts: 1000, key: "red", record: &Record{ID: "red-1", Features: features}}, // no model yet
	{ts: 2000, key: "red", model: &redV1},
	{ts: 3000, key: "red", record: &Record{ID: "red-2", Features: features}},
	{ts: 4000, key: "red", model: &redV2}, // a new version: later records only
	{ts: 5000, key: "red", record: &Record{ID: "red-3", Features: features}},
	{ts: 5500, key: "white", record: &Record{ID: "white-1", Features: features}}, // no white model
	{ts: 6000, key: "red"}, // the red model is retired
	{ts: 7000, key: "red", record: &Record{ID: "red-4", Features: features}},
}

// scores is what the topology writes for events.
var scores = []string{
	"red red-1 unscored @1000",
	"red red-2 v1 5.80 @3000",
	"red red-3 v2 6.30 flagged @5000",
	"white white-1 unscored @5500",
	"red red-4 unscored @7000",
}

func format(key string, s Scored, ts int64) string {
	if s.ModelVersion == 0 {
		return fmt.Sprintf("%s %s unscored @%d", key, s.ID, ts)
	}
	flagged := ""
	if s.Flagged {
		flagged = " flagged"
	}
	return fmt.Sprintf("%s %s v%d %.2f%s @%d", key, s.ID, s.ModelVersion, s.Score, flagged, ts)
}

func TestModelString(t *testing.T) {
	want := "v1: 2.00 + 0.3·alcohol + 0.8·sulphates - 1.2·volatile_acidity, flagged from 6"
	if s := redV1.String(); s != want {
		t.Errorf("got %q, want %q", s, want)
	}
}

// TestTopology runs the model server in the test driver: each record is
// scored by the model current at its time, a new version scores only the
// records after it, and records without a model go through unscored.
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
	models := streamstest.NewInputTopic(d, ModelsTopic, serde.String(), serde.JSON[Model]())
	data := streamstest.NewInputTopic(d, DataTopic, serde.String(), serde.JSON[Record]())
	out := streamstest.NewOutputTopic(d, ScoresTopic, serde.String(), serde.JSON[Scored]())
	for _, e := range events {
		switch {
		case e.record != nil:
			err = data.PipeAt(e.key, *e.record, e.ts)
		case e.model != nil:
			err = models.PipeAt(e.key, *e.model, e.ts)
		default:
			err = models.PipeTombstone(e.key, e.ts)
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.ts == 5000 {
			table, err := streamstest.ReadTable[string, Model](d, ModelStore)
			if err != nil {
				t.Fatal(err)
			}
			if len(table) != 1 || table[0].Key != "red" || table[0].Value.Version != 2 {
				t.Errorf("models at 5000: %+v, want red v2", table)
			}
		}
	}
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, format(r.Key, r.Value, r.Timestamp))
	}
	if strings.Join(got, "\n") != strings.Join(scores, "\n") {
		t.Errorf("scores:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(scores, "\n"))
	}
	if table, err := streamstest.ReadTable[string, Model](d, ModelStore); err != nil || len(table) != 0 {
		t.Errorf("models at the end: %+v, %v; want none (red was retired)", table, err)
	}
}

// TestOnKafka runs the model server as an application against an
// in-process broker, with every input written beforehand, and reads the
// scores with read_committed isolation. Within its task the application
// processes the records of both topics in timestamp order (with the default
// MaxTaskIdle the task waits for records of a topic it has not fetched
// yet), so the scores are the test driver's.
func TestOnKafka(t *testing.T) {
	c := kafkatest.Cluster(t, 1, ModelsTopic, DataTopic, ScoresTopic)
	brokers := c.ListenAddrs()
	var recs []*kgo.Record
	for _, e := range events {
		r := &kgo.Record{Topic: ModelsTopic, Key: []byte(e.key), Timestamp: time.UnixMilli(e.ts)}
		var err error
		switch {
		case e.record != nil:
			r.Topic = DataTopic
			r.Value, err = json.Marshal(e.record)
		case e.model != nil:
			r.Value, err = json.Marshal(e.model)
		}
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	kafkatest.Produce(t, brokers, recs...)
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	extest.RunApp(t, topo, brokers, streams.Config{})

	out := kafkatest.ReadUntil(t, brokers, ScoresTopic, 20*time.Second, func(rs []*kgo.Record) bool {
		return len(rs) >= len(scores)
	})
	var got []string
	for _, r := range out {
		var s Scored
		if err := json.Unmarshal(r.Value, &s); err != nil {
			t.Fatal(err)
		}
		got = append(got, format(string(r.Key), s, r.Timestamp.UnixMilli()))
	}
	if strings.Join(got, "\n") != strings.Join(scores, "\n") {
		t.Errorf("scores:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(scores, "\n"))
	}
}

// TestRun runs the program as `go run ./examples/modelserving` does, with
// frequent model updates, waits for a score by a second model version,
// fetches the current red model with the URL the program printed, and stops
// it as Ctrl-C does.
func TestRun(t *testing.T) {
	p := extest.Start(t, run, nil, "--http", "127.0.0.1:0", "--rate", "50", "--update", "200ms")
	p.WaitFor(`(?m)^  (red|white) +\S+ +quality \d+\.\d\d  by model v2`, 30*time.Second)
	url := p.WaitFor(`curl (http://\S+/keys/red)`, time.Second)[1]
	code, body := extest.Get(t, url)
	if code != 200 || !strings.Contains(body, `"weights":{`) {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.HasSuffix(p.Out.String(), "stopped\n") {
		t.Errorf("output does not end with \"stopped\":\n%s", p.Out.String())
	}
}
