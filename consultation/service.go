package consultation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// ID identifies a consultation (the records' id, the hub's room).
type ID = signaling.ConsultationID

// ParticipantID identifies a participant within a consultation.
type ParticipantID = signaling.ParticipantID

// ErrEnded: the consultation ended or outlived its maximum duration.
var ErrEnded = errors.New("consultation: ended")

// Hub is what the service needs from the live side; *signaling.Hub has it.
type Hub interface {
	// Open makes a consultation live on this node (idempotent).
	Open(info signaling.ConsultationInfo)
	// Snapshot reports whether the hub holds the room (and its counts).
	Snapshot(id signaling.ConsultationID) (signaling.Snapshot, bool)
	// AddCustomerAs puts a waiting customer with a chosen id into the room
	// and returns their session cookie value.
	AddCustomerAs(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID, name string) (string, error)
	// DropCustomer undoes AddCustomerAs.
	DropCustomer(ctx context.Context, id signaling.ConsultationID, pid signaling.ParticipantID) error
	// Customer resolves a customer's session cookie.
	Customer(ctx context.Context, id signaling.ConsultationID, cookie string) (signaling.CustomerAccess, error)
	// End closes the room for everyone and deletes its sessions.
	End(ctx context.Context, id signaling.ConsultationID)
}

var _ Hub = (*signaling.Hub)(nil)

// Files removes the files and photos of a consultation; *blobs.Store has it.
type Files interface {
	RemoveConsultation(id string) error
}

// Documents removes the unsigned documents of an ended consultation;
// *contracts.Service has it.
type Documents interface {
	EndConsultation(ctx context.Context, cid string) error
}

// Config is what the service takes from the configuration.
type Config struct {
	MaxDuration       time.Duration // consultation.max_duration
	InviteTTL         time.Duration // consultation.invite_ttl
	MaxOpenPerAdvisor int           // consultation.max_open_per_advisor (0: no cap)
	Company           string        // company.name, shown in the call
	// KeepFiles: retention.files is above 0, so files and unsigned
	// documents stay after the end until the retention sweeper takes them.
	KeepFiles bool
	// CheckEvery is how often Run looks for consultations past their
	// maximum duration besides the deadlines of rooms live here
	// (default 10s).
	CheckEvery time.Duration
}

// ConfigFrom picks the service's settings from the configuration.
func ConfigFrom(cfg config.Config) Config {
	return Config{
		MaxDuration:       cfg.Consultation.MaxDuration,
		InviteTTL:         cfg.Consultation.InviteTTL,
		MaxOpenPerAdvisor: cfg.Consultation.MaxOpenPerAdvisor,
		Company:           cfg.Company.Name,
		KeepFiles:         cfg.Retention.Files.Duration() > 0,
	}
}

// Deps are the parts the service drives.
type Deps struct {
	Records *records.Store
	Hub     Hub
	Files   Files     // may be nil
	Docs    Documents // may be nil
	// Ended runs after a consultation ended or expired and its live state
	// is gone (the node closes TURN relays, kicks the retention sweeper).
	// May be nil.
	Ended func(id ID)
	// Now is the clock; nil: the records' clock.
	Now func() time.Time
	Log *slog.Logger
}

// Service owns the life of the consultations this node is home for.
type Service struct {
	cfg   Config
	rec   *records.Store
	hub   Hub
	files Files
	docs  Documents
	ended func(ID)
	now   func() time.Time
	log   *slog.Logger
	kick  chan struct{}

	mu   sync.Mutex
	live map[ID]time.Time // deadlines of the rooms made live here
}

