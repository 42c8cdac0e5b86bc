package config

import (
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDefaultsAreValid(t *testing.T) {
	cfg := Default()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

// The example file documents every key with its default value.
func TestExampleFileMatchesDefaults(t *testing.T) {
	cfg := Default()
	cfg.DataDir = "changed"
	if err := LoadFile(&cfg, filepath.Join("..", "configs", "parley.example.yaml")); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(cfg), normalize(Default())) {
		t.Errorf("example file differs from defaults:\n got %+v\nwant %+v", cfg, Default())
	}
	// Every key appears in the example file.
	raw, err := os.ReadFile(filepath.Join("..", "configs", "parley.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tree map[string]any
	if err := yaml.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	keys := map[string]reflect.Value{}
	collectEnv(reflect.ValueOf(&cfg).Elem(), "", keys)
	for k := range keys {
		if !hasPath(tree, strings.Split(strings.ToLower(k), "_"), 0) {
			t.Errorf("configs/parley.example.yaml does not document %s", strings.ToLower(k))
		}
	}
}

// hasPath walks the YAML tree; key names themselves contain "_", so try
// every split of the remaining parts.
func hasPath(node map[string]any, parts []string, _ int) bool {
	for i := 1; i <= len(parts); i++ {
		key := strings.Join(parts[:i], "_")
		v, ok := node[key]
		if !ok {
			continue
		}
		if i == len(parts) {
			return true
		}
		if sub, ok := v.(map[string]any); ok && hasPath(sub, parts[i:], 0) {
			return true
		}
	}
	return false
}

// normalize treats nil and empty slices alike.
func normalize(c Config) Config {
	if len(c.HTTP.AllowedOrigins) == 0 {
		c.HTTP.AllowedOrigins = nil
	}
	if len(c.HTTP.TrustedProxies) == 0 {
		c.HTTP.TrustedProxies = nil
	}
	if len(c.TURN.ExternalURLs) == 0 {
		c.TURN.ExternalURLs = nil
	}
	if len(c.TURN.AllowedPeers) == 0 {
		c.TURN.AllowedPeers = nil
	}
	if len(c.TURN.AllowedPeerAddrs) == 0 {
		c.TURN.AllowedPeerAddrs = nil
	}
	return c
}

func TestUnknownKeyIsAnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("http:\n  adress: \":9000\"\n"), 0o600)
	cfg := Default()
	err := LoadFile(&cfg, path)
	if err == nil || !strings.Contains(err.Error(), "adress") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

func TestPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("http:\n  addr: \":7000\"\nrtc:\n  udp_port: 40000\n  public_ip: 192.0.2.1\ncompany:\n  name: File GmbH\n"), 0o600)
	env := []string{
		"PARLEY_RTC_UDP_PORT=41000",
		"PARLEY_COMPANY_NAME=Env AG",
		"PARLEY_HTTP_ALLOWED_ORIGINS=https://a.example, https://b.example",
		"PARLEY_CONSULTATION_INVITE_TTL=2h",
		"PARLEY_RTC_INCLUDE_LOOPBACK=true",
		"PARLEY_TEST_REDIS_URL=redis://ignored",
		"HOME=/root",
	}
	cfg, err := Load([]string{"--config", path, "--rtc-udp-port", "42000", "--data-dir", "/srv/parley"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"http.addr from file", cfg.HTTP.Addr, ":7000"},
		{"rtc.udp_port from flag", cfg.RTC.UDPPort, 42000},
		{"company.name from env", cfg.Company.Name, "Env AG"},
		{"rtc.public_ip from file", cfg.RTC.PublicIP, "192.0.2.1"},
		{"data_dir from flag", cfg.DataDir, "/srv/parley"},
		{"invite_ttl from env", cfg.Consultation.InviteTTL, 2 * time.Hour},
		{"include_loopback from env", cfg.RTC.IncludeLoopback, true},
		{"allowed_origins from env", cfg.HTTP.AllowedOrigins, []string{"https://a.example", "https://b.example"}},
		{"untouched default", cfg.Signaling.SendQueue, 64},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestEnvErrors(t *testing.T) {
	for _, env := range []string{"PARLEY_HTTP_ADRESS=x", "PARLEY_RTC_UDP_PORT=abc", "PARLEY_RTC_INCLUDE_LOOPBACK=maybe", "PARLEY_AUTH_SESSION_TTL=forever"} {
		cfg := Default()
		if err := ApplyEnv(&cfg, []string{env}); err == nil {
			t.Errorf("%s: want an error", env)
		}
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string // substring of the error; "" means valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"bad http addr", func(c *Config) { c.HTTP.Addr = "8080" }, "http.addr"},
		{"bad public url", func(c *Config) { c.HTTP.PublicURL = "video.example.com" }, "http.public_url"},
		{"good public url", func(c *Config) { c.HTTP.PublicURL = "https://video.example.com" }, ""},
		{"half tls", func(c *Config) { c.HTTP.TLSCert = "x.pem" }, "set both or neither"},
		{"bad proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"proxy"} }, "http.trusted_proxies"},
		{"no idle timeout", func(c *Config) { c.HTTP.IdleTimeout = 0 }, "http.idle_timeout"},
		{"no write timeout", func(c *Config) { c.HTTP.WriteTimeout = 0 }, "http.write_timeout"},
		{"header timeout past read timeout", func(c *Config) { c.HTTP.ReadHeaderTimeout = time.Minute }, "http.read_header_timeout"},
		{"tiny transfer rate", func(c *Config) { c.HTTP.MinTransferRate = 10 }, "http.min_transfer_rate"},
		{"negative max connections", func(c *Config) { c.HTTP.MaxConnections = -1 }, "http.max_connections"},
		{"no per-network cap", func(c *Config) { c.HTTP.MaxConnectionsPerNetwork = 0 }, ""},
		{"admin off", func(c *Config) { c.Admin.Addr = "off" }, ""},
		{"bad admin", func(c *Config) { c.Admin.Addr = "9090" }, "admin.addr"},
		{"bad level", func(c *Config) { c.Log.Level = "verbose" }, "log.level"},
		{"empty company", func(c *Config) { c.Company.Name = " " }, "company.name"},
		{"too many participants", func(c *Config) { c.Consultation.MaxParticipants = 500 }, "max_participants"},
		{"tiny read limit", func(c *Config) { c.Signaling.MaxMessageBytes = 100 }, "max_message_bytes"},
		{"bad udp port", func(c *Config) { c.RTC.UDPPort = 70000 }, "rtc.udp_port"},
		{"tcp off", func(c *Config) { c.RTC.TCPPort = -1 }, ""},
		{"bad public ip", func(c *Config) { c.RTC.PublicIP = "example.com" }, "rtc.public_ip"},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"redis without url", func(c *Config) { c.Session.Store = "redis" }, "session.redis_url"},
		{"redis with url", func(c *Config) { c.Session.Store = "redis"; c.Session.RedisURL = "redis://127.0.0.1:6379/0" }, ""},
		{"unknown store", func(c *Config) { c.Session.Store = "etcd" }, "session.store"},
		{"tiny grace", func(c *Config) { c.Session.GracePeriod = time.Millisecond }, "grace_period"},
		{"turn short secret", func(c *Config) { c.TURN.Enabled = true; c.TURN.Secret = "short" }, "turn.secret"},
		{"turn enabled", func(c *Config) { c.TURN.Enabled = true; c.TURN.UDPPort = 0; c.TURN.TCPPort = 0 }, ""},
		{"negative free space", func(c *Config) { c.Storage.MinFreeBytes = -1 }, "storage.min_free_bytes"},
		{"write timeout below the login's hash wait", func(c *Config) { c.HTTP.WriteTimeout = 2 * time.Second }, "http.write_timeout"},
		{"no pdf workers", func(c *Config) { c.Signature.PDFWorkers = 0 }, "signature.pdf_workers"},
		{"pdf worker timeout", func(c *Config) { c.Signature.PDFWorkerTimeout = time.Millisecond }, "signature.pdf_worker_timeout"},
		{"pdf worker memory below the PDF size", func(c *Config) { c.Signature.MaxPDFBytes = 200 << 20 }, "signature.pdf_worker_memory_mb"},
		{"password login off without sso", func(c *Config) { c.Auth.PasswordLogin = false }, "auth.password_login"},
		{"sso", func(c *Config) { goodOIDC(c); c.Auth.PasswordLogin = false }, ""},
		{"sso over http", func(c *Config) { goodOIDC(c); c.Auth.OIDC.Issuer = "http://login.example.com" }, "auth.oidc.issuer"},
		{"sso on loopback http", func(c *Config) { goodOIDC(c); c.Auth.OIDC.Issuer = "http://127.0.0.1:5556/dex" }, ""},
		{"sso without client", func(c *Config) { goodOIDC(c); c.Auth.OIDC.ClientID = "" }, "auth.oidc.client_id"},
		{"sso without roles", func(c *Config) { goodOIDC(c); c.Auth.OIDC.RoleMap = nil }, "auth.oidc.role_map"},
		{"sso unknown role", func(c *Config) { goodOIDC(c); c.Auth.OIDC.RoleMap["x"] = "root" }, "auth.oidc.role_map"},
		{"pdf worker memory raised", func(c *Config) { c.Signature.MaxPDFBytes = 200 << 20; c.Signature.PDFWorkerMemoryMB = 2048 }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Default()
			tc.mutate(&cfg)
			err := cfg.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want valid, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want error mentioning %q, got %v", tc.want, err)
			}
		})
	}
}

