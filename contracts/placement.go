package contracts

// Where the signature fields of an uploaded PDF go: the advisor's boxes
// (checked against the pages) and, for the fields without one, free space
// found on the last pages (signature.PlaceFields). The placement is
// recorded in the "presented" audit event, so it is part of the trail
// sealed into the signed PDF, and Sign reads it from there.

import (
	"encoding/json"
	"fmt"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// placeFields returns where each of signers' fields goes: boxes[field]
// when given (validated), else found in free space. Errors:
// *signature.FieldBoxError, signature.ErrNoRoom.
func placeFields(info *signature.PDFInfo, signers []string, boxes map[string]signature.FieldBox) (map[string]signature.FieldBox, error) {
	known := map[string]bool{}
	for _, f := range signers {
		known[f] = true
	}
	out := make(map[string]signature.FieldBox, len(signers))
	var taken []signature.FieldBox
	var missing []string
	for _, f := range signers {
		b, ok := boxes[f]
		if !ok {
			missing = append(missing, f)
			continue
		}
		if err := signature.CheckFieldBox(info, f, b); err != nil {
			return nil, err
		}
		for other, o := range out {
			if signature.BoxesOverlap(b, o) {
				return nil, &signature.FieldBoxError{Field: f, Reason: fmt.Sprintf("the box overlaps the box of %q", other)}
			}
		}
		out[f] = b
		taken = append(taken, b)
	}
	for f := range boxes {
		if !known[f] {
			return nil, &signature.FieldBoxError{Field: f, Reason: "there is no such signer"}
		}
	}
	free, err := signature.PlaceFields(info, len(missing), taken)
	if err != nil {
		return nil, err
	}
	for i, f := range missing {
		out[f] = free[i]
	}
	return out, nil
}

// placementOf returns where field goes according to the "presented"
// event of the trail; false when the document was presented without a
// placement (the contract template: its boxes are the default places).
func placementOf(trail []records.AuditEvent, field string) (signature.FieldBox, bool) {
	b, ok := Placement(trail)[field]
	return b, ok
}

// Placement returns where each field of a document goes, from its audit
// trail (nil for a document presented without one).
func Placement(trail []records.AuditEvent) map[string]signature.FieldBox {
	for _, e := range trail {
		if e.Kind != "presented" {
			continue
		}
		var d struct {
			Placement map[string]signature.FieldBox `json:"placement"`
		}
		if json.Unmarshal(e.Detail, &d) == nil {
			return d.Placement
		}
		return nil
	}
	return nil
}
