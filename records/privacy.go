package records

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// SetClock replaces the store's clock (tests of retention use a fake one).
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// Customer is a customer who joined a consultation: the pre-join data.
type Customer struct {
	ConsultationID string    `json:"consultationId"`
	ParticipantID  string    `json:"participantId"`
	Name           string    `json:"name"`
	Anonymous      bool      `json:"anonymous"`
	JoinedAt       time.Time `json:"joinedAt"`
	// SubjectID, when set, is the participant id of this customer's first
	// participation in the consultation: they joined again with its
	// personal link, and stay one data subject (subject_links).
	SubjectID string `json:"-"`
}

// Answer is one answer to one of the company's questions.
type Answer struct {
	Phase      string    `json:"phase"` // "before" or "after"
	QuestionID string    `json:"questionId"`
	Value      string    `json:"value"`
	GivenAt    time.Time `json:"givenAt"`
}

// AddCustomer records a customer who joined, with their answers to the
// questions before joining, in one transaction.
func (s *Store) AddCustomer(ctx context.Context, c Customer, before map[string]string) error {
	return s.JoinCustomer(ctx, c, before, nil)
}

// JoinCustomer is AddCustomer with the customer's consent record (nil for
// an anonymous join), all in one transaction: when any write fails,
// nothing of the join is recorded.
func (s *Store) JoinCustomer(ctx context.Context, c Customer, before map[string]string, consent *Consent) error {
	if c.ConsultationID == "" || c.ParticipantID == "" {
		return invalid("customer", "needs consultation and participant")
	}
	if consent != nil && (consent.TextVersion == "" || consent.Lang == "") {
		return invalid("consent", "needs text version and language")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: add customer: %w", err)
	}
	defer tx.Rollback()
	if consent != nil {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO consents (consultation_id, participant_id, text_version, lang, given_at) VALUES (?, ?, ?, ?, ?)",
			c.ConsultationID, c.ParticipantID, consent.TextVersion, consent.Lang, consent.GivenAt.UnixMilli()); err != nil {
			return fmt.Errorf("records: record consent: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO customers (consultation_id, participant_id, name, anonymous, joined_at) VALUES (?, ?, ?, ?, ?)",
		c.ConsultationID, c.ParticipantID, c.Name, boolInt(c.Anonymous), c.JoinedAt.UnixMilli()); err != nil {
		return fmt.Errorf("records: add customer: %w", err)
	}
	if err := insertAnswers(ctx, tx, c.ConsultationID, c.ParticipantID, "before", before, c.JoinedAt); err != nil {
		return err
	}
	if c.SubjectID != "" && c.SubjectID != c.ParticipantID {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO subject_links (consultation_id, participant_id, subject_id, linked_at) VALUES (?, ?, ?, ?)",
			c.ConsultationID, c.ParticipantID, c.SubjectID, c.JoinedAt.UnixMilli()); err != nil {
			return fmt.Errorf("records: link subject: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: add customer: %w", err)
	}
	return nil
}

// RemoveJoin undoes JoinCustomer for a join that failed afterwards (the
// live join did not happen): the customer, their answers and their
// consent record go, in one transaction. Nothing to remove is no error.
func (s *Store) RemoveJoin(ctx context.Context, cid, pid string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: remove join: %w", err)
	}
	defer tx.Rollback()
	for _, table := range []string{"answers", "customers", "consents", "subject_links"} {
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table+" WHERE consultation_id = ? AND participant_id = ?", cid, pid); err != nil {
			return fmt.Errorf("records: remove join: %s: %w", table, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: remove join: %w", err)
	}
	return nil
}

// ErrAnswered: the questions after the consultation were answered already.
var ErrAnswered = errors.New("records: already answered")

// AddFeedback stores the answers to the questions after the consultation;
// once per customer (ErrAnswered).
func (s *Store) AddFeedback(ctx context.Context, cid, pid string, after map[string]string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: add feedback: %w", err)
	}
	defer tx.Rollback()
	if err := tx.lock(ctx, "feedback:"+cid+":"+pid); err != nil {
		return fmt.Errorf("records: add feedback: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM answers WHERE consultation_id = ? AND participant_id = ? AND phase = 'after'",
		cid, pid).Scan(&n); err != nil {
		return fmt.Errorf("records: add feedback: %w", err)
	}
	if n > 0 {
		return ErrAnswered
	}
	if err := insertAnswers(ctx, tx, cid, pid, "after", after, s.now()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: add feedback: %w", err)
	}
	return nil
}

func insertAnswers(ctx context.Context, tx *txn, cid, pid, phase string, answers map[string]string, at time.Time) error {
	for q, v := range answers {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO answers (consultation_id, participant_id, phase, question_id, value, given_at) VALUES (?, ?, ?, ?, ?, ?)",
			cid, pid, phase, q, v, at.UnixMilli()); err != nil {
			return fmt.Errorf("records: store answers: %w", err)
		}
	}
	return nil
}

