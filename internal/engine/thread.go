package engine

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

type topicPartition struct {
	topic     string
	partition int32
}

// taskRun is an active task on a thread, with its input queues and
// positions.
type taskRun struct {
	id     TaskID
	task   *exec.Task
	parts  []topicPartition
	queues map[topicPartition]*entryQueue
	// ordered holds the queues in parts' order, for the per-record pick.
	ordered []*entryQueue
	// next is the offset to commit per partition: one past the last
	// processed record.
	next map[topicPartition]int64
	// committed is next as of the last commit.
	committed map[topicPartition]int64
	idleSince time.Time
	// enforced is set when the task, after waiting, processes with an
	// empty partition, until it has none.
	enforced bool
	m        *taskMetrics
	// hwm is each partition's high watermark as of its latest fetch.
	hwm map[topicPartition]int64
}

// entryQueue is a partition's buffer of stamped records.
type entryQueue struct {
	// buf is a ring of len(buf) slots, a power of two (or none): the n
	// queued entries start at head. Free slots are zero.
	buf     []exec.Entry
	head, n int
	// next is the offset after the last record processed from the queue;
	// dirty says it changed since it was copied to the task's positions.
	next  int64
	dirty bool
	// seen is the offset after the last record or transaction marker
	// fetched for the partition, and end the last stable offset the broker
	// last reported (-1 when unknown): while seen < end the broker holds
	// records the queue has not received, and the task waits for them
	// rather than process its other partitions ahead of them.
	seen, end int64
}

// behind reports whether the broker is known to hold records of the queue's
// partition that it has not received.
func (q *entryQueue) behind() bool { return q.seen < q.end }

func (q *entryQueue) len() int { return q.n }

// add appends a zero entry and returns it, to be filled in place (an entry
// built on the stack and handed to a task by pointer would escape to the
// heap). The ring grows only when full, so a queue kept topped up holds a
// buffer of at most twice its largest length, whatever passes through it,
// and entries never move but when it grows. The pointer is valid until the
// next add.
func (q *entryQueue) add() *exec.Entry {
	if q.n == len(q.buf) {
		grown := make([]exec.Entry, max(64, 2*len(q.buf)))
		k := copy(grown, q.buf[q.head:])
		copy(grown[k:], q.buf[:q.head])
		q.buf, q.head = grown, 0
	}
	e := &q.buf[(q.head+q.n)&(len(q.buf)-1)]
	q.n++
	return e
}

// peek returns the head entry; the queue must not be empty.
func (q *entryQueue) peek() *exec.Entry { return &q.buf[q.head] }

// last returns the tail entry; the queue must not be empty.
func (q *entryQueue) last() *exec.Entry { return &q.buf[(q.head+q.n-1)&(len(q.buf)-1)] }

func (q *entryQueue) pop() exec.Entry {
	e := q.buf[q.head]
	q.drop()
	return e
}

// drop removes the head entry (see peek).
func (q *entryQueue) drop() {
	q.buf[q.head] = exec.Entry{}
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
}

// thread is one processing thread: one group member, one transactional
// producer, the tasks it is assigned.
type thread struct {
	e    *Engine
	idx  int
	log  *slog.Logger
	cl   *kgo.Client
	sess *kgo.GroupTransactSession
	coll *collector
	// cache is the thread's share of the record cache.
	cache *state.Cache

	tasks map[TaskID]*taskRun
	byTP  map[topicPartition]*taskRun
	// processed counts the records the latest process call took.
	processed int
	// nilPoll is set when the client may poll with a nil context (no hook
	// of the user's would get it).
	nilPoll bool
	// lagWait is set when, in the latest process call, a task waited for
	// records its partition holds on the broker; paused holds the
	// partitions whose fetching is paused meanwhile (see pauseFull).
	lagWait bool
	paused  map[topicPartition]bool

	mu sync.Mutex
	// info is the latest assignment; changed is set whenever the group
	// changed this member's assignment.
	info    *AssignmentInfo
	changed bool
	sub     Subscription
	// handoff holds the revoke callbacks waiting for the thread to commit
	// and close the tasks it lost (at-least-once only).
	handoff []chan struct{}
	// stopping is set once the thread shuts down: revoke callbacks then no
	// longer wait for it.
	stopping bool
	// handing are the revoke callbacks of the change being handled; only
	// the thread's goroutine uses it.
	handing []chan struct{}

	lastCommit time.Time
	// now is the time of the current loop iteration, in milliseconds.
	now             int64
	commitRequested bool
	running         bool
	// needRewind makes the next commit abort, so that fetching restarts
	// from the committed offsets.
	needRewind bool
	// resets counts the times the tasks restarted from committed state.
	resets int
}

