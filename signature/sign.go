package signature

// Signing a PDF: attachments (the biometric envelope) are appended by an
// incremental update, then github.com/digitorus/pdfsign adds the signature
// revision (signature dictionary, widget, page and catalog updates, xref)
// with our own appearance. pdfsign v1.0.0-rc1 hard-codes /SubFilter
// /adbe.pkcs7.detached and names fields "Signature N", so the new revision
// is patched in place (same-length replacements, nothing moves) and the CMS
// is computed again over the final byte range: PAdES with
// /ETSI.CAdES.detached. See PDF.md. Everything happens in memory; Sign
// returns the output only when it is complete.

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"image/color"
	_ "image/png" // decode the signature image
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/revocation"
	"github.com/digitorus/pdfsign/sign"
	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// SubFilterCAdES is the /SubFilter of the signatures Sign writes.
const SubFilterCAdES = "ETSI.CAdES.detached"

// Errors returned by Sign.
var (
	ErrFieldName = errors.New("signature: invalid signature field name")
	ErrFieldUsed = errors.New("signature: signature field already signed")
	// ErrFieldOverlap: the appearance would lie over an earlier signature's.
	ErrFieldOverlap = errors.New("signature: signature appearance overlaps an earlier signature")
	ErrSignImage    = errors.New("signature: invalid signature image")
	ErrTSA          = errors.New("signature: time-stamp authority")
)

// tsaReserve is the room kept in /Contents for a time-stamp token.
const tsaReserve = 12000

// SignerOptions configure a Signer.
type SignerOptions struct {
	// TSAURL, when set, adds an RFC 3161 signature time-stamp to every
	// signature (PAdES B-T); signing fails if the TSA does not answer.
	TSAURL                   string
	TSAUsername, TSAPassword string
	// TSATimeout bounds one TSA request; default 20 s.
	TSATimeout time.Duration
	// HTTPClient for the TSA; default a client with TSATimeout.
	HTTPClient *http.Client
	// MaxPDFBytes is passed to LoadPDF; 0 means DefaultMaxPDFBytes.
	MaxPDFBytes int64
}

// Signer signs PDFs with the platform's seal. It is safe for concurrent use.
type Signer struct {
	seal *Seal
	opt  SignerOptions
}

// NewSigner returns a Signer for seal.
func NewSigner(seal *Seal, opt SignerOptions) (*Signer, error) {
	if seal == nil || seal.Signer == nil || seal.Cert == nil {
		return nil, fmt.Errorf("%w: no seal", ErrSeal)
	}
	if opt.TSATimeout <= 0 {
		opt.TSATimeout = 20 * time.Second
	}
	if opt.HTTPClient == nil {
		opt.HTTPClient = &http.Client{Timeout: opt.TSATimeout}
	}
	return &Signer{seal: seal, opt: opt}, nil
}

// Seal returns the signer's seal.
func (s *Signer) Seal() *Seal { return s.seal }

// SignRequest is one signature to add.
type SignRequest struct {
	// Field is the signature field's name, unique in the document: 1 to
	// 11 characters of [A-Za-z0-9_-] (e.g. "customer", "advisor").
	Field      string
	SignerName string
	Reason     string
	Location   string
	SignedAt   time.Time // shown and written as /M; zero: now
	// Page is 1-based; 0 means the last page.
	Page int
	// Rect is where the appearance goes; zero: DefaultSignatureRect(page, Index).
	Rect  Rect
	Index int
	// SignatureImage is a PNG of the handwriting (alpha is honoured).
	SignatureImage []byte
	// Attachments are embedded before signing, so the signature covers them.
	Attachments []Attachment
	// ConsultationID goes into the seal manifest (manifest.go).
	ConsultationID string
	// Method is MethodDrawn (default) or MethodTyped. A typed signature
	// has no SignatureImage and no biometric attachment; its appearance
	// shows TypedName instead of handwriting, and its seal manifest says
	// "typed".
	Method    string
	TypedName string
}

// ErrTypedSignature: a typed signature request that is not one (no typed
// name, or with handwriting or a biometric envelope).
var ErrTypedSignature = errors.New("signature: invalid typed signature request")

var fieldNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,11}$`)

// Sign adds the attachments and one approval signature to presented and
// returns the new PDF; presented is an exact prefix of it. Signing the
// output again adds a further signature and keeps earlier ones valid.
func (s *Signer) Sign(ctx context.Context, presented []byte, req SignRequest) ([]byte, error) {
	if err := checkMethod(req); err != nil {
		return nil, err
	}
	return s.sign(ctx, presented, req)
}

// checkMethod: a typed signature has a typed name and neither handwriting
// nor a biometric envelope; no other method exists.
func checkMethod(req SignRequest) error {
	switch req.Method {
	case MethodDrawn:
	case MethodTyped:
		if strings.TrimSpace(req.TypedName) == "" || len(req.SignatureImage) > 0 {
			return fmt.Errorf("%w: a typed name and no handwriting", ErrTypedSignature)
		}
		for _, a := range req.Attachments {
			if strings.HasPrefix(a.Name, BiometricPrefix) {
				return fmt.Errorf("%w: no biometric envelope", ErrTypedSignature)
			}
		}
	default:
		return fmt.Errorf("%w: method %q", ErrTypedSignature, req.Method)
	}
	return nil
}

// sign is Sign without checkMethod (tests forge with it what an insider
// holding the seal could).
func (s *Signer) sign(ctx context.Context, presented []byte, req SignRequest) ([]byte, error) {
	if !fieldNameRE.MatchString(req.Field) {
		return nil, fmt.Errorf("%w: %q (1-11 of A-Z a-z 0-9 _ -)", ErrFieldName, req.Field)
	}
	if req.SignedAt.IsZero() {
		req.SignedAt = time.Now()
	}
	info, err := loadPDF(ctx, presented, s.opt.MaxPDFBytes)
	if err != nil {
		return nil, err
	}
	page := req.Page
	if page == 0 {
		page = info.Pages
	}
	if page < 1 || page > info.Pages {
		return nil, fmt.Errorf("signature: page %d of %d", page, info.Pages)
	}
	rect := req.Rect
	if rect.IsZero() {
		rect = DefaultSignatureRect(info.PageSizes[page-1], req.Index)
	}
	if rect.W < 20 || rect.H < 20 {
		return nil, fmt.Errorf("signature: rectangle %v too small", rect)
	}
	img, err := decodeSignatureImage(req.SignatureImage)
	if err != nil {
		return nil, err
	}
	doc := presented
	for _, a := range req.Attachments {
		if doc, err = AppendAttachment(doc, a); err != nil {
			return nil, fmt.Errorf("attach %s: %w", a.Name, err)
		}
	}
	var out []byte
	err = withReader(ctx, doc, func(r *pdf.Reader) error {
		names, err := signatureFieldNames(r)
		if err != nil {
			return err
		}
		for _, n := range names {
			if n == req.Field {
				return fmt.Errorf("%w: %q", ErrFieldUsed, req.Field)
			}
		}
		box := PageSize{LLX: rect.X, LLY: rect.Y, URX: rect.X + rect.W, URY: rect.Y + rect.H}
		for _, o := range sigWidgetRects(r, page, nil) {
			if overlaps(box, o) {
				return fmt.Errorf("%w: %v on page %d", ErrFieldOverlap, rect, page)
			}
		}
		out, err = s.pdfsign(r, doc, len(names), page, rect, img, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	m := SealManifest{Format: ManifestFormat, Field: req.Field, ConsultationID: req.ConsultationID,
		DocumentSHA256: sha256Hex(presented), DocumentLength: int64(len(presented)), Attachments: []ManifestAttached{},
		Method: req.Method}
	for _, a := range req.Attachments {
		m.Attachments = append(m.Attachments, ManifestAttached{Name: a.Name, SHA256: sha256Hex(a.Data)})
	}
	return s.reseal(ctx, out, len(doc), req.Field, m)
}

// pdfsign runs pdfsign's signing with a throw-away CMS; reseal replaces it.
func (s *Signer) pdfsign(r *pdf.Reader, doc []byte, existing, page int, rect Rect, img image.Image, req SignRequest) ([]byte, error) {
	chain := append([]*x509.Certificate{s.seal.Cert}, s.seal.Chain...)
	sd := sign.SignData{
		Signer:            s.seal.Signer,
		Certificate:       s.seal.Cert,
		CertificateChains: [][]*x509.Certificate{chain},
		DigestAlgorithm:   crypto.SHA256,
		CompressLevel:     zlib.DefaultCompression,
		Signature: sign.SignDataSignature{
			CertType: sign.ApprovalSignature,
			Info: sign.SignDataSignatureInfo{
				Name: req.SignerName, Location: req.Location, Reason: req.Reason, Date: req.SignedAt,
			},
		},
		Appearance: sign.Appearance{
			Visible: true, Page: uint32(page),
			LowerLeftX: rect.X, LowerLeftY: rect.Y, UpperRightX: rect.X + rect.W, UpperRightY: rect.Y + rect.H,
			Renderer: appearanceRenderer(img, req.SignerName, req.SignedAt, typedText(req)),
		},
	}
	if s.opt.TSAURL != "" {
		// pdfsign sizes /Contents from the revocation data it is given;
		// this placeholder only makes room for the time-stamp token that
		// reseal adds (pdfsign's own CMS is discarded).
		pad, err := asn1.Marshal(make([]byte, tsaReserve))
		if err != nil {
			return nil, err
		}
		sd.RevocationData.CRL = revocation.CRL{{FullBytes: pad}}
	}
	var buf bytes.Buffer
	if err := sign.SignWithData(bytes.NewReader(doc), &buf, r, int64(len(doc)), sd); err != nil {
		return nil, fmt.Errorf("signature: pdfsign: %w", err)
	}
	if !bytes.HasPrefix(buf.Bytes(), doc) {
		return nil, errors.New("signature: pdfsign changed bytes before its revision")
	}
	want := "(Signature " + strconv.Itoa(existing+1) + ")"
	if len(req.Field)+2 > len(want) {
		return nil, fmt.Errorf("%w: %q is longer than %d characters", ErrFieldName, req.Field, len(want)-2)
	}
	return buf.Bytes(), nil
}

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// reseal patches the revision pdfsign wrote after from (SubFilter, field
// name; same lengths, so no offset moves) and signs its byte range.
func (s *Signer) reseal(ctx context.Context, out []byte, from int, field string, manifest SealManifest) ([]byte, error) {
	rev := out[from:]
	oldSF := []byte("/SubFilter /adbe.pkcs7.detached")
	newSF := []byte("/SubFilter /" + SubFilterCAdES)
	if len(oldSF) != len(newSF) || bytes.Count(rev, oldSF) != 1 {
		return nil, errors.New("signature: pdfsign revision has no single /SubFilter to patch")
	}
	copy(rev[bytes.Index(rev, oldSF):], newSF)
	t := regexp.MustCompile(`/T \(Signature \d+\)`).FindIndex(rev)
	if t == nil {
		return nil, errors.New("signature: pdfsign revision has no field title to patch")
	}
	title := []byte("/T (" + field + ")")
	title = append(title, bytes.Repeat([]byte(" "), t[1]-t[0]-len(title))...)
	copy(rev[t[0]:t[1]], title)

	m := byteRangeRE.FindSubmatchIndex(rev)
	if m == nil {
		return nil, errors.New("signature: pdfsign revision has no /ByteRange")
	}
	var br [4]int
	for i := range br {
		br[i], _ = strconv.Atoi(string(rev[m[2+2*i]:m[3+2*i]]))
	}
	if br[0] != 0 || br[1] <= from || br[2] <= br[1]+2 || br[2]+br[3] != len(out) || out[br[1]] != '<' || out[br[2]-1] != '>' {
		return nil, fmt.Errorf("signature: unexpected /ByteRange %v", br)
	}
	signed := make([]byte, 0, br[1]+br[3])
	signed = append(signed, out[:br[1]]...)
	signed = append(signed, out[br[2]:br[2]+br[3]]...)
	cms, err := s.cms(ctx, signed, manifest)
	if err != nil {
		return nil, err
	}
	room := br[2] - br[1] - 2
	if hex.EncodedLen(len(cms)) > room {
		return nil, fmt.Errorf("signature: CMS of %d bytes does not fit the %d reserved", len(cms), room/2)
	}
	h := out[br[1]+1 : br[2]-1]
	hex.Encode(h, cms)
	for i := hex.EncodedLen(len(cms)); i < len(h); i++ {
		h[i] = '0'
	}
	return out, nil
}

// cms builds the detached CMS SignedData: SHA-256, signing-certificate-v2,
// the seal manifest, the chain, and a signature time-stamp when a TSA is configured.
func (s *Signer) cms(ctx context.Context, content []byte, m SealManifest) ([]byte, error) {
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, fmt.Errorf("signature: cms: %w", err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	scv2, err := signingCertificateV2(s.seal.Cert)
	if err != nil {
		return nil, err
	}
	manifest, err := m.attribute()
	if err != nil {
		return nil, err
	}
	var parents []*x509.Certificate
	for _, c := range s.seal.Chain {
		if !bytes.Equal(c.RawSubject, c.RawIssuer) { // leave self-signed roots out
			parents = append(parents, c)
		}
	}
	if err := sd.AddSignerChain(s.seal.Cert, s.seal.Signer, parents, pkcs7.SignerInfoConfig{
		ExtraSignedAttributes: []pkcs7.Attribute{scv2, manifest},
	}); err != nil {
		return nil, fmt.Errorf("signature: cms: %w", err)
	}
	sd.Detach()
	if s.opt.TSAURL != "" {
		si := &sd.GetSignedData().SignerInfos[0]
		token, err := s.timestamp(ctx, si.EncryptedDigest)
		if err != nil {
			return nil, err
		}
		if err := si.SetUnauthenticatedAttributes([]pkcs7.Attribute{{
			Type: oidTimeStampToken, Value: asn1.RawValue{FullBytes: token},
		}}); err != nil {
			return nil, fmt.Errorf("signature: cms: %w", err)
		}
	}
	return sd.Finish()
}

var (
	oidTimeStampToken        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 14}
	oidSigningCertificateV2  = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 2, 47}
	oidSHA256                = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	maxTSAResponseBytes      = int64(64 << 10)
	errTSAResponseMismatched = errors.New("time-stamp is not over this signature")
)

// signingCertificateV2 is the ESS signing-certificate-v2 attribute (RFC
// 5035) that PAdES requires: SHA-256 of the certificate and its issuer/serial.
func signingCertificateV2(cert *x509.Certificate) (pkcs7.Attribute, error) {
	sum := sha256.Sum256(cert.Raw)
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oidSHA256) })
				b.AddASN1OctetString(sum[:])
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(cert.RawIssuer)
						})
					})
					b.AddASN1BigInt(cert.SerialNumber)
				})
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return pkcs7.Attribute{}, fmt.Errorf("signature: signing-certificate-v2: %w", err)
	}
	return pkcs7.Attribute{Type: oidSigningCertificateV2, Value: asn1.RawValue{FullBytes: der}}, nil
}

// timestamp asks the TSA for a token over the signature value (RFC 3161,
// the CAdES signature-time-stamp).
func (s *Signer) timestamp(ctx context.Context, signatureValue []byte) ([]byte, error) {
	q, err := timestamp.CreateRequest(bytes.NewReader(signatureValue), &timestamp.RequestOptions{Hash: crypto.SHA256, Certificates: true})
	if err != nil {
		return nil, fmt.Errorf("%w: request: %w", ErrTSA, err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.opt.TSATimeout)
	defer cancel()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.opt.TSAURL, bytes.NewReader(q))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTSA, err)
	}
	hr.Header.Set("Content-Type", "application/timestamp-query")
	if s.opt.TSAUsername != "" {
		hr.SetBasicAuth(s.opt.TSAUsername, s.opt.TSAPassword)
	}
	resp, err := s.opt.HTTPClient.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTSA, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTSAResponseBytes))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTSA, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: HTTP %d", ErrTSA, resp.StatusCode)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTSA, err)
	}
	want := sha256.Sum256(signatureValue)
	if !bytes.Equal(ts.HashedMessage, want[:]) {
		return nil, fmt.Errorf("%w: %w", ErrTSA, errTSAResponseMismatched)
	}
	if len(ts.RawToken) > tsaReserve {
		return nil, fmt.Errorf("%w: token of %d bytes is larger than the %d reserved", ErrTSA, len(ts.RawToken), tsaReserve)
	}
	return ts.RawToken, nil
}

// signatureFieldNames lists the /T of the signature fields in the AcroForm.
func signatureFieldNames(r *pdf.Reader) ([]string, error) {
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	var names []string
	for i := 0; i < fields.Len(); i++ {
		if i > maxPDFObjects {
			return nil, fmt.Errorf("%w: too many form fields", ErrPDFMalformed)
		}
		if f := fields.Index(i); f.Key("FT").Name() == "Sig" {
			names = append(names, f.Key("T").Text())
		}
	}
	return names, nil
}

const maxSignatureImagePixels = 4096 * 4096

func decodeSignatureImage(data []byte) (image.Image, error) {
	if len(data) == 0 {
		return nil, nil
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignImage, err)
	}
	if format != "png" || cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxSignatureImagePixels {
		return nil, fmt.Errorf("%w: want a PNG of at most %d pixels, got %s %dx%d", ErrSignImage, maxSignatureImagePixels, format, cfg.Width, cfg.Height)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignImage, err)
	}
	return img, nil
}

// typedText is what a typed signature shows in place of handwriting; ""
// for a drawn one.
func typedText(req SignRequest) string {
	if req.Method != MethodTyped {
		return ""
	}
	return strings.TrimSpace(req.TypedName)
}

// appearanceRenderer draws the widget: the handwriting (RGB image with its
// alpha as /SMask, not premultiplied) or, for a typed signature, the
// typed name in Helvetica-Oblique, a rule, the signer's name and the
// signing time, in Helvetica with WinAnsiEncoding.
func appearanceRenderer(img image.Image, name string, at time.Time, typed string) func(*sign.SignContext, [4]float64) ([]byte, error) {
	return func(c *sign.SignContext, r [4]float64) ([]byte, error) {
		w, h := r[2]-r[0], r[3]-r[1]
		var res, st bytes.Buffer
		font, err := c.AddObject([]byte("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"))
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&res, "/Font << /F1 %d 0 R >>", font)
		textH := 22.0
		if img != nil {
			id, iw, ih, err := addImage(c, img)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&res, " /XObject << /Im1 %d 0 R >>", id)
			aw, ah := w-8, h-textH-4
			scale := min(aw/float64(iw), ah/float64(ih))
			dw, dh := float64(iw)*scale, float64(ih)*scale
			fmt.Fprintf(&st, "q %.3f 0 0 %.3f %.3f %.3f cm /Im1 Do Q\n", dw, dh, 4+(aw-dw)/2, textH+(ah-dh)/2)
		}
		when := "Unterschrieben / signed " + at.UTC().Format("2006-01-02 15:04:05") + " UTC"
		if typed != "" {
			oblique, err := c.AddObject([]byte("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Oblique /Encoding /WinAnsiEncoding >>"))
			if err != nil {
				return nil, err
			}
			res.Reset()
			fmt.Fprintf(&res, "/Font << /F1 %d 0 R /F2 %d 0 R >>", font, oblique)
			size := min(16.0, h-textH-8)
			fmt.Fprintf(&st, "BT /F2 %.2f Tf 0.10 0.16 0.42 rg 6 %.2f Td %s Tj ET\n", size, textH+(h-textH-size)/2+2,
				pdfWinAnsiString(fitText(typed, size, w-12)))
			when = "Name getippt / typed name, " + at.UTC().Format("2006-01-02 15:04:05") + " UTC"
		}
		fmt.Fprintf(&st, "q 0.55 G 0.5 w 4 %.2f m %.2f %.2f l S Q\n", textH-2, w-4, textH-2)
		fmt.Fprintf(&st, "BT /F1 8 Tf 0 0 0 rg 4 11 Td %s Tj ET\n", pdfWinAnsiString(fitText(name, 8, w-8)))
		fmt.Fprintf(&st, "BT /F1 6 Tf 0.25 0.25 0.25 rg 4 3.5 Td %s Tj ET\n", pdfWinAnsiString(fitText(when, 6, w-8)))
		var b bytes.Buffer
		fmt.Fprintf(&b, "<< /Type /XObject /Subtype /Form /FormType 1 /BBox [0 0 %.3f %.3f] /Matrix [1 0 0 1 0 0] /Resources << %s >> /Length %d >>\nstream\n",
			w, h, res.String(), st.Len())
		b.Write(st.Bytes())
		b.WriteString("\nendstream")
		return b.Bytes(), nil
	}
}

// fitText shortens s with "..." until it fits width at size.
func fitText(s string, size, width float64) string {
	r := []rune(s)
	for len(r) > 1 && helveticaWidth(string(r), false)*size/1000 > width {
		r = append(r[:len(r)-4:len(r)-4], []rune("...")...)
		if len(r) < 4 {
			break
		}
	}
	return string(r)
}

// addImage writes img as a DeviceRGB image with a DeviceGray /SMask built
// from its alpha channel (colours un-premultiplied).
func addImage(c *sign.SignContext, img image.Image) (id uint32, w, h int, err error) {
	b := img.Bounds()
	w, h = b.Dx(), b.Dy()
	rgb := make([]byte, 0, w*h*3)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			p := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
			rgb = append(rgb, p.R, p.G, p.B)
			alpha = append(alpha, p.A)
			opaque = opaque && p.A == 0xff
		}
	}
	smask := ""
	if !opaque {
		mid, err := c.AddObject(flateImage(fmt.Sprintf("/Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8", w, h), alpha))
		if err != nil {
			return 0, 0, 0, err
		}
		smask = fmt.Sprintf(" /SMask %d 0 R", mid)
	}
	id, err = c.AddObject(flateImage(fmt.Sprintf("/Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8%s", w, h, smask), rgb))
	return id, w, h, err
}

func flateImage(dict string, data []byte) []byte {
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(data)
	_ = zw.Close()
	var b bytes.Buffer
	fmt.Fprintf(&b, "<< /Type /XObject /Subtype /Image %s /Filter /FlateDecode /Length %d >>\nstream\n", dict, z.Len())
	b.Write(z.Bytes())
	b.WriteString("\nendstream")
	return b.Bytes()
}
