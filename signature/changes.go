package signature

// What changed in a PDF after a signature, one signing step at a time:
// the revision a step starts from is compared object by object (objects
// in object streams included) with the revision it ends at, and every
// difference is named in words a back-office clerk understands, in
// English and German. A step may add only what its own signature needs
// (stepRule); everything else is a change after signing. See PDF.md,
// "One change analysis, one rule".

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
	// Description in English, e.g. `annotation /Text added on page 1`;
	// DE the same in German.
	Description string `json:"description"`
	DE          string `json:"de"`
	// Allowed: a change signing workflows make on purpose.
	Allowed bool `json:"allowed"`
}

// maxDiffObjects bounds the comparison (hostile files).
const maxDiffObjects = 200000

// stepRule says what one signing step (the revisions a later signature
// covers) may add: exactly that signature's field, widget and appearance,
// the files its seal manifest lists, validation data (DSS/VRI). A zero
// rule (bytes no valid signature covers) allows nothing.
type stepRule struct {
	field       string          // the covering signature's field; "" none
	attachments map[string]bool // names it may attach
}

// diffStep compares the revision ending at len(old) with the one ending
// at len(doc) (old is a prefix of doc) object by object, objects in object
// streams included, and names every difference; Allowed marks what rule
// permits.
func diffStep(old, doc []byte, rule stepRule) (changes []Change, err error) {
	defer func() {
		if r := recover(); r != nil {
			changes, err = nil, fmt.Errorf("%w: %v", ErrPDFMalformed, r)
		}
	}()
	oldR, err := pdf.NewReader(bytes.NewReader(old), int64(len(old)))
	if err != nil {
		return nil, fmt.Errorf("%w: signed revision: %v", ErrPDFMalformed, err)
	}
	newR, err := pdf.NewReader(bytes.NewReader(doc), int64(len(doc)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrPDFMalformed, err)
	}
	n := len(newR.Xref())
	if n > maxDiffObjects {
		return nil, fmt.Errorf("%w: %d objects", ErrPDFTooLarge, n)
	}
	d := differ{old: oldR, new: newR, rule: rule}
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
		changes = append(changes, Change{Kind: "page_added", Description: fmt.Sprintf("%d page(s) added (now %d, signed %d)", nn-on, nn, on),
			DE: fmt.Sprintf("%d Seite(n) hinzugefügt (jetzt %d, signiert %d)", nn-on, nn, on)})
	} else if nn < on {
		changes = append(changes, Change{Kind: "page_removed", Description: fmt.Sprintf("%d page(s) removed (now %d, signed %d)", on-nn, nn, on),
			DE: fmt.Sprintf("%d Seite(n) entfernt (jetzt %d, signiert %d)", on-nn, nn, on)})
	}
	changes = append(changes, d.attachmentChanges()...)
	changes = append(changes, d.overlapChanges()...)
	return changes, nil
}

// differ knows, for the new revision, which object is what.
type differ struct {
	old, new *pdf.Reader
	rule     stepRule
	pageOf   map[uint32]int    // page object → page number
	contents map[uint32]int    // content stream → page number
	own      map[uint32]bool   // the signer's field, widget, appearance, attached files
	widgets  map[uint32]bool   // the signer's widget annotations
	dss      map[uint32]bool   // validation data
	oldField map[uint32]bool   // fields of the old revision
	attOK    bool              // attachments: only the allowed ones added, none changed
	meta     map[uint32]string // /Info ("info") and XMP ("xmp") objects the step may change (metadata.go)
}

