package signature

// What changed in a PDF after a signature: the revision the signature
// covers (the byte prefix up to the end of its byte range) is compared
// object by object with the whole file, and every changed or added object
// is named in words a back-office clerk understands. Changes that PDF
// signing workflows make on purpose (a later signature with its field and
// appearance, a document time-stamp, validation data in a DSS, Parley's
// biometric envelope of a later signer) are marked allowed.

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/digitorus/pdf"
)

// Change is one difference between a signed revision and the file.
type Change struct {
	// Kind: page_content, page_added, page_removed, page, annotation,
	// form_field, attachment, catalog, signature, timestamp,
	// validation_data, object.
	Kind string `json:"kind"`
	// Page is the 1-based page concerned, 0 when none.
	Page int `json:"page,omitempty"`
	// Object is the PDF object number.
	Object uint32 `json:"object,omitempty"`
	// Description in English, e.g. `annotation /Text added on page 1`.
	Description string `json:"description"`
	// Allowed: a change signing workflows make on purpose.
	Allowed bool `json:"allowed"`
}

// maxDiffObjects bounds the comparison (hostile files).
const maxDiffObjects = 200000

// ChangesAfter compares the revision that ends at byte signedEnd with the
// whole file and names what changed. signedEnd == len(pdf) means nothing
// follows: no changes.
func ChangesAfter(data []byte, signedEnd int64) (changes []Change, err error) {
	if signedEnd <= 0 || signedEnd > int64(len(data)) {
		return nil, fmt.Errorf("%w: signed range ends at %d of %d bytes", ErrPDFMalformed, signedEnd, len(data))
	}
	if signedEnd == int64(len(data)) || len(bytes.TrimSpace(data[signedEnd:])) == 0 {
		return nil, nil
	}
	defer func() {
		if r := recover(); r != nil {
			changes, err = nil, fmt.Errorf("%w: %v", ErrPDFMalformed, r)
		}
	}()
	oldR, err := pdf.NewReader(bytes.NewReader(data[:signedEnd]), signedEnd)
	if err != nil {
		return nil, fmt.Errorf("%w: signed revision: %v", ErrPDFMalformed, err)
	}
	newR, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPDFMalformed, err)
	}
	n := len(newR.Xref())
	if n > maxDiffObjects {
		return nil, fmt.Errorf("%w: %d objects", ErrPDFTooLarge, n)
	}
	d := differ{old: oldR, new: newR}
	d.index()
	for id := uint32(1); id < uint32(n); id++ {
		nv, err := newR.GetObject(id)
		if err != nil || nv.IsNull() {
			continue
		}
		ov, oerr := oldR.GetObject(id)
		added := oerr != nil || ov.IsNull()
		if !added && canonical(ov) == canonical(nv) {
			continue
		}
		changes = append(changes, d.describe(id, ov, nv, added)...)
	}
	if on, nn := oldR.NumPage(), newR.NumPage(); nn > on {
		changes = append(changes, Change{Kind: "page_added", Description: fmt.Sprintf("%d page(s) added (now %d, signed %d)", nn-on, nn, on)})
	} else if nn < on {
		changes = append(changes, Change{Kind: "page_removed", Description: fmt.Sprintf("%d page(s) removed (now %d, signed %d)", on-nn, nn, on)})
	}
	return changes, nil
}

// differ knows, for the new revision, which object is what.
type differ struct {
	old, new *pdf.Reader
	pageOf   map[uint32]int  // page object → page number
	contents map[uint32]int  // content stream → page number
	allowed  map[uint32]bool // appearance streams of signature widgets, DSS objects
}

func (d *differ) index() {
	d.pageOf, d.contents, d.allowed = map[uint32]int{}, map[uint32]int{}, map[uint32]bool{}
	for i := 1; i <= d.new.NumPage() && i <= 10000; i++ {
		p := d.new.Page(i).V
		if p.IsNull() {
			break
		}
		d.pageOf[p.GetPtr().GetID()] = i
		c := p.Key("Contents")
		if c.Kind() == pdf.Array {
			for j := 0; j < c.Len(); j++ {
				d.contents[c.Index(j).GetPtr().GetID()] = i
			}
		} else if id := c.GetPtr().GetID(); id != p.GetPtr().GetID() {
			d.contents[id] = i
		}
		annots := p.Key("Annots")
		for j := 0; j < annots.Len() && j < 1000; j++ {
			a := annots.Index(j)
			if isSigWidget(a) {
				markTree(a.Key("AP"), d.allowed, 3)
			}
		}
	}
	root := d.new.Trailer().Key("Root")
	markTree(root.Key("DSS"), d.allowed, 4)
}

