//go:build race

package state

// raceEnabled reports whether the tests run with the race detector, which
// makes the crash tests' child processes slow to start.
const raceEnabled = true
