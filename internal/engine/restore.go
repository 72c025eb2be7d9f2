package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// restoreBatch is how many changelog records a restore applies between
// commits of the task's state.
const restoreBatch = 50000

// metaOffset reads an int64 metadata value.
func metaOffset(b *state.Bucket, key string) (int64, bool, error) {
	v, ok, err := b.Get([]byte(key))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, fmt.Errorf("metadata %q has %d bytes, want 8", key, len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), true, nil
}

// restoreTask brings every logged store of an active task up to the end of
// its changelog partition, starting after the offset its state recorded.
func (e *Engine) restoreTask(ctx context.Context, log *slog.Logger, task *exec.Task) error {
	ts := task.State()
	if ts == nil {
		return nil
	}
	for _, s := range task.Stores() {
		if err := e.restoreStore(ctx, log, task.ID(), ts, s); err != nil {
			return err
		}
	}
	return nil
}

func (e *Engine) restoreStore(ctx context.Context, log *slog.Logger, id processor.TaskID, ts *state.TaskState, s state.Store) error {
	b, _, ok := e.opts.Topology.Store(s.Name())
	if !ok {
		return nil
	}
	if _, logged := b.Changelog(); !logged {
		return nil
	}
	r, ok := s.(state.Restorer)
	if !ok {
		return nil
	}
	topic := exec.ChangelogTopic(e.opts.AppID, s.Name())
	last, ok, err := metaOffset(ts.Meta(), metaChangelog+s.Name())
	if err != nil {
		return err
	}
	start := int64(0)
	if ok {
		start = last + 1
	}
	end, err := e.endOffset(ctx, topic, id.Partition)
	if err != nil {
		return err
	}
	if start >= end {
		return nil
	}
	log.Info("restoring", "task", id.String(), "store", s.Name(), "from", start, "to", end)
	left := e.metrics.RestoreLeft.WithLabelValues(s.Name(), id.String())
	done := e.metrics.RestoreDone.WithLabelValues(s.Name())
	began := time.Now()
	n, err := e.consumeChangelog(ctx, topic, id.Partition, start, end, func(batch []state.ChangelogRecord, upTo int64) error {
		if len(batch) == 0 {
			return nil
		}
		if err := r.RestoreBatch(batch); err != nil {
			return err
		}
		// The position is the last data record applied, as the active
		// task records it.
		last := batch[len(batch)-1].Offset
		if err := ts.Meta().Set([]byte(metaChangelog+s.Name()), binary.BigEndian.AppendUint64(nil, uint64(last))); err != nil {
			return err
		}
		done.Add(float64(len(batch)))
		left.Set(float64(end - 1 - last))
		return ts.Commit()
	})
	if err != nil {
		return fmt.Errorf("restoring store %q of task %s: %w", s.Name(), id, err)
	}
	left.Set(0)
	el := time.Since(began)
	log.Info("restored", "task", id.String(), "store", s.Name(), "records", n, "took", el.Round(time.Millisecond),
		"records_per_second", int64(float64(n)/max(el.Seconds(), 1e-9)))
	return nil
}

// endOffset returns the last stable offset of a partition: the end of what
// a read_committed consumer can read.
// A topic created moments ago may be unknown to the metadata for a short
// while; it is retried for up to 15 seconds.
func (e *Engine) endOffset(ctx context.Context, topic string, p int32) (int64, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		offs, err := e.adm.ListCommittedOffsets(ctx, topic)
		if err == nil {
			o, ok := offs.Lookup(topic, p)
			switch {
			case ok && o.Err == nil:
				return o.Offset, nil
			case ok:
				err = o.Err
			default:
				err = fmt.Errorf("partition %d not listed", p)
				if po, ok := offs.Lookup(topic, -1); ok && po.Err != nil {
					err = po.Err
				}
			}
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("listing the end of %s/%d: %w", topic, p, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consumeChangelog reads a changelog partition from start up to end
// (exclusive) with read_committed isolation, handing records to apply in
// batches together with the offset reached. Control records and aborted
// records are skipped; the offsets they take still count towards end.
func (e *Engine) consumeChangelog(ctx context.Context, topic string, p int32, start, end int64, apply func([]state.ChangelogRecord, int64) error) (int64, error) {
	cl, err := kgo.NewClient(e.clientOpts(
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().At(start)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(64<<20),
		kgo.FetchMaxPartitionBytes(32<<20),
	)...)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int64
	reached := start - 1
	batch := make([]state.ChangelogRecord, 0, restoreBatch)
	lastProgress := time.Now()
	for reached < end-1 {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := cl.PollRecords(pctx, restoreBatch)
		cancel()
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		var ferr error
		fetches.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return n, ferr
		}
		fetches.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end {
				return
			}
			reached = r.Offset
			if r.Attrs.IsControl() {
				return
			}
			batch = append(batch, state.ChangelogRecord{Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli(), Offset: r.Offset})
		})
		if len(batch) > 0 {
			if err := apply(batch, reached); err != nil {
				return n, err
			}
			n += int64(len(batch))
			batch = batch[:0]
			lastProgress = time.Now()
		}
		if time.Since(lastProgress) > 60*time.Second {
			return n, fmt.Errorf("no progress restoring %s/%d for 60s (at %d, end %d)", topic, p, reached, end)
		}
	}
	// Record the end as reached even when the last offsets were control
	// records.
	return n, apply(nil, end-1)
}
