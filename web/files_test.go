package web

import (
	"bytes"
	"context"
	"github.com/parley-video/parley/retention"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
)

const fid1 = "0123456789abcdef0123456789abcdef"
const fid2 = "fedcba9876543210fedcba9876543210"

// customer makes the fake hub know cookie as participant pid of cid in
// state st, and returns a client sending that cookie.
func (e *env) customer(cid, cookie string, pid signaling.ParticipantID, st signaling.State) *http.Client {
	e.t.Helper()
	e.fake.mu.Lock()
	if e.fake.access == nil {
		e.fake.access = map[string]signaling.CustomerAccess{}
	}
	e.fake.access[cookie] = signaling.CustomerAccess{Consultation: signaling.ConsultationID(cid), Participant: pid, State: st}
	e.fake.mu.Unlock()
	c := e.client()
	u, _ := http.NewRequest("GET", e.ts.URL, nil)
	c.Jar.SetCookies(u.URL, []*http.Cookie{{Name: cookieSession, Value: cookie}})
	return c
}

func filePath(e *env, cid, fid string) string { return filepath.Join(e.cfg.DataDir, "files", cid, fid) }

func TestFilesStaffAndCustomer(t *testing.T) {
	e := newEnv(t)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Files")
	base := "/api/v1/consultations/" + id + "/files/"
	origin := []string{"Origin", e.ts.URL}

	// Staff upload: the server stores what it gets, encrypted at rest.
	marker := "PLAINTEXT-MARKER \x00\xff binary"
	r := e.staff(adv, "PUT", base+fid1, marker, "Content-Type", "application/octet-stream")
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("staff put: %d %s", r.StatusCode, r.body)
	}
	if m := r.json(t); m["fileId"] != fid1 || m["size"] != float64(len(marker)) {
		t.Fatalf("put response %v", m)
	}
	disk, err := os.ReadFile(filePath(e, id, fid1))
	if err != nil || bytes.Contains(disk, []byte(marker)) || len(disk) <= len(marker) {
		t.Fatalf("on disk %q, %v; want it encrypted", disk, err)
	}
	for p, want := range map[string]os.FileMode{filePath(e, id, fid1): 0o600, filepath.Dir(filePath(e, id, fid1)): 0o700} {
		if st, err := os.Stat(p); err != nil || st.Mode().Perm() != want {
			t.Fatalf("%s mode %v, %v; want %v", p, st.Mode().Perm(), err, want)
		}
	}
	if r := e.staff(adv, "PUT", base+fid1, "again"); r.StatusCode != http.StatusConflict || r.errCode(t) != "conflict" {
		t.Fatalf("second put: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(adv, "PUT", base+fid2, "x"); r.StatusCode != http.StatusForbidden || r.errCode(t) != "csrf" {
		t.Fatalf("staff put without CSRF: %d %s", r.StatusCode, r.body)
	}

	// A joined customer downloads it, uploads its own.
	cu := e.customer(id, "cookie-joined", "p_cu", signaling.StateJoined)
	r = e.do(cu, "GET", base+fid1, nil)
	if r.StatusCode != http.StatusOK || string(r.body) != marker {
		t.Fatalf("customer get: %d %q", r.StatusCode, r.body)
	}
	if ct, cd, cc := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"), r.Header.Get("Cache-Control"); ct != "application/octet-stream" || !strings.HasPrefix(cd, "attachment") || cc != "no-store" {
		t.Fatalf("headers %q %q %q", ct, cd, cc)
	}
	if r := e.do(cu, "PUT", base+fid2, "customer bytes", origin...); r.StatusCode != http.StatusCreated {
		t.Fatalf("customer put: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cu, "PUT", base+"aa"+fid2[2:], "x", "Origin", "https://evil.example"); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer put from a foreign origin: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "GET", base+fid2, nil); r.StatusCode != http.StatusOK || string(r.body) != "customer bytes" {
		t.Fatalf("staff get: %d %q", r.StatusCode, r.body)
	}

	// Delete: a customer may not delete the advisor's file, but its own;
	// the advisor any.
	if r := e.do(cu, "DELETE", base+fid1, nil, origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer deletes advisor's file: %d %s", r.StatusCode, r.body)
	}
	other := e.customer(id, "cookie-other", "p_other", signaling.StateJoined)
	if r := e.do(other, "DELETE", base+fid2, nil, origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer deletes another customer's file: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cu, "DELETE", base+fid2, nil, origin...); r.StatusCode != http.StatusNoContent {
		t.Fatalf("customer deletes own file: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(cu, "GET", base+fid2, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("get deleted: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "DELETE", base+fid1, nil); r.StatusCode != http.StatusNoContent {
		t.Fatalf("advisor deletes: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "DELETE", base+fid1, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("delete twice: %d %s", r.StatusCode, r.body)
	}

	// Waiting customers, strangers, other consultations, bad ids.
	waiting := e.customer(id, "cookie-waiting", "p_w", signaling.StateWaiting)
	if r := e.do(waiting, "PUT", base+fid2, "x", origin...); r.StatusCode != http.StatusForbidden {
		t.Fatalf("waiting customer put: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(waiting, "GET", base+fid2, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("waiting customer get: %d %s", r.StatusCode, r.body)
	}
	if r := e.do(e.client(), "GET", base+fid2, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous get: %d %s", r.StatusCode, r.body)
	}
	id2, _ := e.createConsultation(adv, "Other")
	e.staff(adv, "PUT", "/api/v1/consultations/"+id2+"/files/"+fid1, "other")
	if r := e.do(cu, "GET", "/api/v1/consultations/"+id2+"/files/"+fid1, nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("customer of another consultation: %d %s", r.StatusCode, r.body)
	}
	stranger, _ := e.loggedIn("bert", records.RoleAdvisor)
	if r := e.staff(stranger, "GET", base+fid1, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("foreign staff: %d %s", r.StatusCode, r.body)
	}
	for _, bad := range []string{"short", strings.ToUpper(fid1), fid1 + "0", fid1[:31] + "g"} {
		if r := e.staff(adv, "PUT", base+bad, "x"); r.StatusCode != http.StatusBadRequest {
			t.Fatalf("bad id %q: %d %s", bad, r.StatusCode, r.body)
		}
	}
	if r := e.staff(adv, "GET", "/api/v1/consultations/c_nope/files/"+fid1, nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown consultation: %d %s", r.StatusCode, r.body)
	}

	// End: the directory goes, everything answers 410.
	e.staff(adv, "PUT", base+fid2, "before end")
	if r := e.staff(adv, "POST", "/api/v1/consultations/"+id+"/end", nil); r.StatusCode != http.StatusOK {
		t.Fatalf("end: %d %s", r.StatusCode, r.body)
	}
	if _, err := os.Stat(filepath.Dir(filePath(e, id, fid2))); !os.IsNotExist(err) {
		t.Fatalf("files directory after end: %v", err)
	}
	if _, err := os.Stat(filePath(e, id2, fid1)); err != nil {
		t.Fatalf("other consultation's file: %v", err)
	}
	for _, m := range []string{"PUT", "GET", "DELETE"} {
		if r := e.staff(adv, m, base+fid2, "x"); r.StatusCode != http.StatusGone || r.errCode(t) != "ended" {
			t.Fatalf("%s after end: %d %s", m, r.StatusCode, r.body)
		}
	}
}

func TestFileTooBig(t *testing.T) {
	e := newEnv(t, func(c *config.Config) { c.Files.MaxBytes = 100 << 10 })
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	id, _ := e.createConsultation(adv, "Big")
	base := "/api/v1/consultations/" + id + "/files/"
	// Over the 64 KiB JSON limit but within files.max_bytes: fine.
	if r := e.staff(adv, "PUT", base+fid1, strings.Repeat("a", 100<<10)); r.StatusCode != http.StatusCreated {
		t.Fatalf("put at the limit: %d %s", r.StatusCode, r.body)
	}
	if r := e.staff(adv, "PUT", base+fid2, strings.Repeat("a", 100<<10+1)); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("put over the limit: %d %s", r.StatusCode, r.body)
	}
	// Without Content-Length (chunked), the stream is cut at the limit.
	req, _ := http.NewRequest("PUT", e.ts.URL+base+fid2, struct{ *strings.Reader }{strings.NewReader(strings.Repeat("b", 200<<10))})
	req.Header.Set(headerCSRF, e.csrf(adv))
	resp, err := adv.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("chunked put over the limit: %d", resp.StatusCode)
	}
	entries, _ := os.ReadDir(filepath.Join(e.cfg.DataDir, "files", id))
	if len(entries) != 1 { // fid1 (its uploader sealed inside); no leftovers
		t.Fatalf("directory holds %d entries", len(entries))
	}
}

func TestSweepFiles(t *testing.T) {
	e := newEnv(t)
	adv, _ := e.loggedIn("anna", records.RoleAdvisor)
	open, _ := e.createConsultation(adv, "Open")
	ended, _ := e.createConsultation(adv, "Ended")
	for _, id := range []string{open, ended} {
		if r := e.staff(adv, "PUT", "/api/v1/consultations/"+id+"/files/"+fid1, "x"); r.StatusCode != http.StatusCreated {
			t.Fatalf("put: %d %s", r.StatusCode, r.body)
		}
	}
	// Ended behind the server's back (as if while it was down), plus an
	// unknown consultation and a leftover temporary file.
	if _, err := e.rec.EndConsultation(context.Background(), ended); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(e.cfg.DataDir, "files", "c_unknown"), 0o700)
	os.WriteFile(filepath.Join(e.cfg.DataDir, "files", open, ".tmp-leftover"), []byte("x"), 0o600)
	sw := &retention.Sweeper{Records: e.rec, Files: e.files, Config: e.cfg.Retention}
	if _, err := sw.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{ended, "c_unknown", open + "/.tmp-leftover"} {
		if _, err := os.Stat(filepath.Join(e.cfg.DataDir, "files", gone)); !os.IsNotExist(err) {
			t.Fatalf("%s after sweep: %v", gone, err)
		}
	}
	if _, err := os.Stat(filePath(e, open, fid1)); err != nil {
		t.Fatalf("open consultation's file after sweep: %v", err)
	}
}
