package streams_test

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// lastTasks returns the active tasks an instance printed last.
func lastTasks(p *kafkatest.Process) []string {
	lines := p.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if rest, ok := strings.CutPrefix(lines[i], "tasks ["); ok {
			list, _, _ := strings.Cut(rest, "]")
			return strings.Fields(list)
		}
	}
	return nil
}

// checkOwnership asserts that each of the 8 tasks is active on exactly one
// instance.
func checkOwnership(t *testing.T, ps []*kafkatest.Process) {
	t.Helper()
	owners := map[string]int{}
	for _, p := range ps {
		for _, task := range lastTasks(p) {
			owners[task]++
		}
	}
	var want []string
	for p := range 8 {
		want = append(want, fmt.Sprintf("0_%d", p))
	}
	var got []string
	for task, n := range owners {
		if n != 1 {
			t.Errorf("task %s is active on %d instances", task, n)
		}
		got = append(got, task)
	}
	slices.Sort(got)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("active tasks %v, want %v", got, want)
	}
}

func produceCounted(t *testing.T, brokers []string, from, n int, want map[string]int64) {
	var recs []*kgo.Record
	for i := from; i < from+n; i++ {
		k := fmt.Sprintf("k%02d", i%crashKeys)
		want[k]++
		recs = append(recs, &kgo.Record{Topic: "input", Key: []byte(k), Value: []byte(fmt.Sprint(i))})
	}
	kafkatest.Produce(t, brokers, recs...)
}

func TestScaleOutAndIn(t *testing.T) {
	c := kafkatest.Cluster(t, 8, "input", "output")
	brokers := c.ListenAddrs()
	b := strings.Join(brokers, ",")
	app := "scale"
	want := map[string]int64{}
	dirs := []string{t.TempDir(), t.TempDir(), t.TempDir()}

	ps := []*kafkatest.Process{startInstance(t, app, b, dirs[0], "eos")}
	waitStable(t, ps, time.Second, 60*time.Second)
	checkOwnership(t, ps)
	produceCounted(t, brokers, 0, 2000, want)

	ps = append(ps, startInstance(t, app, b, dirs[1], "eos"), startInstance(t, app, b, dirs[2], "eos"))
	waitStable(t, ps, 2*time.Second, 60*time.Second)
	checkOwnership(t, ps)
	produceCounted(t, brokers, 2000, 2000, want)

	for _, p := range ps[1:] {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	ps = ps[:1]
	waitStable(t, ps, 2*time.Second, 60*time.Second)
	checkOwnership(t, ps)
	produceCounted(t, brokers, 4000, 2000, want)

	final := map[string]int64{}
	kafkatest.ReadUntil(t, brokers, "output", 60*time.Second, func(rs []*kgo.Record) bool {
		for _, r := range rs {
			final[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
		}
		for k, n := range want {
			if final[k] != n {
				return false
			}
		}
		return true
	})
	if err := ps[0].Stop(30 * time.Second); err != nil {
		t.Error(err)
	}
	for k, n := range want {
		if final[k] != n {
			t.Errorf("key %s: final count %d, want %d", k, final[k], n)
		}
	}
}
