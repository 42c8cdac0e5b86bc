// Package pdfjailtest is for the tests of packages whose code starts PDF
// workers: the worker is the running executable started again, which in a
// test is the test binary.
package pdfjailtest

import (
	"context"
	"os"
	"testing"

	"github.com/parley-video/parley/pdfjail"
)

// Main is a TestMain: it serves one PDF request when this test binary was
// started as a worker, and runs the tests otherwise.
func Main(m *testing.M) {
	if pdfjail.IsWorker() {
		os.Exit(pdfjail.ServeWorker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
