package web

import (
	"context"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/consultation"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/webhooks"
)

// Data-subject rights (API.md "My data"): a customer sees what is stored
// about them, downloads it as JSON, corrects their name and deletes their
// data; in the call (session cookie) and afterwards with the link they got
// when joining (/my-data#<token>, the token sent as "Authorization: Bearer").
// Admins do the same for a request received by mail (/api/v1/admin/...).
// Data a legal duty keeps (signed contracts, consent records) is
// restricted instead of deleted, and the answer says so and until when.

func (s *Server) subjectRoutes(api, staff *gin.RouterGroup, e *gin.Engine) {
	// In the call: the customer's session cookie.
	api.GET("/consultations/:id/my-data", s.api(s.withCookieSubject(s.handleSubjectExport)))
	api.PATCH("/consultations/:id/my-data", s.api(s.withCookieSubject(s.handleSubjectCorrect)))
	api.DELETE("/consultations/:id/my-data", s.api(s.withCookieSubject(s.handleSubjectErase)))
	// Afterwards: the data-subject link's token.
	api.GET("/my-data", s.api(s.withTokenSubject(s.handleSubjectExport)))
	api.PATCH("/my-data", s.api(s.withTokenSubject(s.handleSubjectCorrect)))
	api.DELETE("/my-data", s.api(s.withTokenSubject(s.handleSubjectErase)))
	api.POST("/my-data/feedback", s.api(s.withTokenSubject(s.handleFeedback)))
	// The signed contracts themselves, as long as they are kept.
	api.GET("/consultations/:id/my-data/contracts/:docId", s.api(s.withCookieSubject(s.handleSubjectContract)))
	api.GET("/my-data/contracts/:docId", s.api(s.withTokenSubject(s.handleSubjectContract)))
	// A copy by e-mail, on the customer's request (subject_mail.go).
	api.POST("/consultations/:id/my-data/contracts/:docId/email", s.api(s.withCookieSubject(s.handleSubjectContractMail)))
	api.POST("/my-data/contracts/:docId/email", s.api(s.withTokenSubject(s.handleSubjectContractMail)))
	// Admins, for requests received otherwise.
	adm := staff.Group("/admin/data-subjects", s.requireAdmin)
	adm.GET("", s.api(s.handleFindSubjects))
	adm.GET("/:cid/:pid", s.api(s.withAdminSubject(s.handleSubjectExport)))
	adm.PATCH("/:cid/:pid", s.api(s.withAdminSubject(s.handleSubjectCorrect)))
	adm.DELETE("/:cid/:pid", s.api(s.withAdminSubject(s.handleSubjectErase)))
	e.GET("/my-data", s.page(s.handleMyDataPage))
	e.GET("/admin/data-requests", s.page(s.handleDataRequestsPage))
}

// requireAdmin lets only admins through (403 otherwise).
func (s *Server) requireAdmin(c *gin.Context) {
	if staffUser(c).Role != records.RoleAdmin {
		s.fail(c, errForbidden("only admins handle data-subject requests"))
		return
	}
	c.Next()
}

// subjectCall is a data-subject request: whose data, asked by whom.
type subjectCall struct {
	sub records.Subject
	by  string // "subject" or "staff:<id>"
}

type subjectHandler func(c *gin.Context, sc subjectCall) error

func (s *Server) withCookieSubject(h subjectHandler) handlerFunc {
	return func(c *gin.Context) error {
		ctx := c.Request.Context()
		con, err := s.cons.Get(ctx, consultation.ID(c.Param("id")))
		if err != nil {
			return err
		}
		cookie, _ := c.Cookie(cookieSession)
		if cookie == "" {
			return errNotLoggedIn
		}
		acc, err := s.cons.Customer(ctx, con.ID(), cookie)
		if err != nil {
			return err
		}
		sub, err := s.rec.ResolveSubject(ctx, records.Subject{ConsultationID: con.Record.ID, ParticipantID: string(acc.Participant)})
		if err != nil {
			return err
		}
		return h(c, subjectCall{sub: sub, by: "subject"})
	}
}

