package signature

// Metadata-only changes in a signed step: signing tools commonly update
// the document information dictionary (/Info: producer, modification
// date) and the catalog's XMP /Metadata stream in the revision of their
// signature. Neither is rendered, so a step covered by an intact, trusted
// signature may change them (PDF.md, "One change analysis, one rule"):
//
//   - the trailer's /Info object, when the old and the new version hold
//     only the standard entries (Title, Author, Subject, Keywords,
//     Creator, Producer, CreationDate, ModDate, Trapped) with strings
//     (a name for Trapped);
//   - the catalog's /Metadata entry and the stream it names, when that is
//     /Type /Metadata /Subtype /XML (and was one before, if it existed);
//
// and in both cases only when no other object of the file refers to that
// object (a metadata stream that is also a page's or a glyph's content
// would be rendered), except through /Metadata keys.

import "github.com/digitorus/pdf"

var infoKeys = map[string]bool{
	"Title": true, "Author": true, "Subject": true, "Keywords": true, "Creator": true,
	"Producer": true, "CreationDate": true, "ModDate": true, "Trapped": true,
}

// pureInfo: v is a document information dictionary and nothing else.
func pureInfo(v pdf.Value) bool {
	if v.Kind() != pdf.Dict {
		return false
	}
	for _, k := range v.Keys() {
		e := v.Key(k)
		switch {
		case !infoKeys[k]:
			return false
		case e.Kind() == pdf.String, k == "Trapped" && e.Kind() == pdf.Name:
		default:
			return false
		}
	}
	return true
}

// isXMP: v is an XMP metadata stream.
func isXMP(v pdf.Value) bool {
	return v.Kind() == pdf.Stream && v.Key("Type").Name() == "Metadata" && v.Key("Subtype").Name() == "XML"
}

// indexMetadata marks the new revision's /Info and catalog /Metadata
// objects that the step may change (differ.meta).
func (d *differ) indexMetadata() {
	d.meta = map[uint32]string{}
	if d.rule.field == "" {
		return
	}
	if info := d.new.Trailer().Key("Info"); info.GetPtr().GetID() != 0 && pureInfo(info) {
		id := info.GetPtr().GetID()
		if old, err := d.old.GetObject(id); err != nil || old.IsNull() || pureInfo(old) {
			d.meta[id] = "info"
		}
	}
	if m := d.new.Trailer().Key("Root").Key("Metadata"); m.GetPtr().GetID() != 0 && isXMP(m) {
		id := m.GetPtr().GetID()
		if old, err := d.old.GetObject(id); err != nil || old.IsNull() || isXMP(old) {
			d.meta[id] = "xmp"
		}
	}
	if len(d.meta) == 0 {
		return
	}
	// Referred to from anywhere but a /Metadata key (the trailer is not an
	// object): not only metadata.
	n := len(d.new.Xref())
	for id := uint32(1); id < uint32(n); id++ {
		v, err := d.new.GetObject(id)
		if err != nil || v.IsNull() {
			continue
		}
		d.dropReferenced(v, id, "", 0)
		if len(d.meta) == 0 {
			return
		}
	}
}

// dropReferenced removes from d.meta every object that v (object self, a
// direct value reached by key) refers to other than as /Metadata.
func (d *differ) dropReferenced(v pdf.Value, self uint32, key string, depth int) {
	if depth > 32 {
		return
	}
	if id := v.GetPtr().GetID(); id != self {
		// A reference: the object itself is visited on its own.
		if key != "Metadata" {
			delete(d.meta, id)
		}
		return
	}
	switch v.Kind() {
	case pdf.Dict, pdf.Stream:
		for _, k := range v.Keys() {
			d.dropReferenced(v.Key(k), self, k, depth+1)
		}
	case pdf.Array:
		for i := 0; i < v.Len() && i < 100000; i++ {
			d.dropReferenced(v.Index(i), self, "", depth+1)
		}
	}
}