func newThread(e *Engine, idx int) *thread {
	t := &thread{
		e: e, idx: idx, log: e.log.With("thread", idx),
		tasks: map[TaskID]*taskRun{}, byTP: map[topicPartition]*taskRun{}, paused: map[topicPartition]bool{},
	}
	t.coll = newCollector(t, e.opts.ProductionPolicy)
	if e.opts.CacheBytes > 0 {
		t.cache = state.NewCache(e.opts.CacheBytes / int64(e.opts.Threads))
	}
	t.sub = Subscription{ProcessID: e.opts.ProcessID, Thread: int32(idx), Endpoint: e.opts.Endpoint,
		Offsets: e.localOffsets()}
	return t
}

func (t *thread) txnID() string {
	return fmt.Sprintf("%s-%x-%d", t.e.opts.AppID, t.e.opts.ProcessID, t.idx)
}

func (t *thread) start() error {
	e := t.e
	opts := e.clientOpts(
		kgo.ConsumerGroup(e.opts.AppID),
		kgo.ConsumeTopics(e.layout.Topics()...),
		kgo.Balancers(NewBalancer(e.layout, e.opts.Standbys, t.subscription, t.onAssignment)),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) { t.markChanged() }),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, _ map[string][]int32) { t.revoked(ctx) }),
		kgo.OnPartitionsLost(func(context.Context, *kgo.Client, map[string][]int32) { t.markChanged() }),
		// poll recycles each record once it is queued.
		kgo.WithPools(e.slabs),
		// Transaction markers tell poll how far a partition is fetched
		// (see entryQueue.seen); poll drops them.
		kgo.KeepControlRecords(),
	)
	if e.opts.StaticMembership {
		opts = append(opts, kgo.InstanceID(t.txnID()))
	}
	if e.opts.ExactlyOnce {
		opts = append(opts, kgo.TransactionalID(t.txnID()),
			kgo.TransactionTimeout(max(60*time.Second, 10*e.opts.CommitInterval)))
		sess, err := kgo.NewGroupTransactSession(opts...)
		if err != nil {
			return fmt.Errorf("thread %d: creating the Kafka client: %w", t.idx, err)
		}
		t.sess, t.cl = sess, sess.Client()
		t.nilPoll = !hooksPollStart(t.cl)
		return nil
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("thread %d: creating the Kafka client: %w", t.idx, err)
	}
	t.cl = cl
	t.nilPoll = !hooksPollStart(t.cl)
	return nil
}

// hooksPollStart reports whether any of the client's hooks (the user's,
// through KafkaOptions) hears the start of polls: it gets the poll's
// context, which a non-blocking poll leaves nil.
func hooksPollStart(cl *kgo.Client) bool {
	for _, v := range cl.OptValues(kgo.WithHooks) {
		hooks, _ := v.([]kgo.Hook)
		for _, h := range hooks {
			if _, ok := h.(kgo.HookPollStart); ok {
				return true
			}
		}
	}
	return false
}

func (t *thread) markChanged() {
	t.mu.Lock()
	t.changed = true
	t.mu.Unlock()
}

// handoffTimeout bounds how long a revoke waits for the thread.
const handoffTimeout = 30 * time.Second

// revoked is franz-go's revoke callback. Under at-least-once it waits until
// the thread has committed and closed the tasks it lost (or handoffTimeout
// passes), so that the group moves a partition only after its old owner
// flushed the task's changelog and committed its offsets: otherwise the new
// owner could restore the changelog before the old owner's last writes land
// and then start from offsets committed after them, and the state would miss
// those records. Under exactly-once the transaction session fences the old
// owner instead: its open transaction aborts.
func (t *thread) revoked(ctx context.Context) {
	if t.sess != nil {
		t.markChanged()
		return
	}
	ch := make(chan struct{})
	t.mu.Lock()
	t.changed = true
	if t.stopping {
		t.mu.Unlock()
		return
	}
	t.handoff = append(t.handoff, ch)
	t.mu.Unlock()
	timer := time.NewTimer(handoffTimeout)
	defer timer.Stop()
	select {
	case <-ch:
	case <-ctx.Done():
	case <-timer.C:
		t.log.Warn("the thread did not hand over its revoked tasks in time; the group moves on", "timeout", handoffTimeout)
	}
}

// releaseHandoff lets the revoke callbacks return that were waiting when
// the thread took the change it just handled.
func (t *thread) releaseHandoff() {
	for _, ch := range t.handing {
		close(ch)
	}
	t.handing = nil
}

func (t *thread) onAssignment(info AssignmentInfo) {
	t.mu.Lock()
	t.info = &info
	t.changed = true
	t.mu.Unlock()
	t.e.setAssignment(t.idx, info)
}

// subscription is called by franz-go's group goroutine when joining.
func (t *thread) subscription() Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.sub
}

