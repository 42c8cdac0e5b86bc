package signature

// Verification of signed PDFs, done by us from the bytes: byte ranges,
// digests, CMS signatures, certificate chains, time-stamps, what the file
// holds beyond each signature, and the biometric attachments. pdfsign's
// own Verify is not relied on (it accepts a file with an unsigned
// incremental update that replaces page content; see PDF.md).

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"io"
	"regexp"
	"slices"
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
	// Seals are the pinned seal certificates (current and earlier ones):
	// a signature made with one of them is Parley's. Other trusted
	// signatures are third-party signatures: reported, never allowed to
	// carry a biometric envelope or cover a content change.
	Seals []*x509.Certificate
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
	// Manifest is the seal manifest of the Parley signature that lists
	// this file; nil when none does.
	Manifest *SealManifest
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
	Warnings    []string // worth saying, not making the document invalid
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
	// Parley: made with a pinned seal certificate. ThirdParty: intact and
	// trusted but made with another certificate.
	Parley, ThirdParty bool
	// Manifest is the seal manifest from the CMS signed attributes.
	Manifest *SealManifest
	// Envelope is the biometric attachment its manifest vouches for.
	Envelope string
	// Method is the signing method the seal manifest states: MethodDrawn
	// ("") or MethodTyped (no biometric record by design).
	Method   string
	Problems []string
}

// Revision is an incremental update after a signature.
type Revision struct {
	Start, End int64
	SignedBy   string   // field of the later signature whose step it is, "" if none
	Changes    []Change // every difference, allowed or not
	Changed    []string // the descriptions of the ones not allowed
	Allowed    bool     // only what that signature's own signing needs
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
	_, err := loadPDF(ctx, doc, opt.MaxPDFBytes)
	readEnd := int64(len(doc))
	if err != nil {
		// A damaged newest update (broken or missing startxref) that viewers
		// repair: check the longest revision that reads; what follows it
		// is named as a change below.
		readEnd = readablePrefix(ctx, doc, opt.MaxPDFBytes)
		if readEnd == 0 {
			return nil, err
		}
	}
	rep := &Report{Size: int64(len(doc)), SHA256: sha256Hex(doc), Revisions: revisionEnds(doc)}
	var fields []sigField
	err = withReader(ctx, doc[:readEnd], func(r *pdf.Reader) error {
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
	pinned := map[string]bool{}
	for _, c := range opt.Seals {
		pinned[sha256Hex(c.Raw)] = true
	}
	for _, f := range fields {
		s := verifySig(doc, f, opt)
		s.Parley = s.CertSHA256 != "" && pinned[s.CertSHA256]
		s.ThirdParty = !s.Parley && s.ChainTrusted && s.DigestValid
		rep.Signatures = append(rep.Signatures, s)
	}
	// Signing steps: the revisions from one signature's end to the next
	// one's end are that next signature's step; it may add only what its
	// own signature needs. Bytes no signature covers may add nothing.
	ends := []int64{}
	for _, s := range rep.Signatures {
		if e := s.ByteRange[2] + s.ByteRange[3]; e > 0 {
			ends = append(ends, e)
		}
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i] < ends[j] })
	ends = slices.Compact(ends)
	var steps []Revision
	for i := 1; i <= len(ends); i++ {
		start := ends[i-1]
		end := readEnd
		if i < len(ends) {
			end = ends[i]
		}
		if end <= start {
			continue
		}
		rv := Revision{Start: start, End: end}
		rule := stepRule{}
		if i < len(ends) {
			for _, o := range rep.Signatures {
				if o.ByteRange[2]+o.ByteRange[3] == end && o.DigestValid && o.ChainTrusted {
					rv.SignedBy = o.Field
					rule.field = o.Field
					if o.Parley && o.Manifest != nil {
						rule.attachments = map[string]bool{}
						for _, a := range o.Manifest.Attachments {
							rule.attachments[a.Name] = true
						}
					}
				}
			}
		}
		cs, err := diffStep(doc[:start], doc[:end], rule)
		if err != nil {
			cs = []Change{{Kind: "object", Description: "an update that cannot be read: " + err.Error(), DE: "eine nicht lesbare Änderung"}}
		}
		rv.Allowed = true
		for _, c := range cs {
			rv.Changes = append(rv.Changes, c)
			if !c.Allowed {
				rv.Allowed = false
				rv.Changed = append(rv.Changed, c.Description)
			}
		}
		if rv.SignedBy == "" && len(cs) == 0 && len(bytes.TrimSpace(doc[start:end])) > 0 {
			// An unsigned update that changes nothing a viewer shows.
			rv.Allowed = true
		}
		steps = append(steps, rv)
	}
	// Beyond the readable revisions: objects a viewer's repair would read.
	var tail *Revision
	if t := bytes.TrimRight(doc[readEnd:], " \t\r\n\f\x00"); len(t) > 0 {
		tail = &Revision{Start: readEnd, End: int64(len(doc))}
		tail.Changes = damagedTail(ctx, doc[:readEnd], t)
		for _, c := range tail.Changes {
			tail.Changed = append(tail.Changed, c.Description)
		}
		tail.Allowed = len(tail.Changes) == 0
	}
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		if s.ByteRange[3] == 0 && s.ByteRange[1] == 0 {
			continue
		}
		end := s.ByteRange[2] + s.ByteRange[3]
		s.CoversWholeFile = end == int64(len(doc))
		for _, rv := range steps {
			if rv.Start < end {
				continue
			}
			s.LaterRevisions = append(s.LaterRevisions, rv)
			if !rv.Allowed {
				what := "no signature covers them"
				if rv.SignedBy != "" {
					what = "signature " + strconv.Quote(rv.SignedBy) + " covers them but may not make them"
				}
				s.Problems = append(s.Problems, fmt.Sprintf("bytes %d-%d were added after signing (%s) and change: %s",
					rv.Start, rv.End, what, strings.Join(orNone(rv.Changed), "; ")))
			}
		}
		if tail != nil {
			s.LaterRevisions = append(s.LaterRevisions, *tail)
			if !tail.Allowed {
				s.Problems = append(s.Problems, fmt.Sprintf("bytes %d-%d after the last readable revision (damaged cross-reference that viewers repair) change: %s",
					tail.Start, tail.End, strings.Join(tail.Changed, "; ")))
			} else {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("%d bytes after the end of the document change nothing", tail.End-tail.Start))
			}
		}
	}
	verifyAttachments(doc[:readEnd], rep, opt)
	for _, s := range rep.Signatures {
		for _, p := range s.Problems {
			rep.Problems = append(rep.Problems, fmt.Sprintf("signature %q: %s", s.Field, p))
		}
	}
	rep.Valid = len(rep.Problems) == 0
	return rep, nil
}

