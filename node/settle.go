package node

import (
	"log/slog"
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
	debug.FreeOSMemory()
	if _, err := binpages.Trim(); err != nil {
		log.Warn("could not drop start-up pages of the binary from memory", "err", err)
	}
}
