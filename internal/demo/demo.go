// Package demo is the application `streams demo` runs: word counts over a
// stream of text lines and page-view counts per page, with a generator that
// writes both inputs.
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
)

// Topics the demo reads and writes.
const (
	LinesTopic     = "text-lines"
	ViewsTopic     = "page-views"
	WordCountTopic = "word-counts"
	ViewCountTopic = "page-view-counts"
)

// Stores the demo keeps (and serves queries from).
const (
	WordCountStore = "word-counts"
	ViewCountStore = "page-view-counts"
)

// Topology returns the demo application: words counted over text lines, and
// views counted per page (page views are keyed by user, valued by page).
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := kstream.From(b, LinesTopic, serde.String(), serde.String())
	words := kstream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	wordCounts := kstream.Count(kstream.GroupBy(words, func(_, w string) string { return w }), WordCountStore)
	kstream.FromTable(wordCounts).To(WordCountTopic)

	views := kstream.From(b, ViewsTopic, serde.String(), serde.String())
	perPage := kstream.Count(kstream.GroupBy(views, func(_, page string) string { return page }), ViewCountStore)
	kstream.FromTable(perPage).To(ViewCountTopic)
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
