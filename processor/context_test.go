package processor_test

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
)

// apiProc is a string processor whose behaviour the test supplies.
type apiProc struct {
	ctx     processor.Context[string, string]
	init    func(ctx processor.Context[string, string]) error
	process func(ctx processor.Context[string, string], r processor.Record[string, string]) error
	closed  *int
}

func (p *apiProc) Init(ctx processor.Context[string, string]) error {
	p.ctx = ctx
	if p.init != nil {
		return p.init(ctx)
	}
	return nil
}

func (p *apiProc) Process(r processor.Record[string, string]) error {
	if p.process != nil {
		return p.process(p.ctx, r)
	}
	return p.ctx.Forward(r)
}

func (p *apiProc) Close() error {
	if p.closed != nil {
		*p.closed++
	}
	return nil
}

type apiLog struct{ lines []string }

func (l *apiLog) add(format string, args ...any) {
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *apiLog) want(t *testing.T, want ...string) {
	t.Helper()
	if !reflect.DeepEqual(l.lines, want) {
		t.Fatalf("log:\n got %q\nwant %q", l.lines, want)
	}
	l.lines = nil
}

// logging returns a supplier of processors that log what they receive under
// their name and forward it.
func logging(log *apiLog, name string) processor.Supplier[string, string, string, string] {
	return func() processor.Processor[string, string, string, string] {
		return &apiProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			log.add("%s got %s=%s", name, r.Key, r.Value)
			if r.Value == "fail-"+name {
				return errors.New("boom")
			}
			return ctx.Forward(r)
		}}
	}
}

func supplier(p func() *apiProc) processor.Supplier[string, string, string, string] {
	return func() processor.Processor[string, string, string, string] { return p() }
}

func addSource(b *topology.Builder, topics ...string) {
	topology.AddSource(b, "src", serde.String(), serde.String(), topics...)
}

func start(t *testing.T, b *topology.Builder, opts ...streamstest.Option) *streamstest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	d, err := streamstest.New(topo, opts...)
	if err != nil {
		t.Fatalf("streamstest.New: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func pipe(t *testing.T, d *streamstest.Driver, partition int32, key, value string, ts int64) {
	t.Helper()
	if err := d.PipeRaw("input", partition, []byte(key), []byte(value), ts, nil); err != nil {
		t.Fatalf("pipe %s=%s @%d: %v", key, value, ts, err)
	}
}

func pipeErr(t *testing.T, d *streamstest.Driver, key, value string, ts int64, want string) {
	t.Helper()
	err := d.PipeRaw("input", 0, []byte(key), []byte(value), ts, nil)
	if err == nil || err.Error() != want {
		t.Fatalf("pipe %s=%s error:\n got %v\nwant %s", key, value, err, want)
	}
}

// fanOut builds src -> p -> {zeta -> zeta-child, alpha}; zeta is added
// before alpha.
func fanOut(log *apiLog, p processor.Supplier[string, string, string, string]) *topology.Builder {
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", p, "src")
	topology.AddProcessor(b, "zeta", logging(log, "zeta"), "p")
	topology.AddProcessor(b, "alpha", logging(log, "alpha"), "p")
	topology.AddProcessor(b, "zeta-child", logging(log, "zeta-child"), "zeta")
	return b
}

func TestForwardToAllChildrenInOrder(t *testing.T) {
	var log apiLog
	d := start(t, fanOut(&log, logging(&log, "p")))
	pipe(t, d, 0, "k", "v", 1)
	// Depth first, children in the order they were added.
	log.want(t, "p got k=v", "zeta got k=v", "zeta-child got k=v", "alpha got k=v")

	// The first error stops the forward: alpha does not see the record.
	pipeErr(t, d, "k", "fail-zeta", 2, "task 0_0: processing the record at input/0 offset 1: zeta: boom")
	log.want(t, "p got k=fail-zeta", "zeta got k=fail-zeta")
	pipeErr(t, d, "k", "fail-zeta-child", 3, "task 0_0: processing the record at input/0 offset 2: zeta-child: boom")
	log.want(t, "p got k=fail-zeta-child", "zeta got k=fail-zeta-child", "zeta-child got k=fail-zeta-child")
}

func TestForwardTo(t *testing.T) {
	var log apiLog
	router := supplier(func() *apiProc {
		return &apiProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			return ctx.ForwardTo(r.Value, r.WithValue("to "+r.Value))
		}}
	})
	d := start(t, fanOut(&log, router))
	pipe(t, d, 0, "k", "alpha", 1)
	log.want(t, "alpha got k=to alpha")
	pipe(t, d, 0, "k", "zeta", 2)
	log.want(t, "zeta got k=to zeta", "zeta-child got k=to zeta")
	pipeErr(t, d, "k", "nope", 3, `task 0_0: processing the record at input/0 offset 2: p: processor "p" has no child "nope"`)
	// A grandchild is not a child.
	pipeErr(t, d, "k", "zeta-child", 4, `task 0_0: processing the record at input/0 offset 3: p: processor "p" has no child "zeta-child"`)
	log.want(t)
}

