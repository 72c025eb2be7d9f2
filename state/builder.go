package state

import (
	"github.com/seed992c72d9/streams/processor"
)

// Store is a state store instance owned by one task.
type Store interface {
	processor.StateStore
	// Flush writes buffered (cached) updates through to the task's staged
	// batch and changelog. The runtime calls it before every commit.
	Flush() error
	// Close releases the store. Using a store after Close returns
	// [ErrClosed].
	Close() error
}

// Builder describes a store in a topology and builds one instance of it per
// task.
type Builder interface {
	// Name returns the store's name, unique within the topology. It names
	// the changelog topic <application.id>-<name>-changelog.
	Name() string
	// Changelog returns the store's changelog topic configuration, and false
	// when the store is not logged.
	Changelog() (ChangelogConfig, bool)
	// Build creates the store instance for one task.
	Build(env Env) (Store, error)
}

// ChangelogConfig is the configuration of a store's changelog topic.
type ChangelogConfig struct {
	// Configs are the topic configs, such as cleanup.policy=compact.
	Configs map[string]string
}
