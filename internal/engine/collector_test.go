package engine

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/processor"
)

// TestCollectorDoneClearsRecords checks that a produce callback, whatever it
// records, leaves the record holding nothing: records are allocated in
// slabs that outlive them, and a record's key or value may share a fetched
// batch's bytes.
func TestCollectorDoneClearsRecords(t *testing.T) {
	c := &collector{changelog: map[topicPartition]int64{}, policy: FailOnProductionError}
	task := processor.TaskID{SubTopology: 0, Partition: 3}
	batch := make([]byte, 1<<20) // stands for a fetched batch
	for _, tc := range []struct {
		name      string
		topic     string
		err       error
		changelog bool
	}{
		{"output", "out", nil, false},
		{"changelog", "app-store-changelog", nil, true},
		{"failed output", "out", errors.New("boom"), false},
	} {
		r := c.newRecord()
		*r = kgo.Record{Topic: tc.topic, Partition: 3, Offset: 41, Key: batch[:16], Value: batch[16:116],
			Headers: []kgo.RecordHeader{{Key: "h", Value: batch[116:120]}}}
		c.done(task, r, tc.err, tc.changelog)
		if r.Key != nil || r.Value != nil || r.Headers != nil || r.Topic != "" {
			t.Errorf("%s: after the callback the record holds key %d bytes, value %d bytes, %d headers, topic %q",
				tc.name, len(r.Key), len(r.Value), len(r.Headers), r.Topic)
		}
	}
	if got := c.changelog[topicPartition{"app-store-changelog", 3}]; got != 41 {
		t.Errorf("changelog offset %d, want 41", got)
	}
	if c.err == nil || c.err.Error() != "producing to out/3: boom" || !c.failed.Load() {
		t.Errorf("error %v (failed %v), want producing to out/3: boom", c.err, c.failed.Load())
	}
}
