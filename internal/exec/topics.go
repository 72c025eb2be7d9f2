package exec

// Topic names a topic a node reads from or writes to. Internal topics
// (repartition topics) get the application id as prefix at run time.
type Topic struct {
	Name     string
	Internal bool
}

// Resolve returns the topic's name in Kafka for the given application id.
func (t Topic) Resolve(applicationID string) string {
	if t.Internal {
		return applicationID + "-" + t.Name
	}
	return t.Name
}
