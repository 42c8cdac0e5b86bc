//go:build !race

package pdfjail

const raceMemoryFactor = 1
