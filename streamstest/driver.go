// Package streamstest runs a topology synchronously in memory, the way Kafka
// Streams' TopologyTestDriver does, so that a topology can be unit-tested
// without a broker.
//
// Records piped into an [InputTopic] are processed at once, in the calling
// goroutine, through the task that owns their partition; records written to
// repartition topics are processed right after, in order; what sinks write
// to other topics waits in an [OutputTopic]. After each input record the
// driver fires the stream-time punctuations that are due and commits, which
// flushes state store caches. Wall-clock time is a controllable clock that
// moves only with [Driver.AdvanceWallClock].
//
// Partitions follow Kafka's default partitioner (murmur2 of the serialized
// key); every topic has one partition unless [WithPartitions] says otherwise.
// A Driver is not safe for concurrent use.
package streamstest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"time"

	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/internal/murmur2"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
	"github.com/seed992c72d9/streams/topology"
)

// Option configures a Driver.
type Option func(*config)

type config struct {
	appID        string
	partitions   map[string]int
	start        int64
	onDeser      processor.DeserializationHandler
	logger       *slog.Logger
	stateDir     string
	cacheBytes   int64
	manualCommit bool
}

// WithApplicationID sets the application id (default "streamstest"), which
// prefixes internal topic names.
func WithApplicationID(id string) Option { return func(c *config) { c.appID = id } }

// WithPartitions sets the partition count of a topic (default 1). For an
// internal topic use its name as the topology names it, without the
// application id.
func WithPartitions(topic string, n int) Option {
	return func(c *config) { c.partitions[topic] = n }
}

// WithWallClock sets the initial wall-clock time (default the Unix epoch).
// Input topics stamp records with it unless told otherwise.
func WithWallClock(t time.Time) Option { return func(c *config) { c.start = t.UnixMilli() } }

// WithDeserializationHandler sets what happens to undecodable input records
// (by default processing fails with an error naming the record).
func WithDeserializationHandler(h processor.DeserializationHandler) Option {
	return func(c *config) { c.onDeser = h }
}

// WithStateDir keeps state in a Pebble database in dir instead of memory.
func WithStateDir(dir string) Option { return func(c *config) { c.stateDir = dir } }

// WithCacheMaxBytes sets the size of the record cache (default 10 MiB); 0
// disables it. Since the driver commits after every record unless
// WithManualCommit is given, the cache changes what is forwarded only with
// manual commits.
func WithCacheMaxBytes(n int64) Option { return func(c *config) { c.cacheBytes = n } }

