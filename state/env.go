package state

import (
	"errors"
	"log/slog"

	"github.com/seed992c72d9/streams/processor"
)

// ErrClosed is returned by every operation on a closed store.
var ErrClosed = errors.New("state: store is closed")

// Env is what the runtime hands a Builder to build a store for one task.
type Env struct {
	// Task is the task that owns the store.
	Task processor.TaskID
	// ApplicationID is the application's id.
	ApplicationID string
	// Logger carries the task and store names.
	Logger *slog.Logger
}
