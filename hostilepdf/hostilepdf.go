// Package hostilepdf generates PDFs made to hurt a PDF reader: size fields
// that make it allocate without bound, decompression bombs, object-stream
// bombs, deep nesting, reference loops and huge counts. Tests send them
// through every path that parses untrusted PDFs; `go run
// ./scripts/hostilepdf DIR` writes them to files. Nothing here is
// committed as a binary: the corpus is generated where it is used.
//
// Each case is a small, otherwise well-formed PDF (header, objects, a
// correct cross-reference section, trailer) so that the reader reaches the
// hostile part.
package hostilepdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"strings"
)

// Case is one hostile PDF.
type Case struct {
	Name string
	// Attacks says what the file makes a naive reader do.
	Attacks string
	PDF     []byte
}

// Corpus returns every case. It takes a few seconds (the decompression
// bombs compress a gigabyte of zeros in layers).
func Corpus() []Case { return corpus(1 << 30) }

// FuzzSeeds returns the cases of at most 64 KiB, with 1 MiB bombs: the
// same structures, quick to build and to run under the fuzzer's coverage
// instrumentation (a 1 GiB bomb alone kept it from finishing its baseline
// in 30 s).
func FuzzSeeds() [][]byte {
	var out [][]byte
	for _, c := range corpus(1 << 20) {
		if len(c.PDF) <= 64<<10 {
			out = append(out, c.PDF)
		}
	}
	return out
}

