package config

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Period is a retention period: a Go duration (90s, 36h) or whole days or
// years ("30d", "10y"; years count as calendar years in After and
// Before). "0" or "end" mean: nothing is kept past the event the period
// counts from (e.g. the consultation's end).
type Period time.Duration

// Duration is p as a time.Duration.
func (p Period) Duration() time.Duration { return time.Duration(p) }

// After is the end of the period starting at t. Whole years are calendar
// years ("10y" from 2 Dec 2026 ends 2 Dec 2036), as legal retention
// periods are; everything else is exact.
func (p Period) After(t time.Time) time.Time {
	if n, ok := p.years(); ok {
		return t.AddDate(n, 0, 0)
	}
	return t.Add(time.Duration(p))
}

// Before is the start of the period that ends at t: data stamped at or
// before it is due.
func (p Period) Before(t time.Time) time.Time {
	if n, ok := p.years(); ok {
		return t.AddDate(-n, 0, 0)
	}
	return t.Add(-time.Duration(p))
}

func (p Period) years() (int, bool) {
	d := time.Duration(p)
	if d <= 0 || d%Year != 0 {
		return 0, false
	}
	return int(d / Year), true
}

// Day and Year are the units of Period (a Year counts as a calendar year
// in Period.After and Before).
const (
	Day  = 24 * time.Hour
	Year = 365 * Day
)

