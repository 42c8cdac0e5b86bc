package signature

import (
	"bytes"
	"compress/zlib"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/digitorus/pdf"
)

// Limits applied to every untrusted PDF before and while it is parsed.
const (
	// DefaultMaxPDFBytes is the size limit LoadPDF applies when maxBytes <= 0.
	DefaultMaxPDFBytes = 50 << 20
	// MaxPDFPages is the largest page count accepted.
	MaxPDFPages = 2000
	// maxPDFObjects bounds the object count declared by the cross-reference
	// data; the parser allocates a table of that size up front.
	maxPDFObjects = 1 << 20
	// maxPageTreeDepth bounds the nesting of the page tree.
	maxPageTreeDepth = 64
	// pdfParseTimeout bounds one parse: digitorus/pdf has no context.
	pdfParseTimeout = 10 * time.Second
	// maxObjStmBytes bounds one object stream, inflated (refused beyond).
	maxObjStmBytes = 16 << 20
	// maxStreamBytes bounds one stream, inflated (refused beyond).
	maxStreamBytes = 64 << 20
	// maxInflateBytes bounds everything intake inflates in one document
	// (object streams and other streams together; refused beyond).
	maxInflateBytes = 256 << 20
	// maxResolveBytes bounds what the reader inflates resolving every
	// object of every object stream once (it inflates a stream again, up
	// to the object, for each object it resolves).
	maxResolveBytes = 1 << 30
	// maxColumns bounds a predictor's /Columns (the reader allocates two
	// rows of that size).
	maxColumns = 1 << 20
)

// Errors returned for PDFs that can't be taken in.
var (
	ErrPDFTooLarge  = errors.New("signature: PDF too large")
	ErrPDFMalformed = errors.New("signature: malformed PDF")
	ErrPDFEncrypted = errors.New("signature: PDF is encrypted (password-protected); upload an unencrypted copy")
)

// PageSize is a page's MediaBox in PDF points (1/72 inch).
type PageSize struct {
	LLX, LLY, URX, URY float64
}

// Width of the page in points.
func (p PageSize) Width() float64 { return p.URX - p.LLX }

// Height of the page in points.
func (p PageSize) Height() float64 { return p.URY - p.LLY }

// PDFInfo describes a PDF that passed intake.
type PDFInfo struct {
	Size      int64
	SHA256    string     // lower-case hex of the whole file
	Version   string     // from the header, e.g. "1.7"
	Pages     int        // page count
	PageSizes []PageSize // MediaBox of each page, in order
	XrefType  string     // "table" or "stream"
	SigFields int        // signature fields already present
	// Ink is where the last pages (up to 3) have content; LoadPDF only.
	Ink []PageInk `json:",omitempty"`
}

// LoadPDF checks an untrusted PDF: size, header, that it parses, that it is
// not encrypted, and reads its page sizes. maxBytes <= 0 means
// DefaultMaxPDFBytes. It never panics; parser failures, panics and time-outs
// are ErrPDFMalformed.
//
// LoadPDF also reads where the last pages have content (PDFInfo.Ink, for
// PlaceFields); the other parses of the package skip that.
func LoadPDF(data []byte, maxBytes int64) (*PDFInfo, error) {
	return loadPDFInk(context.Background(), data, maxBytes, true)
}

func loadPDF(ctx context.Context, data []byte, maxBytes int64) (*PDFInfo, error) {
	return loadPDFInk(ctx, data, maxBytes, false)
}