// corpus builds the cases with decompression bombs of bombSize zeros.
func corpus(bombSize int) []Case {
	bomb := zeroBomb(bombSize) // deflated twice
	// The descriptions give the sizes of Corpus().
	cases := []Case{
		{"xref-stream-W-huge", "xref stream /W [1 2^40 1]: a row buffer of 1 TiB", xrefStream("/W [1 1099511627776 1]", "", nil)},
		{"xref-stream-W-negative", "xref stream /W [1 -8 1]: negative slice bounds", xrefStream("/W [1 -8 1]", "", nil)},
		{"xref-stream-W-many", "xref stream /W with 40 widths of 2^31", xrefStream("/W ["+strings.Repeat("2147483647 ", 40)+"]", "", nil)},
		{"xref-stream-Size-huge", "xref stream /Size 2^40: a table of 2^40 entries", xrefStream("/W [1 4 2]", "/Size 1099511627776", nil)},
		{"xref-stream-Index-huge", "xref stream /Index [2^31 10]: the table grown to 2^31 entries", xrefStream("/W [1 4 2] /Index [2147483647 10]", "", nil)},
		{"xref-stream-Index-count", "xref stream /Index [0 2^40]: 2^40 rows read", xrefStream("/W [1 4 2] /Index [0 1099511627776]", "", nil)},
		{"xref-stream-Columns-huge", "xref stream PNG predictor /Columns 2^40: two rows of 1 TiB", xrefStream("/W [1 4 2] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 1099511627776 >>", "", nil)},
		{"xref-stream-Columns-ref", "PNG predictor /Columns by reference to a huge integer", xrefStream("/W [1 4 2] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 9 0 R >>", "", map[int]string{9: "1099511627776"})},
		{"xref-stream-Columns-negative", "PNG predictor /Columns -5", xrefStream("/W [1 4 2] /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns -5 >>", "", nil)},
		{"image-Colors-BPC-huge", "image /Colors and /BitsPerComponent 2^31", withObjects(map[int]string{4: streamObj("/Type /XObject /Subtype /Image /Width 1 /Height 1 /Filter /FlateDecode /DecodeParms << /Predictor 15 /Colors 2147483647 /BitsPerComponent 2147483647 /Columns 1 >>", deflate([]byte{0, 0}))})},
		{"xref-table-count-huge", "xref subsection \"0 2^40\"", rawXref("xref\n0 1099511627776\n0000000000 65535 f \ntrailer\n<< /Size 4 /Root 1 0 R >>\n")},
		{"xref-table-start-huge", "xref subsection starting at object 2^31", rawXref("xref\n2147483647 1\n0000000009 00000 n \ntrailer\n<< /Size 4 /Root 1 0 R >>\n")},
		{"trailer-Size-huge", "trailer /Size 2^40", rawXref("xref\n0 1\n0000000000 65535 f \ntrailer\n<< /Size 1099511627776 /Root 1 0 R >>\n")},
		{"stream-Length-huge", "content stream /Length 2^62", withObjects(map[int]string{4: "<< /Length 4611686018427387904 >>\nstream\nBT ET\nendstream"})},
		{"stream-Length-negative", "content stream /Length -1", withObjects(map[int]string{4: "<< /Length -1 >>\nstream\nBT ET\nendstream"})},
		{"flate-bomb", "a stream that inflates to 1 GiB (two Flate layers)", withObjects(map[int]string{4: streamObj("/Filter [/FlateDecode /FlateDecode]", bomb)})},
		{"embedded-file-bomb", "an attachment that inflates to 1 GiB", embeddedBomb(bomb)},
		{"objstm-bomb", "an object stream that inflates to 1 GiB", objStm("/N 1 /First 4 /Filter [/FlateDecode /FlateDecode]", bomb)},
		{"objstm-single-flate-bomb", "an object stream of 256 MiB zeros in one Flate layer", objStm("/N 1 /First 4 /Filter /FlateDecode", deflate(make([]byte, bombSize/4)))},
		{"objstm-N-huge", "object stream /N 2^31: 2^31 token reads", objStm("/N 2147483647 /First 8 /Filter /FlateDecode", deflate([]byte("1 0 2 0 << /Type /Catalog /Pages 2 0 R >>")))},
		{"objstm-First-huge", "object stream /First 2^62", objStm("/N 1 /First 4611686018427387904 /Filter /FlateDecode", deflate([]byte("1 0 << /Type /Catalog /Pages 2 0 R >>")))},
		{"objstm-Extends-loop", "object stream /Extends itself: the reader searches forever", objStm("/N 1 /First 4 /Extends 5 0 R /Filter /FlateDecode", deflate([]byte("7 0 << >>")))},
		{"objstm-N-ref", "object stream /N by reference", objStm("/N 9 0 R /First 4 /Filter /FlateDecode", deflate([]byte("1 0 << /Type /Catalog /Pages 2 0 R >>")))},
		{"objstm-resolve-amplification", "2,000 pages at the end of a 15 MiB object stream: the reader inflates the stream again for each (30 GB)", resolveAmplification(2000, 15<<20)},
		{"deep-arrays", "arrays nested 100,000 deep", withObjects(map[int]string{4: strings.Repeat("[", 100000) + strings.Repeat("]", 100000)})},
		{"deep-dicts", "dictionaries nested 50,000 deep", withObjects(map[int]string{4: strings.Repeat("<< /A ", 50000) + strings.Repeat(">> ", 50000)})},
		{"unterminated-array", "an array open at endobj (the reader appends nulls forever)", withObjects(map[int]string{4: "[1 2 3"})},
		{"page-tree-loop", "page tree whose Kids point back at itself", pages("<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>", "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>")},
		{"page-tree-deep", "page tree 10,000 levels deep", deepPageTree(10000)},
		{"page-count-huge", "page tree claiming 2^40 pages, with 200,000 kids", hugeKids(200000)},
		{"reference-loop", "a stream /Length resolving through a ring of references", withObjects(map[int]string{4: "<< /Length 5 0 R >>\nstream\nx\nendstream", 5: "6 0 R", 6: "5 0 R"})},
		{"xref-prev-loop", "xref /Prev pointing at itself", prevLoop()},
	}
	return cases
}

// Slow returns a well-formed PDF that is merely expensive: 300,000 objects
// (13 MB), which intake reads one by one (about a second of CPU on the
// 2-core test machine). Tests run it
// with a short worker timeout to show that a runaway worker is killed.
func Slow() []byte { return manyObjects(300000) }

