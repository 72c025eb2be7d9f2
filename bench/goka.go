package main

// Workload (f): counting per key with goka v1.1.14 (sarama underneath), for
// comparison. goka is at-least-once: no transactions, its table topic is
// read by the measurer as soon as sarama's producer has written it.

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"log"
	"os"
	"path/filepath"

	"github.com/IBM/sarama"
	"github.com/lovoo/goka"
	"github.com/lovoo/goka/codec"
	"github.com/lovoo/goka/storage"
)

// gokaCount is the state of a key: its count and the timestamp (ms) of the
// input record that last updated it. The timestamp rides in the value
// because goka's producer stamps the table records with the time it sends
// them.
type gokaCount struct {
	n  int64
	ts int64
}

type gokaCountCodec struct{}

func (gokaCountCodec) Encode(v any) ([]byte, error) {
	c, ok := v.(gokaCount)
	if !ok {
		return nil, fmt.Errorf("gokaCountCodec: %T", v)
	}
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, uint64(c.n))
	binary.BigEndian.PutUint64(b[8:], uint64(c.ts))
	return b, nil
}

func (gokaCountCodec) Decode(b []byte) (any, error) {
	if len(b) != 16 {
		return nil, fmt.Errorf("gokaCountCodec: %d bytes", len(b))
	}
	return gokaCount{n: int64(binary.BigEndian.Uint64(b)), ts: int64(binary.BigEndian.Uint64(b[8:]))}, nil
}

// murmur2Hash makes goka partition its table like the input: Kafka's
// murmur2 partitioner, which sarama's hash partitioner reproduces when the
// hash is already masked to 31 bits.
type murmur2Hash struct{ buf []byte }

func (h *murmur2Hash) Write(p []byte) (int, error) { h.buf = append(h.buf, p...); return len(p), nil }
func (h *murmur2Hash) Sum(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, h.Sum32())
}
func (h *murmur2Hash) Reset()         { h.buf = h.buf[:0] }
func (h *murmur2Hash) Size() int      { return 4 }
func (h *murmur2Hash) BlockSize() int { return 4 }
func (h *murmur2Hash) Sum32() uint32  { return murmur2(h.buf) & 0x7fffffff }

// murmur2 is Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2).
func murmur2(data []byte) uint32 {
	const (
		seed = 0x9747b28c
		m    = 0x5bd1e995
		r    = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(n)
	for len(data) >= 4 {
		k := binary.LittleEndian.Uint32(data)
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		data = data[4:]
	}
	switch len(data) {
	case 3:
		h ^= uint32(data[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(data[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(data[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return h
}

func runGoka(ctx context.Context, a childArgs, first *firstMark, ready func()) error {
	cfg := goka.DefaultConfig()
	// goka reads input streams from the newest offset by default; the input
	// is preloaded.
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	goka.ReplaceGlobalConfig(cfg)
	tmc := goka.NewTopicManagerConfig()
	tmc.Table.Replication = 1
	tmc.Stream.Replication = 1

	g := goka.DefineGroup(goka.Group(a.appID),
		goka.Input(goka.Stream(a.in), new(codec.Bytes), func(gctx goka.Context, _ any) {
			first.mark()
			var c gokaCount
			if v := gctx.Value(); v != nil {
				c = v.(gokaCount)
			}
			c.n++
			c.ts = gctx.Timestamp().UnixMilli()
			gctx.SetValue(c)
		}),
		goka.Persist(gokaCountCodec{}),
	)
	sb := storage.DefaultBuilder(filepath.Join(a.stateDir, "goka")) // LevelDB, goka's default
	if a.gokaMemory {
		sb = storage.MemoryBuilder()
	}
	p, err := goka.NewProcessor(a.brokers, g,
		goka.WithStorageBuilder(sb),
		goka.WithTopicManagerBuilder(goka.TopicManagerBuilderWithTopicManagerConfig(tmc)),
		goka.WithHasher(func() hash.Hash32 { return &murmur2Hash{} }),
		goka.WithLogger(log.New(os.Stderr, "goka ", log.LstdFlags)),
	)
	if err != nil {
		return fmt.Errorf("goka: %w", err)
	}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(ctx) }()
	go func() {
		if err := p.WaitForReadyContext(ctx); err == nil {
			ready()
		}
	}()
	err = <-errc
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("goka: %w", err)
	}
	return nil
}
