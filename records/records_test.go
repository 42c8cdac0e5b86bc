package records

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func mustUser(t *testing.T, s *Store, name string, role Role) User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), name, strings.ToUpper(name[:1])+name[1:]+" Example", role, "correct horse battery")
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
	return u
}

func TestOpenCreatesPrivateDirAndMigratesOnce(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "nested", "data")
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("data dir mode = %v, %v; want 0700", fi.Mode().Perm(), err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "parley.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("db file mode = %v, %v; want 0600", fi.Mode().Perm(), err)
	}
	var mode string
	if err := s.db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	var fk int
	if err := s.db.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil || fk != 1 {
		t.Fatalf("foreign_keys = %d, %v; want 1", fk, err)
	}
	if _, err := s.CreateUser(ctx, "anna", "Anna Berg", RoleAdvisor, "0123456789"); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	for i := 0; i < 2; i++ { // reopening applies nothing twice
		s, err = Open(ctx, dir)
		if err != nil {
			t.Fatalf("reopen %d: %v", i, err)
		}
		v, err := s.SchemaVersion(ctx)
		ms, _ := loadMigrations(SQLite)
		if err != nil || v != ms[len(ms)-1].version {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, ms[len(ms)-1].version)
		}
		var n int
		if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(ms) {
			t.Fatalf("schema_migrations rows = %d, %v; want %d", n, err, len(ms))
		}
		if n, err := s.CountUsers(ctx); err != nil || n != 1 {
			t.Fatalf("CountUsers after reopen = %d, %v; want 1", n, err)
		}
		if err := s.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

func TestLoadMigrations(t *testing.T) {
	for _, d := range []Dialect{SQLite, Postgres} {
		ms, err := loadMigrations(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) == 0 || ms[0].version != 1 || ms[0].name != "0001_init.sql" {
			t.Fatalf("%s migrations = %+v", d, ms)
		}
		for i, m := range ms {
			if m.version != i+1 {
				t.Fatalf("%s migration %s: version %d, want %d (no gaps)", d, m.name, m.version, i+1)
			}
		}
	}
}

func TestCreateUserValidation(t *testing.T) { forEachBackend(t, testCreateUserValidation) }

func testCreateUserValidation(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	mustUser(t, s, "taken", RoleAdvisor)
	tests := []struct {
		name, username, display string
		role                    Role
		password                string
		want                    error
		field                   string
	}{
		{"ok", "anna.berg_1-x", "Anna Berg", RoleAdvisor, "0123456789", nil, ""},
		{"upper case is folded", "  Bert ", "", RoleAdmin, "0123456789", nil, ""},
		{"an e-mail address", "Anna.Berg@Example.com", "", RoleAdvisor, "0123456789", nil, ""},
		{"empty name", "", "X", RoleAdvisor, "0123456789", ErrInvalid, "username"},
		{"too long", strings.Repeat("a", 65), "X", RoleAdvisor, "0123456789", ErrInvalid, "username"},
		{"max length", strings.Repeat("b", 64), "X", RoleAdvisor, "0123456789", nil, ""},
		{"space inside", "anna berg", "X", RoleAdvisor, "0123456789", ErrInvalid, "username"},
		{"umlaut", "jörg", "X", RoleAdvisor, "0123456789", ErrInvalid, "username"},
		{"short password", "carl", "X", RoleAdvisor, "012345678", ErrInvalid, "password"},
		{"bad role", "dora", "X", Role("root"), "0123456789", ErrInvalid, "role"},
		{"control char in display name", "emil", "E\x00mil", RoleAdvisor, "0123456789", ErrInvalid, "display name"},
		{"duplicate", "TAKEN", "X", RoleAdvisor, "0123456789", ErrConflict, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.CreateUser(ctx, tt.username, tt.display, tt.role, tt.password)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			if tt.field != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Field != tt.field || ve.Reason == "" {
					t.Fatalf("err = %#v; want a ValidationError for %s", err, tt.field)
				}
			}
			if err == nil {
				if u.ID == 0 || u.Username != strings.ToLower(strings.TrimSpace(tt.username)) || u.DisplayName == "" {
					t.Fatalf("user = %+v", u)
				}
			}
		})
	}
	if u, err := s.UserByUsername(ctx, "bert"); err != nil || u.DisplayName != "bert" || u.Role != RoleAdmin {
		t.Fatalf("UserByUsername(bert) = %+v, %v; want display name defaulted", u, err)
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"admin": RoleAdmin, " Advisor ": RoleAdvisor, "backoffice": RoleBackoffice} {
		if r, err := ParseRole(in); err != nil || r != want {
			t.Errorf("ParseRole(%q) = %q, %v", in, r, err)
		}
	}
	if _, err := ParseRole("customer"); !errors.Is(err, ErrInvalid) {
		t.Errorf("ParseRole(customer) err = %v", err)
	}
}

