package processor

import "fmt"

// DeserializationError reports an input record whose key or value could not
// be decoded by its source's serde.
type DeserializationError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Part is "key" or "value".
	Part string
	// Key and Value are the record's original bytes.
	Key, Value []byte
	// Timestamp and Headers are the record's own.
	Timestamp int64
	Headers   Headers
	Err       error
}

func (e *DeserializationError) Error() string {
	return fmt.Sprintf("deserializing the %s of the record at %s/%d offset %d: %v",
		e.Part, e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// ErrorAction is what an error handler decides to do with a failed record.
type ErrorAction int

const (
	// Fail stops processing: the task fails with the error.
	Fail ErrorAction = iota
	// Skip drops the record, counts it as dropped and continues.
	Skip
	// DeadLetter sends the record's original bytes to the dead-letter topic
	// configured for the application, counts it, and continues. Where no
	// dead-letter topic is configured it acts as Fail.
	DeadLetter
)

func (a ErrorAction) String() string {
	switch a {
	case Fail:
		return "fail"
	case Skip:
		return "skip"
	case DeadLetter:
		return "dead-letter"
	}
	return fmt.Sprintf("ErrorAction(%d)", int(a))
}

// DeserializationHandler decides what happens to a record that cannot be
// decoded. The default, [FailOnDeserializationError], fails.
type DeserializationHandler func(err *DeserializationError) ErrorAction

// FailOnDeserializationError fails processing on any undecodable record.
func FailOnDeserializationError(*DeserializationError) ErrorAction { return Fail }

// SkipOnDeserializationError drops undecodable records and counts them.
func SkipOnDeserializationError(*DeserializationError) ErrorAction { return Skip }

// DeadLetterOnDeserializationError sends undecodable records to the
// dead-letter topic.
func DeadLetterOnDeserializationError(*DeserializationError) ErrorAction { return DeadLetter }

// ProcessingError reports an input record whose processing failed: a
// processor returned an error (or a sink could not serialize its output).
type ProcessingError struct {
	Topic     string
	Partition int32
	Offset    int64
	// Key and Value are the input record's original bytes.
	Key, Value []byte
	Timestamp  int64
	Headers    Headers
	Err        error
}

func (e *ProcessingError) Error() string {
	return fmt.Sprintf("processing the record at %s/%d offset %d: %v", e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *ProcessingError) Unwrap() error { return e.Err }

// ProcessingHandler decides what happens to a record whose processing
// failed. Whatever the record's processing wrote before the error (outputs,
// store updates) stays. The default, [FailOnProcessingError], fails.
type ProcessingHandler func(err *ProcessingError) ErrorAction

// FailOnProcessingError fails the task on any processing error.
func FailOnProcessingError(*ProcessingError) ErrorAction { return Fail }

// SkipOnProcessingError drops records whose processing failed and counts
// them.
func SkipOnProcessingError(*ProcessingError) ErrorAction { return Skip }

// DeadLetterOnProcessingError sends records whose processing failed to the
// dead-letter topic.
func DeadLetterOnProcessingError(*ProcessingError) ErrorAction { return DeadLetter }