func (s *Server) withTokenSubject(h subjectHandler) handlerFunc {
	return func(c *gin.Context) error {
		token, ok := strings.CutPrefix(c.GetHeader("Authorization"), "Bearer ")
		if !ok || token == "" {
			return errUnauthorized("send the data-subject link's token as Authorization: Bearer <token>")
		}
		sub, err := s.rec.SubjectByToken(c.Request.Context(), strings.TrimSpace(token))
		if errors.Is(err, records.ErrBadToken) {
			return errUnauthorized("this link is not valid")
		}
		if err != nil {
			return err
		}
		if sub, err = s.rec.ResolveSubject(c.Request.Context(), sub); err != nil {
			return err
		}
		return h(c, subjectCall{sub: sub, by: "subject"})
	}
}

func (s *Server) withAdminSubject(h subjectHandler) handlerFunc {
	return func(c *gin.Context) error {
		sub := records.Subject{ConsultationID: c.Param("cid"), ParticipantID: c.Param("pid")}
		if len(sub.ConsultationID) > 64 || len(sub.ParticipantID) > 64 {
			return errBadRequest("malformed id")
		}
		sub, err := s.rec.ResolveSubject(c.Request.Context(), sub)
		if err != nil {
			return err
		}
		return h(c, subjectCall{sub: sub, by: "staff:" + strconv.FormatInt(staffUser(c).ID, 10)})
	}
}

// subjectFile is a file or photo the subject sent in the call.
type subjectFile struct {
	FileID string `json:"fileId"`
	Size   int64  `json:"size"`
}

// subjectFiles lists the files participant pid uploaded in consultation cid
// (their content is the participants' ciphertext; only they can read it).
func (s *Server) subjectFiles(ctx context.Context, sub records.Subject) ([]subjectFile, error) {
	pids, err := s.rec.SubjectParticipants(ctx, sub)
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	for _, pid := range pids {
		mine["participant:"+pid] = true
	}
	fids, err := s.blobs.Files(sub.ConsultationID)
	if errors.Is(err, blobs.ErrBadID) {
		return []subjectFile{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []subjectFile{}
	for _, fid := range fids {
		up, err := s.blobs.Uploader(sub.ConsultationID, fid)
		if err != nil || !mine[up] {
			continue
		}
		f, size, err := s.blobs.Open(sub.ConsultationID, fid)
		if err != nil {
			continue
		}
		f.Close()
		out = append(out, subjectFile{FileID: fid, Size: size})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].FileID < out[j].FileID })
	return out, nil
}

// participations are the participant ids of subject sub (one, or more
// when they joined again with their personal link); on a records error
// just sub's own.
func (s *Server) participations(ctx context.Context, sub records.Subject) []string {
	pids, err := s.rec.SubjectParticipants(ctx, sub)
	if err != nil {
		s.log.WarnContext(ctx, "subject participations", "err", err)
		return []string{sub.ParticipantID}
	}
	return pids
}

func (s *Server) recRetention() records.Retention {
	return records.Retention{ContractsUntil: s.cfg.Retention.Contracts.After, ConsentsUntil: s.cfg.Retention.ConsentRecords.After}
}

// subjectExport is the machine-readable answer to an access request.
type subjectExport struct {
	Format      string    `json:"format"`
	GeneratedAt time.Time `json:"generatedAt"`
	Controller  string    `json:"controller"`
	records.SubjectData
	// Contracts are SubjectData's, each saying whether a copy can be sent
	// by e-mail (subject_mail.go).
	Contracts []subjectContract `json:"contracts"`
	Files     []subjectFile     `json:"files"`
	InCall    bool              `json:"inCall"`
	Feedback  feedbackInfo      `json:"feedback"`
	// QuestionsBefore label the answers given before joining.
	QuestionsBefore any `json:"questionsBefore"`
	// Restricted is true when kept records are restricted (after an
	// erasure request): used only to meet a legal duty until KeptUntil.
	Restricted bool `json:"restricted"`
	// Notes explain what is not in the export because it is never stored
	// or never linked to the subject, in German and English.
	Notes map[string][]string `json:"notes"`
}