func (d *differ) index() {
	d.pageOf, d.contents = map[uint32]int{}, map[uint32]int{}
	d.own, d.widgets, d.dss, d.oldField = map[uint32]bool{}, map[uint32]bool{}, map[uint32]bool{}, map[uint32]bool{}
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
	}
	oldFields := d.old.Trailer().Key("Root").Key("AcroForm").Key("Fields")
	for i := 0; i < oldFields.Len() && i < 10000; i++ {
		d.oldField[oldFields.Index(i).GetPtr().GetID()] = true
	}
	root := d.new.Trailer().Key("Root")
	if d.rule.field != "" {
		fields := root.Key("AcroForm").Key("Fields")
		for i := 0; i < fields.Len() && i < 10000; i++ {
			f := fields.Index(i)
			id := f.GetPtr().GetID()
			if d.oldField[id] || f.Key("FT").Name() != "Sig" || f.Key("T").Text() != d.rule.field {
				continue
			}
			d.own[id] = true
			markTree(f.Key("V"), d.own, 2)
			markTree(f.Key("AP"), d.own, 6)
			if f.Key("Subtype").Name() == "Widget" {
				d.widgets[id] = true
			}
			kids := f.Key("Kids")
			for j := 0; j < kids.Len() && j < 16; j++ {
				k := kids.Index(j)
				if k.Key("Subtype").Name() == "Widget" {
					d.own[k.GetPtr().GetID()], d.widgets[k.GetPtr().GetID()] = true, true
					markTree(k.Key("AP"), d.own, 6)
				}
			}
		}
		markTree(root.Key("DSS"), d.dss, 4)
	}
	d.indexMetadata()
	d.attOK = len(d.attachmentChanges()) == 0
	if d.attOK {
		// The attached files' objects (file specification, data stream)
		// belong to the step.
		d.markAttachments(root.Key("Names").Key("EmbeddedFiles"), 0)
	}
}

// markAttachments marks the file specifications (and their streams) of
// the allowed attachments in a name tree.
func (d *differ) markAttachments(n pdf.Value, depth int) {
	if depth > maxNameTreeDepth {
		return
	}
	arr := n.Key("Names")
	for i := 0; i+1 < arr.Len() && i < 2*maxAttachments; i += 2 {
		fs := arr.Index(i + 1)
		if d.rule.attachments[attachmentName(fs, arr.Index(i))] {
			markTree(fs, d.own, 3)
		}
	}
	kids := n.Key("Kids")
	for i := 0; i < kids.Len() && i < maxAttachments; i++ {
		d.markAttachments(kids.Index(i), depth+1)
	}
}

func attachmentName(fs, key pdf.Value) string {
	name := fs.Key("UF").Text()
	if name == "" {
		name = fs.Key("F").Text()
	}
	if name == "" {
		name = key.Text()
	}
	return name
}

