package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/signature"
	"github.com/parley-video/parley/webhooks"
)

// Documents presented for signature in a call (API.md "Documents and
// signatures"). The PDFs are not end-to-end encrypted: the server signs
// them. Every change is pushed to the call as a "document" message
// (signaling/PROTOCOL.md).

// Signer is what web needs from the signing service; *contracts.Service
// implements it.
type Signer interface {
	Present(ctx context.Context, p contracts.Presentation) (records.Document, error)
	Sign(ctx context.Context, sg contracts.Signing) (records.Document, error)
	BindCustomerField(ctx context.Context, cid, docID, field, signerRef, actor string) error
	Open(ctx context.Context, cid, docID string) (records.Document, io.ReadSeekCloser, int64, error)
	Withdraw(ctx context.Context, cid, docID, actor string) (records.Document, time.Time, error)
}

var _ Signer = (*contracts.Service)(nil)

// maxCaptureBody bounds a signature request (the pen data).
const maxCaptureBody = signature.MaxCaptureBytes

var (
	errNoSigner   = &apiError{http.StatusServiceUnavailable, "unavailable", "signing is not configured on this server"}
	errNotAdvisor = errForbidden("only an advisor of the consultation may present documents")
)

func (s *Server) documentRoutes(e *gin.Engine) {
	g := e.Group("/api/v1/consultations/:id/documents", s.checkOrigin)
	g.POST("", s.api(s.handlePresent))
	g.GET("", s.api(s.handleListDocuments))
	g.GET("/:docId", s.api(s.handleGetDocument))
	g.GET("/:docId/pdf", s.api(s.handleDocumentPDF))
	g.HEAD("/:docId/pdf", s.api(s.handleDocumentPDF))
	g.POST("/:docId/sign/:field", s.api(s.handleSign))
	g.POST("/:docId/sign/:field/typed", s.api(s.handleSignTyped))
	g.POST("/:docId/progress", s.api(s.handleProgress))
	g.POST("/:docId/withdraw", s.api(s.handleWithdraw))
}