func (t *thread) takeChanged() (*AssignmentInfo, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.changed
	t.changed = false
	t.handing = append(t.handing, t.handoff...)
	t.handoff = nil
	return t.info, c
}

func (t *thread) setRunning(running bool) {
	if t.running != running {
		t.running = running
		if t.e.opts.OnThreadState != nil {
			t.e.opts.OnThreadState(t.idx, running)
		}
	}
}

// run is the thread's loop: poll, process, punctuate, commit; apply group
// changes at commit boundaries.
func (t *thread) run(ctx context.Context) (err error) {
	if err := t.start(); err != nil {
		return err
	}
	defer func() {
		if cerr := t.shutdown(err); err == nil {
			err = cerr
		}
	}()
	t.lastCommit = time.Now()
	if t.sess != nil {
		if err := t.sess.Begin(); err != nil {
			return fmt.Errorf("thread %d: beginning a transaction: %w", t.idx, err)
		}
	}
	for ctx.Err() == nil {
		t.now = time.Now().UnixMilli()
		if info, changed := t.takeChanged(); changed {
			t.resumePaused()
			t.setRunning(false)
			if err := t.commit(ctx); err != nil {
				return err
			}
			if err := t.reconcile(ctx, info); err != nil {
				return err
			}
		}
		if err := t.poll(ctx); err != nil {
			return err
		}
		if err := t.process(); err != nil {
			return err
		}
		for _, tr := range t.tasks {
			if _, err := tr.task.PunctuateWallClock(); err != nil {
				return fmt.Errorf("thread %d: %w", t.idx, err)
			}
		}
		if t.commitDue() {
			if err := t.commit(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

func (t *thread) commitDue() bool {
	if t.needRewind || t.commitRequested || time.Since(t.lastCommit) >= t.e.opts.CommitInterval {
		return true
	}
	for _, tr := range t.tasks {
		if ts := tr.task.State(); ts != nil && ts.StagedBytes() > t.e.opts.MaxStagedBytes {
			return true
		}
	}
	return false
}

// poll takes fetched records from the client, as many as the queues have
// room for, and queues them by partition.
func (t *thread) poll(ctx context.Context) error {
	// Records are queued and the last round processed some: poll without
	// waiting. (Queued records no task can take yet, a task idling for an
	// empty partition, leave the poll its short wait instead of a spin.)
	queued := t.buffered()
	busy := queued && t.processed > 0
	wait := max(min(time.Until(t.lastCommit.Add(t.e.opts.CommitInterval)), 100*time.Millisecond), time.Millisecond)
	if queued {
		wait = time.Millisecond
	}
	room := t.room()
	if t.lagWait {
		// A task waits for records the client has not handed over: stop
		// fetching for full queues, so that the client returns the
		// records of the other partitions rather than hold them behind
		// records no queue has room for.
		t.pauseFull()
		room = max(room, t.e.opts.MaxBufferedRecords)
	} else {
		t.resumePaused()
	}
	if room == 0 {
		// Every queue is full: leave the records with the client, which
		// stops fetching until they are taken (back-pressure).
		return nil
	}
	var fetches kgo.Fetches
	if busy && t.nilPoll {
		// Take what the client holds without waiting for more: with a
		// nil context, PollRecords returns at once.
		fetches = t.cl.PollRecords(nil, room) //nolint:staticcheck // nil is franz-go's non-blocking poll
	} else {
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches = t.cl.PollRecords(pctx, room)
		cancel()
	}
	if fetches.IsClientClosed() {
		return fmt.Errorf("thread %d: the Kafka client closed", t.idx)
	}
	fetches.EachError(func(topic string, p int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return
		}
		t.log.Warn("fetch error", "topic", topic, "partition", p, "error", err)
	})
	// The group may have handed this member new partitions during the poll:
	// open their tasks before routing the records.
	if info, changed := t.takeChanged(); changed {
		t.resumePaused()
		t.setRunning(false)
		resets := t.resets
		if err := t.commit(ctx); err != nil {
			return err
		}
		if err := t.reconcile(ctx, info); err != nil {
			return err
		}
		if t.resets != resets {
			// The commit aborted and the tasks restarted from their
			// committed offsets, where fetching rewound too: the
			// records in hand come from before the rewind and will be
			// fetched again. Routing them now would process them ahead
			// of the records the rewind brings back.
			return nil
		}
	}
	return t.route(fetches)
}

// route queues fetched records by partition, each stamped by its task.
// Transaction markers are never queued; they only tell how far a partition
// is fetched. Records of a partition this thread runs no task for make the
// next commit abort and rewind.
func (t *thread) route(fetches kgo.Fetches) error {
	var fatal error
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		tp := topicPartition{fp.Topic, fp.Partition}
		tr, ok := t.byTP[tp]
		if ok && fp.HighWatermark >= 0 {
			tr.hwm[tp] = fp.HighWatermark
		}
		if !ok {
			// Records of a partition this thread runs no task for (the
			// assignment moved on): they are dropped here, and the next
			// commit aborts, which rewinds fetching to the committed
			// offsets, so nothing is lost. Transaction markers alone
			// lose nothing.
			for _, r := range fp.Records {
				if !r.Attrs.IsControl() && !t.needRewind {
					t.log.Debug("records for a partition without task; rewinding", "topic", fp.Topic, "partition", fp.Partition)
					t.needRewind = true
				}
				r.Recycle()
			}
			return
		}
		q := tr.queues[tp]
		if fp.LastStableOffset > q.end {
			q.end = fp.LastStableOffset
		}
		// Never process a record below what this task already processed
		// or committed: a consumer position rewound too far would
		// otherwise apply records twice.
		floor, hasFloor := tr.next[tp]
		if !hasFloor {
			floor, hasFloor = tr.committed[tp]
		}
		if n := q.len(); n > 0 {
			floor, hasFloor = q.last().Raw.Offset+1, true
		}
		for _, r := range fp.Records {
			if r.Offset >= q.seen {
				q.seen = r.Offset + 1
			}
			if r.Attrs.IsControl() {
				// A transaction's marker (the client keeps them so
				// that seen passes them): never processed.
				r.Recycle()
				continue
			}
			if hasFloor && r.Offset < floor {
				t.log.Warn("skipping a record below the partition's processed position", "topic", r.Topic,
					"partition", r.Partition, "offset", r.Offset, "position", floor)
				r.Recycle()
				continue
			}
			e := q.add()
			*e = exec.Entry{Raw: exec.RawRecord{
				Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
				Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli(),
			}}
			if len(r.Headers) > 0 {
				e.Raw.Headers = make(processor.Headers, len(r.Headers))
				for i, h := range r.Headers {
					e.Raw.Headers[i] = processor.Header{Key: h.Key, Value: h.Value}
				}
			}
			// The entry holds copies of the record's fields (its bytes
			// are the fetch's, which are not pooled): the record itself
			// can go back to the pool.
			r.Recycle()
			if err := tr.task.Stamp(e); err != nil {
				fatal = err
				return
			}
		}
	})
	if fatal != nil {
		return fmt.Errorf("thread %d: %w", t.idx, fatal)
	}
	return nil
}

// room returns how many records the queues can take: the thread buffers at
// most MaxBufferedRecords per assigned partition in total, and takes at most
// 10000 records per poll.
//
// Back-pressure works by not polling: the client keeps what it fetched
// (bounded by its fetch sizes) and fetches no more until it is taken.
// Partitions are never paused, because pausing drops what the client
// already buffered for them and makes it fetch those records again.
func (t *thread) room() int {
	if len(t.tasks) == 0 {
		return 1000
	}
	limit, held := 0, 0
	for _, tr := range t.tasks {
		for _, q := range tr.queues {
			limit += t.e.opts.MaxBufferedRecords
			held += q.len()
		}
	}
	return min(max(limit-held, 0), 10000)
}

func (t *thread) buffered() bool {
	for _, tr := range t.tasks {
		for _, q := range tr.queues {
			if q.len() > 0 {
				return true
			}
		}
	}
	return false
}

// process runs queued records through their tasks, each task taking the
// record with the smallest timestamp among its partitions' heads.
func (t *thread) process() error {
	t.processed = 0
	t.lagWait = false
	for _, tr := range t.tasks {
		n := 0
		var start time.Time
		for ; n < 1000; n++ {
			q := t.pick(tr)
			if q == nil {
				break
			}
			if n == 0 {
				start = time.Now()
			}
			// Processed in place: nothing adds to the queue meanwhile.
			e := q.peek()
			err := tr.task.ProcessEntry(e)
			q.next = e.Raw.Offset + 1
			q.dirty = true
			q.drop()
			if err != nil {
				return fmt.Errorf("thread %d: %w", t.idx, err)
			}
		}
		t.processed += n
		if n > 0 {
			tr.m.record(n, time.Since(start))
			for tp, q := range tr.queues {
				if q.dirty {
					tr.next[tp] = q.next
					q.dirty = false
				}
			}
			if _, err := tr.task.PunctuateStreamTime(); err != nil {
				return fmt.Errorf("thread %d: %w", t.idx, err)
			}
			if tr.task.CommitRequested() {
				t.commitRequested = true
			}
		}
	}
	return t.coll.firstErr()
}

// pick returns the queue whose head record goes next, or nil when the task
// should wait: it has an empty partition whose records the broker holds
// but the client has not fetched yet (unless MaxTaskIdle is negative), or
// an empty partition it has waited less than MaxTaskIdle for. This is
// Kafka Streams' max.task.idle.ms, whose default 0 waits for fetched lag.
func (t *thread) pick(tr *taskRun) *entryQueue {
	var best *entryQueue
	empty, behind := false, false
	for _, q := range tr.ordered {
		if q.len() == 0 {
			empty = true
			behind = behind || q.behind()
			continue
		}
		if best == nil || q.peek().TS < best.peek().TS {
			best = q
		}
	}
	if best == nil || !empty || t.e.opts.MaxTaskIdle < 0 {
		tr.idleSince, tr.enforced = time.Time{}, false
		return best
	}
	if !behind && t.e.opts.MaxTaskIdle == 0 {
		tr.idleSince, tr.enforced = time.Time{}, false
		return best
	}
	if tr.idleSince.IsZero() {
		tr.idleSince = time.Now()
	}
	waited := time.Since(tr.idleSince)
	if behind {
		if waited < lagWaitLimit {
			t.lagWait = true
			return nil
		}
		// The records the broker reported have not come: give up on
		// them rather than stop the task (they are processed when they
		// come, out of timestamp order).
		for _, q := range tr.ordered {
			if q.len() == 0 && q.behind() {
				t.log.Warn("processing a task without records its partition holds on the broker",
					"task", tr.id.String(), "waited", waited.Round(time.Millisecond),
					"fetched up to", q.seen, "last stable offset", q.end)
				q.end = q.seen
			}
		}
	}
	if waited < t.e.opts.MaxTaskIdle {
		return nil
	}
	if !tr.enforced {
		tr.enforced = true
		tr.m.enforced.Inc()
	}
	return best
}

// pauseFull pauses fetching for the partitions whose queues are full and
// resumes it for those paused whose queues are not anymore. (Pausing drops
// what the client buffered for a partition: it fetches those records again
// once resumed.)
func (t *thread) pauseFull() {
	var pause, resume map[string][]int32
	for _, tr := range t.tasks {
		for tp, q := range tr.queues {
			full := q.len() >= t.e.opts.MaxBufferedRecords
			switch {
			case full && !t.paused[tp]:
				if pause == nil {
					pause = map[string][]int32{}
				}
				pause[tp.topic] = append(pause[tp.topic], tp.partition)
				t.paused[tp] = true
			case !full && t.paused[tp]:
				if resume == nil {
					resume = map[string][]int32{}
				}
				resume[tp.topic] = append(resume[tp.topic], tp.partition)
				delete(t.paused, tp)
			}
		}
	}
	if resume != nil {
		t.cl.ResumeFetchPartitions(resume)
	}
	if pause != nil {
		t.cl.PauseFetchPartitions(pause)
	}
}

// resumePaused resumes fetching for the partitions pauseFull paused.
func (t *thread) resumePaused() {
	if len(t.paused) == 0 {
		return
	}
	resume := map[string][]int32{}
	for tp := range t.paused {
		resume[tp.topic] = append(resume[tp.topic], tp.partition)
	}
	clear(t.paused)
	t.cl.ResumeFetchPartitions(resume)
}

// lagWaitLimit bounds how long a task waits for records the broker
// reported but the client has not fetched.
const lagWaitLimit = 10 * time.Second

// commit flushes every task, commits the transaction (or offsets) and then
// applies each task's staged state with its changelog offsets. When the
// transaction aborts, the tasks restart from their committed state.
func (t *thread) commit(ctx context.Context) error {
	start := time.Now()
	t.commitRequested = false
	t.e.metrics.EndToEnd.add(t.coll.e2e)
	for _, tr := range t.tasks {
		if err := tr.task.Flush(); err != nil {
			return fmt.Errorf("thread %d: %w", t.idx, err)
		}
	}
	if t.sess != nil {
		if !t.needRewind && !t.coll.producedSince() && !t.progressed() {
			// Nothing to commit: keep the transaction open. (Ending an
			// empty one costs a round trip and, with franz-go, a pause.)
			t.lastCommit = time.Now()
			return nil
		}
		how := kgo.TryCommit
		if t.needRewind {
			how = kgo.TryAbort
			t.needRewind = false
		}
		// A transaction that began ending ends even if ctx is canceled
		// meanwhile (a clean stop): franz-go aborts one whose context
		// ends while it waits for the flush or the heartbeat, and the
		// records processed in it would be processed again by the next
		// owner. endTimeout bounds the wait instead.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
		defer cancel()
		committed, err := t.sess.End(kgo.PreTxnCommitFnContext(ectx, t.rewriteOffsets), how)
		if err == nil {
			if err2 := t.coll.firstErr(); err2 != nil {
				return fmt.Errorf("thread %d: %w", t.idx, err2)
			}
		}
		if err != nil {
			return fmt.Errorf("thread %d: ending the transaction: %w", t.idx, err)
		}
		if committed {
			if err := t.applyState(); err != nil {
				return err
			}
			t.e.metrics.committed(time.Since(start))
		} else {
			t.log.Info("transaction aborted; restarting tasks from their committed state")
			t.e.metrics.aborted()
			if err := t.resetTasks(ctx); err != nil {
				return err
			}
		}
		if err := t.sess.Begin(); err != nil {
			return fmt.Errorf("thread %d: beginning a transaction: %w", t.idx, err)
		}
	} else {
		if t.needRewind {
			t.needRewind = false
			if err := t.resetTasks(ctx); err != nil {
				return err
			}
			t.lastCommit = time.Now()
			return nil
		}
		// As above: a commit that began completes despite a stop.
		ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
		defer cancel()
		if err := t.cl.Flush(ectx); err != nil {
			return fmt.Errorf("thread %d: flushing the producer: %w", t.idx, err)
		}
		if err := t.coll.firstErr(); err != nil {
			return fmt.Errorf("thread %d: %w", t.idx, err)
		}
		if offsets := t.offsetsToCommit(); len(offsets) > 0 {
			var cerr error
			t.cl.CommitOffsetsSync(ectx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
				cerr = err
			})
			if cerr != nil {
				t.log.Warn("committing offsets failed; records since the last commit may be processed again", "error", cerr)
			}
		}
		if err := t.applyState(); err != nil {
			return err
		}
		t.e.metrics.committed(time.Since(start))
	}
	t.lastCommit = time.Now()
	return nil
}