// apiFixed is a fixed-key processor that routes by value.
type apiFixed struct {
	ctx processor.FixedKeyContext[string, string]
}

func (p *apiFixed) Init(ctx processor.FixedKeyContext[string, string]) error { p.ctx = ctx; return nil }
func (p *apiFixed) Close() error                                             { return nil }
func (p *apiFixed) Process(r processor.FixedKeyRecord[string, string]) error {
	if r.Value() == "all" {
		return p.ctx.Forward(processor.WithValue(r, "everyone"))
	}
	return p.ctx.ForwardTo(r.Value(), processor.WithValue(r, "only "+r.Value()))
}

func TestFixedKeyForwardTo(t *testing.T) {
	var log apiLog
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddFixedKeyProcessor(b, "fk", func() processor.FixedKeyProcessor[string, string, string] { return &apiFixed{} }, "src")
	topology.AddProcessor(b, "one", logging(&log, "one"), "fk")
	topology.AddProcessor(b, "two", logging(&log, "two"), "fk")
	d := start(t, b)
	pipe(t, d, 0, "k", "all", 1)
	log.want(t, "one got k=everyone", "two got k=everyone")
	pipe(t, d, 0, "k", "two", 2)
	log.want(t, "two got k=only two")
	pipeErr(t, d, "k", "three", 3, `task 0_0: processing the record at input/0 offset 2: fk: processor "fk" has no child "three"`)
}

func TestProcessingErrorNamesTheNode(t *testing.T) {
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "validator", supplier(func() *apiProc {
		return &apiProc{process: func(_ processor.Context[string, string], r processor.Record[string, string]) error {
			return fmt.Errorf("value %q is not a number", r.Value)
		}}
	}), "src")
	d := start(t, b, streamstest.WithPartitions("input", 3))
	err := d.PipeRaw("input", 2, []byte("k"), []byte("x"), 1, nil)
	want := `task 0_2: processing the record at input/2 offset 0: validator: value "x" is not a number`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %s", err, want)
	}
}

func TestInitErrors(t *testing.T) {
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", supplier(func() *apiProc {
		return &apiProc{init: func(processor.Context[string, string]) error { return errors.New("no config") }}
	}), "src")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = streamstest.New(topo)
	if want := "streamstest: task 0_0: initializing: p: no config"; err == nil || err.Error() != want {
		t.Errorf("New error = %v, want %s", err, want)
	}

	b = topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", func() processor.Processor[string, string, string, string] { return nil }, "src")
	topo, err = b.Build()
	if err != nil {
		t.Fatal(err)
	}
	_, err = streamstest.New(topo)
	if want := "streamstest: task 0_0: p: processor supplier returned nil"; err == nil || err.Error() != want {
		t.Errorf("New error = %v, want %s", err, want)
	}
}

