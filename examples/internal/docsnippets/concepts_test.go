package docsnippets

import (
	"strings"
	"testing"
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/streamstest"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// nullMarks holds the snippet of docs/concepts.md, with its results.
func nullMarks() []bool {
	t := processor.Tombstone[string, string]("user-1", 1000)
	t.ValueIsNull()                                          // true
	t.WithValue("").ValueIsNull()                            // false: "" is an empty value, not null
	processor.Record[string, string]{Key: "k"}.ValueIsNull() // false
	return []bool{t.ValueIsNull(), t.WithValue("").ValueIsNull(), processor.Record[string, string]{Key: "k"}.ValueIsNull()}
}

func TestConceptsNullMarks(t *testing.T) {
	if got := nullMarks(); !got[0] || got[1] || got[2] {
		t.Errorf("null marks %v differ from docs/concepts.md", got)
	}
	if r := processor.NewRecord("k", "v", 1).WithNulls(true, false); !r.KeyIsNull() || r.ValueIsNull() {
		t.Error("WithNulls")
	}
}

func notEmpty(_, v string) bool { return v != "" }

// TestConceptsNames checks what docs/concepts.md says about generated names.
func TestConceptsNames(t *testing.T) {
	b := topology.NewBuilder()
	in := kstream.From(b, "in", serde.String(), serde.String()) // KSTREAM-SOURCE-0000000000
	valid := in.Filter(notEmpty, kstream.Named("valid"))        // valid (takes 0000000001)
	kstream.MapValues(valid, strings.ToUpper).To("out")         // KSTREAM-MAPVALUES-0000000002, KSTREAM-SINK-0000000003
	desc := build(t, b).Describe().String()
	for _, name := range []string{"KSTREAM-SOURCE-0000000000", "valid", "KSTREAM-MAPVALUES-0000000002", "KSTREAM-SINK-0000000003"} {
		if !strings.Contains(desc, name+" ") {
			t.Errorf("no node %s in\n%s", name, desc)
		}
	}

	// The exceptions: a named ProcessValues takes no index, an unnamed Suppress
	// takes two, a stream-stream join five, a table source two, a
	// Repartition three more than its base name.
	b = topology.NewBuilder()
	s := kstream.From(b, "s", serde.String(), serde.String()) // 0
	p := kstream.ProcessValues(s, func() processor.FixedKeyProcessor[string, string, string] { return &upperValues{} },
		kstream.Named("p")) // none
	f := p.Filter(notEmpty)                                                                                       // 1
	counts := kstream.CountWindowed(kstream.WindowedBy(kstream.GroupByKey(f), window.Tumbling(time.Second)), "w") // 2
	final := counts.Suppress(window.UntilWindowCloses(window.Unbounded()))                                        // 3 and 4
	kstream.FromTable(final).To("final")                                                                          // 5, 6
	other := kstream.From(b, "o", serde.String(), serde.String())                                                 // 7
	joined := kstream.JoinStream(f, other, func(a, b string) string { return a + b },
		window.Join(time.Second), "j") // 8 to 12
	joined.Repartition().To("r")                                    // 13; 14, 15, 16; 17
	tbl := ktable.From(b, "t", serde.String(), serde.String(), "t") // 18, 19
	kstream.FromTable(tbl).To("t-out")                              // 20, 21
	desc = build(t, b).Describe().String()
	for _, name := range []string{"p", "KSTREAM-FILTER-0000000001", "KSTREAM-AGGREGATE-0000000002",
		"KTABLE-SUPPRESS-0000000003", "KTABLE-TOSTREAM-0000000005", "KSTREAM-SINK-0000000006",
		"KSTREAM-SOURCE-0000000007", "KSTREAM-WINDOWED-0000000008", "KSTREAM-MERGE-0000000012",
		"KSTREAM-SINK-0000000014", "KSTREAM-SINK-0000000017", "KSTREAM-SOURCE-0000000018",
		"KTABLE-SOURCE-0000000019", "KSTREAM-SINK-0000000021"} {
		if !strings.Contains(desc, name+" ") {
			t.Errorf("no node %s in\n%s", name, desc)
		}
	}
	if !strings.Contains(desc, "KSTREAM-REPARTITION-0000000013-repartition") {
		t.Errorf("no repartition topic KSTREAM-REPARTITION-0000000013-repartition in\n%s", desc)
	}
	if !strings.Contains(desc, "KTABLE-SUPPRESS-STATE-STORE-0000000004") {
		t.Errorf("no store KTABLE-SUPPRESS-STATE-STORE-0000000004 in\n%s", desc)
	}
}

// upper is a processor that upper-cases values.
type upper struct {
	ctx processor.Context[string, string]
}

func (p *upper) Init(ctx processor.Context[string, string]) error { p.ctx = ctx; return nil }
func (p *upper) Close() error                                     { return nil }
func (p *upper) Process(r processor.Record[string, string]) error {
	return p.ctx.Forward(r.WithValue(strings.ToUpper(r.Value)))
}

// upperValues is a fixed-key processor that upper-cases values.
type upperValues struct {
	ctx processor.FixedKeyContext[string, string]
}

func (p *upperValues) Init(ctx processor.FixedKeyContext[string, string]) error {
	p.ctx = ctx
	return nil
}
func (p *upperValues) Close() error { return nil }
func (p *upperValues) Process(r processor.FixedKeyRecord[string, string]) error {
	return p.ctx.Forward(processor.WithValue(r, strings.ToUpper(r.Value())))
}

// scheduler holds the punctuation snippet of docs/concepts.md.
type scheduler struct{ fired []int64 }

func (p *scheduler) Init(ctx processor.Context[string, string]) error {
	cancel, err := ctx.Schedule(10*time.Second, processor.StreamTime, func(now int64) error {
		// emit what was accumulated; now is the current stream time
		p.fired = append(p.fired, now)
		return nil
	})
	_ = cancel
	return err
}
func (p *scheduler) Close() error                                   { return nil }
func (p *scheduler) Process(processor.Record[string, string]) error { return nil }

func TestConceptsPunctuation(t *testing.T) {
	b := topology.NewBuilder()
	var procs []*scheduler
	kstream.Process(kstream.From(b, "in", serde.String(), serde.String()), func() processor.Processor[string, string, string, string] {
		p := &scheduler{}
		procs = append(procs, p)
		return p
	})
	d, err := streamstest.New(build(t, b))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := streamstest.NewInputTopic(d, "in", serde.String(), serde.String())
	for _, ts := range []int64{1000, 5000, 12000, 31000} {
		if err := in.PipeAt("k", "v", ts); err != nil {
			t.Fatal(err)
		}
	}
	// The first as soon as there is a stream time, then at multiples of
	// the interval, once per jump.
	if got := procs[0].fired; len(got) != 3 || got[0] != 1000 || got[1] != 12000 || got[2] != 31000 {
		t.Errorf("punctuations at %v", got)
	}
}
