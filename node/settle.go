package node

import (
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/parley-video/parley/binpages"
)

// settle ends start-up, once the node serves: start-up's garbage (parsed
// configuration and documents, migrations, on a first start the admin's
// 64 MiB password hash) goes back to the operating system now rather than
// over the next minutes, and the parts of the binary only start-up ran
// leave the resident set (package binpages). An idle node after a login
// then holds 27–33 MiB instead of 46 (scripts/idle-rss.sh).
func settle(log *slog.Logger) {
	gcPercent()
	debug.FreeOSMemory()
	if _, err := binpages.Trim(); err != nil {
		log.Warn("could not drop start-up pages of the binary from memory", "err", err)
	}
}

// defaultGCPercent is the collector's target the node runs with unless the
// GOGC environment variable sets one: a new collection when the heap has
// grown by half its live size since the last (Go's default: by all of it).
// A node's live heap is small and its media path allocates next to
// nothing per packet, so collections stay rare and cheap, while the heap's
// slack is a large part of its memory per call: 2.28 → 1.96 MiB per
// active 1:1 call as the OS reports it in the memory phase of `make
// bench` (docs/BENCHMARKS.md).
const defaultGCPercent = 50

func gcPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}
