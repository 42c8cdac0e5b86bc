package contracts

// One verification behind the back-office page, the REST API and
// `parley verify`: signature.Verify's report turned into one verdict with
// reasons in plain German and English.

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	"github.com/parley-video/parley/signature"
)

// Verdicts.
const (
	Valid             = "valid"
	ValidWithWarnings = "valid_with_warnings"
	Invalid           = "invalid"
)

// Reason is one finding, in both languages.
type Reason struct {
	Severity string `json:"severity"` // "error" (makes the verdict invalid) or "warning"
	Code     string `json:"code"`
	DE       string `json:"de"`
	EN       string `json:"en"`
}

// Verdict is the result of verifying one PDF.
type Verdict struct {
	Verdict string   `json:"verdict"`
	Reasons []Reason `json:"reasons"`
	// Signatures summarises each signature; Report has every detail.
	Signatures []SignatureSummary `json:"signatures"`
	SHA256     string             `json:"sha256"`
	Size       int64              `json:"size"`
	Report     *signature.Report  `json:"report"`
}

// SignatureSummary is one signature in a verdict.
type SignatureSummary struct {
	Field           string `json:"field"`
	SignerName      string `json:"signerName"`
	SigningTime     string `json:"signingTime,omitempty"`
	TimeStamp       string `json:"timeStamp,omitempty"`
	Certificate     string `json:"certificate"`
	Trusted         bool   `json:"trusted"`
	Intact          bool   `json:"intact"`
	CoversWholeFile bool   `json:"coversWholeFile"`
	Level           string `json:"level,omitempty"`
	Envelope        string `json:"envelope"` // "bound", "not_bound", "missing", "foreign_key", "unchecked"
}

// Verifier checks PDFs against the configured trust anchors and escrow key.
type Verifier struct {
	Roots *x509.CertPool
	// Anchors are the certificates in Roots, handed to an Isolation worker.
	Anchors []*x509.Certificate
	Escrow  *signature.EscrowPublicKey // nil: envelopes checked for binding only
	// MaxPDFBytes bounds the input (0: no bound beyond memory).
	MaxPDFBytes int64
	// Isolation, when set, verifies in a worker (Config() is sent there);
	// nil: in this process.
	Isolation Isolator
}

// NewVerifier uses the keys' trust anchors and escrow key; iso may be nil
// (verify in this process).
func NewVerifier(k *Keys, maxPDFBytes int64, iso Isolator) *Verifier {
	return &Verifier{Roots: k.Roots, Anchors: k.Anchors, Escrow: k.Escrow, MaxPDFBytes: maxPDFBytes, Isolation: iso}
}

// ErrCannotCheck: the file could not be checked at all (not a PDF, …).
var ErrCannotCheck = errors.New("the file could not be checked")

