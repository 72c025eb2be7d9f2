package main

// The driver side: input generation, preloading, the paced producer and the
// read_committed consumer that measures when outputs become visible.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	keyLen   = 16
	valueLen = 100
	// dropMark starts the value of every tenth input record; workload (b)
	// filters those out.
	dropMark = 'D'
)

// splitmix64 spreads record indexes over the key space.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// keyFor returns the 16-byte key "key0000000012345" of key number k.
func keyFor(k uint64) []byte {
	b := []byte("key0000000000000")
	for i := keyLen - 1; i >= 3 && k > 0; i-- {
		b[i] = byte('0' + k%10)
		k /= 10
	}
	return b
}

// inputKey is the key of input record i: uniform over keys distinct keys.
func inputKey(i int64, keys int) []byte { return keyFor(splitmix64(uint64(i)) % uint64(keys)) }

// inputValue is the 100-byte value of input record i: lower-case letters,
// starting with dropMark for every tenth record.
func inputValue(i int64) []byte {
	v := make([]byte, valueLen)
	x := splitmix64(uint64(i) ^ 0x5bd1e995)
	for j := range v {
		if j%12 == 0 {
			x = splitmix64(x)
		}
		v[j] = 'a' + byte(x%26)
		x /= 26
	}
	if i%10 == 0 {
		v[0] = dropMark
	} else {
		v[0] = 'v'
	}
	return v
}

// passing counts the records of [lo, hi) that workload (b)'s filter keeps.
func passing(lo, hi int64) int64 {
	drops := func(n int64) int64 { return (n + 9) / 10 } // i in [0,n) with i%10 == 0
	return (hi - lo) - (drops(hi) - drops(lo))
}

func newProducer(brokers []string, linger time.Duration) (*kgo.Client, error) {
	return kgo.NewClient(kgo.SeedBrokers(brokers...),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), // murmur2 of the key, as Kafka's
		kgo.ProducerLinger(linger),
		kgo.MaxBufferedRecords(100_000),
		kgo.ProducerBatchMaxBytes(1<<20),
	)
}

// preload writes records [lo, hi) of the input to topic as fast as it can,
// each stamped with the time it is handed to the client.
func preload(ctx context.Context, brokers []string, topic string, lo, hi int64, keys int) error {
	cl, err := newProducer(brokers, 5*time.Millisecond)
	if err != nil {
		return err
	}
	defer cl.Close()
	var firstErr atomic.Value
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
	}
	for i := lo; i < hi; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: inputKey(i, keys), Value: inputValue(i), Timestamp: time.Now()}, cb)
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if e, _ := firstErr.Load().(error); e != nil {
		return fmt.Errorf("preloading %s: %w", topic, e)
	}
	return nil
}

// preloadTable writes one 100-byte value for each of keys keys.
func preloadTable(ctx context.Context, brokers []string, topic string, keys int) error {
	cl, err := newProducer(brokers, 5*time.Millisecond)
	if err != nil {
		return err
	}
	defer cl.Close()
	var firstErr atomic.Value
	for k := range keys {
		v := inputValue(int64(k) + 1<<40)
		v[0] = 't'
		cl.Produce(ctx, &kgo.Record{Topic: topic, Key: keyFor(uint64(k)), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				firstErr.CompareAndSwap(nil, err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if e, _ := firstErr.Load().(error); e != nil {
		return fmt.Errorf("preloading %s: %w", topic, e)
	}
	return nil
}

// paced produces records [lo, hi) at rate records per second, each stamped
// with the time it is produced, without lingering. It returns the rate it
// achieved.
func paced(ctx context.Context, brokers []string, topic string, lo, hi int64, keys int, rate float64) (float64, error) {
	cl, err := newProducer(brokers, 0)
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var firstErr atomic.Value
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, err)
		}
	}
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	i := lo
	for i < hi {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
		due := lo + int64(rate*time.Since(start).Seconds())
		for ; i < hi && i < due; i++ {
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: inputKey(i, keys), Value: inputValue(i), Timestamp: time.Now()}, cb)
		}
	}
	elapsed := time.Since(start)
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	if e, _ := firstErr.Load().(error); e != nil {
		return 0, fmt.Errorf("producing to %s: %w", topic, e)
	}
	return float64(hi-lo) / elapsed.Seconds(), nil
}

// outputMode says how the measurer counts progress on an output topic.
type outputMode int

