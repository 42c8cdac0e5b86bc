package signature

// The seal manifest: what a Parley signature vouches for besides the byte
// range, carried as a CMS signed attribute so the seal's signature covers
// it. A verifier checks it with the seal's public certificate alone (no
// escrow private key): the document as presented (prefix length and
// SHA-256), the field, the consultation, and the SHA-256 of every file
// the signing step attached (the biometric envelope, the audit trail).
// Copying an envelope into another document, or re-labelling its
// clear-text header, no longer matches what the seal signed. See PDF.md,
// "Seal manifest".

import (
	"encoding/asn1"
	"encoding/json"
	"fmt"

	"github.com/digitorus/pkcs7"
)

// oidSealManifest identifies the manifest attribute. It lies under 2.999
// (ITU-T X.660's arc for examples), which no registered attribute uses;
// a UUID arc (2.25) does not fit encoding/asn1's 31-bit arcs. Replace it
// with an arc under a registered enterprise number before other tools
// are expected to read it (PDF.md).
var oidSealManifest = asn1.ObjectIdentifier{2, 999, 26, 1}

// ManifestFormat is SealManifest.Format.
const ManifestFormat = "parley-seal-manifest/v1"

// SealManifest is the content of the manifest attribute (JSON inside an
// OCTET STRING).
type SealManifest struct {
	Format         string `json:"format"`
	Field          string `json:"field"`
	ConsultationID string `json:"consultation_id"`
	// DocumentSHA256 and DocumentLength are over the document as presented:
	// the bytes before the signing step's first revision.
	DocumentSHA256 string             `json:"document_sha256"`
	DocumentLength int64              `json:"document_length"`
	Attachments    []ManifestAttached `json:"attachments"`
	// Method is how the signer signed: "" (drawn by hand; the biometric
	// envelope is required) or MethodTyped (the accessible alternative:
	// name typed and confirmed, no pen data, no envelope allowed). The
	// seal signs it, so nobody can relabel a drawn signature "typed".
	Method string `json:"method,omitempty"`
}

// Signing methods (SealManifest.Method, SignRequest.Method).
const (
	MethodDrawn = ""
	// MethodTyped: "sign without drawing", the accessible alternative to
	// the signature pad (CAPTURE.md, "Typed signatures").
	MethodTyped = "typed"
)

// ManifestAttached is one file the signing step attached.
type ManifestAttached struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"`
}

func (m SealManifest) attribute() (pkcs7.Attribute, error) {
	js, err := json.Marshal(m)
	if err != nil {
		return pkcs7.Attribute{}, fmt.Errorf("signature: manifest: %w", err)
	}
	der, err := asn1.Marshal(js)
	if err != nil {
		return pkcs7.Attribute{}, fmt.Errorf("signature: manifest: %w", err)
	}
	return pkcs7.Attribute{Type: oidSealManifest, Value: asn1.RawValue{FullBytes: der}}, nil
}

// parseManifest reads the manifest from a signed attribute's SET content.
func parseManifest(setContent []byte) (*SealManifest, error) {
	var js []byte
	if _, err := asn1.Unmarshal(setContent, &js); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	var m SealManifest
	if err := json.Unmarshal(js, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("manifest: format %q", m.Format)
	}
	return &m, nil
}