func loadPDFInk(ctx context.Context, data []byte, maxBytes int64, ink bool) (*PDFInfo, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxPDFBytes
	}
	if int64(len(data)) > maxBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrPDFTooLarge, len(data), maxBytes)
	}
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return nil, fmt.Errorf("%w: does not start with %%PDF-", ErrPDFMalformed)
	}
	if err := preflight(data); err != nil {
		return nil, err
	}
	budget := &inflateBudget{left: maxInflateBytes, resolveLeft: maxResolveBytes}
	if err := lexCheck(data, budget); err != nil {
		return nil, err
	}
	var info *PDFInfo
	err := withReader(ctx, data, func(r *pdf.Reader) error {
		var err error
		var nodes []pdf.Value
		if info, nodes, err = describe(r); err != nil {
			return err
		}
		if err := walkObjects(ctx, r, int64(len(data)), budget); err != nil {
			return err
		}
		if ink {
			// After the walk: every stream is known to inflate within bounds.
			for p := max(1, info.Pages-inkPages+1); p <= info.Pages; p++ {
				info.Ink = append(info.Ink, pageInk(p, nodes[p-1]))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	info.Size = int64(len(data))
	sum := sha256.Sum256(data)
	info.SHA256 = hex.EncodeToString(sum[:])
	return info, nil
}

// withReader parses data with digitorus/pdf (the parser pdfsign uses) and
// runs fn on the result, turning panics into ErrPDFMalformed and giving up
// after pdfParseTimeout or when ctx ends. The parser can't be interrupted:
// on a time-out its goroutine is abandoned, which is why preflight rejects
// the inputs known to make it allocate or loop without bound.
func withReader(ctx context.Context, data []byte, fn func(r *pdf.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, pdfParseTimeout)
	defer cancel()
	ra := &guardedReaderAt{data: data}
	done := make(chan error, 1)
	go func() {
		done <- parseGuarded(ra, fn)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		// Make the parser's next read panic, which parseGuarded recovers:
		// the goroutine ends instead of spinning on.
		ra.stop.Store(true)
		return fmt.Errorf("%w: parsing took too long: %v", ErrPDFMalformed, ctx.Err())
	}
}

// maxParserReads bounds the reads one parse may make: digitorus/pdf loops
// re-reading at end of input on some malformed files (an unterminated
// array, for one).
const maxParserReads = 1 << 22

var errParseAborted = errors.New("parse aborted")

// guardedReaderAt serves the parser and aborts it (by panicking inside
// ReadAt) once stopped or after maxParserReads reads.
type guardedReaderAt struct {
	data  []byte
	stop  atomic.Bool
	reads atomic.Int64
}

func (g *guardedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if g.stop.Load() || g.reads.Add(1) > maxParserReads {
		panic(errParseAborted)
	}
	if off < 0 {
		return 0, errors.New("negative offset")
	}
	if off >= int64(len(g.data)) {
		return 0, io.EOF
	}
	n := copy(p, g.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func parseGuarded(ra *guardedReaderAt, fn func(r *pdf.Reader) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: parser: %v", ErrPDFMalformed, p)
		}
	}()
	data := ra.data
	r, err := pdf.NewReader(ra, int64(len(data)))
	if err != nil {
		if errors.Is(err, pdf.ErrInvalidPassword) || mentionsEncrypt(data) {
			return fmt.Errorf("%w (%v)", ErrPDFEncrypted, err)
		}
		return fmt.Errorf("%w: %w", ErrPDFMalformed, err)
	}
	if !r.Trailer().Key("Encrypt").IsNull() {
		return ErrPDFEncrypted
	}
	return fn(r)
}

// mentionsEncrypt reports whether a trailer-like dictionary names /Encrypt.
func mentionsEncrypt(data []byte) bool {
	return bytes.Contains(data, []byte("/Encrypt"))
}

// describe reads the catalog and page tree; it returns the page
// dictionaries in order beside the info.
func describe(r *pdf.Reader) (*PDFInfo, []pdf.Value, error) {
	info := &PDFInfo{Version: r.PDFVersion, XrefType: r.XrefInformation.Type}
	root := r.Trailer().Key("Root")
	if root.Kind() != pdf.Dict {
		return nil, nil, fmt.Errorf("%w: no document catalog", ErrPDFMalformed)
	}
	pages := root.Key("Pages")
	if pages.Kind() != pdf.Dict {
		return nil, nil, fmt.Errorf("%w: no page tree", ErrPDFMalformed)
	}
	w := pageWalker{seen: map[pdf.Ptr]bool{}}
	if err := w.walk(pages, PageSize{}, false, 0); err != nil {
		return nil, nil, err
	}
	if len(w.pages) == 0 {
		return nil, nil, fmt.Errorf("%w: no pages", ErrPDFMalformed)
	}
	info.Pages, info.PageSizes = len(w.pages), w.pages
	fields := root.Key("AcroForm").Key("Fields")
	for i := 0; i < fields.Len() && i < maxPDFObjects; i++ {
		if fields.Index(i).Key("FT").Name() == "Sig" {
			info.SigFields++
		}
	}
	return info, w.nodes, nil
}

type pageWalker struct {
	seen  map[pdf.Ptr]bool
	pages []PageSize
	nodes []pdf.Value
}

// walk visits the page tree depth first, inheriting MediaBox, refusing
// cycles, deep nesting and more than MaxPDFPages pages.
func (w *pageWalker) walk(node pdf.Value, inherited PageSize, haveBox bool, depth int) error {
	if depth > maxPageTreeDepth {
		return fmt.Errorf("%w: page tree nested deeper than %d", ErrPDFMalformed, maxPageTreeDepth)
	}
	if ptr := node.GetPtr(); ptr.GetID() != 0 {
		if w.seen[ptr] {
			return fmt.Errorf("%w: page tree has a cycle at object %d", ErrPDFMalformed, ptr.GetID())
		}
		w.seen[ptr] = true
	}
	if box, ok := rectOf(node.Key("MediaBox")); ok {
		inherited, haveBox = box, true
	}
	switch node.Key("Type").Name() {
	case "Pages":
		kids := node.Key("Kids")
		if kids.Kind() != pdf.Array {
			return fmt.Errorf("%w: page tree node without Kids", ErrPDFMalformed)
		}
		for i := 0; i < kids.Len(); i++ {
			if err := w.walk(kids.Index(i), inherited, haveBox, depth+1); err != nil {
				return err
			}
		}
		return nil
	case "Page":
		if !haveBox {
			return fmt.Errorf("%w: page %d has no MediaBox", ErrPDFMalformed, len(w.pages)+1)
		}
		if len(w.pages) >= MaxPDFPages {
			return fmt.Errorf("%w: more than %d pages", ErrPDFMalformed, MaxPDFPages)
		}
		w.pages = append(w.pages, inherited)
		w.nodes = append(w.nodes, node)
		return nil
	default:
		return fmt.Errorf("%w: page tree node of type %q", ErrPDFMalformed, node.Key("Type").Name())
	}
}

func rectOf(v pdf.Value) (PageSize, bool) {
	if v.Kind() != pdf.Array || v.Len() != 4 {
		return PageSize{}, false
	}
	var f [4]float64
	for i := range f {
		e := v.Index(i)
		switch e.Kind() {
		case pdf.Integer:
			f[i] = float64(e.Int64())
		case pdf.Real:
			f[i] = e.Float64()
		default:
			return PageSize{}, false
		}
	}
	p := PageSize{LLX: min(f[0], f[2]), LLY: min(f[1], f[3]), URX: max(f[0], f[2]), URY: max(f[1], f[3])}
	if p.Width() <= 0 || p.Height() <= 0 || p.Width() > 14400 || p.Height() > 14400 {
		return PageSize{}, false
	}
	return p, true
}

// preflight rejects inputs that make digitorus/pdf allocate without bound
// before it can fail: a huge /Size in a trailer or xref stream, or a huge
// first object number in an xref subsection (the table is grown to it).
func preflight(data []byte) error {
	for _, key := range [][]byte{[]byte("/Size"), []byte("/Index")} {
		rest := data
		for {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			rest = rest[i+len(key):]
			for _, n := range leadingInts(rest, 64) {
				if n > maxPDFObjects {
					return fmt.Errorf("%w: declares more than %d objects", ErrPDFMalformed, maxPDFObjects)
				}
			}
		}
	}
	if err := checkSizeFields(data); err != nil {
		return err
	}
	// Classic xref sections: "xref" then "start count" lines.
	rest := data
	for {
		i := bytes.Index(rest, []byte("xref"))
		if i < 0 {
			return nil
		}
		rest = rest[i+4:]
		if i >= 5 && bytes.HasSuffix(data[:len(data)-len(rest)-4], []byte("start")) {
			continue // "startxref"
		}
		if err := checkXrefSubsections(rest); err != nil {
			return err
		}
	}
}

// checkXrefSubsections scans "start count" headers and skips their entries.
func checkXrefSubsections(b []byte) error {
	for range 10000 {
		nums, n := readInts(b, 2)
		if len(nums) < 2 {
			return nil
		}
		start, count := nums[0], nums[1]
		if start > maxPDFObjects || count > maxPDFObjects || start+count > maxPDFObjects {
			return fmt.Errorf("%w: xref subsection %d %d out of range", ErrPDFMalformed, start, count)
		}
		b = b[n:]
		skip := count * 20
		if skip > int64(len(b)) {
			return nil
		}
		b = b[skip:]
	}
	return nil
}

// leadingInts returns the non-negative integers (and integers inside a
// leading '[') at the start of b, looking at most at limit bytes.
func leadingInts(b []byte, limit int) []int64 {
	if len(b) > limit {
		b = b[:limit]
	}
	var out []int64
	i := 0
	for i < len(b) && (isPDFSpace(b[i]) || b[i] == '[') {
		i++
	}
	for i < len(b) {
		j := i
		var v int64
		for j < len(b) && b[j] >= '0' && b[j] <= '9' && j-i < 19 {
			v = v*10 + int64(b[j]-'0')
			j++
		}
		if j == i {
			break
		}
		if j-i >= 19 {
			v = maxPDFObjects + 1
		}
		out = append(out, v)
		i = j
		for i < len(b) && isPDFSpace(b[i]) {
			i++
		}
	}
	return out
}

// readInts reads up to n whitespace-separated non-negative integers at the
// start of b and returns them with the number of bytes consumed.
func readInts(b []byte, n int) ([]int64, int) {
	var out []int64
	i := 0
	for len(out) < n {
		for i < len(b) && isPDFSpace(b[i]) {
			i++
		}
		j := i
		var v int64
		for j < len(b) && b[j] >= '0' && b[j] <= '9' {
			if j-i < 19 {
				v = v*10 + int64(b[j]-'0')
			} else {
				v = maxPDFObjects + 1
			}
			j++
		}
		if j == i {
			break
		}
		out = append(out, v)
		i = j
	}
	return out, i
}

func isPDFSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0:
		return true
	}
	return false
}

// maxNesting bounds array and dictionary nesting (the parser recurses).
const maxNesting = 100

// objHeader matches "N G obj", with comments allowed where the parser's
// lexer allows them (between tokens).
var objHeader = regexp.MustCompile(`\d+(?:[ \t\r\n\f\x00]|%[^\r\n]*[\r\n])+\d+(?:[ \t\r\n\f\x00]|%[^\r\n]*[\r\n])+obj`)

// lexCheck is a light lexical pass, run before the parser, rejecting what
// makes digitorus/pdf loop or recurse without bound: an array still open
// at "endobj" makes its readArray append forever (the parser un-reads
// "endobj" and returns null again and again), and deep nesting overflows
// the stack. The parser starts reading at object headers ("N G obj"), so
// the check starts at every header found in the raw bytes, whatever the
// bytes before it are (a header inside a comment is still where the
// parser may start). Object streams are inflated and must not contain
// "endobj" at all.
func lexCheck(data []byte, inflate *inflateBudget) error {
	budget := 64*len(data) + 1<<20
	for _, m := range objHeader.FindAllIndex(data, -1) {
		n, err := lexObject(data[m[1]:], inflate, false)
		if err != nil {
			return err
		}
		if budget -= n; budget < 0 {
			return fmt.Errorf("%w: too many overlapping objects", ErrPDFMalformed)
		}
	}
	return nil
}

// lexObject scans one object body up to its "endobj" and returns how many
// bytes it looked at. inObjStm: data is the inside of an object stream,
// where no stream may start.
func lexObject(data []byte, inflate *inflateBudget, inObjStm bool) (int, error) {
	depth, arrays := 0, 0
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch c {
		case '%':
			for i < len(data) && data[i] != '\n' && data[i] != '\r' {
				i++
			}
		case '(':
			n := 0
		str:
			for ; i < len(data); i++ {
				switch data[i] {
				case '\\':
					i++
				case '(':
					n++
				case ')':
					if n--; n == 0 {
						break str
					}
				}
			}
		case '<':
			if i+1 < len(data) && data[i+1] == '<' {
				i++
				depth++
			} else {
				for i < len(data) && data[i] != '>' {
					i++
				}
			}
		case '>':
			if i+1 < len(data) && data[i+1] == '>' {
				i++
				depth = max(depth-1, 0)
			}
		case '[':
			depth++
			arrays++
		case ']':
			depth = max(depth-1, 0)
			arrays = max(arrays-1, 0)
		default:
			if !isRegular(c) || (i > 0 && isRegular(data[i-1])) {
				continue
			}
			j := i
			for j < len(data) && isRegular(data[j]) {
				j++
			}
			switch string(data[i:j]) {
			case "endobj":
				if arrays > 0 {
					return j, fmt.Errorf("%w: unterminated array before endobj", ErrPDFMalformed)
				}
				return j, nil
			case "obj":
				if arrays > 0 {
					return j, fmt.Errorf("%w: unterminated array before the next object", ErrPDFMalformed)
				}
				return j, nil
			case "stream":
				if arrays > 0 {
					return j, fmt.Errorf("%w: unterminated array before stream", ErrPDFMalformed)
				}
				if inObjStm {
					return j, fmt.Errorf("%w: a stream inside an object stream", ErrPDFMalformed)
				}
				end := bytes.Index(data[j:], []byte("endstream"))
				if end < 0 {
					end = len(data) - j
				}
				if err := checkXRefStm(data[:i]); err != nil {
					return j, err
				}
				if err := checkObjStm(data[:i], data[j:j+end], inflate); err != nil {
					return j, err
				}
				return j + end, nil
			}
			i = j - 1
		}
		if depth > maxNesting {
			return i, fmt.Errorf("%w: nested deeper than %d", ErrPDFMalformed, maxNesting)
		}
	}
	if arrays > 0 {
		return len(data), fmt.Errorf("%w: unterminated array at end of file", ErrPDFMalformed)
	}
	return len(data), nil
}

