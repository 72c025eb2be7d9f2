// Package demo is the application `streams demo` runs: word counts over a
// stream of text lines and page-view counts per page and minute (tumbling
// windows of event time), with a generator that writes both inputs.
package demo

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// Topics the demo reads and writes.
const (
	// LinesTopic holds text lines (no key).
	LinesTopic = "text-lines"
	// ViewsTopic holds page views: key the user, value the page; a record's
	// timestamp is the time of the view.
	ViewsTopic = "page-views"
	// WordCountTopic receives every update of a word's count: key the word,
	// value the count (8 bytes big-endian).
	WordCountTopic = "word-counts"
	// ViewCountTopic receives every update of a page's count in a window:
	// key the page's bytes and the 8-byte big-endian window start
	// (window.TimeWindowedSerde), value the count (8 bytes big-endian).
	ViewCountTopic = "page-views-per-minute"
)

// Stores the demo keeps (and serves queries from).
const (
	// WordCountStore is the key-value store of the word counts.
	WordCountStore = "word-counts"
	// ViewCountStore is the window store of the page-view counts, one
	// window per page and minute.
	ViewCountStore = "page-views-per-minute"
)

// Windows of the page-view counts.
const (
	// ViewWindowSize is the size of the tumbling windows views are counted in.
	ViewWindowSize = time.Minute
	// ViewWindowGrace is how long after its end a window still counts late
	// views.
	ViewWindowGrace = 10 * time.Second
	// ViewRetention is how long ViewCountStore keeps a window for queries.
	ViewRetention = time.Hour
)

// Topology returns the demo application: words counted over text lines, and
// views counted per page in one-minute tumbling windows of event time (page
// views are keyed by user, valued by page; they are re-keyed by page through
// the repartition topic "<application id>-page-views-per-minute-repartition").
// Both counts are written to their topics on every update.
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := kstream.From(b, LinesTopic, serde.String(), serde.String())
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	wordCounts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), WordCountStore)
	kstream.FromTable(wordCounts).To(WordCountTopic)

	views := kstream.From(b, ViewsTopic, serde.String(), serde.String())
	byPage := kstream.GroupBy(views, func(_, page string) string { return page })
	perMinute := kstream.WindowedBy(byPage, window.Tumbling(ViewWindowSize).WithGrace(ViewWindowGrace))
	counts := kstream.CountWindowed(perMinute, ViewCountStore, kstream.WithRetention(ViewRetention))
	kstream.FromTable(counts).To(ViewCountTopic)
	return b.Build()
}

var corpus = strings.Fields(`the quick brown fox jumps over the lazy dog streams tables windows state
kafka go pebble exactly once changelog restore query partition task thread`)

var pages = []string{"/", "/docs", "/docs/concepts", "/docs/windows", "/pricing", "/blog", "/about"}

// Generator writes text lines and page views at a steady rate.
type Generator struct {
	cl       *kgo.Client
	rate     int
	produced atomic.Int64
	rnd      *rand.Rand
}

// NewGenerator returns a generator writing rate records per second. opts
// add to its client's options (TLS, SASL).
func NewGenerator(brokers []string, rate int, opts ...kgo.Opt) (*Generator, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...), kgo.ProducerLinger(5 * time.Millisecond)}, opts...)...)
	if err != nil {
		return nil, err
	}
	return &Generator{cl: cl, rate: max(rate, 1), rnd: rand.New(rand.NewPCG(1, 2))}, nil
}

// Produced returns how many records the generator wrote.
func (g *Generator) Produced() int64 { return g.produced.Load() }

// Run writes records until ctx ends.
func (g *Generator) Run(ctx context.Context) error {
	defer g.cl.Close()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	perTick := max(g.rate/20, 1)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		for i := range perTick {
			var r *kgo.Record
			if i%2 == 0 {
				n := 3 + g.rnd.IntN(6)
				words := make([]string, n)
				for j := range words {
					words[j] = corpus[g.rnd.IntN(len(corpus))]
				}
				r = &kgo.Record{Topic: LinesTopic, Value: []byte(strings.Join(words, " "))}
			} else {
				user := fmt.Sprintf("user-%03d", g.rnd.IntN(200))
				r = &kgo.Record{Topic: ViewsTopic, Key: []byte(user), Value: []byte(pages[g.rnd.IntN(len(pages))])}
			}
			g.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
				if err == nil {
					g.produced.Add(1)
				}
			})
		}
	}
}
