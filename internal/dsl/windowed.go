package dsl

import "time"

// OptEmitOnWindowClose is the kind of EmitOnWindowClose.
const OptEmitOnWindowClose = "EmitOnWindowClose"

// WithRetention sets how long a windowed aggregation's store keeps windows
// after stream time passed them. It must be a positive whole number of
// milliseconds; Build reports anything else (Retention is then -1).
func WithRetention(d time.Duration) Option {
	return Option{OptRetention, func(o *Options) {
		o.Retention = d.Milliseconds()
		if d <= 0 || d%time.Millisecond != 0 {
			o.Retention = -1
		}
	}}
}

// EmitOnWindowClose makes a windowed aggregation emit each window once,
// when it closes, instead of every update (Kafka Streams'
// EmitStrategy.onWindowClose, KIP-825). Options.Has reports it.
func EmitOnWindowClose() Option {
	return Option{OptEmitOnWindowClose, func(*Options) {}}
}
