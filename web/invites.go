package web

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
)

// maxCustomerName bounds the optional name a customer gives.
const maxCustomerName = 64

// handleGetInvite: GET /api/v1/invites/:token.
func (s *Server) handleGetInvite(c *gin.Context) error {
	con, err := s.cons.ByInvite(c.Request.Context(), c.Param("token"))
	if err != nil {
		return err
	}
	body := gin.H{
		"company":        s.cfg.Company.Name,
		"advisorName":    con.Record.AdvisorName,
		"title":          con.Record.Title,
		"consultationId": con.Record.ID,
		"privacyUrl":     "/privacy",
		"allowAnonymous": s.cfg.Privacy.AllowAnonymous,
		"questions":      questionsOrEmpty(s.cfg.Questions.Before),
		"consent": gin.H{
			"version": s.consent.Version,
			"text":    gin.H{"de": s.consent.DE, "en": s.consent.EN},
		},
	}
	// A booked consultation: before it opens the page shows when it
	// starts (serverTime lets it count down on a wrong clock).
	if opens := con.Record.OpensAt; !opens.IsZero() && s.appts != nil {
		if a, err := s.rec.AppointmentByConsultation(c.Request.Context(), con.Record.ID); err == nil {
			body["appointment"] = gin.H{"startsAt": rfc3339(a.StartsAt), "endsAt": rfc3339(a.EndsAt),
				"opensAt": rfc3339(opens), "open": !s.now().Before(opens), "timeZone": s.appts.Zone().String()}
			body["serverTime"] = s.now().UTC().Format(time.RFC3339Nano)
		}
	}
	c.JSON(http.StatusOK, body)
	return nil
}

// handleJoin: POST /api/v1/invites/:token/join. With consent: checks the
// consent version and the answers to the questions before joining, records
// the consent, the name and the answers. Without consent (where
// privacy.allow_anonymous): joins anonymously, no name, no answers, no
// consent record. Either way the consultation service records the join
// and adds the customer to the waiting room; the handler sets the
// parley_session cookie and returns the data-subject link.
func (s *Server) handleJoin(c *gin.Context) error {
	var req struct {
		Name           string            `json:"name"`
		Consent        bool              `json:"consent"`
		ConsentVersion string            `json:"consentVersion"`
		Lang           string            `json:"lang"`
		Answers        map[string]string `json:"answers"`
		// Previous is the personal link's token of an earlier
		// participation in this consultation (joining again after
		// leaving): the new participation belongs to the same data
		// subject and keeps that link.
		Previous string `json:"previous"`
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
	con, err := s.cons.ByInvite(ctx, c.Param("token"))
	if err != nil {
		return err
	}
	if opens := con.Record.OpensAt; !opens.IsZero() && s.now().Before(opens) {
		return errNotYet // a booked consultation before its window
	}
	if err := s.allowJoin(c, con.Record.ID); err != nil {
		return err
	}
	join := consultation.Join{Name: name, Answers: answers}
	if req.Previous != "" {
		// Only a token of this consultation this installation issued
		// counts; anything else is a fresh participation (never another
		// person's data).
		if prev, err := s.rec.SubjectByToken(ctx, strings.TrimSpace(req.Previous)); err == nil && prev.ConsultationID == con.Record.ID {
			// After an erasure request the person starts afresh.
			if root, err := s.rec.ResolveSubject(ctx, prev); err == nil {
				if erased, err := s.rec.SubjectErased(ctx, root); err == nil && !erased {
					join.Subject = root.ParticipantID
				}
			}
		}
	}
	if req.Consent {
		join.Consent = &consultation.Consent{TextVersion: s.consent.Version, Lang: req.Lang}
	}
	j, err := s.cons.Join(ctx, con.ID(), join)
	if err != nil {
		return err
	}
	http.SetCookie(c.Writer, &http.Cookie{
		Name: cookieSession, Value: j.Cookie, Path: "/",
		MaxAge:   max(1, int(math.Ceil(j.Consultation.Remaining(s.now()).Seconds()))),
		HttpOnly: true, Secure: s.secureCookies(c.Request), SameSite: http.SameSiteLaxMode,
	})
	c.JSON(http.StatusOK, gin.H{"consultationId": con.Record.ID, "participantId": string(j.Participant),
		"anonymous": !req.Consent, "myDataUrl": "/my-data#" + j.SubjectToken, "myDataToken": j.SubjectToken})
	return nil
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