// WithManualCommit stops the driver from committing after every record:
// caches are flushed and state committed only by Driver.Commit. Use it to
// test what caching does.
func WithManualCommit() Option { return func(c *config) { c.manualCommit = true } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// Driver runs a topology in memory.
type Driver struct {
	cfg   config
	topo  *topology.Topology
	clock int64

	tasks map[processor.TaskID]*exec.Task
	// globals maps global topics to the task that keeps their store.
	globals map[string]*exec.Task
	// readers maps resolved source topics to their sub-topology.
	readers  map[string]int
	internal map[string]bool
	parts    map[string]int
	rr       map[string]int32
	// partCache caches partition counts by resolved topic name.
	partCache map[string]int

	outputs map[string]*queue
	pending []pendingRecord
	dropped map[string]int64
	closed  bool

	globalTasks []*exec.Task
	db          *state.DB
	cache       *state.Cache
	// topics caches, by resolved name, what a record to or from a topic
	// needs: its partitions, offsets, reader and output queue.
	topics map[string]*topicInfo
	// taskGrid indexes tasks by sub-topology and partition.
	taskGrid [][]*exec.Task
}

// topicInfo is what the driver knows about one topic, named as in Kafka.
type topicInfo struct {
	partitions int
	internal   bool
	// reader is the sub-topology that reads the topic, if hasReader.
	reader    int
	hasReader bool
	// global is the task keeping a global store of the topic, or nil.
	global *exec.Task
	// next is the next offset of each partition; last the offset of the
	// last record a sink wrote to it, or -1 (for changelog offsets).
	next, last []int64
	out        *queue
}

// topic returns the cached information about topic.
func (d *Driver) topic(name string) *topicInfo {
	if ti := d.topics[name]; ti != nil {
		return ti
	}
	ti := &topicInfo{partitions: d.partitionsOfResolved(name), internal: d.internal[name], global: d.globals[name]}
	ti.reader, ti.hasReader = d.readers[name]
	d.topics[name] = ti
	return ti
}

// nextOffset takes the next offset of a partition of the topic.
func (ti *topicInfo) nextOffset(partition int32) int64 {
	for int(partition) >= len(ti.next) {
		ti.next = append(ti.next, 0)
		ti.last = append(ti.last, -1)
	}
	o := ti.next[partition]
	ti.next[partition] = o + 1
	return o
}

// task returns the task of a sub-topology for a partition, or nil.
func (d *Driver) task(sub int, partition int32) *exec.Task {
	if sub < 0 || sub >= len(d.taskGrid) || partition < 0 || int(partition) >= len(d.taskGrid[sub]) {
		return nil
	}
	return d.taskGrid[sub][partition]
}

type queue struct {
	recs []exec.OutRecord
	head int
}

// New starts a driver for t: it creates and initializes one task per
// sub-topology and partition.
func New(t *topology.Topology, opts ...Option) (*Driver, error) {
	cfg := config{appID: "streamstest", partitions: map[string]int{}, cacheBytes: state.DefaultCacheBytes}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.logger == nil {
		cfg.logger = slog.New(slog.DiscardHandler)
	}
	d := &Driver{
		cfg: cfg, topo: t, clock: cfg.start,
		tasks:     map[processor.TaskID]*exec.Task{},
		globals:   map[string]*exec.Task{},
		readers:   map[string]int{},
		internal:  map[string]bool{},
		parts:     map[string]int{},
		rr:        map[string]int32{},
		partCache: map[string]int{},
		outputs:   map[string]*queue{},
		dropped:   map[string]int64{},
		topics:    map[string]*topicInfo{},
	}
	for topic, n := range cfg.partitions {
		if n < 1 {
			return nil, fmt.Errorf("streamstest: topic %q: partition count %d is below 1", topic, n)
		}
	}
	if cfg.stateDir != "" {
		db, err := state.OpenPebble(cfg.stateDir, state.PebbleOptions{Logger: cfg.logger})
		if err != nil {
			return nil, fmt.Errorf("streamstest: %w", err)
		}
		d.db = db
	} else {
		d.db = state.OpenMemory()
	}
	if cfg.cacheBytes > 0 {
		d.cache = state.NewCache(cfg.cacheBytes)
	}
	for _, it := range t.InternalTopics() {
		d.internal[d.resolve(it.Name)] = true
	}
	for _, st := range t.SubTopologies() {
		for _, topic := range st.SourceTopics {
			d.readers[d.resolve(topic)] = st.ID
		}
	}
	globalStores := map[string]processor.StateStore{}
	for _, st := range t.GlobalSubTopologies() {
		id := processor.TaskID{SubTopology: st.ID, Partition: -1}
		task, err := exec.NewTask(st.Spec(), id, exec.Env{
			ApplicationID: cfg.appID, Collector: (*collector)(d), WallClock: func() int64 { return d.clock },
			Logger: cfg.logger, OnDeserializationError: cfg.onDeser, Metrics: (*metrics)(d),
			StateDB: d.db, NoChangelogs: true,
		})
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("streamstest: %w", err)
		}
		if err := task.Init(); err != nil {
			d.Close()
			return nil, fmt.Errorf("streamstest: %w", err)
		}
		d.globalTasks = append(d.globalTasks, task)
		for _, topic := range st.SourceTopics {
			d.globals[topic] = task
		}
		for _, name := range st.Stores {
			sb, _, _ := t.GlobalStore(name)
			ro, ok := sb.(state.ReadOnlyBuilder)
			if !ok {
				d.Close()
				return nil, fmt.Errorf("streamstest: global store %q cannot be read without its task", name)
			}
			view, err := ro.BuildReadOnly(d.db.Committed(id, name))
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("streamstest: %w", err)
			}
			globalStores[name] = view
		}
	}
	for _, st := range t.SubTopologies() {
		n := 0
		for _, topic := range st.SourceTopics {
			p, err := d.partitionsOf(topic, nil)
			if err != nil {
				return nil, err
			}
			n = max(n, p)
		}
		for p := range n {
			id := processor.TaskID{SubTopology: st.ID, Partition: int32(p)}
			task, err := exec.NewTask(st.Spec(), id, exec.Env{
				ApplicationID:          cfg.appID,
				Collector:              (*collector)(d),
				WallClock:              func() int64 { return d.clock },
				Logger:                 cfg.logger,
				OnDeserializationError: cfg.onDeser,
				Metrics:                (*metrics)(d),
				StateDB:                d.db,
				Cache:                  d.cache,
				GlobalStores:           globalStores,
			})
			if err != nil {
				d.Close()
				return nil, fmt.Errorf("streamstest: %w", err)
			}
			d.tasks[id] = task
			for len(d.taskGrid) <= st.ID {
				d.taskGrid = append(d.taskGrid, nil)
			}
			d.taskGrid[st.ID] = append(d.taskGrid[st.ID], task)
		}
	}
	for _, id := range d.taskIDs() {
		if err := d.tasks[id].Init(); err != nil {
			d.Close()
			return nil, fmt.Errorf("streamstest: %w", err)
		}
	}
	return d, nil
}