func TestScheduleErrors(t *testing.T) {
	var errs []string
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", supplier(func() *apiProc {
		return &apiProc{init: func(ctx processor.Context[string, string]) error {
			noop := func(int64) error { return nil }
			for _, c := range []struct {
				interval time.Duration
				typ      processor.PunctuationType
				fn       processor.Punctuator
			}{
				{999 * time.Microsecond, processor.StreamTime, noop},
				{0, processor.WallClockTime, noop},
				{-time.Second, processor.StreamTime, noop},
				{time.Second, processor.StreamTime, nil},
				{time.Second, processor.PunctuationType(7), noop},
			} {
				c, err := ctx.Schedule(c.interval, c.typ, c.fn)
				if c != nil {
					errs = append(errs, "got a Cancellable")
				}
				errs = append(errs, fmt.Sprint(err))
			}
			return nil
		}}
	}), "src")
	start(t, b)
	want := []string{
		`processor "p": punctuation interval 999µs is below the minimum of 1ms`,
		`processor "p": punctuation interval 0s is below the minimum of 1ms`,
		`processor "p": punctuation interval -1s is below the minimum of 1ms`,
		`processor "p": nil punctuator`,
		`processor "p": unknown punctuation type PunctuationType(7)`,
	}
	if !reflect.DeepEqual(errs, want) {
		t.Errorf("Schedule errors:\n got %q\nwant %q", errs, want)
	}
}

// punctuating logs its records and punctuations with what its context
// reports. A record with value "cancel" cancels the punctuation scheduled in
// Init; "schedule" schedules another one of 10ms.
func punctuating(log *apiLog, typ processor.PunctuationType, interval time.Duration) processor.Supplier[string, string, string, string] {
	return supplier(func() *apiProc {
		var c processor.Cancellable
		punct := func(ctx processor.Context[string, string], name string) processor.Punctuator {
			return func(ts int64) error {
				_, ok := ctx.RecordMetadata()
				log.add("%s %s at %d: stream-time=%d wall-clock=%d metadata=%t", ctx.TaskID(), name, ts,
					ctx.StreamTime(), ctx.WallClockTime(), ok)
				return nil
			}
		}
		return &apiProc{
			init: func(ctx processor.Context[string, string]) error {
				var err error
				c, err = ctx.Schedule(interval, typ, punct(ctx, "punctuate"))
				return err
			},
			process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				log.add("%s record %s @%d: stream-time=%d", ctx.TaskID(), r.Value, r.Timestamp, ctx.StreamTime())
				switch r.Value {
				case "cancel":
					c.Cancel()
				case "schedule":
					_, err := ctx.Schedule(10*time.Millisecond, typ, punct(ctx, "second"))
					return err
				}
				return nil
			},
		}
	})
}

func TestStreamTimePunctuation(t *testing.T) {
	var log apiLog
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", punctuating(&log, processor.StreamTime, 10*time.Millisecond), "src")
	d := start(t, b, streamstest.WithPartitions("input", 2), streamstest.WithWallClock(time.UnixMilli(1000)))

	// Nothing fires before the task has a stream time, whatever the
	// wall clock does.
	if err := d.AdvanceWallClock(time.Hour); err != nil {
		t.Fatal(err)
	}
	log.want(t)

	// The first record gives the task a stream time: the punctuation,
	// aligned to epoch 0, fires at once, with the stream time.
	pipe(t, d, 0, "k", "a", 5)
	log.want(t, "0_0 record a @5: stream-time=5",
		"0_0 punctuate at 5: stream-time=5 wall-clock=3601000 metadata=false")
	pipe(t, d, 0, "k", "b", 9)
	log.want(t, "0_0 record b @9: stream-time=9")
	pipe(t, d, 0, "k", "c", 12)
	log.want(t, "0_0 record c @12: stream-time=12",
		"0_0 punctuate at 12: stream-time=12 wall-clock=3601000 metadata=false")
	pipe(t, d, 0, "k", "d", 15)
	log.want(t, "0_0 record d @15: stream-time=15")

	// Stream time jumps over 20, 30 and 40: one punctuation, and the next
	// is at 50.
	pipe(t, d, 0, "k", "e", 47)
	log.want(t, "0_0 record e @47: stream-time=47",
		"0_0 punctuate at 47: stream-time=47 wall-clock=3601000 metadata=false")
	pipe(t, d, 0, "k", "f", 49)
	log.want(t, "0_0 record f @49: stream-time=49")
	pipe(t, d, 0, "k", "g", 50)
	log.want(t, "0_0 record g @50: stream-time=50",
		"0_0 punctuate at 50: stream-time=50 wall-clock=3601000 metadata=false")

	// An out-of-order record does not move stream time back.
	pipe(t, d, 0, "k", "late", 30)
	log.want(t, "0_0 record late @30: stream-time=50")
	pipe(t, d, 0, "k", "h", 59)
	log.want(t, "0_0 record h @59: stream-time=59")

	// The other partition's task has its own stream time.
	pipe(t, d, 1, "k", "other", 3)
	log.want(t, "0_1 record other @3: stream-time=3",
		"0_1 punctuate at 3: stream-time=3 wall-clock=3601000 metadata=false")

	// A schedule added while processing fires at once too.
	pipe(t, d, 1, "k", "schedule", 4)
	log.want(t, "0_1 record schedule @4: stream-time=4",
		"0_1 second at 4: stream-time=4 wall-clock=3601000 metadata=false")
	pipe(t, d, 1, "k", "x", 10)
	log.want(t, "0_1 record x @10: stream-time=10",
		"0_1 punctuate at 10: stream-time=10 wall-clock=3601000 metadata=false",
		"0_1 second at 10: stream-time=10 wall-clock=3601000 metadata=false")

	// Cancelled, the punctuation no longer fires.
	pipe(t, d, 0, "k", "cancel", 60)
	log.want(t, "0_0 record cancel @60: stream-time=60")
	pipe(t, d, 0, "k", "i", 100)
	log.want(t, "0_0 record i @100: stream-time=100")
}

