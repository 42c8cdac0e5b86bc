package signature

// Verification of signed PDFs, done by us from the bytes: byte ranges,
// digests, CMS signatures, certificate chains, time-stamps, what the file
// holds beyond each signature, and the biometric attachments. pdfsign's
// own Verify is not relied on (it accepts a file with an unsigned
// incremental update that replaces page content; see PDF.md).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/digitorus/pdf"
	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

// BiometricPrefix starts the name of every biometric envelope attachment.
const BiometricPrefix = "parley-biometric-"

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// Roots are the trust anchors for signer certificates.
	Roots *x509.CertPool
	// EscrowFingerprint is handed to CheckEnvelope (the key the envelopes
	// must be sealed to).
	EscrowFingerprint string
	// At is the time certificates are checked at; zero: the time-stamp's
	// time if there is one, else now.
	At time.Time
	// CheckEnvelope, if set, checks one biometric attachment: its data and
	// the bytes of the document before the revision that added it.
	CheckEnvelope func(in EnvelopeInput) EnvelopeCheck
	MaxPDFBytes   int64
}

// EnvelopeInput is what CheckEnvelope gets.
type EnvelopeInput struct {
	Name              string
	Data              []byte
	Prefix            []byte // the document before the revision that added it
	EscrowFingerprint string
}

// EnvelopeCheck is CheckEnvelope's verdict.
type EnvelopeCheck struct {
	OK       bool
	Problems []string
}

// Report is Verify's result.
type Report struct {
	Valid       bool
	Problems    []string // why not valid, for people
	Size        int64
	SHA256      string
	Revisions   []int64 // end offset of each revision
	Signatures  []SignatureReport
	Attachments []AttachmentReport
}

// SignatureReport is one signature.
type SignatureReport struct {
	Field, SignerName, Reason, Location string
	SigningTime                         time.Time // /M, claimed by the signer
	TimeStamp                           time.Time // from the RFC 3161 token, zero if none
	SubFilter                           string
	Level                               string // "B-B", "B-T" (PAdES baseline), or "" if not PAdES
	CertSubject                         string
	CertSHA256                          string
	ChainTrusted                        bool
	ChainError                          string
	// DigestValid: the byte range hashes to the CMS message digest and the
	// CMS signature verifies with the signer certificate.
	DigestValid bool
	ByteRange   [4]int64
	// CoversWholeFile: the byte range ends at the end of the file.
	CoversWholeFile bool
	// LaterRevisions are the revisions after this signature, each saying
	// whether a later valid signature covers it and what it changed.
	LaterRevisions []Revision
	Problems       []string
}

// Revision is an incremental update after a signature.
type Revision struct {
	Start, End int64
	SignedBy   string   // field of a later valid signature covering it, "" if none
	Changed    []string // existing objects it replaces, e.g. "object 5 (page content stream)"
	Allowed    bool     // only what signing a later field needs
}

// AttachmentReport is one embedded file.
type AttachmentReport struct {
	Name                   string
	Size                   int
	SHA256                 string
	Biometric              bool
	PrefixEnd, RevisionEnd int64
	Signed                 bool // a valid signature covers the revision that added it
	Envelope               *EnvelopeCheck
}

type sigField struct {
	field, name, reason, location, subFilter string
	m                                        time.Time
	byteRange                                []int64
	contents                                 []byte
}