// endTimeout bounds how long a commit waits for the producer's flush and
// the end of the transaction (or the offset commit).
const endTimeout = 30 * time.Second

// partitionTimeMeta encodes a partition's time in its committed offset's
// metadata.
func partitionTimeMeta(pt int64) string { return "streams:v1:" + strconv.FormatInt(pt, 10) }

func parsePartitionTime(meta string) (int64, bool) {
	s, ok := strings.CutPrefix(meta, "streams:v1:")
	if !ok {
		return 0, false
	}
	pt, err := strconv.ParseInt(s, 10, 64)
	return pt, err == nil
}

// rewriteOffsets sets the transaction's offset commit to what the tasks
// processed, with each partition's time, instead of what was polled.
func (t *thread) rewriteOffsets(req *kmsg.TxnOffsetCommitRequest) error {
	req.Topics = req.Topics[:0]
	byTopic := map[string]int{}
	for _, tr := range t.tasks {
		for _, tp := range tr.parts {
			next, ok := tr.next[tp]
			if !ok {
				continue
			}
			i, ok := byTopic[tp.topic]
			if !ok {
				rt := kmsg.NewTxnOffsetCommitRequestTopic()
				rt.Topic = tp.topic
				req.Topics = append(req.Topics, rt)
				i = len(req.Topics) - 1
				byTopic[tp.topic] = i
			}
			p := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			p.Partition = tp.partition
			p.Offset = next
			p.LeaderEpoch = -1
			meta := partitionTimeMeta(tr.task.PartitionTime(tp.topic, tp.partition))
			p.Metadata = &meta
			req.Topics[i].Partitions = append(req.Topics[i].Partitions, p)
		}
	}
	return nil
}