func TestWallClockPunctuation(t *testing.T) {
	var log apiLog
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", punctuating(&log, processor.WallClockTime, 10*time.Second), "src")
	d := start(t, b, streamstest.WithWallClock(time.UnixMilli(1000)))
	advance := func(by time.Duration) {
		t.Helper()
		if err := d.AdvanceWallClock(by); err != nil {
			t.Fatal(err)
		}
	}

	// Records do not fire wall-clock punctuations, whatever their time.
	pipe(t, d, 0, "k", "a", 1_000_000)
	log.want(t, "0_0 record a @1000000: stream-time=1000000")
	// The first punctuation is one interval after the schedule, at 11000.
	advance(9999 * time.Millisecond)
	log.want(t)
	advance(time.Millisecond)
	log.want(t, "0_0 punctuate at 11000: stream-time=1000000 wall-clock=11000 metadata=false")
	// A jump over 21000 and 31000 fires once; the next is at 41000.
	advance(25 * time.Second)
	log.want(t, "0_0 punctuate at 36000: stream-time=1000000 wall-clock=36000 metadata=false")
	advance(4 * time.Second)
	log.want(t)
	advance(time.Second)
	log.want(t, "0_0 punctuate at 41000: stream-time=1000000 wall-clock=41000 metadata=false")

	pipe(t, d, 0, "k", "cancel", 5)
	log.want(t, "0_0 record cancel @5: stream-time=1000000")
	advance(time.Minute)
	log.want(t)
	if got := d.WallClock().UnixMilli(); got != 101000 {
		t.Errorf("WallClock() = %d, want 101000", got)
	}
	if err := d.AdvanceWallClock(-time.Second); err == nil || err.Error() != "streamstest: cannot move the wall clock back by 1s" {
		t.Errorf("AdvanceWallClock(-1s) error = %v", err)
	}
}

func TestPunctuationError(t *testing.T) {
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "p", supplier(func() *apiProc {
		return &apiProc{init: func(ctx processor.Context[string, string]) error {
			_, err := ctx.Schedule(time.Second, processor.WallClockTime, func(int64) error { return errors.New("flush failed") })
			return err
		}}
	}), "src")
	d := start(t, b)
	err := d.AdvanceWallClock(time.Second)
	if want := `task 0_0: punctuation of "p" at 1000: p: flush failed`; err == nil || err.Error() != want {
		t.Errorf("AdvanceWallClock error = %v, want %s", err, want)
	}
}

