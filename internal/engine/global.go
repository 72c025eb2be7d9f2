package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// globalRunner keeps the global stores: it reads every partition of their
// topics into local state. Before the threads start, it catches up to the
// end of each partition; then it keeps reading, committing the state with
// the positions reached.
type globalRunner struct {
	e     *Engine
	tasks []*globalTask
	views map[string]processor.StateStore
	cl    *kgo.Client
	// route maps a global topic to its task.
	route map[string]*globalTask
}

type globalTask struct {
	id    TaskID
	task  *exec.Task
	pos   map[topicPartition]int64
	dirty bool
}

func newGlobalRunner(e *Engine) *globalRunner {
	return &globalRunner{e: e, views: map[string]processor.StateStore{}, route: map[string]*globalTask{}}
}

// noCollector rejects output: global store processors only keep stores.
type noCollector struct{}

func (noCollector) Send(processor.TaskID, exec.OutRecord) error {
	return errors.New("a global store processor cannot forward records to sinks")
}
func (noCollector) Partitions(string) (int, error) {
	return 0, errors.New("no partitions for global stores")
}

func (g *globalRunner) bootstrap(ctx context.Context) error {
	e := g.e
	start := map[string]map[int32]kgo.Offset{}
	ends := map[topicPartition]int64{}
	for _, st := range e.opts.Topology.GlobalSubTopologies() {
		id := TaskID{SubTopology: st.ID, Partition: -1}
		task, err := exec.NewTask(st.Spec(), id, exec.Env{
			ApplicationID: e.opts.AppID, Collector: noCollector{},
			WallClock: func() int64 { return time.Now().UnixMilli() },
			Logger:    e.log, OnDeserializationError: e.opts.OnDeserializationError,
			Metrics: e.metrics, StateDB: e.opts.DB, NoChangelogs: true,
		})
		if err != nil {
			return fmt.Errorf("global store: %w", err)
		}
		if err := task.Init(); err != nil {
			return fmt.Errorf("global store: %w", err)
		}
		gt := &globalTask{id: id, task: task, pos: map[topicPartition]int64{}}
		g.tasks = append(g.tasks, gt)
		for _, topic := range st.SourceTopics {
			g.route[topic] = gt
			n, err := e.partitions(topic)
			if err != nil {
				return err
			}
			offs, err := e.adm.ListCommittedOffsets(ctx, topic)
			if err != nil {
				return fmt.Errorf("global store: listing the end of %s: %w", topic, err)
			}
			start[topic] = map[int32]kgo.Offset{}
			for p := range int32(n) {
				tp := topicPartition{topic, p}
				next, ok, err := metaOffset(task.State().Meta(), metaPosition+topic+"/"+strconv.Itoa(int(p)))
				if err != nil {
					return err
				}
				if !ok {
					next = 0
				}
				gt.pos[tp] = next
				start[topic][p] = kgo.NewOffset().At(next)
				if o, ok := offs.Lookup(topic, p); ok && o.Err == nil {
					ends[tp] = o.Offset
				}
			}
		}
		for _, name := range st.Stores {
			b, _, _ := e.opts.Topology.GlobalStore(name)
			ro, ok := b.(state.ReadOnlyBuilder)
			if !ok {
				return fmt.Errorf("global store %q cannot be read by other tasks", name)
			}
			v, err := ro.BuildReadOnly(e.opts.DB.Committed(id, name))
			if err != nil {
				return err
			}
			g.views[name] = v
		}
	}
	cl, err := kgo.NewClient(e.clientOpts(kgo.ConsumePartitions(start), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(), kgo.FetchMaxBytes(64<<20))...)
	if err != nil {
		return err
	}
	g.cl = cl
	behind := func() bool {
		for tp, end := range ends {
			if g.route[tp.topic].pos[tp] < end {
				return true
			}
		}
		return false
	}
	began := time.Now()
	for behind() {
		if err := g.pollOnce(ctx); err != nil {
			return err
		}
		if err := g.commit(); err != nil {
			return err
		}
	}
	e.log.Info("global stores caught up", "took", time.Since(began).Round(time.Millisecond))
	return nil
}

func (g *globalRunner) pollOnce(ctx context.Context) error {
	pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	fetches := g.cl.PollRecords(pctx, 10000)
	cancel()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var perr error
	fetches.EachRecord(func(r *kgo.Record) {
		if perr != nil {
			return
		}
		gt := g.route[r.Topic]
		tp := topicPartition{r.Topic, r.Partition}
		gt.pos[tp] = r.Offset + 1
		gt.dirty = true
		if r.Attrs.IsControl() {
			return
		}
		raw := exec.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset, Key: r.Key, Value: r.Value,
			Timestamp: r.Timestamp.UnixMilli()}
		for _, h := range r.Headers {
			raw.Headers = append(raw.Headers, processor.Header{Key: h.Key, Value: h.Value})
		}
		if err := gt.task.Process(raw); err != nil {
			perr = fmt.Errorf("global store: %w", err)
		}
	})
	return perr
}

func (g *globalRunner) commit() error {
	for _, gt := range g.tasks {
		if !gt.dirty {
			continue
		}
		if err := gt.task.Flush(); err != nil {
			return err
		}
		meta := gt.task.State().Meta()
		for tp, next := range gt.pos {
			if err := meta.Set([]byte(metaPosition+tp.topic+"/"+strconv.Itoa(int(tp.partition))), binary.BigEndian.AppendUint64(nil, uint64(next))); err != nil {
				return err
			}
		}
		if err := gt.task.State().Commit(); err != nil {
			return err
		}
		gt.dirty = false
	}
	return nil
}

func (g *globalRunner) run(ctx context.Context) error {
	defer func() {
		_ = g.commit()
		for _, gt := range g.tasks {
			gt.task.Close()
		}
		g.cl.Close()
	}()
	last := time.Now()
	for ctx.Err() == nil {
		if err := g.pollOnce(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if time.Since(last) >= g.e.opts.CommitInterval {
			if err := g.commit(); err != nil {
				return err
			}
			last = time.Now()
		}
	}
	return nil
}
