package engine

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ProtocolName is the group protocol name of the streams balancer.
const ProtocolName = "streams"

// Balancer is the group balancer of one member (one thread): it sends the
// member's subscription, and as the leader assigns tasks to every member.
// It is a cooperative balancer on the classic group protocol.
type Balancer struct {
	layout   *Layout
	standbys int
	// subscription returns the member's current subscription; it is
	// called from franz-go's group goroutine.
	subscription func() Subscription
	// onAssignment receives each assignment this member gets.
	onAssignment func(AssignmentInfo)
}

// NewBalancer returns the balancer of one member.
func NewBalancer(layout *Layout, standbys int, subscription func() Subscription, onAssignment func(AssignmentInfo)) *Balancer {
	return &Balancer{layout: layout, standbys: standbys, subscription: subscription, onAssignment: onAssignment}
}

var _ kgo.GroupBalancer = (*Balancer)(nil)

// ProtocolName implements kgo.GroupBalancer.
func (b *Balancer) ProtocolName() string { return ProtocolName }

// IsCooperative implements kgo.GroupBalancer: partitions move in two
// rebalances, revoked first, assigned after.
func (b *Balancer) IsCooperative() bool { return true }

// JoinGroupMetadata implements kgo.GroupBalancer.
func (b *Balancer) JoinGroupMetadata(interests []string, current map[string][]int32, generation int32) []byte {
	meta := kmsg.NewConsumerMemberMetadata()
	meta.Version = 2
	meta.Topics = interests
	sub := b.subscription()
	meta.UserData = sub.Encode()
	topics := make([]string, 0, len(current))
	for t := range current {
		topics = append(topics, t)
	}
	slices.Sort(topics)
	for _, t := range topics {
		op := kmsg.NewConsumerMemberMetadataOwnedPartition()
		op.Topic = t
		op.Partitions = slices.Sorted(slices.Values(current[t]))
		meta.OwnedPartitions = append(meta.OwnedPartitions, op)
	}
	meta.Generation = generation
	return meta.AppendTo(nil)
}

// ParseSyncAssignment implements kgo.GroupBalancer: it hands the streams
// assignment to the member and returns its partitions.
func (b *Balancer) ParseSyncAssignment(assignment []byte) (map[string][]int32, error) {
	var a kmsg.ConsumerMemberAssignment
	if err := a.ReadFrom(assignment); err != nil {
		return nil, fmt.Errorf("engine: reading the group assignment: %w", err)
	}
	info, err := DecodeAssignment(a.UserData)
	if err != nil {
		return nil, err
	}
	b.onAssignment(info)
	out := make(map[string][]int32, len(a.Topics))
	for _, t := range a.Topics {
		out[t.Topic] = t.Partitions
	}
	return out, nil
}

// MemberBalancer implements kgo.GroupBalancer.
func (b *Balancer) MemberBalancer(members []kmsg.JoinGroupResponseMember) (kgo.GroupMemberBalancer, map[string]struct{}, error) {
	mb := &memberBalancer{b: b}
	topics := map[string]struct{}{}
	for _, m := range members {
		var meta kmsg.ConsumerMemberMetadata
		if err := meta.ReadFrom(m.ProtocolMetadata); err != nil {
			return nil, nil, fmt.Errorf("engine: member %s: reading its metadata: %w", m.MemberID, err)
		}
		sub, err := DecodeSubscription(meta.UserData)
		if err != nil {
			return nil, nil, fmt.Errorf("engine: member %s: %w", m.MemberID, err)
		}
		owned := map[string][]int32{}
		for _, op := range meta.OwnedPartitions {
			owned[op.Topic] = append(owned[op.Topic], op.Partitions...)
		}
		for _, t := range meta.Topics {
			topics[t] = struct{}{}
		}
		mb.members = append(mb.members, Member{ID: m.MemberID, Sub: sub, Owned: owned})
	}
	return mb, topics, nil
}

type memberBalancer struct {
	b       *Balancer
	members []Member
}

