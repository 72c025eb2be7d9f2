package engine

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// inputBounds holds what the broker said of input partitions when their
// tasks opened: the log start offset (where a partition without a
// committed offset is read from) and the last stable offset (how far a
// read_committed consumer can read). A partition missing from a map is
// unknown.
type inputBounds struct {
	start, end map[topicPartition]int64
}

// listInputBounds asks the partitions' leaders for their log start and
// last stable offsets.
func (e *Engine) listInputBounds(ctx context.Context, tps []topicPartition) (inputBounds, error) {
	b := inputBounds{start: map[topicPartition]int64{}, end: map[topicPartition]int64{}}
	if len(tps) == 0 {
		return b, nil
	}
	for _, at := range []int64{-2, -1} { // earliest, then latest (the LSO under read_committed)
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		req.IsolationLevel = 1
		byTopic := map[string]int{}
		for _, tp := range tps {
			i, ok := byTopic[tp.topic]
			if !ok {
				i = len(req.Topics)
				byTopic[tp.topic] = i
				rt := kmsg.NewListOffsetsRequestTopic()
				rt.Topic = tp.topic
				req.Topics = append(req.Topics, rt)
			}
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition = tp.partition
			rp.Timestamp = at
			rp.CurrentLeaderEpoch = -1
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, rp)
		}
		resp, err := req.RequestWith(ctx, e.admCl)
		if err != nil {
			return b, fmt.Errorf("listing input offsets: %w", err)
		}
		into := b.start
		if at == -1 {
			into = b.end
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if kerr.ErrorForCode(p.ErrorCode) != nil || p.Offset < 0 {
					continue
				}
				into[topicPartition{t.Topic, p.Partition}] = p.Offset
			}
		}
	}
	return b, nil
}
