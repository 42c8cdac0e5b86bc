package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
)

// The back office (API.md "Contracts and verification"): signed contracts
// with search, their audit trails, and the one verification behind the
// page, this API and `parley verify`. Back-office staff and admins see
// every contract; advisors only the ones they presented.

// Verifier checks PDFs; *contracts.Verifier implements it.
type Verifier interface {
	Verify(ctx context.Context, pdf []byte) (*contracts.Verdict, error)
}

var _ Verifier = (*contracts.Verifier)(nil)

func (s *Server) backofficeRoutes(staff *gin.RouterGroup, e *gin.Engine) {
	g := staff.Group("/contracts")
	g.GET("", s.api(s.handleListContracts))
	g.GET("/:docId", s.api(s.handleGetContract))
	g.GET("/:docId/pdf", s.api(s.handleContractPDF))
	g.GET("/:docId/audit", s.api(s.handleContractAudit))
	g.GET("/:docId/verification", s.api(s.handleVerifyContract))
	// Uploads of any PDF to verify: outside the 64 KiB body limit.
	e.POST("/api/v1/verify", s.checkOrigin, s.requireStaff, s.checkCSRF, s.api(s.handleVerifyUpload))
	e.GET("/backoffice", s.page(s.handleBackofficePage))
}

// contractJSON is API.md's Contract.
type contractJSON struct {
	documentJSON
	ConsultationID    string `json:"consultationId"`
	ConsultationTitle string `json:"consultationTitle"`
	Advisor           string `json:"advisor"`
	CurrentSHA256     string `json:"currentSha256"`
	CurrentSize       int64  `json:"currentSize"`
}

func toContractJSON(c records.Contract) contractJSON {
	j := contractJSON{documentJSON: toDocumentJSON(c.Document, c.FlaggedAt), ConsultationID: c.ConsultationID,
		ConsultationTitle: c.ConsultationTitle, Advisor: c.AdvisorName, CurrentSHA256: c.CurrentSHA256, CurrentSize: c.CurrentSize}
	j.PDFURL = "/api/v1/contracts/" + c.ID + "/pdf"
	j.DownloadURL = j.PDFURL + "?download=1"
	return j
}

// seesAll: back office and admins see every contract.
func seesAll(u records.User) bool {
	return u.Role == records.RoleBackoffice || u.Role == records.RoleAdmin
}

// handleListContracts: GET /api/v1/contracts?q=&advisor=&from=&to=&state=
func (s *Server) handleListContracts(c *gin.Context) error {
	u := staffUser(c)
	// Withdrawn is an audit event on an open document (contracts.Withdraw).
	f := records.ContractFilter{Query: c.Query("q"), Advisor: c.Query("advisor"), FlagKind: contracts.AuditWithdrawn}
	if !seesAll(u) {
		f.AdvisorID = u.ID
	}
	switch st := c.Query("state"); st {
	case "", "all":
	case string(records.DocOpen):
		f.State, f.Flagged = records.DocOpen, -1
	case "withdrawn":
		f.State, f.Flagged = records.DocOpen, 1
	case string(records.DocSigned):
		f.State = records.DocSigned
	default:
		return errBadRequest(`state must be "open", "signed", "withdrawn" or "all"`)
	}
	for _, p := range []struct {
		key string
		dst *time.Time
		end bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		v := c.Query(p.key)
		if v == "" {
			continue
		}
		t, err := time.Parse("2006-01-02", v)
		if err != nil {
			if t, err = time.Parse(time.RFC3339, v); err != nil {
				return errBadRequest(p.key + " must be a date (2006-01-02) or RFC 3339 time")
			}
		} else if p.end {
			t = t.AddDate(0, 0, 1) // "to" a date includes that day
		}
		*p.dst = t
	}
	cs, err := s.rec.Contracts(c.Request.Context(), f)
	if err != nil {
		return err
	}
	out := make([]contractJSON, len(cs))
	for i, ct := range cs {
		out[i] = toContractJSON(ct)
	}
	c.JSON(http.StatusOK, gin.H{"contracts": out})
	return nil
}

// contractFor loads :docId if the staff user may see it (404 otherwise).
func (s *Server) contractFor(c *gin.Context) (records.Contract, error) {
	u := staffUser(c)
	ctx := c.Request.Context()
	d, err := s.rec.DocumentAnywhere(ctx, c.Param("docId"))
	if err != nil {
		return records.Contract{}, err
	}
	if !seesAll(u) && d.CreatedBy != u.ID {
		return records.Contract{}, fmt.Errorf("contract: %w", records.ErrNotFound)
	}
	ct := records.Contract{Document: d}
	if con, err := s.rec.ConsultationByID(ctx, d.ConsultationID); err == nil {
		ct.ConsultationTitle, ct.AdvisorName = con.Title, con.AdvisorName
	}
	return ct, nil
}

func actorOf(u records.User) string { return "staff:" + strconv.FormatInt(u.ID, 10) }

// handleGetContract: GET /api/v1/contracts/:docId, with its audit trail.
func (s *Server) handleGetContract(c *gin.Context) error {
	ct, err := s.contractFor(c)
	if err != nil {
		return err
	}
	trail, chain, err := s.trail(c, ct.ID)
	if err != nil {
		return err
	}
	j := toContractJSON(ct)
	if at := contracts.WithdrawnAt(trail); !at.IsZero() {
		j.State, j.WithdrawnAt = "withdrawn", rfc3339(at)
	}
	c.JSON(http.StatusOK, gin.H{"contract": j, "audit": trail, "auditChain": chain})
	return nil
}