// markTree marks the indirect objects reachable from v (a few levels).
func markTree(v pdf.Value, m map[uint32]bool, depth int) {
	if depth < 0 || v.IsNull() {
		return
	}
	if id := v.GetPtr().GetID(); id != 0 {
		m[id] = true
	}
	switch v.Kind() {
	case pdf.Dict, pdf.Stream:
		for _, k := range v.Keys() {
			markTree(v.Key(k), m, depth-1)
		}
	case pdf.Array:
		for i := 0; i < v.Len() && i < 10000; i++ {
			markTree(v.Index(i), m, depth-1)
		}
	}
}

func isSigWidget(a pdf.Value) bool {
	if a.Key("Subtype").Name() != "Widget" {
		return false
	}
	return a.Key("FT").Name() == "Sig" || a.Key("Parent").Key("FT").Name() == "Sig"
}

// describe names the change of object id (ov is zero when added).
func (d *differ) describe(id uint32, ov, nv pdf.Value, added bool) []Change {
	verb := "changed"
	if added {
		verb = "added"
	}
	typ, sub := nv.Key("Type").Name(), nv.Key("Subtype").Name()
	c := Change{Object: id}
	switch {
	case typ == "Sig" || (nv.Key("ByteRange").Kind() == pdf.Array && nv.Key("Contents").Kind() == pdf.String):
		if sub := nv.Key("SubFilter").Name(); sub == "ETSI.RFC3161" || typ == "DocTimeStamp" {
			c.Kind, c.Description, c.Allowed = "timestamp", "document time-stamp "+verb, true
		} else {
			c.Kind, c.Description, c.Allowed = "signature", "a further signature "+verb, true
		}
	case typ == "DSS" || typ == "VRI" || d.allowed[id] && !d.isPageContent(id):
		c.Kind, c.Description, c.Allowed = "validation_data", "signature validation data or appearance "+verb, true
	case typ == "Catalog":
		return d.catalogChange(id, ov, nv, added)
	case typ == "Page":
		return d.pageChange(id, ov, nv, added)
	case typ == "Pages":
		c.Kind, c.Description = "page", "page tree "+verb
		if !added && ov.Key("Count").Int64() == nv.Key("Count").Int64() && sameKids(ov, nv) {
			c.Description, c.Allowed = "page tree updated (same pages)", true
		}
	case typ == "Annot" || sub == "Widget" || isAnnotSubtype(sub):
		c.Kind, c.Page = "annotation", d.pageOfAnnot(id)
		if isSigWidget(nv) {
			c.Kind, c.Description, c.Allowed = "signature", "signature field "+verb, true
		} else {
			c.Description = fmt.Sprintf("annotation /%s %s", sub, verb)
		}
		if c.Page > 0 {
			c.Description += " on page " + strconv.Itoa(c.Page)
		}
	case nv.Key("FT").Kind() == pdf.Name:
		name := nv.Key("T").Text()
		if nv.Key("FT").Name() == "Sig" {
			c.Kind, c.Description, c.Allowed = "signature", "signature field "+strconv.Quote(name)+" "+verb, true
		} else {
			c.Kind, c.Description = "form_field", fmt.Sprintf("form field %q %s", name, verb)
		}
	case typ == "EmbeddedFile" || typ == "Filespec" || nv.Key("EF").Kind() == pdf.Dict:
		name := nv.Key("UF").Text()
		if name == "" {
			name = nv.Key("F").Text()
		}
		c.Kind = "attachment"
		if name != "" {
			c.Description = fmt.Sprintf("attachment %q %s", name, verb)
		} else {
			c.Description = "attachment data " + verb
		}
		// A later Parley signer's envelope; covered by that signature.
		c.Allowed = strings.HasPrefix(name, "parley-biometric-") || strings.HasPrefix(name, "parley-audit") || typ == "EmbeddedFile"
	case d.isPageContent(id):
		c.Kind, c.Page = "page_content", d.contents[id]
		c.Description = fmt.Sprintf("content of page %d %s", c.Page, verb)
	case nv.Key("Names").Kind() == pdf.Array || nv.Key("Kids").Kind() == pdf.Array && typ == "":
		c.Kind, c.Description, c.Allowed = "attachment", "name tree "+verb, true
	case typ == "XRef" || typ == "ObjStm":
		return nil // file structure, its contents are compared object by object
	case typ == "XObject" || sub == "Image" || sub == "Form":
		c.Kind, c.Description = "object", fmt.Sprintf("%s /%s %s (drawn on pages)", typ, sub, verb)
	case typ == "Font" || typ == "FontDescriptor" || typ == "ExtGState":
		c.Kind, c.Description, c.Allowed = "object", "/"+typ+" resource "+verb, added
	default:
		if typ == "" && nv.Kind() == pdf.Stream && added {
			// An unreferenced or resource stream added along with other
			// changes; those name the effect.
			c.Kind, c.Description, c.Allowed = "object", "data stream added", true
			break
		}
		c.Kind = "object"
		c.Description = fmt.Sprintf("object %d (%s) %s", id, kindName(nv, typ), verb)
		c.Allowed = added && typ == "" && nv.Kind() != pdf.Stream // e.g. a new array or number object
	}
	return []Change{c}
}

