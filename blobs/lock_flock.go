//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package blobs

import (
	"os"
	"syscall"
)

// lockFile takes an exclusive advisory lock on f until it is closed.
func lockFile(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if err != syscall.EINTR {
			return err
		}
	}
}