// verifyAttachments checks the biometric attachments against the seal
// manifests: every envelope must be listed, with its SHA-256, by the
// Parley signature whose step added it; every Parley signature needs its
// manifest, its envelope and a matching document prefix.
func verifyAttachments(doc []byte, rep *Report, opt VerifyOptions) {
	atts, err := Attachments(doc)
	if err != nil {
		rep.Problems = append(rep.Problems, "attachments: "+err.Error())
	}
	// The step of a signature: from the previous signature's end to its own.
	stepOf := func(s SignatureReport) (int64, int64) {
		end := s.ByteRange[2] + s.ByteRange[3]
		start := int64(0)
		for _, o := range rep.Signatures {
			if e := o.ByteRange[2] + o.ByteRange[3]; e < end && e > start {
				start = e
			}
		}
		return start, end
	}
	for _, a := range atts {
		ar := AttachmentReport{Name: a.Name, Size: len(a.Data), SHA256: sha256Hex(a.Data),
			Biometric: strings.HasPrefix(a.Name, BiometricPrefix), PrefixEnd: a.PrefixEnd, RevisionEnd: a.RevisionEnd}
		var by *SignatureReport
		for i, s := range rep.Signatures {
			if s.DigestValid && a.RevisionEnd > 0 && s.ByteRange[1] >= a.RevisionEnd {
				ar.Signed = true
			}
			start, end := stepOf(s)
			if s.Parley && s.DigestValid && s.Manifest != nil && a.RevisionEnd > start && a.RevisionEnd <= end {
				for _, m := range s.Manifest.Attachments {
					if m.Name == a.Name && m.SHA256 == ar.SHA256 {
						by = &rep.Signatures[i]
					}
				}
			}
		}
		if ar.Biometric {
			switch {
			case !ar.Signed:
				rep.Problems = append(rep.Problems, a.Name+": not covered by a valid signature")
			case by == nil:
				rep.Problems = append(rep.Problems, a.Name+": not vouched for by Parley's seal (no Parley signature's manifest lists this file)")
			}
			if opt.CheckEnvelope != nil && a.PrefixEnd > 0 && a.PrefixEnd <= int64(len(doc)) {
				in := EnvelopeInput{Name: a.Name, Data: a.Data, Prefix: doc[:a.PrefixEnd], EscrowFingerprint: opt.EscrowFingerprint}
				if by != nil {
					in.Manifest = by.Manifest
				}
				c := opt.CheckEnvelope(in)
				ar.Envelope = &c
				if !c.OK {
					rep.Problems = append(rep.Problems, a.Name+": "+strings.Join(orNone(c.Problems), "; "))
				}
			}
			if by != nil {
				by.Envelope = a.Name
			}
		}
		rep.Attachments = append(rep.Attachments, ar)
	}
	for i := range rep.Signatures {
		s := &rep.Signatures[i]
		switch {
		case !s.DigestValid:
			// Reported as broken; nothing more to say about it.
		case s.ThirdParty:
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("signature %q was made outside Parley (%s): no biometric record", s.Field, s.CertSubject))
		case s.Parley && s.Manifest == nil:
			s.Problems = append(s.Problems, "made with Parley's seal but without a seal manifest")
		case s.Parley:
			m := s.Manifest
			if m.Field != s.Field {
				s.Problems = append(s.Problems, fmt.Sprintf("the seal manifest names field %q", m.Field))
			}
			if m.DocumentLength <= 0 || m.DocumentLength > int64(len(doc)) || sha256Hex(doc[:m.DocumentLength]) != m.DocumentSHA256 {
				s.Problems = append(s.Problems, "the document as presented for this signature is not the one the seal manifest names")
			}
			s.Method = m.Method
			switch {
			case m.Method != MethodDrawn && m.Method != MethodTyped:
				s.Problems = append(s.Problems, fmt.Sprintf("the seal manifest names an unknown signing method %q", m.Method))
			case m.Method == MethodTyped && s.Envelope != "":
				// A typed signature has no pen data; an envelope beside
				// one is a contradiction, never a pass.
				s.Problems = append(s.Problems, "a typed signature (no pen data) carries a biometric envelope")
			case m.Method == MethodDrawn && s.Envelope == "":
				s.Problems = append(s.Problems, fmt.Sprintf("no biometric envelope %s%s.json vouched for by its seal manifest", BiometricPrefix, s.Field))
			}
			for _, ma := range m.Attachments {
				found := false
				for _, a := range rep.Attachments {
					if a.Name == ma.Name && a.SHA256 == ma.SHA256 {
						found = true
					}
				}
				if !found {
					s.Problems = append(s.Problems, fmt.Sprintf("the attached file %q its seal manifest lists is missing or different", ma.Name))
				}
			}
		}
	}
}