func TestPasswordHashing(t *testing.T) {
	h := hashPassword("correct horse battery")
	phc := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=3,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !phc.MatchString(h) {
		t.Fatalf("hash %q is not in PHC format", h)
	}
	if h == hashPassword("correct horse battery") {
		t.Fatal("two hashes of one password are equal: salt missing")
	}
	tests := []struct {
		name, hash, password string
		ok                   bool
		err                  bool
	}{
		{"right", h, "correct horse battery", true, false},
		{"wrong", h, "correct horse batterY", false, false},
		{"empty", h, "", false, false},
		{"not argon2id", strings.Replace(h, "argon2id", "argon2i", 1), "correct horse battery", false, true},
		{"wrong version", strings.Replace(h, "v=19", "v=16", 1), "correct horse battery", false, true},
		{"huge memory", strings.Replace(h, "m=65536", "m=99999999", 1), "correct horse battery", false, true},
		{"garbage", "plain", "plain", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := verifyPassword(tt.hash, tt.password)
			if ok != tt.ok || (err != nil) != tt.err {
				t.Fatalf("verify = %v, %v; want %v, err %v", ok, err, tt.ok, tt.err)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) { forEachBackend(t, testAuthenticate) }

func testAuthenticate(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	anna := mustUser(t, s, "anna", RoleAdvisor)
	tests := []struct {
		name, user, pass string
		want             error
	}{
		{"ok", "anna", "correct horse battery", nil},
		{"case-insensitive name", " ANNA", "correct horse battery", nil},
		{"wrong password", "anna", "wrong horse battery", ErrBadCredentials},
		{"unknown user", "bert", "correct horse battery", ErrBadCredentials},
		{"invalid name", "a b", "correct horse battery", ErrBadCredentials},
		{"huge password", "anna", strings.Repeat("x", 5000), ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := s.Authenticate(ctx, tt.user, tt.pass)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v; want %v", err, tt.want)
			}
			if err == nil && u.ID != anna.ID {
				t.Fatalf("user = %+v", u)
			}
		})
	}
}

func TestUsersAndAvailability(t *testing.T) { forEachBackend(t, testUsersAndAvailability) }

func testUsersAndAvailability(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	b := mustUser(t, s, "bert", RoleBackoffice)
	a := mustUser(t, s, "anna", RoleAdvisor)
	us, err := s.ListUsers(ctx)
	if err != nil || len(us) != 2 || us[0].Username != "anna" || us[1].Username != "bert" {
		t.Fatalf("ListUsers = %+v, %v", us, err)
	}
	u, err := s.SetAvailable(ctx, a.ID, true)
	if err != nil || !u.Available {
		t.Fatalf("SetAvailable = %+v, %v", u, err)
	}
	if u, _ := s.UserByID(ctx, a.ID); !u.Available {
		t.Fatal("availability not stored")
	}
	if _, err := s.SetAvailable(ctx, 999, true); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetAvailable(unknown) = %v", err)
	}
	if _, err := s.UserByID(ctx, 999); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UserByID(unknown) = %v", err)
	}
	if u, err := s.UserByID(ctx, b.ID); err != nil || u.Role != RoleBackoffice || u.Role.CanConsult() {
		t.Fatalf("UserByID = %+v, %v", u, err)
	}
}

func TestSetPasswordEndsLogins(t *testing.T) { forEachBackend(t, testSetPasswordEndsLogins) }