// trail returns a document's audit events and whether its chain holds.
func (s *Server) trail(c *gin.Context, id string) ([]records.AuditEvent, gin.H, error) {
	es, err := s.rec.AuditTrail(c.Request.Context(), id)
	if err != nil {
		return nil, nil, err
	}
	if es == nil {
		es = []records.AuditEvent{}
	}
	chain := gin.H{"valid": true}
	if err := records.VerifyAuditChain(es); err != nil {
		chain = gin.H{"valid": false, "problem": err.Error()}
	}
	return es, chain, nil
}

// handleContractAudit: GET /api/v1/contracts/:docId/audit — the export.
func (s *Server) handleContractAudit(c *gin.Context) error {
	ct, err := s.contractFor(c)
	if err != nil {
		return err
	}
	es, chain, err := s.trail(c, ct.ID)
	if err != nil {
		return err
	}
	c.Header("Content-Disposition", `attachment; filename="audit-`+ct.ID+`.json"`)
	c.JSON(http.StatusOK, gin.H{"format": "parley-audit-trail", "v": 1, "document": ct.ID, "events": es, "chain": chain})
	return nil
}

// handleContractPDF: GET /api/v1/contracts/:docId/pdf (?download=1).
func (s *Server) handleContractPDF(c *gin.Context) error {
	ct, err := s.contractFor(c)
	if err != nil {
		return err
	}
	if s.signer == nil {
		return errNoSigner
	}
	ctx := c.Request.Context()
	_, f, size, err := s.signer.Open(ctx, ct.ConsultationID, ct.ID)
	if err != nil {
		return err
	}
	defer f.Close()
	download := c.Query("download") == "1"
	if download {
		if err := s.rec.AppendAudit(ctx, ct.ID, "downloaded", actorOf(staffUser(c)), map[string]any{"revision": ct.Revision, "sha256": ct.CurrentSHA256, "by": "backoffice"}); err != nil {
			return err
		}
	}
	s.servePDF(c, ct.Document, f, size, download)
	return nil
}

// handleVerifyContract: GET /api/v1/contracts/:docId/verification — the
// verdict on the stored PDF (recorded in the audit trail).
func (s *Server) handleVerifyContract(c *gin.Context) error {
	ct, err := s.contractFor(c)
	if err != nil {
		return err
	}
	if s.signer == nil || s.verifier == nil {
		return errNoSigner
	}
	ctx := c.Request.Context()
	_, f, _, err := s.signer.Open(ctx, ct.ConsultationID, ct.ID)
	if err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("read contract: %w", err)
	}
	v, err := s.verifier.Verify(ctx, data)
	if err != nil {
		return errUnverifiable(err)
	}
	s.markDevelopment(v)
	if err := s.rec.AppendAudit(ctx, ct.ID, "verified", actorOf(staffUser(c)), map[string]any{"verdict": v.Verdict, "sha256": v.SHA256}); err != nil {
		return err
	}
	c.JSON(http.StatusOK, v)
	return nil
}

func errUnverifiable(err error) error {
	if errors.Is(err, contracts.ErrPDFBusy) || errors.Is(err, contracts.ErrPDFUnsafe) {
		return err // classify: 503 busy, 422 pdf_too_complex
	}
	return &apiError{http.StatusUnprocessableEntity, "unverifiable", "the file could not be checked: " + strings.TrimPrefix(err.Error(), contracts.ErrCannotCheck.Error()+": ")}
}

// handleVerifyUpload: POST /api/v1/verify, body: any PDF.
func (s *Server) handleVerifyUpload(c *gin.Context) error {
	if s.verifier == nil {
		return errNoSigner
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/pdf" && mt != "application/octet-stream" {
		return &apiError{http.StatusUnsupportedMediaType, "bad_request", "send the PDF as application/pdf"}
	}
	limit := 4 * s.cfg.Signature.MaxPDFBytes
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return pdfTooLarge(limit)
	}
	if err != nil {
		return errBadRequest("could not read the upload")
	}
	v, err := s.verifier.Verify(c.Request.Context(), body)
	if err != nil {
		return errUnverifiable(err)
	}
	s.markDevelopment(v)
	c.JSON(http.StatusOK, v)
	return nil
}

// handleBackofficePage: GET /backoffice.
func (s *Server) handleBackofficePage(c *gin.Context) error {
	return s.serveStaffPage(c, "backoffice.html")
}

// serveStaffPage serves a page of the embedded client to logged-in staff
// and sends everyone else to the login page.
func (s *Server) serveStaffPage(c *gin.Context, name string) error {
	_, _, ok, err := s.currentStaff(c)
	if err != nil {
		return err
	}
	if !ok {
		loginRedirect(c)
		return nil
	}
	return s.servePage(c, name)
}

// markDevelopment flags Parley signatures made with the generated
// development seal (no signature.seal_cert configured): the back office
// shows "Entwicklungszertifikat – nicht für den Betrieb" instead of a
// trusted issuer.
func (s *Server) markDevelopment(v *contracts.Verdict) {
	if v == nil || s.cfg.Signature.SealCert != "" {
		return
	}
	for i := range v.Signatures {
		if v.Signatures[i].Origin == "parley" {
			v.Signatures[i].Development = true
		}
	}
}
