package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/records"
)

// Staff administration (API.md "Staff accounts"): everyone changes their
// own password (and must, after the first admin's generated one or an
// admin's reset, before anything else works); admins list, add, disable
// and enable accounts and reset passwords on /admin/users.

// passwordChangeRoutes are the staff routes a user who must change their
// password may use (requireStaff).
var passwordChangeRoutes = map[string]bool{
	"GET /api/v1/me":          true,
	"PUT /api/v1/me/password": true,
}

// errPasswordChange: the password must be changed first.
var errPasswordChange = &apiError{http.StatusForbidden, "password_change_required", "change your password first (PUT /api/v1/me/password)"}

func (s *Server) userRoutes(staff *gin.RouterGroup, e *gin.Engine) {
	staff.PUT("/me/password", s.api(s.handleChangePassword))
	adm := staff.Group("/admin/users", s.requireAdminUsers)
	adm.GET("", s.api(s.handleListUsers))
	adm.POST("", s.api(s.handleAddUser))
	adm.PATCH("/:uid", s.api(s.handlePatchUser))
	adm.POST("/:uid/password", s.api(s.handleResetPassword))
	s.webhookRoutes(staff)
	e.GET("/admin/users", s.page(func(c *gin.Context) error { return s.serveStaffPage(c, "users.html") }))
}

func (s *Server) requireAdminUsers(c *gin.Context) {
	if staffUser(c).Role != records.RoleAdmin {
		s.fail(c, errForbidden("only admins manage staff accounts"))
		return
	}
	c.Next()
}

// handleChangePassword: PUT /api/v1/me/password {"current", "new"}. Every
// login of the user ends; this one gets a fresh cookie.
func (s *Server) handleChangePassword(c *gin.Context) error {
	var req struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	u := staffUser(c)
	if req.New == req.Current {
		return errBadRequest("the new password must differ from the current one")
	}
	ctx := c.Request.Context()
	if err := s.rec.ChangePassword(ctx, u.Username, req.Current, req.New); errors.Is(err, records.ErrBadCredentials) {
		return &apiError{http.StatusForbidden, "forbidden", "the current password is wrong"}
	} else if err != nil {
		return err
	}
	token, err := s.rec.CreateLogin(ctx, u.ID, s.cfg.Auth.SessionTTL)
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieStaff, token, true, 0))
	http.SetCookie(c.Writer, s.staffCookie(c.Request, cookieCSRF, csrfFor(token), false, 0))
	nu, err := s.rec.UserByID(ctx, u.ID)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"user": toUserJSON(nu)})
	return nil
}

// handleListUsers: GET /api/v1/admin/users.
func (s *Server) handleListUsers(c *gin.Context) error {
	us, err := s.rec.ListUsers(c.Request.Context())
	if err != nil {
		return err
	}
	out := make([]userJSON, 0, len(us))
	for _, u := range us {
		out = append(out, toUserJSON(u))
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"users": out})
	return nil
}

// handleAddUser: POST /api/v1/admin/users {"username", "displayName",
// "role", "password"}: the new user must change the password at the
// first login.
func (s *Server) handleAddUser(c *gin.Context) error {
	var req struct {
		Username    string `json:"username"`
		DisplayName string `json:"displayName"`
		Role        string `json:"role"`
		Password    string `json:"password"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	role, err := records.ParseRole(req.Role)
	if err != nil {
		return errBadRequest(`field "role" must be admin, advisor or backoffice`)
	}
	ctx := c.Request.Context()
	u, err := s.rec.CreateUser(ctx, req.Username, req.DisplayName, role, req.Password)
	if err != nil {
		return err
	}
	if err := s.rec.ResetPassword(ctx, u.Username, req.Password); err != nil {
		return err
	}
	if u, err = s.rec.UserByID(ctx, u.ID); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "staff account added", "by", staffUser(c).ID, "user", u.ID, "role", string(u.Role))
	c.JSON(http.StatusCreated, toUserJSON(u))
	return nil
}

func userParam(c *gin.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("uid"), 10, 64)
	if err != nil || id <= 0 {
		return 0, records.ErrNotFound
	}
	return id, nil
}

// handlePatchUser: PATCH /api/v1/admin/users/{id} {"disabled": bool}. An
// admin cannot disable their own account.
func (s *Server) handlePatchUser(c *gin.Context) error {
	var req struct {
		Disabled *bool `json:"disabled"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	id, err := userParam(c)
	if err != nil {
		return err
	}
	if req.Disabled == nil {
		return errBadRequest(`field "disabled" is required`)
	}
	if *req.Disabled && id == staffUser(c).ID {
		return errConflictMsg("you cannot disable your own account")
	}
	u, err := s.rec.SetDisabled(c.Request.Context(), id, *req.Disabled)
	if err != nil {
		return err
	}
	s.log.InfoContext(c.Request.Context(), "staff account changed", "by", staffUser(c).ID, "user", u.ID, "disabled", u.Disabled)
	c.JSON(http.StatusOK, toUserJSON(u))
	return nil
}

// handleResetPassword: POST /api/v1/admin/users/{id}/password
// {"password"}: the user's logins end; they must change it at the next
// login.
func (s *Server) handleResetPassword(c *gin.Context) error {
	var req struct {
		Password string `json:"password"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	id, err := userParam(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	u, err := s.rec.UserByID(ctx, id)
	if err != nil {
		return err
	}
	if err := s.rec.ResetPassword(ctx, u.Username, req.Password); err != nil {
		return err
	}
	if u, err = s.rec.UserByID(ctx, id); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "staff password reset", "by", staffUser(c).ID, "user", u.ID)
	c.JSON(http.StatusOK, toUserJSON(u))
	return nil
}
