package engine

import (
	"cmp"
	"slices"

	"github.com/seed992c72d9/streams/processor"
)

// TaskID is a task: a sub-topology applied to one partition.
type TaskID = processor.TaskID

func compareTasks(a, b TaskID) int {
	if c := cmp.Compare(a.SubTopology, b.SubTopology); c != 0 {
		return c
	}
	return cmp.Compare(a.Partition, b.Partition)
}

// Member is one group member (one processing thread of one instance) as the
// leader sees it.
type Member struct {
	ID  string
	Sub Subscription
	// Owned are the partitions the member owns now (cooperative protocol).
	Owned map[string][]int32
}

// Plan is the leader's decision for one member.
type Plan struct {
	Active  []TaskID
	Standby []TaskID
}

// AssignInput is what the assignment algorithm needs.
type AssignInput struct {
	Members []Member
	// Tasks are all tasks, sorted.
	Tasks []TaskID
	// Stateful marks tasks with stores (they get standbys and prefer
	// caught-up instances).
	Stateful map[TaskID]bool
	// Standbys is the number of standby replicas per stateful task.
	Standbys int
	// TaskPartitions returns the topic-partitions a task reads.
	TaskPartitions func(TaskID) map[string][]int32
}

type process struct {
	id      [16]byte
	members []int // indexes into AssignInput.Members, by thread
	active  []TaskID
	standby []TaskID
	offsets map[TaskID]int64
	prevAct map[TaskID]bool
	prevSb  map[TaskID]bool
}

func (p *process) weight() int { return len(p.members) }

// Assign decides which member runs each task actively and which processes
// keep standby copies. Active tasks are sticky to the process (and thread)
// that ran them before, balanced by task count in proportion to each
// process's threads; a task without a live previous owner goes to the
// process with the most caught-up local copy that has room, else to the
// least loaded. Standby copies go to other processes, preferring those that
// already hold the task's state. The result is deterministic for a given
// input.
func Assign(in AssignInput) map[string]Plan {
	procs := groupProcesses(in.Members)
	totalWeight := 0
	for _, p := range procs {
		totalWeight += p.weight()
	}
	out := make(map[string]Plan, len(in.Members))
	if len(procs) == 0 || totalWeight == 0 {
		return out
	}
	// Capacity per process: its share of the tasks, rounded up, so that
	// every task fits.
	capOf := func(p *process) int {
		return (len(in.Tasks)*p.weight() + totalWeight - 1) / totalWeight
	}
	owner := map[TaskID]*process{}
	for _, p := range procs {
		for t := range p.prevAct {
			if _, taken := owner[t]; !taken && slices.ContainsFunc(in.Tasks, func(x TaskID) bool { return x == t }) {
				owner[t] = p
			}
		}
	}
	// Sticky pass: keep previous owners up to capacity. Tasks a process
	// gives up are the ones another process holds a copy of, then the
	// highest ids.
	var pool []TaskID
	for _, p := range procs {
		var mine []TaskID
		for _, t := range in.Tasks {
			if owner[t] == p {
				mine = append(mine, t)
			}
		}
		c := capOf(p)
		if len(mine) > c {
			slices.SortStableFunc(mine, func(a, b TaskID) int {
				// keep tasks nobody else has state for first
				ea, eb := elsewhere(procs, p, a), elsewhere(procs, p, b)
				if ea != eb {
					if ea {
						return 1
					}
					return -1
				}
				return compareTasks(a, b)
			})
			pool = append(pool, mine[c:]...)
			mine = mine[:c]
		}
		p.active = mine
	}
	for _, t := range in.Tasks {
		if owner[t] == nil {
			pool = append(pool, t)
		}
	}
	slices.SortFunc(pool, compareTasks)
	for _, t := range pool {
		var best *process
		for _, p := range procs {
			if len(p.active) >= capOf(p) {
				continue
			}
			if best == nil || better(p, best, t, in.Stateful[t]) {
				best = p
			}
		}
		if best == nil { // cannot happen: capacities cover every task
			best = procs[0]
		}
		best.active = append(best.active, t)
	}
	// Standbys.
	if in.Standbys > 0 {
		for _, t := range in.Tasks {
			if !in.Stateful[t] {
				continue
			}
			for range min(in.Standbys, len(procs)-1) {
				var best *process
				for _, p := range procs {
					if slices.Contains(p.active, t) || slices.Contains(p.standby, t) {
						continue
					}
					if best == nil || betterStandby(p, best, t) {
						best = p
					}
				}
				if best == nil {
					break
				}
				best.standby = append(best.standby, t)
			}
		}
	}
	// Spread each process's tasks over its threads.
	for _, p := range procs {
		spread(p, in.Members, p.active, func(m *Member) []TaskID { return m.Sub.Active }, func(i int, t TaskID) {
			pl := out[in.Members[i].ID]
			pl.Active = append(pl.Active, t)
			out[in.Members[i].ID] = pl
		})
		spread(p, in.Members, p.standby, func(m *Member) []TaskID { return m.Sub.Standby }, func(i int, t TaskID) {
			pl := out[in.Members[i].ID]
			pl.Standby = append(pl.Standby, t)
			out[in.Members[i].ID] = pl
		})
	}
	for id, pl := range out {
		slices.SortFunc(pl.Active, compareTasks)
		slices.SortFunc(pl.Standby, compareTasks)
		out[id] = pl
	}
	for _, m := range in.Members {
		if _, ok := out[m.ID]; !ok {
			out[m.ID] = Plan{}
		}
	}
	return out
}