func goodOIDC(c *Config) {
	c.Auth.OIDC.Enabled = true
	c.Auth.OIDC.Issuer = "https://login.example.com/realms/staff"
	c.Auth.OIDC.ClientID = "parley"
	c.Auth.OIDC.RoleMap = map[string]string{"parley-advisors": "advisor"}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	cfg := Default()
	cfg.HTTP.Addr = "x"
	cfg.RTC.UDPPort = -5
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "http.addr") || !strings.Contains(err.Error(), "rtc.udp_port") {
		t.Fatalf("want both problems reported, got %v", err)
	}
}

// TestRecordsConfig: records.url comes from PARLEY_RECORDS_URL; a wrong
// driver or URL is explained, and the explanation never quotes the URL
// (it holds the password).
func TestRecordsConfig(t *testing.T) {
	const pw = "Geheim-4711"
	cfg, err := Load(nil, []string{"PARLEY_RECORDS_DRIVER=postgres", "PARLEY_RECORDS_URL=postgres://parley:" + pw + "@10.0.0.6:5432/parley"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Records.Driver != "postgres" || !strings.Contains(cfg.Records.URL, pw) || cfg.Records.MaxConns != 10 {
		t.Fatalf("records = %+v", cfg.Records)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if d := Default(); d.Records.Driver != "sqlite" || d.Validate() != nil {
		t.Fatalf("default records = %+v, %v", d.Records, d.Validate())
	}
	for _, tt := range []struct {
		driver, url string
		conns       int
		want        string
	}{
		{"postgres", "", 10, "records.url: records.driver is postgres"},
		{"postgres", "mysql://parley:" + pw + "@db/parley", 10, "records.url"},
		{"postgres", "postgres://parley:" + pw + "@db:5432/", 10, "records.url"},
		{"sqlite", "postgres://parley:" + pw + "@db/parley", 10, "records.url: is set but records.driver is sqlite"},
		{"mysql", "", 10, `records.driver: "mysql" is not sqlite or postgres`},
		{"postgres", "postgres://parley:" + pw + "@db/parley", 0, "records.max_conns"},
		{"postgres", "postgres://parley:" + pw + "@db/parley", 1, "records.max_conns: is 1; with postgres give at least 2"},
	} {
		c := Default()
		c.Records = RecordsConfig{Driver: tt.driver, URL: tt.url, MaxConns: tt.conns}
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: Validate = %v; want %q", c.Records, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), pw) {
			t.Errorf("%+v: the error quotes the password: %v", c.Records, err)
		}
	}
}
