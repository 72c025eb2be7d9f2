package streams_test

import (
	"encoding/binary"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// restoredRecords sums the records an instance reported restoring.
func restoredRecords(p *kafkatest.Process) int {
	n := 0
	for _, l := range p.Lines() {
		if !strings.Contains(l, " restored ") && !strings.HasPrefix(l, "restored ") {
			continue
		}
		for _, f := range strings.Fields(l) {
			if v, ok := strings.CutPrefix(f, "records="); ok {
				x, _ := strconv.Atoi(v)
				n += x
			}
		}
	}
	return n
}

// TestStandbyTakesOver runs one task with a standby replica on a second
// instance, kills the active instance, and checks that the standby takes
// the task over with (almost) nothing to restore and exact counts.
func TestStandbyTakesOver(t *testing.T) {
	c := kafkatest.Cluster(t, 1, "input", "output")
	brokers := c.ListenAddrs()
	b := strings.Join(brokers, ",")
	a := startInstance(t, "standby", b, t.TempDir(), "eos", "STREAMS_TEST_STANDBYS=1")
	waitStable(t, []*kafkatest.Process{a}, time.Second, 60*time.Second)
	s := startInstance(t, "standby", b, t.TempDir(), "eos", "STREAMS_TEST_STANDBYS=1")
	waitStable(t, []*kafkatest.Process{a, s}, 2*time.Second, 60*time.Second)
	if got := lastStandby(s); got != "0_0" {
		t.Fatalf("second instance keeps standby %q, want 0_0; output:\n%s", got, strings.Join(s.Lines(), "\n"))
	}
	want := map[string]int64{}
	produceCounted(t, brokers, 0, 5000, want)
	final := map[string]int64{}
	waitCounts := func() {
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
	}
	waitCounts()
	time.Sleep(500 * time.Millisecond) // let the standby commit what it read
	a.Kill()
	waitStable(t, []*kafkatest.Process{s}, time.Second, 60*time.Second)
	produceCounted(t, brokers, 5000, 1000, want)
	waitCounts()
	if err := s.Stop(30 * time.Second); err != nil {
		t.Error(err)
	}
	n := restoredRecords(s)
	t.Logf("the standby restored %d records when it took over", n)
	if n >= 5000 {
		t.Errorf("the standby restored %d records on taking over; a warm copy restores far fewer than the 5000 written", n)
	}
}

func lastStandby(p *kafkatest.Process) string {
	lines := p.Lines()
	for i := len(lines) - 1; i >= 0; i-- {
		if _, rest, ok := strings.Cut(lines[i], "standby ["); ok {
			list, _, _ := strings.Cut(rest, "]")
			return list
		}
	}
	return ""
}