// New returns the service. Run drives expiry.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Records == nil || deps.Hub == nil {
		return nil, errors.New("consultation: Deps.Records and Deps.Hub are required")
	}
	if cfg.MaxDuration <= 0 || cfg.InviteTTL <= 0 {
		return nil, errors.New("consultation: MaxDuration and InviteTTL must be positive")
	}
	if cfg.CheckEvery <= 0 {
		cfg.CheckEvery = 10 * time.Second
	}
	s := &Service{
		cfg: cfg, rec: deps.Records, hub: deps.Hub, files: deps.Files, docs: deps.Docs,
		ended: deps.Ended, now: deps.Now, log: deps.Log,
		kick: make(chan struct{}, 1), live: map[ID]time.Time{},
	}
	if s.now == nil {
		s.now = deps.Records.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s, nil
}

// Consultation is a consultation's record and where it is in its life.
type Consultation struct {
	Record records.Consultation
	State  State
	// ExpiresAt is the end of its maximum duration.
	ExpiresAt time.Time
}

// ID is the consultation's id.
func (c Consultation) ID() ID { return ID(c.Record.ID) }

// Remaining is how long it may still run at now.
func (c Consultation) Remaining(now time.Time) time.Duration { return c.ExpiresAt.Sub(now) }

// describe adds the state to a record: ended records are ended or
// expired (ended at or after the deadline); open ones are expired past
// the deadline (the expiry loop is nudged to end them), live when the
// hub holds the room, created otherwise.
func (s *Service) describe(r records.Consultation) Consultation {
	c := Consultation{Record: r, ExpiresAt: r.Start().Add(s.cfg.MaxDuration)}
	switch {
	case r.State == records.StateEnded && r.EndedAt.Before(c.ExpiresAt):
		c.State = StateEnded
	case r.State == records.StateEnded:
		c.State = StateExpired
	case !s.now().Before(c.ExpiresAt):
		c.State = StateExpired
		s.Kick()
	default:
		c.State = StateCreated
		if _, ok := s.hub.Snapshot(ID(r.ID)); ok {
			c.State = StateLive
		}
	}
	return c
}

// Get returns a consultation and its state; it changes nothing.
func (s *Service) Get(ctx context.Context, id ID) (Consultation, error) {
	r, err := s.rec.ConsultationByID(ctx, string(id))
	if err != nil {
		return Consultation{}, err
	}
	return s.describe(r), nil
}

// Active returns a consultation that has not ended, ErrEnded otherwise.
// It changes nothing.
func (s *Service) Active(ctx context.Context, id ID) (Consultation, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Consultation{}, err
	}
	if c.State.Final() {
		return c, fmt.Errorf("consultation %s: %w", id, ErrEnded)
	}
	return c, nil
}

// Create opens a consultation held by advisor and returns it with its
// customer invite token. ErrTooMany (records) when the advisor holds
// Config.MaxOpenPerAdvisor open consultations.
func (s *Service) Create(ctx context.Context, advisor int64, title string) (Consultation, string, error) {
	r, token, err := s.rec.CreateConsultationCapped(ctx, advisor, title, s.cfg.InviteTTL,
		s.cfg.MaxOpenPerAdvisor, s.now().Add(-s.cfg.MaxDuration))
	if err != nil {
		return Consultation{}, "", err
	}
	return s.describe(r), token, nil
}

// ByInvite resolves a customer invite token to a consultation that has
// not ended (records.ErrNotFound, records.ErrExpired for the link,
// ErrEnded).
func (s *Service) ByInvite(ctx context.Context, token string) (Consultation, error) {
	r, err := s.rec.ConsultationByInvite(ctx, token)
	if errors.Is(err, records.ErrEnded) {
		return Consultation{}, fmt.Errorf("invite: %w", ErrEnded)
	}
	if err != nil {
		return Consultation{}, err
	}
	c := s.describe(r)
	if c.State.Final() {
		return Consultation{}, fmt.Errorf("invite of %s: %w", r.ID, ErrEnded)
	}
	return c, nil
}