// deflate compresses b with zlib at the best ratio.
func deflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zlib.NewWriterLevel(&buf, zlib.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// zeroBomb deflates n zeros, then deflates that again.
func zeroBomb(n int) []byte {
	var inner bytes.Buffer
	w, _ := zlib.NewWriterLevel(&inner, zlib.BestCompression)
	chunk := make([]byte, 1<<20)
	for n > 0 {
		k := min(n, len(chunk))
		w.Write(chunk[:k])
		n -= k
	}
	w.Close()
	return deflate(inner.Bytes())
}

func streamObj(dict string, data []byte) string {
	return fmt.Sprintf("<< %s /Length %d >>\nstream\n%s\nendstream", dict, len(data), data)
}

// base holds the three objects of a valid one-page document.
func base() map[int]string {
	return map[int]string{
		1: "<< /Type /Catalog /Pages 2 0 R >>",
		2: "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		3: "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
	}
}

// doc writes objs (id → body) with a classic xref table; trailerExtra goes
// into the trailer.
func doc(objs map[int]string, trailerExtra string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	maxID := 0
	for id := range objs {
		maxID = max(maxID, id)
	}
	offs := make([]int, maxID+1)
	for id := 1; id <= maxID; id++ {
		body, ok := objs[id]
		if !ok {
			continue
		}
		offs[id] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, body)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", maxID+1)
	for id := 1; id <= maxID; id++ {
		if offs[id] == 0 {
			b.WriteString("0000000000 65535 f \n")
		} else {
			fmt.Fprintf(&b, "%010d 00000 n \n", offs[id])
		}
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", maxID+1, trailerExtra, xref)
	return b.Bytes()
}

// withObjects is the base document plus (or with replaced) objects.
func withObjects(extra map[int]string) []byte {
	objs := base()
	for id, body := range extra {
		objs[id] = body
	}
	if _, ok := objs[4]; !ok {
		objs[4] = streamObj("", []byte("BT ET"))
	}
	return doc(objs, "")
}

// pages is a document whose page tree root (2) and page (3) are given.
func pages(root, page string) []byte {
	objs := base()
	objs[2], objs[3] = root, page
	objs[4] = streamObj("", []byte("BT ET"))
	return doc(objs, "")
}

// rawXref is the base document with its cross-reference section replaced.
func rawXref(section string) []byte {
	objs := base()
	objs[4] = streamObj("", []byte("BT ET"))
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	for id := 1; id <= 4; id++ {
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, objs[id])
	}
	xref := b.Len()
	fmt.Fprintf(&b, "%sstartxref\n%d\n%%%%EOF\n", section, xref)
	return b.Bytes()
}

// xrefStream is the base document with an xref stream (object 5) whose
// dictionary has dict (and /Size 6 unless dict or sizeEntry sets it);
// extra objects are added before it.
func xrefStream(dict, sizeEntry string, extra map[int]string) []byte {
	objs := base()
	objs[4] = streamObj("", []byte("BT ET"))
	for id, body := range extra {
		objs[id] = body
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	for id := 1; id <= 9; id++ {
		if body, ok := objs[id]; ok {
			offs[id] = b.Len()
			fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, body)
		}
	}
	// Rows of W [1 4 2] for objects 0..5.
	var rows bytes.Buffer
	xref := b.Len()
	offs[5] = xref
	for id := 0; id <= 5; id++ {
		if off, ok := offs[id]; ok {
			rows.Write([]byte{1, byte(off >> 24), byte(off >> 16), byte(off >> 8), byte(off), 0, 0})
		} else {
			rows.Write([]byte{0, 0, 0, 0, 0, 0xff, 0xff})
		}
	}
	data := rows.Bytes()
	if strings.Contains(dict, "/FlateDecode") {
		data = deflate(data)
	}
	if sizeEntry == "" {
		sizeEntry = "/Size 6"
	}
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /XRef %s %s /Root 1 0 R /Length %d >>\nstream\n%s\nendstream\nendobj\n", dict, sizeEntry, len(data), data)
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// objStm is a document whose catalog (object 1) lives in object stream 5
// with dictionary dict and (already encoded) data, found through an xref
// stream (object 6).
func objStm(dict string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	objs := base()
	objs[4] = streamObj("", []byte("BT ET"))
	for id := 2; id <= 4; id++ {
		offs[id] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, objs[id])
	}
	offs[5] = b.Len()
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /ObjStm %s /Length %d >>\nstream\n%s\nendstream\nendobj\n", dict, len(data), data)
	offs[9] = b.Len()
	b.WriteString("9 0 obj\n2147483647\nendobj\n")
	xref := b.Len()
	var rows bytes.Buffer
	for id := 0; id <= 9; id++ {
		switch {
		case id == 1:
			rows.Write([]byte{2, 0, 0, 0, 5, 0, 0})
		case id == 6:
			rows.Write([]byte{1, byte(xref >> 24), byte(xref >> 16), byte(xref >> 8), byte(xref), 0, 0})
		case offs[id] != 0:
			o := offs[id]
			rows.Write([]byte{1, byte(o >> 24), byte(o >> 16), byte(o >> 8), byte(o), 0, 0})
		default:
			rows.Write([]byte{0, 0, 0, 0, 0, 0xff, 0xff})
		}
	}
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /XRef /W [1 4 2] /Size 10 /Root 1 0 R /Length %d >>\nstream\n%s\nendstream\nendobj\n", rows.Len(), rows.Bytes())
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// resolveAmplification puts n pages behind pad bytes of whitespace in one
// object stream; the page tree (object 2, direct) lists them all.
func resolveAmplification(n, pad int) []byte {
	var head, body bytes.Buffer
	for i := range n {
		off := body.Len()
		fmt.Fprintf(&body, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>\n")
		fmt.Fprintf(&head, "%d %d ", 10+i, pad+off)
	}
	first := head.Len() + 1
	data := append(head.Bytes(), '\n')
	data = append(data, bytes.Repeat([]byte{' '}, pad)...)
	data = append(data, body.Bytes()...)
	enc := deflate(data)

	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := map[int]int{}
	offs[1] = b.Len()
	b.WriteString("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	offs[2] = b.Len()
	var kids strings.Builder
	for i := range n {
		fmt.Fprintf(&kids, "%d 0 R ", 10+i)
	}
	fmt.Fprintf(&b, "2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", kids.String(), n)
	offs[5] = b.Len()
	fmt.Fprintf(&b, "5 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream\nendobj\n", n, first, len(enc), enc)
	xref := b.Len()
	var rows bytes.Buffer
	row := func(t byte, v, g int) {
		rows.Write([]byte{t, byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v), byte(g >> 8), byte(g)})
	}
	for id := 0; id < 10+n; id++ {
		switch {
		case id >= 10:
			row(2, 5, id-10)
		case id == 6:
			row(1, xref, 0)
		case offs[id] != 0:
			row(1, offs[id], 0)
		default:
			row(0, 0, 0xffff)
		}
	}
	fmt.Fprintf(&b, "6 0 obj\n<< /Type /XRef /W [1 4 2] /Size %d /Root 1 0 R /Length %d >>\nstream\n%s\nendstream\nendobj\n", 10+n, rows.Len(), rows.Bytes())
	fmt.Fprintf(&b, "startxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// embeddedBomb attaches data (doubly deflated) as an embedded file.
func embeddedBomb(data []byte) []byte {
	objs := base()
	objs[1] = "<< /Type /Catalog /Pages 2 0 R /Names << /EmbeddedFiles << /Names [(parley-biometric-customer.json) 5 0 R] >> >> >>"
	objs[4] = streamObj("", []byte("BT ET"))
	objs[5] = "<< /Type /Filespec /F (parley-biometric-customer.json) /EF << /F 6 0 R >> >>"
	objs[6] = streamObj("/Type /EmbeddedFile /Filter [/FlateDecode /FlateDecode]", data)
	return doc(objs, "")
}

// deepPageTree nests page tree nodes depth levels deep.
func deepPageTree(depth int) []byte {
	objs := map[int]string{1: "<< /Type /Catalog /Pages 2 0 R >>"}
	for i := 0; i < depth; i++ {
		objs[2+i] = fmt.Sprintf("<< /Type /Pages /Kids [%d 0 R] /Count 1 /MediaBox [0 0 612 792] >>", 3+i)
	}
	objs[2+depth] = "<< /Type /Page >>"
	return doc(objs, "")
}

// hugeKids is a page tree root with n kids (all the same page) claiming
// 2^40 pages.
func hugeKids(n int) []byte {
	objs := base()
	var kids strings.Builder
	for range n {
		kids.WriteString("3 0 R ")
	}
	objs[2] = "<< /Type /Pages /Kids [" + kids.String() + "] /Count 1099511627776 >>"
	objs[4] = streamObj("", []byte("BT ET"))
	return doc(objs, "")
}

// prevLoop is a document whose last xref section's /Prev points to itself.
func prevLoop() []byte {
	d := doc(withObjectsMap(), "")
	i := bytes.LastIndex(d, []byte("xref\n"))
	return bytes.Replace(d, []byte("/Root 1 0 R "), []byte(fmt.Sprintf("/Root 1 0 R /Prev %d ", i)), 1)
}

func withObjectsMap() map[int]string {
	objs := base()
	objs[4] = streamObj("", []byte("BT ET"))
	return objs
}

// manyObjects declares n objects in one xref subsection, all "null".
func manyObjects(n int) []byte {
	objs := withObjectsMap()
	for id := 5; id < n; id++ {
		objs[id] = "null"
	}
	return doc(objs, "")
}
