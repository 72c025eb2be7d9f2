package main

// The workload side: what a workload child process runs.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams"
	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// workload describes one benchmark.
type workload struct {
	letter string
	name   string
	title  string
	// mode is how the measurer counts the outputs.
	mode outputMode
	// expect returns the progress the measurer must reach once input
	// records [0, n) are processed.
	expect func(n int64) int64
	// table: the workload also reads a compacted table topic.
	table bool
	// run is the child side.
	run func(ctx context.Context, a childArgs, first *firstMark, ready func()) error
}

var workloads = []workload{
	{letter: "a", name: "pipe", title: "raw franz-go EOS pipe", mode: countRecords,
		expect: func(n int64) int64 { return n }, run: runPipe},
	{letter: "b", name: "stateless", title: "Filter+MapValues→To, EOS", mode: countRecords,
		expect: func(n int64) int64 { return passing(0, n) }, run: runStreams},
	{letter: "c", name: "count", title: "GroupByKey+Count, EOS", mode: sumCounts,
		expect: func(n int64) int64 { return n }, run: runStreams},
	{letter: "d", name: "windowed", title: "1-min tumbling Count, EOS", mode: sumCounts,
		expect: func(n int64) int64 { return n }, run: runStreams},
	{letter: "e", name: "join", title: "stream-table left join, EOS", mode: countRecords, table: true,
		expect: func(n int64) int64 { return n }, run: runStreams},
	{letter: "f", name: "goka", title: "goka v1.1.14 count", mode: sumGokaCounts,
		expect: func(n int64) int64 { return n }, run: runGoka},
}

func findWorkload(s string) (workload, bool) {
	for _, w := range workloads {
		if s == w.letter || s == w.name {
			return w, true
		}
	}
	return workload{}, false
}

// childArgs are what the parent tells a workload child.
type childArgs struct {
	workload   string
	brokers    []string
	in, out    string
	table      string
	appID      string
	stateDir   string
	profileDir string
	// profilePaced: profile from "profile-start" (the paced pass) instead of
	// from the start.
	profilePaced bool
	threads      int
	diag         bool
	// fetchMaxWait, when set, is passed to the streams application's
	// clients (kgo.FetchMaxWait); zero keeps the library's (500 ms).
	fetchMaxWait time.Duration
	gokaMemory   bool
	// tuning is the parent's, parsed from the same flags.
	tuning *tuning
}

// runWorkloadChild is the main function of a workload child.
func runWorkloadChild(a childArgs) error {
	w, ok := findWorkload(a.workload)
	if !ok {
		return fmt.Errorf("unknown workload %q", a.workload)
	}
	var startProfile, stopProfile func()
	if a.profileDir != "" {
		base := filepath.Join(a.profileDir, w.letter+"-"+w.name)
		if a.profilePaced {
			base += "-paced"
		}
		var f *os.File
		var started, stopped sync.Once
		startProfile = func() {
			started.Do(func() {
				var err error
				if f, err = os.Create(base + ".cpu.pprof"); err != nil {
					emit("FAIL %v", err)
					return
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					emit("FAIL %v", err)
				}
			})
		}
		stopProfile = func() {
			stopped.Do(func() {
				if f == nil {
					return
				}
				pprof.StopCPUProfile()
				f.Close()
				// The allocation profile counts from the process's start.
				af, err := os.Create(base + ".allocs.pprof")
				if err == nil {
					runtime.GC()
					_ = pprof.Lookup("allocs").WriteTo(af, 0)
					af.Close()
				}
			})
		}
		if !a.profilePaced {
			startProfile()
		}
		defer stopProfile()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if a.diag {
		startDiag(ctx)
	}
	var readyOnce sync.Once
	ready := func() { readyOnce.Do(func() { emit("READY %s", selfUsage()) }) }
	first := &firstMark{}
	errc := make(chan error, 1)
	go func() { errc <- w.run(ctx, a, first, ready) }()
	go func() {
		serveCommands(func(cmd string) {
			switch {
			case cmd == "profile-start" && startProfile != nil:
				startProfile()
			case cmd == "profile-stop" && stopProfile != nil:
				stopProfile()
			}
		})
		cancel()
	}()
	err := <-errc
	if err != nil && !errors.Is(err, context.Canceled) {
		emit("FAIL %v", err)
		return err
	}
	return nil
}

// firstFetchHook reports the first fetched batch of the input topic.
type firstFetchHook struct {
	topic string
	first *firstMark
}

func (h firstFetchHook) OnFetchBatchRead(_ kgo.BrokerMetadata, topic string, _ int32, m kgo.FetchBatchMetrics) {
	if topic == h.topic && m.NumRecords > 0 {
		h.first.mark()
		inputFetched.Add(int64(m.NumRecords))
	}
}

func (h firstFetchHook) OnProduceRecordUnbuffered(r *kgo.Record, err error) {
	if diag != nil && err == nil && r.Topic != h.topic {
		diag.produced.Add(1)
	}
}

// diag, with -v, logs the child's fetched and produced counts.
var diag *diagCounters

type diagCounters struct{ produced atomic.Int64 }

// inputFetched counts the input records the workload's Kafka clients
// fetched (kgo hook; goka's sarama clients are not counted). More than the
// input means records were fetched again.
var inputFetched atomic.Int64

func startDiag(ctx context.Context) {
	diag = &diagCounters{}
	go func() {
		for ctx.Err() == nil {
			time.Sleep(250 * time.Millisecond)
			fmt.Fprintf(os.Stderr, "%s child fetched %d produced %d\n", time.Now().Format("15:04:05.000"), inputFetched.Load(), diag.produced.Load())
		}
	}()
}

// runPipe is workload (a): the raw franz-go exactly-once consume→produce
// loop, as franz-go's documentation writes it: one GroupTransactSession,
// read_committed, a transaction committed every 100 ms.
func runPipe(ctx context.Context, a childArgs, first *firstMark, ready func()) error {
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(a.brokers...),
		kgo.ConsumerGroup(a.appID),
		kgo.ConsumeTopics(a.in),
		kgo.TransactionalID(a.appID+"-txn"),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.WithHooks(firstFetchHook{a.in, first}),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { ready() }),
	)
	if err != nil {
		return err
	}
	defer sess.Close()
	const interval = 100 * time.Millisecond
	var prodErr error
	var mu sync.Mutex
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			mu.Lock()
			prodErr = errors.Join(prodErr, err)
			mu.Unlock()
		}
	}
	if err := sess.Begin(); err != nil {
		return err
	}
	last := time.Now()
	inTxn := 0
	for ctx.Err() == nil {
		wait := max(time.Until(last.Add(interval)), time.Millisecond)
		pctx, pcancel := context.WithTimeout(ctx, wait)
		fs := sess.PollRecords(pctx, 10000)
		pcancel()
		if fs.IsClientClosed() {
			return errors.New("client closed")
		}
		fs.EachRecord(func(r *kgo.Record) {
			inTxn++
			sess.Produce(ctx, &kgo.Record{Topic: a.out, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, cb)
		})
		if time.Since(last) >= interval && inTxn == 0 {
			// Nothing consumed: keep the transaction open. Ending a
			// transaction that commits no offsets makes franz-go's End
			// hold its lock for 500 ms (its pre-KIP-447 safety sleep,
			// taken because no TxnOffsetCommit response said otherwise).
			last = time.Now()
		}
		if time.Since(last) >= interval {
			ectx := ctx
			if ctx.Err() != nil {
				ectx = context.Background()
			}
			t0 := time.Now()
			if _, err := sess.End(ectx, kgo.TryCommit); err != nil {
				return fmt.Errorf("ending the transaction: %w", err)
			}
			if diag != nil {
				fmt.Fprintf(os.Stderr, "%s pipe: End took %v, %d records fetched\n", time.Now().Format("15:04:05.000"), time.Since(t0), inputFetched.Load())
			}
			mu.Lock()
			perr := prodErr
			mu.Unlock()
			if perr != nil {
				return perr
			}
			if err := sess.Begin(); err != nil {
				return err
			}
			last, inTxn = time.Now(), 0
		}
	}
	_, err = sess.End(context.Background(), kgo.TryCommit)
	return err
}

