package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"0": 0, "end": 0, "36h": 36 * time.Hour, "30d": 30 * Day, "10y": 10 * Year, "90m": 90 * time.Minute,
	} {
		got, err := ParsePeriod(in)
		if err != nil || got.Duration() != want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ten years", "-1d", "5w", "d", "1.5d", "9999999y"} {
		if _, err := ParsePeriod(bad); err == nil {
			t.Errorf("ParsePeriod(%q) accepted", bad)
		}
	}
	for p, want := range map[Period]string{0: "0", Period(10 * Year): "10y", Period(30 * Day): "30d", Period(36 * time.Hour): "36h0m0s"} {
		if p.String() != want {
			t.Errorf("%d.String() = %q, want %q", p, p.String(), want)
		}
	}
}

// Periods and questions come from the file and (periods) the environment.
func TestRetentionAndQuestionsLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "parley.yaml")
	os.WriteFile(file, []byte(`
retention:
  contracts: 6y
  feedback: 14d
questions:
  before:
    - id: email
      type: email
      label: {de: "E-Mail", en: "E-mail"}
`), 0o600)
	cfg, err := Load([]string{"--config", file}, []string{"PARLEY_RETENTION_ACCESS_LOGS=7d"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Retention.Contracts.Duration() != 6*Year || cfg.Retention.Feedback.Duration() != 14*Day || cfg.Retention.AccessLogs.Duration() != 7*Day {
		t.Fatalf("retention %+v", cfg.Retention)
	}
	if len(cfg.Questions.Before) != 1 || cfg.Questions.Before[0].Label.EN != "E-mail" {
		t.Fatalf("questions %+v", cfg.Questions)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(nil, []string{"PARLEY_RETENTION_CONTRACTS=forever"}, nil); err == nil || !strings.Contains(err.Error(), "forever") {
		t.Fatalf("bad period from the environment: %v", err)
	}
}

func TestValidatePrivacy(t *testing.T) {
	q := func(id, typ string, opts ...Text) Question {
		return Question{ID: id, Type: typ, Label: Text{DE: "Frage", EN: "Question"}, Options: opts}
	}
	for name, tc := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"long access logs":    {func(c *Config) { c.Retention.AccessLogs = Period(31 * Day) }, "retention.access_logs"},
		"contracts 0":         {func(c *Config) { c.Retention.Contracts = 0 }, "retention.contracts"},
		"fast sweeps":         {func(c *Config) { c.Retention.SweepInterval = time.Second }, "retention.sweep_interval"},
		"bad id":              {func(c *Config) { c.Questions.Before = []Question{q("E-Mail", "email")} }, "questions.before[0].id"},
		"duplicate id":        {func(c *Config) { c.Questions.After = []Question{q("r", "rating"), q("r", "rating")} }, "used twice"},
		"unknown type":        {func(c *Config) { c.Questions.Before = []Question{q("x", "date")} }, "questions.before[0].type"},
		"choice without opts": {func(c *Config) { c.Questions.Before = []Question{q("x", "choice")} }, "at least two options"},
		"missing label":       {func(c *Config) { c.Questions.Before = []Question{{ID: "x", Type: "text", Label: Text{DE: "x"}}} }, "needs de and en"},
		"good choice":         {func(c *Config) { c.Questions.Before = []Question{q("x", "choice", Text{"a", "a"}, Text{"b", "b"})} }, ""},
		"files kept 2d":       {func(c *Config) { c.Retention.Files = Period(2 * Day) }, ""},
	} {
		c := Default()
		tc.mutate(&c)
		err := c.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// Whole years are calendar years: a ten-year retention from 2 December
// 2026 ends on 2 December 2036, not three leap days earlier.
func TestPeriodCalendarYears(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 15, 0, 0, 0, time.UTC)
	ten, _ := ParsePeriod("10y")
	if got := ten.After(t0); !got.Equal(time.Date(2036, 12, 2, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("10y after %s = %s", t0, got)
	}
	if got := ten.Before(time.Date(2036, 12, 2, 15, 0, 0, 0, time.UTC)); !got.Equal(t0) {
		t.Fatalf("10y before = %s", got)
	}
	days, _ := ParsePeriod("30d")
	if got := days.After(t0); !got.Equal(t0.Add(30 * Day)) {
		t.Fatalf("30d after = %s", got)
	}
}
