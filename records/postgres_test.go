package records

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/parley-video/parley/records/recordstest"
)

func TestRebind(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"SELECT a FROM t WHERE b = ? AND c = ?", "SELECT a FROM t WHERE b = $1 AND c = $2"},
		{"WHERE x = ?1 OR y = ?1 LIMIT ?2", "WHERE x = $1 OR y = $1 LIMIT $2"},
		{"VALUES (?3, ?, ?1)", "VALUES ($3, $4, $1)"}, // SQLite: a bare ? is one past the largest so far
		{`WHERE a LIKE ? ESCAPE '\' AND b = 'what?' AND "odd?col" = ?`, `WHERE a LIKE $1 ESCAPE '\' AND b = 'what?' AND "odd?col" = $2`},
		{"WHERE a = ?10", "WHERE a = $10"},
	} {
		if got := Postgres.rebind(tt.in); got != tt.want {
			t.Errorf("rebind(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := SQLite.rebind(tt.in); got != tt.in {
			t.Errorf("SQLite rebind changed %q to %q", tt.in, got)
		}
	}
}

// TestMigrationsGiveTheSameSchema: the SQLite and the PostgreSQL
// migrations, both applied to an empty database, give the same tables,
// columns (name, order, kind of type, nullability, default), primary
// keys, unique constraints, foreign keys (with their ON DELETE) and
// indexes.
func TestMigrationsGiveTheSameSchema(t *testing.T) {
	lite, _ := backend{SQLite}.store(t)
	pg, _ := backend{Postgres}.store(t)
	ctx := t.Context()
	a, err := sqliteSchema(ctx, lite)
	if err != nil {
		t.Fatal(err)
	}
	b, err := postgresSchema(ctx, pg)
	if err != nil {
		t.Fatal(err)
	}
	if len(a) < 50 {
		t.Fatalf("only %d schema facts from SQLite: the comparison is not looking", len(a))
	}
	for _, f := range a {
		if !slices.Contains(b, f) {
			t.Errorf("only in SQLite: %s", f)
		}
	}
	for _, f := range b {
		if !slices.Contains(a, f) {
			t.Errorf("only in PostgreSQL: %s", f)
		}
	}
}

// typeKind maps a column type onto what it holds. SQLite's INTEGER is 64
// bits wide: PostgreSQL's counterpart is BIGINT (its INTEGER is 32 bits
// and would overflow on Unix milliseconds, so it counts as a difference).
func typeKind(d Dialect, decl string) string {
	kinds := map[Dialect]map[string]string{
		SQLite:   {"INTEGER": "integer", "BIGINT": "integer", "TEXT": "text", "BLOB": "bytes"},
		Postgres: {"bigint": "integer", "text": "text", "bytea": "bytes"},
	}
	if k, ok := kinds[d][decl]; ok {
		return k
	}
	return fmt.Sprintf("%s type %s", d, decl)
}

func collect(ctx context.Context, s *Store, q string, format func(vals []any) string, n int) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals := make([]any, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, format(vals))
	}
	return out, rows.Err()
}

