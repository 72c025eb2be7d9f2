package state

import "github.com/seed992c72d9/streams/processor"

// CommittedMeta returns a read-only view of a task's committed metadata.
func (db *DB) CommittedMeta(id processor.TaskID) *Bucket {
	return db.Committed(id, metaStore)
}
