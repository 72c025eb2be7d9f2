package main

import (
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
	"github.com/seed992c72d9/streams/window"
)

// t0 is 10:00 on the day of the test input.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return t0.Add(d).UnixMilli() }

type view struct {
	user, page string
	at         time.Duration // after 10:00
}

// views is the test input, in arrival order.
var views = []view{
	{"alice", "/docs", 5 * time.Second},
	{"bob", "/docs", 50 * time.Second},
	{"carol", "/", 59 * time.Second},
	{"alice", "/docs", 70 * time.Second},    // 10:01:10, the next window; stream time 10:01:10
	{"dave", "/docs", 40 * time.Second},     // out of order, within the grace period: counted in 10:00
	{"erin", "/", 90 * time.Second},         // 10:01:30: stream time reaches 10:01 + 30 s, 10:00 closes
	{"frank", "/pricing", 30 * time.Second}, // its window has closed: late, dropped
	{"grace", "/blog", 150 * time.Second},   // 10:02:30: 10:01 closes
}

// final is what the topology writes for views: each closed window once,
// in window-end then key order, stamped with its latest view.
var final = []string{
	"[/@1714557600000/1714557660000]=1 at 10:00:59",
	"[/docs@1714557600000/1714557660000]=3 at 10:00:50",
	"[/@1714557660000/1714557720000]=1 at 10:01:30",
	"[/docs@1714557660000/1714557720000]=1 at 10:01:10",
}

func format(w window.Windowed[string], n int64, ts int64) string {
	return fmt.Sprintf("%v=%d at %s", w, n, time.UnixMilli(ts).UTC().Format("15:04:05"))
}

// TestTopology runs the topology in the test driver: nothing is written
// before a window closes, each closed window is written once, the view
// that comes after its window closed is dropped as late, and the store
// keeps every window's count for queries.
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
	in := streamstest.NewInputTopic(d, ViewsTopic, serde.String(), serde.String())
	out := streamstest.NewOutputTopic(d, OutputTopic, KeySerde, serde.Int64())

	var got []string
	for i, v := range views {
		if err := in.PipeAt(v.user, v.page, at(v.at)); err != nil {
			t.Fatal(err)
		}
		recs, err := out.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		if i < 5 && len(recs) > 0 {
			t.Errorf("after view %d, before any window closed: %d records written", i, len(recs))
		}
		for _, r := range recs {
			got = append(got, format(r.Key, r.Value, r.Timestamp))
		}
	}
	if strings.Join(got, "\n") != strings.Join(final, "\n") {
		t.Errorf("written:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(final, "\n"))
	}
	if n := d.Dropped("late"); n != 1 {
		t.Errorf("%d late views dropped, want 1", n)
	}

	// The store holds every window, the open one too.
	store, err := streamstest.TimestampedWindowStore[string, int64](d, CountStore, 0)
	if err != nil {
		t.Fatal(err)
	}
	var windows []string
	for e, err := range store.All() {
		if err != nil {
			t.Fatal(err)
		}
		windows = append(windows, fmt.Sprintf("%s@%s=%d", e.Key, time.UnixMilli(e.Start).UTC().Format("15:04"), e.Value.Value))
	}
	if s := strings.Join(windows, " "); s != "/@10:00=1 /@10:01=1 /blog@10:02=1 /docs@10:00=3 /docs@10:01=1" {
		t.Errorf("store: %s", s)
	}
}

// TestOnKafka runs the topology as an application against an in-process
// broker and reads its output with read_committed isolation: the same final
// counts, once each.
func TestOnKafka(t *testing.T) {
	c := kafkatest.Cluster(t, 1, ViewsTopic, OutputTopic)
	brokers := c.ListenAddrs()
	var recs []*kgo.Record
	for _, v := range views {
		recs = append(recs, &kgo.Record{Topic: ViewsTopic, Key: []byte(v.user), Value: []byte(v.page),
			Timestamp: time.UnixMilli(at(v.at))})
	}
	kafkatest.Produce(t, brokers, recs...)
	topo, err := Topology()
	if err != nil {
		t.Fatal(err)
	}
	extest.RunApp(t, topo, brokers, streams.Config{})

	out := kafkatest.ReadUntil(t, brokers, OutputTopic, 20*time.Second, func(rs []*kgo.Record) bool {
		return len(rs) >= len(final)
	})
	var got []string
	for _, r := range out {
		w, err := KeySerde.Deserialize(r.Key)
		if err != nil {
			t.Fatal(err)
		}
		n, err := serde.Int64().Deserialize(r.Value)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, format(w, n, r.Timestamp.UnixMilli()))
	}
	if strings.Join(got, "\n") != strings.Join(final, "\n") {
		t.Errorf("read:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(final, "\n"))
	}
}

// TestRun runs the program as `go run ./examples/pageviews` does, with
// event time running fast, waits for a final count, fetches the windows of
// /docs with the URL the program printed, and stops it as Ctrl-C does.
func TestRun(t *testing.T) {
	p := extest.Start(t, run, nil, "--http", "127.0.0.1:0", "--history", "5m", "--speed", "120", "--rate", "100")
	p.WaitFor(`(?m)^  \d\d:\d\d-\d\d:\d\d  /\S*\s+\d+ views$`, 30*time.Second)
	url := p.WaitFor(`curl '(http://\S+/windows/%2Fdocs)'`, time.Second)[1]
	code, body := extest.Get(t, url)
	if code != 200 || !strings.Contains(body, `"windows":[{"start":`) {
		t.Errorf("GET %s: %d %s", url, code, body)
	}
	if err := p.Stop(); err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.HasSuffix(p.Out.String(), "stopped\n") {
		t.Errorf("output does not end with \"stopped\":\n%s", p.Out.String())
	}
}
