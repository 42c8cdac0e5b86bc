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
	// Origin: "parley" (made with a pinned seal certificate),
	// "third_party" (another trusted certificate), "unknown".
	Origin   string `json:"origin"`
	Envelope string `json:"envelope"` // "bound", "not_bound", "not_sealed", "missing", "foreign_key", "unchecked", "none" (third party), "typed" (no pen data by design)
	// Method is how the signer signed, as Parley's seal vouches: "drawn"
	// (by hand, with a biometric record) or "typed" (the accessible
	// alternative: name typed and confirmed, no biometric record);
	// "" when not a Parley signature.
	Method string `json:"method,omitempty"`
	// Development: made with this installation's generated development
	// seal (no signature.seal_cert configured): trusted here only, not fit
	// for production. Set by the web layer, which knows the configuration.
	Development bool `json:"development,omitempty"`
}

// Verifier checks PDFs against the configured trust anchors and escrow key.
type Verifier struct {
	Roots *x509.CertPool
	// Anchors are the certificates in Roots, handed to an Isolation worker.
	Anchors []*x509.Certificate
	// Seals are the pinned seal certificates (current and earlier): only
	// signatures made with one of them are Parley's.
	Seals  []*x509.Certificate
	Escrow *signature.EscrowPublicKey // nil: envelopes checked for binding only
	// MaxPDFBytes bounds the input (0: no bound beyond memory).
	MaxPDFBytes int64
	// Isolation, when set, verifies in a worker (Config() is sent there);
	// nil: in this process.
	Isolation Isolator
}