const (
	// countRecords: progress is the number of output records.
	countRecords outputMode = iota
	// sumCounts: outputs are running counts per key (8-byte big-endian
	// values); progress is the sum of each key's latest count, that is the
	// number of input records counted.
	sumCounts
	// sumGokaCounts: as sumCounts, but goka's values are count (8 bytes) +
	// input timestamp in ms (8 bytes), because goka stamps its outputs with
	// the time it produces them, not with the input's timestamp.
	sumGokaCounts
)

// measurer consumes an output topic with read_committed isolation and
// records, for every output record, the time it became visible minus the
// timestamp of the input record it carries.
type measurer struct {
	cl   *kgo.Client
	mode outputMode

	// pacedFrom is the first input timestamp (ms) of the paced pass:
	// outputs stamped at or after it go to the paced histogram.
	pacedFrom atomic.Int64

	mu       sync.Mutex
	cond     *sync.Cond
	progress int64
	at       time.Time // when progress last changed
	full     Hist
	paced    Hist
	latest   map[string]int64
	err      error
	bad      int64
	// misses counts outputs of at most valueLen bytes: join outputs
	// without a table value.
	misses int64
}

func startMeasurer(ctx context.Context, brokers []string, topic string, mode outputMode) (*measurer, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(50*time.Millisecond))
	if err != nil {
		return nil, err
	}
	m := &measurer{cl: cl, mode: mode, latest: map[string]int64{}}
	m.cond = sync.NewCond(&m.mu)
	m.pacedFrom.Store(math.MaxInt64)
	go m.run(ctx)
	return m, nil
}

func (m *measurer) run(ctx context.Context) {
	for {
		fs := m.cl.PollFetches(ctx)
		now := time.Now()
		if fs.IsClientClosed() || ctx.Err() != nil {
			m.mu.Lock()
			if m.err == nil {
				m.err = errors.New("measurer stopped")
			}
			m.cond.Broadcast()
			m.mu.Unlock()
			return
		}
		nowUs := now.UnixMicro()
		pacedFrom := m.pacedFrom.Load()
		m.mu.Lock()
		before := m.progress
		fs.EachRecord(func(r *kgo.Record) {
			ts := r.Timestamp.UnixMilli()
			switch m.mode {
			case countRecords:
				m.progress++
				if len(r.Value) <= valueLen {
					m.misses++
				}
			case sumCounts, sumGokaCounts:
				if len(r.Value) < 8 || (m.mode == sumGokaCounts && len(r.Value) < 16) {
					m.bad++
					return
				}
				n := int64(binary.BigEndian.Uint64(r.Value))
				if m.mode == sumGokaCounts {
					ts = int64(binary.BigEndian.Uint64(r.Value[8:]))
				}
				k := string(r.Key)
				m.progress += n - m.latest[k]
				m.latest[k] = n
			}
			lat := nowUs - ts*1000
			if ts >= pacedFrom {
				m.paced.RecordMicros(lat)
			} else {
				m.full.RecordMicros(lat)
			}
		})
		if m.progress != before {
			m.at = now
			m.cond.Broadcast()
		}
		m.mu.Unlock()
	}
}

// waitFor waits until progress reaches target and returns the time it did.
func (m *measurer) waitFor(target int64, timeout time.Duration) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
	defer t.Stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.progress < target {
		if m.err != nil {
			return time.Time{}, m.err
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("timed out after %v with progress %d of %d", timeout, m.progress, target)
		}
		m.cond.Wait()
	}
	return m.at, nil
}

// wake makes a waiter re-check its conditions (used when a child fails).
func (m *measurer) wake(err error) {
	m.mu.Lock()
	if m.err == nil {
		m.err = err
	}
	m.cond.Broadcast()
	m.mu.Unlock()
}

func (m *measurer) snapshot() (full, paced Hist, misses int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	full.Merge(&m.full)
	paced.Merge(&m.paced)
	return full, paced, m.misses
}

func (m *measurer) close() { m.cl.Close() }

// createTopics creates topics with partitions partitions and the broker's
// default replication factor.
func createTopics(ctx context.Context, adm *kadm.Client, partitions int32, configs map[string]*string, topics ...string) error {
	resp, err := adm.CreateTopics(ctx, partitions, -1, configs, topics...)
	if err != nil {
		return err
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil {
			return fmt.Errorf("creating %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// deleteTopicsWithPrefix deletes every topic whose name starts with prefix.
func deleteTopicsWithPrefix(ctx context.Context, adm *kadm.Client, prefix string) error {
	tds, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, td := range tds.Sorted() {
		if len(td.Topic) >= len(prefix) && td.Topic[:len(prefix)] == prefix {
			names = append(names, td.Topic)
		}
	}
	if len(names) == 0 {
		return nil
	}
	_, err = adm.DeleteTopics(ctx, names...)
	return err
}