func TestContextMetadata(t *testing.T) {
	var log apiLog
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	reporting := func(name string) processor.Supplier[string, string, string, string] {
		return supplier(func() *apiProc {
			return &apiProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
				m, ok := ctx.RecordMetadata()
				log.add("%s: app=%s task=%s metadata=%t %s/%d@%d stream-time=%d wall-clock=%d record=%s=%s@%d",
					name, ctx.ApplicationID(), ctx.TaskID(), ok, m.Topic, m.Partition, m.Offset,
					ctx.StreamTime(), ctx.WallClockTime(), r.Key, r.Value, r.Timestamp)
				ctx.Logger().Info("processed", "key", r.Key)
				ctx.RequestCommit()
				return ctx.Forward(r)
			}}
		})
	}
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "first", reporting("first"), "src")
	b.AddInternalTopic(topology.InternalTopic{Name: "rekeyed"})
	topology.AddSink(b, "to-rekeyed", "rekeyed", serde.String(), serde.String(), "first")
	topology.AddSource(b, "from-rekeyed", serde.String(), serde.String(), "rekeyed")
	topology.AddProcessor(b, "second", reporting("second"), "from-rekeyed")
	d := start(t, b, streamstest.WithApplicationID("app"), streamstest.WithPartitions("input", 2),
		streamstest.WithWallClock(time.UnixMilli(777)), streamstest.WithLogger(logger))

	pipe(t, d, 1, "a", "x", 50)
	pipe(t, d, 1, "d", "y", 40)
	pipe(t, d, 0, "b", "z", 60)
	// murmur2 puts "a" and "b" on partition 0 of 2 and "d" on partition 1.
	log.want(t,
		"first: app=app task=0_1 metadata=true input/1@0 stream-time=50 wall-clock=777 record=a=x@50",
		"second: app=app task=1_0 metadata=true app-rekeyed/0@0 stream-time=50 wall-clock=777 record=a=x@50",
		"first: app=app task=0_1 metadata=true input/1@1 stream-time=50 wall-clock=777 record=d=y@40",
		"second: app=app task=1_1 metadata=true app-rekeyed/1@0 stream-time=40 wall-clock=777 record=d=y@40",
		"first: app=app task=0_0 metadata=true input/0@0 stream-time=60 wall-clock=777 record=b=z@60",
		"second: app=app task=1_0 metadata=true app-rekeyed/0@1 stream-time=60 wall-clock=777 record=b=z@60",
	)
	wantLogs := strings.Join([]string{
		"level=INFO msg=processed task=0_1 node=first key=a",
		"level=INFO msg=processed task=1_0 node=second key=a",
		"level=INFO msg=processed task=0_1 node=first key=d",
		"level=INFO msg=processed task=1_1 node=second key=d",
		"level=INFO msg=processed task=0_0 node=first key=b",
		"level=INFO msg=processed task=1_0 node=second key=b",
	}, "\n") + "\n"
	if logs.String() != wantLogs {
		t.Errorf("logs:\n%s\nwant:\n%s", logs.String(), wantLogs)
	}
}

// apiStore is a test-only state store that counts flushes and closes.
type apiStore struct {
	name    string
	task    processor.TaskID
	flushes int
	closed  bool
}

func (s *apiStore) Name() string { return s.name }
func (s *apiStore) Flush() error { s.flushes++; return nil }
func (s *apiStore) Close() error { s.closed = true; return nil }

// apiStoreBuilder builds apiStores and keeps every instance.
type apiStoreBuilder struct {
	name  string
	built []*apiStore
}

func (b *apiStoreBuilder) Name() string { return b.name }
func (b *apiStoreBuilder) Changelog() (state.ChangelogConfig, bool) {
	return state.ChangelogConfig{}, false
}
func (b *apiStoreBuilder) Build(env state.Env) (state.Store, error) {
	s := &apiStore{name: b.name, task: env.Task}
	b.built = append(b.built, s)
	return s, nil
}

type otherStore struct{ processor.StateStore }

