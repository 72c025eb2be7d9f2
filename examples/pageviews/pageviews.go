package main

import (
	"time"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
	"github.com/seed992c72d9/streams/window"
)

// Topics and the store of the page view counts.
const (
	// ViewsTopic holds page views: key the user, value the page. A record's
	// timestamp is the time of the view (its event time).
	ViewsTopic = "pageviews-input"
	// OutputTopic receives the final count of each page and minute, once
	// the minute has closed: key a windowed page (the page's bytes and the
	// 8-byte big-endian window start, Kafka Streams' TimeWindowedSerde),
	// value the count (8 bytes big-endian).
	OutputTopic = "pageviews-per-minute"
	// CountStore is the window store of the counts, queryable over HTTP. It
	// holds every window's current count, final or not.
	CountStore = "views-per-minute"
)

// Window parameters.
const (
	// Size of the tumbling windows.
	Size = time.Minute
	// Grace is how long after its end a window still counts late views.
	Grace = 30 * time.Second
	// Retention is how long the store keeps windows for queries (the
	// default would be Size + Grace).
	Retention = 24 * time.Hour
)

// KeySerde is the serde of OutputTopic's keys.
var KeySerde = window.TimeWindowedSerde(serde.String(), Size.Milliseconds())

// Topology counts page views per page in one-minute tumbling windows of
// event time and writes each window's final count once it has closed:
// views are re-keyed by page (through the repartition topic
// "<application id>-by-page-repartition"), counted per page and minute in the
// window store "views-per-minute", and the counts are suppressed until their
// window closes — stream time passing the window's end plus the grace
// period — then written to OutputTopic. A view that arrives after its window
// closed is dropped and counted as late.
//
// The Kafka Streams equivalent:
//
//	builder.stream("pageviews-input", Consumed.with(Serdes.String(), Serdes.String()))
//	    .groupBy((user, page) -> page, Grouped.as("by-page"))
//	    .windowedBy(TimeWindows.ofSizeAndGrace(Duration.ofMinutes(1), Duration.ofSeconds(30)))
//	    .count(Materialized.<String, Long, WindowStore<Bytes, byte[]>>as("views-per-minute")
//	        .withRetention(Duration.ofHours(24)))
//	    .suppress(Suppressed.untilWindowCloses(BufferConfig.unbounded()).withName("final-counts"))
//	    .toStream()
//	    .to("pageviews-per-minute", Produced.with(WindowedSerdes.timeWindowedSerdeFrom(String.class, 60_000L), Serdes.Long()));
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	views := kstream.From(b, ViewsTopic, serde.String(), serde.String())
	byPage := kstream.GroupBy(views, func(_, page string) string { return page },
		kstream.WithRepartitionName("by-page"))
	perMinute := kstream.WindowedBy(byPage, window.Tumbling(Size).WithGrace(Grace))
	counts := kstream.CountWindowed(perMinute, CountStore, kstream.WithRetention(Retention))
	final := counts.Suppress(window.UntilWindowCloses(window.Unbounded()), ktable.Named("final-counts"))
	kstream.FromTable(final).To(OutputTopic)
	return b.Build()
}
