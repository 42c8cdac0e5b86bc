// Package retention enforces how long each category of personal data is
// kept (config "retention"). A Sweeper deletes what is due from the records,
// the file store and the document store. Every period counts from a
// timestamp the records keep (a consultation's end, an answer's or a
// consent's time, a contract's last signature), so a sweep after a restart
// finds everything that fell due while the node was down: nothing overdue
// is forgotten. Each sweep records how many items of each category it
// deleted, never what.
package retention

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
)

// Categories as counted in sweeps (records' retention_runs, the log).
const (
	CatConsultationsEnded = "consultations_ended" // open past consultation.max_duration
	CatFiles              = "file_folders"        // a consultation's files and photos
	CatUnsignedDocuments  = "unsigned_documents"
	CatCustomers          = "customers" // pre-join data: names
	CatPreJoinAnswers     = "pre_join_answers"
	CatFeedback           = "feedback_answers"
	CatConsultations      = "consultations"
	CatAccessLog          = "access_log_entries"
	CatContracts          = "signed_contracts"
	CatConsents           = "consent_records"
	CatSubjectRequests    = "subject_requests"
)

// Contracts is the document side (contracts.Service).
type Contracts interface {
	// SweepUnsigned removes unsigned documents of consultations ended at
	// or before cutoff.
	SweepUnsigned(ctx context.Context, cutoff time.Time) (int, error)
	// Expire removes signed contracts last signed at or before cutoff.
	Expire(ctx context.Context, cutoff time.Time) (int, error)
}

// Expirer ends consultations that outlived their maximum duration;
// *consultation.Service has it.
type Expirer interface {
	ExpireDue(ctx context.Context) ([]consultation.ID, error)
}

// Sweeper deletes what its retention configuration says is due.
type Sweeper struct {
	Records *records.Store
	// Files is the store of files and photos exchanged in calls.
	Files *blobs.Store
	// Contracts may be nil (no document store).
	Contracts Contracts
	Config    config.RetentionConfig
	// Consultations ends the consultations past consultation.max_duration
	// before each sweep, so that their data falls due; may be nil.
	Consultations Expirer
	Log           *slog.Logger

	mu      sync.Mutex // one sweep at a time in this process
	skipped atomic.Int64
	kick    chan struct{}
	once    sync.Once
}

// sweepLock names the records lock that one sweeper of a cluster holds
// while it sweeps (records on PostgreSQL).
const sweepLock = "parley retention sweep"

// Skipped counts the sweeps this Sweeper left out because another node
// was sweeping the shared records.
func (s *Sweeper) Skipped() int64 { return s.skipped.Load() }

func (s *Sweeper) now() time.Time { return s.Records.Now() }

func (s *Sweeper) log() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Sweep deletes everything due now and returns the counts per category
// (only categories with deletions). It goes on past a failing category and
// returns the errors joined.
//
// When the records are shared (PostgreSQL), only one sweeper of all nodes
// sweeps at a time, holding a records lock: a sweep that finds it taken is
// skipped, not queued (the other node deletes the same things), counted
// in Skipped, and returns no counts and no error. On SQLite (one node)
// sweeps of this process run one after the other.
func (s *Sweeper) Sweep(ctx context.Context) (map[string]int, error) {
	if s.Records.Dialect() != records.Postgres {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.sweep(ctx)
	}
	var counts map[string]int
	ran, err := s.Records.TryExclusive(ctx, sweepLock, func(ctx context.Context) error {
		var err error
		counts, err = s.sweep(ctx)
		return err
	})
	if err == nil && !ran {
		s.skipped.Add(1)
		s.log().DebugContext(ctx, "retention sweep skipped: another node is sweeping")
	}
	return counts, err
}

func (s *Sweeper) sweep(ctx context.Context) (map[string]int, error) {
	now := s.now()
	r := s.Config
	cut := func(p config.Period) time.Time { return p.Before(now) }
	counts := map[string]int{}
	var errs []error
	add := func(cat string, n int, err error) {
		counts[cat] += n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cat, err))
		}
	}

	if s.Consultations != nil {
		ids, err := s.Consultations.ExpireDue(ctx)
		add(CatConsultationsEnded, len(ids), err)
	}
	if s.Files != nil {
		n, err := s.sweepFiles(ctx, cut(r.Files))
		add(CatFiles, n, err)
	}
	if s.Contracts != nil {
		n, err := s.Contracts.SweepUnsigned(ctx, cut(r.Files))
		add(CatUnsignedDocuments, n, err)
	}
	c, a, err := s.Records.DeleteCustomersEndedBefore(ctx, cut(r.PreJoin))
	add(CatCustomers, c, err)
	add(CatPreJoinAnswers, a, nil)
	n, err := s.Records.DeleteFeedbackBefore(ctx, cut(r.Feedback))
	add(CatFeedback, n, err)
	if s.Contracts != nil {
		n, err = s.Contracts.Expire(ctx, cut(r.Contracts))
		add(CatContracts, n, err)
	}
	n, err = s.Records.DeleteConsultationsEndedBefore(ctx, cut(r.Consultations))
	add(CatConsultations, n, err)
	n, err = s.Records.DeleteAccessLogBefore(ctx, cut(r.AccessLogs))
	add(CatAccessLog, n, err)
	c, q, err := s.Records.DeleteConsentsBefore(ctx, cut(r.ConsentRecords))
	add(CatConsents, c, err)
	add(CatSubjectRequests, q, nil)
	if _, err := s.Records.DeleteExpiredLogins(ctx); err != nil {
		errs = append(errs, fmt.Errorf("logins: %w", err))
	}

	for k, v := range counts {
		if v == 0 {
			delete(counts, k)
		}
	}
	if err := s.Records.RecordRetentionRun(ctx, now, counts); err != nil {
		errs = append(errs, err)
	}
	if len(counts) > 0 {
		s.log().InfoContext(ctx, "retention sweep deleted", "counts", formatCounts(counts))
	} else {
		s.log().DebugContext(ctx, "retention sweep: nothing due")
	}
	return counts, errors.Join(errs...)
}

// sweepFiles removes the file folders of consultations ended at or before
// cutoff (or unknown), and leftovers of interrupted uploads elsewhere.
func (s *Sweeper) sweepFiles(ctx context.Context, cutoff time.Time) (int, error) {
	ids, err := s.Files.Consultations()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		due, err := s.Records.EndedBefore(ctx, id, cutoff)
		if err != nil {
			return n, err
		}
		if !due {
			if err := s.Files.RemoveTemporary(id); err != nil {
				return n, err
			}
			continue
		}
		if err := s.Files.RemoveConsultation(id); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%d", k, m[k])
	}
	return b.String()
}

// Kick asks Run for a sweep soon (e.g. a consultation ended). It never
// blocks.
func (s *Sweeper) Kick() {
	s.once.Do(s.init)
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

func (s *Sweeper) init() { s.kick = make(chan struct{}, 1) }

// Run sweeps every Config.SweepInterval and on Kick until ctx is done.
// Errors are logged and retried at the next sweep.
func (s *Sweeper) Run(ctx context.Context) {
	s.once.Do(s.init)
	every := s.Config.SweepInterval
	if every <= 0 {
		every = time.Hour
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		if _, err := s.Sweep(ctx); err != nil && ctx.Err() == nil {
			s.log().ErrorContext(ctx, "retention sweep", "err", err)
		}
	}
}
