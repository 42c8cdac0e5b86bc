package web

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// Files and photos (API.md "Files and photos"): ciphertext the browsers
// upload and download; stored under <data_dir>/files/<consultation>/ while
// the consultation runs.

// fileCaller is who calls a file endpoint.
type fileCaller struct {
	con     records.Consultation
	id      string // uploader id: "staff:<user id>" or "participant:<id>"
	advisor bool   // staff of the consultation
	name    string // display name (customers may have none)
	userID  int64  // staff: the user
}

// fileRoutes registers the file endpoints. They are outside the /api/v1
// group because that one caps bodies at 64 KiB.
func (s *Server) fileRoutes(e *gin.Engine) {
	g := e.Group("/api/v1/consultations/:id/files", s.checkOrigin)
	g.PUT("/:fileId", s.api(s.handlePutFile))
	g.GET("/:fileId", s.api(s.handleGetFile))
	g.DELETE("/:fileId", s.api(s.handleDeleteFile))
}

// fileCaller checks the file id, the consultation (404, 410 ended) and the
// caller: staff with access to the consultation (CSRF on PUT and DELETE),
// or a joined customer of it (parley_session cookie).
func (s *Server) fileCaller(c *gin.Context) (fileCaller, error) {
	if !blobs.ValidFileID(c.Param("fileId")) {
		return fileCaller{}, errBadRequest("fileId must be 32 lowercase hex digits")
	}
	return s.callCaller(c)
}

// callCaller resolves who calls an endpoint of a running consultation
// (files, documents): its staff (CSRF checked on state changes) or a
// joined customer of it.
func (s *Server) callCaller(c *gin.Context) (fileCaller, error) {
	ctx := c.Request.Context()
	active, err := s.cons.Active(ctx, consultation.ID(c.Param("id")))
	if err != nil {
		return fileCaller{}, err
	}
	con := active.Record
	user, token, isStaff, err := s.currentStaff(c)
	if err != nil {
		return fileCaller{}, err
	}
	if isStaff {
		ok, err := s.rec.CanJoinAsStaff(ctx, con.ID, user.ID)
		if err != nil {
			return fileCaller{}, err
		}
		if ok {
			if m := c.Request.Method; m != http.MethodGet && m != http.MethodHead {
				if err := s.verifyCSRF(c, token); err != nil {
					return fileCaller{}, err
				}
			}
			return fileCaller{con: con, id: "staff:" + strconv.FormatInt(user.ID, 10), advisor: true, name: user.DisplayName, userID: user.ID}, nil
		}
	}
	cookie, _ := c.Cookie(cookieSession)
	if cookie == "" {
		if isStaff {
			return fileCaller{}, records.ErrNotFound // as for other staff routes
		}
		return fileCaller{}, errNotLoggedIn
	}
	acc, err := s.cons.Customer(ctx, active.ID(), cookie)
	if err != nil {
		return fileCaller{}, err
	}
	if acc.State != signaling.StateJoined {
		return fileCaller{}, errForbidden("only participants in the call may exchange files")
	}
	return fileCaller{con: con, id: "participant:" + string(acc.Participant), name: acc.Name}, nil
}

// handlePutFile: PUT /api/v1/consultations/:id/files/:fileId.
func (s *Server) handlePutFile(c *gin.Context) error {
	who, err := s.fileCaller(c)
	if err != nil {
		return err
	}
	fid, limit := c.Param("fileId"), s.cfg.Files.MaxBytes
	tooBig := &apiError{http.StatusRequestEntityTooLarge, "bad_request",
		fmt.Sprintf("file too large (at most %d bytes)", limit)}
	if c.Request.ContentLength > limit {
		return tooBig
	}
	if ok, err := s.blobs.Exists(who.con.ID, fid); err != nil {
		return err
	} else if ok {
		return errFileExists
	}
	ctx := c.Request.Context()
	body := http.MaxBytesReader(c.Writer, c.Request.Body, limit)
	n, err := s.blobs.Put(ctx, who.con.ID, fid, who.id, body)
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooBig
	}
	if err != nil {
		return fmt.Errorf("store file: %w", err)
	}
	// The consultation may have ended during the upload; its files go.
	if _, err := s.cons.Active(ctx, consultation.ID(who.con.ID)); err != nil {
		if err := s.blobs.RemoveConsultation(who.con.ID); err != nil {
			s.log.ErrorContext(ctx, "remove files of ended consultation", "consultation", who.con.ID, "err", err)
		}
		return consultation.ErrEnded
	}
	c.JSON(http.StatusCreated, gin.H{"fileId": fid, "size": n})
	return nil
}

// handleGetFile: GET /api/v1/consultations/:id/files/:fileId.
func (s *Server) handleGetFile(c *gin.Context) error {
	who, err := s.fileCaller(c)
	if err != nil {
		return err
	}
	fid := c.Param("fileId")
	f, size, err := s.blobs.Open(who.con.ID, fid)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Writer.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", `attachment; filename="`+fid+`"`)
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		return nil
	}
	if _, err := io.Copy(c.Writer, f); err != nil {
		s.log.DebugContext(c.Request.Context(), "file download cut short", "route", routeOf(c))
	}
	return nil
}

// handleDeleteFile: DELETE /api/v1/consultations/:id/files/:fileId; the
// uploader or an advisor.
func (s *Server) handleDeleteFile(c *gin.Context) error {
	who, err := s.fileCaller(c)
	if err != nil {
		return err
	}
	fid := c.Param("fileId")
	uploader, err := s.blobs.Uploader(who.con.ID, fid)
	if err != nil {
		return err
	}
	if !who.advisor && uploader != who.id {
		return errForbidden("only the uploader or an advisor may delete a file")
	}
	if err := s.blobs.Delete(who.con.ID, fid); err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}
