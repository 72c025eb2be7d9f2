package query

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/seed992c72d9/streams/processor"
)

// Task names a task (sub-topology and partition) in metadata.
type Task struct {
	SubTopology int   `json:"subTopology"`
	Partition   int32 `json:"partition"`
}

// InstanceInfo is an instance in a metadata answer.
type InstanceInfo struct {
	Endpoint string `json:"endpoint"`
	Active   []Task `json:"active"`
	Standby  []Task `json:"standby"`
}

// StoreMetadata is a store in store list and metadata answers.
type StoreMetadata struct {
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	SubTopology int    `json:"subTopology"`
	Partitions  int    `json:"partitions"`
	Global      bool   `json:"global,omitempty"`
	Changelog   string `json:"changelog,omitempty"`
}

// Metadata is the answer of GET /v1/metadata.
type Metadata struct {
	ApplicationID string          `json:"applicationId"`
	Endpoint      string          `json:"endpoint"`
	State         string          `json:"state"`
	Instances     []InstanceInfo  `json:"instances"`
	Stores        []StoreMetadata `json:"stores"`
}

func tasksOf(ts []processor.TaskID) []Task {
	out := make([]Task, 0, len(ts))
	for _, t := range ts {
		out = append(out, Task{SubTopology: t.SubTopology, Partition: t.Partition})
	}
	slices.SortFunc(out, func(a, b Task) int {
		if a.SubTopology != b.SubTopology {
			return a.SubTopology - b.SubTopology
		}
		return int(a.Partition - b.Partition)
	})
	return out
}

func storesOf(infos []StoreInfo) []StoreMetadata {
	out := make([]StoreMetadata, 0, len(infos))
	for _, s := range infos {
		j := StoreMetadata{Name: s.Name, Kind: s.Kind, SubTopology: s.SubTopology, Partitions: s.Partitions, Changelog: s.Changelog}
		if s.SubTopology < 0 {
			j.Global, j.Partitions = true, 1
		}
		out = append(out, j)
	}
	return out
}

func (h *handler) listStores(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		h.fail(w, badRequest("this path takes no parameters"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"stores": storesOf(h.inst.Stores())})
}

func (h *handler) storeInfo(w http.ResponseWriter, r *http.Request) {
	info, e := h.lookup(r.PathValue("store"))
	if e != nil {
		h.fail(w, e)
		return
	}
	writeJSON(w, http.StatusOK, storesOf([]StoreInfo{info})[0])
}

func (h *handler) metadata(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.Query()) > 0 {
		h.fail(w, badRequest("this path takes no parameters"))
		return
	}
	md := Metadata{ApplicationID: h.inst.ApplicationID(), Endpoint: h.inst.Endpoint(), State: h.inst.State(),
		Instances: []InstanceInfo{}, Stores: storesOf(h.inst.Stores())}
	for _, host := range h.inst.Hosts() {
		md.Instances = append(md.Instances, InstanceInfo{Endpoint: host.Endpoint, Active: tasksOf(host.Active), Standby: tasksOf(host.Standby)})
	}
	slices.SortFunc(md.Instances, func(a, b InstanceInfo) int { return strings.Compare(a.Endpoint, b.Endpoint) })
	writeJSON(w, http.StatusOK, md)
}

// KeyMetadata is the answer of GET /v1/metadata/stores/{store}/keys/{key}.
type KeyMetadata struct {
	Store     string `json:"store"`
	Key       string `json:"key"`
	Partition int    `json:"partition"`
	Task      Task   `json:"task"`
	// Active is the endpoint of the instance running the key's task, empty
	// when none does (rebalancing).
	Active   string   `json:"active"`
	Standbys []string `json:"standbys"`
}

func (h *handler) keyMetadata(w http.ResponseWriter, r *http.Request) {
	info, e := h.lookup(r.PathValue("store"))
	if e != nil {
		h.fail(w, e)
		return
	}
	if len(r.URL.Query()) > 0 {
		h.fail(w, badRequest("this path takes no parameters"))
		return
	}
	keyText := r.PathValue("key")
	kb, e := h.parseKey(info, keyText, "key")
	if e != nil {
		h.fail(w, e)
		return
	}
	p, e := partitionOf(info, kb)
	if e != nil {
		h.fail(w, e)
		return
	}
	task := taskOf(info, p)
	md := KeyMetadata{Store: info.Name, Key: keyText, Partition: p, Task: Task{task.SubTopology, task.Partition}, Standbys: []string{}}
	for _, host := range h.inst.Hosts() {
		if slices.Contains(host.Active, task) && md.Active == "" {
			md.Active = host.Endpoint
		}
		if slices.Contains(host.Standby, task) {
			md.Standbys = append(md.Standbys, host.Endpoint)
		}
	}
	slices.Sort(md.Standbys)
	writeJSON(w, http.StatusOK, md)
}

func (h *handler) topology(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, h.inst.Describe())
}

type healthJSON struct {
	Status string `json:"status"`
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	s := h.inst.State()
	if s == stateError {
		writeJSON(w, http.StatusServiceUnavailable, healthJSON{Status: "failed", State: s})
		return
	}
	writeJSON(w, http.StatusOK, healthJSON{Status: "ok", State: s})
}

func (h *handler) readyz(w http.ResponseWriter, r *http.Request) {
	s := h.inst.State()
	notReady := func(reason string) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(h.opts.RetryAfter.Seconds()))))
		writeJSON(w, http.StatusServiceUnavailable, healthJSON{Status: "not ready", State: s, Reason: reason})
	}
	if s != stateRunning {
		notReady("instance is " + s)
		return
	}
	self := h.inst.Endpoint()
	for _, host := range h.inst.Hosts() {
		for _, t := range host.Active {
			st := h.inst.Status(t)
			if st.Restoring {
				notReady(fmt.Sprintf("task %s is restoring", t))
				return
			}
			if self != "" && host.Endpoint == self && !st.Active {
				notReady(fmt.Sprintf("task %s is assigned but not running yet", t))
				return
			}
		}
	}
	writeJSON(w, http.StatusOK, healthJSON{Status: "ready", State: s})
}
