package records

import (
	"context"
	"fmt"
	"time"
)

// Consent is the proof that a participant agreed to a consent text: which
// version, in which language, when, for which consultation. It holds no IP
// address and no name.
type Consent struct {
	ConsultationID string
	ParticipantID  string
	TextVersion    string
	Lang           string
	GivenAt        time.Time
}

// RecordConsent stores a consent record. Consent records are kept when a
// consultation's other data is deleted: they prove the processing was
// lawful (GDPR Art. 7(1)).
func (s *Store) RecordConsent(ctx context.Context, consultationID, participantID, textVersion, lang string, at time.Time) error {
	if consultationID == "" || participantID == "" || textVersion == "" || lang == "" {
		return invalid("consent", "needs consultation, participant, text version and language")
	}
	if _, err := s.db.ExecContext(ctx,
		"INSERT INTO consents (consultation_id, participant_id, text_version, lang, given_at) VALUES (?, ?, ?, ?, ?)",
		consultationID, participantID, textVersion, lang, at.UnixMilli()); err != nil {
		return fmt.Errorf("records: record consent: %w", err)
	}
	return nil
}

// Consents returns a consultation's consent records, oldest first.
func (s *Store) Consents(ctx context.Context, consultationID string) ([]Consent, error) {
	rows, err := s.db.QueryContext(ctx,
		"SELECT consultation_id, participant_id, text_version, lang, given_at FROM consents WHERE consultation_id = ? ORDER BY given_at, id",
		consultationID)
	if err != nil {
		return nil, fmt.Errorf("records: consents: %w", err)
	}
	defer rows.Close()
	var cs []Consent
	for rows.Next() {
		var c Consent
		var at int64
		if err := rows.Scan(&c.ConsultationID, &c.ParticipantID, &c.TextVersion, &c.Lang, &at); err != nil {
			return nil, fmt.Errorf("records: consents: %w", err)
		}
		c.GivenAt = millis(at)
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: consents: %w", err)
	}
	return cs, nil
}