// attachmentChanges compares the attachment lists: only files the rule
// allows may be added; none may change or go.
func (d *differ) attachmentChanges() []Change {
	before, err1 := listAttachments(d.old)
	after, err2 := listAttachments(d.new)
	if err1 != nil || err2 != nil {
		return []Change{{Kind: "attachment", Description: "the list of attached files could not be read", DE: "die Liste der angehängten Dateien ist nicht lesbar"}}
	}
	had := map[string][]byte{}
	for _, a := range before {
		had[a.Name] = a.Data
	}
	var out []Change
	seen := map[string]bool{}
	for _, a := range after {
		seen[a.Name] = true
		old, ok := had[a.Name]
		switch {
		case ok && !bytes.Equal(old, a.Data):
			out = append(out, Change{Kind: "attachment", Description: fmt.Sprintf("attached file %q replaced", a.Name), DE: fmt.Sprintf("angehängte Datei %q ersetzt", a.Name)})
		case !ok && !d.rule.attachments[a.Name]:
			out = append(out, Change{Kind: "attachment", Description: fmt.Sprintf("file %q attached", a.Name), DE: fmt.Sprintf("Datei %q angehängt", a.Name)})
		}
	}
	for _, a := range before {
		if !seen[a.Name] {
			out = append(out, Change{Kind: "attachment", Description: fmt.Sprintf("attached file %q removed", a.Name), DE: fmt.Sprintf("angehängte Datei %q entfernt", a.Name)})
		}
	}
	return out
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
	verb, verbDE := "changed", "geändert"
	if added {
		verb, verbDE = "added", "hinzugefügt"
	}
	typ, sub := nv.Key("Type").Name(), nv.Key("Subtype").Name()
	c := Change{Object: id}
	switch {
	case typ == "XRef" || typ == "ObjStm":
		return nil // file structure; its objects are compared one by one
	case d.meta[id] == "info":
		c.Kind, c.Allowed = "metadata", true
		c.Description, c.DE = "document information (title, author, dates) "+verb, "Dokumentinformationen (Titel, Autor, Datum) "+verbDE
	case d.meta[id] == "xmp":
		c.Kind, c.Allowed = "metadata", true
		c.Description, c.DE = "document metadata (XMP) "+verb, "Metadaten des Dokuments (XMP) "+verbDE
	case d.own[id] && added:
		c.Kind, c.Allowed = "signature", true
		c.Description, c.DE = "the new signature's field, appearance or attached data", "Feld, Darstellung oder angehängte Daten der neuen Signatur"
	case d.dss[id] && (typ == "DSS" || typ == "VRI" || added):
		c.Kind, c.Allowed = "validation_data", true
		c.Description, c.DE = "signature validation data "+verb, "Prüfdaten der Signaturen "+verbDE
	case typ == "Catalog":
		return d.catalogChange(id, ov, nv, added)
	case typ == "Page":
		return d.pageChange(id, ov, nv, added)
	case typ == "Pages":
		c.Kind, c.Description, c.DE = "page", "page tree "+verb, "Seitenbaum "+verbDE
		if !added && ov.Key("Count").Int64() == nv.Key("Count").Int64() && sameKids(ov, nv) {
			c.Description, c.DE = "page tree rewritten (same pages)", "Seitenbaum neu geschrieben (gleiche Seiten)"
		}
	case typ == "Annot" || sub == "Widget" || isAnnotSubtype(sub):
		c.Kind, c.Page = "annotation", d.pageOfAnnot(id)
		c.Description = fmt.Sprintf("annotation /%s %s", sub, verb)
		c.DE = fmt.Sprintf("Anmerkung /%s %s", sub, verbDE)
		if isSigWidget(nv) {
			c.Kind = "signature"
			c.Description, c.DE = "signature field "+strconv.Quote(nv.Key("T").Text())+" "+verb, "Signaturfeld "+strconv.Quote(nv.Key("T").Text())+" "+verbDE
		}
		if c.Page > 0 {
			c.Description += " on page " + strconv.Itoa(c.Page)
			c.DE += " auf Seite " + strconv.Itoa(c.Page)
		}
	case nv.Key("FT").Kind() == pdf.Name || nv.Key("Fields").Kind() == pdf.Array:
		name := nv.Key("T").Text()
		switch {
		case nv.Key("Fields").Kind() == pdf.Array:
			return d.formChange(id, ov, nv, added)
		case nv.Key("FT").Name() == "Sig":
			c.Kind, c.Description, c.DE = "signature", "signature field "+strconv.Quote(name)+" "+verb, "Signaturfeld "+strconv.Quote(name)+" "+verbDE
		default:
			c.Kind, c.Description, c.DE = "form_field", fmt.Sprintf("form field %q (value) %s", name, verb), fmt.Sprintf("Formularfeld %q (Wert) %s", name, verbDE)
		}
	case typ == "EmbeddedFile" || typ == "Filespec" || nv.Key("EF").Kind() == pdf.Dict:
		c.Kind, c.Description, c.DE = "attachment", "attached file data "+verb, "Daten einer angehängten Datei "+verbDE
	case d.isPageContent(id):
		c.Kind, c.Page = "page_content", d.contents[id]
		c.Description = fmt.Sprintf("text or graphics of page %d %s", c.Page, verb)
		c.DE = fmt.Sprintf("Text oder Grafik von Seite %d %s", c.Page, verbDE)
	case nv.Key("Names").Kind() == pdf.Array || nv.Key("Kids").Kind() == pdf.Array && typ == "" || nv.Key("EmbeddedFiles").Kind() == pdf.Dict:
		c.Kind, c.Description, c.DE = "attachment", "list of attached files "+verb, "Liste der angehängten Dateien "+verbDE
		c.Allowed = d.attOK && d.rule.field != ""
	case typ == "XObject" || sub == "Image" || sub == "Form":
		c.Kind = "object"
		c.Description = fmt.Sprintf("image or drawing (%s /%s) %s", typ, sub, verb)
		c.DE = fmt.Sprintf("Bild oder Zeichnung (%s /%s) %s", typ, sub, verbDE)
	case typ == "Font" || typ == "FontDescriptor" || typ == "ExtGState":
		c.Kind = "object"
		c.Description, c.DE = "font or drawing resource (/"+typ+") "+verb, "Schrift oder Zeichenressource (/"+typ+") "+verbDE
	case typ == "Sig" || typ == "DocTimeStamp":
		c.Kind, c.Description, c.DE = "signature", "signature value "+verb, "Signaturwert "+verbDE
	default:
		c.Kind = "object"
		c.Description = fmt.Sprintf("document data %s (object %d, %s)", verb, id, kindName(nv, typ))
		c.DE = fmt.Sprintf("Dokumentdaten %s (Objekt %d, %s)", verbDE, id, kindName(nv, typ))
	}
	return []Change{c}
}

