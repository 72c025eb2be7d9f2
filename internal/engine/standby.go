package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/state"
)

// standbyRunner keeps this process's standby tasks warm: it tails their
// stores' changelogs into local state, committing it with the offsets
// reached, so that a task moving here restores only the tail.
type standbyRunner struct {
	e     *Engine
	wakeC chan struct{}
	cl    *kgo.Client
	tasks map[TaskID]*standbyTask
	// byTP routes changelog partitions to the store they rebuild.
	byTP map[topicPartition]*standbyStore
}

type standbyTask struct {
	id     TaskID
	ts     *state.TaskState
	stores []*standbyStore
	dirty  bool
}

type standbyStore struct {
	task    *standbyTask
	name    string
	r       state.Restorer
	store   state.Store
	reached int64
	batch   []state.ChangelogRecord
}

func newStandbyRunner(e *Engine) *standbyRunner {
	return &standbyRunner{e: e, wakeC: make(chan struct{}, 1), tasks: map[TaskID]*standbyTask{}, byTP: map[topicPartition]*standbyStore{}}
}

func (r *standbyRunner) wake() {
	select {
	case r.wakeC <- struct{}{}:
	default:
	}
}

func (r *standbyRunner) run(ctx context.Context) error {
	cl, err := kgo.NewClient(r.e.clientOpts(kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())...)
	if err != nil {
		return err
	}
	r.cl = cl
	defer func() {
		for _, st := range r.tasks {
			r.close(st)
		}
		cl.Close()
	}()
	lastCommit := time.Now()
	for ctx.Err() == nil {
		select {
		case <-r.wakeC:
			if err := r.reconcile(ctx); err != nil {
				return err
			}
		default:
		}
		if len(r.tasks) == 0 {
			select {
			case <-ctx.Done():
				return nil
			case <-r.wakeC:
				if err := r.reconcile(ctx); err != nil {
					return err
				}
			case <-time.After(time.Second):
			}
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		fetches := cl.PollRecords(pctx, 10000)
		cancel()
		fetches.EachRecord(func(rec *kgo.Record) {
			s, ok := r.byTP[topicPartition{rec.Topic, rec.Partition}]
			if !ok {
				return
			}
			if rec.Attrs.IsControl() {
				return
			}
			// Like the active task, a standby records the offset of the
			// last data record it applied, so that both copies report
			// the same position.
			s.reached = rec.Offset
			s.task.dirty = true
			s.batch = append(s.batch, state.ChangelogRecord{Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp.UnixMilli(), Offset: rec.Offset})
		})
		if time.Since(lastCommit) >= r.e.opts.CommitInterval {
			if err := r.commitAll(); err != nil {
				return err
			}
			lastCommit = time.Now()
		}
	}
	return nil
}

// commitAll applies what each standby read and commits it with its offsets.
func (r *standbyRunner) commitAll() error {
	for _, st := range r.tasks {
		if err := r.commit(st); err != nil {
			return err
		}
	}
	return nil
}

func (r *standbyRunner) commit(st *standbyTask) error {
	if !st.dirty {
		return nil
	}
	for _, s := range st.stores {
		if len(s.batch) > 0 {
			if err := s.r.RestoreBatch(s.batch); err != nil {
				return fmt.Errorf("standby task %s: %w", st.id, err)
			}
			r.e.metrics.RestoreDone.WithLabelValues(s.name).Add(float64(len(s.batch)))
			s.batch = s.batch[:0]
		}
		if s.reached >= 0 {
			if err := st.ts.Meta().Set([]byte(metaChangelog+s.name), binary.BigEndian.AppendUint64(nil, uint64(s.reached))); err != nil {
				return err
			}
		}
	}
	st.dirty = false
	return st.ts.Commit()
}

// reconcile opens the standby tasks assigned to this process and closes
// the others, committing them first.
func (r *standbyRunner) reconcile(ctx context.Context) error {
	want := map[TaskID]bool{}
	for _, id := range r.e.processStandbys() {
		want[id] = true
	}
	for id, st := range r.tasks {
		if !want[id] {
			if err := r.commit(st); err != nil {
				return err
			}
			r.close(st)
		}
	}
	for id := range want {
		if _, ok := r.tasks[id]; ok {
			continue
		}
		st, err := r.open(id)
		if errors.Is(err, state.ErrTaskOpen) {
			// Still active on a thread of this process; try later.
			go func() {
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
					r.wake()
				}
			}()
			continue
		}
		if err != nil {
			return err
		}
		r.tasks[id] = st
	}
	return nil
}

func (r *standbyRunner) open(id TaskID) (*standbyTask, error) {
	subs := r.e.opts.Topology.SubTopologies()
	if id.SubTopology >= len(subs) {
		return nil, fmt.Errorf("standby: unknown sub-topology %d", id.SubTopology)
	}
	ts, err := r.e.opts.DB.Task(id)
	if err != nil {
		return nil, err
	}
	r.e.cancelCleanup(id)
	st := &standbyTask{id: id, ts: ts}
	add := map[string]map[int32]kgo.Offset{}
	for _, b := range subs[id.SubTopology].Spec().Stores {
		if _, logged := b.Changelog(); !logged {
			continue
		}
		s, err := b.Build(state.Env{Task: id, ApplicationID: r.e.opts.AppID, Logger: r.e.log, State: ts})
		if err != nil {
			r.close(st)
			return nil, err
		}
		rs, ok := s.(state.Restorer)
		if !ok {
			s.Close()
			continue
		}
		last, ok, err := metaOffset(ts.Meta(), metaChangelog+b.Name())
		if err != nil {
			s.Close()
			r.close(st)
			return nil, err
		}
		start := int64(0)
		if ok {
			start = last + 1
		}
		ss := &standbyStore{task: st, name: b.Name(), r: rs, store: s, reached: start - 1}
		st.stores = append(st.stores, ss)
		topic := exec.ChangelogTopic(r.e.opts.AppID, b.Name())
		r.byTP[topicPartition{topic, id.Partition}] = ss
		if add[topic] == nil {
			add[topic] = map[int32]kgo.Offset{}
		}
		add[topic][id.Partition] = kgo.NewOffset().At(start)
	}
	r.cl.AddConsumePartitions(add)
	return st, nil
}

func (r *standbyRunner) close(st *standbyTask) {
	remove := map[string][]int32{}
	for _, s := range st.stores {
		topic := exec.ChangelogTopic(r.e.opts.AppID, s.name)
		delete(r.byTP, topicPartition{topic, st.id.Partition})
		remove[topic] = append(remove[topic], st.id.Partition)
		s.store.Close()
	}
	if r.cl != nil && len(remove) > 0 {
		r.cl.RemoveConsumePartitions(remove)
	}
	st.ts.Close()
	delete(r.tasks, st.id)
}

// standbyTasks lists the standby tasks currently warm, sorted.
func (r *standbyRunner) standbyTasks() []TaskID {
	out := make([]TaskID, 0, len(r.tasks))
	for id := range r.tasks {
		out = append(out, id)
	}
	slices.SortFunc(out, compareTasks)
	return out
}