// checkObjStm checks a stream whose dictionary (dict, the object's bytes
// before "stream") says /Type /ObjStm: Flate or no filter, no /Extends
// (the reader follows /Extends without a loop check), /N and /First direct
// and within the inflated data, which must fit maxObjStmBytes and the
// document's inflate budget; its content is checked like the file's.
func checkObjStm(dict, body []byte, inflate *inflateBudget) error {
	if !bytes.Contains(dict, []byte("/ObjStm")) {
		return nil
	}
	body = bytes.TrimLeft(body, "\r\n")
	if bytes.Contains(dict, []byte("/Extends")) {
		return fmt.Errorf("%w: object stream with /Extends", ErrPDFMalformed)
	}
	switch flates := bytes.Count(dict, []byte("/FlateDecode")); {
	case bytes.Contains(dict, []byte("/Filter")) && flates != 1,
		bytes.Contains(dict, []byte("/DecodeParms")):
		return fmt.Errorf("%w: object stream with an unsupported or layered filter", ErrPDFMalformed)
	case flates == 1:
		zr, err := zlib.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil // the parser will fail on it too
		}
		inflated, err := io.ReadAll(io.LimitReader(zr, maxObjStmBytes+1))
		if len(inflated) > maxObjStmBytes {
			return fmt.Errorf("%w: object stream inflates to more than %d bytes", ErrPDFMalformed, maxObjStmBytes)
		}
		if err := inflate.spend(int64(len(inflated))); err != nil {
			return err
		}
		if err != nil {
			return fmt.Errorf("%w: object stream: %v", ErrPDFMalformed, err)
		}
		body = inflated
	}
	n, nok := directInt(dict, "/N")
	first, fok := directInt(dict, "/First")
	if !nok || !fok || n < 0 || first < 0 || first > int64(len(body)) || n > (first+1)/2 || n > maxPDFObjects {
		return fmt.Errorf("%w: object stream /N or /First out of range", ErrPDFMalformed)
	}
	if bytes.Contains(body, []byte("endobj")) {
		return fmt.Errorf("%w: endobj inside an object stream", ErrPDFMalformed)
	}
	// The reader inflates the stream again for every object it resolves
	// from it, up to that object: the sum of those prefixes is what
	// resolving each object once costs.
	pairs, _ := readInts(body[:first], 2*int(n))
	var work int64
	for i := 1; i < len(pairs); i += 2 {
		work += first + min(pairs[i], int64(len(body))-first)
	}
	if err := inflate.spendResolve(work); err != nil {
		return err
	}
	if err := checkSizeFields(body); err != nil {
		return err
	}
	_, err := lexObject(body, inflate, true)
	return err
}

