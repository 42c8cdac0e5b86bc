package records

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// AppointmentState is an appointment's state.
type AppointmentState string

// The appointment states.
const (
	AppointmentBooked    AppointmentState = "booked"
	AppointmentCancelled AppointmentState = "cancelled"
)

// Bounds of the customer's contact data.
const (
	MaxCustomerNameLen = 64
	MaxEmailLen        = 254
	MaxPhoneLen        = 32
)

// Appointment is a consultation booked for a slot, with the customer's
// contact data (personal data: deleted with the consultation's record).
type Appointment struct {
	ID             string // "a_" + 24 base32 characters
	ConsultationID string
	AdvisorID      int64
	AdvisorName    string
	Title          string
	StartsAt       time.Time
	EndsAt         time.Time
	CustomerName   string
	CustomerEmail  string
	CustomerPhone  string
	Lang           string // "de" or "en": the customer's language
	Sequence       int    // iCalendar SEQUENCE
	State          AppointmentState
	CreatedAt      time.Time
}

// Booking is what BookAppointment needs.
type Booking struct {
	AdvisorID      int64
	Title          string
	StartsAt       time.Time
	EndsAt         time.Time
	OpensAt        time.Time     // when the link starts to work (StartsAt less the early join)
	InviteValidFor time.Duration // after EndsAt (the appointment window's end grace)
	CustomerName   string
	CustomerEmail  string
	CustomerPhone  string
	Lang           string
}

const appointmentSelect = `SELECT a.id, a.consultation_id, a.advisor_id, u.display_name, c.title, a.starts_at, a.ends_at,
	a.customer_name, a.customer_email, a.customer_phone, a.lang, a.sequence, a.state, a.created_at
	FROM appointments a JOIN users u ON u.id = a.advisor_id JOIN consultations c ON c.id = a.consultation_id `

func scanAppointment(row interface{ Scan(...any) error }) (Appointment, error) {
	var a Appointment
	var starts, ends, created int64
	var state string
	if err := row.Scan(&a.ID, &a.ConsultationID, &a.AdvisorID, &a.AdvisorName, &a.Title, &starts, &ends,
		&a.CustomerName, &a.CustomerEmail, &a.CustomerPhone, &a.Lang, &a.Sequence, &state, &created); err != nil {
		return Appointment{}, err
	}
	a.StartsAt, a.EndsAt, a.CreatedAt = millis(starts), millis(ends), millis(created)
	a.State = AppointmentState(state)
	return a, nil
}

func (s *Store) appointment(ctx context.Context, q execQuerier, where string, arg any) (Appointment, error) {
	a, err := scanAppointment(q.QueryRowContext(ctx, appointmentSelect+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return Appointment{}, fmt.Errorf("records: appointment: %w", ErrNotFound)
	}
	if err != nil {
		return Appointment{}, fmt.Errorf("records: appointment: %w", err)
	}
	return a, nil
}

// checkSlot validates a slot: start before end, at most a day long.
func checkSlot(start, end, opens time.Time) error {
	switch {
	case start.IsZero() || end.IsZero():
		return invalid("slot", "needs a start and an end")
	case !end.After(start):
		return invalid("endsAt", "must be after startsAt")
	case end.Sub(start) > 24*time.Hour:
		return invalid("endsAt", "must be at most 24 hours after startsAt")
	case opens.After(start):
		return invalid("slot", "opens after its start")
	}
	return nil
}

// CleanEmail checks an e-mail address: one plain address (no name, no
// line breaks), at most MaxEmailLen characters.
func CleanEmail(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" || len(addr) > MaxEmailLen || strings.ContainsAny(addr, "\r\n<>,; ") {
		return "", invalid("email", "must be one e-mail address")
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr[strings.LastIndexByte(addr, '@')+1:], ".") {
		return "", invalid("email", "must be one e-mail address")
	}
	return addr, nil
}

func cleanPhone(p string) (string, error) {
	p = strings.TrimSpace(p)
	if len(p) > MaxPhoneLen || strings.Trim(p, "+0123456789 ()/-") != "" {
		return "", invalid("phone", "must be at most 32 digits, spaces and + ( ) / -")
	}
	return p, nil
}