type feedbackInfo struct {
	Questions any  `json:"questions"`
	Given     bool `json:"given"`
}

var exportNotes = map[string][]string{
	"de": {
		"Bild, Ton und Bildschirmfreigabe werden Ende-zu-Ende-verschlüsselt übertragen und nie aufgezeichnet oder gespeichert.",
		"Chatnachrichten und Dateien liegen nur als Ciphertext der Teilnehmenden vor, den der Server nicht lesen kann, und werden mit dem Ende der Beratung gelöscht.",
		"Das Zugriffsprotokoll speichert nur gekürzte IP-Adressen und Browserfamilien; es lässt sich Ihnen nicht zuordnen.",
		"Unterschriebene Verträge und Einwilligungsnachweise unterliegen gesetzlichen Aufbewahrungspflichten; auf Ihren Löschwunsch hin werden sie gesperrt (nur noch zur Erfüllung dieser Pflichten verwendet) und zum angegebenen Zeitpunkt gelöscht.",
	},
	"en": {
		"Picture, sound and screen sharing are end-to-end encrypted in transit and never recorded or stored.",
		"Chat messages and files exist only as the participants' ciphertext, which the server cannot read, and are deleted when the consultation ends.",
		"The access log keeps only shortened IP addresses and browser families; it cannot be linked to you.",
		"Signed contracts and proofs of consent are subject to legal retention duties; when you ask for erasure they are restricted (used only to meet those duties) and deleted at the time given.",
	},
}

func (s *Server) exportFor(ctx context.Context, sub records.Subject) (subjectExport, error) {
	data, err := s.rec.SubjectData(ctx, sub, s.recRetention())
	if err != nil {
		return subjectExport{}, err
	}
	files, err := s.subjectFiles(ctx, sub)
	if err != nil {
		return subjectExport{}, err
	}
	out := subjectExport{Format: "parley-subject-export/1", GeneratedAt: s.now().UTC(), Controller: s.cfg.Company.Name,
		SubjectData: data, Contracts: s.contractsOf(data), Files: files, Notes: exportNotes,
		Feedback:        feedbackInfo{Questions: questionsOrEmpty(s.cfg.Questions.After)},
		QuestionsBefore: questionsOrEmpty(s.cfg.Questions.Before)}
	for _, a := range data.Answers {
		if a.Phase == "after" {
			out.Feedback.Given = true
		}
	}
	for _, r := range append(append([]records.SubjectRecord{}, data.Consents...), data.Contracts...) {
		if r.Restricted {
			out.Restricted = true
		}
	}
	for _, pid := range s.participations(ctx, sub) {
		if s.hub.HasCustomer(signaling.ConsultationID(sub.ConsultationID), signaling.ParticipantID(pid)) {
			out.InCall = true
		}
	}
	return out, nil
}

// logSubjectRequest records a data-subject request and tells other
// systems of it (no personal data: ids, the kind, who asked).
func (s *Server) logSubjectRequest(ctx context.Context, sc subjectCall, kind string, detail any) error {
	if err := s.rec.LogSubjectRequest(ctx, sc.sub, kind, sc.by, detail); err != nil {
		return err
	}
	s.hooks.Emit(ctx, webhooks.Event{Type: webhooks.DataSubjectRequest, Consultation: sc.sub.ConsultationID,
		Data: map[string]any{"request": kind, "by": sc.by, "subject": sc.sub.ParticipantID}})
	return nil
}

