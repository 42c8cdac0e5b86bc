package records

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Role is a staff user's role.
type Role string

// The roles. Advisors hold consultations; admins can do everything advisors
// can and manage users; backoffice staff can log in but not hold calls.
const (
	RoleAdmin      Role = "admin"
	RoleAdvisor    Role = "advisor"
	RoleBackoffice Role = "backoffice"
)

// Roles lists every role, for help texts.
func Roles() []Role { return []Role{RoleAdmin, RoleAdvisor, RoleBackoffice} }

// Valid reports whether r is one of the roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleAdvisor, RoleBackoffice:
		return true
	}
	return false
}

// CanConsult reports whether the role may hold consultations.
func (r Role) CanConsult() bool { return r == RoleAdmin || r == RoleAdvisor }

// ParseRole parses a role name such as "advisor".
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", invalid("role", fmt.Sprintf("%q must be one of admin, advisor, backoffice", s))
	}
	return r, nil
}

// User is a staff account.
type User struct {
	ID          int64
	Username    string
	DisplayName string
	Role        Role
	Available   bool
	CreatedAt   time.Time
	// MustChangePassword: the password was set by someone else (the first
	// admin's generated one, an admin's reset); only changing it is allowed.
	MustChangePassword bool
	// Disabled: an admin disabled the account; it cannot log in.
	Disabled bool
	// SSO: the account is bound to an account at the company's identity
	// provider (BindOIDC, CreateOIDCUser).
	SSO bool
}

// Limits for user input.
const (
	MaxUsernameLen    = 64
	MaxDisplayNameLen = 64
	MinPasswordLen    = 10
	MaxPasswordLen    = 1024 // bytes; hashing longer input is pointless work
)

// NormalizeUsername trims and lower-cases a user name and checks it: 1 to 64
// characters of a-z, 0-9, '.', '_', '-' and '@' (so that a company e-mail
// address, as identity providers often give, is a user name).
func NormalizeUsername(username string) (string, error) {
	u := strings.ToLower(strings.TrimSpace(username))
	if u == "" || len(u) > MaxUsernameLen {
		return "", invalid("username", fmt.Sprintf("must be 1 to %d characters long", MaxUsernameLen))
	}
	for _, c := range u {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '@') {
			return "", invalid("username", "may contain only a-z, 0-9, '.', '_', '-' and '@'")
		}
	}
	return u, nil
}

func checkPassword(password string) error {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return invalid("password", fmt.Sprintf("must be at least %d characters long", MinPasswordLen))
	}
	if len(password) > MaxPasswordLen {
		return invalid("password", fmt.Sprintf("must be at most %d bytes long", MaxPasswordLen))
	}
	return nil
}

// CleanText trims s and checks it is at most max characters without control
// or text-direction characters (forbiddenInText); field names the input in
// the error.
func CleanText(field, s string, max int) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", invalid(field, "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > max {
		return "", invalid(field, fmt.Sprintf("must be at most %d characters long", max))
	}
	for _, c := range s {
		if forbiddenInText(c) {
			return "", invalid(field, "must not contain control or text-direction characters (such as U+202E)")
		}
	}
	return s, nil
}

const userColumns = "id, username, display_name, role, available, created_at, must_change_password, disabled_at, oidc_subject IS NOT NULL"

func scanUser(row interface{ Scan(...any) error }, extra ...any) (User, error) {
	var u User
	var role string
	var created int64
	var disabled sql.NullInt64
	if err := row.Scan(append([]any{&u.ID, &u.Username, &u.DisplayName, &role, &u.Available, &created, &u.MustChangePassword, &disabled, &u.SSO}, extra...)...); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	u.CreatedAt = millis(created)
	u.Disabled = disabled.Valid
	return u, nil
}

// CreateUser adds a staff account. username is normalised (see
// NormalizeUsername); an empty displayName defaults to it; the password
// needs at least MinPasswordLen characters. Errors: ErrInvalid (a
// *ValidationError), ErrConflict when the name is taken.
func (s *Store) CreateUser(ctx context.Context, username, displayName string, role Role, password string) (User, error) {
	return s.createUser(ctx, s.db, username, displayName, role, password)
}

type execQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) createUser(ctx context.Context, q execQuerier, username, displayName string, role Role, password string) (User, error) {
	u, err := NormalizeUsername(username)
	if err != nil {
		return User{}, err
	}
	name, err := CleanText("display name", displayName, MaxDisplayNameLen)
	if err != nil {
		return User{}, err
	}
	if name == "" {
		name = u
	}
	if !role.Valid() {
		return User{}, invalid("role", fmt.Sprintf("%q must be one of admin, advisor, backoffice", role))
	}
	if err := checkPassword(password); err != nil {
		return User{}, err
	}
	hash := hashPassword(password)
	now := s.now()
	var id int64
	err = q.QueryRowContext(ctx,
		"INSERT INTO users (username, display_name, role, password_hash, available, created_at) VALUES (?, ?, ?, ?, 0, ?) RETURNING id",
		u, name, string(role), hash, now.UnixMilli()).Scan(&id)
	if err != nil {
		if isUniqueViolation(err) {
			return User{}, fmt.Errorf("records: user %q: %w", u, ErrConflict)
		}
		return User{}, fmt.Errorf("records: create user: %w", err)
	}
	return User{ID: id, Username: u, DisplayName: name, Role: role, CreatedAt: millis(now.UnixMilli())}, nil
}

