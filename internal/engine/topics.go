package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/topology"
)

// TopicPlan is what the application needs to exist in Kafka, with partition
// counts by resolved topic name.
type TopicPlan struct {
	// Counts holds the partition count of every source, internal and
	// changelog topic.
	Counts map[string]int32
	// Create are the internal and changelog topics with their configs.
	Create map[string]map[string]string
}

// PlanTopics computes the partition counts of internal topics from those of
// the external source topics, checks co-partitioning, and lists the topics
// to create. external holds the partition counts of the topology's
// external source topics that exist.
func PlanTopics(appID string, t *topology.Topology, external map[string]int32) (*TopicPlan, error) {
	l := NewLayout(appID, t)
	var missing []string
	all := append(slices.Clone(t.SubTopologies()), t.GlobalSubTopologies()...)
	for _, st := range all {
		for _, topic := range st.SourceTopics {
			if !t.IsInternal(topic) {
				if _, ok := external[topic]; !ok && !slices.Contains(missing, topic) {
					missing = append(missing, topic)
				}
			}
		}
	}
	if len(missing) > 0 {
		slices.Sort(missing)
		return nil, fmt.Errorf("source topics do not exist: %s", strings.Join(missing, ", "))
	}
	counts := map[string]int32{}
	for k, v := range external {
		counts[k] = v
	}
	declared := map[string]int32{}
	for _, it := range t.InternalTopics() {
		if it.Partitions > 0 {
			declared[l.Resolve(it.Name)] = int32(it.Partitions)
			counts[l.Resolve(it.Name)] = int32(it.Partitions)
		}
	}
	// Co-partitioned groups give undeclared internal topics the count of
	// their external members.
	for _, g := range t.CopartitionGroups() {
		var n int32
		for _, topic := range g {
			if !t.IsInternal(topic) {
				n = max(n, counts[topic])
			}
		}
		for _, topic := range g {
			r := l.Resolve(topic)
			if t.IsInternal(topic) && declared[r] == 0 && n > 0 {
				counts[r] = n
				declared[r] = n
			}
		}
	}
	// Undeclared repartition topics take the widest source of the
	// sub-topologies that write them, until nothing changes.
	for changed := true; changed; {
		changed = false
		for _, it := range t.InternalTopics() {
			r := l.Resolve(it.Name)
			if declared[r] > 0 {
				continue
			}
			var n int32
			for _, st := range t.SubTopologies() {
				if !slices.Contains(st.SinkTopics, it.Name) {
					continue
				}
				for _, src := range st.SourceTopics {
					n = max(n, counts[l.Resolve(src)])
				}
			}
			if n > counts[r] {
				counts[r] = n
				changed = true
			}
		}
	}
	for _, g := range t.CopartitionGroups() {
		var desc []string
		var first int32 = -1
		same := true
		for _, topic := range g {
			c := counts[l.Resolve(topic)]
			desc = append(desc, fmt.Sprintf("%s=%d", l.Resolve(topic), c))
			if first < 0 {
				first = c
			} else if c != first {
				same = false
			}
		}
		if !same {
			return nil, fmt.Errorf("co-partitioned topics have different partition counts: %s", strings.Join(desc, ", "))
		}
	}
	plan := &TopicPlan{Counts: counts, Create: map[string]map[string]string{}}
	for _, it := range t.InternalTopics() {
		plan.Create[l.Resolve(it.Name)] = map[string]string{"cleanup.policy": "delete"}
	}
	for _, st := range t.SubTopologies() {
		var n int32
		for _, src := range st.SourceTopics {
			n = max(n, counts[l.Resolve(src)])
		}
		for _, b := range st.Spec().Stores {
			if cfg, ok := b.Changelog(); ok {
				topic := exec.ChangelogTopic(appID, b.Name())
				counts[topic] = n
				plan.Create[topic] = cfg.Configs
			}
		}
	}
	return plan, nil
}

// EnsureTopics lists the external source topics, plans the internal ones
// and creates those that are missing. Existing internal topics must have
// the planned partition count.
func EnsureTopics(ctx context.Context, adm *kadm.Client, appID string, t *topology.Topology, replication int16) (*TopicPlan, error) {
	var external []string
	for _, st := range append(slices.Clone(t.SubTopologies()), t.GlobalSubTopologies()...) {
		for _, topic := range st.SourceTopics {
			if !t.IsInternal(topic) {
				external = append(external, topic)
			}
		}
	}
	slices.Sort(external)
	external = slices.Compact(external)
	counts := map[string]int32{}
	if len(external) > 0 {
		details, err := adm.ListTopics(ctx, external...)
		if err != nil {
			return nil, fmt.Errorf("listing source topics: %w", err)
		}
		for name, d := range details {
			if d.Err == nil {
				counts[name] = int32(len(d.Partitions))
			}
		}
	}
	plan, err := PlanTopics(appID, t, counts)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(plan.Create))
	for n := range plan.Create {
		names = append(names, n)
	}
	slices.Sort(names)
	if len(names) == 0 {
		return plan, nil
	}
	existing, err := adm.ListTopics(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("listing internal topics: %w", err)
	}
	for _, name := range names {
		want := plan.Counts[name]
		if d, ok := existing[name]; ok && d.Err == nil {
			if got := int32(len(d.Partitions)); got != want {
				return nil, fmt.Errorf("internal topic %s has %d partitions, want %d", name, got, want)
			}
			continue
		}
		configs := map[string]*string{}
		for k, v := range plan.Create[name] {
			configs[k] = &v
		}
		resp, err := adm.CreateTopic(ctx, want, replication, configs, name)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return nil, fmt.Errorf("creating internal topic %s: %w", name, err)
		}
	}
	return plan, nil
}