// BookAppointment opens a consultation for a slot and books it for the
// customer: the consultation opens at b.OpensAt (its maximum duration
// counts from there) and its invite works until b.EndsAt plus
// b.InviteValidFor. It returns the appointment and the invite token
// (only its hash is stored).
func (s *Store) BookAppointment(ctx context.Context, b Booking) (Appointment, string, error) {
	title, err := CleanText("title", b.Title, MaxTitleLen)
	if err != nil {
		return Appointment{}, "", err
	}
	name, err := CleanText("customerName", b.CustomerName, MaxCustomerNameLen)
	if err != nil {
		return Appointment{}, "", err
	}
	if name == "" {
		return Appointment{}, "", invalid("customerName", "is required")
	}
	email, err := CleanEmail(b.CustomerEmail)
	if err != nil {
		return Appointment{}, "", err
	}
	phone, err := cleanPhone(b.CustomerPhone)
	if err != nil {
		return Appointment{}, "", err
	}
	if b.Lang != "de" && b.Lang != "en" {
		return Appointment{}, "", invalid("lang", `must be "de" or "en"`)
	}
	if err := checkSlot(b.StartsAt, b.EndsAt, b.OpensAt); err != nil {
		return Appointment{}, "", err
	}
	now := s.now()
	if !b.EndsAt.After(now) {
		return Appointment{}, "", invalid("endsAt", "is in the past")
	}
	id, cid, token := newAppointmentID(), newConsultationID(), newToken()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Appointment{}, "", fmt.Errorf("records: book appointment: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO consultations (id, title, advisor_id, state, created_at, invite_hash, invite_expires_at, opens_at)
		VALUES (?, ?, ?, 'open', ?, ?, ?, ?)`, cid, title, b.AdvisorID, now.UnixMilli(), hashToken(token),
		b.EndsAt.Add(b.InviteValidFor).UnixMilli(), b.OpensAt.UnixMilli()); err != nil {
		if isForeignKeyViolation(err) {
			return Appointment{}, "", fmt.Errorf("records: book appointment: advisor %d: %w", b.AdvisorID, ErrNotFound)
		}
		return Appointment{}, "", fmt.Errorf("records: book appointment: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO appointments (id, consultation_id, advisor_id, starts_at, ends_at,
		customer_name, customer_email, customer_phone, lang, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, cid, b.AdvisorID, b.StartsAt.UnixMilli(), b.EndsAt.UnixMilli(),
		name, email, phone, b.Lang, now.UnixMilli(), now.UnixMilli()); err != nil {
		return Appointment{}, "", fmt.Errorf("records: book appointment: %w", err)
	}
	a, err := s.appointment(ctx, tx, "WHERE a.id = ?", id)
	if err != nil {
		return Appointment{}, "", err
	}
	if err := tx.Commit(); err != nil {
		return Appointment{}, "", fmt.Errorf("records: book appointment: %w", err)
	}
	return a, token, nil
}

// AppointmentByID returns an appointment or ErrNotFound.
func (s *Store) AppointmentByID(ctx context.Context, id string) (Appointment, error) {
	return s.appointment(ctx, s.db, "WHERE a.id = ?", id)
}

// AppointmentByConsultation returns the appointment a consultation was
// booked for, or ErrNotFound (a consultation made on the spot).
func (s *Store) AppointmentByConsultation(ctx context.Context, cid string) (Appointment, error) {
	return s.appointment(ctx, s.db, "WHERE a.consultation_id = ?", cid)
}

// RescheduleAppointment moves a booked appointment to a new slot, raises
// its sequence and moves its consultation's opening and invite expiry
// along (the link stays the same). Errors: ErrNotFound, ErrEnded (it was
// cancelled or its consultation ended).
func (s *Store) RescheduleAppointment(ctx context.Context, id string, start, end, opens time.Time, inviteValidFor time.Duration) (Appointment, error) {
	if err := checkSlot(start, end, opens); err != nil {
		return Appointment{}, err
	}
	if !end.After(s.now()) {
		return Appointment{}, invalid("endsAt", "is in the past")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Appointment{}, fmt.Errorf("records: reschedule: %w", err)
	}
	defer tx.Rollback()
	a, err := s.appointment(ctx, tx, "WHERE a.id = ?", id)
	if err != nil {
		return Appointment{}, err
	}
	c, err := s.consultation(ctx, tx, a.ConsultationID)
	if err != nil {
		return Appointment{}, err
	}
	if a.State != AppointmentBooked || c.State != StateOpen {
		return a, fmt.Errorf("records: reschedule: %w", ErrEnded)
	}
	now := s.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, "UPDATE appointments SET starts_at = ?, ends_at = ?, sequence = sequence + 1, updated_at = ? WHERE id = ?",
		start.UnixMilli(), end.UnixMilli(), now, id); err != nil {
		return Appointment{}, fmt.Errorf("records: reschedule: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE consultations SET opens_at = ?, invite_expires_at = ? WHERE id = ?",
		opens.UnixMilli(), end.Add(inviteValidFor).UnixMilli(), a.ConsultationID); err != nil {
		return Appointment{}, fmt.Errorf("records: reschedule: %w", err)
	}
	if a, err = s.appointment(ctx, tx, "WHERE a.id = ?", id); err != nil {
		return Appointment{}, err
	}
	if err := tx.Commit(); err != nil {
		return Appointment{}, fmt.Errorf("records: reschedule: %w", err)
	}
	return a, nil
}

// CancelAppointment cancels a booked appointment: its sequence rises, its
// consultation ends (the link stops working). Cancelling a cancelled
// appointment changes nothing; changed says whether this call did.
func (s *Store) CancelAppointment(ctx context.Context, id string) (a Appointment, changed bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Appointment{}, false, fmt.Errorf("records: cancel appointment: %w", err)
	}
	defer tx.Rollback()
	if a, err = s.appointment(ctx, tx, "WHERE a.id = ?", id); err != nil {
		return Appointment{}, false, err
	}
	if a.State == AppointmentCancelled {
		return a, false, nil
	}
	now := s.now().UnixMilli()
	if _, err := tx.ExecContext(ctx, "UPDATE appointments SET state = 'cancelled', sequence = sequence + 1, updated_at = ? WHERE id = ?", now, id); err != nil {
		return Appointment{}, false, fmt.Errorf("records: cancel appointment: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE consultations SET state = 'ended', ended_at = ? WHERE id = ? AND state = 'open'", now, a.ConsultationID); err != nil {
		return Appointment{}, false, fmt.Errorf("records: cancel appointment: %w", err)
	}
	if a, err = s.appointment(ctx, tx, "WHERE a.id = ?", id); err != nil {
		return Appointment{}, false, err
	}
	if err := tx.Commit(); err != nil {
		return Appointment{}, false, fmt.Errorf("records: cancel appointment: %w", err)
	}
	return a, true, nil
}

// AppointmentsBetween lists the appointments of advisorID (booked and
// cancelled) that start in [from, to), by start.
func (s *Store) AppointmentsBetween(ctx context.Context, advisorID int64, from, to time.Time) ([]Appointment, error) {
	rows, err := s.db.QueryContext(ctx, appointmentSelect+`WHERE a.advisor_id = ? AND a.starts_at >= ? AND a.starts_at < ?
		ORDER BY a.starts_at, a.id LIMIT ?`, advisorID, from.UnixMilli(), to.UnixMilli(), maxListed)
	if err != nil {
		return nil, fmt.Errorf("records: list appointments: %w", err)
	}
	defer rows.Close()
	out := []Appointment{}
	for rows.Next() {
		a, err := scanAppointment(rows)
		if err != nil {
			return nil, fmt.Errorf("records: list appointments: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: list appointments: %w", err)
	}
	return out, nil
}

// newAppointmentID returns "a_" and 120 random bits in lower-case base32.
func newAppointmentID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return "a_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}