// progressed reports whether any task processed records since the last
// commit.
func (t *thread) progressed() bool {
	for _, tr := range t.tasks {
		for tp, next := range tr.next {
			if c, ok := tr.committed[tp]; !ok || c != next {
				return true
			}
		}
	}
	return false
}

func (t *thread) offsetsToCommit() map[string]map[int32]kgo.EpochOffset {
	out := map[string]map[int32]kgo.EpochOffset{}
	for _, tr := range t.tasks {
		for tp, next := range tr.next {
			if tr.committed[tp] == next {
				continue
			}
			if out[tp.topic] == nil {
				out[tp.topic] = map[int32]kgo.EpochOffset{}
			}
			out[tp.topic][tp.partition] = kgo.EpochOffset{Epoch: -1, Offset: next}
		}
	}
	return out
}

// applyState writes each task's changelog offsets and input positions into
// its staged state and commits it.
func (t *thread) applyState() error {
	offsets := t.coll.takeChangelogOffsets()
	for _, tr := range t.tasks {
		ts := tr.task.State()
		if ts != nil {
			meta := ts.Meta()
			for _, s := range tr.task.Stores() {
				tp := topicPartition{exec.ChangelogTopic(t.e.opts.AppID, s.Name()), tr.id.Partition}
				if off, ok := offsets[tp]; ok {
					if err := meta.Set([]byte(metaChangelog+s.Name()), binary.BigEndian.AppendUint64(nil, uint64(off))); err != nil {
						return fmt.Errorf("thread %d: task %s: %w", t.idx, tr.id, err)
					}
				}
			}
			for tp, next := range tr.next {
				if err := meta.Set([]byte(metaPosition+tp.topic+"/"+strconv.Itoa(int(tp.partition))), binary.BigEndian.AppendUint64(nil, uint64(next))); err != nil {
					return fmt.Errorf("thread %d: task %s: %w", t.idx, tr.id, err)
				}
			}
			if err := ts.Commit(); err != nil {
				return fmt.Errorf("thread %d: %w", t.idx, err)
			}
		}
		for tp, next := range tr.next {
			tr.committed[tp] = next
			if h, ok := tr.hwm[tp]; ok {
				t.e.metrics.Lag.WithLabelValues(tp.topic, strconv.Itoa(int(tp.partition))).Set(float64(max(h-next, 0)))
			}
		}
	}
	return nil
}