func kindName(v pdf.Value, typ string) string {
	if typ != "" {
		return "/" + typ
	}
	switch v.Kind() {
	case pdf.Stream:
		return "stream"
	case pdf.Dict:
		return "dictionary"
	case pdf.Array:
		return "array"
	}
	return "value"
}

func isAnnotSubtype(s string) bool {
	switch s {
	case "Text", "Link", "FreeText", "Line", "Square", "Circle", "Polygon", "PolyLine", "Highlight", "Underline",
		"Squiggly", "StrikeOut", "Stamp", "Caret", "Ink", "Popup", "FileAttachment", "Sound", "Movie", "Screen",
		"PrinterMark", "TrapNet", "Watermark", "3D", "Redact", "RichMedia":
		return true
	}
	return false
}

func (d *differ) isPageContent(id uint32) bool { _, ok := d.contents[id]; return ok }

func (d *differ) pageOfAnnot(id uint32) int {
	for i := 1; i <= d.new.NumPage() && i <= 10000; i++ {
		annots := d.new.Page(i).V.Key("Annots")
		for j := 0; j < annots.Len() && j < 1000; j++ {
			if annots.Index(j).GetPtr().GetID() == id {
				return i
			}
		}
	}
	return 0
}

func sameKids(a, b pdf.Value) bool {
	ka, kb := a.Key("Kids"), b.Key("Kids")
	if ka.Len() != kb.Len() {
		return false
	}
	for i := 0; i < ka.Len(); i++ {
		if ka.Index(i).GetPtr() != kb.Index(i).GetPtr() {
			return false
		}
	}
	return true
}

// catalogChange: changed keys of the document catalog; /AcroForm, /DSS,
// /Names (attachments), /Perms updates are what signing does.
func (d *differ) catalogChange(id uint32, ov, nv pdf.Value, added bool) []Change {
	if added {
		return []Change{{Kind: "catalog", Object: id, Description: "document catalog replaced"}}
	}
	var out []Change
	for _, k := range changedKeys(ov, nv) {
		c := Change{Kind: "catalog", Object: id, Description: "document catalog: /" + k + " changed"}
		switch k {
		case "AcroForm", "DSS", "Names", "Perms", "AF", "Extensions":
			c.Allowed = true
		}
		out = append(out, c)
	}
	return out
}

