package web

import (
	"context"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

// maxCustomerName bounds the optional name a customer gives.
const maxCustomerName = 64

// inviteConsultation resolves a customer invite token to an open
// consultation (ErrNotFound, ErrExpired or ErrEnded otherwise).
func (s *Server) inviteConsultation(ctx context.Context, token string) (records.Consultation, error) {
	con, err := s.rec.ConsultationByInvite(ctx, token)
	if err != nil {
		return records.Consultation{}, err
	}
	if err := s.ensureOpen(ctx, con); err != nil {
		return records.Consultation{}, err
	}
	return con, nil
}

// handleGetInvite: GET /api/v1/invites/:token.
func (s *Server) handleGetInvite(c *gin.Context) error {
	con, err := s.inviteConsultation(c.Request.Context(), c.Param("token"))
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{
		"company":        s.cfg.Company.Name,
		"advisorName":    con.AdvisorName,
		"title":          con.Title,
		"consultationId": con.ID,
		"privacyUrl":     "/privacy",
		"allowAnonymous": s.cfg.Privacy.AllowAnonymous,
		"questions":      questionsOrEmpty(s.cfg.Questions.Before),
		"consent": gin.H{
			"version": s.consent.Version,
			"text":    gin.H{"de": s.consent.DE, "en": s.consent.EN},
		},
	})
	return nil
}

// handleJoin: POST /api/v1/invites/:token/join. With consent: checks the
// consent version and the answers to the questions before joining, records
// the consent, the name and the answers. Without consent (where
// privacy.allow_anonymous): joins anonymously, no name, no answers, no
// consent record. Either way adds the customer to the hub's waiting room,
// sets the parley_session cookie and returns the data-subject link.
func (s *Server) handleJoin(c *gin.Context) error {
	var req struct {
		Name           string            `json:"name"`
		Consent        bool              `json:"consent"`
		ConsentVersion string            `json:"consentVersion"`
		Lang           string            `json:"lang"`
		Answers        map[string]string `json:"answers"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if req.Lang != "de" && req.Lang != "en" {
		return errBadRequest(`field "lang" must be "de" or "en"`)
	}
	var name string
	var answers map[string]string
	if req.Consent {
		var err error
		if name, err = records.CleanText("name", req.Name, maxCustomerName); err != nil {
			return err
		}
		if req.ConsentVersion != s.consent.Version {
			return errBadRequest("consentVersion does not match the current consent text; reload the invite")
		}
		if answers, err = checkAnswers(s.cfg.Questions.Before, req.Answers); err != nil {
			return err
		}
	} else {
		if !s.cfg.Privacy.AllowAnonymous {
			return errBadRequest("consent is required to join")
		}
		if req.Name != "" || len(req.Answers) > 0 {
			return errBadRequest("without consent, no name and no answers can be given")
		}
	}
	ctx := c.Request.Context()
	con, err := s.inviteConsultation(ctx, c.Param("token"))
	if err != nil {
		return err
	}
	if err := s.allowJoin(c, con.ID); err != nil {
		return err
	}
	consentAt := s.now()
	remaining := s.remaining(con)

	cid := signaling.ConsultationID(con.ID)
	s.hub.Open(s.hubInfo(con))
	pid, cookie, err := s.hub.AddCustomer(ctx, cid, name)
	if err != nil {
		return err
	}
	// From here on a failure takes the customer out again: no waiting
	// entry, no session and no record of a join that did not happen.
	token, err := s.recordJoin(ctx, con.ID, string(pid), name, req.Consent, req.Lang, answers, consentAt)
	if err != nil {
		if derr := s.hub.DropCustomer(context.WithoutCancel(ctx), cid, pid); derr != nil {
			s.log.WarnContext(ctx, "undo failed join", "consultation", con.ID, "err", derr)
		}
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieSession, Value: cookie, Path: "/",
		MaxAge:   max(1, int(math.Ceil(remaining.Seconds()))),
		HttpOnly: true, Secure: s.secureCookies(c.Request), SameSite: http.SameSiteLaxMode,
	})
	c.JSON(http.StatusOK, gin.H{"consultationId": con.ID, "participantId": string(pid),
		"anonymous": !req.Consent, "myDataUrl": "/my-data#" + token, "myDataToken": token})
	return nil
}

// recordJoin records a customer who was just added to the hub: consent
// (the time it was given, before anything was processed), name and
// answers in one transaction; it returns the data-subject token.
func (s *Server) recordJoin(ctx context.Context, cid, pid, name string, consented bool, lang string, answers map[string]string, at time.Time) (string, error) {
	token, err := s.rec.SubjectToken(ctx, records.Subject{ConsultationID: cid, ParticipantID: pid})
	if err != nil {
		return "", err
	}
	var consent *records.Consent
	if consented {
		consent = &records.Consent{ConsultationID: cid, ParticipantID: pid, TextVersion: s.consent.Version, Lang: lang, GivenAt: at}
	}
	err = s.rec.JoinCustomer(ctx, records.Customer{ConsultationID: cid, ParticipantID: pid,
		Name: name, Anonymous: !consented, JoinedAt: at}, answers, consent)
	if err != nil {
		return "", err
	}
	return token, nil
}

// errJoinsLimited: too many joins through one invite.
var errJoinsLimited = &apiError{http.StatusTooManyRequests, "rate_limited", "too many people joined through this link just now; try again shortly"}

// allowJoin takes a join of consultation cid from the caller's network
// from the per-invite limits (consultation.joins_per_minute and
// joins_per_network_per_minute); 429 with Retry-After when one is used up.
// Keys are consultation ids, so tokens that resolve to nothing cost no
// state.
func (s *Server) allowJoin(c *gin.Context, cid string) error {
	ok, wait := s.joinsNet.allow(cid + "|" + s.anonClient(c.Request))
	if ok {
		ok, wait = s.joinsInvite.allow(cid)
	}
	if !ok {
		c.Header("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()))))
		return errJoinsLimited
	}
	return nil
}
