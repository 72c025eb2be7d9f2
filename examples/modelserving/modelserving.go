package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/seed992c72d9/streams/kstream"
	"github.com/seed992c72d9/streams/ktable"
	"github.com/seed992c72d9/streams/serde"
	"github.com/seed992c72d9/streams/topology"
)

// Topics and the store of the model server.
const (
	// ModelsTopic holds the models: key the model id, value a Model (JSON).
	// A record replaces the model of its id; a tombstone (null value)
	// retires it.
	ModelsTopic = "modelserving-models"
	// DataTopic holds the records to score: key the id of the model that
	// scores them, value a Record (JSON). It must have as many partitions
	// as ModelsTopic (the join is co-partitioned).
	DataTopic = "modelserving-data"
	// ScoresTopic receives a Scored (JSON) for every record, keyed as the
	// record.
	ScoresTopic = "modelserving-scores"
	// ModelStore is the table of current models, queryable over HTTP.
	ModelStore = "models"
)

// Model is a linear model: a record's score is Intercept plus the sum of
// its features weighted by Weights; a score at or above Threshold is
// flagged. Here the models score wine quality from lab measurements, as in
// the model-serving example of the "Kafka Streams & Akka Streams" talk.
type Model struct {
	Version   int                `json:"version"`
	Intercept float64            `json:"intercept"`
	Weights   map[string]float64 `json:"weights"`
	Threshold float64            `json:"threshold"`
}

// Score returns the model's score of features (missing features count as
// 0).
func (m Model) Score(features map[string]float64) float64 {
	s := m.Intercept
	for _, f := range slices.Sorted(maps.Keys(m.Weights)) { // a fixed order: the same sum every time
		s += m.Weights[f] * features[f]
	}
	return s
}

// String returns the model as a formula.
func (m Model) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "v%d: %.2f", m.Version, m.Intercept)
	for _, f := range slices.Sorted(maps.Keys(m.Weights)) {
		w, sign := m.Weights[f], "+"
		if w < 0 {
			w, sign = -w, "-"
		}
		fmt.Fprintf(&b, " %s %g·%s", sign, w, f)
	}
	fmt.Fprintf(&b, ", flagged from %g", m.Threshold)
	return b.String()
}

// Record is a data record to score.
type Record struct {
	ID       string             `json:"id"`
	Features map[string]float64 `json:"features"`
}

// Scored is the result for one record.
type Scored struct {
	ID string `json:"id"`
	// ModelVersion is the version of the model that scored the record, 0
	// when there was no model for its key: then Score and Flagged are
	// zero.
	ModelVersion int     `json:"modelVersion"`
	Score        float64 `json:"score"`
	Flagged      bool    `json:"flagged"`
}

// Score is the joiner: it scores r with the current model, nil when the
// record's key has none.
func Score(r Record, m *Model) Scored {
	if m == nil {
		return Scored{ID: r.ID}
	}
	s := m.Score(r.Features)
	return Scored{ID: r.ID, ModelVersion: m.Version, Score: s, Flagged: s >= m.Threshold}
}

// Topology serves the models: the models topic is read into a table (the
// store "models"), and each data record is joined with the table's current
// model for its key and scored. Only data records trigger the join: a model
// update changes what later records find, and never rescores earlier
// ones. Within a task, records of the two topics are processed in
// timestamp order (a task waits for records of an input it has not
// fetched yet), so a model takes effect from its timestamp on. A record whose key has no model is forwarded unscored
// (a left join; kstream.JoinTable would drop it).
//
// A global table is the other way to hold models (ktable.Global and
// kstream.LeftJoinGlobal, whose mapper can take the model id from the
// record's value): every instance keeps every model, so the data need not be
// keyed by model nor co-partitioned with the models, but a global table
// follows its topic with no time synchronization with the streams that read
// it: an update applies whenever the instance has read it.
//
// The Kafka Streams equivalent:
//
//	KTable<String, Model> models = builder.table("modelserving-models", Materialized.as("models"));
//	builder.stream("modelserving-data", Consumed.with(Serdes.String(), recordSerde))
//	    .leftJoin(models, (record, model) -> score(record, model), Joined.as("score"))
//	    .to("modelserving-scores", Produced.with(Serdes.String(), scoredSerde));
func Topology() (*topology.Topology, error) {
	b := topology.NewBuilder()
	models := ktable.From(b, ModelsTopic, serde.String(), serde.JSON[Model](), ModelStore)
	data := kstream.From(b, DataTopic, serde.String(), serde.JSON[Record]())
	scored := kstream.LeftJoinTable(data, models, Score, kstream.Named("score"))
	scored.To(ScoresTopic, kstream.WithValueSerde(serde.JSON[Scored]()))
	return b.Build()
}