// pageChange: a page object changed; annotations added to it are named
// by their own objects, a changed /Contents by the page.
func (d *differ) pageChange(id uint32, ov, nv pdf.Value, added bool) []Change {
	page := d.pageOf[id]
	if added {
		return []Change{{Kind: "page_added", Page: page, Object: id, Description: fmt.Sprintf("page %d added", page)}}
	}
	var out []Change
	for _, k := range changedKeys(ov, nv) {
		c := Change{Kind: "page", Page: page, Object: id}
		switch k {
		case "Annots":
			added := annotsAdded(ov, nv)
			allSig := true
			for _, a := range added {
				if !isSigWidget(a) {
					allSig = false
				}
			}
			c.Kind, c.Allowed = "annotation", allSig && len(added) > 0
			c.Description = fmt.Sprintf("annotations of page %d changed", page)
			if c.Allowed {
				c.Description = fmt.Sprintf("signature field placed on page %d", page)
			}
		case "Contents":
			c.Kind, c.Description = "page_content", fmt.Sprintf("content of page %d replaced", page)
		default:
			c.Description = fmt.Sprintf("page %d: /%s changed", page, k)
		}
		out = append(out, c)
	}
	return out
}

// annotsAdded are the annotations of nv's /Annots not in ov's.
func annotsAdded(ov, nv pdf.Value) []pdf.Value {
	had := map[uint32]bool{}
	oa := ov.Key("Annots")
	for i := 0; i < oa.Len() && i < 1000; i++ {
		had[oa.Index(i).GetPtr().GetID()] = true
	}
	var out []pdf.Value
	na := nv.Key("Annots")
	for i := 0; i < na.Len() && i < 1000; i++ {
		a := na.Index(i)
		if !had[a.GetPtr().GetID()] {
			out = append(out, a)
		}
	}
	return out
}

// changedKeys lists the keys whose values differ between two dictionaries.
func changedKeys(ov, nv pdf.Value) []string {
	keys := append(ov.Keys(), nv.Keys()...)
	sort.Strings(keys)
	keys = slices.Compact(keys)
	var out []string
	self := nv.GetPtr()
	for _, k := range keys {
		var a, b strings.Builder
		writeCanonical(&a, ov.Key(k), ov.GetPtr(), 0)
		writeCanonical(&b, nv.Key(k), self, 0)
		if a.String() != b.String() {
			out = append(out, k)
		}
	}
	return out
}

// canonical is a deterministic encoding of an object that does not follow
// references (they appear as "id gen R"); streams by their decoded data's
// SHA-256.
func canonical(v pdf.Value) string {
	var b strings.Builder
	writeCanonical(&b, v, v.GetPtr(), 0)
	return b.String()
}

func writeCanonical(b *strings.Builder, v pdf.Value, self pdf.Ptr, depth int) {
	if depth > 32 {
		b.WriteString("…")
		return
	}
	if p := v.GetPtr(); depth > 0 && p.GetID() != 0 && p != self {
		fmt.Fprintf(b, "%d %d R", p.GetID(), p.GetGen())
		return
	}
	switch v.Kind() {
	case pdf.Null:
		b.WriteString("null")
	case pdf.Bool:
		b.WriteString(strconv.FormatBool(v.Bool()))
	case pdf.Integer:
		b.WriteString(strconv.FormatInt(v.Int64(), 10))
	case pdf.Real:
		b.WriteString(strconv.FormatFloat(v.Float64(), 'g', -1, 64))
	case pdf.String:
		b.WriteString(strconv.Quote(v.RawString()))
	case pdf.Name:
		b.WriteString("/" + v.Name())
	case pdf.Array:
		b.WriteByte('[')
		for i := 0; i < v.Len() && i < 100000; i++ {
			writeCanonical(b, v.Index(i), self, depth+1)
			b.WriteByte(' ')
		}
		b.WriteByte(']')
	case pdf.Dict, pdf.Stream:
		keys := v.Keys()
		sort.Strings(keys)
		b.WriteString("<<")
		for _, k := range keys {
			if v.Kind() == pdf.Stream && (k == "Length" || k == "Filter" || k == "DecodeParms") {
				continue // the data's digest below covers the content
			}
			b.WriteString("/" + k + " ")
			writeCanonical(b, v.Key(k), self, depth+1)
			b.WriteByte(' ')
		}
		b.WriteString(">>")
		if v.Kind() == pdf.Stream {
			h := sha256.New()
			if _, err := io.Copy(h, io.LimitReader(v.Reader(), 256<<20)); err != nil {
				b.WriteString(" stream-error")
			}
			b.WriteString(" stream " + hex.EncodeToString(h.Sum(nil)))
		}
	}
}
