package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"
)

// CreateLogin starts a staff login for userID that lasts ttl after its last
// use (sliding expiry) and returns the login token for the cookie: 256
// random bits, base64url. Only its SHA-256 is stored.
func (s *Store) CreateLogin(ctx context.Context, userID int64, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		return "", invalid("login lifetime", "must be positive")
	}
	token := newToken()
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", fmt.Errorf("records: create login: %w", err)
	}
	defer tx.Rollback()
	// Housekeeping: expired logins and colleague invites are useless.
	if _, err := tx.ExecContext(ctx, "DELETE FROM logins WHERE expires_at <= ?", now.UnixMilli()); err != nil {
		return "", fmt.Errorf("records: create login: prune: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM colleague_invites WHERE expires_at <= ?", now.UnixMilli()); err != nil {
		return "", fmt.Errorf("records: create login: prune: %w", err)
	}
	if _, err := tx.ExecContext(ctx,
		"INSERT INTO logins (token_hash, user_id, ttl_ms, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
		hashToken(token), userID, ttl.Milliseconds(), now.UnixMilli(), now.Add(ttl).UnixMilli()); err != nil {
		if isForeignKeyViolation(err) {
			return "", fmt.Errorf("records: create login for user %d: %w", userID, ErrNotFound)
		}
		return "", fmt.Errorf("records: create login: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", fmt.Errorf("records: create login: %w", err)
	}
	return token, nil
}

// LoginUser returns the user of a live login and extends the login's
// expiry. Errors: ErrNotFound (unknown token), ErrExpired.
func (s *Store) LoginUser(ctx context.Context, token string) (User, error) {
	return s.LoginUserWithin(ctx, token, 0)
}

// LoginUserWithin is LoginUser for logins that end maxAge after they were
// created however active they are (0: no such limit).
func (s *Store) LoginUserWithin(ctx context.Context, token string, maxAge time.Duration) (User, error) {
	if token == "" {
		return User{}, ErrNotFound
	}
	h := hashToken(token)
	now := s.now().UnixMilli()
	var u User
	var role string
	var created, ttl, expires, began int64
	var disabled sql.NullInt64
	err := s.db.QueryRowContext(ctx, `SELECT u.id, u.username, u.display_name, u.role, u.available, u.created_at, u.must_change_password, u.disabled_at, u.oidc_subject IS NOT NULL, l.ttl_ms, l.expires_at, l.created_at
		FROM logins l JOIN users u ON u.id = l.user_id WHERE l.token_hash = ?`, h).
		Scan(&u.ID, &u.Username, &u.DisplayName, &role, &u.Available, &created, &u.MustChangePassword, &disabled, &u.SSO, &ttl, &expires, &began)
	if err == nil && disabled.Valid {
		return User{}, ErrNotFound
	}
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("records: login: %w", err)
	}
	u.Role, u.CreatedAt = Role(role), millis(created)
	end := int64(math.MaxInt64)
	if maxAge > 0 {
		end = began + maxAge.Milliseconds()
	}
	if expires <= now || end <= now {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM logins WHERE token_hash = ?", h); err != nil {
			return User{}, fmt.Errorf("records: login: delete expired: %w", err)
		}
		return User{}, ErrExpired
	}
	// Slide the expiry, but write at most about once a minute per login.
	if next := min(now+ttl, end); next-expires >= min(ttl/10, time.Minute.Milliseconds()) {
		if _, err := s.db.ExecContext(ctx, "UPDATE logins SET expires_at = ? WHERE token_hash = ?", next, h); err != nil {
			return User{}, fmt.Errorf("records: login: extend: %w", err)
		}
	}
	return u, nil
}

// DeleteLogin ends a login (logout). Unknown tokens are not an error.
func (s *Store) DeleteLogin(ctx context.Context, token string) error {
	if _, err := s.db.ExecContext(ctx, "DELETE FROM logins WHERE token_hash = ?", hashToken(token)); err != nil {
		return fmt.Errorf("records: delete login: %w", err)
	}
	return nil
}