// CustomerByID returns a customer's pre-join record (ErrNotFound).
func (s *Store) CustomerByID(ctx context.Context, cid, pid string) (Customer, error) {
	var c Customer
	var anon int
	var at int64
	err := s.db.QueryRowContext(ctx,
		"SELECT consultation_id, participant_id, name, anonymous, joined_at FROM customers WHERE consultation_id = ? AND participant_id = ?",
		cid, pid).Scan(&c.ConsultationID, &c.ParticipantID, &c.Name, &anon, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return Customer{}, ErrNotFound
	}
	if err != nil {
		return Customer{}, fmt.Errorf("records: customer: %w", err)
	}
	c.Anonymous, c.JoinedAt = anon != 0, millis(at)
	return c, nil
}

// RenameCustomer corrects a customer's name (GDPR Art. 16). ErrNotFound
// when no pre-join record is left.
func (s *Store) RenameCustomer(ctx context.Context, cid, pid, name string) error {
	res, err := s.db.ExecContext(ctx, "UPDATE customers SET name = ?, anonymous = 0 WHERE consultation_id = ? AND participant_id = ?", name, cid, pid)
	if err != nil {
		return fmt.Errorf("records: rename customer: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AccessEntry is one access-log line. Client is already anonymised;
// Browser and OS are families ("Chrome 131", "Android"), never the raw
// user agent.
type AccessEntry struct {
	At       time.Time     `json:"at"`
	Method   string        `json:"method"`
	Route    string        `json:"route"`
	Status   int           `json:"status"`
	Duration time.Duration `json:"durationUs"`
	Bytes    int           `json:"bytes"`
	Client   string        `json:"client"`
	Browser  string        `json:"browser"`
	OS       string        `json:"os"`
}

// WriteAccessLog appends entries in one transaction.
func (s *Store) WriteAccessLog(ctx context.Context, es []AccessEntry) error {
	if len(es) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: access log: %w", err)
	}
	defer tx.Rollback()
	for _, e := range es {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO access_log (at, method, route, status, duration_us, bytes, client, browser, os) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			e.At.UnixMilli(), e.Method, e.Route, e.Status, e.Duration.Microseconds(), e.Bytes, e.Client, e.Browser, e.OS); err != nil {
			return fmt.Errorf("records: access log: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: access log: %w", err)
	}
	return nil
}

// AccessLog returns the access log entries since t, oldest first (at
// most limit).
func (s *Store) AccessLog(ctx context.Context, since time.Time, limit int) ([]AccessEntry, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT at, method, route, status, duration_us, bytes, client, browser, os FROM access_log WHERE at >= ? ORDER BY at, id LIMIT ?",
		since.UnixMilli(), limit)
	if err != nil {
		return nil, fmt.Errorf("records: access log: %w", err)
	}
	defer rows.Close()
	var out []AccessEntry
	for rows.Next() {
		var e AccessEntry
		var at, us int64
		if err := rows.Scan(&at, &e.Method, &e.Route, &e.Status, &us, &e.Bytes, &e.Client, &e.Browser, &e.OS); err != nil {
			return nil, fmt.Errorf("records: access log: %w", err)
		}
		e.At, e.Duration = millis(at), time.Duration(us)*time.Microsecond
		out = append(out, e)
	}
	return out, rows.Err()
}

// subjectKey is the installation's key for data-subject links.
func (s *Store) subjectKey(ctx context.Context) ([]byte, error) {
	var k []byte
	if err := s.db.QueryRowContext(ctx, "SELECT value FROM settings WHERE name = 'subject_link_key'").Scan(&k); err != nil {
		return nil, fmt.Errorf("records: subject link key: %w", err)
	}
	if len(k) < 32 {
		return nil, errors.New("records: subject link key is too short")
	}
	return k, nil
}

// Subject names one data subject: a customer of one consultation.
type Subject struct {
	ConsultationID string `json:"consultationId"`
	ParticipantID  string `json:"participantId"`
}

// SubjectToken returns the bearer token of subject's data-subject link
// ("<consultation>.<participant>.<MAC>"). It is derived, not stored: the
// link works as long as any data about the subject is kept, and reveals
// nothing but the two random ids.
func (s *Store) SubjectToken(ctx context.Context, sub Subject) (string, error) {
	k, err := s.subjectKey(ctx)
	if err != nil {
		return "", err
	}
	return sub.ConsultationID + "." + sub.ParticipantID + "." + subjectMAC(k, sub), nil
}

func subjectMAC(k []byte, sub Subject) string {
	m := hmac.New(sha256.New, k)
	m.Write([]byte("parley subject link\x00" + sub.ConsultationID + "\x00" + sub.ParticipantID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// ErrBadToken: a data-subject token that this installation did not issue.
var ErrBadToken = errors.New("records: invalid data-subject link")

// SubjectByToken checks a data-subject token (ErrBadToken).
func (s *Store) SubjectByToken(ctx context.Context, token string) (Subject, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 || len(token) > 256 {
		return Subject{}, ErrBadToken
	}
	sub := Subject{ConsultationID: parts[0], ParticipantID: parts[1]}
	k, err := s.subjectKey(ctx)
	if err != nil {
		return Subject{}, err
	}
	if !hmac.Equal([]byte(subjectMAC(k, sub)), []byte(parts[2])) {
		return Subject{}, ErrBadToken
	}
	return sub, nil
}

// SubjectData is everything the records hold about one subject (GDPR Art.
// 15), for the machine-readable export.
type SubjectData struct {
	Subject   Subject         `json:"subject"`
	Customer  *Customer       `json:"customer"`
	Answers   []Answer        `json:"answers"`
	Consents  []SubjectRecord `json:"consents"`
	Contracts []SubjectRecord `json:"contracts"`
	Requests  []SubjectRecord `json:"requests"`
}

// SubjectRecord is one consent, contract or request in an export.
type SubjectRecord struct {
	ID         string    `json:"id,omitempty"`
	Kind       string    `json:"kind"`
	At         time.Time `json:"at"`
	Detail     any       `json:"detail"`
	Restricted bool      `json:"restricted"`
	// KeptUntil is when the retention period of a restricted record ends.
	KeptUntil *time.Time `json:"keptUntil,omitempty"`
}

// Retention is what the records need of the retention configuration to
// explain in exports how long kept records stay: the end of each period
// from its start.
type Retention struct {
	ContractsUntil, ConsentsUntil func(from time.Time) time.Time
}

// ResolveSubject returns the data subject a participant belongs to: the
// first participation of someone who joined again with its personal link
// (subject_links), or sub itself.
func (s *Store) ResolveSubject(ctx context.Context, sub Subject) (Subject, error) {
	var root string
	err := s.db.QueryRowContext(ctx, "SELECT subject_id FROM subject_links WHERE consultation_id = ? AND participant_id = ?",
		sub.ConsultationID, sub.ParticipantID).Scan(&root)
	if errors.Is(err, sql.ErrNoRows) {
		return sub, nil
	}
	if err != nil {
		return sub, fmt.Errorf("records: resolve subject: %w", err)
	}
	return Subject{ConsultationID: sub.ConsultationID, ParticipantID: root}, nil
}

// SubjectErased reports whether the subject asked for erasure (a logged
// "erase" request): joining again with their link then starts afresh.
func (s *Store) SubjectErased(ctx context.Context, sub Subject) (bool, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM subject_requests WHERE consultation_id = ? AND participant_id = ? AND kind = 'erase'",
		sub.ConsultationID, sub.ParticipantID).Scan(&n); err != nil {
		return false, fmt.Errorf("records: subject erased: %w", err)
	}
	return n > 0, nil
}

// SubjectParticipants returns the participant ids of one data subject in
// its consultation: sub's own first, then those of later participations
// linked to it (JoinCustomer with Customer.SubjectID), oldest first.
func (s *Store) SubjectParticipants(ctx context.Context, sub Subject) ([]string, error) {
	out := []string{sub.ParticipantID}
	rows, err := s.db.QueryContext(ctx, "SELECT participant_id FROM subject_links WHERE consultation_id = ? AND subject_id = ? ORDER BY linked_at, participant_id",
		sub.ConsultationID, sub.ParticipantID)
	if err != nil {
		return nil, fmt.Errorf("records: subject participants: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var pid string
		if err := rows.Scan(&pid); err != nil {
			return nil, fmt.Errorf("records: subject participants: %w", err)
		}
		out = append(out, pid)
	}
	return out, rows.Err()
}

// SubjectData collects the subject's records: of every participation
// linked to it (SubjectParticipants); the customer record is the latest.
func (s *Store) SubjectData(ctx context.Context, sub Subject, r Retention) (SubjectData, error) {
	out := SubjectData{Subject: sub, Answers: []Answer{}, Consents: []SubjectRecord{}, Contracts: []SubjectRecord{}, Requests: []SubjectRecord{}}
	pids, err := s.SubjectParticipants(ctx, sub)
	if err != nil {
		return out, err
	}
	for _, pid := range pids {
		if err := s.subjectDataOf(ctx, Subject{ConsultationID: sub.ConsultationID, ParticipantID: pid}, r, &out); err != nil {
			return out, err
		}
	}
	if len(pids) > 1 {
		byAt := func(rs []SubjectRecord) {
			sort.SliceStable(rs, func(i, j int) bool { return rs[i].At.Before(rs[j].At) })
		}
		byAt(out.Consents)
		byAt(out.Contracts)
		byAt(out.Requests)
		sort.SliceStable(out.Answers, func(i, j int) bool { return out.Answers[i].GivenAt.Before(out.Answers[j].GivenAt) })
	}
	return out, nil
}

// subjectDataOf adds one participation's records to out.
func (s *Store) subjectDataOf(ctx context.Context, sub Subject, r Retention, out *SubjectData) error {
	c, err := s.CustomerByID(ctx, sub.ConsultationID, sub.ParticipantID)
	switch {
	case err == nil:
		if out.Customer == nil || !c.JoinedAt.Before(out.Customer.JoinedAt) {
			out.Customer = &c
		}
	case !errors.Is(err, ErrNotFound):
		return err
	}
	rows, err := s.db.QueryContext(ctx,
		"SELECT phase, question_id, value, given_at FROM answers WHERE consultation_id = ? AND participant_id = ? ORDER BY given_at, id",
		sub.ConsultationID, sub.ParticipantID)
	if err != nil {
		return fmt.Errorf("records: subject answers: %w", err)
	}
	for rows.Next() {
		var a Answer
		var at int64
		if err := rows.Scan(&a.Phase, &a.QuestionID, &a.Value, &at); err != nil {
			rows.Close()
			return fmt.Errorf("records: subject answers: %w", err)
		}
		a.GivenAt = millis(at)
		out.Answers = append(out.Answers, a)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx,
		"SELECT id, text_version, lang, given_at, restricted_at FROM consents WHERE consultation_id = ? AND participant_id = ? ORDER BY given_at, id",
		sub.ConsultationID, sub.ParticipantID)
	if err != nil {
		return fmt.Errorf("records: subject consents: %w", err)
	}
	for rows.Next() {
		var id, at int64
		var version, lang string
		var restricted sql.NullInt64
		if err := rows.Scan(&id, &version, &lang, &at, &restricted); err != nil {
			rows.Close()
			return fmt.Errorf("records: subject consents: %w", err)
		}
		rec := SubjectRecord{ID: fmt.Sprint(id), Kind: "consent", At: millis(at),
			Detail: map[string]string{"textVersion": version, "lang": lang}, Restricted: restricted.Valid}
		if r.ConsentsUntil != nil {
			until := r.ConsentsUntil(millis(at))
			rec.KeptUntil = &until
		}
		out.Consents = append(out.Consents, rec)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx, `SELECT d.id, d.name, d.signed_at, d.restricted_at, f.name, f.signer_name, f.signed_at
		FROM document_fields f JOIN documents d ON d.id = f.document_id
		WHERE d.consultation_id = ? AND f.signer_ref = ? AND f.signed_at IS NOT NULL ORDER BY f.signed_at`,
		sub.ConsultationID, "participant:"+sub.ParticipantID)
	if err != nil {
		return fmt.Errorf("records: subject contracts: %w", err)
	}
	for rows.Next() {
		var id, name, field string
		var signerName sql.NullString
		var docSigned, restricted sql.NullInt64
		var at int64
		if err := rows.Scan(&id, &name, &docSigned, &restricted, &field, &signerName, &at); err != nil {
			rows.Close()
			return fmt.Errorf("records: subject contracts: %w", err)
		}
		rec := SubjectRecord{ID: id, Kind: "signed contract", At: millis(at), Restricted: restricted.Valid,
			Detail: map[string]string{"document": name, "field": field, "signerName": signerName.String,
				"complete": strconv.FormatBool(docSigned.Valid)}}
		if docSigned.Valid && r.ContractsUntil != nil {
			until := r.ContractsUntil(millis(docSigned.Int64))
			rec.KeptUntil = &until
		}
		out.Contracts = append(out.Contracts, rec)
	}
	rows.Close()

	rows, err = s.db.QueryContext(ctx,
		"SELECT id, at, kind, requested_by, result FROM subject_requests WHERE consultation_id = ? AND participant_id = ? ORDER BY at, id",
		sub.ConsultationID, sub.ParticipantID)
	if err != nil {
		return fmt.Errorf("records: subject requests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, at int64
		var kind, by, result string
		if err := rows.Scan(&id, &at, &kind, &by, &result); err != nil {
			return fmt.Errorf("records: subject requests: %w", err)
		}
		var detail map[string]any
		_ = json.Unmarshal([]byte(result), &detail)
		if detail == nil {
			detail = map[string]any{}
		}
		detail["requestedBy"] = by
		out.Requests = append(out.Requests, SubjectRecord{ID: fmt.Sprint(id), Kind: kind, At: millis(at), Detail: detail})
	}
	return rows.Err()
}

// Erasure is what EraseSubject did.
type Erasure struct {
	Deleted    map[string]int `json:"deleted"`
	Restricted map[string]int `json:"restricted"`
}

// EraseSubject deletes, for every participation of the subject
// (SubjectParticipants), the subject's pre-join data and answers and
// restricts what a legal duty keeps (signed contracts, consent records):
// they stay, marked restricted, until their retention period ends. Files
// are the caller's (package blobs).
func (s *Store) EraseSubject(ctx context.Context, sub Subject) (Erasure, error) {
	e := Erasure{Deleted: map[string]int{}, Restricted: map[string]int{}}
	pids, err := s.SubjectParticipants(ctx, sub)
	if err != nil {
		return e, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return e, fmt.Errorf("records: erase subject: %w", err)
	}
	defer tx.Rollback()
	now := s.now().UnixMilli()
	steps := []struct {
		into map[string]int
		name string
		q    string
		args []any
	}{
		{e.Deleted, "customer", "DELETE FROM customers WHERE consultation_id = ? AND participant_id = ?", []any{sub.ConsultationID, sub.ParticipantID}},
		{e.Deleted, "answers", "DELETE FROM answers WHERE consultation_id = ? AND participant_id = ?", []any{sub.ConsultationID, sub.ParticipantID}},
		{e.Restricted, "consents", "UPDATE consents SET restricted_at = ? WHERE consultation_id = ? AND participant_id = ? AND restricted_at IS NULL", []any{now, sub.ConsultationID, sub.ParticipantID}},
		{e.Restricted, "contracts", `UPDATE documents SET restricted_at = ? WHERE restricted_at IS NULL AND consultation_id = ? AND id IN
			(SELECT document_id FROM document_fields WHERE signer_ref = ? AND signed_at IS NOT NULL)`, []any{now, sub.ConsultationID, "participant:" + sub.ParticipantID}},
	}
	for _, pid := range pids {
		for _, st := range steps {
			args := append([]any{}, st.args...)
			for i, a := range args {
				switch a {
				case sub.ParticipantID:
					args[i] = pid
				case "participant:" + sub.ParticipantID:
					args[i] = "participant:" + pid
				}
			}
			res, err := tx.ExecContext(ctx, st.q, args...)
			if err != nil {
				return e, fmt.Errorf("records: erase subject: %s: %w", st.name, err)
			}
			n, _ := res.RowsAffected()
			st.into[st.name] += int(n)
		}
	}
	if err := tx.Commit(); err != nil {
		return e, fmt.Errorf("records: erase subject: %w", err)
	}
	return e, nil
}

// LogSubjectRequest records a data-subject request and its outcome
// (counts, never content).
func (s *Store) LogSubjectRequest(ctx context.Context, sub Subject, kind, by string, result any) error {
	b, err := json.Marshal(result)
	if err != nil {
		return fmt.Errorf("records: subject request: %w", err)
	}
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO subject_requests (at, kind, consultation_id, participant_id, requested_by, result) VALUES (?, ?, ?, ?, ?, ?)",
		s.now().UnixMilli(), kind, sub.ConsultationID, sub.ParticipantID, by, string(b)); err != nil {
		return fmt.Errorf("records: subject request: %w", err)
	}
	return nil
}

// SubjectMatch is one hit of FindSubjects.
type SubjectMatch struct {
	Subject
	Name      string `json:"name"`
	MatchedIn string `json:"matchedIn"` // customer, answer, contract, consultation
	Title     string `json:"consultationTitle,omitempty"`
}

// FindSubjects searches customers by name, answers (e.g. an e-mail
// address), contract signer names and consultation ids or titles, for
// an admin handling a request received by mail. At most 100 hits.
// Matching ignores case: of ASCII letters on SQLite (its lower() knows no
// others: "Özdemir" finds "Özdemir", "özdemir" does not), of all letters
// on PostgreSQL.
func (s *Store) FindSubjects(ctx context.Context, q string) ([]SubjectMatch, error) {
	q = strings.TrimSpace(q)
	if len([]rune(q)) < 2 {
		return nil, invalid("q", "needs at least 2 characters")
	}
	like := "%" + escapeLike(q) + "%"
	rows, err := s.db.QueryContext(ctx, `
		SELECT consultation_id, participant_id, name, 'customer' FROM customers WHERE lower(name) LIKE lower(?1) ESCAPE '\'
		UNION
		SELECT a.consultation_id, a.participant_id, COALESCE(c.name, ''), 'answer' FROM answers a
			LEFT JOIN customers c ON c.consultation_id = a.consultation_id AND c.participant_id = a.participant_id
			WHERE lower(a.value) LIKE lower(?1) ESCAPE '\'
		UNION
		SELECT d.consultation_id, substr(f.signer_ref, 13), COALESCE(f.signer_name, ''), 'contract' FROM document_fields f
			JOIN documents d ON d.id = f.document_id
			WHERE f.signer_ref LIKE 'participant:%' AND lower(f.signer_name) LIKE lower(?1) ESCAPE '\'
		UNION
		SELECT c.consultation_id, c.participant_id, c.name, 'consultation' FROM customers c
			JOIN consultations k ON k.id = c.consultation_id
			WHERE k.id = ?2 OR lower(k.title) LIKE lower(?1) ESCAPE '\'
		UNION
		SELECT n.consultation_id, n.participant_id, '', 'consultation' FROM consents n
			WHERE n.consultation_id = ?2
		LIMIT 100`, like, q)
	if err != nil {
		return nil, fmt.Errorf("records: find subjects: %w", err)
	}
	defer rows.Close()
	seen := map[Subject]int{}
	var out []SubjectMatch
	for rows.Next() {
		var m SubjectMatch
		if err := rows.Scan(&m.ConsultationID, &m.ParticipantID, &m.Name, &m.MatchedIn); err != nil {
			return nil, fmt.Errorf("records: find subjects: %w", err)
		}
		if i, ok := seen[m.Subject]; ok {
			if out[i].Name == "" {
				out[i].Name = m.Name
			}
			continue
		}
		seen[m.Subject] = len(out)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: find subjects: %w", err)
	}
	for i := range out {
		var title string
		if err := s.db.QueryRowContext(ctx, "SELECT title FROM consultations WHERE id = ?", out[i].ConsultationID).Scan(&title); err == nil {
			out[i].Title = title
		}
	}
	return out, nil
}
