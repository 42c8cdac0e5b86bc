package clustertest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// EnvBinary names a prebuilt parley binary to use instead of building one
// (scripts/cluster.sh sets it; tests normally leave it unset).
const EnvBinary = "PARLEY_TEST_BINARY"

// MainPackage is the import path of the parley command.
const MainPackage = "github.com/parley-video/parley"

// built caches the parley binary for the life of the test process: it is
// built once, by the first test that asks, into a directory removed by
// Main (or left in the system's temp directory when a package does not
// use Main). A build cache, not state a test could change.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Binary returns the path of a parley binary built from this module's
// source, building it on the first call of the test process (a few
// seconds with a warm Go build cache).
func Binary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "parley-clustertest-")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "parley")
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", built.path, MainPackage)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			built.err = fmt.Errorf("go build %s: %w\n%s", MainPackage, err, strings.TrimSpace(out.String()))
		}
	})
	if built.err != nil {
		t.Fatalf("build parley: %v", built.err)
	}
	return built.path
}

// Main runs a test package's tests and removes the binary Binary built.
// Use it from TestMain: func TestMain(m *testing.M) { os.Exit(clustertest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	return code
}
