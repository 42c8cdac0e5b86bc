package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

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

// hubInfo is what the hub is told about a consultation.
func (s *Server) hubInfo(c records.Consultation) signaling.ConsultationInfo {
	return signaling.ConsultationInfo{
		ID: signaling.ConsultationID(c.ID), Title: c.Title, Company: s.cfg.Company.Name,
		ExpiresAt: c.CreatedAt.Add(s.cfg.Consultation.MaxDuration),
	}
}

// remaining is how long an open consultation may still run
// (consultation.max_duration after its creation).
func (s *Server) remaining(c records.Consultation) time.Duration {
	return c.CreatedAt.Add(s.cfg.Consultation.MaxDuration).Sub(s.now())
}

// ensureOpen returns records.ErrEnded for an ended consultation. One that
// outlived consultation.max_duration is ended here, in records and hub.
func (s *Server) ensureOpen(ctx context.Context, c records.Consultation) error {
	if c.State == records.StateEnded {
		return records.ErrEnded
	}
	if s.remaining(c) > 0 {
		return nil
	}
	if _, err := s.rec.EndConsultation(ctx, c.ID); err != nil {
		return err
	}
	s.endLive(ctx, c.ID)
	return records.ErrEnded
}

// staffConsultation loads the consultation of the :id parameter if the
// logged-in user may see it; others get 404, not a hint that it exists.
func (s *Server) staffConsultation(c *gin.Context) (records.Consultation, error) {
	ctx := c.Request.Context()
	id := c.Param("id")
	ok, err := s.rec.CanJoinAsStaff(ctx, id, staffUser(c).ID)
	if err != nil {
		return records.Consultation{}, err
	}
	if !ok {
		return records.Consultation{}, records.ErrNotFound
	}
	return s.rec.ConsultationByID(ctx, id)
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
	cc := s.cfg.Consultation
	con, token, err := s.rec.CreateConsultationCapped(c.Request.Context(), staffUser(c).ID, req.Title, cc.InviteTTL,
		cc.MaxOpenPerAdvisor, s.now().Add(-cc.MaxDuration))
	if err != nil {
		return err
	}
	c.JSON(http.StatusCreated, s.toConsultationJSON(con, base+"/j/"+token))
	return nil
}

// handleGetConsultation: GET /api/v1/consultations/:id.
func (s *Server) handleGetConsultation(c *gin.Context) error {
	con, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toConsultationJSON(con, ""))
	return nil
}

// handleNewInvite: POST /api/v1/consultations/:id/invite.
func (s *Server) handleNewInvite(c *gin.Context) error {
	base, err := s.baseURL(c.Request) // before anything is created
	if err != nil {
		return err
	}
	con, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	if err := s.ensureOpen(c.Request.Context(), con); err != nil {
		return err
	}
	con, token, err := s.rec.NewInvite(c.Request.Context(), con.ID, s.cfg.Consultation.InviteTTL)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, s.toConsultationJSON(con, base+"/j/"+token))
	return nil
}

// handleColleagueInvite: POST /api/v1/consultations/:id/colleague.
func (s *Server) handleColleagueInvite(c *gin.Context) error {
	base, err := s.baseURL(c.Request) // before anything is created
	if err != nil {
		return err
	}
	con, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	if err := s.ensureOpen(c.Request.Context(), con); err != nil {
		return err
	}
	token, exp, err := s.rec.CreateColleagueInvite(c.Request.Context(), con.ID, s.cfg.Consultation.InviteTTL)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"url": base + "/c/" + token, "expiresAt": rfc3339(exp)})
	return nil
}

// handleEnd: POST /api/v1/consultations/:id/end.
func (s *Server) handleEnd(c *gin.Context) error {
	con, err := s.staffConsultation(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	con, err = s.rec.EndConsultation(ctx, con.ID)
	if err != nil {
		return err
	}
	s.endLive(ctx, con.ID)
	c.JSON(http.StatusOK, s.toConsultationJSON(con, ""))
	return nil
}
