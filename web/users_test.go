package web

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/parley-video/parley/records"
)

// TestStaffAdministration: the first admin's generated password must be
// changed before anything else works; admins add, list, disable, enable
// and reset staff accounts (added and reset ones must change their
// password too); others may not.
func TestStaffAdministration(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	first, created, err := e.rec.EnsureBootstrapAdmin(ctx, "admin")
	if err != nil || !created {
		t.Fatalf("bootstrap admin: %v %v", created, err)
	}
	login := func(c *http.Client, name, pw string) response {
		t.Helper()
		return e.do(c, "POST", "/api/v1/login", map[string]string{"username": name, "password": pw})
	}
	adm := e.client()
	r := login(adm, "admin", first)
	if r.StatusCode != http.StatusOK || r.json(t)["user"].(map[string]any)["mustChangePassword"] != true {
		t.Fatalf("first login: %d %s", r.StatusCode, r.body)
	}
	for _, path := range []string{"/api/v1/consultations", "/api/v1/admin/users", "/api/v1/contracts"} {
		if r := e.do(adm, "GET", path, nil); r.StatusCode != http.StatusForbidden || r.errCode(t) != "password_change_required" {
			t.Errorf("GET %s before the change: %d %s", path, r.StatusCode, r.body)
		}
	}
	if r := e.do(adm, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("me: %d", r.StatusCode)
	}
	if r := e.staff(adm, "PUT", "/api/v1/me/password", map[string]string{"current": "wrong-password", "new": "a-new-admin-password"}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("change with a wrong current password: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adm, "PUT", "/api/v1/me/password", map[string]string{"current": first, "new": "short"}); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("change to a short password: %d %s", r.StatusCode, r.body)
	}
	r = e.staff(adm, "PUT", "/api/v1/me/password", map[string]string{"current": first, "new": "a-new-admin-password"})
	if r.StatusCode != http.StatusOK || r.json(t)["user"].(map[string]any)["mustChangePassword"] != false {
		t.Fatalf("change: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(adm, "GET", "/api/v1/admin/users", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("after the change: %d %s", r.StatusCode, r.body)
	}
	if r := login(e.client(), "admin", first); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the first password still works: %d", r.StatusCode)
	}

	// Add an advisor: listed; must change the password at the first login.
	r = e.staff(adm, "POST", "/api/v1/admin/users", map[string]string{"username": "Bea", "displayName": "Bea Berater", "role": "advisor", "password": "initial-password-1"})
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("add: %d %s", r.StatusCode, r.body)
	}
	bea := r.json(t)
	id := int64(bea["id"].(float64))
	if bea["username"] != "bea" || bea["mustChangePassword"] != true {
		t.Fatalf("added %v", bea)
	}
	if r := e.staff(adm, "POST", "/api/v1/admin/users", map[string]string{"username": "bea", "role": "advisor", "password": "initial-password-1"}); r.StatusCode != http.StatusConflict {
		t.Errorf("adding a taken name: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adm, "POST", "/api/v1/admin/users", map[string]string{"username": "cem", "role": "boss", "password": "initial-password-1"}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("adding an unknown role: %d %s", r.StatusCode, r.body)
	}
	us := e.do(adm, "GET", "/api/v1/admin/users", nil).json(t)["users"].([]any)
	if len(us) != 2 {
		t.Fatalf("users %v", us)
	}
	bc := e.client()
	if r := login(bc, "bea", "initial-password-1"); r.StatusCode != http.StatusOK || r.json(t)["user"].(map[string]any)["mustChangePassword"] != true {
		t.Fatalf("Bea's first login: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(bc, "PUT", "/api/v1/me/password", map[string]string{"current": "initial-password-1", "new": "beas-own-password"}); r.StatusCode != http.StatusOK {
		t.Fatalf("Bea changes: %d %s", r.StatusCode, r.body)
	}
	// An advisor administers nobody.
	if r := e.do(bc, "GET", "/api/v1/admin/users", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("advisor lists users: %d", r.StatusCode)
	}

	// Disable: her login ends, she cannot log in; enable again.
	path := fmt.Sprintf("/api/v1/admin/users/%d", id)
	if r := e.staff(adm, "PATCH", path, map[string]any{"disabled": true}); r.StatusCode != http.StatusOK || r.json(t)["disabled"] != true {
		t.Fatalf("disable: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(bc, "GET", "/api/v1/me", nil); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a disabled user's login still works: %d", r.StatusCode)
	}
	if r := login(e.client(), "bea", "beas-own-password"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a disabled user logs in: %d", r.StatusCode)
	}
	me := e.do(adm, "GET", "/api/v1/me", nil).json(t)
	if r := e.staff(adm, "PATCH", fmt.Sprintf("/api/v1/admin/users/%d", int64(me["id"].(float64))), map[string]any{"disabled": true}); r.StatusCode != http.StatusConflict {
		t.Errorf("admin disables herself: %d", r.StatusCode)
	}
	if r := e.staff(adm, "PATCH", path, map[string]any{"disabled": false}); r.StatusCode != http.StatusOK {
		t.Fatalf("enable: %d %s", r.StatusCode, r.body)
	}
	// Reset: the old password is gone, the new one must be changed.
	if r := e.staff(adm, "POST", path+"/password", map[string]string{"password": "reset-password-2"}); r.StatusCode != http.StatusOK || r.json(t)["mustChangePassword"] != true {
		t.Fatalf("reset: %d %s", r.StatusCode, r.body)
	}
	if r := login(e.client(), "bea", "beas-own-password"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password after a reset: %d", r.StatusCode)
	}
	if r := login(e.client(), "bea", "reset-password-2"); r.StatusCode != http.StatusOK || r.json(t)["user"].(map[string]any)["mustChangePassword"] != true {
		t.Errorf("after the reset: %d %s", r.StatusCode, r.body)
	}
	if u, err := e.rec.UserByUsername(ctx, "bea"); err != nil || u.Role != records.RoleAdvisor {
		t.Errorf("bea %+v %v", u, err)
	}
}