// Verify checks pdf. An error (wrapping ErrCannotCheck) means no verdict
// could be reached.
func (v *Verifier) Verify(ctx context.Context, pdf []byte) (*Verdict, error) {
	if v.Isolation != nil {
		return v.Isolation.Verify(ctx, v.Config(), pdf)
	}
	fp := ""
	if v.Escrow != nil {
		fp = v.Escrow.Fingerprint()
	}
	envelopes := map[string]string{}
	rep, err := signature.Verify(ctx, pdf, signature.VerifyOptions{
		Roots: v.Roots, EscrowFingerprint: fp, MaxPDFBytes: v.MaxPDFBytes,
		CheckEnvelope: func(in signature.EnvelopeInput) signature.EnvelopeCheck {
			state, c := checkEnvelope(in, fp)
			envelopes[in.Name] = state
			return c
		},
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCannotCheck, err)
	}
	out := &Verdict{Report: rep, SHA256: rep.SHA256, Size: rep.Size}
	add := func(sev, code, de, en string) {
		out.Reasons = append(out.Reasons, Reason{Severity: sev, Code: code, DE: de, EN: en})
	}
	if len(rep.Signatures) == 0 {
		add("error", "no_signature", "Das Dokument enthält keine Signatur.", "The document carries no signature.")
	}
	for _, s := range rep.Signatures {
		sum := SignatureSummary{Field: s.Field, SignerName: s.SignerName, Certificate: s.CertSubject, Trusted: s.ChainTrusted,
			Intact: s.DigestValid, CoversWholeFile: s.CoversWholeFile, Level: s.Level, Envelope: "missing"}
		if !s.SigningTime.IsZero() {
			sum.SigningTime = s.SigningTime.UTC().Format("2006-01-02T15:04:05Z")
		}
		if !s.TimeStamp.IsZero() {
			sum.TimeStamp = s.TimeStamp.UTC().Format("2006-01-02T15:04:05Z")
		}
		if st, ok := envelopes[EnvelopeName(s.Field)]; ok {
			sum.Envelope = st
		}
		who := fmt.Sprintf("%q (%s)", s.SignerName, s.Field)
		if !s.DigestValid {
			add("error", "signature_broken",
				"Die Signatur von "+who+" ist ungültig: die signierten Daten wurden verändert oder die Signatur ist beschädigt.",
				"The signature of "+who+" is invalid: the signed data was changed or the signature is damaged.")
		}
		if !s.ChainTrusted {
			add("error", "untrusted_certificate",
				"Das Zertifikat der Signatur von "+who+" ("+s.CertSubject+") führt zu keinem vertrauenswürdigen Aussteller.",
				"The certificate of the signature of "+who+" ("+s.CertSubject+") does not chain to a trusted issuer.")
		}
		for _, rv := range s.LaterRevisions {
			if rv.Allowed {
				continue
			}
			what := describeChanges(pdf, rv)
			add("error", "changed_after_signing",
				fmt.Sprintf("Nach der Signatur von %s wurde das Dokument geändert (Bytes %d–%d): %s", who, rv.Start, rv.End, what),
				fmt.Sprintf("The document was changed after the signature of %s (bytes %d-%d): %s", who, rv.Start, rv.End, what))
		}
		if s.DigestValid && s.TimeStamp.IsZero() {
			add("warning", "no_timestamp",
				"Die Signatur von "+who+" hat keinen Zeitstempel; die Signaturzeit ist nur vom Server angegeben.",
				"The signature of "+who+" has no time-stamp; its signing time is only claimed by the server.")
		}
		switch sum.Envelope {
		case "missing":
			add("error", "envelope_missing",
				"Zur Signatur von "+who+" fehlen die verschlüsselten biometrischen Daten.",
				"The encrypted biometric data of the signature of "+who+" is missing.")
		case "not_bound":
			add("error", "envelope_not_bound",
				"Die biometrischen Daten zur Signatur von "+who+" gehören nicht zu diesem Dokument.",
				"The biometric data of the signature of "+who+" does not belong to this document.")
		case "foreign_key":
			add("error", "envelope_foreign_key",
				"Die biometrischen Daten zur Signatur von "+who+" sind für einen anderen Treuhänder-Schlüssel verschlüsselt.",
				"The biometric data of the signature of "+who+" is sealed to another escrow key.")
		}
		out.Signatures = append(out.Signatures, sum)
	}
	errs := 0
	for _, r := range out.Reasons {
		if r.Severity == "error" {
			errs++
		}
	}
	if !rep.Valid && errs == 0 {
		// Something the summary above does not name: say it as it is.
		for _, p := range rep.Problems {
			add("error", "problem", "Prüfung: "+p, p)
		}
		errs = len(rep.Problems)
	}
	switch {
	case errs > 0:
		out.Verdict = Invalid
	case len(out.Reasons) > 0:
		out.Verdict = ValidWithWarnings
	default:
		out.Verdict = Valid
	}
	if out.Reasons == nil {
		out.Reasons = []Reason{}
	}
	return out, nil
}

// checkEnvelope checks one biometric attachment without the private key:
// well-formed, sealed to the configured escrow key, bound to the document
// as presented (the bytes before the revision that added it).
func checkEnvelope(in signature.EnvelopeInput, fingerprint string) (string, signature.EnvelopeCheck) {
	env, err := signature.ParseEnvelope(in.Data)
	if err != nil {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"the envelope is malformed: " + err.Error()}}
	}
	if EnvelopeName(env.Binding.Field) != in.Name {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"the envelope names field " + env.Binding.Field}}
	}
	b := signature.NewBinding(in.Prefix, env.Binding.Field, env.Binding.ConsultationID)
	if err := env.CheckBinding(b); err != nil {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"not bound to this document: " + err.Error()}}
	}
	if fingerprint != "" && env.Recipient != fingerprint {
		return "foreign_key", signature.EnvelopeCheck{Problems: []string{"sealed to " + env.Recipient + ", not the configured escrow key " + fingerprint}}
	}
	if fingerprint == "" {
		return "unchecked", signature.EnvelopeCheck{OK: true}
	}
	return "bound", signature.EnvelopeCheck{OK: true}
}

// describeChanges names what revision rv changed, object by object
// (signature.ChangesAfter), falling back to the verifier's own list.
func describeChanges(pdf []byte, rv signature.Revision) string {
	var named []string
	if rv.End <= int64(len(pdf)) {
		if cs, err := signature.ChangesAfter(pdf[:rv.End], rv.Start); err == nil {
			for _, c := range cs {
				if !c.Allowed {
					named = append(named, c.Description)
				}
			}
		}
	}
	if len(named) == 0 {
		named = rv.Changed
	}
	if len(named) == 0 {
		return "unbekannte Änderung / unnamed change"
	}
	return strings.Join(named, "; ")
}