func (m *memberBalancer) Balance(topics map[string]int32) kgo.IntoSyncAssignment {
	a, _ := m.BalanceOrError(topics)
	return a
}

// BalanceOrError assigns tasks; it fails when a source topic's partition
// count is unknown.
func (m *memberBalancer) BalanceOrError(topics map[string]int32) (kgo.IntoSyncAssignment, error) {
	for _, t := range m.b.layout.Topics() {
		if _, ok := topics[t]; !ok {
			return nil, fmt.Errorf("engine: balancing: no partition count for source topic %q", t)
		}
	}
	for _, mem := range m.members {
		if mem.Sub.Shutdown != "" {
			return m.shutdownAll(mem.Sub.Shutdown), nil
		}
	}
	tasks := m.b.layout.Tasks(topics)
	stateful := map[TaskID]bool{}
	for _, t := range tasks {
		if m.b.layout.Stateful(t.SubTopology) {
			stateful[t] = true
		}
	}
	in := AssignInput{
		Members: m.members, Tasks: tasks, Stateful: stateful, Standbys: m.b.standbys,
		TaskPartitions: func(t TaskID) map[string][]int32 { return m.b.layout.TaskPartitions(topics, t) },
	}
	in.Members = ActiveFromOwned(in)
	plans, _ := WithholdOwned(in, Assign(in))
	// Every member learns where every task runs.
	hostOf := map[[16]byte]*HostInfo{}
	var hosts []*HostInfo
	for _, mem := range m.members {
		h, ok := hostOf[mem.Sub.ProcessID]
		if !ok {
			h = &HostInfo{ProcessID: mem.Sub.ProcessID, Endpoint: mem.Sub.Endpoint}
			hostOf[mem.Sub.ProcessID] = h
			hosts = append(hosts, h)
		}
		pl := plans[mem.ID]
		h.Active = append(h.Active, pl.Active...)
		h.Standby = append(h.Standby, pl.Standby...)
	}
	allHosts := make([]HostInfo, len(hosts))
	for i, h := range hosts {
		slices.SortFunc(h.Active, compareTasks)
		slices.SortFunc(h.Standby, compareTasks)
		allHosts[i] = *h
	}
	var out syncAssignments
	for _, mem := range m.members {
		pl := plans[mem.ID]
		parts := map[string][]int32{}
		for _, t := range pl.Active {
			for topic, ps := range in.TaskPartitions(t) {
				parts[topic] = append(parts[topic], ps...)
			}
		}
		a := kmsg.NewConsumerMemberAssignment()
		a.Version = 2
		names := make([]string, 0, len(parts))
		for t := range parts {
			names = append(names, t)
		}
		slices.Sort(names)
		for _, t := range names {
			at := kmsg.NewConsumerMemberAssignmentTopic()
			at.Topic = t
			at.Partitions = slices.Sorted(slices.Values(parts[t]))
			a.Topics = append(a.Topics, at)
		}
		info := AssignmentInfo{Active: pl.Active, Standby: pl.Standby, Hosts: allHosts}
		a.UserData = info.Encode()
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = mem.ID
		sa.MemberAssignment = a.AppendTo(nil)
		out = append(out, sa)
	}
	return out, nil
}

// shutdownAll tells every member to shut down, assigning nothing.
func (m *memberBalancer) shutdownAll(reason string) syncAssignments {
	var out syncAssignments
	for _, mem := range m.members {
		a := kmsg.NewConsumerMemberAssignment()
		a.Version = 2
		info := AssignmentInfo{Shutdown: reason}
		a.UserData = info.Encode()
		sa := kmsg.NewSyncGroupRequestGroupAssignment()
		sa.MemberID = mem.ID
		sa.MemberAssignment = a.AppendTo(nil)
		out = append(out, sa)
	}
	return out
}

type syncAssignments []kmsg.SyncGroupRequestGroupAssignment

func (s syncAssignments) IntoSyncAssignment() []kmsg.SyncGroupRequestGroupAssignment { return s }