func TestStateStoreLookup(t *testing.T) {
	var results []string
	owned, shared, elsewhere := &apiStoreBuilder{name: "owned"}, &apiStoreBuilder{name: "shared"}, &apiStoreBuilder{name: "elsewhere"}
	var got []*apiStore
	b := topology.NewBuilder()
	addSource(b, "input")
	topology.AddProcessor(b, "owner", supplier(func() *apiProc {
		return &apiProc{process: func(ctx processor.Context[string, string], r processor.Record[string, string]) error {
			for _, name := range []string{"owned", "shared", "elsewhere", "nope"} {
				s, err := ctx.StateStore(name)
				if err != nil {
					results = append(results, err.Error())
					continue
				}
				results = append(results, "found "+s.Name())
			}
			s, err := processor.GetStore[*apiStore](ctx, "owned")
			if err != nil {
				return err
			}
			got = append(got, s)
			_, err = processor.GetStore[*otherStore](ctx, "owned")
			results = append(results, err.Error())
			_, err = processor.GetStore[*apiStore](ctx, "nope")
			results = append(results, err.Error())
			return ctx.Forward(r)
		}}
	}), "src")
	topology.AddProcessor(b, "neighbour", logging(&apiLog{}, "neighbour"), "owner")
	b.AddStateStore(owned, "owner")
	b.AddStateStore(shared, "neighbour")
	// A store of another sub-topology.
	topology.AddSource(b, "other-src", serde.String(), serde.String(), "other")
	topology.AddProcessor(b, "other-proc", logging(&apiLog{}, "other"), "other-src")
	b.AddStateStore(elsewhere, "other-proc")

	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := streamstest.New(topo, streamstest.WithPartitions("input", 2))
	if err != nil {
		t.Fatal(err)
	}
	pipe(t, d, 1, "k", "v", 1)
	pipe(t, d, 1, "k", "v", 2)
	pipe(t, d, 0, "k", "v", 3)

	want := []string{
		"found owned",
		`processor "owner" is not connected to state store "shared"`,
		`processor "owner": unknown state store "elsewhere"`,
		`processor "owner": unknown state store "nope"`,
		`processor: state store "owned" is a *processor_test.apiStore, not a *processor_test.otherStore`,
		`processor "owner": unknown state store "nope"`,
	}
	if !reflect.DeepEqual(results[:len(want)], want) {
		t.Errorf("lookups:\n got %q\nwant %q", results[:len(want)], want)
	}

	// One instance per task, built for that task; the processor gets its
	// task's instance, the one the driver returns.
	if len(owned.built) != 2 || len(shared.built) != 2 || len(elsewhere.built) != 1 {
		t.Fatalf("built %d owned, %d shared, %d elsewhere stores; want 2, 2, 1",
			len(owned.built), len(shared.built), len(elsewhere.built))
	}
	var tasks []string
	for _, s := range owned.built {
		tasks = append(tasks, s.task.String())
	}
	if !reflect.DeepEqual(tasks, []string{"0_0", "0_1"}) {
		t.Errorf("owned stores built for tasks %v, want [0_0 0_1]", tasks)
	}
	p1, err := d.Store("owned", 1)
	if err != nil {
		t.Fatal(err)
	}
	if got[0] != p1 || got[1] != p1 || got[2] == p1 {
		t.Errorf("the processor got stores %p %p %p; the driver has %p for partition 1", got[0], got[1], got[2], p1)
	}
	// The driver commits after every record: each task's stores are
	// flushed once per record of the task.
	if f0, f1 := owned.built[0].flushes, owned.built[1].flushes; f0 != 1 || f1 != 2 {
		t.Errorf("flushes: task 0_0 %d, task 0_1 %d; want 1, 2", f0, f1)
	}
	if _, err := d.Store("nope", 0); err == nil || err.Error() != `streamstest: unknown state store "nope"` {
		t.Errorf("Store(nope) error = %v", err)
	}
	if _, err := d.Store("owned", 2); err == nil || err.Error() != `streamstest: state store "owned" has no partition 2` {
		t.Errorf("Store(owned, 2) error = %v", err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for _, s := range append(append(owned.built, shared.built...), elsewhere.built...) {
		if !s.closed {
			t.Errorf("store %s of task %s not closed", s.name, s.task)
		}
	}
}
