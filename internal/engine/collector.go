package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/processor"
)

// ProductionPolicy says what happens when a record cannot be produced.
type ProductionPolicy int

const (
	// FailOnProductionError fails the thread (and with it the
	// transaction): nothing is lost, nothing half-written.
	FailOnProductionError ProductionPolicy = iota
	// SkipOnProductionError logs and counts the record and goes on. It
	// applies to records a broker rejects (too large, invalid); errors that
	// fail the transaction itself always fail.
	SkipOnProductionError
)

// collector produces what a thread's sinks and stores write, in the
// thread's transaction under exactly-once. It records the offset of the last
// changelog record per partition, which a commit stores with the state.
type collector struct {
	t      *thread
	policy ProductionPolicy

	// promises holds each task's produce callbacks, made once so sending a
	// record allocates no closure.
	promises map[processor.TaskID]*promises
	// lastTask and last are the latest lookup in promises: a task sends
	// its records in a row.
	lastTask processor.TaskID
	last     *promises

	// failed is set with err, so Send checks it without the lock.
	failed atomic.Bool
	mu     sync.Mutex
	// err is the first asynchronous production error.
	err error
	// changelog maps changelog topic-partitions to the offset of the last
	// record produced in the current transaction.
	changelog map[topicPartition]int64
	rr        map[string]int32
	// counts caches the engine's partition counts for this thread's
	// goroutine, so that sending a record takes no lock.
	counts map[string]int
	// produced counts records sent since the last transaction ended.
	produced int
	// e2e counts the end-to-end latency of the records sent since the
	// thread's latest commit, which adds it to the engine's histogram.
	e2e *localHistogram
	// slab is where Send takes its next records from: records are
	// allocated recordSlab at a time and never reused (see newRecord).
	slab []kgo.Record
}

// recordSlab is how many records a collector allocates at once.
const recordSlab = 256

// newRecord returns a zero record from the collector's slab. A slab is
// garbage once franz-go has finished with all its records, which happens
// about in the order they were sent, within a commit or so; done clears
// each record meanwhile. This costs less than recycling each record
// through a sync.Pool once its promise has run: the promises run on
// franz-go's goroutines, so the thread's Get mostly missed its own P's pool
// and took records, cold, from another's.
func (c *collector) newRecord() *kgo.Record {
	if len(c.slab) == 0 {
		c.slab = make([]kgo.Record, recordSlab)
	}
	r := &c.slab[0]
	c.slab = c.slab[1:]
	return r
}

func newCollector(t *thread, policy ProductionPolicy) *collector {
	return &collector{t: t, policy: policy, changelog: map[topicPartition]int64{}, rr: map[string]int32{},
		counts: map[string]int{}, promises: map[processor.TaskID]*promises{}, e2e: t.e.metrics.EndToEnd.local()}
}

// promises are one task's produce callbacks: out for sink records, changelog
// for changelog records.
type promises struct {
	out, changelog func(*kgo.Record, error)
}

func (c *collector) promisesFor(task processor.TaskID) *promises {
	if c.last != nil && c.lastTask == task {
		return c.last
	}
	if p, ok := c.promises[task]; ok {
		c.lastTask, c.last = task, p
		return p
	}
	p := &promises{
		out:       func(r *kgo.Record, err error) { c.done(task, r, err, false) },
		changelog: func(r *kgo.Record, err error) { c.done(task, r, err, true) },
	}
	c.promises[task] = p
	return p
}

// done is the produce callback: it records the first error, or a changelog
// record's offset. It then clears the record: its slab lives on until every
// record in it is done, and a key or value may share the bytes of a whole
// fetched batch (a serde.Bytes value passed through), which the record must
// not keep in memory that long.
func (c *collector) done(task processor.TaskID, r *kgo.Record, err error, changelog bool) {
	if err == nil && !changelog {
		*r = kgo.Record{}
		return
	}
	c.mu.Lock()
	defer func() {
		c.mu.Unlock()
		*r = kgo.Record{}
	}()
	if err != nil {
		if c.policy == SkipOnProductionError && !changelog && skippable(err) {
			c.t.e.metrics.dropped(task, "production-error")
			c.t.log.Warn("skipping a record that could not be produced", "topic", r.Topic, "partition", r.Partition, "error", err)
			return
		}
		if c.err == nil {
			c.err = fmt.Errorf("producing to %s/%d: %w", r.Topic, r.Partition, err)
			c.failed.Store(true)
		}
		return
	}
	if changelog {
		tp := topicPartition{r.Topic, r.Partition}
		if r.Offset > c.changelog[tp] {
			c.changelog[tp] = r.Offset
		}
	}
}

// Send implements exec.Collector.
func (c *collector) Send(task processor.TaskID, rec exec.OutRecord) error {
	if c.failed.Load() {
		if err := c.firstErr(); err != nil {
			return err
		}
	}
	p := rec.Partition
	if p < 0 {
		n, err := c.Partitions(rec.Topic)
		if err != nil {
			return err
		}
		if rec.Key == nil {
			p = c.rr[rec.Topic] % int32(n)
			c.rr[rec.Topic] = p + 1
		} else {
			p = murmur2.Partition(rec.Key, n)
		}
	}
	r := c.newRecord()
	*r = kgo.Record{
		Topic: rec.Topic, Partition: p, Key: rec.Key, Value: rec.Value,
		Timestamp: time.UnixMilli(rec.Timestamp),
	}
	if len(rec.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(rec.Headers))
		for i, h := range rec.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	changelog := c.t.e.isChangelog(rec.Topic)
	c.produced++
	if !changelog && rec.Timestamp > 0 && c.t.now > 0 {
		c.e2e.observe(float64(c.t.now-rec.Timestamp) / 1000)
	}
	promise := c.promisesFor(task).out
	if changelog {
		promise = c.promisesFor(task).changelog
	}
	c.t.cl.Produce(context.Background(), r, promise)
	return nil
}

// skippable reports whether a production error concerns only the record.
func skippable(err error) bool {
	return !errors.Is(err, kgo.ErrRecordTimeout) && !errors.Is(err, kgo.ErrAborting) && isRecordError(err)
}

// Partitions implements exec.Collector.
func (c *collector) Partitions(topic string) (int, error) {
	if n, ok := c.counts[topic]; ok {
		return n, nil
	}
	n, err := c.t.e.partitions(topic)
	if err == nil {
		c.counts[topic] = n
	}
	return n, err
}

func (c *collector) firstErr() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// takeChangelogOffsets returns and clears the changelog offsets of the
// transaction that just ended.
func (c *collector) takeChangelogOffsets() map[topicPartition]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.changelog
	c.changelog = map[topicPartition]int64{}
	c.produced = 0
	return out
}

// producedSince reports whether records were sent since the last
// transaction ended. Only the thread's goroutine calls it and Send.
func (c *collector) producedSince() bool { return c.produced > 0 }

func (c *collector) reset() {
	c.mu.Lock()
	c.err = nil
	c.failed.Store(false)
	c.promises = map[processor.TaskID]*promises{}
	c.last = nil
	c.changelog = map[topicPartition]int64{}
	c.produced = 0
	c.mu.Unlock()
}
