package streams_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/seed992c72d9/streams/internal/kafkatest"
)

// TestStaticMembershipRestart runs two instances with StaticMembership and
// a 60 s session timeout, SIGKILLs one once the group is stable, and
// restarts it from the same state directory. The restarted instance
// replaces its old members in the group instead of joining beside them:
// the group never has more than two members, the restarted instance runs
// tasks again, and the counts come out exact, all well before the killed
// members' session could have expired.
func TestStaticMembershipRestart(t *testing.T) {
	c := kafkatest.Cluster(t, 4, "input", "output")
	brokers := strings.Join(c.ListenAddrs(), ",")
	const app = "static"
	env := []string{"STREAMS_TEST_STATIC=1", "STREAMS_TEST_SESSION_TIMEOUT=60s"}
	dirs := []string{t.TempDir(), t.TempDir()}
	ps := []*kafkatest.Process{
		startInstance(t, app, brokers, dirs[0], "eos", env...),
		startInstance(t, app, brokers, dirs[1], "eos", env...),
	}
	waitStable(t, ps, time.Second, 60*time.Second)

	want := map[string]int64{}
	produce := func(from, to int) {
		var recs []*kgo.Record
		for i := from; i < to; i++ {
			k := fmt.Sprintf("k%02d", i%20)
			recs = append(recs, &kgo.Record{Topic: "input", Key: []byte(k), Value: []byte(fmt.Sprint(i))})
			want[k]++
		}
		kafkatest.Produce(t, c.ListenAddrs(), recs...)
	}
	produce(0, 400)
	readCounts := func(timeout time.Duration) {
		t.Helper()
		kafkatest.ReadUntil(t, c.ListenAddrs(), "output", timeout, func(rs []*kgo.Record) bool {
			last := map[string]int64{}
			for _, r := range rs {
				last[string(r.Key)] = int64(binary.BigEndian.Uint64(r.Value))
			}
			for k, n := range want {
				if last[k] != n {
					return false
				}
			}
			return true
		})
	}
	readCounts(30 * time.Second)

	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	members := func() []string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		groups, err := adm.DescribeGroups(ctx, app)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, m := range groups[app].Members {
			if m.InstanceID == nil {
				t.Fatalf("member %s has no instance id", m.MemberID)
			}
			ids = append(ids, *m.InstanceID)
		}
		slices.Sort(ids)
		return ids
	}
	before := members()
	if len(before) != 2 {
		t.Fatalf("group members before the crash: %v, want 2", before)
	}

	ps[1].Kill()
	start := time.Now()
	ps[1] = startInstance(t, app, brokers, dirs[1], "eos", env...)
	if _, err := ps[1].WaitFor("tasks [0_", 0, 30*time.Second); err != nil {
		t.Fatalf("the restarted instance runs no task: %v\n%s", err, strings.Join(ps[1].Lines(), "\n"))
	}
	produce(400, 800)
	readCounts(30 * time.Second)
	if after := members(); !slices.Equal(after, before) {
		t.Fatalf("group members after the restart: %v, want the same instance ids as before: %v", after, before)
	}
	t.Logf("the restarted instance took over and the counts were exact %v after the kill (session timeout 60 s)",
		time.Since(start).Round(time.Millisecond))
	for _, p := range ps {
		if err := p.Stop(30 * time.Second); err != nil {
			t.Error(err)
		}
	}
}
