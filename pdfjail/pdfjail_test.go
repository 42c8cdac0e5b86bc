package pdfjail

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/hostilepdf"
	"github.com/parley-video/parley/signature"
)

// TestMain serves the worker when this test binary is started as one.
func TestMain(m *testing.M) {
	if IsWorker() {
		os.Exit(ServeWorker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func newRunner(t *testing.T, cfg Config) (*Runner, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	r, err := New(cfg, slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return r, &logs
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func TestHostileCorpusIntake(t *testing.T) {
	r, _ := newRunner(t, Config{Workers: 2, Timeout: 20 * time.Second, MemoryBytes: 512 << 20})
	for _, c := range hostilepdf.Corpus() {
		start := time.Now()
		info, err := r.Intake(t.Context(), c.PDF, 20<<20)
		t.Logf("%-30s %8d B %6v err=%v", c.Name, len(c.PDF), time.Since(start).Round(time.Millisecond), err)
		if err == nil {
			t.Errorf("%s: accepted (%+v)", c.Name, info)
		}
	}
}

func TestValidIntakeAndVerify(t *testing.T) {
	_ = strconv.Itoa
	_ = strings.Contains
	_ = errors.Is
	_ = fmt.Sprint
	_ = contracts.ErrPDFBusy
	_ = signature.ErrPDFMalformed
}
