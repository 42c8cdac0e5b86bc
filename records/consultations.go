package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// State is a consultation's life-cycle state.
type State string

// The consultation states.
const (
	StateOpen  State = "open"
	StateEnded State = "ended"
)

// MaxTitleLen bounds a consultation title (characters).
const MaxTitleLen = 120

// maxListed bounds ListConsultations.
const maxListed = 1000

// Consultation is one consultation's record.
type Consultation struct {
	ID          string // "c_" + 24 base32 characters
	Title       string
	AdvisorID   int64
	AdvisorName string // the advisor's display name
	State       State
	CreatedAt   time.Time
	EndedAt     time.Time // zero while open
	// InviteExpiresAt is when the current customer invite stops working.
	InviteExpiresAt time.Time
	// OpensAt is when a booked consultation opens (appointments); zero
	// for one made on the spot.
	OpensAt time.Time
}

// Start is when the consultation's life began or begins: OpensAt for a
// booked one, else CreatedAt. Its maximum duration counts from here.
func (c Consultation) Start() time.Time {
	if !c.OpensAt.IsZero() {
		return c.OpensAt
	}
	return c.CreatedAt
}

const consultationSelect = `SELECT c.id, c.title, c.advisor_id, u.display_name, c.state, c.created_at, c.ended_at, c.invite_expires_at, c.opens_at
	FROM consultations c JOIN users u ON u.id = c.advisor_id `

func scanConsultation(row interface{ Scan(...any) error }) (Consultation, error) {
	var c Consultation
	var state string
	var created int64
	var ended, inviteExp, opens sql.NullInt64
	if err := row.Scan(&c.ID, &c.Title, &c.AdvisorID, &c.AdvisorName, &state, &created, &ended, &inviteExp, &opens); err != nil {
		return Consultation{}, err
	}
	c.State = State(state)
	c.CreatedAt = millis(created)
	c.EndedAt = nullMillis(ended)
	c.InviteExpiresAt = nullMillis(inviteExp)
	c.OpensAt = nullMillis(opens)
	return c, nil
}

