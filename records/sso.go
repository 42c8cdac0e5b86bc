package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MaxOIDCSubjectLen bounds "<issuer> <subject>" (OpenID Connect allows a
// subject of 255 ASCII characters).
const MaxOIDCSubjectLen = 1024

// UserByOIDC returns the account bound to the provider account subject
// ("<issuer> <subject>"), or ErrNotFound.
func (s *Store) UserByOIDC(ctx context.Context, subject string) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE oidc_subject = ?", subject))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("records: sso account: %w", ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("records: sso account: %w", err)
	}
	return u, nil
}

// BindOIDC binds the existing account id, not yet bound to any provider
// account, to subject. ErrConflict: it is bound already, or subject is
// bound to another account.
func (s *Store) BindOIDC(ctx context.Context, id int64, subject string) (User, error) {
	if subject == "" || len(subject) > MaxOIDCSubjectLen {
		return User{}, invalid("oidc subject", "must be 1 to 1024 bytes long")
	}
	u, err := scanUser(s.db.QueryRowContext(ctx,
		"UPDATE users SET oidc_subject = ? WHERE id = ? AND oidc_subject IS NULL RETURNING "+userColumns, subject, id))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return User{}, fmt.Errorf("records: user %d is bound to another sso account: %w", id, ErrConflict)
	case isUniqueViolation(err):
		return User{}, fmt.Errorf("records: sso account bound to another user: %w", ErrConflict)
	case err != nil:
		return User{}, fmt.Errorf("records: bind sso account: %w", err)
	}
	return u, nil
}

// CreateOIDCUser adds an account that signs on through the provider
// account subject. Its password is random and never told to anyone, so
// password login cannot work for it. Errors as CreateUser's.
func (s *Store) CreateOIDCUser(ctx context.Context, username, displayName string, role Role, subject string) (User, error) {
	if subject == "" || len(subject) > MaxOIDCSubjectLen {
		return User{}, invalid("oidc subject", "must be 1 to 1024 bytes long")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("records: create sso user: %w", err)
	}
	defer tx.Rollback()
	u, err := s.createUser(ctx, tx, username, displayName, role, newToken())
	if err != nil {
		return User{}, err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE users SET oidc_subject = ? WHERE id = ?", subject, u.ID); err != nil {
		if isUniqueViolation(err) {
			return User{}, fmt.Errorf("records: sso account bound to another user: %w", ErrConflict)
		}
		return User{}, fmt.Errorf("records: create sso user: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("records: create sso user: %w", err)
	}
	u.SSO = true
	return u, nil
}

// UpdateFromProvider sets the role and display name an account's sign-on
// brought (the provider is their source of truth). A changed role ends
// the account's other logins.
func (s *Store) UpdateFromProvider(ctx context.Context, id int64, role Role, displayName string) (User, error) {
	if !role.Valid() {
		return User{}, invalid("role", fmt.Sprintf("%q must be one of admin, advisor, backoffice", role))
	}
	name, err := CleanText("display name", displayName, MaxDisplayNameLen)
	if err != nil {
		return User{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("records: update sso user: %w", err)
	}
	defer tx.Rollback()
	var old string
	if err := tx.QueryRowContext(ctx, "SELECT role FROM users WHERE id = ?", id).Scan(&old); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return User{}, fmt.Errorf("records: user %d: %w", id, ErrNotFound)
		}
		return User{}, fmt.Errorf("records: update sso user: %w", err)
	}
	q := "UPDATE users SET role = ? WHERE id = ? RETURNING " + userColumns
	args := []any{string(role), id}
	if name != "" {
		q = "UPDATE users SET role = ?, display_name = ? WHERE id = ? RETURNING " + userColumns
		args = []any{string(role), name, id}
	}
	u, err := scanUser(tx.QueryRowContext(ctx, q, args...))
	if err != nil {
		return User{}, fmt.Errorf("records: update sso user: %w", err)
	}
	if old != string(role) {
		if _, err := tx.ExecContext(ctx, "DELETE FROM logins WHERE user_id = ?", id); err != nil {
			return User{}, fmt.Errorf("records: update sso user: end logins: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("records: update sso user: %w", err)
	}
	return u, nil
}
