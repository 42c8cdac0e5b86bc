package records

import (
	"context"
	"errors"
	"testing"
)

func TestCleanTextRefusesControlAndBidi(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // "" with ok false: refused
		ok   bool
	}{
		{"  Kim Müller ", "Kim Müller", true},
		{"محمد", "محمد", true},
		{"می\u200cخواهم", "می\u200cخواهم", true}, // ZWNJ in Persian
		{"👩\u200d💻 Ada", "👩\u200d💻 Ada", true},   // ZWJ in an emoji
		{"Kim\u202eevil", "", false},             // RIGHT-TO-LEFT OVERRIDE
		{"Kim\u202a", "", false},
		{"Kim\u202d", "", false},
		{"\u2066Kim\u2069", "", false}, // isolates
		{"\u2067Kim", "", false},
		{"\u2068Kim", "", false},
		{"Kim\u200e", "", false}, // LRM
		{"Kim\u200f", "", false}, // RLM
		{"Kim\u061c", "", false}, // ARABIC LETTER MARK
		{"Kim\ufeff", "", false}, // BOM
		{"Kim\u00ad", "", false}, // soft hyphen (Cf)
		{"Kim\u2028x", "", false},
		{"Kim\x00", "", false},
		{"Kim\x1b[31m", "", false},
		{"Kim\u0085x", "", false},
	} {
		got, err := CleanText("name", tc.in, 64)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("CleanText(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrInvalid) {
			t.Errorf("CleanText(%q) = %q, %v; want refused", tc.in, got, err)
		}
	}
	if got := StripText("A\u202eB\u2066C\u200dD"); got != "ABC\u200dD" {
		t.Errorf("StripText = %q", got)
	}
}

func TestStaffDisplayNameRefusesBidi(t *testing.T) {
	forEachBackend(t, testStaffDisplayNameRefusesBidi)
}

func testStaffDisplayNameRefusesBidi(t *testing.T, be backend) {
	s, _ := be.store(t)
	_, err := s.CreateUser(context.Background(), "eve", "Eve\u202eenimda", RoleAdvisor, "correct horse battery")
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Field != "display name" {
		t.Fatalf("CreateUser with a bidi override: %v", err)
	}
}
