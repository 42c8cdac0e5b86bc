package web

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/mail"
	"github.com/parley-video/parley/outbox"
	"github.com/parley-video/parley/records"
)

// A copy of a signed contract by e-mail (API.md "My data"): only on the
// customer's explicit request, only when the contract is signed by
// everyone, only to the address the customer gave by answering a
// configured question of type email (as long as that answer is kept), and
// only when the server sends e-mail (mail.enabled). The mail is queued in
// the outbox (sealed at rest) once per document revision and subject: a
// second request answers that it was queued already. The contract's audit
// trail records it without the address; logs never name the address.

// maxMailPDF bounds the PDF sent by e-mail: base64 makes it a third
// larger, and mail servers commonly refuse messages over 20–25 MB.
const maxMailPDF = 15 << 20

// subjectContract is one contract in an export, with whether a copy can
// be sent by e-mail now.
type subjectContract struct {
	records.SubjectRecord
	// CanEmail: completely signed, an address was given, e-mail is on.
	CanEmail bool `json:"canEmail"`
}

// mailOn reports whether the server sends e-mail.
func (s *Server) mailOn() bool { return s.mailOut != nil && s.cfg.Mail.Enabled }

// emailCopyOffered: e-mail is on and a question of type email is asked
// before joining (the privacy notice then says what the address is used
// for).
func (s *Server) emailCopyOffered() bool {
	if !s.mailOn() {
		return false
	}
	for _, q := range s.cfg.Questions.Before {
		if q.Type == "email" {
			return true
		}
	}
	return false
}

// subjectEmail is the address the subject gave by answering a question
// of type email before joining (the latest such answer), or "".
func (s *Server) subjectEmail(data records.SubjectData) string {
	isEmail := map[string]bool{}
	for _, q := range s.cfg.Questions.Before {
		if q.Type == "email" {
			isEmail[q.ID] = true
		}
	}
	addr := ""
	for _, a := range data.Answers { // oldest first
		if a.Phase == "before" && isEmail[a.QuestionID] {
			if clean, err := records.CleanEmail(a.Value); err == nil {
				addr = clean
			}
		}
	}
	return addr
}

func complete(r records.SubjectRecord) bool {
	d, ok := r.Detail.(map[string]string)
	return ok && d["complete"] == "true"
}

// contractsOf are data's contracts with their CanEmail flag.
func (s *Server) contractsOf(data records.SubjectData) []subjectContract {
	can := s.mailOn() && s.subjectEmail(data) != ""
	out := make([]subjectContract, 0, len(data.Contracts))
	for _, r := range data.Contracts {
		out = append(out, subjectContract{SubjectRecord: r, CanEmail: can && complete(r)})
	}
	return out
}

// subjectLang is the language of the subject's latest consent, or "de".
func subjectLang(data records.SubjectData) string {
	lang := "de"
	for _, r := range data.Consents {
		if d, ok := r.Detail.(map[string]string); ok && (d["lang"] == "de" || d["lang"] == "en") {
			lang = d["lang"]
		}
	}
	return lang
}

// handleSubjectContractMail: POST …/my-data/contracts/{docId}/email
// {"lang": "de"|"en"} (optional; default the language of the consent):
// queues a copy of the signed contract to the address on record. 202
// {"status": "queued"} the first time for this revision, 200 {"status":
// "already-queued"} after; 409 mail_off, no_email_address, not_signed;
// 413 too_large; 404 for a document that is not the subject's.
func (s *Server) handleSubjectContractMail(c *gin.Context, sc subjectCall) error {
	if s.signer == nil {
		return errNoSigner
	}
	var req struct {
		Lang string `json:"lang"`
	}
	if err := decodeJSON(c, &req, true); err != nil {
		return err
	}
	if req.Lang != "" && req.Lang != "de" && req.Lang != "en" {
		return errBadRequest(`field "lang" must be "de" or "en"`)
	}
	ctx := c.Request.Context()
	data, err := s.rec.SubjectData(ctx, sc.sub, s.recRetention())
	if err != nil {
		return err
	}
	docID := c.Param("docId")
	var rec *records.SubjectRecord
	for i, r := range data.Contracts {
		if r.ID == docID {
			rec = &data.Contracts[i]
		}
	}
	if rec == nil {
		return records.ErrNotFound
	}
	if !s.mailOn() {
		return &apiError{http.StatusConflict, "mail_off", "this service does not send e-mail; download the contract instead"}
	}
	to := s.subjectEmail(data)
	if to == "" {
		return &apiError{http.StatusConflict, "no_email_address", "no e-mail address was given (or it is no longer kept); download the contract instead"}
	}
	if !complete(*rec) {
		return &apiError{http.StatusConflict, "not_signed", "the contract is not yet signed by everyone"}
	}
	d, f, size, err := s.signer.Open(ctx, sc.sub.ConsultationID, docID)
	if err != nil {
		return err
	}
	defer f.Close()
	if size > maxMailPDF {
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", "the contract is too large to send by e-mail; download it instead"}
	}
	pdf, err := io.ReadAll(io.LimitReader(f, maxMailPDF+1))
	if err != nil {
		return fmt.Errorf("read contract: %w", err)
	}
	lang := req.Lang
	if lang == "" {
		lang = subjectLang(data)
	}
	added, err := s.queueContractCopy(ctx, sc, d, pdf, to, lang)
	if err != nil {
		return err
	}
	c.Header("Cache-Control", "no-store")
	if !added {
		c.JSON(http.StatusOK, gin.H{"status": "already-queued"})
		return nil
	}
	c.JSON(http.StatusAccepted, gin.H{"status": "queued"})
	return nil
}

// queueContractCopy queues the mail once per document revision and
// subject, and records it in the audit trail when it was queued.
func (s *Server) queueContractCopy(ctx context.Context, sc subjectCall, d records.Document, pdf []byte, to, lang string) (bool, error) {
	name := strings.TrimSuffix(d.Name, ".pdf")
	file := name
	if d.Revision > 0 {
		file += "-signed"
	}
	file += ".pdf"
	company := s.cfg.Mail.FromName
	if company == "" {
		company = s.cfg.Company.Name
	}
	key := fmt.Sprintf("mail:copy:%s:r%d:%s.%s", d.ID, d.Revision, sc.sub.ConsultationID, sc.sub.ParticipantID)
	m := mail.ContractCopy{Lang: lang, Company: company, FromAddr: s.cfg.Mail.From, To: to, Document: name,
		FileName: file, PDF: pdf, Date: s.now(), Key: key}.Message()
	raw, err := m.Bytes()
	if err != nil {
		return false, err
	}
	payload, err := mail.Payload(mail.Envelope{From: s.cfg.Mail.From, To: to, Data: raw})
	if err != nil {
		return false, err
	}
	added, err := s.mailOut.Enqueue(ctx, outbox.Item{Kind: mail.Kind, Key: key, Payload: payload})
	if err != nil {
		return false, err
	}
	if added {
		if err := s.rec.AppendAudit(ctx, d.ID, "emailed", "participant:"+sc.sub.ParticipantID,
			map[string]any{"revision": d.Revision, "sha256": d.CurrentSHA256, "via": "my-data", "requestedBy": sc.by}); err != nil {
			return true, err
		}
	}
	return added, nil
}
