// Package pdfjail runs the work on untrusted PDFs (intake, verification)
// in a child process with memory and CPU limits, so that an out-of-memory
// or a runaway parse ends the child, never the server.
//
// The child is this same binary, started again with WorkerEnv set; main
// (and the TestMain of packages whose tests go through a Runner) calls
// ServeWorker first thing when IsWorker() is true. One request per child:
// a JSON header line and the PDF on stdin, a JSON result on stdout
// (worker.go). The Runner runs at most Config.Workers children at once;
// more callers wait in a bounded queue for at most Config.QueueWait.
package pdfjail

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/signature"
)

// WorkerEnv is the environment variable that makes the binary serve one
// PDF request instead of running its command.
const WorkerEnv = "PARLEY_PDF_WORKER"

// IsWorker reports whether this process was started as a PDF worker.
func IsWorker() bool { return os.Getenv(WorkerEnv) == "1" }

// Config bounds the workers. Zero values take the defaults below.
type Config struct {
	// Workers is how many children may run at once (default 2).
	Workers int
	// Queue is how many callers may wait for a worker (default 4×Workers);
	// more get contracts.ErrPDFBusy at once.
	Queue int
	// QueueWait is how long a caller waits for a worker (default 10 s).
	QueueWait time.Duration
	// Timeout is the wall-clock limit of one child (default 20 s); the
	// child is killed then. Its CPU limit (RLIMIT_CPU) is the same,
	// rounded up, plus one second.
	Timeout time.Duration
	// MemoryBytes is the child's data segment limit (RLIMIT_DATA) and, at
	// 3/4 of it, its Go memory limit (default 1 GiB).
	MemoryBytes int64
	// Command is the program started as the child (default: this
	// executable, os.Executable()).
	Command string
}

// Defaults.
const (
	DefaultWorkers     = 2
	DefaultQueueWait   = 10 * time.Second
	DefaultTimeout     = 20 * time.Second
	DefaultMemoryBytes = 1 << 30
)

// Runner starts the worker children. Safe for concurrent use.
type Runner struct {
	cfg   Config
	log   *slog.Logger
	slots chan struct{} // one token per running child
	queue chan struct{} // one token per waiting caller
}

var _ contracts.Isolator = (*Runner)(nil)

// New returns a Runner; cfg's zero fields take the defaults.
func New(cfg Config, log *slog.Logger) (*Runner, error) {
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Queue <= 0 {
		cfg.Queue = 4 * cfg.Workers
	}
	if cfg.QueueWait <= 0 {
		cfg.QueueWait = DefaultQueueWait
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MemoryBytes <= 0 {
		cfg.MemoryBytes = DefaultMemoryBytes
	}
	if cfg.Command == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("pdf worker: find own executable: %w", err)
		}
		cfg.Command = exe
	}
	return &Runner{
		cfg:   cfg,
		log:   log,
		slots: make(chan struct{}, cfg.Workers),
		queue: make(chan struct{}, cfg.Queue),
	}, nil
}

// Intake runs signature.LoadPDF in a child.
func (r *Runner) Intake(ctx context.Context, pdf []byte, maxBytes int64) (*signature.PDFInfo, error) {
	// The size check needs no child.
	if limit := effectiveMax(maxBytes); int64(len(pdf)) > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", signature.ErrPDFTooLarge, len(pdf), limit)
	}
	var info signature.PDFInfo
	if err := r.run(ctx, request{Op: opIntake, MaxBytes: maxBytes}, pdf, &info); err != nil {
		return nil, err
	}
	return &info, nil
}