// NewInvite replaces the customer invite of a consultation that has not
// ended and returns the new token.
func (s *Service) NewInvite(ctx context.Context, id ID) (Consultation, string, error) {
	if _, err := s.Active(ctx, id); err != nil {
		return Consultation{}, "", err
	}
	r, token, err := s.rec.NewInvite(ctx, string(id), s.cfg.InviteTTL)
	if err != nil {
		return Consultation{}, "", err
	}
	return s.describe(r), token, nil
}

// ColleagueInvite returns a token that lets another staff user into a
// consultation that has not ended.
func (s *Service) ColleagueInvite(ctx context.Context, id ID) (string, time.Time, error) {
	if _, err := s.Active(ctx, id); err != nil {
		return "", time.Time{}, err
	}
	return s.rec.CreateColleagueInvite(ctx, string(id), s.cfg.InviteTTL)
}

// Connect makes a consultation live on this node (event connect): the
// hub holds its room from now on. The caller has checked who connects.
func (s *Service) Connect(ctx context.Context, id ID) (Consultation, error) {
	return s.goLive(ctx, id, EventConnect)
}

func (s *Service) goLive(ctx context.Context, id ID, ev Event) (Consultation, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return Consultation{}, err
	}
	if c.State, err = Next(c.State, ev); err != nil {
		return c, fmt.Errorf("consultation %s: %w", id, err)
	}
	s.hub.Open(signaling.ConsultationInfo{ID: id, Title: c.Record.Title, Company: s.cfg.Company, ExpiresAt: c.ExpiresAt})
	s.mu.Lock()
	s.live[id] = c.ExpiresAt
	s.mu.Unlock()
	return c, nil
}

// Customer resolves a customer's session cookie in a consultation that
// has not ended (making it live here first, so that a node that
// restarted finds the customer's session).
func (s *Service) Customer(ctx context.Context, id ID, cookie string) (signaling.CustomerAccess, error) {
	if _, err := s.Connect(ctx, id); err != nil {
		return signaling.CustomerAccess{}, err
	}
	return s.hub.Customer(ctx, id, cookie)
}

// Join is a customer's request to join.
type Join struct {
	Name    string            // may be empty; the caller checked it
	Consent *Consent          // nil: anonymous, no consent record
	Answers map[string]string // to the questions before the call
	// Subject, when set, is the participant id of this customer's first
	// participation in this consultation (the caller checked their
	// personal link): the join is linked to it and answers its token.
	Subject string
}

// Consent is the consent a customer gave.
type Consent struct {
	TextVersion string
	Lang        string
}

// Joined is a customer who joined.
type Joined struct {
	Consultation Consultation
	Participant  ParticipantID
	Cookie       string // the session cookie value
	SubjectToken string // the data-subject link's token
}

// undoTimeout bounds undoing half a join.
const undoTimeout = 10 * time.Second

// Join lets a customer in (event join): their consent, name and answers
// are recorded in one transaction, then they enter the waiting room. If
// either step fails nothing of the join remains (doc.go).
func (s *Service) Join(ctx context.Context, id ID, j Join) (Joined, error) {
	c, err := s.goLive(ctx, id, EventJoin)
	if err != nil {
		return Joined{}, err
	}
	pid, at := signaling.NewParticipantID(), s.now()
	sub := records.Subject{ConsultationID: string(id), ParticipantID: string(pid)}
	if j.Subject != "" {
		sub.ParticipantID = j.Subject
	}
	token, err := s.rec.SubjectToken(ctx, sub)
	if err != nil {
		return Joined{}, err
	}
	var consent *records.Consent
	if j.Consent != nil {
		consent = &records.Consent{ConsultationID: string(id), ParticipantID: string(pid),
			TextVersion: j.Consent.TextVersion, Lang: j.Consent.Lang, GivenAt: at}
	}
	if err := s.rec.JoinCustomer(ctx, records.Customer{ConsultationID: string(id), ParticipantID: string(pid),
		Name: j.Name, Anonymous: j.Consent == nil, JoinedAt: at, SubjectID: j.Subject}, j.Answers, consent); err != nil {
		return Joined{}, fmt.Errorf("join %s: %w", id, err)
	}
	cookie, err := s.hub.AddCustomerAs(ctx, id, pid, j.Name)
	if err != nil {
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), undoTimeout)
		defer cancel()
		if uerr := s.rec.RemoveJoin(uctx, string(id), string(pid)); uerr != nil {
			s.log.ErrorContext(ctx, "undo the records of a failed join", "consultation", id, "err", uerr)
		}
		return Joined{}, fmt.Errorf("join %s: %w", id, err)
	}
	return Joined{Consultation: c, Participant: pid, Cookie: cookie, SubjectToken: token}, nil
}