// readablePrefix is the end of the longest revision (ending at a %%EOF)
// that reads, 0 if none does.
func readablePrefix(ctx context.Context, doc []byte, maxBytes int64) int64 {
	ends := revisionEnds(doc)
	for i := len(ends) - 1; i >= 0 && i >= len(ends)-8; i-- {
		if ends[i] >= int64(len(doc)) {
			continue
		}
		if _, err := loadPDF(ctx, doc[:ends[i]], maxBytes); err == nil {
			return ends[i]
		}
	}
	return 0
}

// tailObjects lists the objects the bytes define: "N G obj" headers and
// the objects inside object streams among them (bounded).
func tailObjects(tail []byte) []uint32 {
	var out []uint32
	budget := int64(maxObjStmBytes) * 4 // all object streams of the tail, inflated
	for _, m := range objHeaderRE.FindAllSubmatchIndex(tail, 10000) {
		n, err := strconv.ParseUint(string(tail[m[2]:m[3]]), 10, 32)
		if err != nil {
			continue
		}
		out = append(out, uint32(n))
		rest := tail[m[1]:]
		end := bytes.Index(rest, []byte("endobj"))
		if end < 0 {
			end = len(rest)
		}
		obj := rest[:end]
		si := bytes.Index(obj, []byte("stream"))
		if si < 0 || !bytes.Contains(obj[:si], []byte("/ObjStm")) {
			continue
		}
		body := bytes.TrimLeft(obj[si+len("stream"):], "\r\n")
		if ei := bytes.LastIndex(body, []byte("endstream")); ei >= 0 {
			body = body[:ei]
		}
		if bytes.Contains(obj[:si], []byte("/FlateDecode")) {
			zr, err := zlib.NewReader(bytes.NewReader(body))
			if err != nil {
				continue
			}
			if budget <= 0 {
				continue
			}
			body, _ = io.ReadAll(io.LimitReader(zr, min(maxObjStmBytes, budget)))
			budget -= int64(len(body))
		}
		first, ok := directInt(obj[:si], "/First")
		count, nok := directInt(obj[:si], "/N")
		if !ok || !nok || first < 0 || first > int64(len(body)) || count < 0 || count > 10000 {
			continue
		}
		pairs, _ := readInts(body[:first], 2*int(count))
		for i := 0; i+1 < len(pairs); i += 2 {
			if pairs[i] <= maxPDFObjects {
				out = append(out, uint32(pairs[i]))
			}
		}
	}
	return out
}