// Metadata keys of a task.
const (
	metaChangelog = "changelog/"
	metaPosition  = "position/"
)

// resetTasks closes every task without committing and opens them again from
// their committed state, after an aborted transaction.
func (t *thread) resetTasks(ctx context.Context) error {
	t.resets++
	ids := make([]TaskID, 0, len(t.tasks))
	for id, tr := range t.tasks {
		ids = append(ids, id)
		t.closeTask(tr, false)
	}
	t.coll.reset()
	return t.openTasks(ctx, ids)
}

// reconcile closes the tasks this thread no longer owns and opens (and
// restores) the ones it newly owns.
func (t *thread) reconcile(ctx context.Context, info *AssignmentInfo) error {
	if info == nil {
		t.releaseHandoff()
		return nil
	}
	want := map[TaskID]bool{}
	for _, id := range info.Active {
		want[id] = true
	}
	for id, tr := range t.tasks {
		if !want[id] {
			t.log.Info("task moved away", "task", id.String())
			t.closeTask(tr, true)
		}
	}
	t.releaseHandoff()
	var open []TaskID
	for _, id := range info.Active {
		if _, ok := t.tasks[id]; !ok {
			open = append(open, id)
		}
	}
	if err := t.openTasks(ctx, open); err != nil {
		return err
	}
	running := make([]TaskID, 0, len(t.tasks))
	for id := range t.tasks {
		running = append(running, id)
	}
	t.e.setActive(t.idx, running)
	t.mu.Lock()
	t.sub.Active = slices.Clone(info.Active)
	t.sub.Standby = slices.Clone(info.Standby)
	t.sub.Offsets = t.e.localOffsets()
	t.mu.Unlock()
	t.setRunning(true)
	return nil
}