func (s *Store) consultation(ctx context.Context, q execQuerier, id string) (Consultation, error) {
	c, err := scanConsultation(q.QueryRowContext(ctx, consultationSelect+"WHERE c.id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return Consultation{}, fmt.Errorf("records: consultation: %w", ErrNotFound)
	}
	if err != nil {
		return Consultation{}, fmt.Errorf("records: consultation: %w", err)
	}
	return c, nil
}

// CreateConsultation opens a consultation held by advisorID and returns it
// with a customer invite token valid for inviteTTL (only the token's hash is
// stored). title may be empty; it is trimmed and at most MaxTitleLen
// characters.
func (s *Store) CreateConsultation(ctx context.Context, advisorID int64, title string, inviteTTL time.Duration) (Consultation, string, error) {
	return s.CreateConsultationCapped(ctx, advisorID, title, inviteTTL, 0, time.Time{})
}

// CreateConsultationCapped is CreateConsultation for an advisor who may
// hold at most maxOpen open consultations created after openSince (older
// ones have outlived their maximum duration); 0 means no cap. The count
// and the insert are one statement, so concurrent creations cannot
// exceed the cap. Booked consultations (appointments) do not count.
// Error ErrTooMany when it is reached.
func (s *Store) CreateConsultationCapped(ctx context.Context, advisorID int64, title string, inviteTTL time.Duration, maxOpen int, openSince time.Time) (Consultation, string, error) {
	if maxOpen <= 0 {
		maxOpen = math.MaxInt32
	}
	title, err := CleanText("title", title, MaxTitleLen)
	if err != nil {
		return Consultation{}, "", err
	}
	if inviteTTL <= 0 {
		return Consultation{}, "", invalid("invite lifetime", "must be positive")
	}
	id := newConsultationID()
	token := newToken()
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Consultation{}, "", fmt.Errorf("records: create consultation: %w", err)
	}
	defer tx.Rollback()
	if err := tx.lock(ctx, fmt.Sprintf("consultations of %d", advisorID)); err != nil {
		return Consultation{}, "", fmt.Errorf("records: create consultation: %w", err)
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO consultations (id, title, advisor_id, state, created_at, invite_hash, invite_expires_at)
		SELECT ?1, ?2, ?3, 'open', ?4, ?5, ?6
		WHERE (SELECT COUNT(*) FROM consultations WHERE advisor_id = ?3 AND state = 'open' AND created_at > ?7 AND opens_at IS NULL) < ?8`,
		id, title, advisorID, now.UnixMilli(), hashToken(token), now.Add(inviteTTL).UnixMilli(), openSince.UnixMilli(), maxOpen)
	if err != nil {
		if isForeignKeyViolation(err) {
			return Consultation{}, "", fmt.Errorf("records: create consultation: advisor %d: %w", advisorID, ErrNotFound)
		}
		return Consultation{}, "", fmt.Errorf("records: create consultation: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Consultation{}, "", fmt.Errorf("records: create consultation: %w", err)
	} else if n == 0 {
		return Consultation{}, "", fmt.Errorf("records: create consultation: %d open: %w", maxOpen, ErrTooMany)
	}
	c, err := s.consultation(ctx, tx, id)
	if err != nil {
		return Consultation{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Consultation{}, "", fmt.Errorf("records: create consultation: %w", err)
	}
	return c, token, nil
}

// ConsultationByID returns a consultation or ErrNotFound.
func (s *Store) ConsultationByID(ctx context.Context, id string) (Consultation, error) {
	return s.consultation(ctx, s.db, id)
}

// ConsultationByInvite returns the consultation a customer invite token
// belongs to. Errors: ErrNotFound (unknown or replaced token), ErrEnded,
// ErrExpired (in that order of precedence).
func (s *Store) ConsultationByInvite(ctx context.Context, token string) (Consultation, error) {
	if token == "" {
		return Consultation{}, fmt.Errorf("records: invite: %w", ErrNotFound)
	}
	c, err := scanConsultation(s.db.QueryRowContext(ctx, consultationSelect+"WHERE c.invite_hash = ?", hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Consultation{}, fmt.Errorf("records: invite: %w", ErrNotFound)
	}
	if err != nil {
		return Consultation{}, fmt.Errorf("records: invite: %w", err)
	}
	if c.State == StateEnded {
		return c, fmt.Errorf("records: invite: %w", ErrEnded)
	}
	if !s.now().Before(c.InviteExpiresAt) {
		return c, fmt.Errorf("records: invite: %w", ErrExpired)
	}
	return c, nil
}

// NewInvite replaces the consultation's customer invite with a fresh token
// valid for ttl; the old link stops working. Errors: ErrNotFound, ErrEnded.
func (s *Store) NewInvite(ctx context.Context, id string, ttl time.Duration) (Consultation, string, error) {
	if ttl <= 0 {
		return Consultation{}, "", invalid("invite lifetime", "must be positive")
	}
	token := newToken()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Consultation{}, "", fmt.Errorf("records: new invite: %w", err)
	}
	defer tx.Rollback()
	c, err := s.consultation(ctx, tx, id)
	if err != nil {
		return Consultation{}, "", err
	}
	if c.State == StateEnded {
		return c, "", fmt.Errorf("records: new invite: %w", ErrEnded)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE consultations SET invite_hash = ?, invite_expires_at = ? WHERE id = ?",
		hashToken(token), s.now().Add(ttl).UnixMilli(), id); err != nil {
		return Consultation{}, "", fmt.Errorf("records: new invite: %w", err)
	}
	if c, err = s.consultation(ctx, tx, id); err != nil {
		return Consultation{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Consultation{}, "", fmt.Errorf("records: new invite: %w", err)
	}
	return c, token, nil
}

// ListConsultations returns the consultations userID holds or accepted a
// colleague invite to, newest first (at most 1000).
func (s *Store) ListConsultations(ctx context.Context, userID int64) ([]Consultation, error) {
	rows, err := s.db.QueryContext(ctx, consultationSelect+`
		WHERE c.advisor_id = ?1
		   OR c.id IN (SELECT consultation_id FROM consultation_staff WHERE user_id = ?1)
		ORDER BY c.created_at DESC, c.id
		LIMIT ?2`, userID, maxListed)
	if err != nil {
		return nil, fmt.Errorf("records: list consultations: %w", err)
	}
	defer rows.Close()
	cs := []Consultation{}
	for rows.Next() {
		c, err := scanConsultation(rows)
		if err != nil {
			return nil, fmt.Errorf("records: list consultations: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: list consultations: %w", err)
	}
	return cs, nil
}

// EndConsultation marks a consultation ended and returns it; invites stop
// working. Ending an ended consultation changes nothing. Error: ErrNotFound.
func (s *Store) EndConsultation(ctx context.Context, id string) (Consultation, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Consultation{}, fmt.Errorf("records: end consultation: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE consultations SET state = 'ended', ended_at = ? WHERE id = ? AND state = 'open'",
		s.now().UnixMilli(), id); err != nil {
		return Consultation{}, fmt.Errorf("records: end consultation: %w", err)
	}
	c, err := s.consultation(ctx, tx, id)
	if err != nil {
		return Consultation{}, err
	}
	if err := tx.Commit(); err != nil {
		return Consultation{}, fmt.Errorf("records: end consultation: %w", err)
	}
	return c, nil
}

// CreateColleagueInvite returns a token that lets another staff user join
// the consultation (see AcceptColleague), valid for ttl; only its hash is
// stored. Errors: ErrNotFound, ErrEnded.
func (s *Store) CreateColleagueInvite(ctx context.Context, id string, ttl time.Duration) (token string, expiresAt time.Time, err error) {
	if ttl <= 0 {
		return "", time.Time{}, invalid("invite lifetime", "must be positive")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("records: colleague invite: %w", err)
	}
	defer tx.Rollback()
	c, err := s.consultation(ctx, tx, id)
	if err != nil {
		return "", time.Time{}, err
	}
	if c.State == StateEnded {
		return "", time.Time{}, fmt.Errorf("records: colleague invite: %w", ErrEnded)
	}
	token = newToken()
	expiresAt = millis(s.now().Add(ttl).UnixMilli())
	if _, err := tx.ExecContext(ctx, "INSERT INTO colleague_invites (token_hash, consultation_id, expires_at) VALUES (?, ?, ?)",
		hashToken(token), id, expiresAt.UnixMilli()); err != nil {
		return "", time.Time{}, fmt.Errorf("records: colleague invite: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", time.Time{}, fmt.Errorf("records: colleague invite: %w", err)
	}
	return token, expiresAt, nil
}

// AcceptColleague adds userID to the consultation of a colleague invite
// token and returns the consultation. The token is bound to the first user
// who accepts it; that user may use it again, others get ErrNotFound.
// Errors: ErrNotFound, ErrEnded, ErrExpired.
func (s *Store) AcceptColleague(ctx context.Context, token string, userID int64) (Consultation, error) {
	return s.colleague(ctx, token, userID, true)
}

// CheckColleague reports what AcceptColleague would, without accepting:
// the consultation, or ErrNotFound, ErrEnded, ErrExpired.
func (s *Store) CheckColleague(ctx context.Context, token string, userID int64) (Consultation, error) {
	return s.colleague(ctx, token, userID, false)
}

func (s *Store) colleague(ctx context.Context, token string, userID int64, accept bool) (Consultation, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
	}
	defer tx.Rollback()
	if err := tx.lock(ctx, fmt.Sprintf("colleague invite %x", hashToken(token))); err != nil {
		return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
	}
	var cid string
	var expires int64
	var acceptedBy sql.NullInt64
	err = tx.QueryRowContext(ctx, "SELECT consultation_id, expires_at, accepted_by FROM colleague_invites WHERE token_hash = ?",
		hashToken(token)).Scan(&cid, &expires, &acceptedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Consultation{}, fmt.Errorf("records: colleague invite: %w", ErrNotFound)
	}
	if err != nil {
		return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
	}
	c, err := s.consultation(ctx, tx, cid)
	if err != nil {
		return Consultation{}, err
	}
	switch {
	case c.State == StateEnded:
		return c, fmt.Errorf("records: colleague invite: %w", ErrEnded)
	case expires <= s.now().UnixMilli():
		return c, fmt.Errorf("records: colleague invite: %w", ErrExpired)
	case acceptedBy.Valid && acceptedBy.Int64 != userID:
		return Consultation{}, fmt.Errorf("records: colleague invite used by someone else: %w", ErrNotFound)
	}
	if !accept {
		return c, nil
	}
	if _, err := tx.ExecContext(ctx, "UPDATE colleague_invites SET accepted_by = ? WHERE token_hash = ?", userID, hashToken(token)); err != nil {
		if isForeignKeyViolation(err) {
			return Consultation{}, fmt.Errorf("records: accept colleague: user %d: %w", userID, ErrNotFound)
		}
		return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
	}
	if userID != c.AdvisorID {
		if _, err := tx.ExecContext(ctx, "INSERT INTO consultation_staff (consultation_id, user_id, added_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
			cid, userID, s.now().UnixMilli()); err != nil {
			return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return Consultation{}, fmt.Errorf("records: accept colleague: %w", err)
	}
	return c, nil
}

// CanJoinAsStaff reports whether userID may see and join the consultation:
// its advisor or a colleague who accepted an invite. Admins are no
// exception: they administer accounts and data-subject requests, but are
// not participants of other advisors' calls. Error: ErrNotFound for an
// unknown consultation.
func (s *Store) CanJoinAsStaff(ctx context.Context, id string, userID int64) (bool, error) {
	var ok bool
	err := s.db.QueryRowContext(ctx, `SELECT c.advisor_id = ?1
			OR EXISTS (SELECT 1 FROM consultation_staff cs WHERE cs.consultation_id = c.id AND cs.user_id = ?1)
		FROM consultations c WHERE c.id = ?2`, userID, id).Scan(&ok)
	if errors.Is(err, sql.ErrNoRows) {
		return false, fmt.Errorf("records: consultation: %w", ErrNotFound)
	}
	if err != nil {
		return false, fmt.Errorf("records: can join: %w", err)
	}
	return ok, nil
}