// Verify runs a Verifier built from cfg in a child.
func (r *Runner) Verify(ctx context.Context, cfg contracts.VerifierConfig, pdf []byte) (*contracts.Verdict, error) {
	if cfg.MaxPDFBytes > 0 && int64(len(pdf)) > cfg.MaxPDFBytes {
		return nil, fmt.Errorf("%w: %w: %d bytes, limit %d", contracts.ErrCannotCheck, signature.ErrPDFTooLarge, len(pdf), cfg.MaxPDFBytes)
	}
	var v contracts.Verdict
	if err := r.run(ctx, request{Op: opVerify, Verifier: &cfg}, pdf, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func effectiveMax(maxBytes int64) int64 {
	if maxBytes <= 0 {
		return signature.DefaultMaxPDFBytes
	}
	return maxBytes
}

// acquire takes a worker slot, waiting in the queue for at most QueueWait.
func (r *Runner) acquire(ctx context.Context) (release func(), err error) {
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	default:
	}
	select {
	case r.queue <- struct{}{}:
	default:
		return nil, fmt.Errorf("%w (queue full)", contracts.ErrPDFBusy)
	}
	defer func() { <-r.queue }()
	t := time.NewTimer(r.cfg.QueueWait)
	defer t.Stop()
	select {
	case r.slots <- struct{}{}:
		return func() { <-r.slots }, nil
	case <-t.C:
		return nil, fmt.Errorf("%w (waited %v)", contracts.ErrPDFBusy, r.cfg.QueueWait)
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", contracts.ErrPDFBusy, ctx.Err())
	}
}

// maxResultBytes bounds what a child may write as its answer.
const maxResultBytes = 16 << 20

// run sends one request to a fresh child and decodes its answer into out.
func (r *Runner) run(ctx context.Context, req request, pdf []byte, out any) error {
	release, err := r.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	req.PDFLength = int64(len(pdf))
	req.MemoryBytes = r.cfg.MemoryBytes
	req.CPUSeconds = int64(r.cfg.Timeout/time.Second) + 2
	head, err := json.Marshal(req)
	if err != nil {
		return fmt.Errorf("pdf worker: encode request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.cfg.Command)
	// Only what the worker needs: none of the server's environment
	// (secrets) reaches the child.
	cmd.Env = []string{WorkerEnv + "=1", "GOMAXPROCS=1"}
	cmd.Stdin = io.MultiReader(bytes.NewReader(head), strings.NewReader("\n"), bytes.NewReader(pdf))
	var stdout limitedBuffer
	stdout.limit = maxResultBytes
	var stderr limitedBuffer
	stderr.limit = 8 << 10
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	start := time.Now()
	runErr := cmd.Run()
	took := time.Since(start)
	if runErr != nil || stdout.over {
		why := "crashed"
		switch {
		case ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded):
			why = "took longer than " + r.cfg.Timeout.String()
		case ctx.Err() != nil:
			return fmt.Errorf("pdf worker: %w", ctx.Err())
		case stdout.over:
			why = "answered too much"
		case strings.Contains(stderr.String(), "out of memory") || strings.Contains(stderr.String(), "cannot allocate memory"):
			why = "ran out of memory (" + strconv.FormatInt(r.cfg.MemoryBytes>>20, 10) + " MiB)"
		case isSignal(runErr, syscall.SIGXCPU) || isSignal(runErr, syscall.SIGKILL):
			why = "ran out of CPU time"
		}
		r.log.WarnContext(ctx, "PDF worker stopped", "op", req.Op, "why", why, "took", took.Round(time.Millisecond),
			"bytes", len(pdf), "err", runErr, "stderr", lastLine(stderr.String()))
		return fmt.Errorf("%w (%s)", contracts.ErrPDFUnsafe, why)
	}
	var res response
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		return fmt.Errorf("%w (unreadable answer: %v)", contracts.ErrPDFUnsafe, err)
	}
	if res.Error != nil {
		return res.Error.err(req.Op)
	}
	if err := json.Unmarshal(res.Result, out); err != nil {
		return fmt.Errorf("%w (unreadable result: %v)", contracts.ErrPDFUnsafe, err)
	}
	return nil
}

func isSignal(err error, sig syscall.Signal) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == sig
}

// lastLine returns the first line of a Go fatal error or panic, else the
// last non-empty line, cut short (it must not carry document content).
func lastLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "fatal error:") || strings.HasPrefix(l, "panic:") || strings.HasPrefix(l, "runtime:") {
			return truncate(l, 200)
		}
	}
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return truncate(lines[len(lines)-1], 200)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// limitedBuffer keeps at most limit bytes and notes that more came.
type limitedBuffer struct {
	bytes.Buffer
	limit int
	over  bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); len(p) > room {
		b.over = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