// NewVerifier uses the keys' trust anchors and escrow key; iso may be nil
// (verify in this process).
func NewVerifier(k *Keys, maxPDFBytes int64, iso Isolator) *Verifier {
	return &Verifier{Roots: k.Roots, Anchors: k.Anchors, Seals: k.Seals, Escrow: k.Escrow, MaxPDFBytes: maxPDFBytes, Isolation: iso}
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
		Roots: v.Roots, Seals: v.Seals, EscrowFingerprint: fp, MaxPDFBytes: v.MaxPDFBytes,
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
			Intact: s.DigestValid, CoversWholeFile: s.CoversWholeFile, Level: s.Level, Origin: "unknown", Envelope: "missing"}
		if !s.SigningTime.IsZero() {
			sum.SigningTime = s.SigningTime.UTC().Format("2006-01-02T15:04:05Z")
		}
		if !s.TimeStamp.IsZero() {
			sum.TimeStamp = s.TimeStamp.UTC().Format("2006-01-02T15:04:05Z")
		}
		switch {
		case s.Parley:
			sum.Origin = "parley"
		case s.ThirdParty:
			sum.Origin, sum.Envelope = "third_party", "none"
		}
		if s.Parley && s.Manifest != nil {
			sum.Method = "drawn"
			if s.Method == signature.MethodTyped {
				sum.Method = signature.MethodTyped
				if s.Envelope == "" {
					sum.Envelope = "typed"
				}
			}
		}
		if st, ok := envelopes[EnvelopeName(s.Field)]; ok && s.Parley {
			// An envelope beside a typed signature is reported as what
			// it is (and the manifest problem makes the verdict invalid).
			sum.Envelope = st
		}
		// The signer in each language: no English field names in German texts.
		who, whoEN := fmt.Sprintf("%q (%s)", s.SignerName, fieldDE(s.Field)), fmt.Sprintf("%q (%s)", s.SignerName, s.Field)
		switch {
		case !s.DigestValid:
			detail := strings.Join(s.Problems, "; ")
			add("error", "signature_broken",
				"Die Signatur von "+who+" ist ungültig: die signierten Daten wurden verändert oder die Signatur ist beschädigt ("+detail+").",
				"The signature of "+whoEN+" is invalid: the signed data was changed or the signature is damaged ("+detail+").")
		case !s.ChainTrusted:
			add("error", "untrusted_certificate",
				"Das Zertifikat der Signatur von "+who+" ("+s.CertSubject+") führt zu keinem vertrauenswürdigen Aussteller.",
				"The certificate of the signature of "+whoEN+" ("+s.CertSubject+") does not chain to a trusted issuer.")
		case s.ThirdParty:
			add("warning", "signed_outside_parley",
				"Die Signatur von "+who+" wurde außerhalb von Parley geleistet ("+s.CertSubject+"): keine biometrischen Daten.",
				"The signature of "+whoEN+" was made outside Parley ("+s.CertSubject+"): no biometric record.")
		}
		for _, rv := range s.LaterRevisions {
			if rv.Allowed {
				continue
			}
			var de, en []string
			for _, c := range rv.Changes {
				if !c.Allowed {
					de, en = append(de, c.DE), append(en, c.Description)
				}
			}
			if len(en) == 0 {
				de, en = []string{"unbekannte Änderung"}, []string{"unnamed change"}
			}
			by, byEN := "von keiner Signatur gedeckt", "covered by no signature"
			if rv.SignedBy != "" {
				by, byEN = "unter der späteren Signatur \""+rv.SignedBy+"\", die solche Änderungen nicht decken darf", "under the later signature \""+rv.SignedBy+"\", which may not cover such changes"
			}
			add("error", "changed_after_signing",
				fmt.Sprintf("Das Dokument wurde nach der Signatur von %s inhaltlich geändert (%s, Bytes %d–%d): %s.", who, by, rv.Start, rv.End, strings.Join(de, "; ")),
				fmt.Sprintf("The document's content was changed after the signature of %s (%s, bytes %d-%d): %s.", whoEN, byEN, rv.Start, rv.End, strings.Join(en, "; ")))
		}
		if s.DigestValid && s.TimeStamp.IsZero() {
			add("warning", "no_timestamp",
				"Die Signatur von "+who+" hat keinen Zeitstempel; die Signaturzeit ist nur vom Server angegeben.",
				"The signature of "+whoEN+" has no time-stamp; its signing time is only claimed by the server.")
		}
		if s.Parley && s.DigestValid {
			for _, p := range s.Problems {
				if strings.HasPrefix(p, "bytes ") {
					continue // named above
				}
				add("error", "seal_manifest",
					"Die vom Parley-Siegel bestätigten Angaben zur Signatur von "+who+" stimmen nicht: "+p,
					"What Parley's seal vouches for in the signature of "+whoEN+" does not match: "+p)
			}
			switch sum.Envelope {
			case "typed":
				add("warning", "typed_signature",
					"Die Unterschrift von "+who+" wurde ohne Zeichnen geleistet: Name getippt und ausdrücklich bestätigt (barrierefreie Alternative). Es gibt dazu keine biometrischen Daten.",
					"The signature of "+whoEN+" was made without drawing: name typed and explicitly confirmed (the accessible alternative). It has no biometric record.")
			case "missing":
				add("error", "envelope_missing",
					"Zur Signatur von "+who+" fehlen die verschlüsselten biometrischen Daten.",
					"The encrypted biometric data of the signature of "+whoEN+" is missing.")
			case "not_bound":
				add("error", "envelope_not_bound",
					"Die biometrischen Daten zur Signatur von "+who+" gehören nicht zu diesem Dokument.",
					"The biometric data of the signature of "+whoEN+" does not belong to this document.")
			case "foreign_key":
				add("error", "envelope_foreign_key",
					"Die biometrischen Daten zur Signatur von "+who+" sind für einen anderen Treuhänder-Schlüssel verschlüsselt.",
					"The biometric data of the signature of "+whoEN+" is sealed to another escrow key.")
			}
		}
		out.Signatures = append(out.Signatures, sum)
	}
	for _, a := range rep.Attachments {
		if a.Biometric && (a.Envelope == nil || !a.Envelope.OK) && envelopes[a.Name] == "not_sealed" {
			add("error", "envelope_not_sealed",
				"Die biometrischen Daten "+a.Name+" stammen nicht aus einer Parley-Signatur dieses Dokuments (kopiert oder umbenannt).",
				"The biometric data "+a.Name+" does not come from a Parley signature of this document (copied or re-labelled).")
		}
	}
	for _, w := range rep.Warnings {
		if strings.Contains(w, "bytes after the end") {
			add("warning", "trailing_bytes", "Am Dateiende stehen zusätzliche Bytes; sie ändern nichts am Dokument.", "The file ends with extra bytes; they change nothing in the document.")
		}
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
// listed by the seal manifest of the Parley signature that added it,
// well-formed, its clear-text binding equal to what the seal signed and
// to the document as presented (the bytes before the revision that added
// it), sealed to the configured escrow key.
func checkEnvelope(in signature.EnvelopeInput, fingerprint string) (string, signature.EnvelopeCheck) {
	if in.Manifest == nil {
		return "not_sealed", signature.EnvelopeCheck{Problems: []string{"no Parley signature's seal manifest lists this envelope"}}
	}
	env, err := signature.ParseEnvelope(in.Data)
	if err != nil {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"the envelope is malformed: " + err.Error()}}
	}
	m := in.Manifest
	if EnvelopeName(env.Binding.Field) != in.Name || env.Binding.Field != m.Field {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"the envelope names field " + env.Binding.Field}}
	}
	sealed := signature.Binding{DocumentSHA256: m.DocumentSHA256, DocumentLength: m.DocumentLength, Field: m.Field, ConsultationID: m.ConsultationID}
	if err := env.CheckBinding(sealed); err != nil {
		return "not_bound", signature.EnvelopeCheck{Problems: []string{"not what Parley's seal vouches for: " + err.Error()}}
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

// fieldDE names a signature field in German texts.
func fieldDE(field string) string {
	switch field {
	case "customer":
		return "Kundin/Kunde"
	case "advisor":
		return "Beraterin/Berater"
	}
	return field
}