// Verify checks every signature and biometric attachment of a PDF. An
// error means the file could not be read at all; everything else is in
// the report.
func Verify(ctx context.Context, doc []byte, opt VerifyOptions) (*Report, error) {
	info, err := loadPDF(ctx, doc, opt.MaxPDFBytes)
	if err != nil {
		return nil, err
	}
	rep := &Report{Size: info.Size, SHA256: info.SHA256, Revisions: revisionEnds(doc)}
	var fields []sigField
	err = withReader(ctx, doc, func(r *pdf.Reader) error {
		var err error
		fields, err = readSigFields(r)
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(fields) == 0 {
		rep.Problems = append(rep.Problems, "the document has no signatures")
	}
	for _, f := range fields {
		rep.Signatures = append(rep.Signatures, verifySig(doc, f, opt))
	}
	// Later revisions: which are covered by later valid signatures, and
	// what each replaced.
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.ByteRange[3] == 0 && s.ByteRange[1] == 0 {
			continue
		}
		end := s.ByteRange[2] + s.ByteRange[3]
		s.CoversWholeFile = end == int64(len(doc))
		start := end
		for _, e := range rep.Revisions {
			if e <= end {
				continue
			}
			rv := Revision{Start: start, End: e}
			for _, o := range rep.Signatures {
				if o.DigestValid && o.ByteRange[2]+o.ByteRange[3] >= e && o.Field != s.Field {
					rv.SignedBy = o.Field
					break
				}
			}
			rv.Changed, rv.Allowed = revisionChanges(ctx, doc, start, e)
			if rv.SignedBy == "" {
				rv.Allowed = false
			}
			s.LaterRevisions = append(s.LaterRevisions, rv)
			if !rv.Allowed {
				what := "unsigned"
				if rv.SignedBy != "" {
					what = "signed by " + rv.SignedBy + " but"
				}
				s.Problems = append(s.Problems, fmt.Sprintf("bytes %d-%d were added after signing (%s) and change: %s",
					rv.Start, rv.End, what, strings.Join(orNone(rv.Changed), ", ")))
			}
			start = e
		}
		if tail := int64(len(doc)); start < tail && len(s.LaterRevisions) == 0 && !s.CoversWholeFile {
			s.Problems = append(s.Problems, fmt.Sprintf("%d bytes after the signed range are not a revision", tail-start))
		}
	}
	// Attachments.
	atts, err := Attachments(doc)
	if err != nil {
		rep.Problems = append(rep.Problems, "attachments: "+err.Error())
	}
	hasEnvelope := map[string]bool{}
	for _, a := range atts {
		ar := AttachmentReport{Name: a.Name, Size: len(a.Data), SHA256: sha256Hex(a.Data),
			Biometric: strings.HasPrefix(a.Name, BiometricPrefix), PrefixEnd: a.PrefixEnd, RevisionEnd: a.RevisionEnd}
		for _, s := range rep.Signatures {
			if s.DigestValid && a.RevisionEnd > 0 && s.ByteRange[1] >= a.RevisionEnd {
				ar.Signed = true
			}
		}
		if ar.Biometric {
			field := strings.TrimSuffix(strings.TrimPrefix(a.Name, BiometricPrefix), ".json")
			hasEnvelope[field] = true
			if !ar.Signed {
				rep.Problems = append(rep.Problems, a.Name+": not covered by a valid signature")
			}
			if opt.CheckEnvelope != nil && a.PrefixEnd > 0 && a.PrefixEnd <= int64(len(doc)) {
				c := opt.CheckEnvelope(EnvelopeInput{Name: a.Name, Data: a.Data, Prefix: doc[:a.PrefixEnd], EscrowFingerprint: opt.EscrowFingerprint})
				ar.Envelope = &c
				if !c.OK {
					rep.Problems = append(rep.Problems, a.Name+": "+strings.Join(orNone(c.Problems), "; "))
				}
			}
		}
		rep.Attachments = append(rep.Attachments, ar)
	}
	for _, s := range rep.Signatures {
		if !hasEnvelope[s.Field] {
			rep.Problems = append(rep.Problems, fmt.Sprintf("signature %q: no biometric envelope %s%s.json", s.Field, BiometricPrefix, s.Field))
		}
		for _, p := range s.Problems {
			rep.Problems = append(rep.Problems, fmt.Sprintf("signature %q: %s", s.Field, p))
		}
	}
	rep.Valid = len(rep.Problems) == 0
	return rep, nil
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"nothing named"}
	}
	return s
}

func readSigFields(r *pdf.Reader) ([]sigField, error) {
	fields := r.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	var out []sigField
	for i := 0; i < fields.Len() && i < maxAttachments; i++ {
		f := fields.Index(i)
		if f.Key("FT").Name() != "Sig" {
			continue
		}
		v := f.Key("V")
		sf := sigField{
			field: f.Key("T").Text(), name: v.Key("Name").Text(), reason: v.Key("Reason").Text(),
			location: v.Key("Location").Text(), subFilter: v.Key("SubFilter").Name(),
			contents: []byte(v.Key("Contents").RawString()),
		}
		sf.m, _ = parsePDFDate(v.Key("M").Text())
		br := v.Key("ByteRange")
		for j := 0; j < br.Len() && j < 8; j++ {
			sf.byteRange = append(sf.byteRange, br.Index(j).Int64())
		}
		out = append(out, sf)
	}
	return out, nil
}