func (t *thread) closeTask(tr *taskRun, scheduleCleanup bool) {
	if err := tr.task.Close(); err != nil {
		t.log.Warn("closing a task", "task", tr.id.String(), "error", err)
	}
	delete(t.tasks, tr.id)
	for _, tp := range tr.parts {
		delete(t.byTP, tp)
	}
	if scheduleCleanup {
		t.e.scheduleCleanup(tr.id)
	}
}

// openTasks creates tasks, restores their stores and positions them at
// their committed offsets and partition times.
func (t *thread) openTasks(ctx context.Context, ids []TaskID) error {
	if len(ids) == 0 {
		return nil
	}
	committed, err := t.e.committedOffsets(ctx)
	if err != nil {
		return fmt.Errorf("thread %d: %w", t.idx, err)
	}
	counts := t.e.Counts()
	var bounds inputBounds
	if t.e.opts.MaxTaskIdle >= 0 {
		var tps []topicPartition
		for _, id := range ids {
			// Only a task with several input partitions ever waits.
			var parts []topicPartition
			for topic, ps := range t.e.layout.TaskPartitions(counts, id) {
				for _, p := range ps {
					parts = append(parts, topicPartition{topic, p})
				}
			}
			if len(parts) > 1 {
				tps = append(tps, parts...)
			}
		}
		if bounds, err = t.e.listInputBounds(ctx, tps); err != nil {
			// Without them the tasks do not wait for records on the
			// broker, as with a negative MaxTaskIdle.
			t.log.Warn("tasks will not wait for unfetched records of their partitions", "error", err)
		}
	}
	for _, id := range ids {
		t.e.cancelCleanup(id)
		tr, err := t.openTask(ctx, id, counts, committed, bounds)
		if err != nil {
			return fmt.Errorf("thread %d: opening task %s: %w", t.idx, id, err)
		}
		t.tasks[id] = tr
		for _, tp := range tr.parts {
			t.byTP[tp] = tr
		}
	}
	return nil
}

