package exec

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/seed992c72d9/streams/processor"
)

// Node is one node instance inside a task. Only this package implements it.
type Node interface {
	Name() string
	base() *nodeBase
	addChild(child Node) error
	init() error
	close() error
}

// Receiver is a node that accepts records of types K, V.
type Receiver[K, V any] interface {
	Node
	Receive(rec processor.Record[K, V]) error
}

// NodeError is a processing error raised by a node.
type NodeError struct {
	Node string
	Err  error
}

func (e *NodeError) Error() string { return e.Node + ": " + e.Err.Error() }
func (e *NodeError) Unwrap() error { return e.Err }

// wrapNode names the node an error came from, once.
func wrapNode(name string, err error) error {
	var ne *NodeError
	if errors.As(err, &ne) {
		return err
	}
	return &NodeError{Node: name, Err: err}
}

// nodeBase is the part of a processor context that does not depend on types.
type nodeBase struct {
	name   string
	task   *Task
	stores []string
	logger *slog.Logger
}

func (b *nodeBase) Name() string    { return b.name }
func (b *nodeBase) base() *nodeBase { return b }

func (b *nodeBase) ApplicationID() string    { return b.task.env.ApplicationID }
func (b *nodeBase) TaskID() processor.TaskID { return b.task.id }

func (b *nodeBase) RecordMetadata() (processor.RecordMetadata, bool) {
	return b.task.meta, b.task.metaValid
}

func (b *nodeBase) StreamTime() int64    { return b.task.streamTime }
func (b *nodeBase) WallClockTime() int64 { return b.task.env.WallClock() }
func (b *nodeBase) RequestCommit()       { b.task.commitRequested = true }
func (b *nodeBase) Logger() *slog.Logger { return b.logger }

func (b *nodeBase) Schedule(interval time.Duration, typ processor.PunctuationType, fn processor.Punctuator) (processor.Cancellable, error) {
	return b.task.schedule(b, interval, typ, fn)
}

func (b *nodeBase) StateStore(name string) (processor.StateStore, error) {
	if g, ok := b.task.env.GlobalStores[name]; ok {
		return g, nil
	}
	if !slices.Contains(b.stores, name) {
		if _, ok := b.task.stores[name]; ok {
			return nil, fmt.Errorf("processor %q is not connected to state store %q", b.name, name)
		}
		return nil, fmt.Errorf("processor %q: unknown state store %q", b.name, name)
	}
	s, ok := b.task.stores[name]
	if !ok {
		return nil, fmt.Errorf("processor %q: unknown state store %q", b.name, name)
	}
	return s, nil
}

// RecordDropped counts a record dropped by this node for the given reason.
// DSL processors reach it through the Dropper interface.
func (b *nodeBase) RecordDropped(reason string) {
	b.task.recordDropped(reason)
}

// Dropper is implemented by every processor context of this package. DSL
// processors use it to count records they drop (late, null key, ...).
type Dropper interface {
	RecordDropped(reason string)
}

// CountDropped counts a dropped record through ctx when it supports it.
func CountDropped(ctx processor.BaseContext, reason string) {
	if d, ok := ctx.(Dropper); ok {
		d.RecordDropped(reason)
	}
}

// TaskLocal returns the value kept under key in the task that ctx's node
// belongs to, made by create on first use. It lets the processors of one
// DSL operator share per-task state that is not a store, such as the stream
// time of a stream-stream join's two sides; the value lives as long as the
// task. A context this package did not make gets a fresh value each call.
func TaskLocal(ctx processor.BaseContext, key any, create func() any) any {
	if l, ok := ctx.(interface{ taskLocal(any, func() any) any }); ok {
		return l.taskLocal(key, create)
	}
	return create()
}

func (b *nodeBase) taskLocal(key any, create func() any) any {
	t := b.task
	if v, ok := t.locals[key]; ok {
		return v
	}
	if t.locals == nil {
		t.locals = map[any]any{}
	}
	v := create()
	t.locals[key] = v
	return v
}

// childList keeps the typed children of a node.
type childList[K, V any] struct {
	task     *Task
	children []Receiver[K, V]
}

func (c *childList[K, V]) add(owner string, out Types, child Node) error {
	r, ok := child.(Receiver[K, V])
	if !ok {
		return fmt.Errorf("node %q forwards %s, which child %q does not accept", owner, out, child.Name())
	}
	c.task = child.base().task
	c.children = append(c.children, r)
	return nil
}

// forward sends rec to every child. While the children run, the task's
// record context carries rec's timestamp and headers, so that stores they
// write see them; it is restored afterwards.
func (c *childList[K, V]) forward(rec processor.Record[K, V]) error {
	if len(c.children) == 0 {
		return nil
	}
	rc := &c.task.rc
	ts, hs := rc.Timestamp, rc.Headers
	rc.Timestamp, rc.Headers = rec.Timestamp, rec.Headers
	for _, ch := range c.children {
		if err := ch.Receive(rec); err != nil {
			rc.Timestamp, rc.Headers = ts, hs
			return err
		}
	}
	rc.Timestamp, rc.Headers = ts, hs
	return nil
}

func (c *childList[K, V]) forwardTo(owner, child string, rec processor.Record[K, V]) error {
	for _, ch := range c.children {
		if ch.Name() == child {
			rc := &c.task.rc
			ts, hs := rc.Timestamp, rc.Headers
			rc.Timestamp, rc.Headers = rec.Timestamp, rec.Headers
			err := ch.Receive(rec)
			rc.Timestamp, rc.Headers = ts, hs
			return err
		}
	}
	return fmt.Errorf("processor %q has no child %q", owner, child)
}
