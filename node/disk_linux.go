package node

import (
	"fmt"

	"syscall"
)

// checkDisk reports (statfs) whether dir's file system has at least minFree
// bytes available to this process; minFree 0: no check.
func checkDisk(dir string, minFree int64) error {
	if minFree <= 0 {
		return nil
	}
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return fmt.Errorf("statfs of the data directory: %w", err)
	}
	free := st.Bavail * uint64(st.Bsize) //nolint:gosec // Bsize is positive
	if free < uint64(minFree) {
		return &DiskError{Free: free, Min: uint64(minFree)}
	}
	return nil
}