// checkXRefStm checks the dictionary of a cross-reference stream: /W must
// be three direct widths of at most 8 bytes (the reader allocates a row of
// their sum, and reads integers of that many bytes).
func checkXRefStm(dict []byte) error {
	if !bytes.Contains(dict, []byte("/XRef")) {
		return nil
	}
	i := bytes.Index(dict, []byte("/W"))
	for i >= 0 && i+2 < len(dict) && isRegular(dict[i+2]) {
		j := bytes.Index(dict[i+2:], []byte("/W"))
		if j < 0 {
			i = -1
			break
		}
		i += 2 + j
	}
	if i < 0 {
		return nil // the parser refuses it
	}
	v := scanValue(dict[i+2:])
	if !v.array || v.indirect || len(v.ints) != 3 || v.other {
		return fmt.Errorf("%w: xref stream /W is not three integers", ErrPDFMalformed)
	}
	for _, w := range v.ints {
		if w < 0 || w > 8 {
			return fmt.Errorf("%w: xref stream /W width %d out of range 0..8", ErrPDFMalformed, w)
		}
	}
	return nil
}

// sizeFields are keys whose values digitorus/pdf uses to size an
// allocation or a loop, or that name image and predictor geometry, with
// their allowed range. They must be direct integers (a reference could
// point at any number).
var sizeFields = []struct {
	key      string
	min, max int64
}{
	{"/Columns", 1, maxColumns},
	{"/Colors", 1, 32},
	{"/BitsPerComponent", 1, 32},
	{"/Predictor", 1, 15},
}