func (t *thread) openTask(ctx context.Context, id TaskID, counts map[string]int32, committed map[topicPartition]committedOffset, bounds inputBounds) (*taskRun, error) {
	subs := t.e.opts.Topology.SubTopologies()
	if id.SubTopology >= len(subs) {
		return nil, fmt.Errorf("unknown sub-topology %d", id.SubTopology)
	}
	spec := subs[id.SubTopology].Spec()
	var task *exec.Task
	deadline := time.Now().Add(60 * time.Second)
	for {
		var err error
		task, err = exec.NewTask(spec, id, exec.Env{
			ApplicationID:          t.e.opts.AppID,
			Collector:              t.coll,
			WallClock:              func() int64 { return time.Now().UnixMilli() },
			Logger:                 t.log,
			OnDeserializationError: t.e.opts.OnDeserializationError,
			OnProcessingError:      t.e.opts.OnProcessingError,
			DeadLetter:             t.e.deadLetter(t),
			Metrics:                t.e.metrics,
			StateDB:                t.e.opts.DB,
			Cache:                  t.cache,
			GlobalStores:           t.e.globalStores(),
		})
		if err == nil {
			break
		}
		if !errors.Is(err, state.ErrTaskOpen) || time.Now().After(deadline) {
			return nil, err
		}
		// Another thread or the standby runner still holds the task's
		// state; it lets go at its next commit.
		if t.e.standby != nil {
			t.e.standby.wake()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	tr := &taskRun{id: id, task: task, queues: map[topicPartition]*entryQueue{}, m: t.e.metrics.forTask(id),
		hwm:  map[topicPartition]int64{},
		next: map[topicPartition]int64{}, committed: map[topicPartition]int64{}}
	for topic, ps := range t.e.layout.TaskPartitions(counts, id) {
		for _, p := range ps {
			tp := topicPartition{topic, p}
			tr.parts = append(tr.parts, tp)
			q := &entryQueue{seen: -1, end: -1}
			tr.queues[tp] = q
			if c, ok := committed[tp]; ok {
				tr.committed[tp] = c.offset
				q.seen = c.offset
				if c.hasTime {
					task.SetPartitionTime(topic, p, c.time)
				}
			} else if start, ok := bounds.start[tp]; ok {
				q.seen = start // where fetching starts without a committed offset
			}
			if end, ok := bounds.end[tp]; ok {
				q.end = end
			}
		}
	}
	slices.SortFunc(tr.parts, func(a, b topicPartition) int { return strings.Compare(a.topic, b.topic) })
	for _, tp := range tr.parts {
		tr.ordered = append(tr.ordered, tr.queues[tp])
	}
	t.e.setRestoring(id, true)
	err := t.e.restoreTask(ctx, t.log, task)
	t.e.setRestoring(id, false)
	if err != nil {
		task.Close()
		return nil, err
	}
	if err := task.Init(); err != nil {
		task.Close()
		return nil, err
	}
	return tr, nil
}

// askApplicationShutdown tells the group that this member asks the whole
// application to shut down, and waits (a while) for the assignment that
// tells every member so.
func (t *thread) askApplicationShutdown(cause error) {
	reason := fmt.Sprintf("instance %x thread %d failed: %v", t.e.opts.ProcessID, t.idx, cause)
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	t.mu.Lock()
	t.sub.Shutdown = reason
	t.mu.Unlock()
	t.log.Error("asking every instance of the application to shut down", "reason", reason)
	t.cl.ForceRebalance()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		t.mu.Lock()
		done := t.info != nil && t.info.Shutdown != ""
		t.mu.Unlock()
		if done {
			return
		}
		// Polling keeps the group member alive and lets it rejoin.
		pctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		t.cl.PollRecords(pctx, 1)
		cancel()
	}
	t.log.Error("the group did not confirm the application shutdown in time")
}

// shutdown commits what was processed (unless the thread failed), closes the
// tasks and leaves the group.
func (t *thread) shutdown(cause error) error {
	// From here on revoke callbacks do not wait for the thread, and those
	// waiting return: closing the client below runs them.
	t.mu.Lock()
	t.stopping = true
	t.handing = append(t.handing, t.handoff...)
	t.handoff = nil
	t.mu.Unlock()
	t.releaseHandoff()
	var err error
	if cause == nil && t.cl != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = t.commit(ctx)
		cancel()
	} else if t.sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, _ = t.sess.End(ctx, kgo.TryAbort)
		cancel()
	}
	if t.coll != nil {
		t.e.metrics.EndToEnd.add(t.coll.e2e)
	}
	if cause != nil && t.cl != nil && t.e.opts.ShutdownApplicationOnFailure {
		t.askApplicationShutdown(cause)
	}
	for _, tr := range t.tasks {
		t.closeTask(tr, false)
	}
	t.e.setActive(t.idx, nil)
	if t.sess != nil {
		t.sess.Close()
	} else if t.cl != nil {
		t.cl.Close()
	}
	t.setRunning(false)
	return err
}