func sqliteSchema(ctx context.Context, s *Store) ([]string, error) {
	var out []string
	add := func(q string, n int, f func(v []any) string) error {
		fs, err := collect(ctx, s, q, f, n)
		out = append(out, fs...)
		return err
	}
	const tables = "(SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%')"
	err := errors.Join(
		add(`SELECT m.name, p.cid, p.name, p.type, p."notnull", p.pk, p.dflt_value FROM `+tables+` m, pragma_table_info(m.name) p`, 7,
			func(v []any) string {
				nullable := v[4].(int64) == 0 && v[5].(int64) == 0
				return fmt.Sprintf("column %s.%d %s %s nullable=%v default=%v", v[0], v[1], v[2], typeKind(SQLite, v[3].(string)), nullable, v[6])
			}),
		add(`SELECT m.name, group_concat(p.name, ',') FROM `+tables+` m, pragma_table_info(m.name) p WHERE p.pk > 0 GROUP BY m.name`, 2,
			func(v []any) string { return fmt.Sprintf("primary key %s(%s)", v[0], v[1]) }),
		add(`SELECT m.name, l.name, l.origin, (SELECT group_concat(name, ',') FROM pragma_index_info(l.name)) FROM `+tables+` m, pragma_index_list(m.name) l
			WHERE l.origin IN ('u', 'c')`, 4,
			func(v []any) string {
				if v[2] == "u" {
					return fmt.Sprintf("unique %s(%s)", v[0], v[3])
				}
				return fmt.Sprintf("index %s on %s(%s)", v[1], v[0], v[3])
			}),
		add(`SELECT m.name, f."from", f."table", f."to", f.on_delete FROM `+tables+` m, pragma_foreign_key_list(m.name) f`, 5,
			func(v []any) string {
				return fmt.Sprintf("foreign key %s(%s) -> %s(%s) on delete %s", v[0], v[1], v[2], v[3], strings.ToLower(v[4].(string)))
			}),
	)
	slices.Sort(out)
	return out, err
}

func postgresSchema(ctx context.Context, s *Store) ([]string, error) {
	var out []string
	add := func(q string, n int, f func(v []any) string) error {
		fs, err := collect(ctx, s, q, f, n)
		out = append(out, fs...)
		return err
	}
	onDelete := map[string]string{"a": "no action", "r": "restrict", "c": "cascade", "n": "set null", "d": "set default"}
	err := errors.Join(
		add(`SELECT c.table_name, c.ordinal_position - 1, c.column_name, c.data_type, c.is_nullable, COALESCE(c.column_default, '')
			FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
			WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`, 6,
			func(v []any) string {
				var dflt any = v[5]
				if dflt == "" {
					dflt = nil
				} else if d, ok := dflt.(string); ok {
					dflt = strings.TrimSuffix(d, "::text") // PostgreSQL spells a text default 'x'::text
				}
				return fmt.Sprintf("column %s.%d %s %s nullable=%v default=%v", v[0], v[1], v[2], typeKind(Postgres, v[3].(string)), v[4] == "YES", dflt)
			}),
		add(`SELECT t.relname, k.contype, i.relname,
				(SELECT string_agg(a.attname, ',' ORDER BY o.n) FROM unnest(x.indkey) WITH ORDINALITY o(attnum, n)
					JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = o.attnum)
			FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
			JOIN pg_namespace s ON s.oid = t.relnamespace LEFT JOIN pg_constraint k ON k.conindid = x.indexrelid AND k.conrelid = t.oid AND k.contype IN ('p', 'u')
			WHERE s.nspname = current_schema()`, 4,
			func(v []any) string {
				switch v[1] {
				case "p":
					return fmt.Sprintf("primary key %s(%s)", v[0], v[3])
				case "u":
					return fmt.Sprintf("unique %s(%s)", v[0], v[3])
				}
				return fmt.Sprintf("index %s on %s(%s)", v[2], v[0], v[3])
			}),
		add(`SELECT t.relname, a.attname, r.relname, ra.attname, k.confdeltype::text
			FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace s ON s.oid = t.relnamespace
			JOIN pg_class r ON r.oid = k.confrelid
			JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
			JOIN pg_attribute ra ON ra.attrelid = k.confrelid AND ra.attnum = k.confkey[1]
			WHERE k.contype = 'f' AND s.nspname = current_schema()`, 5,
			func(v []any) string {
				return fmt.Sprintf("foreign key %s(%s) -> %s(%s) on delete %s", v[0], v[1], v[2], v[3], onDelete[v[4].(string)])
			}),
	)
	slices.Sort(out)
	return out, err
}

