package node

import (
	"context"
	"fmt"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/records"
)

// fullBelow is the free space under which the disk counts as full rather
// than low: nothing worth keeping fits any more.
const fullBelow = 1 << 20

// Intervals of the node's upkeep (Run): leftovers of crashed writes are
// looked for often, the records' integrity (a read of the whole database
// file) rarely.
const (
	tempSweepEvery      = 10 * time.Minute
	integrityCheckEvery = 6 * time.Hour
)

// DiskError is the readiness failure of a data directory short of space.
// ReadyStatus is what /readyz shows: "low" or "full".
type DiskError struct {
	Free, Min uint64 // bytes
}

func (e *DiskError) Error() string {
	return fmt.Sprintf("data directory has %d bytes free, below storage.min_free_bytes %d: free space or raise the disk", e.Free, e.Min)
}

// ReadyStatus implements web's readiness status.
func (e *DiskError) ReadyStatus() string {
	if e.Free < fullBelow {
		return "full"
	}
	return "low"
}

// removeStaleTemps removes what crashed writes left in the file and
// document stores and logs how many (a count, no names).
func (n *Node) removeStaleTemps(now time.Time) {
	for _, st := range []struct {
		name  string
		store *blobs.Store
	}{{"documents", n.docs}, {"files", n.files}} {
		removed, err := st.store.RemoveStaleTemporary(blobs.StaleTempAge, now)
		if err != nil {
			n.log.Warn("removing leftover temporary files", "store", st.name, "removed", removed, "err", err)
			continue
		}
		if removed > 0 {
			n.log.Info("removed leftover temporary files of interrupted writes", "store", st.name, "removed", removed)
		}
	}
}

// removeOrphans removes the document files no record names, stored more
// than olderThan ago (what a crash left between a file and its record),
// and logs how many.
func (n *Node) removeOrphans(ctx context.Context, now time.Time, olderThan time.Duration) {
	removed, err := n.Contracts.SweepOrphans(ctx, olderThan, now)
	if err != nil {
		n.log.Warn("removing orphaned document files", "removed", removed, "err", err)
		return
	}
	if removed > 0 {
		n.log.Info("removed document files no record names (interrupted signings)", "removed", removed)
	}
}

// startupOrphanAge is how old an unrecorded document file must be for
// the start-up sweep to remove it. With SQLite this node is the only one
// and nothing is being signed before it serves: every such file is an
// orphan. With PostgreSQL other nodes may be signing right now.
func (n *Node) startupOrphanAge() time.Duration {
	if n.Records.Dialect() == records.SQLite {
		return 0
	}
	return blobs.StaleTempAge
}

// upkeep runs until ctx is done: stale temporary files, integrity checks
// of the records (damage makes /readyz report records failed).
func (n *Node) upkeep(ctx context.Context) {
	temps := time.NewTicker(tempSweepEvery)
	defer temps.Stop()
	integrity := time.NewTicker(integrityCheckEvery)
	defer integrity.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-temps.C:
			n.removeStaleTemps(now)
			n.removeOrphans(ctx, now, blobs.StaleTempAge)
		case <-integrity.C:
			if err := n.Records.CheckIntegrity(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("records integrity check failed", "err", err)
			}
		}
	}
}
