package signature

// Attachments inside the signed range: AppendAttachment adds an embedded
// file by an incremental update, so the document as presented to a signer
// stays an exact byte prefix of what gets signed (see PDF.md).

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"

	"github.com/digitorus/pdf"
)

// Attachment is a file to embed in a PDF.
type Attachment struct {
	Name        string // file name shown in viewers' attachment panels
	Description string
	MIME        string // e.g. application/json
	Data        []byte
	ModTime     time.Time
}

// AttachmentInfo is an embedded file found in a PDF.
type AttachmentInfo struct {
	Name         string
	Description  string
	MIME         string
	Relationship string // /AFRelationship, e.g. "Supplement"
	Data         []byte
	// PrefixEnd is the length of the document before the incremental
	// update that added this file: the end of the previous revision's
	// %%EOF line. A biometric envelope is bound to the SHA-256 of
	// pdf[:PrefixEnd]. RevisionEnd is the end of the revision that added it.
	PrefixEnd, RevisionEnd int64
}

// ErrAttachment is returned for an attachment that can't be embedded.
var ErrAttachment = errors.New("signature: invalid attachment")

const (
	maxAttachments     = 1000
	maxAttachmentBytes = 16 << 20
	maxNameTreeDepth   = 32
)

// AppendAttachment returns doc with a added as an embedded file (an
// EmbeddedFile stream, a Filespec with /AFRelationship /Supplement, the
// catalog's /Names /EmbeddedFiles tree merged with an existing one, and
// /AF) in one incremental update. doc's bytes are an exact prefix of the
// result. An existing attachment of the same name stays in the file but is
// no longer listed in the name tree.
func AppendAttachment(doc []byte, a Attachment) ([]byte, error) {
	if a.Name == "" || len(a.Name) > 255 || strings.ContainsAny(a.Name, "/\\\x00") {
		return nil, fmt.Errorf("%w: name %q", ErrAttachment, a.Name)
	}
	if len(a.Data) > maxAttachmentBytes {
		return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrAttachment, a.Name, len(a.Data), maxAttachmentBytes)
	}
	if _, err := loadPDF(context.Background(), doc, int64(len(doc))+1); err != nil {
		return nil, err
	}
	var out []byte
	err := withReader(context.Background(), doc, func(r *pdf.Reader) error {
		var err error
		out, err = appendAttachment(r, doc, a)
		return err
	})
	return out, err
}

