package contracts

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/signature"
)

// appendUpdate appends an incremental update (classic xref) that sets the
// given objects, as an editing tool would after signing.
func appendUpdate(t testing.TB, pdf []byte, objs map[int]string) []byte {
	t.Helper()
	m := regexp.MustCompile(`startxref\s+(\d+)\s+%%EOF\s*$`).FindSubmatch(pdf)
	if m == nil {
		t.Fatal("no startxref")
	}
	root := regexp.MustCompile(`/Root (\d+ \d+ R)`).FindAllSubmatch(pdf, -1)
	size := regexp.MustCompile(`/Size (\d+)`).FindAllSubmatch(pdf, -1)
	var b bytes.Buffer
	b.Write(pdf)
	ids := make([]int, 0, len(objs))
	for id := range objs {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	offs := map[int]int{}
	maxID, _ := strconv.Atoi(string(size[len(size)-1][1]))
	for _, id := range ids {
		offs[id] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", id, objs[id])
		maxID = max(maxID, id+1)
	}
	xref := b.Len()
	b.WriteString("xref\n0 1\n0000000000 65535 f \n")
	for _, id := range ids {
		fmt.Fprintf(&b, "%d 1\n%010d 00000 n \n", id, offs[id])
	}
	fmt.Fprintf(&b, "trailer\n<</Size %d /Root %s /Prev %s>>\nstartxref\n%d\n%%%%EOF\n", maxID, root[len(root)-1][1], m[1], xref)
	return b.Bytes()
}

// objectOf finds the number of the first object whose dictionary matches re.
func objectOf(t testing.TB, pdf []byte, re string) int {
	t.Helper()
	m := regexp.MustCompile(`(\d+) 0 obj\s*<<[^>]*` + re).FindSubmatch(pdf)
	if m == nil {
		t.Fatalf("no object matching %s", re)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

func reasonCodes(v *Verdict) string {
	var out []string
	for _, r := range v.Reasons {
		out = append(out, r.Severity+":"+r.Code)
	}
	return strings.Join(out, ",")
}

func TestVerifyVerdicts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	v := NewVerifier(f.keys, 0, nil)
	good := f.signed(t, "c_a", "Vertrag A")
	other := f.signed(t, "c_b", "Vertrag B")

	verdict, err := v.Verify(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	// No TSA configured: valid, with the warning that says so.
	if verdict.Verdict != ValidWithWarnings || reasonCodes(verdict) != "warning:no_timestamp" {
		t.Fatalf("good contract: %s %s %v", verdict.Verdict, reasonCodes(verdict), verdict.Report.Problems)
	}
	if s := verdict.Signatures[0]; !s.Intact || !s.Trusted || !s.CoversWholeFile || s.Envelope != "bound" || s.SignerName != "Eva Kundin" {
		t.Fatalf("summary %+v", s)
	}

	contents := regexp.MustCompile(`/Contents (\d+) 0 R`).FindSubmatch(good)
	contentID, _ := strconv.Atoi(string(contents[1]))
	pageID := objectOf(t, good, `/Type\s*/Page\b`)

	flipped := append([]byte(nil), good...)
	flipped[len(flipped)/3] ^= 0x20

	cases := []struct {
		name string
		pdf  []byte
		want string // a reason code that must be there
		text string // and a word of its English text
	}{
		{"one byte flipped", flipped, "signature_broken", "changed"},
		{"page content replaced after signing", appendUpdate(t, good, map[int]string{
			contentID: "<</Length 44>>\nstream\nBT /F1 30 Tf 100 700 Td (NICHTIG) Tj ET\nendstream",
		}), "changed_after_signing", "content"},
		{"annotation added after signing", appendUpdate(t, good, map[int]string{
			pageID: pageWithAnnot(t, good, pageID, 9999),
			9999:   "<</Type /Annot /Subtype /Text /Rect [100 100 120 120] /Contents (Betrag: 1.000.000 EUR)>>",
		}), "changed_after_signing", "Annot"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			vd, err := v.Verify(ctx, tc.pdf)
			if err != nil {
				t.Fatal(err)
			}
			if vd.Verdict != Invalid || !strings.Contains(reasonCodes(vd), "error:"+tc.want) {
				t.Fatalf("verdict %s, reasons %s; problems %v", vd.Verdict, reasonCodes(vd), vd.Report.Problems)
			}
			found := false
			for _, r := range vd.Reasons {
				t.Logf("%s: %s", r.Code, r.EN)
				if r.Code == tc.want && strings.Contains(strings.ToLower(r.EN), strings.ToLower(tc.text)) && r.DE != "" {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s reason naming %q: %+v", tc.want, tc.text, vd.Reasons)
			}
		})
	}

	t.Run("untrusted certificate", func(t *testing.T) {
		stranger := newFixture(t).signed(t, "c_x", "Fremd") // another development CA
		vd, err := v.Verify(ctx, stranger)
		if err != nil {
			t.Fatal(err)
		}
		if vd.Verdict != Invalid || !strings.Contains(reasonCodes(vd), "error:untrusted_certificate") {
			t.Fatalf("%s %s", vd.Verdict, reasonCodes(vd))
		}
	})

	t.Run("envelope copied from another contract", func(t *testing.T) {
		// B's envelope replaces A's under A's field name.
		var envB []byte
		atts, _ := signature.Attachments(other)
		for _, a := range atts {
			if a.Name == EnvelopeName("customer") {
				envB = a.Data
			}
		}
		swapped, err := signature.AppendAttachment(good, signature.Attachment{Name: EnvelopeName("customer"), MIME: "application/json", Data: envB, ModTime: time.Now()})
		if err != nil {
			t.Fatal(err)
		}
		vd, err := v.Verify(ctx, swapped)
		if err != nil {
			t.Fatal(err)
		}
		if vd.Verdict != Invalid || !strings.Contains(reasonCodes(vd), "error:envelope_not_sealed") {
			t.Fatalf("%s %s %v", vd.Verdict, reasonCodes(vd), vd.Report.Problems)
		}
	})

	t.Run("sealed to another escrow key", func(t *testing.T) {
		_, pub, _ := signature.GenerateEscrowKey("p256")
		k, _ := signature.ParseEscrowPublicKey(pub)
		vd, err := (&Verifier{Roots: f.keys.Roots, Seals: f.keys.Seals, Escrow: k}).Verify(ctx, good)
		if err != nil {
			t.Fatal(err)
		}
		if vd.Verdict != Invalid || !strings.Contains(reasonCodes(vd), "error:envelope_foreign_key") {
			t.Fatalf("%s %s", vd.Verdict, reasonCodes(vd))
		}
	})

	t.Run("not a PDF", func(t *testing.T) {
		if _, err := v.Verify(ctx, []byte("hello")); err == nil {
			t.Fatal("no error for a non-PDF")
		}
	})
	if err := os.WriteFile(filepath.Join(f.dir, "good.pdf"), good, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pageWithAnnot is page object id of pdf with /Annots extended by annot.
func pageWithAnnot(t testing.TB, pdf []byte, id, annot int) string {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`(?s)\n%d 0 obj\s*(<<.*?>>)\s*endobj`, id))
	all := re.FindAllSubmatch(pdf, -1)
	if all == nil {
		t.Fatalf("page object %d not found", id)
	}
	dict := string(all[len(all)-1][1])
	if m := regexp.MustCompile(`/Annots\s*\[([^\]]*)\]`).FindStringSubmatch(dict); m != nil {
		return strings.Replace(dict, m[0], fmt.Sprintf("/Annots [%s %d 0 R]", m[1], annot), 1)
	}
	return strings.TrimSuffix(strings.TrimSpace(dict), ">>") + fmt.Sprintf(" /Annots [%d 0 R]>>", annot)
}
