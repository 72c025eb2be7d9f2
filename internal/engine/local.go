package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
)

// committedOffset is a partition's committed offset with the partition time
// stored in its metadata.
type committedOffset struct {
	offset  int64
	time    int64
	hasTime bool
}

// committedOffsets fetches the group's committed offsets with
// RequireStable, so that offsets a pending transaction is committing are
// waited for rather than read stale.
func (e *Engine) committedOffsets(ctx context.Context) (map[topicPartition]committedOffset, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, unstable, err := e.fetchOffsets(ctx)
		if err == nil && !unstable {
			return out, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if time.Now().After(deadline) {
			if err == nil {
				err = errors.New("offsets still unstable: a transaction is pending")
			}
			return nil, fmt.Errorf("fetching committed offsets: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *Engine) fetchOffsets(ctx context.Context) (map[topicPartition]committedOffset, bool, error) {
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Group = e.opts.AppID
	req.RequireStable = true
	for _, topic := range e.layout.Topics() {
		rt := kmsg.NewOffsetFetchRequestTopic()
		rt.Topic = topic
		n := e.Counts()[topic]
		for p := range n {
			rt.Partitions = append(rt.Partitions, p)
		}
		req.Topics = append(req.Topics, rt)
	}
	resp, err := req.RequestWith(ctx, e.admCl)
	if err != nil {
		return nil, false, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return nil, errors.Is(err, kerr.UnstableOffsetCommit), err
	}
	out := map[topicPartition]committedOffset{}
	unstable := false
	for _, t := range resp.Topics {
		for _, p := range t.Partitions {
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				if errors.Is(err, kerr.UnstableOffsetCommit) {
					unstable = true
					continue
				}
				return nil, false, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err)
			}
			if p.Offset < 0 {
				continue
			}
			c := committedOffset{offset: p.Offset}
			if p.Metadata != nil {
				c.time, c.hasTime = parsePartitionTime(*p.Metadata)
			}
			out[topicPartition{t.Topic, p.Partition}] = c
		}
	}
	return out, unstable, nil
}

// localOffsets sums, for every task with local state, the changelog offsets
// its stores recorded: the leader prefers the most caught-up copy.
func (e *Engine) localOffsets() map[TaskID]int64 {
	out := map[TaskID]int64{}
	for _, id := range e.layout.Tasks(e.Counts()) {
		if !e.layout.Stateful(id.SubTopology) {
			continue
		}
		meta := e.opts.DB.CommittedMeta(id)
		var sum int64
		found := false
		for _, b := range e.opts.Topology.SubTopologies()[id.SubTopology].Spec().Stores {
			if off, ok, err := metaOffset(meta, metaChangelog+b.Name()); err == nil && ok {
				sum += off + 1
				found = true
			}
		}
		if found {
			out[id] = sum
		}
	}
	return out
}

// scheduleCleanup deletes a task's local state after the cleanup delay,
// unless the task comes back before.
func (e *Engine) scheduleCleanup(id TaskID) {
	if e.opts.StateCleanupDelay < 0 || !e.layout.Stateful(id.SubTopology) {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cleanups == nil {
		e.cleanups = map[TaskID]*time.Timer{}
	}
	if t, ok := e.cleanups[id]; ok {
		t.Stop()
	}
	e.cleanups[id] = time.AfterFunc(e.opts.StateCleanupDelay, func() {
		e.mu.Lock()
		delete(e.cleanups, id)
		e.mu.Unlock()
		if err := e.opts.DB.DropTask(id); err != nil {
			e.log.Debug("state cleanup skipped", "task", id.String(), "error", err)
			return
		}
		e.log.Info("removed the local state of a task that left", "task", id.String())
	})
}

func (e *Engine) cancelCleanup(id TaskID) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if t, ok := e.cleanups[id]; ok {
		t.Stop()
		delete(e.cleanups, id)
	}
}

// deadLetter returns the function that sends a failed record's original
// bytes to the dead-letter topic in the thread's transaction, with headers
// describing the error and the record's source, or nil when no topic is
// configured.
func (e *Engine) deadLetter(t *thread) func(processor.TaskID, *exec.RawRecord, error) error {
	topic := e.opts.DeadLetterTopic
	if topic == "" {
		return nil
	}
	return func(task processor.TaskID, raw *exec.RawRecord, cause error) error {
		kind, part := "processing", ""
		var de *processor.DeserializationError
		if errors.As(cause, &de) {
			kind, part = "deserialization", de.Part
		}
		h := append(processor.Headers(nil), raw.Headers...)
		h = append(h,
			processor.Header{Key: "streams.error", Value: []byte(cause.Error())},
			processor.Header{Key: "streams.error.kind", Value: []byte(kind)},
		)
		if part != "" {
			h = append(h, processor.Header{Key: "streams.error.part", Value: []byte(part)})
		}
		h = append(h,
			processor.Header{Key: "streams.source.topic", Value: []byte(raw.Topic)},
			processor.Header{Key: "streams.source.partition", Value: []byte(fmt.Sprint(raw.Partition))},
			processor.Header{Key: "streams.source.offset", Value: []byte(fmt.Sprint(raw.Offset))},
			processor.Header{Key: "streams.task", Value: []byte(task.String())},
		)
		return t.coll.Send(task, exec.OutRecord{Topic: topic, Partition: -1, Key: raw.Key, Value: raw.Value,
			Timestamp: max(raw.Timestamp, 0), Headers: h})
	}
}

func (e *Engine) globalStores() map[string]processor.StateStore {
	if e.global == nil {
		return nil
	}
	return e.global.views
}
