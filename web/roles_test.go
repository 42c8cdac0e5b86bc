package web

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// access is who may use a route.
type access int

const (
	public        access = iota // anyone
	staffAny                    // any logged-in staff user
	consultRole                 // advisors and admins; :id must be theirs
	callMember                  // the consultation's staff or its joined customer
	callAdvisor                 // the consultation's staff only
	contractStaff               // back office and admins; advisors their own
	staffPage                   // HTML for staff; anonymous → login redirect
	hubChecked                  // like callMember, but customers' cookies are the hub's to check (signaling tests)
	callCustomer                // the consultation's joined customer only (their own data)
	subjectToken                // the holder of a data-subject link's token only
	adminOnly                   // admins only
	apptRole                    // advisors and admins; :id an appointment they booked (the test's :id is a consultation's: 404 to all)
)

// routeAccess classifies every route. A route missing here fails the
// test, so a new route must be classified (and so thought about).
var routeAccess = map[string]access{
	"GET /":                            public,
	"GET /healthz":                     public,
	"GET /readyz":                      public,
	"GET /api/v1/openapi.json":         public,
	"GET /brand/logo":                  public,
	"GET /brand/favicon":               public,
	"GET /brand/theme.css":             public,
	"GET /login":                       public,
	"GET /j/:token":                    public,
	"GET /privacy":                     public,
	"GET /static/*filepath":            public,
	"HEAD /static/*filepath":           public,
	"POST /api/v1/login":               public,
	"POST /api/v1/logout":              public,
	"GET /api/v1/login/methods":        public,
	"GET /auth/oidc/login":             public,
	"GET /auth/oidc/callback":          public,
	"GET /api/v1/invites/:token":       public,
	"POST /api/v1/invites/:token/join": public,
	"GET /c/:token":                    staffPage,
	"POST /c/:token":                   staffPage,
	"GET /app":                         staffPage,
	"GET /app/call/:id":                staffPage,
	"GET /backoffice":                  staffPage,
	"GET /admin/data-requests":         staffPage,
	"GET /admin/users":                 staffPage,
	"GET /my-data":                     public,

	"GET /api/v1/consultations/:id/my-data":                         callCustomer,
	"PATCH /api/v1/consultations/:id/my-data":                       callCustomer,
	"DELETE /api/v1/consultations/:id/my-data":                      callCustomer,
	"GET /api/v1/my-data":                                           subjectToken,
	"PATCH /api/v1/my-data":                                         subjectToken,
	"DELETE /api/v1/my-data":                                        subjectToken,
	"POST /api/v1/my-data/feedback":                                 subjectToken,
	"GET /api/v1/my-data/contracts/:docId":                          subjectToken,
	"GET /api/v1/consultations/:id/my-data/contracts/:docId":        callCustomer,
	"POST /api/v1/my-data/contracts/:docId/email":                   subjectToken,
	"POST /api/v1/consultations/:id/my-data/contracts/:docId/email": callCustomer,
	"PUT /api/v1/me/password":                                       staffAny,
	"GET /api/v1/admin/webhooks":                                    adminOnly,
	"GET /api/v1/admin/users":                                       adminOnly,
	"POST /api/v1/admin/users":                                      adminOnly,
	"PATCH /api/v1/admin/users/:uid":                                adminOnly,
	"POST /api/v1/admin/users/:uid/password":                        adminOnly,
	"GET /api/v1/admin/data-subjects":                               adminOnly,
	"GET /api/v1/admin/data-subjects/:cid/:pid":                     adminOnly,
	"PATCH /api/v1/admin/data-subjects/:cid/:pid":                   adminOnly,
	"DELETE /api/v1/admin/data-subjects/:cid/:pid":                  adminOnly,

	"GET /api/v1/me":              staffAny,
	"PUT /api/v1/me/availability": staffAny,
	"GET /api/v1/contracts":       staffAny, // filtered to their own for advisors
	"POST /api/v1/verify":         staffAny,

	"GET /api/v1/consultations":                consultRole,
	"GET /api/v1/appointments":                 apptRole,
	"POST /api/v1/appointments":                apptRole,
	"GET /api/v1/appointments/:id":             apptRole,
	"PUT /api/v1/appointments/:id":             apptRole,
	"POST /api/v1/appointments/:id/send":       apptRole,
	"POST /api/v1/appointments/:id/cancel":     apptRole,
	"POST /api/v1/consultations":               consultRole,
	"GET /api/v1/consultations/:id":            consultRole,
	"POST /api/v1/consultations/:id/invite":    consultRole,
	"POST /api/v1/consultations/:id/colleague": consultRole,
	"POST /api/v1/consultations/:id/end":       consultRole,
	// Device link (devicelink.go): the same user's browsers only.
	"POST /api/v1/consultations/:id/device-link":       consultRole,
	"GET /api/v1/consultations/:id/device-link":        consultRole,
	"DELETE /api/v1/consultations/:id/device-link":     consultRole,
	"POST /api/v1/consultations/:id/device-link/claim": consultRole,

	"GET /ws/:id": hubChecked,
	"GET /api/v1/consultations/:id/files/:fileId":                       callMember,
	"PUT /api/v1/consultations/:id/files/:fileId":                       callMember,
	"DELETE /api/v1/consultations/:id/files/:fileId":                    callMember,
	"GET /api/v1/consultations/:id/documents":                           callMember,
	"GET /api/v1/consultations/:id/documents/:docId":                    callMember,
	"GET /api/v1/consultations/:id/documents/:docId/pdf":                callMember,
	"HEAD /api/v1/consultations/:id/documents/:docId/pdf":               callMember,
	"POST /api/v1/consultations/:id/documents/:docId/sign/:field":       callMember,
	"POST /api/v1/consultations/:id/documents/:docId/sign/:field/typed": callMember,
	"POST /api/v1/consultations/:id/documents/:docId/progress":          callMember,
	"POST /api/v1/consultations/:id/documents/:docId/withdraw":          callAdvisor,
	"POST /api/v1/consultations/:id/documents":                          callAdvisor,

	"GET /api/v1/contracts/:docId":              contractStaff,
	"GET /api/v1/contracts/:docId/pdf":          contractStaff,
	"GET /api/v1/contracts/:docId/audit":        contractStaff,
	"GET /api/v1/contracts/:docId/verification": contractStaff,
}

