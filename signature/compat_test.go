package signature

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Files as common tools write them still pass intake after the bounds:
// qpdf with object streams (and xref streams), linearized, with
// predictors on the xref stream.
func TestLoadPDFQpdfVariants(t *testing.T) {
	qpdf := needTool(t, "qpdf")
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, contract(t, 3), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"object streams": {"--object-streams=generate"},
		"linearized":     {"--linearize", "--object-streams=generate"},
		"uncompressed":   {"--stream-data=uncompress", "--object-streams=disable"},
		"recompressed":   {"--recompress-flate", "--compression-level=9", "--object-streams=generate"},
	} {
		out := filepath.Join(dir, "out.pdf")
		if b, err := exec.Command(qpdf, append(args, in, out)...).CombinedOutput(); err != nil {
			t.Fatalf("%s: qpdf: %v\n%s", name, err, b)
		}
		data, _ := os.ReadFile(out)
		info, err := LoadPDF(data, 0)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if info.Pages != 3 {
			t.Errorf("%s: %d pages", name, info.Pages)
		}
	}
}
