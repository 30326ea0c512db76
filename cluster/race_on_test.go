//go:build race

package cluster_test

// raceEnabled: the race detector is on (tests that move many megabytes
// through Raft take minutes under it and test sizes, not concurrency).
const raceEnabled = true
