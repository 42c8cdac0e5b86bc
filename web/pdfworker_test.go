package web

import (
	"context"
	"os"
	"testing"

	"github.com/parley-video/parley/pdfjail"
)

// TestMain serves a PDF worker when this test binary is started as one
// (the node parses untrusted PDFs in children of its own executable).
func TestMain(m *testing.M) {
	if pdfjail.IsWorker() {
		os.Exit(pdfjail.ServeWorker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
