package web

import (
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// consultationJSON is API.md's Consultation.
type consultationJSON struct {
	ID              string      `json:"id"`
	Title           string      `json:"title"`
	State           string      `json:"state"`
	Advisor         advisorJSON `json:"advisor"`
	CreatedAt       string      `json:"createdAt"`
	EndedAt         string      `json:"endedAt,omitempty"`
	InviteURL       string      `json:"inviteUrl,omitempty"`
	InviteExpiresAt string      `json:"inviteExpiresAt,omitempty"`
	ExpiresAt       string      `json:"expiresAt"` // end of its maximum duration
	Live            liveJSON    `json:"live"`
}

type advisorJSON struct {
	ID          int64  `json:"id"`
	DisplayName string `json:"displayName"`
}

type liveJSON struct {
	Joined  int `json:"joined"`
	Waiting int `json:"waiting"`
}

// rfc3339 formats t in UTC, seconds precision.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// toConsultationJSON renders a consultation with its live counts; the
// invite URL only when the caller just created the token.
func (s *Server) toConsultationJSON(c records.Consultation, inviteURL string) consultationJSON {
	out := consultationJSON{
		ID: c.ID, Title: c.Title, State: string(c.State),
		Advisor:   advisorJSON{ID: c.AdvisorID, DisplayName: c.AdvisorName},
		CreatedAt: rfc3339(c.CreatedAt),
		ExpiresAt: rfc3339(c.Start().Add(s.cfg.Consultation.MaxDuration)),
		InviteURL: inviteURL,
	}
	if !c.EndedAt.IsZero() {
		out.EndedAt = rfc3339(c.EndedAt)
	}
	if c.State == records.StateOpen && !c.InviteExpiresAt.IsZero() {
		out.InviteExpiresAt = rfc3339(c.InviteExpiresAt)
	}
	if c.State == records.StateOpen {
		if snap, ok := s.hub.Snapshot(signaling.ConsultationID(c.ID)); ok {
			out.Live = liveJSON{Joined: snap.Joined, Waiting: snap.Waiting}
		}
	}
	return out
}

// staffConsultation loads the consultation of the :id parameter if the
// logged-in user may see it; others get 404, not a hint that it exists.
func (s *Server) staffConsultation(c *gin.Context) (consultation.ID, error) {
	id := c.Param("id")
	ok, err := s.rec.CanJoinAsStaff(c.Request.Context(), id, staffUser(c).ID)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", records.ErrNotFound
	}
	return consultation.ID(id), nil
}

// handleListConsultations: GET /api/v1/consultations.
func (s *Server) handleListConsultations(c *gin.Context) error {
	list, err := s.rec.ListConsultations(c.Request.Context(), staffUser(c).ID)
	if err != nil {
		return err
	}
	out := make([]consultationJSON, 0, len(list))
	for _, con := range list {
		out = append(out, s.toConsultationJSON(con, ""))
	}
	s.remoteLive(c, out)
	c.JSON(http.StatusOK, gin.H{"consultations": out})
	return nil
}

// handleCreateConsultation: POST /api/v1/consultations.
func (s *Server) handleCreateConsultation(c *gin.Context) error {
	base, err := s.baseURL(c.Request) // before anything is created
	if err != nil {
		return err
	}
	var req struct {
		Title string `json:"title"`
	}
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	con, token, err := s.cons.Create(c.Request.Context(), staffUser(c).ID, req.Title)
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, s.toConsultationJSON(con.Record, base+"/j/"+token))
	return nil
}

// handleGetConsultation: GET /api/v1/consultations/:id.
func (s *Server) handleGetConsultation(c *gin.Context) error {
	id, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	con, err := s.cons.Get(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toConsultationJSON(con.Record, ""))
	return nil
}

// handleNewInvite: POST /api/v1/consultations/:id/invite.
func (s *Server) handleNewInvite(c *gin.Context) error {
	base, err := s.baseURL(c.Request) // before anything is created
	if err != nil {
		return err
	}
	id, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	con, token, err := s.cons.NewInvite(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toConsultationJSON(con.Record, base+"/j/"+token))
	return nil
}

// handleColleagueInvite: POST /api/v1/consultations/:id/colleague.
func (s *Server) handleColleagueInvite(c *gin.Context) error {
	base, err := s.baseURL(c.Request) // before anything is created
	if err != nil {
		return err
	}
	id, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	token, exp, err := s.cons.ColleagueInvite(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"url": base + "/c/" + token, "expiresAt": rfc3339(exp)})
	return nil
}

// handleEnd: POST /api/v1/consultations/:id/end.
func (s *Server) handleEnd(c *gin.Context) error {
	id, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	con, err := s.cons.End(c.Request.Context(), id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toConsultationJSON(con.Record, ""))
	return nil
}