// checkSizeFields checks every occurrence of the sizeFields keys in b.
func checkSizeFields(b []byte) error {
	for _, f := range sizeFields {
		key := []byte(f.key)
		for rest := b; ; {
			i := bytes.Index(rest, key)
			if i < 0 {
				break
			}
			rest = rest[i+len(key):]
			if len(rest) > 0 && isRegular(rest[0]) {
				continue // a longer name
			}
			v := scanValue(rest)
			if v.indirect {
				return fmt.Errorf("%w: %s given by reference", ErrPDFMalformed, f.key)
			}
			for _, n := range v.ints {
				if n < f.min || n > f.max {
					return fmt.Errorf("%w: %s %d out of range %d..%d", ErrPDFMalformed, f.key, n, f.min, f.max)
				}
			}
		}
	}
	return nil
}

// directInt returns the direct integer value of key in dict.
func directInt(dict []byte, key string) (int64, bool) {
	k := []byte(key)
	for rest := dict; ; {
		i := bytes.Index(rest, k)
		if i < 0 {
			return 0, false
		}
		rest = rest[i+len(k):]
		if len(rest) > 0 && isRegular(rest[0]) {
			continue
		}
		v := scanValue(rest)
		if v.indirect || v.array || len(v.ints) != 1 {
			return 0, false
		}
		return v.ints[0], true
	}
}

