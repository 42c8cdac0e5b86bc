package e2e

import (
	"testing"

	"github.com/parley-video/parley/pdfjail/pdfjailtest"
)

// TestMain serves a PDF worker when this test binary is started as one:
// the code under test parses untrusted PDFs in children of its own
// executable.
func TestMain(m *testing.M) { pdfjailtest.Main(m) }
