package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

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
// last stable offsets. A partition the brokers cannot answer for yet (a
// topic just created, not in the client's metadata) is asked again for up
// to boundsRetry; what still fails is left unknown and returned in the
// error, with the bounds of the others.
func (e *Engine) listInputBounds(ctx context.Context, tps []topicPartition) (inputBounds, error) {
	b := inputBounds{start: map[topicPartition]int64{}, end: map[topicPartition]int64{}}
	if len(tps) == 0 {
		return b, nil
	}
	deadline := time.Now().Add(boundsRetry)
	for _, at := range []int64{-2, -1} { // earliest, then latest (the LSO under read_committed)
		into := b.start
		if at == -1 {
			into = b.end
		}
		left := tps
		for {
			failed, err := e.listOffsets(ctx, left, at, into)
			if len(failed) == 0 {
				break
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				return b, fmt.Errorf("listing the offsets of %d input partitions: %w", len(failed), err)
			}
			left = failed
			time.Sleep(50 * time.Millisecond)
		}
	}
	return b, nil
}

// boundsRetry bounds how long listInputBounds retries.
const boundsRetry = 2 * time.Second

// listOffsets lists the offsets at (-2 earliest, -1 latest) of tps into
// into, and returns the partitions it got no answer for, with an error
// saying why.
func (e *Engine) listOffsets(ctx context.Context, tps []topicPartition, at int64, into map[topicPartition]int64) ([]topicPartition, error) {
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
	var failed []topicPartition
	var errs []error
	for _, shard := range e.admCl.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, shard.Err)
			for _, rt := range shard.Req.(*kmsg.ListOffsetsRequest).Topics {
				for _, rp := range rt.Partitions {
					failed = append(failed, topicPartition{rt.Topic, rp.Partition})
				}
			}
			continue
		}
		for _, t := range shard.Resp.(*kmsg.ListOffsetsResponse).Topics {
			for _, p := range t.Partitions {
				tp := topicPartition{t.Topic, p.Partition}
				if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, err))
					failed = append(failed, tp)
					continue
				}
				if p.Offset >= 0 {
					into[tp] = p.Offset
				}
			}
		}
	}
	return failed, errors.Join(errs...)
}