// scannedValue is what scanValue saw.
type scannedValue struct {
	ints     []int64 // the integer, or an array's integers
	array    bool
	indirect bool // "N G R", or an array holding one
	other    bool // an array holding something else
}

// scanValue reads the value at the start of b: an integer (signed), an
// indirect reference, or an array of those; at most 64 elements.
func scanValue(b []byte) scannedValue {
	var v scannedValue
	i := 0
	skip := func() {
		for i < len(b) && isPDFSpace(b[i]) {
			i++
		}
	}
	skip()
	if i < len(b) && b[i] == '[' {
		v.array = true
		i++
	}
	for n := 0; n < 64; n++ {
		skip()
		if i >= len(b) {
			break
		}
		if v.array && b[i] == ']' {
			break
		}
		j := i
		if b[j] == '-' || b[j] == '+' {
			j++
		}
		k := j
		var x int64
		for k < len(b) && b[k] >= '0' && b[k] <= '9' {
			if k-j < 18 {
				x = x*10 + int64(b[k]-'0')
			} else {
				x = 1 << 62
			}
			k++
		}
		if k == j || (k < len(b) && isRegular(b[k])) {
			if v.array {
				v.other = true
			}
			break
		}
		if b[i] == '-' {
			x = -x
		}
		i = k
		// "N G R"?
		save := i
		skip()
		g := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		if i > g {
			skip()
			if i < len(b) && b[i] == 'R' && (i+1 == len(b) || !isRegular(b[i+1])) {
				v.indirect = true
				i++
				continue
			}
		}
		i = save
		v.ints = append(v.ints, x)
		if !v.array {
			break
		}
	}
	return v
}

// inflateBudget is what one document may still inflate, and how much
// the reader may inflate resolving the objects of its object streams.
type inflateBudget struct{ left, resolveLeft int64 }

func (b *inflateBudget) spendResolve(n int64) error {
	if b.resolveLeft -= n; b.resolveLeft < 0 {
		return fmt.Errorf("%w: resolving the objects of its object streams would inflate more than %d bytes", ErrPDFMalformed, maxResolveBytes)
	}
	return nil
}

func (b *inflateBudget) spend(n int64) error {
	if b.left -= n; b.left < 0 {
		return fmt.Errorf("%w: inflates to more than %d bytes", ErrPDFMalformed, maxInflateBytes)
	}
	return nil
}

func isRegular(c byte) bool {
	return !isPDFSpace(c) && bytes.IndexByte([]byte("()<>[]{}/%"), c) < 0
}