// topologyFor builds workloads (b) to (e).
func topologyFor(name string, a childArgs) (*topology.Topology, error) {
	b := topology.NewBuilder()
	in := kstream.From(b, a.in, serde.String(), serde.Bytes())
	switch name {
	case "stateless":
		kept := in.Filter(func(_ string, v []byte) bool { return len(v) > 0 && v[0] != dropMark })
		kstream.MapValues(kept, bytes.ToUpper).To(a.out)
	case "count":
		counts := kstream.Count(kstream.GroupByKey(in), "counts")
		kstream.FromTable(counts).To(a.out)
	case "windowed":
		counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(in), window.Tumbling(time.Minute)), "windowed-counts")
		kstream.FromTable(counts).To(a.out)
	case "join":
		// A left join, so that every input record has an output whatever
		// the order in which the engine reads the table and the stream:
		// with the inner JoinTable, the first stream records of a partition
		// can be processed while the table partition's queue is momentarily
		// empty between fetches, and they are dropped (the measurer counts
		// such misses: outputs with no table value).
		t := ktable.From(b, a.table, serde.String(), serde.Bytes(), "table")
		joined := kstream.LeftJoinTable(in, t, func(v []byte, tv *[]byte) []byte {
			if tv == nil {
				return v
			}
			out := make([]byte, 0, len(v)+len(*tv))
			return append(append(out, v...), *tv...)
		})
		joined.To(a.out)
	default:
		return nil, fmt.Errorf("no topology for %q", name)
	}
	return b.Build()
}

// runStreams runs workloads (b) to (e) as a streams application with the
// default configuration: exactly-once, one thread, 100 ms commit interval,
// 10 MiB record cache, state in Pebble.
func runStreams(ctx context.Context, a childArgs, first *firstMark, ready func()) error {
	topo, err := topologyFor(a.workload, a)
	if err != nil {
		return err
	}
	kopts := []kgo.Opt{kgo.WithHooks(firstFetchHook{a.in, first})}
	if a.fetchMaxWait > 0 {
		kopts = append(kopts, kgo.FetchMaxWait(a.fetchMaxWait))
	}
	app, err := streams.New(topo, streams.Config{
		ApplicationID:         a.appID,
		Brokers:               a.brokers,
		StateDir:              a.stateDir,
		Threads:               a.threads,
		KafkaOptions:          kopts,
		CacheMaxBytes:         int64(a.tuning.cacheMiB) << 20,
		PebbleBlockCacheBytes: int64(max(a.tuning.blockCacheMiB, 0)) << 20,
		PebbleMemTableBytes:   uint64(max(a.tuning.memTableMiB, 0)) << 20,
		MaxBufferedRecords:    a.tuning.maxBuffered,
		Logger:                slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	app.OnStateChange(func(_, s streams.State) {
		if s == streams.Running {
			ready()
		}
	})
	return app.Run(ctx)
}
