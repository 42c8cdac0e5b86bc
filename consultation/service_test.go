package consultation

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parley-video/parley/signaling/storetest"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// Tests of the service on real parts: SQLite records, the signaling hub
// (no media plane) on a memory store and on a real Redis
// (PARLEY_TEST_REDIS_URL, set by scripts/test.sh), the encrypted file store.

// clock is a settable clock (safe for concurrent use).
type clock struct{ shift atomic.Int64 }

func (c *clock) now() time.Time          { return time.Now().Add(time.Duration(c.shift.Load())) }
func (c *clock) advance(d time.Duration) { c.shift.Add(int64(d)) }

// recordingDocs counts EndConsultation calls.
type recordingDocs struct {
	mu    sync.Mutex
	ended []string
}

func (d *recordingDocs) EndConsultation(ctx context.Context, cid string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ended = append(d.ended, cid)
	return nil
}

// fixture is a service on real records, hub and file store.
type fixture struct {
	dir     string
	rec     *records.Store
	hub     *signaling.Hub
	store   *storetest.RecordingStore
	files   *blobs.Store
	docs    *recordingDocs
	clock   *clock
	svc     *Service
	advisor int64

	mu    sync.Mutex
	ended []ID // Ended hook calls
}

func newFixture(t *testing.T, store *storetest.RecordingStore, mod func(*Config)) *fixture {
	t.Helper()
	ctx := t.Context()
	f := &fixture{dir: t.TempDir(), store: store, docs: &recordingDocs{}, clock: &clock{}}
	var err error
	if f.rec, err = records.Open(ctx, f.dir); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.rec.Close() })
	f.rec.SetClock(f.clock.now)
	f.hub = signaling.NewHub(signaling.Config{SessionTTL: time.Hour, GracePeriod: time.Minute, MaxParticipants: 2},
		nil, store, slog.New(slog.DiscardHandler), nil)
	t.Cleanup(f.hub.Close)
	keys, err := blobs.LoadKeyRing("", filepath.Join(f.dir, "keys"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if f.files, err = blobs.Open(filepath.Join(f.dir, "files"), keys); err != nil {
		t.Fatal(err)
	}
	cfg := Config{MaxDuration: time.Hour, InviteTTL: time.Hour, Company: "Bank"}
	if mod != nil {
		mod(&cfg)
	}
	f.svc, err = New(cfg, Deps{Records: f.rec, Hub: f.hub, Files: f.files, Docs: f.docs,
		Ended: func(id ID) { f.mu.Lock(); f.ended = append(f.ended, id); f.mu.Unlock() }})
	if err != nil {
		t.Fatal(err)
	}
	u, err := f.rec.CreateUser(ctx, "anna", "Anna Muster", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	f.advisor = u.ID
	return f
}

func (f *fixture) create(t *testing.T) Consultation {
	t.Helper()
	c, _, err := f.svc.Create(t.Context(), f.advisor, "Baufinanzierung")
	if err != nil {
		t.Fatal(err)
	}
	if c.State != StateCreated {
		t.Fatalf("new consultation in state %s", c.State)
	}
	return c
}

func (f *fixture) endedCalls() []ID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.ended)
}

// rows counts a consultation's rows in the join's tables.
func (f *fixture) rows(t *testing.T, db *sql.DB, id ID) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"consents", "customers", "answers"} {
		var n int
		if err := db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table+" WHERE consultation_id = ?", string(id)).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