func (d *Driver) resolve(topic string) string {
	if d.topo.IsInternal(topic) {
		return d.cfg.appID + "-" + topic
	}
	return topic
}

// partitionsOf returns the partition count of a topic as the topology names
// it: configured, declared for an internal topic, or inherited by a
// repartition topic from the sources upstream of it.
func (d *Driver) partitionsOf(topic string, visiting []string) (int, error) {
	if n, ok := d.cfg.partitions[topic]; ok {
		return n, nil
	}
	if !d.topo.IsInternal(topic) {
		return 1, nil
	}
	for _, it := range d.topo.InternalTopics() {
		if it.Name == topic && it.Partitions > 0 {
			return it.Partitions, nil
		}
	}
	if slices.Contains(visiting, topic) {
		return 1, nil
	}
	n := 0
	for _, st := range d.topo.SubTopologies() {
		if !slices.Contains(st.SinkTopics, topic) {
			continue
		}
		for _, src := range st.SourceTopics {
			p, err := d.partitionsOf(src, append(visiting, topic))
			if err != nil {
				return 0, err
			}
			n = max(n, p)
		}
	}
	return max(n, 1), nil
}

func (d *Driver) taskIDs() []processor.TaskID {
	ids := slices.Collect(maps.Keys(d.tasks))
	slices.SortFunc(ids, func(a, b processor.TaskID) int {
		if a.SubTopology != b.SubTopology {
			return a.SubTopology - b.SubTopology
		}
		return int(a.Partition - b.Partition)
	})
	return ids
}

// Partitions returns the partition count the driver uses for a topic, named
// as the topology names it.
func (d *Driver) Partitions(topic string) int {
	n, _ := d.partitionsOf(topic, nil)
	return n
}

// pipe processes one input record and everything it causes: records to
// repartition topics, stream-time punctuations and commits.
func (d *Driver) pipe(ti *topicInfo, raw exec.RawRecord) error {
	if d.closed {
		return errors.New("streamstest: driver is closed")
	}
	if ti.global != nil {
		if err := ti.global.Process(raw); err != nil {
			return err
		}
		return d.commit(ti.global)
	}
	if !ti.hasReader {
		return fmt.Errorf("streamstest: no source reads topic %q", raw.Topic)
	}
	d.pending = append(d.pending, pendingRecord{raw: raw, sub: ti.reader})
	return d.run()
}

// pendingRecord is a record waiting to be processed by the task of
// sub-topology sub for its partition.
type pendingRecord struct {
	raw exec.RawRecord
	sub int
}

// run processes the pending records in order, including the ones they cause
// to be written to repartition topics. After each record the task fires its
// due stream-time punctuations and commits (flushes its stores).
func (d *Driver) run() error {
	defer func() {
		clear(d.pending)
		d.pending = d.pending[:0]
	}()
	for i := 0; i < len(d.pending); i++ {
		rec := d.pending[i].raw
		task := d.task(d.pending[i].sub, rec.Partition)
		if task == nil {
			return fmt.Errorf("streamstest: topic %q has no partition %d", rec.Topic, rec.Partition)
		}
		if err := task.Process(rec); err != nil {
			return err
		}
		if _, err := task.PunctuateStreamTime(); err != nil {
			return err
		}
		if !d.cfg.manualCommit {
			if err := d.commit(task); err != nil {
				return err
			}
		}
	}
	return nil
}

// commit flushes a task's stores and commits its state with the offsets its
// changelogs reached.
func (d *Driver) commit(task *exec.Task) error {
	if err := task.Flush(); err != nil {
		return err
	}
	ts := task.State()
	if ts == nil {
		return nil
	}
	for _, s := range task.Stores() {
		topic := exec.ChangelogTopic(d.cfg.appID, s.Name())
		if off, ok := d.lastOffset(topic, task.ID().Partition); ok {
			if err := ts.Meta().Set([]byte("changelog/"+s.Name()), binary.BigEndian.AppendUint64(nil, uint64(off))); err != nil {
				return err
			}
		}
	}
	return ts.Commit()
}

// Commit flushes every task's caches and commits its state, processing what
// the flushes write to repartition topics. With WithManualCommit it is the
// only way records held in caches move on.
func (d *Driver) Commit() error {
	if d.closed {
		return errors.New("streamstest: driver is closed")
	}
	for _, id := range d.taskIDs() {
		if err := d.commit(d.tasks[id]); err != nil {
			return err
		}
		if err := d.run(); err != nil {
			return err
		}
	}
	return nil
}