// Authenticate checks a user name and password. Unknown names cost as much
// time as wrong passwords. Error: ErrBadCredentials.
func (s *Store) Authenticate(ctx context.Context, username, password string) (User, error) {
	uname, nerr := NormalizeUsername(username)
	var hash string
	var u User
	var err error
	if nerr == nil {
		row := s.db.QueryRowContext(ctx, "SELECT "+userColumns+", password_hash FROM users WHERE username = ?", uname)
		u, err = scanUser(row, &hash)
	}
	if nerr != nil || errors.Is(err, sql.ErrNoRows) || len(password) > MaxPasswordLen {
		// Same work as a real check, so response times do not reveal
		// whether the user exists.
		verifyPassword(s.dummy(), password[:min(len(password), MaxPasswordLen)])
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("records: authenticate: %w", err)
	}
	ok, err := verifyPassword(hash, password)
	if err != nil {
		return User{}, fmt.Errorf("records: authenticate user %d: %w", u.ID, err)
	}
	if !ok || u.Disabled {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

func (s *Store) dummy() string {
	s.dummyOnce.Do(func() { s.dummyHash = hashPassword(newToken()) })
	return s.dummyHash
}

// SetPassword replaces a user's password and ends all their logins.
func (s *Store) SetPassword(ctx context.Context, username, password string) error {
	return s.setPassword(ctx, username, password, false)
}

// ResetPassword is SetPassword by an admin for someone else: the user
// must change it at their next login.
func (s *Store) ResetPassword(ctx context.Context, username, password string) error {
	return s.setPassword(ctx, username, password, true)
}

// ChangePassword is a user changing their own password: current must be
// right (ErrBadCredentials); the new one ends every login and the duty to
// change it.
func (s *Store) ChangePassword(ctx context.Context, username, current, password string) error {
	if _, err := s.Authenticate(ctx, username, current); err != nil {
		return err
	}
	return s.setPassword(ctx, username, password, false)
}

// SetDisabled disables (ending all logins) or enables an account.
func (s *Store) SetDisabled(ctx context.Context, id int64, disabled bool) (User, error) {
	var at any
	if disabled {
		at = s.now().UnixMilli()
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return User{}, fmt.Errorf("records: disable user: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, "UPDATE users SET disabled_at = ? WHERE id = ?", at, id)
	if err != nil {
		return User{}, fmt.Errorf("records: disable user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return User{}, ErrNotFound
	}
	if disabled {
		if _, err := tx.ExecContext(ctx, "DELETE FROM logins WHERE user_id = ?", id); err != nil {
			return User{}, fmt.Errorf("records: disable user: end logins: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return User{}, fmt.Errorf("records: disable user: %w", err)
	}
	return s.UserByID(ctx, id)
}

func (s *Store) setPassword(ctx context.Context, username, password string, mustChange bool) error {
	u, err := NormalizeUsername(username)
	if err != nil {
		return err
	}
	if err := checkPassword(password); err != nil {
		return err
	}
	hash := hashPassword(password)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("records: set password: %w", err)
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, "UPDATE users SET password_hash = ?, must_change_password = ? WHERE username = ? RETURNING id", hash, boolInt(mustChange), u).Scan(&id); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("records: user %q: %w", u, ErrNotFound)
		}
		return fmt.Errorf("records: set password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM logins WHERE user_id = ?", id); err != nil {
		return fmt.Errorf("records: set password: end logins: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("records: set password: %w", err)
	}
	return nil
}

// ListUsers returns all users ordered by user name.
func (s *Store) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users ORDER BY username")
	if err != nil {
		return nil, fmt.Errorf("records: list users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("records: list users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("records: list users: %w", err)
	}
	return us, nil
}

// UserByID returns one user or ErrNotFound.
func (s *Store) UserByID(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("records: user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("records: user %d: %w", id, err)
	}
	return u, nil
}

// UserByUsername returns one user or ErrNotFound.
func (s *Store) UserByUsername(ctx context.Context, username string) (User, error) {
	name, err := NormalizeUsername(username)
	if err != nil {
		return User{}, fmt.Errorf("records: user: %w", ErrNotFound)
	}
	u, err := scanUser(s.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE username = ?", name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("records: user %q: %w", name, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("records: user %q: %w", name, err)
	}
	return u, nil
}

// CountUsers returns the number of staff accounts.
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("records: count users: %w", err)
	}
	return n, nil
}

// SetAvailable sets whether an advisor is available for consultations and
// returns the updated user.
func (s *Store) SetAvailable(ctx context.Context, userID int64, available bool) (User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx,
		"UPDATE users SET available = ? WHERE id = ? RETURNING "+userColumns, boolInt(available), userID))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("records: user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return User{}, fmt.Errorf("records: set availability of user %d: %w", userID, err)
	}
	return u, nil
}

// BootstrapPasswordLen is the length of the generated first admin password.
const BootstrapPasswordLen = 20

// EnsureBootstrapAdmin creates the admin account name with a random
// password when no user exists at all, and returns that password (the
// caller shows it once; it is not stored anywhere in the clear). When users
// exist it does nothing and created is false. However many nodes call it
// at once on one empty database, exactly one creates the admin: SQLite's
// write transactions are serial, on PostgreSQL an advisory lock makes the
// count and the insert one step.
func (s *Store) EnsureBootstrapAdmin(ctx context.Context, name string) (password string, created bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	defer tx.Rollback()
	if err := tx.lock(ctx, "bootstrap admin"); err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM users").Scan(&n); err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	password = newPassword(BootstrapPasswordLen)
	u, err := s.createUser(ctx, tx, name, "", RoleAdmin, password)
	if err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	// Printed once on a console: changed at the first login.
	if _, err := tx.ExecContext(ctx, "UPDATE users SET must_change_password = 1 WHERE id = ?", u.ID); err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return "", false, fmt.Errorf("records: bootstrap admin: %w", err)
	}
	return password, true, nil
}
