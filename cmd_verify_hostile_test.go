package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/pdfjail"

	"github.com/parley-video/parley/hostilepdf"
)

// `parley verify` on the hostile corpus: every file is reported as not
// checkable (exit 2) with a reason, the command returns, and no worker
// process is left; a file whose parse runs past the worker timeout is
// killed at it.
func TestVerifyCommandHostileCorpus(t *testing.T) {
	dir := t.TempDir()
	var files []string
	for _, c := range hostilepdf.Corpus() {
		p := filepath.Join(dir, c.Name+".pdf")
		if err := os.WriteFile(p, c.PDF, 0o600); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	start := time.Now()
	out, errOut, err := runCmd(t, "", append([]string{"verify", "--json", "--data-dir", t.TempDir()}, files...)...)
	if exitCode(err) != 2 {
		t.Fatalf("exit %d: %v\n%s", exitCode(err), err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(out))
	n := 0
	for sc.Scan() {
		var v struct{ File, Verdict, Error string }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if v.Verdict != "error" || !strings.Contains(v.Error, "could not be checked") {
			t.Errorf("%s: %s %s", filepath.Base(v.File), v.Verdict, v.Error)
		}
		n++
	}
	if n != len(files) {
		t.Fatalf("%d results for %d files", n, len(files))
	}
	if strings.Contains(errOut, "PDF worker stopped") {
		t.Errorf("a worker died instead of refusing: %s", errOut)
	}
	t.Logf("%d hostile files in %v", n, time.Since(start))
	if kids := pdfjail.Children(); len(kids) != 0 {
		t.Fatalf("worker processes left: %v", kids)
	}

	slow := filepath.Join(dir, "slow.pdf")
	os.WriteFile(slow, hostilepdf.Slow(), 0o600)
	start = time.Now()
	out, errOut, err = runCmd2(t, []string{"PARLEY_SIGNATURE_PDF_WORKER_TIMEOUT=100ms"}, "verify", "--data-dir", t.TempDir(), slow)
	if exitCode(err) != 2 || !strings.Contains(out, "COULD NOT CHECK") || !strings.Contains(out, "too complex") {
		t.Fatalf("slow: exit %d\n%s\n%s", exitCode(err), out, errOut)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("slow file took %v with a 100 ms worker timeout", took)
	}
	if kids := pdfjail.Children(); len(kids) != 0 {
		t.Fatalf("worker processes left: %v", kids)
	}
}

func runCmd2(t *testing.T, environ []string, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(t.Context(), args, environ, strings.NewReader(""), &out, &errOut)
	return out.String(), errOut.String(), err
}