// elsewhere reports whether a process other than p holds state for t.
func elsewhere(procs []*process, p *process, t TaskID) bool {
	for _, q := range procs {
		if q != p && (q.prevSb[t] || q.offsets[t] > 0) {
			return true
		}
	}
	return false
}

// better reports whether p is a better home than q for the active task t:
// for stateful tasks the more caught-up copy wins, then the lower load
// relative to weight, then the smaller process id.
func better(p, q *process, t TaskID, stateful bool) bool {
	if stateful {
		po, qo := p.offsets[t], q.offsets[t]
		if po != qo {
			return po > qo
		}
	}
	// compare len(p.active)/w(p) with len(q.active)/w(q)
	l, r := len(p.active)*q.weight(), len(q.active)*p.weight()
	if l != r {
		return l < r
	}
	return slices.Compare(p.id[:], q.id[:]) < 0
}

func betterStandby(p, q *process, t TaskID) bool {
	if p.prevSb[t] != q.prevSb[t] {
		return p.prevSb[t]
	}
	if po, qo := p.offsets[t], q.offsets[t]; po != qo {
		return po > qo
	}
	l, r := len(p.standby)*q.weight(), len(q.standby)*p.weight()
	if l != r {
		return l < r
	}
	return slices.Compare(p.id[:], q.id[:]) < 0
}

// spread gives a process's tasks to its threads: each task to the thread that
// had it before when that thread has room, the rest to the least loaded.
func spread(p *process, members []Member, tasks []TaskID, prev func(*Member) []TaskID, give func(member int, t TaskID)) {
	n := len(p.members)
	capacity := (len(tasks) + n - 1) / n
	load := make([]int, n)
	var rest []TaskID
	for _, t := range tasks {
		placed := false
		for j, mi := range p.members {
			if load[j] < capacity && slices.Contains(prev(&members[mi]), t) {
				give(mi, t)
				load[j]++
				placed = true
				break
			}
		}
		if !placed {
			rest = append(rest, t)
		}
	}
	for _, t := range rest {
		best := 0
		for j := range p.members {
			if load[j] < load[best] {
				best = j
			}
		}
		give(p.members[best], t)
		load[best]++
	}
}

func groupProcesses(members []Member) []*process {
	byID := map[[16]byte]*process{}
	var procs []*process
	for i, m := range members {
		p, ok := byID[m.Sub.ProcessID]
		if !ok {
			p = &process{id: m.Sub.ProcessID, offsets: map[TaskID]int64{}, prevAct: map[TaskID]bool{}, prevSb: map[TaskID]bool{}}
			byID[m.Sub.ProcessID] = p
			procs = append(procs, p)
		}
		p.members = append(p.members, i)
		for _, t := range m.Sub.Active {
			p.prevAct[t] = true
		}
		for _, t := range m.Sub.Standby {
			p.prevSb[t] = true
		}
		for t, o := range m.Sub.Offsets {
			p.offsets[t] = max(p.offsets[t], o)
		}
	}
	slices.SortFunc(procs, func(a, b *process) int { return slices.Compare(a.id[:], b.id[:]) })
	for _, p := range procs {
		slices.SortFunc(p.members, func(a, b int) int {
			return cmp.Compare(members[a].Sub.Thread, members[b].Sub.Thread)
		})
	}
	return procs
}

// ActiveFromOwned returns the members with each one's Sub.Active replaced by
// the tasks whose partitions it owns. A member's subscription lists the
// tasks its thread last opened, and the thread may not have applied its
// latest assignment when the client rejoins (a revocation makes it rejoin at
// once): a stale list, with partitions owned elsewhere, made the leader keep
// giving a member tasks it had just revoked and withhold the ones it owned,
// round after round. The owned partitions are the client's own record of
// the assignment, so they decide.
func ActiveFromOwned(in AssignInput) []Member {
	out := make([]Member, len(in.Members))
	for i, m := range in.Members {
		var active []TaskID
		for _, t := range in.Tasks {
			parts := in.TaskPartitions(t)
			owned := len(parts) > 0
			for topic, ps := range parts {
				for _, p := range ps {
					if !slices.Contains(m.Owned[topic], p) {
						owned = false
					}
				}
			}
			if owned {
				active = append(active, t)
			}
		}
		m.Sub.Active = active
		out[i] = m
	}
	return out
}

// WithholdOwned applies the cooperative protocol's rule: a task whose
// partitions another live member still owns is not given to its new member
// in this round; the old owner revokes it and rejoins, and the next round
// assigns it. It returns the adjusted plans and whether anything was
// withheld.
func WithholdOwned(in AssignInput, plans map[string]Plan) (map[string]Plan, bool) {
	ownerOf := map[string]map[int32]string{}
	for _, m := range in.Members {
		for topic, ps := range m.Owned {
			if ownerOf[topic] == nil {
				ownerOf[topic] = map[int32]string{}
			}
			for _, p := range ps {
				ownerOf[topic][p] = m.ID
			}
		}
	}
	withheld := false
	out := make(map[string]Plan, len(plans))
	for id, pl := range plans {
		var keep []TaskID
		for _, t := range pl.Active {
			ok := true
			for topic, ps := range in.TaskPartitions(t) {
				for _, p := range ps {
					if o, owned := ownerOf[topic][p]; owned && o != id {
						ok = false
					}
				}
			}
			if ok {
				keep = append(keep, t)
			} else {
				withheld = true
			}
		}
		out[id] = Plan{Active: keep, Standby: pl.Standby}
	}
	return out, withheld
}
