package records

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSSOAccounts(t *testing.T) { forEachBackend(t, testSSOAccounts) }

func testSSOAccounts(t *testing.T, be backend) {
	s, _ := be.store(t)
	ctx := context.Background()
	const sub = "https://idp.example.com 248289761001"

	// Just in time: an account that only the provider can sign on as.
	u, err := s.CreateOIDCUser(ctx, "anna", "Anna Example", RoleAdvisor, sub)
	if err != nil || !u.SSO || u.Role != RoleAdvisor {
		t.Fatalf("CreateOIDCUser = %+v, %v", u, err)
	}
	if got, err := s.UserByOIDC(ctx, sub); err != nil || got.ID != u.ID || !got.SSO {
		t.Fatalf("UserByOIDC = %+v, %v", got, err)
	}
	if _, err := s.UserByOIDC(ctx, sub+"x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("UserByOIDC(other) = %v", err)
	}
	// Its password is nobody's.
	for _, pw := range []string{"", "correct horse battery", sub} {
		if _, err := s.Authenticate(ctx, "anna", pw); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("password login of an sso account with %q: %v", pw, err)
		}
	}
	// One provider account, one staff account.
	if _, err := s.CreateOIDCUser(ctx, "anna2", "", RoleAdvisor, sub); !errors.Is(err, ErrConflict) {
		t.Fatalf("second account for one subject: %v", err)
	}
	if _, err := s.UserByUsername(ctx, "anna2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused account was half created: %v", err)
	}

	// An existing password account is bound once.
	b := mustUser(t, s, "bert", RoleBackoffice)
	if b.SSO {
		t.Fatal("a password account reported as sso")
	}
	if _, err := s.BindOIDC(ctx, b.ID, sub); !errors.Is(err, ErrConflict) {
		t.Fatalf("binding a subject bound elsewhere: %v", err)
	}
	bound, err := s.BindOIDC(ctx, b.ID, "https://idp.example.com 7")
	if err != nil || !bound.SSO {
		t.Fatalf("BindOIDC = %+v, %v", bound, err)
	}
	if _, err := s.BindOIDC(ctx, b.ID, "https://idp.example.com 8"); !errors.Is(err, ErrConflict) {
		t.Fatalf("rebinding: %v", err)
	}

	// The provider decides the role; a changed role ends other logins.
	tok, err := s.CreateLogin(ctx, b.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.UpdateFromProvider(ctx, b.ID, RoleBackoffice, "Bert B."); err != nil || got.DisplayName != "Bert B." {
		t.Fatalf("UpdateFromProvider = %+v, %v", got, err)
	}
	if _, err := s.LoginUser(ctx, tok); err != nil {
		t.Fatalf("an unchanged role ended the login: %v", err)
	}
	if got, err := s.UpdateFromProvider(ctx, b.ID, RoleAdmin, ""); err != nil || got.Role != RoleAdmin || got.DisplayName != "Bert B." {
		t.Fatalf("UpdateFromProvider(admin) = %+v, %v", got, err)
	}
	if _, err := s.LoginUser(ctx, tok); err == nil {
		t.Fatal("a changed role left the old login alive")
	}
	if _, err := s.UpdateFromProvider(ctx, b.ID, Role("root"), ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("invalid role: %v", err)
	}
}
