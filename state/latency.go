package state

import "time"

// StoreOp is a kind of store operation whose latency a store measures (see
// [Env.OpLatency]).
type StoreOp uint8

// The operations a store times. A composite operation counts as its parts:
// KeyValueStore.PutIfAbsent is a get and maybe a put, PutAll a put per entry.
const (
	// OpGet is a point read: KeyValueStore.Get, WindowStore.Fetch,
	// SessionStore.FetchSession.
	OpGet StoreOp = iota
	// OpPut is a write: KeyValueStore.Put, WindowStore.Put,
	// SessionStore.Put (a nil value, which deletes, included).
	OpPut
	// OpDelete is KeyValueStore.Delete or SessionStore.Remove.
	OpDelete
	// OpRange is one iteration over a store (a range, prefix or full scan,
	// a fetch of windows or sessions): the time spent in the store, from
	// the start of the iteration to its end, less the time spent in the
	// caller's loop body.
	OpRange
	// OpFlush is Flush: writing cached updates through to the task's
	// staged state and the changelog, before every commit.
	OpFlush

	numStoreOps = iota
)

var storeOpNames = [numStoreOps]string{"get", "put", "delete", "range", "flush"}

// String returns the operation's name: get, put, delete, range or flush.
func (op StoreOp) String() string {
	if int(op) < len(storeOpNames) {
		return storeOpNames[op]
	}
	return "unknown"
}

// StoreOps returns every StoreOp, in order.
func StoreOps() []StoreOp { return []StoreOp{OpGet, OpPut, OpDelete, OpRange, OpFlush} }

// Observer receives latency samples, in seconds. A
// prometheus.Observer (a histogram or summary) is one.
type Observer interface {
	Observe(seconds float64)
}

// LatencySampleEvery is the sampling period of timed store operations: a
// store times the first operation of each kind and every
// LatencySampleEvery-th after it (flushes: every one). An unsampled
// operation costs an increment and a comparison: no clock read, no
// allocation.
const LatencySampleEvery = 64

// opTimer times a sample of one store's operations. A nil *opTimer times
// nothing. It is used by the one goroutine that owns the store, so its
// counters are plain integers.
type opTimer struct {
	obs [numStoreOps]Observer
	n   [numStoreOps]uint32
}

// newOpTimer resolves the store's observers once, or returns nil when env
// asks for no latency.
func newOpTimer(env Env, store string) *opTimer {
	if env.OpLatency == nil {
		return nil
	}
	t := &opTimer{}
	for op := range StoreOp(numStoreOps) {
		if t.obs[op] = env.OpLatency(store, op); t.obs[op] == nil {
			t.obs[op] = discardObserver{}
		}
	}
	return t
}

type discardObserver struct{}

func (discardObserver) Observe(float64) {}

// sample counts an operation of kind op and reports whether to time it.
// Each kind has its own counter: one counter for all would, for a caller
// alternating two kinds (get then put, per record), time only one of them.
func (t *opTimer) sample(op StoreOp) bool {
	if t == nil {
		return false
	}
	n := t.n[op]
	t.n[op] = n + 1
	return n%LatencySampleEvery == 0
}

// observe records an operation of kind op that started at start.
func (t *opTimer) observe(op StoreOp, start time.Time) {
	t.obs[op].Observe(time.Since(start).Seconds())
}

// timeRange runs body, an iteration over the store, with yield. When the
// iteration is sampled it observes the time body spends outside yield: the
// store's work, not the caller's loop body. Unsampled, it calls body(yield)
// and nothing else.
func timeRange[T any](t *opTimer, yield func(T, error) bool, body func(yield func(T, error) bool)) {
	if !t.sample(OpRange) {
		body(yield)
		return
	}
	start := time.Now()
	var spent time.Duration
	body(func(v T, err error) bool {
		spent += time.Since(start)
		more := yield(v, err)
		start = time.Now()
		return more
	})
	t.obs[OpRange].Observe((spent + time.Since(start)).Seconds())
}
