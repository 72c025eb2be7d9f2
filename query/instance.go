// Package query serves an application's state over HTTP and reads it back
// from Go: key lookups, paginated range scans, window and session fetches,
// metadata about which instance runs which task, the topology, and health.
//
// Every instance serves the same API. A request for a key whose task runs on
// another instance is proxied to that instance, and only to instances the
// consumer group's assignment names. Reads see committed state only, and
// every answer carries the position (input offsets applied) of the state it
// read.
package query

import (
	"errors"

	"github.com/seed992c72d9/streams/processor"
	"github.com/seed992c72d9/streams/state"
)

// Instance is what a running application instance offers the query server.
// Package streams implements it (App.QueryInstance); tests may fake it.
type Instance interface {
	// ApplicationID returns the application id.
	ApplicationID() string
	// Endpoint returns the host:port this instance advertises.
	Endpoint() string
	// State returns the instance's state name (RUNNING, REBALANCING, ...).
	State() string
	// Describe returns the topology description.
	Describe() string
	// Stores returns the queryable stores.
	Stores() []StoreInfo
	// Hosts returns, for every instance of the group, its endpoint and its
	// tasks, as of the latest assignment.
	Hosts() []Host
	// Status returns how this instance holds a task.
	Status(task processor.TaskID) TaskStatus
	// Open returns a read-only view of the committed state of a store of a
	// local task (active, or standby), with the task's position: the next
	// input offset per "topic/partition" that the state includes.
	Open(store string, task processor.TaskID) (state.Store, map[string]int64, error)
}

// StoreLookup may be implemented by an Instance to describe one store
// without listing them all; the handler uses it for every read.
type StoreLookup interface {
	Store(name string) (StoreInfo, bool)
}

// StoreInfo describes a queryable store.
type StoreInfo struct {
	Name string
	// Kind is "keyvalue", "window" or "session".
	Kind string
	// SubTopology is the sub-topology whose tasks hold the store; -1 for a
	// global store, which every instance holds whole.
	SubTopology int
	// Partitions is the number of tasks (partitions) of the store.
	Partitions int
	// Keys parses the store's keys from text; nil when the store's keys
	// cannot be parsed, which makes key reads answer 400.
	Keys state.KeyParser
	// Changelog is the store's changelog topic, empty when it has none.
	// Positions of the store's state include its offset, which active and
	// standby copies of a task share.
	Changelog string
}

// Host is one instance of the application and the tasks it holds.
type Host struct {
	Endpoint string
	Active   []processor.TaskID
	Standby  []processor.TaskID
}

// TaskStatus says how an instance holds a task.
type TaskStatus struct {
	Active, Standby, Restoring bool
}

// Errors an Instance returns from Open.
var (
	ErrUnknownStore = errors.New("unknown store")
	ErrNotLocal     = errors.New("task is not held by this instance")
)
