package state

// SetFlushOldValues says whether the flush listener needs the value each
// flushed window replaces (by default it gets it), as
// KeyValueStore.SetFlushOldValues: without old values the cache reads the
// store at a flush only for deletes. The windowed DSL turns them off unless
// a downstream operator asks for old values.
func (s *WindowStore[K, V]) SetFlushOldValues(on bool) {
	if s.seg.cache != nil {
		s.seg.cache.skipOld = !on
	}
}

// SetFlushOldValues says whether the flush listener needs the value each
// flushed session replaces, as WindowStore.SetFlushOldValues.
func (s *SessionStore[K, V]) SetFlushOldValues(on bool) {
	if s.seg.cache != nil {
		s.seg.cache.skipOld = !on
	}
}