// TestBootstrapAdminExactlyOnce: five nodes start together on one empty
// database (each opening its own store, so migrations race too) and each
// asks for the first admin: exactly one creates it, none fails.
func TestBootstrapAdminExactlyOnce(t *testing.T) { forEachBackend(t, testBootstrapAdminExactlyOnce) }

func testBootstrapAdminExactlyOnce(t *testing.T, be backend) {
	const nodes = 5
	where := be.fresh(t)
	ctx := t.Context()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []string
	stores := make([]*Store, nodes)
	start := make(chan struct{})
	for i := range nodes {
		wg.Go(func() {
			<-start
			s, err := be.open(ctx, where)
			if err != nil {
				t.Errorf("node %d: open: %v", i, err)
				return
			}
			stores[i] = s
			pw, ok, err := s.EnsureBootstrapAdmin(ctx, "admin")
			if err != nil {
				t.Errorf("node %d: bootstrap: %v", i, err)
				return
			}
			if ok {
				mu.Lock()
				created = append(created, pw)
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	for _, s := range stores {
		if s != nil {
			defer s.Close()
		}
	}
	if t.Failed() {
		return
	}
	if len(created) != 1 {
		t.Fatalf("%d nodes created the first admin; want exactly 1", len(created))
	}
	s := stores[0]
	if n, err := s.CountUsers(ctx); err != nil || n != 1 {
		t.Fatalf("CountUsers = %d, %v; want 1", n, err)
	}
	if u, err := s.Authenticate(ctx, "admin", created[0]); err != nil || u.Role != RoleAdmin {
		t.Fatalf("the admin's password does not work: %+v, %v", u, err)
	}
	ms, _ := loadMigrations(be.dialect)
	var n int
	if err := s.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM schema_migrations").Scan(&n); err != nil || n != len(ms) {
		t.Fatalf("schema_migrations rows = %d, %v; want %d (each migration once)", n, err, len(ms))
	}
	// Every node derives the same keys from the one subject link key.
	k0, err := stores[0].DerivedKey(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range stores[1:] {
		if k, err := o.DerivedKey(ctx, "test"); err != nil || string(k) != string(k0) {
			t.Fatalf("node %d derives another key (%v)", i+1, err)
		}
	}
}

// TestOpenPostgresKeepsThePasswordOut: the errors of a failed connection
// name the server, never the password in the URL.
func TestOpenPostgresKeepsThePasswordOut(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	const secret = "Sup3rSecretPw"
	for _, url := range []string{
		"postgres://parley:" + secret + "@127.0.0.1:1/parley?connect_timeout=5", // nothing listens on port 1
		"postgres://parley:" + secret + "@127.0.0.1:99999/parley",               // not a port
	} {
		s, err := OpenPostgres(ctx, url, 1)
		if err == nil {
			s.Close()
			t.Fatalf("OpenPostgres(%q) succeeded", strings.ReplaceAll(url, secret, "…"))
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error quotes the password: %v", err)
		}
	}
	// Wrong password against the real test server (trust authentication
	// accepts any, so only check that the URL's password is not echoed).
	base := recordstest.PostgresURL(t)
	s, err := OpenPostgres(ctx, strings.Replace(base, "parley@", "parley:"+secret+"@", 1), 1)
	if err != nil {
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("error quotes the password: %v", err)
		}
		t.Fatalf("OpenPostgres: %v", err)
	}
	s.Close()
}

// TestFindSubjectsIgnoresCase: the admin's search finds "Erika" as
// "erika" on both databases (SQLite's LIKE ignores ASCII case,
// PostgreSQL's does not; the query lower-cases both sides), and a name
// with a non-ASCII capital as typed.
func TestFindSubjectsIgnoresCase(t *testing.T) { forEachBackend(t, testFindSubjectsIgnoresCase) }

func testFindSubjectsIgnoresCase(t *testing.T, be backend) {
	s, now := be.store(t)
	ctx := t.Context()
	if err := s.AddCustomer(ctx, Customer{ConsultationID: "c_1", ParticipantID: "p_1", Name: "Erika Özdemir-Mustermann", JoinedAt: *now},
		map[string]string{"email": "Erika@Example.org"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"erika", "MUSTER", "erika@example", "Özdemir"} {
		ms, err := s.FindSubjects(ctx, q)
		if err != nil || len(ms) != 1 || ms[0].ParticipantID != "p_1" {
			t.Errorf("FindSubjects(%q) = %+v, %v; want p_1", q, ms, err)
		}
	}
}

// TestSecretsNeverStoredInPostgres is TestSecretsNeverStored for
// PostgreSQL: every row of every table, as text, holds no password and
// no token, and the tokens' hashes are there (so it looks in the right
// place).
func TestSecretsNeverStoredInPostgres(t *testing.T) {
	s, _ := backend{Postgres}.store(t)
	ctx := t.Context()
	const password = "UniquePassword-4711"
	a, err := s.CreateUser(ctx, "anna", "", RoleAdvisor, password)
	if err != nil {
		t.Fatal(err)
	}
	login, _ := s.CreateLogin(ctx, a.ID, time.Hour)
	c, invite, _ := s.CreateConsultation(ctx, a.ID, "x", time.Hour)
	_, invite2, _ := s.NewInvite(ctx, c.ID, time.Hour)
	colleague, _, _ := s.CreateColleagueInvite(ctx, c.ID, time.Hour)
	tables, err := collect(ctx, s, "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()",
		func(v []any) string { return v[0].(string) }, 1)
	if err != nil || len(tables) < 10 {
		t.Fatalf("tables %v, %v", tables, err)
	}
	var dump strings.Builder
	for _, tb := range tables {
		rows, err := collect(ctx, s, "SELECT t::text FROM "+tb+" t", func(v []any) string { return v[0].(string) }, 1)
		if err != nil {
			t.Fatal(err)
		}
		dump.WriteString(strings.Join(rows, "\n"))
	}
	for name, sec := range map[string]string{"password": password, "login": login, "invite": invite, "invite2": invite2, "colleague": colleague} {
		if strings.Contains(dump.String(), sec) {
			t.Errorf("the database holds the raw %s", name)
		}
	}
	if !strings.Contains(dump.String(), fmt.Sprintf(`\x%x`, hashToken(invite2))) {
		t.Error("the invite's SHA-256 is not in the dump: the test is not looking at the right place")
	}
}

// TestMigrationFiles: a dialect's own file takes the place of the shared
// one of its version; misnamed files are refused.
func TestMigrationFiles(t *testing.T) {
	files := fstest.MapFS{
		"0001_a.sql":          {Data: []byte("shared 1")},
		"0001_a.postgres.sql": {Data: []byte("postgres 1")},
		"0002_b.sql":          {Data: []byte("shared 2")},
		"0003_c.sqlite.sql":   {Data: []byte("sqlite 3")},
		"0003_c.sql":          {Data: []byte("shared 3")},
	}
	for d, want := range map[Dialect][]string{
		SQLite:   {"shared 1", "shared 2", "sqlite 3"},
		Postgres: {"postgres 1", "shared 2", "shared 3"},
	} {
		ms, err := loadMigrationsFrom(files, d)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, m := range ms {
			got = append(got, m.sql)
			if m.version != i+1 || !strings.HasSuffix(m.name, ".sql") || strings.Count(m.name, ".") != 1 {
				t.Errorf("%s: migration %d = %+v", d, i, m)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
	for name, extra := range map[string]string{
		"unknown dialect": "0004_d.mysql.sql",
		"no number":       "d.sql",
		"shared version":  "0002_other.sql",
	} {
		bad := maps.Clone(files)
		bad[extra] = &fstest.MapFile{Data: []byte("x")}
		if _, err := loadMigrationsFrom(bad, Postgres); err == nil {
			t.Errorf("%s (%s) accepted", name, extra)
		}
	}
}