// ParsePeriod reads a Period.
func ParsePeriod(s string) (Period, error) {
	s = strings.TrimSpace(s)
	switch s {
	case "0", "end", "":
		return 0, nil
	}
	if n, unit, ok := cutNumber(s); ok {
		switch unit {
		case "d":
			return Period(time.Duration(n) * Day), nil
		case "y":
			return Period(time.Duration(n) * Year), nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a period such as 0, 36h, 30d or 10y", s)
	}
	return Period(d), nil
}

func cutNumber(s string) (int64, string, bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || i == len(s) {
		return 0, "", false
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil || n > 1000*365 {
		return 0, "", false
	}
	return n, s[i:], true
}

// UnmarshalText reads "30d", "10y", "36h" or "end".
func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// MarshalText writes p in the largest whole unit.
func (p Period) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String writes p as "0", "10y", "30d" or a Go duration.
func (p Period) String() string {
	d := time.Duration(p)
	switch {
	case d == 0:
		return "0"
	case d%Year == 0:
		return strconv.FormatInt(int64(d/Year), 10) + "y"
	case d%Day == 0:
		return strconv.FormatInt(int64(d/Day), 10) + "d"
	}
	return d.String()
}

// RetentionConfig says how long each category of personal data is kept
// (configs/parley.example.yaml, "retention"). Media is never stored, so it
// has no entry. The retention sweeper (package retention) enforces it.
type RetentionConfig struct {
	// Files: files and photos exchanged in a call, and documents presented
	// but not signed; counted from the consultation's end.
	Files Period `yaml:"files"`
	// PreJoin: the answers to the questions before joining; counted from
	// the consultation's end. (The customer's name lives only in the
	// session store and goes when the consultation ends.)
	PreJoin Period `yaml:"pre_join"`
	// Feedback: the answers to the questions after the consultation;
	// counted from when they were given.
	Feedback Period `yaml:"feedback"`
	// Consultations: the staff's record of a past consultation (title,
	// advisor, times); counted from its end.
	Consultations Period `yaml:"consultations"`
	// AccessLogs: the access log (anonymised addresses); at most 30 days.
	AccessLogs Period `yaml:"access_logs"`
	// Contracts: signed contracts, their biometric records and audit
	// trails; counted from the last signature (legal retention).
	Contracts Period `yaml:"contracts"`
	// ConsentRecords: proofs of consent; counted from when it was given.
	ConsentRecords Period `yaml:"consent_records"`
	// SweepInterval: how often the sweeper runs (it also runs at start-up
	// and whenever a consultation ends).
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// Question is one question the company asks before joining or after the
// consultation (configs/parley.example.yaml, "questions").
type Question struct {
	// ID names the answer in exports, e.g. "email" (a-z, 0-9, _).
	ID string `yaml:"id" json:"id"`
	// Type is text, email, choice or rating (1..5).
	Type string `yaml:"type" json:"type"`
	// Required questions must be answered.
	Required bool `yaml:"required" json:"required"`
	// Label is the question in German and English.
	Label Text `yaml:"label" json:"label"`
	// Options are the choices of a choice question.
	Options []Text `yaml:"options" json:"options,omitempty"`
}

// Text is a UI text in German and English.
type Text struct {
	DE string `yaml:"de" json:"de"`
	EN string `yaml:"en" json:"en"`
}

// QuestionsConfig are the company's questions.
type QuestionsConfig struct {
	// Before: asked on the join page, after consent (never without it).
	Before []Question `yaml:"before"`
	// After: asked when the consultation is over (optional answers).
	After []Question `yaml:"after"`
}

// PrivacyConfig holds who is responsible and what a customer may do
// without consenting.
type PrivacyConfig struct {
	// Controller: the controller's name and postal address for the notice.
	Controller string `yaml:"controller"`
	// DPOContact: the data-protection officer's contact for the notice.
	DPOContact string `yaml:"dpo_contact"`
	// Authority: the supervisory authority the notice names.
	Authority string `yaml:"authority"`
	// AllowAnonymous lets a customer who declines consent still join the
	// call, without a name and without the questions.
	AllowAnonymous bool `yaml:"allow_anonymous"`
}

// defaultRetention are the safe defaults: nothing of a call outlives it,
// access logs 30 days, legal records ten years.
func defaultRetention() RetentionConfig {
	return RetentionConfig{
		Files:          0,
		PreJoin:        0,
		Feedback:       Period(90 * Day),
		Consultations:  Period(30 * Day),
		AccessLogs:     Period(30 * Day),
		Contracts:      Period(10 * Year),
		ConsentRecords: Period(10 * Year),
		SweepInterval:  time.Hour,
	}
}

var questionID = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// validatePrivacy checks retention, questions and the privacy section.
func (c *Config) validatePrivacy(bad func(key, format string, args ...any)) {
	r := c.Retention
	if r.AccessLogs.Duration() > 30*Day {
		bad("retention.access_logs", "%s is longer than 30d, the most Parley keeps access logs", r.AccessLogs)
	}
	if r.AccessLogs.Duration() < time.Hour {
		bad("retention.access_logs", "%s is too short; use at least 1h", r.AccessLogs)
	}
	if r.SweepInterval < time.Minute {
		bad("retention.sweep_interval", "%s is too short; use at least 1m", r.SweepInterval)
	}
	for _, p := range []struct {
		key string
		v   Period
	}{{"retention.contracts", r.Contracts}, {"retention.consent_records", r.ConsentRecords}} {
		if p.v.Duration() < Day {
			bad(p.key, "%s is too short for records kept as evidence; use at least 1d (e.g. 10y)", p.v)
		}
	}
	check := func(key string, qs []Question) {
		seen := map[string]bool{}
		for i, q := range qs {
			k := fmt.Sprintf("%s[%d]", key, i)
			if !questionID.MatchString(q.ID) {
				bad(k+".id", "%q must be a-z, 0-9 and _, starting with a letter", q.ID)
			}
			if seen[q.ID] {
				bad(k+".id", "%q is used twice", q.ID)
			}
			seen[q.ID] = true
			switch q.Type {
			case "text", "email", "rating":
				if len(q.Options) > 0 {
					bad(k+".options", "only choice questions have options")
				}
			case "choice":
				if len(q.Options) < 2 {
					bad(k+".options", "a choice question needs at least two options")
				}
			default:
				bad(k+".type", "%q is not text, email, choice or rating", q.Type)
			}
			if strings.TrimSpace(q.Label.DE) == "" || strings.TrimSpace(q.Label.EN) == "" {
				bad(k+".label", "needs de and en")
			}
			for j, o := range q.Options {
				if strings.TrimSpace(o.DE) == "" || strings.TrimSpace(o.EN) == "" {
					bad(fmt.Sprintf("%s.options[%d]", k, j), "needs de and en")
				}
			}
		}
		if len(qs) > 20 {
			bad(key, "at most 20 questions")
		}
	}
	check("questions.before", c.Questions.Before)
	check("questions.after", c.Questions.After)
}