// formChange: the interactive form's dictionary changed; a signing step
// may add exactly its own field to /Fields and set /SigFlags.
func (d *differ) formChange(id uint32, ov, nv pdf.Value, added bool) []Change {
	if added {
		c := Change{Kind: "form_field", Object: id, Description: "interactive form created", DE: "Formular angelegt"}
		c.Allowed = d.rule.field != "" && ov.IsNull() && d.fieldsAddOnlyOwn(pdf.Value{}, nv.Key("Fields"))
		return []Change{c}
	}
	var out []Change
	for _, k := range changedKeys(ov, nv) {
		c := Change{Kind: "form_field", Object: id, Description: "form: /" + k + " changed", DE: "Formular: /" + k + " geändert"}
		switch k {
		case "Fields":
			c.Allowed = d.fieldsAddOnlyOwn(ov.Key("Fields"), nv.Key("Fields"))
			if c.Allowed {
				c.Description, c.DE = "signature field added to the form", "Signaturfeld zum Formular hinzugefügt"
			}
		case "SigFlags":
			c.Allowed = d.rule.field != ""
		}
		out = append(out, c)
	}
	return out
}

// fieldsAddOnlyOwn: the new /Fields keeps every old field in order and
// adds exactly the signer's field.
func (d *differ) fieldsAddOnlyOwn(of, nf pdf.Value) bool {
	if d.rule.field == "" || nf.Len() != of.Len()+1 {
		return false
	}
	for i := 0; i < of.Len(); i++ {
		if of.Index(i).GetPtr() != nf.Index(i).GetPtr() {
			return false
		}
	}
	last := nf.Index(nf.Len() - 1).GetPtr().GetID()
	return d.own[last]
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

// catalogChange: changed keys of the document catalog; a signing step
// may point /AcroForm, /Names and /AF at its updated form and attachment
// list and add /DSS; anything else (/OpenAction, /Pages, …) is a change.
func (d *differ) catalogChange(id uint32, ov, nv pdf.Value, added bool) []Change {
	if added {
		// A signing tool may write the catalog as a new object: compare it
		// with the old one.
		ov = d.old.Trailer().Key("Root")
		if ov.Key("Type").Name() != "Catalog" || d.new.Trailer().Key("Root").GetPtr().GetID() != id {
			return []Change{{Kind: "catalog", Object: id, Description: "a second document catalog added", DE: "ein zweiter Dokumentkatalog hinzugefügt"}}
		}
	}
	var out []Change
	for _, k := range changedKeys(ov, nv) {
		c := Change{Kind: "catalog", Object: id, Description: "document settings: /" + k + " changed", DE: "Dokumenteinstellungen: /" + k + " geändert"}
		switch k {
		case "AcroForm":
			// A direct form dictionary is judged here; an indirect one by
			// its own object.
			if nv.Key("AcroForm").GetPtr().GetID() == nv.GetPtr().GetID() || nv.Key("AcroForm").GetPtr().GetID() == 0 {
				c.Allowed = d.rule.field != "" && d.fieldsAddOnlyOwn(ov.Key("AcroForm").Key("Fields"), nv.Key("AcroForm").Key("Fields"))
			} else {
				c.Allowed = d.rule.field != ""
			}
		case "Names", "AF":
			c.Allowed = d.rule.field != "" && d.attOK
		case "DSS":
			c.Allowed = d.rule.field != ""
		case "Metadata":
			// Pointed at an XMP stream the step may write (metadata.go).
			c.Allowed = d.meta[nv.Key("Metadata").GetPtr().GetID()] == "xmp"
		}
		out = append(out, c)
	}
	return out
}

// pageChange: a page object changed; a signing step may add exactly its
// own widget to /Annots.
func (d *differ) pageChange(id uint32, ov, nv pdf.Value, added bool) []Change {
	page := d.pageOf[id]
	if added {
		return []Change{{Kind: "page_added", Page: page, Object: id, Description: fmt.Sprintf("page %d added", page), DE: fmt.Sprintf("Seite %d hinzugefügt", page)}}
	}
	var out []Change
	for _, k := range changedKeys(ov, nv) {
		c := Change{Kind: "page", Page: page, Object: id}
		switch k {
		case "Annots":
			c.Kind = "annotation"
			c.Description, c.DE = fmt.Sprintf("annotations of page %d changed", page), fmt.Sprintf("Anmerkungen auf Seite %d geändert", page)
			if d.annotsAddOnlyOwn(ov, nv) {
				c.Allowed = true
				c.Description, c.DE = fmt.Sprintf("signature field placed on page %d", page), fmt.Sprintf("Signaturfeld auf Seite %d platziert", page)
			}
		case "Contents":
			c.Kind = "page_content"
			c.Description, c.DE = fmt.Sprintf("text or graphics of page %d replaced", page), fmt.Sprintf("Text oder Grafik von Seite %d ersetzt", page)
		default:
			c.Description, c.DE = fmt.Sprintf("page %d: /%s changed", page, k), fmt.Sprintf("Seite %d: /%s geändert", page, k)
		}
		out = append(out, c)
	}
	return out
}

// annotsAddOnlyOwn: the page keeps its annotations and gains only the
// signer's widget.
func (d *differ) annotsAddOnlyOwn(ov, nv pdf.Value) bool {
	if d.rule.field == "" {
		return false
	}
	oa, na := ov.Key("Annots"), nv.Key("Annots")
	had := map[uint32]bool{}
	for i := 0; i < oa.Len() && i < 1000; i++ {
		had[oa.Index(i).GetPtr().GetID()] = true
	}
	kept, own := 0, 0
	for i := 0; i < na.Len() && i < 1000; i++ {
		id := na.Index(i).GetPtr().GetID()
		switch {
		case had[id]:
			kept++
		case d.widgets[id]:
			own++
		default:
			return false
		}
	}
	return kept == len(had) && own == 1
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

// sigWidgetRects are the rectangles of the signature widgets on page
// (1-based) of r, except those in skip.
func sigWidgetRects(r *pdf.Reader, page int, skip map[uint32]bool) []PageSize {
	var out []PageSize
	annots := r.Page(page).V.Key("Annots")
	for i := 0; i < annots.Len() && i < 1000; i++ {
		a := annots.Index(i)
		if !isSigWidget(a) || skip[a.GetPtr().GetID()] {
			continue
		}
		if box, ok := rectOf(a.Key("Rect")); ok {
			out = append(out, box)
		}
	}
	return out
}

func overlaps(a, b PageSize) bool {
	return a.LLX < b.URX && b.LLX < a.URX && a.LLY < b.URY && b.LLY < a.URY
}

// overlapChanges: the signer's widget may not lie over an earlier
// signature's appearance.
func (d *differ) overlapChanges() []Change {
	var out []Change
	for p := 1; p <= d.new.NumPage() && p <= MaxPDFPages; p++ {
		annots := d.new.Page(p).V.Key("Annots")
		for i := 0; i < annots.Len() && i < 1000; i++ {
			a := annots.Index(i)
			if !d.widgets[a.GetPtr().GetID()] {
				continue
			}
			box, ok := rectOf(a.Key("Rect"))
			if !ok {
				continue
			}
			for _, old := range sigWidgetRects(d.new, p, d.widgets) {
				if overlaps(box, old) {
					out = append(out, Change{Kind: "signature", Page: p, Object: a.GetPtr().GetID(),
						Description: fmt.Sprintf("the new signature's appearance lies over an earlier signature on page %d", p),
						DE:          fmt.Sprintf("die Darstellung der neuen Signatur liegt über einer früheren Signatur auf Seite %d", p)})
					break
				}
			}
		}
	}
	return out
}