func appendAttachment(r *pdf.Reader, doc []byte, a Attachment) ([]byte, error) {
	trailer := r.Trailer()
	root := trailer.Key("Root")
	rootPtr := root.GetPtr()
	if root.Kind() != pdf.Dict || rootPtr.GetID() == 0 {
		return nil, fmt.Errorf("%w: no indirect document catalog", ErrPDFMalformed)
	}
	size := trailer.Key("Size").Int64()
	if size <= 0 || size > maxPDFObjects {
		return nil, fmt.Errorf("%w: trailer /Size %d", ErrPDFMalformed, size)
	}
	u := &update{base: doc, next: uint32(size)}

	// The embedded file and its file specification.
	mod := a.ModTime
	if mod.IsZero() {
		mod = time.Now()
	}
	sum := md5.Sum(a.Data) // /CheckSum is defined as MD5 (ISO 32000-1 7.11.4)
	var zb bytes.Buffer
	zw := zlib.NewWriter(&zb)
	_, _ = zw.Write(a.Data)
	_ = zw.Close()
	var ef bytes.Buffer
	ef.WriteString("<< /Type /EmbeddedFile")
	if a.MIME != "" {
		ef.WriteString(" /Subtype " + pdfName(a.MIME))
	}
	fmt.Fprintf(&ef, " /Params << /Size %d /ModDate %s /CheckSum <%x> >> /Filter /FlateDecode /Length %d >>\nstream\n",
		len(a.Data), pdfDate(mod), sum, zb.Len())
	ef.Write(zb.Bytes())
	ef.WriteString("\nendstream")
	efID := u.add(ef.Bytes())

	fs := fmt.Sprintf("<< /Type /Filespec /F %s /UF %s /Desc %s /AFRelationship /Supplement /EF << /F %d 0 R /UF %d 0 R >> >>",
		pdfWinAnsiString(a.Name), pdfTextString(a.Name), pdfTextString(a.Description), efID, efID)
	fsID := u.add([]byte(fs))

	// The name tree: existing leaves (bounded) plus ours, flattened, sorted.
	names := root.Key("Names")
	type leaf struct {
		name string
		ref  string
	}
	var leaves []leaf
	var collect func(n pdf.Value, depth int) error
	collect = func(n pdf.Value, depth int) error {
		if depth > maxNameTreeDepth {
			return fmt.Errorf("%w: name tree too deep", ErrPDFMalformed)
		}
		arr := n.Key("Names")
		for i := 0; i+1 < arr.Len(); i += 2 {
			if len(leaves) >= maxAttachments {
				return fmt.Errorf("%w: more than %d attachments", ErrPDFMalformed, maxAttachments)
			}
			var b bytes.Buffer
			if err := writeValue(&b, arr.Index(i+1), arr.GetPtr()); err != nil {
				return err
			}
			leaves = append(leaves, leaf{name: arr.Index(i).RawString(), ref: b.String()})
		}
		kids := n.Key("Kids")
		for i := 0; i < kids.Len(); i++ {
			if err := collect(kids.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if ef := names.Key("EmbeddedFiles"); ef.Kind() == pdf.Dict {
		if err := collect(ef, 0); err != nil {
			return nil, err
		}
	}
	leaves = slices.DeleteFunc(leaves, func(l leaf) bool { return l.name == a.Name })
	leaves = append(leaves, leaf{name: a.Name, ref: fmt.Sprintf("%d 0 R", fsID)})
	slices.SortFunc(leaves, func(x, y leaf) int { return strings.Compare(x.name, y.name) })
	var tree bytes.Buffer
	tree.WriteString("<< /Names [")
	for _, l := range leaves {
		fmt.Fprintf(&tree, " %s %s", pdfHexString([]byte(l.name)), l.ref)
	}
	tree.WriteString(" ] >>")
	treeID := u.add(tree.Bytes())

	// The /Names dictionary: copied with EmbeddedFiles replaced.
	var nd bytes.Buffer
	nd.WriteString("<<")
	if names.Kind() == pdf.Dict {
		for _, k := range names.Keys() {
			if k == "EmbeddedFiles" {
				continue
			}
			nd.WriteString(" " + pdfName(k) + " ")
			if err := writeValue(&nd, names.Key(k), names.GetPtr()); err != nil {
				return nil, err
			}
		}
	}
	fmt.Fprintf(&nd, " /EmbeddedFiles %d 0 R >>", treeID)
	namesRef := ""
	if np := names.GetPtr(); names.Kind() == pdf.Dict && np.GetID() != 0 && np != rootPtr {
		u.update(np, nd.Bytes())
		namesRef = fmt.Sprintf("%d %d R", np.GetID(), np.GetGen())
	} else {
		namesRef = fmt.Sprintf("%d 0 R", u.add(nd.Bytes()))
	}

	// The catalog, same object number, with /Names and /AF.
	var cat bytes.Buffer
	cat.WriteString("<<")
	af := []string{}
	for _, k := range root.Keys() {
		switch k {
		case "Names":
			continue
		case "AF":
			arr := root.Key("AF")
			for i := 0; i < arr.Len() && i < maxAttachments; i++ {
				var b bytes.Buffer
				if err := writeValue(&b, arr.Index(i), arr.GetPtr()); err != nil {
					return nil, err
				}
				af = append(af, b.String())
			}
			continue
		}
		cat.WriteString(" " + pdfName(k) + " ")
		if err := writeValue(&cat, root.Key(k), rootPtr); err != nil {
			return nil, err
		}
	}
	af = append(af, fmt.Sprintf("%d 0 R", fsID))
	fmt.Fprintf(&cat, " /Names %s /AF [%s] >>", namesRef, strings.Join(af, " "))
	u.update(rootPtr, cat.Bytes())

	return u.finish(r)
}

// update is one incremental update being written after base.
type update struct {
	base    []byte
	body    bytes.Buffer
	next    uint32 // next free object number
	entries []xrefEntry
}

type xrefEntry struct {
	id     uint32
	gen    uint16
	offset int64 // absolute
}

func (u *update) start() {
	if u.body.Len() == 0 && !bytes.HasSuffix(u.base, []byte("\n")) && !bytes.HasSuffix(u.base, []byte("\r")) {
		u.body.WriteByte('\n')
	}
}

func (u *update) write(id uint32, gen uint16, body []byte) {
	u.start()
	u.entries = append(u.entries, xrefEntry{id: id, gen: gen, offset: int64(len(u.base) + u.body.Len())})
	fmt.Fprintf(&u.body, "%d %d obj\n", id, gen)
	u.body.Write(body)
	u.body.WriteString("\nendobj\n")
}

func (u *update) add(body []byte) uint32 {
	id := u.next
	u.next++
	u.write(id, 0, body)
	return id
}

func (u *update) update(p pdf.Ptr, body []byte) { u.write(p.GetID(), p.GetGen(), body) }

// finish writes the cross-reference section in the form the previous one
// used (table or stream) and returns base + update.
func (u *update) finish(r *pdf.Reader) ([]byte, error) {
	u.start()
	trailer := r.Trailer()
	prev := r.XrefInformation.StartPos
	var extra bytes.Buffer
	for _, k := range []string{"Info", "ID"} {
		if v := trailer.Key(k); !v.IsNull() {
			extra.WriteString(" /" + k + " ")
			if err := writeValue(&extra, v, trailer.GetPtr()); err != nil {
				return nil, err
			}
		}
	}
	rootRef := fmt.Sprintf("%d %d R", trailer.Key("Root").GetPtr().GetID(), trailer.Key("Root").GetPtr().GetGen())
	xrefAt := int64(len(u.base) + u.body.Len())
	switch r.XrefInformation.Type {
	case "table":
		u.body.WriteString("xref\n")
		for _, sec := range sections(u.entries) {
			fmt.Fprintf(&u.body, "%d %d\n", sec[0].id, len(sec))
			for _, e := range sec {
				fmt.Fprintf(&u.body, "%010d %05d n\r\n", e.offset, e.gen)
			}
		}
		fmt.Fprintf(&u.body, "trailer\n<< /Size %d /Root %s /Prev %d%s >>\n", u.next, rootRef, prev, extra.String())
	case "stream":
		id := u.next
		u.next++
		u.entries = append(u.entries, xrefEntry{id: id, offset: xrefAt})
		var data, index bytes.Buffer
		for _, sec := range sections(u.entries) {
			fmt.Fprintf(&index, " %d %d", sec[0].id, len(sec))
			for _, e := range sec {
				data.WriteByte(1)
				data.Write([]byte{byte(e.offset >> 24), byte(e.offset >> 16), byte(e.offset >> 8), byte(e.offset)})
				data.Write([]byte{byte(e.gen >> 8), byte(e.gen)})
			}
		}
		var zb bytes.Buffer
		zw := zlib.NewWriter(&zb)
		_, _ = zw.Write(data.Bytes())
		_ = zw.Close()
		fmt.Fprintf(&u.body, "%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Index [%s ] /Root %s /Prev %d%s /Filter /FlateDecode /Length %d >>\nstream\n",
			id, u.next, index.String(), rootRef, prev, extra.String(), zb.Len())
		u.body.Write(zb.Bytes())
		u.body.WriteString("\nendstream\nendobj\n")
	default:
		return nil, fmt.Errorf("%w: unknown cross-reference type %q", ErrPDFMalformed, r.XrefInformation.Type)
	}
	if xrefAt > 1<<32-1 {
		return nil, ErrPDFTooLarge
	}
	fmt.Fprintf(&u.body, "startxref\n%d\n%%%%EOF\n", xrefAt)
	out := make([]byte, 0, len(u.base)+u.body.Len())
	out = append(out, u.base...)
	return append(out, u.body.Bytes()...), nil
}

// sections groups entries into runs of consecutive object numbers.
func sections(es []xrefEntry) [][]xrefEntry {
	s := slices.Clone(es)
	slices.SortStableFunc(s, func(a, b xrefEntry) int { return int(a.id) - int(b.id) })
	s = slices.CompactFunc(s, func(a, b xrefEntry) bool { return a.id == b.id })
	var out [][]xrefEntry
	for i := 0; i < len(s); {
		j := i + 1
		for j < len(s) && s[j].id == s[j-1].id+1 {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out
}

// Attachments lists the files embedded in doc (the /EmbeddedFiles name
// tree of the last revision), with their data and the revision that added
// each (see AttachmentInfo.PrefixEnd).
func Attachments(doc []byte) ([]AttachmentInfo, error) {
	if _, err := loadPDF(context.Background(), doc, int64(len(doc))+1); err != nil {
		return nil, err
	}
	var out []AttachmentInfo
	err := withReader(context.Background(), doc, func(r *pdf.Reader) error {
		var err error
		out, err = listAttachments(r)
		return err
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	// Find, for each attachment, the first revision whose own name tree
	// lists the same name with the same data.
	revs := revisionEnds(doc)
	found := make([]bool, len(out))
	prevEnd := int64(0)
	for _, end := range revs {
		var atts []AttachmentInfo
		_ = withReader(context.Background(), doc[:end], func(r *pdf.Reader) error {
			atts, _ = listAttachments(r)
			return nil
		})
		for i := range out {
			if found[i] {
				continue
			}
			for _, a := range atts {
				if a.Name == out[i].Name && bytes.Equal(a.Data, out[i].Data) {
					out[i].PrefixEnd, out[i].RevisionEnd, found[i] = prevEnd, end, true
					break
				}
			}
		}
		prevEnd = end
	}
	return out, nil
}

// revisionEnds returns the offsets just past each "%%EOF" marker and its
// end-of-line, in file order.
func revisionEnds(doc []byte) []int64 {
	var ends []int64
	marker := []byte("%%EOF")
	for off := 0; ; {
		i := bytes.Index(doc[off:], marker)
		if i < 0 {
			return ends
		}
		end := off + i + len(marker)
		if end < len(doc) && doc[end] == '\r' {
			end++
		}
		if end < len(doc) && doc[end] == '\n' {
			end++
		}
		ends = append(ends, int64(end))
		off = end
	}
}

func listAttachments(r *pdf.Reader) ([]AttachmentInfo, error) {
	tree := r.Trailer().Key("Root").Key("Names").Key("EmbeddedFiles")
	var out []AttachmentInfo
	var walk func(n pdf.Value, depth int) error
	walk = func(n pdf.Value, depth int) error {
		if depth > maxNameTreeDepth {
			return fmt.Errorf("%w: name tree too deep", ErrPDFMalformed)
		}
		arr := n.Key("Names")
		for i := 0; i+1 < arr.Len(); i += 2 {
			if len(out) >= maxAttachments {
				return fmt.Errorf("%w: more than %d attachments", ErrPDFMalformed, maxAttachments)
			}
			fs := arr.Index(i + 1)
			stream := fs.Key("EF").Key("F")
			if stream.Kind() != pdf.Stream {
				stream = fs.Key("EF").Key("UF")
			}
			data, err := readStream(stream)
			if err != nil {
				return err
			}
			name := fs.Key("UF").Text()
			if name == "" {
				name = fs.Key("F").Text()
			}
			if name == "" {
				name = arr.Index(i).Text()
			}
			out = append(out, AttachmentInfo{
				Name:         name,
				Description:  fs.Key("Desc").Text(),
				MIME:         stream.Key("Subtype").Name(),
				Relationship: fs.Key("AFRelationship").Name(),
				Data:         data,
			})
		}
		kids := n.Key("Kids")
		for i := 0; i < kids.Len(); i++ {
			if err := walk(kids.Index(i), depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if tree.Kind() != pdf.Dict {
		return nil, nil
	}
	return out, walk(tree, 0)
}

// readStream decodes a stream, refusing more than maxAttachmentBytes.
func readStream(v pdf.Value) ([]byte, error) {
	if v.Kind() != pdf.Stream {
		return nil, fmt.Errorf("%w: embedded file is not a stream", ErrPDFMalformed)
	}
	rc := v.Reader()
	defer rc.Close()
	var b bytes.Buffer
	n, err := b.ReadFrom(limitReader{rc, maxAttachmentBytes + 1})
	if err != nil {
		return nil, fmt.Errorf("%w: embedded file: %w", ErrPDFMalformed, err)
	}
	if n > maxAttachmentBytes {
		return nil, fmt.Errorf("%w: embedded file larger than %d bytes", ErrPDFMalformed, maxAttachmentBytes)
	}
	return b.Bytes(), nil
}

type limitReader struct {
	r interface{ Read([]byte) (int, error) }
	n int64
}

func (l limitReader) Read(p []byte) (int, error) {
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	return l.r.Read(p)
}

// writeValue serialises v; values that are separate objects from parent
// (their pointer differs) are written as references.
func writeValue(w *bytes.Buffer, v pdf.Value, parent pdf.Ptr) error {
	return writeValueDepth(w, v, parent, 0)
}

func writeValueDepth(w *bytes.Buffer, v pdf.Value, parent pdf.Ptr, depth int) error {
	if depth > 32 || w.Len() > 1<<20 {
		return fmt.Errorf("%w: object too deep or large to copy", ErrPDFMalformed)
	}
	if p := v.GetPtr(); p.GetID() != 0 && p != parent {
		fmt.Fprintf(w, "%d %d R", p.GetID(), p.GetGen())
		return nil
	}
	switch v.Kind() {
	case pdf.Null:
		w.WriteString("null")
	case pdf.Bool:
		w.WriteString(strconv.FormatBool(v.Bool()))
	case pdf.Integer:
		w.WriteString(strconv.FormatInt(v.Int64(), 10))
	case pdf.Real:
		w.WriteString(strconv.FormatFloat(v.Float64(), 'f', -1, 64))
	case pdf.String:
		w.WriteString(pdfHexString([]byte(v.RawString())))
	case pdf.Name:
		w.WriteString(pdfName(v.Name()))
	case pdf.Array:
		w.WriteByte('[')
		for i := 0; i < v.Len(); i++ {
			w.WriteByte(' ')
			if err := writeValueDepth(w, v.Index(i), parent, depth+1); err != nil {
				return err
			}
		}
		w.WriteString(" ]")
	case pdf.Dict:
		w.WriteString("<<")
		for _, k := range v.Keys() {
			w.WriteString(" " + pdfName(k) + " ")
			if err := writeValueDepth(w, v.Key(k), parent, depth+1); err != nil {
				return err
			}
		}
		w.WriteString(" >>")
	default:
		return fmt.Errorf("%w: can't copy a direct %v", ErrPDFMalformed, v.Kind())
	}
	return nil
}

// pdfName writes s as a PDF name, #-escaping delimiters and non-ASCII.
func pdfName(s string) string {
	var b strings.Builder
	b.WriteByte('/')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("#()<>[]{}/%", c) >= 0 {
			fmt.Fprintf(&b, "#%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func pdfHexString(b []byte) string { return fmt.Sprintf("<%x>", b) }

// pdfTextString encodes s as a PDF text string: PDFDocEncoding-compatible
// ASCII as is, anything else as UTF-16BE with a byte order mark.
func pdfTextString(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return pdfHexString([]byte(s))
	}
	u := utf16.Encode([]rune(s))
	b := []byte{0xfe, 0xff}
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return pdfHexString(b)
}

// sha256Hex is the lower-case hex SHA-256 of b.
func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return fmt.Sprintf("%x", s[:])
}
