//go:build !unix

package connlimit

// RaiseFileLimit knows no file limit here: 0.
func RaiseFileLimit() (uint64, error) { return 0, nil }
