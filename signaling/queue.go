package signaling

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// opQueue runs store writes in order, one at a time, outside every lock,
// on a goroutine that exists only while there is work. Rooms and the hub
// enqueue and never wait, so a slow or dead store delays the queue, never
// a room or a socket. Each operation gets its own short deadline.
type opQueue struct {
	timeout time.Duration
	log     *slog.Logger
	failed  func() // called after an operation failed; may be nil

	mu      sync.Mutex
	ops     []queuedOp
	running bool
	closed  bool
	wg      sync.WaitGroup
}

type queuedOp struct {
	what string // for logs
	fn   func(ctx context.Context) error
}

// maxQueuedOps bounds a queue while the store is down; the oldest
// operations are dropped (and the hub writes the state back once the store
// answers again).
const maxQueuedOps = 1024

func newOpQueue(timeout time.Duration, log *slog.Logger, failed func()) *opQueue {
	return &opQueue{timeout: timeout, log: log, failed: failed}
}

// push queues fn; false after close.
func (q *opQueue) push(what string, fn func(ctx context.Context) error) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	if len(q.ops) >= maxQueuedOps {
		q.ops = q.ops[1:]
		if q.failed != nil {
			q.failed()
		}
	}
	q.ops = append(q.ops, queuedOp{what: what, fn: fn})
	if !q.running {
		q.running = true
		q.wg.Add(1)
		go q.run()
	}
	return true
}

// do queues fn and waits for its result (or ctx). It keeps the order with
// the operations queued before.
func (q *opQueue) do(ctx context.Context, what string, fn func(ctx context.Context) error) error {
	done := make(chan error, 1)
	ok := q.push(what, func(ctx context.Context) error {
		err := fn(ctx)
		done <- err
		return err
	})
	if !ok {
		return errHubClosed
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (q *opQueue) run() {
	defer q.wg.Done()
	for {
		q.mu.Lock()
		if len(q.ops) == 0 || q.closed {
			q.running = false
			q.ops = nil
			q.mu.Unlock()
			return
		}
		op := q.ops[0]
		q.ops = q.ops[1:]
		q.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), q.timeout)
		err := op.fn(ctx)
		cancel()
		if err != nil {
			q.log.Warn("session store write failed", "op", op.what, "err", err)
			if q.failed != nil {
				q.failed()
			}
		}
	}
}

// close drops what is queued and waits for the running operation.
// Idempotent.
func (q *opQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.ops = nil
	q.mu.Unlock()
	q.wg.Wait()
}