// AdvanceWallClock moves the wall clock forward and fires the wall-clock
// punctuations that are due, task by task; what they write to repartition
// topics is processed before the next task's turn.
func (d *Driver) AdvanceWallClock(by time.Duration) error {
	if d.closed {
		return errors.New("streamstest: driver is closed")
	}
	if by < 0 {
		return fmt.Errorf("streamstest: cannot move the wall clock back by %v", -by)
	}
	d.clock += by.Milliseconds()
	for _, id := range d.taskIDs() {
		task := d.tasks[id]
		if _, err := task.PunctuateWallClock(); err != nil {
			return err
		}
		if !d.cfg.manualCommit {
			if err := d.commit(task); err != nil {
				return err
			}
		}
		if err := d.run(); err != nil {
			return err
		}
	}
	return nil
}

// WallClock returns the driver's wall-clock time.
func (d *Driver) WallClock() time.Time { return time.UnixMilli(d.clock) }

// Dropped returns how many records were dropped for reason (such as
// "deserialization-error", "invalid-timestamp", "late"), over all tasks.
func (d *Driver) Dropped(reason string) int64 { return d.dropped[reason] }

// DroppedAll returns the dropped-record counts by reason.
func (d *Driver) DroppedAll() map[string]int64 { return maps.Clone(d.dropped) }

// Store returns the state store name of the task for partition of the store's
// sub-topology.
func (d *Driver) Store(name string, partition int32) (state.Store, error) {
	_, sub, ok := d.topo.Store(name)
	if !ok {
		return nil, fmt.Errorf("streamstest: unknown state store %q", name)
	}
	task, ok := d.tasks[processor.TaskID{SubTopology: sub, Partition: partition}]
	if !ok {
		return nil, fmt.Errorf("streamstest: state store %q has no partition %d", name, partition)
	}
	s, _ := task.Store(name)
	return s, nil
}

// Close closes every task and returns the errors they report.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, id := range d.taskIDs() {
		if err := d.tasks[id].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	for _, g := range d.globalTasks {
		if err := g.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	if d.db != nil {
		if err := d.db.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lastOffset returns the offset of the last record written to a
// topic-partition.
func (d *Driver) lastOffset(topic string, partition int32) (int64, bool) {
	ti := d.topics[topic]
	if ti == nil || partition < 0 || int(partition) >= len(ti.last) || ti.last[partition] < 0 {
		return 0, false
	}
	return ti.last[partition], true
}

// partitionFor applies Kafka's default partitioner.
func (d *Driver) partitionFor(topic string, key []byte, n int) int32 {
	if key == nil {
		p := d.rr[topic] % int32(n)
		d.rr[topic] = p + 1
		return p
	}
	return murmur2.Partition(key, n)
}

// partitionsOfResolved returns the partition count of a topic named as in
// Kafka (internal topics with the application id prefix).
func (d *Driver) partitionsOfResolved(topic string) int {
	if n, ok := d.partCache[topic]; ok {
		return n
	}
	name := topic
	for _, it := range d.topo.InternalTopics() {
		if d.resolve(it.Name) == topic {
			name = it.Name
		}
	}
	n := d.Partitions(name)
	d.partCache[topic] = n
	return n
}

type collector Driver

func (c *collector) Send(_ processor.TaskID, rec exec.OutRecord) error {
	d := (*Driver)(c)
	ti := d.topic(rec.Topic)
	if rec.Partition < 0 {
		rec.Partition = d.partitionFor(rec.Topic, rec.Key, ti.partitions)
	}
	if len(rec.Headers) == 0 {
		rec.Headers = nil
	}
	if ti.internal {
		if !ti.hasReader {
			return fmt.Errorf("streamstest: no source reads topic %q", rec.Topic)
		}
		d.pending = append(d.pending, pendingRecord{sub: ti.reader, raw: exec.RawRecord{
			Topic: rec.Topic, Partition: rec.Partition, Offset: ti.nextOffset(rec.Partition),
			Key: rec.Key, Value: rec.Value, Timestamp: rec.Timestamp, Headers: rec.Headers,
		}})
		return nil
	}
	ti.last[rec.Partition] = ti.nextOffset(rec.Partition)
	if ti.out == nil {
		ti.out = d.outputs[rec.Topic]
		if ti.out == nil {
			ti.out = &queue{}
			d.outputs[rec.Topic] = ti.out
		}
	}
	ti.out.recs = append(ti.out.recs, rec)
	return nil
}

func (c *collector) Partitions(topic string) (int, error) {
	return (*Driver)(c).topic(topic).partitions, nil
}

type metrics Driver

func (m *metrics) RecordDropped(_ processor.TaskID, reason string) { m.dropped[reason]++ }
