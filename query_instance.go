package streams

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/seed992c72d9/streams/internal/engine"
	"github.com/seed992c72d9/streams/internal/exec"
	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/query"
	"github.com/seed992c72d9/streams/state"
)

// QueryInstance returns the view of this instance that package query serves
// over HTTP: its stores, its tasks and the group's, read-only access to
// committed state.
func (a *App) QueryInstance() query.Instance { return appInstance{a} }

type appInstance struct{ a *App }

func (i appInstance) ApplicationID() string { return i.a.cfg.ApplicationID }
func (i appInstance) Endpoint() string      { return i.a.endpoint() }
func (i appInstance) State() string         { return i.a.State().String() }
func (i appInstance) Describe() string      { return i.a.topo.Describe().String() }

func (i appInstance) engine() *engine.Engine {
	i.a.mu.Lock()
	defer i.a.mu.Unlock()
	return i.a.eng
}

func kindOf(b state.Builder) string {
	if k, ok := b.(interface{ Kind() string }); ok {
		return k.Kind()
	}
	return "unknown"
}

func (i appInstance) Stores() []query.StoreInfo {
	var out []query.StoreInfo
	for _, name := range i.a.topo.Stores() {
		info, _ := i.Store(name)
		out = append(out, info)
	}
	for _, name := range i.a.topo.GlobalStores() {
		info, _ := i.Store(name)
		out = append(out, info)
	}
	return out
}

// Store describes one store (query.StoreLookup).
func (i appInstance) Store(name string) (query.StoreInfo, bool) {
	if b, sub, ok := i.a.topo.Store(name); ok {
		info := query.StoreInfo{Name: name, Kind: kindOf(b), SubTopology: sub}
		info.Keys, _ = b.(state.KeyParser)
		if _, logged := b.Changelog(); logged {
			info.Changelog = exec.ChangelogTopic(i.a.cfg.ApplicationID, name)
		}
		if eng := i.engine(); eng != nil {
			info.Partitions = eng.TaskCount(sub)
		}
		return info, true
	}
	if b, _, ok := i.a.topo.GlobalStore(name); ok {
		kp, _ := b.(state.KeyParser)
		return query.StoreInfo{Name: name, Kind: kindOf(b), SubTopology: -1, Partitions: 1, Keys: kp}, true
	}
	return query.StoreInfo{}, false
}

func (i appInstance) Hosts() []query.Host {
	eng := i.engine()
	if eng == nil {
		return nil
	}
	var out []query.Host
	for _, h := range eng.Hosts() {
		out = append(out, query.Host{Endpoint: h.Endpoint, Active: slices.Clone(h.Active), Standby: slices.Clone(h.Standby)})
	}
	return out
}

func (i appInstance) Status(task processor.TaskID) query.TaskStatus {
	eng := i.engine()
	if eng == nil {
		return query.TaskStatus{}
	}
	if task.Partition < 0 { // global stores are everywhere once running
		return query.TaskStatus{Active: true}
	}
	st := eng.Status(task)
	return query.TaskStatus{Active: st.Active, Standby: st.Standby, Restoring: st.Restoring}
}

func (i appInstance) Open(store string, task processor.TaskID) (state.Store, map[string]int64, error) {
	i.a.mu.Lock()
	db := i.a.db
	i.a.mu.Unlock()
	if db == nil {
		return nil, nil, fmt.Errorf("instance is not running: %w", query.ErrNotLocal)
	}
	var b state.Builder
	if gb, gst, ok := i.a.topo.GlobalStore(store); ok {
		b, task = gb, processor.TaskID{SubTopology: gst.ID, Partition: -1}
	} else if sb, sub, ok := i.a.topo.Store(store); ok {
		if sub != task.SubTopology {
			return nil, nil, fmt.Errorf("store %q belongs to sub-topology %d, not task %s: %w", store, sub, task, query.ErrUnknownStore)
		}
		st := i.Status(task)
		if !st.Active && !st.Standby {
			return nil, nil, fmt.Errorf("task %s: %w", task, query.ErrNotLocal)
		}
		b = sb
	} else {
		return nil, nil, fmt.Errorf("%q: %w", store, query.ErrUnknownStore)
	}
	ro, ok := b.(state.ReadOnlyBuilder)
	if !ok {
		return nil, nil, fmt.Errorf("store %q cannot be read from outside its task: %w", store, query.ErrUnknownStore)
	}
	s, err := ro.BuildReadOnly(db.Committed(task, store))
	if err != nil {
		return nil, nil, err
	}
	meta := db.CommittedMeta(task)
	pos := map[string]int64{}
	for e, err := range meta.All([]byte("position/"), []byte("position0"), false) {
		if err != nil {
			s.Close()
			return nil, nil, err
		}
		if len(e.Value) == 8 {
			pos[strings.TrimPrefix(string(e.Key), "position/")] = int64(binary.BigEndian.Uint64(e.Value))
		}
	}
	// The changelog offset the state includes: active and standby copies
	// of a task record it alike (the input positions of a standby are those
	// of its last run as active, if any: lower bounds).
	if task.Partition >= 0 {
		if _, logged := b.Changelog(); logged {
			v, ok, err := meta.Get([]byte("changelog/" + store))
			if err != nil {
				s.Close()
				return nil, nil, err
			}
			if ok && len(v) == 8 {
				topic := exec.ChangelogTopic(i.a.cfg.ApplicationID, store)
				pos[topic+"/"+strconv.Itoa(int(task.Partition))] = int64(binary.BigEndian.Uint64(v)) + 1
			}
		}
	}
	return s, pos, nil
}