// handleSubjectExport: GET .../my-data. ?download=1 sends it as a file.
func (s *Server) handleSubjectExport(c *gin.Context, sc subjectCall) error {
	ctx := c.Request.Context()
	out, err := s.exportFor(ctx, sc.sub)
	if err != nil {
		return err
	}
	if out.Customer == nil && len(out.Answers) == 0 && len(out.Consents) == 0 && len(out.Contracts) == 0 &&
		len(out.Files) == 0 && len(out.Requests) == 0 && !out.InCall && sc.by != "subject" {
		return records.ErrNotFound
	}
	// Logged as an access request when the data is handed out as a file
	// or to staff, not each time the customer's own view is refreshed.
	if c.Query("download") != "" || sc.by != "subject" {
		if err := s.logSubjectRequest(ctx, sc, "export", map[string]int{
			"answers": len(out.Answers), "consents": len(out.Consents), "contracts": len(out.Contracts), "files": len(out.Files)}); err != nil {
			return err
		}
	}
	c.Header("Cache-Control", "no-store")
	if c.Query("download") != "" {
		c.Header("Content-Disposition", `attachment; filename="parley-my-data-`+sc.sub.ParticipantID+`.json"`)
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// handleSubjectCorrect: PATCH .../my-data {"name": "..."}.
func (s *Server) handleSubjectCorrect(c *gin.Context, sc subjectCall) error {
	var req struct {
		Name string `json:"name"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	name, err := records.CleanText("name", req.Name, maxCustomerName)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	stored := true
	if err := s.rec.RenameCustomer(ctx, sc.sub.ConsultationID, sc.sub.ParticipantID, name); errors.Is(err, records.ErrNotFound) {
		stored = false
	} else if err != nil {
		return err
	}
	live := false
	for _, pid := range s.participations(ctx, sc.sub) {
		if pid != sc.sub.ParticipantID {
			if err := s.rec.RenameCustomer(ctx, sc.sub.ConsultationID, pid, name); err == nil {
				stored = true
			} else if !errors.Is(err, records.ErrNotFound) {
				return err
			}
		}
		if s.hub.RenameCustomer(ctx, signaling.ConsultationID(sc.sub.ConsultationID), signaling.ParticipantID(pid), name) {
			live = true
		}
	}
	if !stored && !live {
		return errConflictMsg("no name is stored any more (pre-join data is deleted when the consultation ends); signed contracts keep the name as signed")
	}
	if err := s.logSubjectRequest(ctx, sc, "correct", map[string]bool{"records": stored, "call": live}); err != nil {
		return err
	}
	out, err := s.exportFor(ctx, sc.sub)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, out)
	return nil
}

// handleSubjectErase: DELETE .../my-data. Deletes the subject's name,
// answers, files and live session (they leave the call); restricts signed
// contracts and consent records; answers what was done.
func (s *Server) handleSubjectErase(c *gin.Context, sc subjectCall) error {
	ctx := c.Request.Context()
	files, err := s.subjectFiles(ctx, sc.sub)
	if err != nil {
		return err
	}
	left := false
	for _, pid := range s.participations(ctx, sc.sub) {
		if s.hub.RemoveCustomer(ctx, signaling.ConsultationID(sc.sub.ConsultationID), signaling.ParticipantID(pid)) {
			left = true
		}
	}
	n := 0
	for _, f := range files {
		if err := s.blobs.Delete(sc.sub.ConsultationID, f.FileID); err != nil && !errors.Is(err, blobs.ErrNotFound) {
			return err
		}
		n++
	}
	er, err := s.rec.EraseSubject(ctx, sc.sub)
	if err != nil {
		return err
	}
	er.Deleted["files"] = n
	if left {
		er.Deleted["session"] = 1
	}
	if err := s.logSubjectRequest(ctx, sc, "erase", er); err != nil {
		return err
	}
	out, err := s.exportFor(ctx, sc.sub)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, gin.H{"deleted": er.Deleted, "restricted": er.Restricted, "remaining": out})
	return nil
}

// handleFeedback: POST /api/v1/my-data/feedback {"answers": {...}}, once,
// after the consultation.
func (s *Server) handleFeedback(c *gin.Context, sc subjectCall) error {
	var req struct {
		Answers map[string]string `json:"answers"`
	}
	if err := decodeJSON(c, &req, false); err != nil {
		return err
	}
	if len(s.cfg.Questions.After) == 0 {
		return errBadRequest("no questions are asked after the consultation")
	}
	answers, err := checkAnswers(s.cfg.Questions.After, req.Answers)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	if _, err := s.rec.CustomerByID(ctx, sc.sub.ConsultationID, sc.sub.ParticipantID); err != nil {
		// Feedback only from someone who took part (and has not erased).
		if len(s.mustConsents(ctx, sc.sub)) == 0 {
			return errForbidden("feedback is only possible for participants of the consultation")
		}
	}
	if err := s.rec.AddFeedback(ctx, sc.sub.ConsultationID, sc.sub.ParticipantID, answers); errors.Is(err, records.ErrAnswered) {
		return errConflictMsg("the questions were answered already")
	} else if err != nil {
		return err
	}
	c.Status(http.StatusNoContent)
	return nil
}

func (s *Server) mustConsents(ctx context.Context, sub records.Subject) []records.SubjectRecord {
	d, err := s.rec.SubjectData(ctx, sub, s.recRetention())
	if err != nil {
		return nil
	}
	var out []records.SubjectRecord
	for _, r := range d.Consents {
		if !r.Restricted {
			out = append(out, r)
		}
	}
	return out
}

// handleFindSubjects: GET /api/v1/admin/data-subjects?q=...
func (s *Server) handleFindSubjects(c *gin.Context) error {
	ms, err := s.rec.FindSubjects(c.Request.Context(), c.Query("q"))
	if err != nil {
		return err
	}
	if ms == nil {
		ms = []records.SubjectMatch{}
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"subjects": ms})
	return nil
}

func errConflictMsg(msg string) error { return &apiError{http.StatusConflict, "conflict", msg} }

// handleMyDataPage: GET /my-data, the data-subject page (its token stays
// in the URL fragment, which browsers never send).
func (s *Server) handleMyDataPage(c *gin.Context) error {
	return s.servePage(c, "my-data.html")
}

// handleDataRequestsPage: GET /admin/data-requests, admins' page for
// requests received by mail.
func (s *Server) handleDataRequestsPage(c *gin.Context) error {
	return s.serveStaffPage(c, "data-requests.html")
}

// handleSubjectContract: GET …/my-data/contracts/{docId}: the PDF of a
// contract the subject signed (in any of their participations), its
// latest revision, as an attachment; for as long as it is kept (also when
// restricted: the subject's own right of access). 404 for any other
// document. The download is in the contract's audit trail.
func (s *Server) handleSubjectContract(c *gin.Context, sc subjectCall) error {
	if s.signer == nil {
		return errNoSigner
	}
	ctx := c.Request.Context()
	data, err := s.rec.SubjectData(ctx, sc.sub, s.recRetention())
	if err != nil {
		return err
	}
	docID := c.Param("docId")
	mine := false
	for _, r := range data.Contracts {
		if r.ID == docID {
			mine = true
		}
	}
	if !mine {
		return records.ErrNotFound
	}
	d, f, size, err := s.signer.Open(ctx, sc.sub.ConsultationID, docID)
	if err != nil {
		return err
	}
	defer f.Close()
	if c.Request.Method != http.MethodHead {
		if err := s.rec.AppendAudit(ctx, d.ID, "downloaded", "participant:"+sc.sub.ParticipantID,
			map[string]any{"revision": d.Revision, "sha256": d.CurrentSHA256, "via": "my-data"}); err != nil {
			return err
		}
	}
	s.servePDF(c, d, f, size, true)
	return nil
}
