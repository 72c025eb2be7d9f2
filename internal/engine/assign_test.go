package engine

import (
	"fmt"
	"slices"
	"testing"
)

// TestCooperativeRoundsConverge replays the cooperative protocol's rounds
// with subscriptions that lag one round behind the partitions each member
// owns (a member rejoins as soon as it revoked, before its thread applied
// the assignment), and checks that the assignment settles: two members
// join one that ran all eight tasks, every task ends active on exactly one
// member, and no round after the third moves or withholds anything.
func TestCooperativeRoundsConverge(t *testing.T) {
	const n = 8
	var tasks []TaskID
	stateful := map[TaskID]bool{}
	for p := range n {
		id := TaskID{SubTopology: 0, Partition: int32(p)}
		tasks = append(tasks, id)
		stateful[id] = true
	}
	parts := func(t TaskID) map[string][]int32 { return map[string][]int32{"in": {t.Partition}} }
	type member struct {
		id       string
		pid      [16]byte
		owned    []TaskID // what the client owns
		reported []TaskID // what the thread last applied: one round behind
		standby  []TaskID
	}
	ms := []*member{{id: "a", pid: [16]byte{1}, owned: tasks, reported: tasks}, {id: "b", pid: [16]byte{2}}, {id: "c", pid: [16]byte{3}}}
	var last string
	stableSince := -1
	for round := range 12 {
		in := AssignInput{Tasks: tasks, Stateful: stateful, Standbys: 1, TaskPartitions: parts}
		for _, m := range ms {
			owned := map[string][]int32{}
			offsets := map[TaskID]int64{}
			for _, t := range m.owned {
				owned["in"] = append(owned["in"], t.Partition)
			}
			for _, t := range append(slices.Clone(m.reported), m.standby...) {
				offsets[t] = 100
			}
			in.Members = append(in.Members, Member{ID: m.id, Owned: owned,
				Sub: Subscription{ProcessID: m.pid, Active: m.reported, Standby: m.standby, Offsets: offsets}})
		}
		in.Members = ActiveFromOwned(in)
		plans, withheld := WithholdOwned(in, Assign(in))
		state := ""
		count := map[TaskID]int{}
		for _, m := range ms {
			pl := plans[m.id]
			m.reported, m.owned, m.standby = m.owned, pl.Active, pl.Standby
			state += fmt.Sprintf("%s=%v ", m.id, pl.Active)
			for _, t := range pl.Active {
				count[t]++
			}
		}
		if state == last && !withheld {
			if stableSince < 0 {
				stableSince = round
			}
		} else {
			stableSince = -1
		}
		last = state
		for _, id := range tasks {
			if count[id] > 1 {
				t.Fatalf("round %d: task %s active on %d members: %s", round, id, count[id], state)
			}
		}
		if round == 11 {
			if stableSince < 0 || stableSince > 3 {
				t.Fatalf("the assignment did not settle by round 3 (stable since %d): %s", stableSince, state)
			}
			for _, id := range tasks {
				if count[id] != 1 {
					t.Fatalf("task %s active on %d members: %s", id, count[id], state)
				}
			}
		}
	}
}
