package kafkatest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Diagnose describes, for a failed test, each partition of the topics: its
// high watermark, its last stable offset (below it when a transaction is
// open) and the group's committed offset.
func Diagnose(brokers []string, group string, topics ...string) string {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		return err.Error()
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	hwm, err := adm.ListEndOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	lso, err := adm.ListCommittedOffsets(ctx, topics...)
	if err != nil {
		return err.Error()
	}
	committed, _ := adm.FetchOffsets(ctx, group)
	var sb strings.Builder
	for _, topic := range topics {
		ps := hwm[topic]
		keys := make([]int32, 0, len(ps))
		for p := range ps {
			keys = append(keys, p)
		}
		slices.Sort(keys)
		for _, p := range keys {
			h := ps[p].Offset
			l, _ := lso.Lookup(topic, p)
			c, ok := committed.Lookup(topic, p)
			cs := "-"
			if ok {
				cs = fmt.Sprint(c.At)
			}
			mark := ""
			if l.Offset < h {
				mark = "  <- open transaction"
			}
			fmt.Fprintf(&sb, "%s/%d hwm=%d lso=%d committed=%s%s\n", topic, p, h, l.Offset, cs, mark)
		}
	}
	return sb.String()
}