// damagedTail names what the bytes after the last readable revision
// would change if a viewer repaired the file: every object they define
// that the readable document already has, named by what it is there.
func damagedTail(ctx context.Context, readable, tail []byte) []Change {
	var out []Change
	seen := map[uint32]bool{}
	_ = withReader(ctx, readable, func(r *pdf.Reader) error {
		d := differ{old: r, new: r}
		d.index()
		for _, id := range tailObjects(tail) {
			if seen[id] {
				continue
			}
			seen[id] = true
			old, err := r.GetObject(id)
			if err != nil || old.IsNull() {
				out = append(out, Change{Kind: "object", Object: id, Description: fmt.Sprintf("document data added (object %d)", id), DE: fmt.Sprintf("Dokumentdaten hinzugefügt (Objekt %d)", id)})
				continue
			}
			c := Change{Kind: "object", Object: id,
				Description: fmt.Sprintf("document data (object %d)", id), DE: fmt.Sprintf("Dokumentdaten (Objekt %d)", id)}
			switch {
			case d.pageOf[id] > 0:
				c.Kind, c.Page = "page", d.pageOf[id]
				c.Description, c.DE = fmt.Sprintf("page %d", c.Page), fmt.Sprintf("Seite %d", c.Page)
			case d.isPageContent(id):
				c.Kind, c.Page = "page_content", d.contents[id]
				c.Description, c.DE = fmt.Sprintf("text or graphics of page %d", c.Page), fmt.Sprintf("Text oder Grafik von Seite %d", c.Page)
			case old.Key("Type").Name() == "Catalog":
				c.Kind, c.Description, c.DE = "catalog", "document settings", "Dokumenteinstellungen"
			}
			c.Description += " redefined in a damaged update that viewers repair"
			c.DE += " in einer beschädigten Änderung neu definiert, die Anzeigeprogramme reparieren"
			out = append(out, c)
		}
		return nil
	})
	if len(out) == 0 && bytes.Contains(tail, []byte("obj")) {
		out = append(out, Change{Kind: "object", Description: "unreadable data that may redefine the document", DE: "unlesbare Daten, die das Dokument neu definieren könnten"})
	}
	return out
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
		if a.Type.Equal(oidSealManifest) && s.DigestValid {
			if m, err := parseManifest(a.Value.Bytes); err == nil {
				s.Manifest = m
			} else {
				s.Problems = append(s.Problems, "seal manifest: "+err.Error())
			}
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