// documentJSON is API.md's Document.
type documentJSON struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Pages     int    `json:"pages"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	State     string `json:"state"`
	Revision  int    `json:"revision"`
	CreatedAt string `json:"createdAt"`
	SignedAt  string `json:"signedAt,omitempty"`
	// RestrictedAt: a signer asked for erasure; the contract is kept only
	// for its legal retention (API.md "My data").
	RestrictedAt string `json:"restrictedAt,omitempty"`
	// WithdrawnAt: the advisor withdrew the document (state "withdrawn").
	WithdrawnAt string      `json:"withdrawnAt,omitempty"`
	Fields      []fieldJSON `json:"fields"`
	PDFURL      string      `json:"pdfUrl"`
	DownloadURL string      `json:"downloadUrl"`
}

type fieldJSON struct {
	Name       string `json:"name"`
	Signer     string `json:"signer"`
	Signed     bool   `json:"signed"`
	SignerName string `json:"signerName,omitempty"`
	SignedAt   string `json:"signedAt,omitempty"`
}

// rfc3339opt is rfc3339, or "" for the zero time.
func rfc3339opt(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return rfc3339(t)
}

// toDocumentJSON is d for the API; withdrawn (zero: not withdrawn) is
// when an advisor withdrew it (state "withdrawn").
func toDocumentJSON(d records.Document, withdrawn time.Time) documentJSON {
	pdf := "/api/v1/consultations/" + d.ConsultationID + "/documents/" + d.ID + "/pdf"
	j := documentJSON{
		ID: d.ID, Name: d.Name, Pages: d.Pages, Size: d.Size, SHA256: d.SHA256, State: string(d.State),
		Revision: d.Revision, CreatedAt: rfc3339(d.CreatedAt), SignedAt: rfc3339opt(d.SignedAt), RestrictedAt: rfc3339opt(d.RestrictedAt),
		Fields: make([]fieldJSON, len(d.Fields)), PDFURL: pdf, DownloadURL: pdf + "?download=1",
	}
	for i, f := range d.Fields {
		j.Fields[i] = fieldJSON{Name: f.Name, Signer: f.Signer, Signed: f.Signed(), SignerName: f.SignerName, SignedAt: rfc3339opt(f.SignedAt)}
	}
	if !withdrawn.IsZero() {
		j.State, j.WithdrawnAt = "withdrawn", rfc3339(withdrawn)
	}
	return j
}

// documentOut is d for the API, with its withdrawal read from the audit
// trail.
func (s *Server) documentOut(ctx context.Context, d records.Document) (documentJSON, error) {
	trail, err := s.rec.AuditTrail(ctx, d.ID)
	if err != nil {
		return documentJSON{}, err
	}
	return toDocumentJSON(d, contracts.WithdrawnAt(trail)), nil
}

// documentMsg and progressMsg are the pushed protocol messages.
type documentMsg struct {
	Type     string       `json:"type"` // "document"
	Document documentJSON `json:"document"`
}

type progressMsg struct {
	Type     string `json:"type"` // "document_progress"
	Doc      string `json:"doc"`
	From     string `json:"from"`
	Page     int    `json:"page"`
	Pages    int    `json:"pages"`
	Activity string `json:"activity"`
}

// signFailedMsg tells the call that a signing request failed on the
// server (PROTOCOL.md "document_sign_failed").
type signFailedMsg struct {
	Type  string `json:"type"` // "document_sign_failed"
	Doc   string `json:"doc"`
	Field string `json:"field"`
	From  string `json:"from"`
	Code  string `json:"code"`
}

func (s *Server) pushDocument(d records.Document, withdrawn time.Time) {
	s.hub.Notify(signaling.ConsultationID(d.ConsultationID), signaling.ToCall, documentMsg{Type: "document", Document: toDocumentJSON(d, withdrawn)})
}

// participantRef is a caller id as the protocol names participants: the
// participant id, or "staff:<id>".
func participantRef(id string) string {
	if rest, ok := strings.CutPrefix(id, "participant:"); ok {
		return rest
	}
	return id
}

// parseSigners reads "customer", "customer,advisor" (or a list).
func parseSigners(list []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, item := range list {
		for _, v := range strings.Split(item, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				continue
			}
			if v != records.SignerCustomer && v != records.SignerAdvisor {
				return nil, errBadRequest(fmt.Sprintf("signer %q is not customer or advisor", v))
			}
			if !seen[v] {
				seen[v] = true
				out = append(out, v)
			}
		}
	}
	if len(out) == 0 {
		out = []string{records.SignerCustomer}
	}
	return out, nil
}

// parseFieldBoxes reads the advisor's signature boxes of an upload:
// box.<field>=<page>,<x>,<y>,<w>,<h> (PDF points, lower-left corner).
// Whether they fit the document is checked by contracts.Present.
func parseFieldBoxes(q url.Values) (map[string]signature.FieldBox, error) {
	var out map[string]signature.FieldBox
	for k, vs := range q {
		field, ok := strings.CutPrefix(k, "box.")
		if !ok {
			continue
		}
		bad := errBadRequest(fmt.Sprintf("%s must be <page>,<x>,<y>,<width>,<height> in PDF points", k))
		if len(vs) != 1 {
			return nil, bad
		}
		parts := strings.Split(vs[0], ",")
		if len(parts) != 5 {
			return nil, bad
		}
		page, err := strconv.Atoi(strings.TrimSpace(parts[0]))
		if err != nil {
			return nil, bad
		}
		var f [4]float64
		for i, s := range parts[1:] {
			if f[i], err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
				return nil, bad
			}
		}
		if out == nil {
			out = map[string]signature.FieldBox{}
		}
		out[field] = signature.FieldBox{Page: page, Rect: signature.Rect{X: f[0], Y: f[1], W: f[2], H: f[3]}}
	}
	return out, nil
}

// presentBody is the JSON form of POST …/documents (built-in template).
type presentBody struct {
	Template string   `json:"template"`
	Title    string   `json:"title"`
	Signers  []string `json:"signers"`
}

// handlePresent: POST /api/v1/consultations/:id/documents (advisor): a PDF
// body, or JSON naming the built-in template.
func (s *Server) handlePresent(c *gin.Context) error {
	if s.signer == nil {
		return errNoSigner
	}
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	if !who.advisor {
		return errNotAdvisor
	}
	ctx := c.Request.Context()
	mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type"))
	var p contracts.Presentation
	switch mt {
	case "application/pdf", "application/octet-stream":
		limit := s.cfg.Signature.MaxPDFBytes
		if c.Request.ContentLength > limit {
			return pdfTooLarge(limit)
		}
		body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return pdfTooLarge(limit)
		}
		if err != nil {
			return errBadRequest("could not read the upload")
		}
		signers, err := parseSigners(c.QueryArray("signers"))
		if err != nil {
			return err
		}
		boxes, err := parseFieldBoxes(c.Request.URL.Query())
		if err != nil {
			return err
		}
		p = contracts.Presentation{Name: c.Query("name"), PDF: body, Signers: signers, Place: true, Boxes: boxes}
	case "application/json":
		var b presentBody
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, maxBodyBytes)
		if err := decodeJSON(c, &b, false); err != nil {
			return err
		}
		if b.Template != "contract" {
			return errBadRequest(`template must be "contract"`)
		}
		signers, err := parseSigners(b.Signers)
		if err != nil {
			return err
		}
		title, err := records.CleanText("title", b.Title, records.MaxTitleLen)
		if err != nil {
			return err
		}
		if title == "" {
			title = "Vertrag"
		}
		pdf, err := signature.ContractPDF(contractTemplate(title, s.cfg.Company.Name, who.name, signers, s.now()))
		if err != nil {
			return fmt.Errorf("contract template: %w", err)
		}
		p = contracts.Presentation{Name: title + ".pdf", PDF: pdf, Signers: signers}
	default:
		return &apiError{http.StatusUnsupportedMediaType, "bad_request", "send application/pdf, or application/json naming a template"}
	}
	p.ConsultationID, p.CreatedBy, p.Actor = who.con.ID, who.userID, who.id
	d, err := s.signer.Present(ctx, p)
	if err != nil {
		return err
	}
	// Presented while one customer is in the call: the customer's field is
	// theirs. With several, it goes to the first who starts signing.
	if cs := s.hub.JoinedCustomers(signaling.ConsultationID(who.con.ID)); len(cs) == 1 {
		for _, f := range d.Fields {
			if f.Signer == records.SignerCustomer {
				if err := s.signer.BindCustomerField(ctx, who.con.ID, d.ID, f.Name, "participant:"+string(cs[0]), who.id); err != nil {
					return err
				}
			}
		}
	}
	s.pushDocument(d, time.Time{})
	signers := make([]string, 0, len(d.Fields))
	for _, f := range d.Fields {
		signers = append(signers, f.Signer)
	}
	s.hooks.Emit(ctx, webhooks.Event{Type: webhooks.DocumentPresented, Consultation: d.ConsultationID, Once: d.ID,
		Data:     map[string]any{"document": d.ID, "pages": d.Pages, "sha256": d.SHA256, "signers": signers},
		Personal: map[string]any{"name": d.Name}})
	c.JSON(http.StatusCreated, toDocumentJSON(d, time.Time{}))
	return nil
}

// contractTemplate fills the built-in contract for a presentation.
func contractTemplate(title, company, advisor string, signers []string, now time.Time) signature.ContractTemplate {
	t := signature.ContractTemplate{
		Title: title,
		Parties: []signature.Party{
			{Role: "Anbieter", Name: company},
			{Role: "Kunde / Kundin", Name: "siehe Unterschrift"},
		},
		Clauses: []signature.Clause{
			{Heading: "Gegenstand", Text: "Gegenstand dieses Vertrags ist die in der Videoberatung besprochene Leistung von " + company + " zu den dort genannten Bedingungen."},
			{Heading: "Beratung", Text: "Die Parteien haben den Vertrag in der Videoberatung gemeinsam durchgesehen. Der Kunde hatte Gelegenheit, Fragen zu stellen."},
			{Heading: "Widerruf", Text: "Der Kunde kann seine Vertragserklärung innerhalb von 14 Tagen ohne Angabe von Gründen in Textform widerrufen."},
			{Heading: "Unterschrift", Text: "Die Parteien unterschreiben handschriftlich am Bildschirm. Die Schreibdynamik der Unterschrift wird verschlüsselt für eine unabhängige Treuhandstelle im Dokument gespeichert."},
			{Heading: "Datenschutz", Text: "Personenbezogene Daten werden nach den Datenschutzhinweisen von " + company + " verarbeitet."},
		},
		Date: now,
	}
	if advisor != "" {
		t.Parties[0].Address = "vertreten durch " + advisor
	}
	for _, who := range signers {
		if who == records.SignerAdvisor {
			t.Signatories = append(t.Signatories, "Für "+company)
		} else {
			t.Signatories = append(t.Signatories, "Kunde / Kundin")
		}
	}
	return t
}

func pdfTooLarge(limit int64) error {
	return &apiError{http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("the PDF is too large (at most %d MiB)", limit>>20)}
}

// handleListDocuments: GET /api/v1/consultations/:id/documents.
func (s *Server) handleListDocuments(c *gin.Context) error {
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	ds, err := s.rec.Documents(c.Request.Context(), who.con.ID)
	if err != nil {
		return err
	}
	out := make([]documentJSON, len(ds))
	for i, d := range ds {
		if out[i], err = s.documentOut(c.Request.Context(), d); err != nil {
			return err
		}
	}
	c.JSON(http.StatusOK, gin.H{"documents": out})
	return nil
}

// handleGetDocument: GET /api/v1/consultations/:id/documents/:docId.
func (s *Server) handleGetDocument(c *gin.Context) error {
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	d, err := s.rec.DocumentByID(c.Request.Context(), who.con.ID, c.Param("docId"))
	if err != nil {
		return err
	}
	j, err := s.documentOut(c.Request.Context(), d)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, j)
	return nil
}

// handleDocumentPDF: GET /api/v1/consultations/:id/documents/:docId/pdf
// (?download=1 as an attachment).
func (s *Server) handleDocumentPDF(c *gin.Context) error {
	if s.signer == nil {
		return errNoSigner
	}
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	ctx := c.Request.Context()
	d, f, size, err := s.signer.Open(ctx, who.con.ID, c.Param("docId"))
	if err != nil {
		return err
	}
	defer f.Close()
	download := c.Query("download") == "1"
	if download && c.Request.Method != http.MethodHead {
		if err := s.rec.AppendAudit(ctx, d.ID, "downloaded", who.id, map[string]any{"revision": d.Revision, "sha256": d.CurrentSHA256}); err != nil {
			return err
		}
	}
	s.servePDF(c, d, f, size, download)
	return nil
}

// servePDF streams a document revision: the signed one is named
// "<name>-signed.pdf"; download makes it an attachment.
func (s *Server) servePDF(c *gin.Context, d records.Document, f io.Reader, size int64, download bool) {
	name := strings.TrimSuffix(d.Name, ".pdf")
	if d.Revision > 0 {
		name += "-signed"
	}
	name += ".pdf"
	disp := "inline"
	if download {
		disp = "attachment"
	}
	h := c.Writer.Header()
	h.Set("Content-Type", "application/pdf")
	h.Set("Content-Length", strconv.FormatInt(size, 10))
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", disp+`; filename="`+asciiFileName(name)+`"; filename*=UTF-8''`+url.PathEscape(name))
	c.Status(http.StatusOK)
	if c.Request.Method == http.MethodHead {
		return
	}
	if _, err := io.Copy(c.Writer, f); err != nil {
		s.log.DebugContext(c.Request.Context(), "document download cut short", "route", routeOf(c))
	}
}

// asciiFileName is name with everything but safe ASCII replaced, for the
// plain filename parameter.
func asciiFileName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_ ()", r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "document.pdf"
	}
	return b.String()
}

// handleSign: POST /api/v1/consultations/:id/documents/:docId/sign/:field,
// body: the capture JSON.
func (s *Server) handleSign(c *gin.Context) error {
	if s.signer == nil {
		return errNoSigner
	}
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" {
		return &apiError{http.StatusUnsupportedMediaType, "bad_request", "send the capture as application/json"}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxCaptureBody))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{http.StatusRequestEntityTooLarge, "too_large", "the signature data is too large"}
	}
	if err != nil {
		return errBadRequest("could not read the request")
	}
	err = s.sign(c, who, contracts.Signing{Capture: body})
	clear(body)
	return err
}

// typedSignBody is the body of a typed signature (signature/CAPTURE.md,
// "Typed signatures").
type typedSignBody struct {
	TypedName string `json:"typedName"`
	Confirmed bool   `json:"confirmed"`
}

// handleSignTyped: POST /api/v1/consultations/:id/documents/:docId/sign/:field/typed,
// body {"typedName": "…", "confirmed": true}: the accessible alternative to
// drawing. The name and the confirmation are checked by the contracts
// service (422 implausible with a reason, like pen data).
func (s *Server) handleSignTyped(c *gin.Context) error {
	if s.signer == nil {
		return errNoSigner
	}
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	var b typedSignBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	return s.sign(c, who, contracts.Signing{Method: signature.MethodTyped, TypedName: b.TypedName, Confirmed: b.Confirmed})
}

// sign signs the field of the request's document for who, with the mark
// in sg (pen data or a typed name), and tells the call.
func (s *Server) sign(c *gin.Context, who fileCaller, sg contracts.Signing) error {
	role := records.SignerCustomer
	if who.advisor {
		role = records.SignerAdvisor
	}
	name := who.name
	if name == "" {
		name = "Kunde / Customer"
	}
	sg.ConsultationID, sg.DocumentID, sg.Field = who.con.ID, c.Param("docId"), c.Param("field")
	sg.As, sg.SignerName, sg.SignerRef = role, name, who.id
	d, err := s.signer.Sign(c.Request.Context(), sg)
	if err != nil {
		// Both sides are told (the advisor's "signing …" must not hang),
		// except for a mark the checks refused (the signer stays at the
		// pad and tries again) and for a document or field that does not
		// exist (nothing to tell about, and no made-up ids pushed into the
		// call).
		if p := classify(err); p.code != "implausible" && !errors.Is(err, records.ErrNotFound) {
			s.hub.Notify(signaling.ConsultationID(who.con.ID), signaling.ToCall, signFailedMsg{
				Type: "document_sign_failed", Doc: c.Param("docId"), Field: c.Param("field"), From: participantRef(who.id), Code: p.code,
			})
		}
		return err
	}
	s.pushDocument(d, time.Time{})
	method := sg.Method
	if method == signature.MethodDrawn {
		method = "drawn"
	}
	s.emitSigned(c.Request.Context(), d, c.Param("field"), role, name, method)
	c.JSON(http.StatusOK, toDocumentJSON(d, time.Time{}))
	return nil
}

// emitSigned tells other systems that a field was signed (and whether
// the contract is complete now).
func (s *Server) emitSigned(ctx context.Context, d records.Document, field, role, name, method string) {
	s.hooks.Emit(ctx, webhooks.Event{Type: webhooks.ContractSigned, Consultation: d.ConsultationID,
		Once: d.ID + "/" + field,
		Data: map[string]any{"document": d.ID, "field": field, "signer": role, "method": method, "revision": d.Revision,
			"complete": !d.SignedAt.IsZero(), "sha256": d.CurrentSHA256},
		Personal: map[string]any{"signerName": name}})
}

// handleWithdraw: POST /api/v1/consultations/:id/documents/:docId/withdraw
// (an advisor of the consultation): the document can no longer be signed;
// the call is told by a "document" message with state "withdrawn".
func (s *Server) handleWithdraw(c *gin.Context) error {
	if s.signer == nil {
		return errNoSigner
	}
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	if !who.advisor {
		return errForbidden("only an advisor of the consultation may withdraw documents")
	}
	d, at, err := s.signer.Withdraw(c.Request.Context(), who.con.ID, c.Param("docId"), who.id)
	if err != nil {
		return err
	}
	s.pushDocument(d, at)
	c.JSON(http.StatusOK, toDocumentJSON(d, at))
	return nil
}

// progressBody is POST …/progress.
type progressBody struct {
	Page     int    `json:"page"`
	Pages    int    `json:"pages"`
	Activity string `json:"activity"`
}

// handleProgress: POST /api/v1/consultations/:id/documents/:docId/progress:
// where a signer is (page, reading or signing); relayed to the advisors.
func (s *Server) handleProgress(c *gin.Context) error {
	who, err := s.callCaller(c)
	if err != nil {
		return err
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, 1024)
	var b progressBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	switch b.Activity {
	case "reading", "signing", "closed":
	default:
		return errBadRequest(`activity must be "reading", "signing" or "closed"`)
	}
	ctx := c.Request.Context()
	d, err := s.rec.DocumentByID(ctx, who.con.ID, c.Param("docId"))
	if err != nil {
		return err
	}
	if b.Pages != d.Pages || b.Page < 1 || b.Page > d.Pages {
		return errBadRequest(fmt.Sprintf("page must be 1..%d and pages %d", d.Pages, d.Pages))
	}
	// A customer who starts signing is bound to the customer's field: no
	// other customer of the call can sign it after that.
	if b.Activity == "signing" && !who.advisor && s.signer != nil {
		for _, f := range d.Fields {
			if f.Signer == records.SignerCustomer && !f.Signed() {
				if err := s.signer.BindCustomerField(ctx, who.con.ID, d.ID, f.Name, who.id, who.id); err != nil {
					return err
				}
			}
		}
	}
	if b.Page == d.Pages {
		// One "viewed" each, whichever node the viewer's requests reach.
		if _, err := s.rec.AppendViewedOnce(ctx, d.ID, who.id, d.Revision, map[string]any{"pages": d.Pages, "revision": d.Revision, "sha256": d.CurrentSHA256}); err != nil {
			return err
		}
	}
	from := participantRef(who.id)
	s.hub.Notify(signaling.ConsultationID(who.con.ID), signaling.ToAdvisors, progressMsg{
		Type: "document_progress", Doc: d.ID, From: from, Page: b.Page, Pages: b.Pages, Activity: b.Activity,
	})
	c.Status(http.StatusNoContent)
	return nil
}

// classifySigning maps the signing errors (the classify switch's part for
// documents and signatures).
func classifySigning(err error) (problem, bool) {
	if fb, ok := errors.AsType[*signature.FieldBoxError](err); ok {
		return problem{status: http.StatusBadRequest, code: "bad_field_box", message: fb.Error()}, true
	}
	var rej *signature.RejectError
	switch {
	case errors.As(err, &rej):
		return problem{status: http.StatusUnprocessableEntity, code: "implausible", reason: rej.Code,
			message: "the signature was not accepted: " + rej.Detail}, true
	case errors.Is(err, contracts.ErrPDFBusy):
		return problem{status: http.StatusServiceUnavailable, code: "busy", retryAfter: 5,
			message: "too many PDFs are being processed; try again in a few seconds"}, true
	case errors.Is(err, contracts.ErrLockUnavailable):
		return problem{status: http.StatusServiceUnavailable, code: "unavailable", retryAfter: 5,
			message: "signing is temporarily unavailable; try again in a few seconds"}, true
	case errors.Is(err, contracts.ErrPDFUnsafe):
		return problem{status: http.StatusUnprocessableEntity, code: "pdf_too_complex",
			message: "the PDF could not be processed safely: it is too complex or damaged"}, true
	case errors.Is(err, contracts.ErrPresentSigned):
		return problem{status: http.StatusUnprocessableEntity, code: "pdf_signed",
			message: "this PDF already carries signatures; a signed contract is countersigned in the consultation it was signed in, not uploaded again"}, true
	case errors.Is(err, signature.ErrNoRoom):
		return problem{status: http.StatusUnprocessableEntity, code: "no_room",
			message: "the last pages have no free space for the signature fields that would not touch text; place the fields yourself"}, true
	case errors.Is(err, signature.ErrPDFEncrypted):
		return problem{status: http.StatusUnprocessableEntity, code: "pdf_encrypted",
			message: "the PDF is encrypted or password-protected; upload it without protection"}, true
	case errors.Is(err, signature.ErrPDFTooLarge):
		return problem{status: http.StatusRequestEntityTooLarge, code: "too_large", message: "the PDF is too large"}, true
	case errors.Is(err, signature.ErrPDFMalformed):
		return problem{status: http.StatusUnprocessableEntity, code: "bad_pdf", message: "this file is not a readable PDF"}, true
	case errors.Is(err, signature.ErrCaptureMalformed), errors.Is(err, signature.ErrCaptureTooLarge),
		errors.Is(err, signature.ErrCaptureVersion):
		return problem{status: http.StatusUnprocessableEntity, code: "implausible", reason: "bad_capture",
			message: "the signature data is malformed"}, true
	case errors.Is(err, contracts.ErrNotYourField):
		return problem{status: http.StatusForbidden, code: "forbidden", message: "this signature field is for someone else"}, true
	case errors.Is(err, contracts.ErrWithdrawn):
		return problem{status: http.StatusGone, code: "withdrawn", message: "the advisor has withdrawn this document"}, true
	case errors.Is(err, contracts.ErrContractSigned):
		return problem{status: http.StatusConflict, code: "contract_signed", message: "a contract signed by everyone cannot be withdrawn"}, true
	case errors.Is(err, contracts.ErrAlreadySigned):
		return problem{status: http.StatusConflict, code: "conflict", message: "this field has been signed already"}, true
	}
	return problem{}, false
}