// End ends a consultation (event end): the record, then everything live
// (finish). Ending one that is over changes nothing but repeats the
// clean-up. Error: records.ErrNotFound.
func (s *Service) End(ctx context.Context, id ID) (Consultation, error) {
	r, err := s.rec.EndConsultation(ctx, string(id))
	if err != nil {
		return Consultation{}, err
	}
	s.finish(ctx, id)
	return s.describe(r), nil
}

// ExpireDue ends every open consultation past its maximum duration
// (event expire) and returns their ids.
func (s *Service) ExpireDue(ctx context.Context) ([]ID, error) {
	ids, err := s.rec.ExpireConsultations(ctx, s.cfg.MaxDuration)
	if err != nil {
		return nil, err
	}
	out := make([]ID, 0, len(ids))
	for _, id := range ids {
		out = append(out, ID(id))
		s.finish(ctx, ID(id))
	}
	// Rooms whose deadline passed are ended in the records by now (by this
	// call or an earlier one); their live state goes too.
	now := s.now()
	s.mu.Lock()
	var stale []ID
	for id, dl := range s.live {
		if !now.Before(dl) {
			stale = append(stale, id)
		}
	}
	s.mu.Unlock()
	for _, id := range stale {
		s.finish(ctx, id)
	}
	if len(out) > 0 {
		s.log.InfoContext(ctx, "consultations expired", "count", len(out))
	}
	return out, nil
}

// finish removes everything live of a consultation whose record ended:
// the room (participants get "ended", media and sessions go), its files
// and unsigned documents unless retention keeps them, then the Ended hook.
func (s *Service) finish(ctx context.Context, id ID) {
	s.mu.Lock()
	delete(s.live, id)
	s.mu.Unlock()
	s.hub.End(ctx, id)
	if !s.cfg.KeepFiles {
		if s.files != nil {
			if err := s.files.RemoveConsultation(string(id)); err != nil {
				s.log.ErrorContext(ctx, "remove files of ended consultation", "consultation", id, "err", err)
			}
		}
		if s.docs != nil {
			if err := s.docs.EndConsultation(ctx, string(id)); err != nil {
				s.log.ErrorContext(ctx, "remove documents of ended consultation", "consultation", id, "err", err)
			}
		}
	}
	if s.ended != nil {
		s.ended(id)
	}
}

// Kick asks Run to look for expired consultations now. It never blocks.
func (s *Service) Kick() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// minWait keeps Run from spinning when a check fails.
const minWait = 250 * time.Millisecond

// Run ends consultations when they reach their maximum duration: at the
// deadline of each room live here, every Config.CheckEvery for the
// others, and on Kick; until ctx is done.
func (s *Service) Run(ctx context.Context) {
	for {
		t := time.NewTimer(s.nextCheck())
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		case <-s.kick:
			t.Stop()
		}
		if _, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.ErrorContext(ctx, "expire consultations", "err", err)
		}
	}
}

// nextCheck is how long Run sleeps: until the first deadline of a live
// room, at most CheckEvery, at least minWait.
func (s *Service) nextCheck() time.Duration {
	wait := s.cfg.CheckEvery
	now := s.now()
	s.mu.Lock()
	for _, dl := range s.live {
		wait = min(wait, dl.Sub(now))
	}
	s.mu.Unlock()
	return max(wait, minWait)
}
