package state

// Store kinds, as queries and descriptions name them.
const (
	KindKeyValue = "keyvalue"
	KindWindow   = "window"
	KindSession  = "session"
)

// Kind returns KindKeyValue.
func (b *KeyValueBuilder[K, V]) Kind() string { return KindKeyValue }

// Kind returns KindWindow.
func (b *WindowBuilder[K, V]) Kind() string { return KindWindow }

// Kind returns KindSession.
func (b *SessionBuilder[K, V]) Kind() string { return KindSession }