func verifySig(doc []byte, f sigField, opt VerifyOptions) SignatureReport {
	s := SignatureReport{Field: f.field, SignerName: f.name, Reason: f.reason, Location: f.location, SigningTime: f.m, SubFilter: f.subFilter}
	fail := func(format string, a ...any) SignatureReport {
		s.Problems = append(s.Problems, fmt.Sprintf(format, a...))
		return s
	}
	n := int64(len(doc))
	br := f.byteRange
	if len(br) != 4 || br[0] != 0 || br[1] <= 0 || br[2] <= br[1]+1 || br[3] < 0 || br[2]+br[3] > n {
		return fail("invalid /ByteRange %v", br)
	}
	copy(s.ByteRange[:], br)
	// The gap must be exactly the hex /Contents string.
	if doc[br[1]] != '<' || doc[br[2]-1] != '>' {
		return fail("/ByteRange gap is not the /Contents string")
	}
	gap := doc[br[1]+1 : br[2]-1]
	der, err := hexDecodeLoose(gap)
	if err != nil || !bytes.Equal(bytes.TrimRight(der, "\x00"), bytes.TrimRight(f.contents, "\x00")) {
		return fail("/Contents does not match the /ByteRange gap")
	}
	var raw asn1.RawValue
	if _, err := asn1.Unmarshal(der, &raw); err != nil {
		return fail("CMS: %v", err)
	}
	p7, err := pkcs7.Parse(raw.FullBytes)
	if err != nil {
		return fail("CMS: %v", err)
	}
	if len(p7.Signers) != 1 {
		return fail("CMS has %d signers, want 1", len(p7.Signers))
	}
	content := make([]byte, 0, br[1]+br[3])
	content = append(content, doc[:br[1]]...)
	content = append(content, doc[br[2]:br[2]+br[3]]...)
	p7.Content = content
	if err := p7.Verify(); err != nil {
		s.Problems = append(s.Problems, "the signed bytes were changed or the CMS signature is invalid: "+err.Error())
	} else {
		s.DigestValid = true
	}
	cert := p7.GetOnlySigner()
	if cert == nil {
		return fail("no signer certificate in the CMS")
	}
	s.CertSubject = cert.Subject.String()
	sum := sha256.Sum256(cert.Raw)
	s.CertSHA256 = fmt.Sprintf("%x", sum[:])

	si := p7.Signers[0]
	hasSCV2 := false
	for _, a := range si.AuthenticatedAttributes {
		if a.Type.Equal(oidSigningCertificateV2) {
			hasSCV2 = true
		}
	}
	for _, a := range si.UnauthenticatedAttributes {
		if !a.Type.Equal(oidTimeStampToken) {
			continue
		}
		ts, err := timestamp.Parse(a.Value.Bytes)
		if err != nil {
			s.Problems = append(s.Problems, "time-stamp: "+err.Error())
			continue
		}
		want := sha256.Sum256(si.EncryptedDigest)
		if !bytes.Equal(ts.HashedMessage, want[:]) {
			s.Problems = append(s.Problems, "time-stamp is not over this signature")
			continue
		}
		s.TimeStamp = ts.Time
	}
	switch {
	case f.subFilter == SubFilterCAdES && hasSCV2 && !s.TimeStamp.IsZero():
		s.Level = "B-T"
	case f.subFilter == SubFilterCAdES && hasSCV2:
		s.Level = "B-B"
	}

	at := opt.At
	if at.IsZero() {
		at = s.TimeStamp
	}
	if at.IsZero() {
		at = time.Now()
	}
	inter := x509.NewCertPool()
	for _, c := range p7.Certificates {
		inter.AddCert(c)
	}
	if opt.Roots == nil {
		s.ChainError = "no trust anchors configured"
	} else if _, err := cert.Verify(x509.VerifyOptions{Roots: opt.Roots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		s.ChainError = err.Error()
	} else {
		s.ChainTrusted = true
	}
	if !s.ChainTrusted {
		s.Problems = append(s.Problems, "certificate "+s.CertSubject+" is not trusted: "+s.ChainError)
	}
	return s
}

func hexDecodeLoose(b []byte) ([]byte, error) {
	clean := make([]byte, 0, len(b))
	for _, c := range b {
		if !isPDFSpace(c) {
			clean = append(clean, c)
		}
	}
	if len(clean)%2 == 1 {
		clean = append(clean, '0')
	}
	out := make([]byte, len(clean)/2)
	for i := range out {
		v, err := strconv.ParseUint(string(clean[2*i:2*i+2]), 16, 8)
		if err != nil {
			return nil, fmt.Errorf("bad hex in /Contents")
		}
		out[i] = byte(v)
	}
	return out, nil
}

var objHeaderRE = regexp.MustCompile(`(?m)(?:^|[\r\n])\s*(\d+)\s+(\d+)\s+obj\b`)

// revisionChanges names the existing objects an incremental update (the
// bytes doc[start:end]) replaces, and whether that is only what signing a
// further field needs: the catalog (AcroForm, Names, AF), a page's
// /Annots, the AcroForm. Everything else (content streams, fonts, images,
// a page's /Contents or /Resources) is reported as a change.
func revisionChanges(ctx context.Context, doc []byte, start, end int64) ([]string, bool) {
	var before, after *pdf.Reader
	_ = withReader(ctx, doc[:start], func(r *pdf.Reader) error { before = r; return nil })
	_ = withReader(ctx, doc[:end], func(r *pdf.Reader) error { after = r; return nil })
	if before == nil || after == nil {
		return []string{"unreadable revision"}, false
	}
	var changed []string
	allowed := true
	seen := map[int]bool{}
	// Containers of the attachment list and the form fields may be replaced
	// wholesale: new entries are what adding a signature and its envelope is.
	containers := map[uint32]string{}
	for _, r := range []*pdf.Reader{before, after} {
		root := r.Trailer().Key("Root")
		for k, v := range map[string]pdf.Value{"Names": root.Key("Names"), "EmbeddedFiles": root.Key("Names").Key("EmbeddedFiles"), "AcroForm": root.Key("AcroForm")} {
			if id := v.GetPtr().GetID(); id != 0 && id != root.GetPtr().GetID() {
				containers[id] = k
			}
		}
	}
	for _, m := range objHeaderRE.FindAllSubmatch(doc[start:end], 10000) {
		id, _ := strconv.Atoi(string(m[1]))
		if seen[id] {
			continue
		}
		seen[id] = true
		old, err := before.GetObject(uint32(id))
		if err != nil || old.IsNull() {
			continue // a new object
		}
		now, err := after.GetObject(uint32(id))
		if err != nil {
			changed = append(changed, fmt.Sprintf("object %d (unreadable)", id))
			allowed = false
			continue
		}
		kind := old.Key("Type").Name()
		ok := false
		func() {
			defer func() { _ = recover() }()
			switch c := containers[uint32(id)]; {
			case c == "Names":
				ok = sameExcept(old, now, "EmbeddedFiles")
				return
			case c != "":
				ok = true
				return
			}
			switch kind {
			case "Catalog":
				ok = sameExcept(old, now, "AcroForm", "Names", "AF", "Version")
			case "Page":
				ok = sameExcept(old, now, "Annots")
			}
		}()
		desc := kind
		if desc == "" && old.Kind() == pdf.Stream {
			desc = "stream"
		}
		if !ok {
			allowed = false
			if desc == "" {
				desc = "object"
			}
			changed = append(changed, fmt.Sprintf("object %d (%s)", id, desc))
		}
	}
	sort.Strings(changed)
	return changed, allowed
}

// sameExcept compares two dictionaries key by key, ignoring some keys.
func sameExcept(a, b pdf.Value, ignore ...string) bool {
	keys := map[string]bool{}
	for _, k := range a.Keys() {
		keys[k] = true
	}
	for _, k := range b.Keys() {
		keys[k] = true
	}
	for k := range keys {
		if containsString(ignore, k) {
			continue
		}
		var x, y bytes.Buffer
		if writeValue(&x, a.Key(k), a.GetPtr()) != nil || writeValue(&y, b.Key(k), b.GetPtr()) != nil {
			return false
		}
		if x.String() != y.String() {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parsePDFDate reads D:YYYYMMDDHHmmSS with an optional zone.
func parsePDFDate(s string) (time.Time, error) {
	s = strings.TrimPrefix(s, "D:")
	if len(s) < 14 {
		return time.Time{}, fmt.Errorf("short date")
	}
	t, err := time.Parse("20060102150405", s[:14])
	if err != nil {
		return time.Time{}, err
	}
	z := strings.ReplaceAll(s[14:], "'", "")
	if len(z) >= 5 && (z[0] == '+' || z[0] == '-') {
		h, _ := strconv.Atoi(z[1:3])
		m, _ := strconv.Atoi(z[3:5])
		off := (h*60 + m) * 60
		if z[0] == '-' {
			off = -off
		}
		t = t.Add(-time.Duration(off) * time.Second)
	}
	return t.UTC(), nil
}