// openDB opens the records database a second time, as a test's handle on
// the real SQLite file.
func (f *fixture) openDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(f.dir, "parley.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

var kimJoin = Join{Name: "Kim", Consent: &Consent{TextVersion: "v1", Lang: "de"}, Answers: nil}

// TestJoinRecordsFailLeavesNothingLive: the records database refuses the
// customer row (as a full disk would): the join fails and nothing live
// was ever created: no session stored, nobody waiting in room or store,
// no consent. The next join works.
func TestJoinRecordsFailLeavesNothingLive(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		f := newFixture(t, store, nil)
		c := f.create(t)
		ctx := t.Context()
		db := f.openDB(t)
		if _, err := db.ExecContext(ctx, `CREATE TRIGGER test_full_disk BEFORE INSERT ON customers
			BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.Join(ctx, c.ID(), kimJoin); err == nil || !strings.Contains(err.Error(), "disk is full") {
			t.Fatalf("join with a failing write: %v", err)
		}
		if keys := store.PutKeys(); len(keys) != 0 {
			t.Fatalf("%d sessions stored for a join that was not recorded", len(keys))
		}
		if snap, _ := f.hub.Snapshot(c.ID()); snap.Waiting+snap.Joined+snap.Reconnecting != 0 {
			t.Fatalf("room after a failed join: %+v", snap)
		}
		if ws, err := f.hub.Waiting(ctx, c.ID()); err != nil || len(ws) != 0 {
			t.Fatalf("store's waiting queue after a failed join: %v, %v", ws, err)
		}
		if n := f.rows(t, db, c.ID()); n["consents"]+n["customers"]+n["answers"] != 0 {
			t.Fatalf("rows after a failed join: %v", n)
		}

		if _, err := db.ExecContext(ctx, "DROP TRIGGER test_full_disk"); err != nil {
			t.Fatal(err)
		}
		j, err := f.svc.Join(ctx, c.ID(), kimJoin)
		if err != nil {
			t.Fatalf("join after the disk has room again: %v", err)
		}
		if snap, _ := f.hub.Snapshot(c.ID()); snap.Waiting != 1 {
			t.Fatalf("room after a good join: %+v", snap)
		}
		if n := f.rows(t, db, c.ID()); n["consents"] != 1 || n["customers"] != 1 {
			t.Fatalf("rows after a good join: %v", n)
		}
		if acc, err := f.hub.Customer(ctx, c.ID(), j.Cookie); err != nil || acc.Participant != j.Participant {
			t.Fatalf("the joined customer's session: %+v, %v", acc, err)
		}
	})
}

// TestJoinLiveFailLeavesNoRecord: the live join fails after the records
// were written (the session store cannot be reached; then the room is
// full): the join fails and its consent, customer and answers are gone.
func TestJoinLiveFailLeavesNoRecord(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		f := newFixture(t, store, nil)
		c := f.create(t)
		ctx := t.Context()
		db := f.openDB(t)
		withAnswers := kimJoin
		withAnswers.Answers = map[string]string{"topic": "Kredit"}

		store.FailPuts(true)
		if _, err := f.svc.Join(ctx, c.ID(), withAnswers); !errors.Is(err, signaling.ErrUnavailable) {
			t.Fatalf("join with the session store down: %v; want ErrUnavailable", err)
		}
		if n := f.rows(t, db, c.ID()); n["consents"]+n["customers"]+n["answers"] != 0 {
			t.Fatalf("rows of a join that did not go live: %v", n)
		}
		store.FailPuts(false)

		// 16 customers fill the room (it knows at most max(4 x
		// MaxParticipants, 16)); the next join is refused live and leaves
		// no record either.
		for range 16 {
			if _, err := f.svc.Join(ctx, c.ID(), withAnswers); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.svc.Join(ctx, c.ID(), withAnswers); !errors.Is(err, signaling.ErrFull) {
			t.Fatalf("join into a full room: %v; want ErrFull", err)
		}
		if n := f.rows(t, db, c.ID()); n["consents"] != 16 || n["customers"] != 16 || n["answers"] != 16 {
			t.Fatalf("rows after 16 joins and a refused one: %v; want 16 each", n)
		}
	})
}

// TestEndClearsEverything: End ends the record, closes the room, deletes
// the sessions, the files and (through Documents) the unsigned documents,
// and runs the Ended hook; the consultation refuses connections after.
func TestEndClearsEverything(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		f := newFixture(t, store, nil)
		c := f.create(t)
		ctx := t.Context()
		j, err := f.svc.Join(ctx, c.ID(), kimJoin)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := f.svc.Get(ctx, c.ID()); got.State != StateLive {
			t.Fatalf("after a join: %s; want live", got.State)
		}
		if _, err := f.files.Put(ctx, c.Record.ID, strings.Repeat("ab", 16), "participant:"+string(j.Participant), strings.NewReader("ciphertext")); err != nil {
			t.Fatal(err)
		}
		keys := store.PutKeys()
		if len(keys) != 1 {
			t.Fatalf("%d sessions stored; want 1", len(keys))
		}

		got, err := f.svc.End(ctx, c.ID())
		if err != nil || got.State != StateEnded || got.Record.State != records.StateEnded {
			t.Fatalf("End = %+v, %v", got, err)
		}
		if r, _ := f.rec.ConsultationByID(ctx, c.Record.ID); r.State != records.StateEnded {
			t.Fatalf("record %s; want ended", r.State)
		}
		if _, live := f.hub.Snapshot(c.ID()); live {
			t.Fatal("the room outlived the end")
		}
		if _, err := store.Get(ctx, keys[0]); !errors.Is(err, signaling.ErrNoSession) {
			t.Fatalf("session after the end: %v", err)
		}
		if ok, err := f.files.Exists(c.Record.ID, strings.Repeat("ab", 16)); err != nil || ok {
			t.Fatalf("file after the end: %v, %v", ok, err)
		}
		if !slices.Equal(f.docs.ended, []string{c.Record.ID}) || !slices.Equal(f.endedCalls(), []ID{c.ID()}) {
			t.Fatalf("documents removed for %v, Ended hook for %v", f.docs.ended, f.endedCalls())
		}
		if _, err := f.svc.Connect(ctx, c.ID()); !errors.Is(err, ErrEnded) {
			t.Fatalf("Connect after the end: %v", err)
		}
		if _, err := f.svc.Join(ctx, c.ID(), kimJoin); !errors.Is(err, ErrEnded) {
			t.Fatalf("Join after the end: %v", err)
		}
		if _, err := f.svc.Customer(ctx, c.ID(), j.Cookie); !errors.Is(err, ErrEnded) {
			t.Fatalf("Customer after the end: %v", err)
		}
		if _, live := f.hub.Snapshot(c.ID()); live {
			t.Fatal("a refused connection opened the room again")
		}
		// Ending again changes nothing.
		if again, err := f.svc.End(ctx, c.ID()); err != nil || again.State != StateEnded || !again.Record.EndedAt.Equal(got.Record.EndedAt) {
			t.Fatalf("second End = %+v, %v", again, err)
		}
	})
}

// TestEndKeepsFilesForRetention: with retention.files above 0 the end
// leaves files and documents to the retention sweeper.
func TestEndKeepsFilesForRetention(t *testing.T) {
	f := newFixture(t, storetest.Memory(), func(c *Config) { c.KeepFiles = true })
	c := f.create(t)
	ctx := t.Context()
	if _, err := f.files.Put(ctx, c.Record.ID, strings.Repeat("cd", 16), "staff:1", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.End(ctx, c.ID()); err != nil {
		t.Fatal(err)
	}
	if ok, _ := f.files.Exists(c.Record.ID, strings.Repeat("cd", 16)); !ok || len(f.docs.ended) != 0 {
		t.Fatalf("file kept %v, documents removed for %v; want kept, none", ok, f.docs.ended)
	}
}

// TestExpiryWithoutRequests: a live consultation reaches its maximum
// duration (a fake clock jumps there) while nobody calls anything: Run
// ends it in the records and the hub, deletes its sessions and runs the
// Ended hook. Before the loop gets to it, calls refuse it as ended
// without changing it.
func TestExpiryWithoutRequests(t *testing.T) {
	storetest.EachStore(t, func(t *testing.T, store *storetest.RecordingStore) {
		f := newFixture(t, store, func(c *Config) { c.CheckEvery = 50 * time.Millisecond })
		ctx := t.Context()
		c := f.create(t)
		other := f.create(t) // never live here: the periodic check ends it
		j, err := f.svc.Join(ctx, c.ID(), kimJoin)
		if err != nil {
			t.Fatal(err)
		}
		f.clock.advance(time.Hour + time.Second)
		if got, err := f.svc.Get(ctx, c.ID()); err != nil || got.State != StateExpired || got.Record.State != records.StateOpen {
			t.Fatalf("past the deadline, before the loop: %s (record %s), %v", got.State, got.Record.State, err)
		}
		if _, err := f.svc.Connect(ctx, c.ID()); !errors.Is(err, ErrEnded) {
			t.Fatalf("Connect past the deadline: %v", err)
		}

		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); f.svc.Run(runCtx) }()
		defer func() { stop(); <-done }()

		deadline := time.Now().Add(20 * time.Second) // generous: the loop checks every 50 ms
		for len(f.endedCalls()) < 2 {
			if time.Now().After(deadline) {
				t.Fatalf("Ended hook calls after 20 s: %v", f.endedCalls())
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, id := range []ID{c.ID(), other.ID()} {
			r, err := f.rec.ConsultationByID(ctx, string(id))
			if err != nil || r.State != records.StateEnded {
				t.Fatalf("record of %s: %+v, %v", id, r, err)
			}
			if got, _ := f.svc.Get(ctx, id); got.State != StateExpired {
				t.Fatalf("%s: %s; want expired", id, got.State)
			}
		}
		if _, live := f.hub.Snapshot(c.ID()); live {
			t.Fatal("the room outlived the expiry")
		}
		if _, err := f.hub.Customer(ctx, c.ID(), j.Cookie); err == nil {
			t.Fatal("the customer's session outlived the expiry")
		}
	})
}