func testSetPasswordEndsLogins(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	a := mustUser(t, s, "anna", RoleAdvisor)
	tok, err := s.CreateLogin(ctx, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPassword(ctx, "anna", "short"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("SetPassword(short) = %v", err)
	}
	if err := s.SetPassword(ctx, "nobody", "0123456789"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetPassword(unknown) = %v", err)
	}
	if err := s.SetPassword(ctx, "anna", "a new password!"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate(ctx, "anna", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("old password still works: %v", err)
	}
	if _, err := s.Authenticate(ctx, "anna", "a new password!"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if _, err := s.LoginUser(ctx, tok); !errors.Is(err, ErrNotFound) {
		t.Fatalf("login survived a password change: %v", err)
	}
}

func TestLoginsSlidingExpiry(t *testing.T) { forEachBackend(t, testLoginsSlidingExpiry) }

func testLoginsSlidingExpiry(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	a := mustUser(t, s, "anna", RoleAdvisor)
	tok, err := s.CreateLogin(ctx, a.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) != 43 {
		t.Fatalf("token %q is not 256 bits base64url", tok)
	}
	steps := []struct {
		advance time.Duration
		want    error
	}{
		{50 * time.Minute, nil}, // used: expiry moves to +60m from here
		{50 * time.Minute, nil}, // still alive thanks to sliding
		{61 * time.Minute, ErrExpired},
		{0, ErrNotFound}, // expired logins are deleted
	}
	for i, st := range steps {
		*now = now.Add(st.advance)
		u, err := s.LoginUser(ctx, tok)
		if !errors.Is(err, st.want) || (st.want == nil) != (err == nil) {
			t.Fatalf("step %d: err = %v; want %v", i, err, st.want)
		}
		if err == nil && u.ID != a.ID {
			t.Fatalf("step %d: user = %+v", i, u)
		}
	}
	tok2, _ := s.CreateLogin(ctx, a.ID, time.Hour)
	if err := s.DeleteLogin(ctx, tok2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.LoginUser(ctx, tok2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted login: %v", err)
	}
	if _, err := s.LoginUser(ctx, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("empty token: %v", err)
	}
	if _, err := s.CreateLogin(ctx, 999, time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("login for unknown user: %v", err)
	}
}

func TestConsultationInvites(t *testing.T) { forEachBackend(t, testConsultationInvites) }

func testConsultationInvites(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	a := mustUser(t, s, "anna", RoleAdvisor)
	c, tok, err := s.CreateConsultation(ctx, a.ID, "  Baufinanzierung ", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^c_[a-z2-7]{24}$`).MatchString(c.ID) {
		t.Fatalf("id %q: want c_ + 24 base32 characters (120 bits)", c.ID)
	}
	if c.Title != "Baufinanzierung" || c.State != StateOpen || c.AdvisorName != "Anna Example" || !c.EndedAt.IsZero() ||
		!c.InviteExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("consultation = %+v", c)
	}
	if _, _, err := s.CreateConsultation(ctx, a.ID, strings.Repeat("x", 121), time.Hour); !errors.Is(err, ErrInvalid) {
		t.Fatalf("long title: %v", err)
	}
	if _, _, err := s.CreateConsultation(ctx, 999, "", time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown advisor: %v", err)
	}

	lookup := func(token string, want error) {
		t.Helper()
		got, err := s.ConsultationByInvite(ctx, token)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Fatalf("ConsultationByInvite: err = %v; want %v", err, want)
		}
		if err == nil && got.ID != c.ID {
			t.Fatalf("ConsultationByInvite = %+v", got)
		}
	}
	lookup(tok, nil)
	lookup("nope", ErrNotFound)
	lookup("", ErrNotFound)
	*now = now.Add(time.Hour)
	lookup(tok, ErrExpired)

	c2, tok2, err := s.NewInvite(ctx, c.ID, time.Hour)
	if err != nil || tok2 == tok || !c2.InviteExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("NewInvite = %+v, %v", c2, err)
	}
	lookup(tok2, nil)
	lookup(tok, ErrNotFound) // replaced

	ended, err := s.EndConsultation(ctx, c.ID)
	if err != nil || ended.State != StateEnded || !ended.EndedAt.Equal(*now) {
		t.Fatalf("EndConsultation = %+v, %v", ended, err)
	}
	*now = now.Add(time.Minute)
	again, err := s.EndConsultation(ctx, c.ID)
	if err != nil || !again.EndedAt.Equal(ended.EndedAt) {
		t.Fatalf("EndConsultation twice = %+v, %v", again, err)
	}
	lookup(tok2, ErrEnded)
	if _, _, err := s.NewInvite(ctx, c.ID, time.Hour); !errors.Is(err, ErrEnded) {
		t.Fatalf("NewInvite on ended: %v", err)
	}
	if _, err := s.EndConsultation(ctx, "c_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("EndConsultation(unknown): %v", err)
	}
	if _, err := s.ConsultationByID(ctx, "c_nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ConsultationByID(unknown): %v", err)
	}
}

func TestColleaguesAndAccess(t *testing.T) { forEachBackend(t, testColleaguesAndAccess) }

func testColleaguesAndAccess(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	anna := mustUser(t, s, "anna", RoleAdvisor)
	bert := mustUser(t, s, "bert", RoleAdvisor)
	carl := mustUser(t, s, "carl", RoleAdvisor)
	root := mustUser(t, s, "root", RoleAdmin)
	c, _, _ := s.CreateConsultation(ctx, anna.ID, "one", time.Hour)
	*now = now.Add(time.Second)
	c2, _, _ := s.CreateConsultation(ctx, anna.ID, "two", time.Hour)

	tok, exp, err := s.CreateColleagueInvite(ctx, c.ID, time.Hour)
	if err != nil || !exp.Equal(now.Add(time.Hour)) {
		t.Fatalf("CreateColleagueInvite = %v, %v", exp, err)
	}
	got, err := s.AcceptColleague(ctx, tok, bert.ID)
	if err != nil || got.ID != c.ID {
		t.Fatalf("AcceptColleague = %+v, %v", got, err)
	}
	if _, err := s.AcceptColleague(ctx, tok, bert.ID); err != nil {
		t.Fatalf("second accept by the same user: %v", err)
	}
	if _, err := s.AcceptColleague(ctx, tok, carl.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("accept by another user: %v", err)
	}
	if _, err := s.AcceptColleague(ctx, "nope", carl.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown token: %v", err)
	}

	access := []struct {
		user int64
		cid  string
		want bool
	}{
		{anna.ID, c.ID, true},  // owner
		{bert.ID, c.ID, true},  // colleague
		{carl.ID, c.ID, false}, // stranger
		{root.ID, c.ID, false}, // an admin is no member of others' calls
		{bert.ID, c2.ID, false},
	}
	for _, a := range access {
		ok, err := s.CanJoinAsStaff(ctx, a.cid, a.user)
		if err != nil || ok != a.want {
			t.Errorf("CanJoinAsStaff(%s, %d) = %v, %v; want %v", a.cid, a.user, ok, err, a.want)
		}
	}
	if _, err := s.CanJoinAsStaff(ctx, "c_nope", anna.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("CanJoinAsStaff(unknown) = %v", err)
	}

	list, err := s.ListConsultations(ctx, anna.ID)
	if err != nil || len(list) != 2 || list[0].ID != c2.ID || list[1].ID != c.ID {
		t.Fatalf("anna's list (newest first) = %+v, %v", list, err)
	}
	list, err = s.ListConsultations(ctx, bert.ID)
	if err != nil || len(list) != 1 || list[0].ID != c.ID || list[0].AdvisorID != anna.ID {
		t.Fatalf("bert's list = %+v, %v", list, err)
	}
	if list, err := s.ListConsultations(ctx, carl.ID); err != nil || list == nil || len(list) != 0 {
		t.Fatalf("carl's list = %#v, %v; want empty, not nil", list, err)
	}

	expTok, _, _ := s.CreateColleagueInvite(ctx, c2.ID, time.Minute)
	*now = now.Add(2 * time.Minute)
	if _, err := s.AcceptColleague(ctx, expTok, carl.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired colleague invite: %v", err)
	}
	endTok, _, _ := s.CreateColleagueInvite(ctx, c2.ID, time.Hour)
	s.EndConsultation(ctx, c2.ID)
	if _, err := s.AcceptColleague(ctx, endTok, carl.ID); !errors.Is(err, ErrEnded) {
		t.Fatalf("colleague invite of ended consultation: %v", err)
	}
	if _, _, err := s.CreateColleagueInvite(ctx, c2.ID, time.Hour); !errors.Is(err, ErrEnded) {
		t.Fatalf("colleague invite for ended: %v", err)
	}
}

func TestRecordConsent(t *testing.T) { forEachBackend(t, testRecordConsent) }

func testRecordConsent(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	if err := s.RecordConsent(ctx, "c_x", "p_1", "v1abc", "de", *now); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordConsent(ctx, "c_x", "", "v1abc", "de", *now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("consent without participant: %v", err)
	}
	cs, err := s.Consents(ctx, "c_x")
	if err != nil || len(cs) != 1 {
		t.Fatalf("Consents = %+v, %v", cs, err)
	}
	want := Consent{ConsultationID: "c_x", ParticipantID: "p_1", TextVersion: "v1abc", Lang: "de", GivenAt: *now}
	if cs[0] != want {
		t.Fatalf("consent = %+v; want %+v", cs[0], want)
	}
}

func TestEnsureBootstrapAdmin(t *testing.T) { forEachBackend(t, testEnsureBootstrapAdmin) }

func testEnsureBootstrapAdmin(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	pw, created, err := s.EnsureBootstrapAdmin(ctx, "admin")
	if err != nil || !created || len(pw) != BootstrapPasswordLen {
		t.Fatalf("first EnsureBootstrapAdmin = %q, %v, %v", pw, created, err)
	}
	u, err := s.Authenticate(ctx, "admin", pw)
	if err != nil || u.Role != RoleAdmin {
		t.Fatalf("bootstrap admin login: %+v, %v", u, err)
	}
	pw2, created, err := s.EnsureBootstrapAdmin(ctx, "admin")
	if err != nil || created || pw2 != "" {
		t.Fatalf("second EnsureBootstrapAdmin = %q, %v, %v", pw2, created, err)
	}
	if _, _, err := func() (string, bool, error) {
		s2, _ := be.store(t)
		return s2.EnsureBootstrapAdmin(ctx, "not valid!")
	}(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad bootstrap name: %v", err)
	}
}

func TestNewPassword(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		p := newPassword(20)
		if len(p) != 20 || strings.Trim(p, passwordAlphabet) != "" || seen[p] {
			t.Fatalf("password %q", p)
		}
		seen[p] = true
	}
}

// TestSecretsNeverStored scans the raw database files: no token and no
// password may appear in them, only hashes.
func TestSecretsNeverStored(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	const password = "UniquePassword-4711"
	a, err := s.CreateUser(ctx, "anna", "", RoleAdvisor, password)
	if err != nil {
		t.Fatal(err)
	}
	login, _ := s.CreateLogin(ctx, a.ID, time.Hour)
	c, invite, _ := s.CreateConsultation(ctx, a.ID, "x", time.Hour)
	_, invite2, _ := s.NewInvite(ctx, c.ID, time.Hour)
	colleague, _, _ := s.CreateColleagueInvite(ctx, c.ID, time.Hour)
	secrets := map[string]string{"password": password, "login": login, "invite": invite, "invite2": invite2, "colleague": colleague}

	scan := func(when string) {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(dir, "parley.db*"))
		if len(files) == 0 {
			t.Fatal("no database files")
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for name, sec := range secrets {
				if bytes.Contains(b, []byte(sec)) {
					t.Errorf("%s: %s contains the raw %s", when, filepath.Base(f), name)
				}
			}
			if !bytes.Contains(b, hashToken(invite2)) && strings.HasSuffix(f, "-wal") {
				t.Logf("%s: invite hash not in %s (checkpointed)", when, filepath.Base(f))
			}
		}
	}
	scan("open")
	s.Close()
	scan("closed")
	b, _ := os.ReadFile(filepath.Join(dir, "parley.db"))
	if !bytes.Contains(b, hashToken(invite2)) {
		t.Error("the invite's SHA-256 is not in the database: test is not looking at the right file")
	}
}

func TestLoginMaxAge(t *testing.T) { forEachBackend(t, testLoginMaxAge) }

func testLoginMaxAge(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := context.Background()
	u := mustUser(t, s, "anna", RoleAdvisor)
	tok, err := s.CreateLogin(ctx, u.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// Active every 50 minutes: the idle limit (1 h) never strikes, the
	// absolute one (3 h) does.
	for i := 0; i < 3; i++ {
		*now = now.Add(50 * time.Minute)
		if _, err := s.LoginUserWithin(ctx, tok, 3*time.Hour); err != nil {
			t.Fatalf("after %d×50 min: %v", i+1, err)
		}
	}
	*now = now.Add(30 * time.Minute) // 3 h 0 min after the login
	if _, err := s.LoginUserWithin(ctx, tok, 3*time.Hour); !errors.Is(err, ErrExpired) {
		t.Fatalf("3 h after the login: %v; want ErrExpired", err)
	}
	if _, err := s.LoginUserWithin(ctx, tok, 3*time.Hour); !errors.Is(err, ErrNotFound) {
		t.Fatalf("expired login not deleted: %v", err)
	}
	// Without a max age only the idle limit counts.
	tok, _ = s.CreateLogin(ctx, u.ID, time.Hour)
	for i := 0; i < 5; i++ {
		*now = now.Add(50 * time.Minute)
		if _, err := s.LoginUser(ctx, tok); err != nil {
			t.Fatalf("sliding login after %d×50 min: %v", i+1, err)
		}
	}
}
