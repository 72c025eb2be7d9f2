package engine

import (
	"bytes"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestRoute checks how a poll's records reach the queues: transaction
// markers only move a partition's fetched position, records of a partition
// without task make the next commit rewind (markers alone do not), and
// records below a task's processed position are skipped with a warning.
func TestRoute(t *testing.T) {
	marker := kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Transactional: true, Control: true})
	data := kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Transactional: true})
	rec := func(p int32, off int64, attrs kgo.RecordAttrs) *kgo.Record {
		return &kgo.Record{Topic: "in", Partition: p, Offset: off, Attrs: attrs,
			Key: []byte(fmt.Sprintf("k%d", off)), Value: []byte("v"), Timestamp: time.UnixMilli(1000 + off)}
	}
	for _, c := range []struct {
		name string
		// next is the task's processed position in partition 0 (-1: none).
		next int64
		// p is the fetched partition: the thread runs a task for 0 only.
		p    int32
		lso  int64
		recs []*kgo.Record
		// queued are the offsets queued for partition 0.
		queued     []int64
		seen, end  int64
		needRewind bool
		log        string
	}{
		{
			name: "markers of a partition without task",
			next: -1, p: 1, lso: 7,
			recs: []*kgo.Record{rec(1, 5, marker), rec(1, 6, marker)},
			seen: -1, end: -1,
		},
		{
			name: "a record of a partition without task",
			next: -1, p: 1, lso: 7,
			recs:       []*kgo.Record{rec(1, 5, marker), rec(1, 6, data)},
			seen:       -1,
			end:        -1,
			needRewind: true,
		},
		{
			name: "markers of a partition with task",
			next: -1, p: 0, lso: 7,
			recs: []*kgo.Record{rec(0, 5, marker), rec(0, 6, marker)},
			seen: 7, end: 7,
		},
		{
			name: "records and a marker",
			next: -1, p: 0, lso: 9,
			recs:   []*kgo.Record{rec(0, 5, data), rec(0, 6, data), rec(0, 7, marker)},
			queued: []int64{5, 6},
			seen:   8, end: 9,
		},
		{
			name: "records below the processed position",
			next: 3, p: 0, lso: 5,
			recs:   []*kgo.Record{rec(0, 1, data), rec(0, 2, data), rec(0, 3, data), rec(0, 4, data)},
			queued: []int64{3, 4},
			seen:   5, end: 5,
			log: "level=WARN msg=\"skipping a record below the partition's processed position\" topic=in partition=0 offset=1 position=3\n" +
				"level=WARN msg=\"skipping a record below the partition's processed position\" topic=in partition=0 offset=2 position=3\n",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
				ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
					if a.Key == slog.TimeKey {
						return slog.Attr{}
					}
					return a
				},
			}))
			th, q := routeThread(t, log)
			tr := th.byTP[topicPartition{"in", 0}]
			if c.next >= 0 {
				tr.next[topicPartition{"in", 0}] = c.next
			}
			fetches := kgo.Fetches{{Topics: []kgo.FetchTopic{{Topic: "in", Partitions: []kgo.FetchPartition{{
				Partition: c.p, HighWatermark: c.lso, LastStableOffset: c.lso, Records: c.recs,
			}}}}}}
			if err := th.route(fetches); err != nil {
				t.Fatal(err)
			}
			var queued []int64
			for q.len() > 0 {
				e := q.pop()
				queued = append(queued, e.Raw.Offset)
				if want := fmt.Sprintf("k%d", e.Raw.Offset); string(e.Raw.Key) != want || e.TS != 1000+e.Raw.Offset {
					t.Errorf("queued offset %d: key %q, timestamp %d; want %q, %d", e.Raw.Offset, e.Raw.Key, e.TS, want, 1000+e.Raw.Offset)
				}
			}
			if !slices.Equal(queued, c.queued) {
				t.Errorf("queued offsets %v, want %v", queued, c.queued)
			}
			if q.seen != c.seen || q.end != c.end {
				t.Errorf("partition 0 seen %d, end %d; want %d, %d", q.seen, q.end, c.seen, c.end)
			}
			if th.needRewind != c.needRewind {
				t.Errorf("needRewind = %v, want %v", th.needRewind, c.needRewind)
			}
			var warnings strings.Builder
			for line := range strings.Lines(logs.String()) {
				if strings.HasPrefix(line, "level=WARN") {
					warnings.WriteString(line)
				}
			}
			if warnings.String() != c.log {
				t.Errorf("warnings:\n%s\nwant:\n%s", warnings.String(), c.log)
			}
		})
	}
}

// routeThread returns a thread running one task, of a stateless
// sub-topology reading topic "in", for partition 0, and that partition's
// queue.
func routeThread(t *testing.T, log *slog.Logger) (*thread, *entryQueue) {
	t.Helper()
	b := topology.NewBuilder()
	kstream.From(b, "in", serde.String(), serde.String()).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	id := TaskID{SubTopology: 0, Partition: 0}
	task, err := exec.NewTask(topo.SubTopologies()[0].Spec(), id, exec.Env{
		ApplicationID: "app",
		WallClock:     func() int64 { return 0 },
		Logger:        log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Close() })
	tp := topicPartition{"in", 0}
	q := &entryQueue{seen: -1, end: -1}
	tr := &taskRun{id: id, task: task, parts: []topicPartition{tp},
		queues: map[topicPartition]*entryQueue{tp: q}, ordered: []*entryQueue{q},
		next: map[topicPartition]int64{}, committed: map[topicPartition]int64{}, hwm: map[topicPartition]int64{}}
	th := &thread{log: log, tasks: map[TaskID]*taskRun{id: tr}, byTP: map[topicPartition]*taskRun{tp: tr}}
	return th, q
}

// TestPauseFullQueues checks the pausing a thread does while a task waits
// for records the client has not handed over: fetching stops for the
// partitions whose queues are full, and only for those, resumes for each as
// soon as its queue has room, and resumes for all when the wait ends.
func TestPauseFullQueues(t *testing.T) {
	cl, err := kgo.NewClient(kgo.SeedBrokers("127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	th, stream := routeThread(t, slog.New(slog.DiscardHandler))
	th.e = &Engine{opts: Options{MaxBufferedRecords: 2}}
	th.cl = cl
	th.paused = map[topicPartition]bool{}
	// The task also reads partition 0 of "table", whose queue is empty.
	tr := th.byTP[topicPartition{"in", 0}]
	table := &entryQueue{seen: 0, end: 5}
	tr.queues[topicPartition{"table", 0}] = table
	paused := func() string {
		var out []string
		for topic, ps := range cl.PauseFetchPartitions(nil) {
			for _, p := range ps {
				out = append(out, fmt.Sprintf("%s/%d", topic, p))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	// pause runs the thread's pausing step and checks what is paused.
	pause := func(state, want string) {
		t.Helper()
		th.pauseFull()
		if got := paused(); got != want {
			t.Fatalf("%s: paused %q, want %q", state, got, want)
		}
	}
	*stream.add() = exec.Entry{}
	pause("one record of two queued", "")
	*stream.add() = exec.Entry{}
	pause("queue full", "in/0")
	pause("queue still full", "in/0")
	stream.pop()
	pause("queue with room again", "")
	*stream.add() = exec.Entry{}
	*table.add() = exec.Entry{}
	*table.add() = exec.Entry{}
	pause("both queues full", "in/0 table/0")
	th.resumePaused()
	if got := paused(); got != "" || len(th.paused) != 0 {
		t.Fatalf("after the wait: paused %q (the thread counts %d), want none", got, len(th.paused))
	}
}
