//go:build race

package pdfjail

// The race detector's shadow memory counts against RLIMIT_DATA (a worker
// under a 512 MiB limit failed to map it); race-enabled builds, which only
// tests use, give the worker that much more room.
const raceMemoryFactor = 8
