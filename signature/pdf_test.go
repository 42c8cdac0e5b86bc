package signature

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/hostilepdf"
)

func TestLoadPDF(t *testing.T) {
	good := contract(t, 1)
	cases := []struct {
		name string
		data []byte
		max  int64
		want error
	}{
		{"valid", good, 0, nil},
		{"too large", good, 100, ErrPDFTooLarge},
		{"not a pdf", []byte("hello world"), 0, ErrPDFMalformed},
		{"truncated", good[:len(good)/2], 0, ErrPDFMalformed},
		{"no eof", good[:len(good)-7], 0, ErrPDFMalformed},
		{"empty", nil, 0, ErrPDFMalformed},
		{"huge size", []byte("%PDF-1.7\nxref\n0 1\ntrailer\n<< /Size 99999999999 >>\nstartxref\n9\n%%EOF\n"), 0, ErrPDFMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			info, err := LoadPDF(c.data, c.max)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if info.Pages != 1 || info.PageSizes[0] != A4 || len(info.SHA256) != 64 {
					t.Errorf("info %+v", info)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
}

func TestLoadPDFEncrypted(t *testing.T) {
	qpdf := needTool(t, "qpdf")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	os.WriteFile(in, contract(t, 1), 0o600)
	for _, pw := range []string{"", "secret"} {
		out := filepath.Join(dir, "enc.pdf")
		if b, err := exec.Command(qpdf, "--encrypt", pw, "owner", "256", "--", in, out).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --encrypt: %v\n%s", err, b)
		}
		data, _ := os.ReadFile(out)
		_, err := LoadPDF(data, 0)
		if !errors.Is(err, ErrPDFEncrypted) || !strings.Contains(err.Error(), "encrypted") {
			t.Errorf("user password %q: err %v, want ErrPDFEncrypted", pw, err)
		}
	}
}

func TestContractPDF(t *testing.T) {
	for _, pages := range []int{1, 3, 20} {
		b := contract(t, pages)
		info, err := LoadPDF(b, 0)
		if err != nil {
			t.Fatal(err)
		}
		if info.Pages != pages {
			t.Errorf("asked for %d pages, got %d", pages, info.Pages)
		}
		qpdfCheck(t, b)
	}
	if _, err := ContractPDF(ContractTemplate{}); !errors.Is(err, ErrTemplate) {
		t.Errorf("no title: %v", err)
	}
	if got := pdfWinAnsiString("Grüße (ß)"); got != `(Gr\374\337e \(\337\))` {
		t.Errorf("WinAnsi: %s", got)
	}
}

func TestAppendAttachment(t *testing.T) {
	for _, pages := range []int{1, 20} {
		doc := contract(t, pages)
		one, err := AppendAttachment(doc, Attachment{Name: "parley-biometric-customer.json", Description: "Biometrie Kundin", MIME: "application/json", Data: []byte(`{"a":1}`)})
		if err != nil {
			t.Fatal(err)
		}
		two, err := AppendAttachment(one, Attachment{Name: "parley-biometric-advisor.json", MIME: "application/json", Data: []byte(`{"b":2}`)})
		if err != nil {
			t.Fatal(err)
		}
		if string(two[:len(doc)]) != string(doc) || string(two[:len(one)]) != string(one) {
			t.Fatal("original bytes are not a prefix")
		}
		qpdfCheck(t, two)
		atts, err := Attachments(two)
		if err != nil || len(atts) != 2 {
			t.Fatalf("Attachments: %v %+v", err, atts)
		}
		for _, a := range atts {
			want := map[string]int64{"parley-biometric-customer.json": int64(len(doc)), "parley-biometric-advisor.json": int64(len(one))}[a.Name]
			if a.PrefixEnd != want || a.Relationship != "Supplement" || a.MIME != "application/json" {
				t.Errorf("%+v, want prefix %d", a, want)
			}
		}
		file := writeTemp(t, "a.pdf", two)
		out, err := exec.Command(needTool(t, "qpdf"), "--list-attachments", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "parley-biometric-advisor.json") || !strings.Contains(string(out), "parley-biometric-customer.json") {
			t.Errorf("qpdf --list-attachments: %v\n%s", err, out)
		}
		out, err = exec.Command(needTool(t, "pdfdetach"), "-list", file).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "2 embedded files") {
			t.Errorf("pdfdetach -list: %v\n%s", err, out)
		}
	}
}

// TestAppendAttachmentXrefStream converts the contract to an xref-stream
// PDF with qpdf and attaches to that.
func TestAppendAttachmentXrefStream(t *testing.T) {
	qpdf := needTool(t, "qpdf")
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	os.WriteFile(in, contract(t, 2), 0o600)
	if b, err := exec.Command(qpdf, "--object-streams=generate", in, out).CombinedOutput(); err != nil {
		t.Fatalf("qpdf: %v\n%s", err, b)
	}
	doc, _ := os.ReadFile(out)
	info, err := LoadPDF(doc, 0)
	if err != nil || info.XrefType != "stream" {
		t.Fatalf("LoadPDF: %v %+v", err, info)
	}
	a, err := AppendAttachment(doc, Attachment{Name: "x.json", MIME: "application/json", Data: []byte("{}")})
	if err != nil {
		t.Fatal(err)
	}
	qpdfCheck(t, a)
	if atts, err := Attachments(a); err != nil || len(atts) != 1 {
		t.Fatalf("Attachments: %v %+v", err, atts)
	}
	ts := newTestSeal(t, "Parley Test Seal")
	s, _ := NewSigner(ts.seal, SignerOptions{})
	signed := mustSign(t, s, doc, signReq("customer", 0, t))
	qpdfCheck(t, signed)
	nss := nssDB(t, ts.caPEM)
	if o := pdfsig(t, nss, signed); !strings.Contains(o, "Signature is Valid") || !strings.Contains(o, "Total document signed") {
		t.Errorf("pdfsig on xref-stream PDF:\n%s", o)
	}
	rep, _ := Verify(t.Context(), signed, VerifyOptions{Roots: ts.roots, Seals: ts.pins()})
	if !rep.Valid {
		t.Errorf("Verify: %v", rep.Problems)
	}
}

// The hostile corpus is refused in this process too (the bounds before
// parsing are a defence in depth behind the worker process): each case
// quickly, and the heap stays small.
func TestLoadPDFHostileCorpus(t *testing.T) {
	corpus := hostilepdf.Corpus()
	worst, worstName := uint64(0), ""
	for _, c := range corpus {
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		start := time.Now()
		_, err := LoadPDF(c.PDF, 20<<20)
		if !errors.Is(err, ErrPDFMalformed) {
			t.Errorf("%s: %v", c.Name, err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", c.Name, d)
		}
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if n := after.TotalAlloc - before.TotalAlloc; n > worst {
			worst, worstName = n, c.Name
		}
	}
	// Everything a case allocates, garbage included, bounds its peak.
	// Object streams are inflated into memory (at most 16 MiB each, 256
	// MiB per document); other streams are only counted.
	t.Logf("most allocated by one case: %d MiB (%s)", worst>>20, worstName)
	if worst > 512<<20 {
		t.Errorf("%s allocated %d MiB", worstName, worst>>20)
	}
}

func FuzzLoadPDF(f *testing.F) {
	good, err := ContractPDF(ContractTemplate{Title: "Fuzz", Pages: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("%PDF-1.4\n%%EOF"))
	// The hostile corpus (with small bombs): structures the reader must
	// refuse before it allocates, as starting points for mutation.
	for _, b := range hostilepdf.FuzzSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		start := time.Now()
		info, err := LoadPDF(data, 1<<20)
		// A hang, not a speed check (that is contracts.BenchmarkVerifySlowestFile).
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("LoadPDF took %v", d)
		}
		if err == nil && (info.Pages < 1 || info.Pages != len(info.PageSizes)) {
			t.Fatalf("accepted with %d pages", info.Pages)
		}
		if err != nil && !errors.Is(err, ErrPDFMalformed) && !errors.Is(err, ErrPDFEncrypted) && !errors.Is(err, ErrPDFTooLarge) {
			t.Fatalf("unclassified error %v", err)
		}
	})
}