// TestEveryRouteRefusesTheWrongRole walks gin's route table: each
// protected route refuses anonymous callers, customers where staff is
// needed, staff of other consultations, and the roles it is not for.
func TestEveryRouteRefusesTheWrongRole(t *testing.T) {
	e := newEnv(t)
	withSigner(t, e)
	owner, _ := e.loggedIn("anna", records.RoleAdvisor)
	stranger, _ := e.loggedIn("bert", records.RoleAdvisor)
	back, _ := e.loggedIn("clara", records.RoleBackoffice)
	admin, _ := e.loggedIn("dora", records.RoleAdmin)
	cid, token := e.createConsultation(owner, "Rollen")
	other, _ := e.createConsultation(stranger, "Fremd")
	doc := docOf(t, e.staff(owner, "POST", "/api/v1/consultations/"+cid+"/documents", map[string]any{"template": "contract", "signers": []string{"advisor"}}))
	customer := e.customer(cid, "cookie-own", "p_own", signaling.StateJoined)
	foreign := e.customer(other, "cookie-foreign", "p_foreign", signaling.StateJoined)
	anon := e.client()

	fill := func(p string) string {
		return strings.NewReplacer(":id", cid, ":cid", cid, ":pid", "p_own", ":docId", doc.ID, ":fileId", fid1, ":field", "advisor",
			":token", token, "*filepath", "js/app.js").Replace(p)
	}
	refused := func(code int) bool {
		return code == http.StatusUnauthorized || code == http.StatusForbidden || code == http.StatusNotFound
	}
	call := func(c *http.Client, method, path string) int {
		hdr := []string{"Origin", e.ts.URL, headerCSRF, e.csrf(c), "Content-Type", "application/json"}
		return e.do(c, method, path, "{}", hdr...).StatusCode
	}
	seen := map[string]bool{}
	routes := e.srv.engine.Routes()
	// Ending the consultation goes last: it makes every call route 410.
	sort.SliceStable(routes, func(i, j int) bool {
		return !strings.HasSuffix(routes[i].Path, "/end") && strings.HasSuffix(routes[j].Path, "/end")
	})
	for _, r := range routes {
		key := r.Method + " " + r.Path
		seen[key] = true
		acc, ok := routeAccess[key]
		if !ok {
			t.Errorf("route %s is not classified in routeAccess", key)
			continue
		}
		path := fill(r.Path)
		type want struct {
			who    string
			c      *http.Client
			refuse bool
		}
		var cases []want
		switch acc {
		case public:
			continue
		case staffPage:
			if code := call(anon, r.Method, path); code != http.StatusFound && !refused(code) {
				t.Errorf("%s: anonymous got %d, want a login redirect", key, code)
			}
			continue
		case staffAny:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"back office", back, false}, {"advisor", owner, false}}
		case consultRole:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"back office", back, true}, {"owner", owner, false}}
			if strings.Contains(r.Path, ":id") {
				cases = append(cases, want{"other advisor", stranger, true})
			}
		case apptRole:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"back office", back, true}}
			if !strings.Contains(r.Path, ":id") {
				cases = append(cases, want{"owner", owner, false})
			}
		case callMember:
			cases = []want{{"anonymous", anon, true}, {"back office", back, true}, {"other advisor", stranger, true},
				{"customer of another consultation", foreign, true}, {"owner", owner, false}}
		case hubChecked:
			cases = []want{{"anonymous", anon, true}, {"back office", back, true}, {"other advisor", stranger, true}}
		case callAdvisor:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"back office", back, true},
				{"other advisor", stranger, true}, {"owner", owner, false}}
		case callCustomer:
			cases = []want{{"anonymous", anon, true}, {"owner", owner, true}, {"back office", back, true},
				{"customer of another consultation", foreign, true}, {"customer", customer, false}}
		case subjectToken:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"owner", owner, true}, {"admin", admin, true}}
		case adminOnly:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"owner", owner, true},
				{"back office", back, true}, {"admin", admin, false}}
		case contractStaff:
			cases = []want{{"anonymous", anon, true}, {"customer", customer, true}, {"other advisor", stranger, true},
				{"back office", back, false}, {"owner", owner, false}}
		}
		// An admin who is not a member gets 404, as any non-member.
		switch {
		case acc == consultRole && strings.Contains(r.Path, ":id"), acc == callMember, acc == callAdvisor, acc == hubChecked:
			if code := call(admin, r.Method, path); code != http.StatusNotFound {
				t.Errorf("%s as admin (not a member): %d, want 404", key, code)
			}
		}
		for _, w := range cases {
			code := call(w.c, r.Method, path)
			if w.refuse && !refused(code) {
				t.Errorf("%s as %s: %d, want 401/403/404", key, w.who, code)
			}
			if !w.refuse && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
				t.Errorf("%s as %s: %d, want access", key, w.who, code)
			}
		}
	}
	for key := range routeAccess {
		if !seen[key] {
			t.Errorf("routeAccess lists %s, which is no route", key)
		}
	}
}
