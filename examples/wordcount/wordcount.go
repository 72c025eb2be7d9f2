package main

import (
	"strings"
	"unicode"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Topics and the store of the word count.
const (
	// InputTopic holds lines of text (any key, often none).
	InputTopic = "wordcount-input"
	// OutputTopic receives every new count: word → count (8-byte
	// big-endian, Kafka's LongSerializer format).
	OutputTopic = "wordcount-output"
	// CountStore keeps the counts; it is queryable over HTTP and backed by
	// the changelog topic "<application id>-counts-changelog".
	CountStore = "counts"
)

// Topology is the word count: lines are split into words, the words are
// grouped by themselves (which repartitions them, through
// "<application id>-counts-repartition") and counted in the store "counts",
// and every new count is written to OutputTopic.
//
// The Kafka Streams equivalent:
//
//	KStream<String, String> lines = builder.stream("wordcount-input");
//	KTable<String, Long> counts = lines
//	    .flatMapValues(line -> Arrays.asList(line.toLowerCase().split("\\W+")))
//	    .groupBy((key, word) -> word)
//	    .count(Materialized.as("counts"));
//	counts.toStream().to("wordcount-output", Produced.with(Serdes.String(), Serdes.Long()));
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	lines := kstream.From(b, InputTopic, serde.String(), serde.String())
	words := kstream.FlatMapValues(lines, Words, kstream.Named("split-words"))
	byWord := kstream.GroupBy(words, func(_, word string) string { return word }, kstream.Named("by-word"))
	counts := kstream.Count(byWord, CountStore)
	kstream.FromTable(counts).To(OutputTopic)
	return b.Build()
}

// Words returns the words of a line, lower-cased: runs of letters, digits
// and apostrophes.
func Words(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\''
	})
}

// Lines is the demo input, the text of Kafka Streams' word count quickstart.
var Lines = []string{
	"all streams lead to kafka",
	"hello kafka streams",
	"join kafka summit",
}
