package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
)

// advisorLogin logs the advisor in on ctx and waits for the console.
func advisorLogin(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	within(t, ctx, 20*time.Second, "login", chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`#username`),
		chromedp.SendKeys(`#username`, advisorName),
		chromedp.SendKeys(`#password`, advisorPassword),
		chromedp.Click(`#login-submit`),
		chromedp.WaitVisible(`[data-testid="new-consultation"]`),
	))
}

// shownConsultationID is the consultation of the invite panel's "open
// call" link.
func shownConsultationID(t *testing.T, ctx context.Context) string {
	t.Helper()
	href := within(t, ctx, 5*time.Second, "open-call link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="invite-panel"] [data-testid="open-call"]').getAttribute('href')`))
	m := regexp.MustCompile(`^/app/call/([^/#]+)`).FindStringSubmatch(href)
	if m == nil {
		t.Fatalf("open-call href %q", href)
	}
	return m[1]
}

func (l *logScan) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.buf.String(), s)
}

// inviteStatus is the status of GET /api/v1/invites/<token> of a link.
func inviteStatus(t *testing.T, base, link string) int {
	t.Helper()
	token := link[strings.Index(link, "/j/")+3:]
	if i := strings.IndexByte(token, '#'); i >= 0 {
		token = token[:i]
	}
	resp, err := http.Get(base + "/api/v1/invites/" + token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBrowserDeviceLink: the advisor creates a consultation in browser A
// and logs in on browser B, which lacks the call key: B cannot open the
// call and is told to fetch the key with a code from A (not to ask
// someone else). A shows a code, B types it (first wrongly, then right),
// and B is in the encrypted call: the customer and B decode each other.
// Neither browser ever sends the key or the code, and the server's log
// and stored data hold neither; what it relayed is a sealed box.
func TestBrowserDeviceLink(t *testing.T) {
	var dataDir string
	srv := startServer(t, func(c *config.Config) { dataDir = c.DataDir })
	devA := newBrowser(t, "advisor-A", 1280, 800)
	devB := newBrowser(t, "advisor-B", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)
	aWatch := watchSecret(t, devA)
	bWatch := watchSecret(t, devB)

	invite := loginAndCreate(t, devA, srv.base, "Zwei Geräte")
	secret := fragmentOf(t, invite)
	id := shownConsultationID(t, devA)

	// B: the console says the key is not here; the call cannot be opened.
	advisorLogin(t, devB, srv.base)
	within(t, devB, 10*time.Second, "B sees the missing key", chromedp.WaitVisible(`[data-testid="no-key-`+id+`"]`))
	within(t, devB, 20*time.Second, "B opens the call", chromedp.Steps(
		chromedp.Navigate(srv.base+"/app/call/"+id),
		chromedp.WaitVisible(`[data-testid="e2ee-missing-key"]`),
		chromedp.WaitVisible(`[data-testid="device-link-input"]`),
	))
	msg := within(t, devB, 5*time.Second, "missing key text", chromedp.Evaluate[string](`document.querySelector('[data-testid="e2ee-missing-key"]').innerText`))
	if !strings.Contains(msg, "Auf anderes Gerät übertragen") || !strings.Contains(msg, "Code") || strings.Contains(msg, "Bitten Sie die Person") {
		t.Errorf("B without the key is told %q", msg)
	}
	t.Logf("B without the key: %q", strings.ReplaceAll(msg, "\n", " "))
	saveScreenshot(t, devB, "devicelink-b-missing-key")
	if joined := within(t, devB, 5*time.Second, "B not in the call", chromedp.Evaluate[bool](
		`!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)); joined {
		t.Fatal("B joined the call without the key")
	}

	// A: a code for the other device.
	within(t, devA, 20*time.Second, "A shows a code", chromedp.Steps(
		chromedp.Click(`[data-testid="device-link-send-`+id+`"]`),
		chromedp.WaitVisible(`[data-testid="device-link-status"][data-state="waiting"]`),
	))
	code := strings.TrimSpace(within(t, devA, 5*time.Second, "read the code", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="device-link-code"]').textContent`)))
	if !regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`).MatchString(code) {
		t.Fatalf("code %q: want 4 groups of 4 base32 characters", code)
	}
	saveScreenshot(t, devA, "devicelink-a-code")

	// B: a wrong code first (the box is fetched and kept), then the right one.
	within(t, devB, 30*time.Second, "B types a wrong code", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="device-link-input"]`, "0000 0000 0000 0000"),
		chromedp.Click(`[data-testid="device-link-submit"]`),
		chromedp.WaitVisible(`[data-testid="device-link-error"]`),
	))
	wrong := within(t, devB, 5*time.Second, "wrong code text", chromedp.Evaluate[string](`document.querySelector('[data-testid="device-link-error"]').textContent`))
	if !strings.Contains(wrong, "passt nicht") {
		t.Errorf("wrong code: %q", wrong)
	}
	within(t, devA, 20*time.Second, "A sees the box fetched", chromedp.WaitVisible(`[data-testid="device-link-status"][data-state="claimed"]`))
	within(t, devB, 5*time.Second, "B clears the input", chromedp.Evaluate[string](`document.querySelector('[data-testid="device-link-input"]').value = ''`))
	within(t, devB, 30*time.Second, "B types the code", chromedp.Steps(
		chromedp.SendKeys(`[data-testid="device-link-input"]`, strings.ToLower(code)),
		chromedp.Click(`[data-testid="device-link-submit"]`),
	))
	waitJS(t, devB, 30*time.Second, "B in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	bID := waitStats(t, devB, 10*time.Second, "B's id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID

	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, devB, 20*time.Second, "B admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	flowing(t, cust, "customer", bID)
	flowing(t, devB, "advisor on B", custID)
	b, c := readE2EE(t, devB, "advisor on B"), readE2EE(t, cust, "customer")
	if !b.Enabled || b.SafetyCode == "" || b.SafetyCode != c.SafetyCode || b.DecryptFailures[custID] != 0 || c.DecryptFailures[bID] != 0 {
		t.Errorf("B %+v, customer %+v", b, c)
	}
	t.Logf("B and the customer decrypt each other; safety code %s on both", b.SafetyCode)
	saveScreenshot(t, devB, "devicelink-b-in-call")

	// B got the invite link too: its console shows it again, with the key.
	within(t, devB, 20*time.Second, "B's console", chromedp.Steps(
		chromedp.Navigate(srv.base+"/app"),
		chromedp.Click(`[data-testid="show-invite-`+id+`"]`),
		chromedp.WaitVisible(`[data-testid="invite-link"]`),
	))
	if got := strings.TrimSpace(within(t, devB, 5*time.Second, "B's invite link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="invite-link"]').textContent`))); got != invite {
		t.Errorf("B shows the invite %q, want %q", got, invite)
	}

	// Nothing carried the key or the code to the server.
	raw, _ := base64.RawURLEncoding.DecodeString(secret)
	norm := strings.ReplaceAll(code, "-", "")
	for _, w := range []struct {
		who string
		w   *secretWatch
	}{{"A", aWatch}, {"B", bWatch}} {
		w.w.never(t, w.who, secret)
		w.w.never(t, w.who+" (code)", norm)
		w.w.never(t, w.who+" (formatted code)", code)
	}
	// The box A left: base64url of version 1, salt, IV and ciphertext.
	var box []byte
	aWatch.mu.Lock()
	for _, s := range aWatch.texts {
		if i := strings.Index(s, `{"box":"`); i >= 0 && strings.Contains(s, "/device-link ") {
			var body struct{ Box string }
			dec := json.NewDecoder(strings.NewReader(s[i:]))
			if dec.Decode(&body) == nil {
				box, _ = base64.RawURLEncoding.DecodeString(body.Box)
			}
		}
	}
	aWatch.mu.Unlock()
	if len(box) < 45 || box[0] != 1 || bytes.Contains(box, raw) || bytes.Contains(box, []byte(secret)) || bytes.Contains(box, []byte(norm)) {
		t.Errorf("the relayed box (%d bytes) is not a sealed version-1 box or carries the key", len(box))
	}
	t.Logf("the server relayed a sealed box of %d bytes", len(box))
	for _, s := range []string{secret, norm, code} {
		if srv.logs.contains(s) {
			t.Errorf("the server's log holds the key or the code")
		}
	}
	files := 0
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return nil // gone meanwhile
		}
		files++
		for _, s := range [][]byte{raw, []byte(secret), []byte(norm), []byte(code)} {
			if bytes.Contains(data, s) {
				t.Errorf("%s holds the key or the code", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("scan the data dir: %d files, %v", files, err)
	}
	t.Logf("the key and the code are in none of %d stored files", files)
}

// TestBrowserInviteShownAgain: after a reload the creating browser shows
// the invite link again, with its key; an entry past the consultation's
// maximum duration is deleted, and so is the key of an ended consultation.
func TestBrowserInviteShownAgain(t *testing.T) {
	srv := startServer(t)
	adv := newBrowser(t, "advisor", 1280, 800)
	invite := loginAndCreate(t, adv, srv.base, "Wieder anzeigen")
	id := shownConsultationID(t, adv)

	within(t, adv, 20*time.Second, "reload and show the invite", chromedp.Steps(
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid="show-invite-`+id+`"]`),
		chromedp.Click(`[data-testid="show-invite-`+id+`"]`),
		chromedp.WaitVisible(`[data-testid="invite-link"]`),
	))
	if got := strings.TrimSpace(within(t, adv, 5*time.Second, "invite link", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="invite-link"]').textContent`))); got != invite {
		t.Fatalf("after a reload the invite is %q, want %q", got, invite)
	}
	saveScreenshot(t, adv, "devicelink-invite-again")

	// Past its maximum duration: deleted when read.
	gone := within(t, adv, 10*time.Second, "expired entry", chromedp.Evaluate[bool](`(async () => {
		const m = await import('/static/js/e2ee.js');
		await m.saveSecret('old-one', new Uint8Array(32), {expiresAt: '2001-01-01T00:00:00Z', inviteUrl: 'http://x/j/y'});
		const all = await m.loadAllSecrets();
		const again = await m.loadAllSecrets();
		return !all.has('old-one') && !again.has('old-one') && all.has('`+id+`');
	})()`, chromedp.EvalAwaitPromise))
	if !gone {
		t.Errorf("an entry past its maximum duration is still there")
	}

	// Ended: the console deletes the key and the link.
	status := within(t, adv, 10*time.Second, "end", chromedp.Evaluate[float64](`(async () => {
		const csrf = document.cookie.split('; ').find((c) => c.startsWith('parley_csrf='))?.split('=')[1] || '';
		const r = await fetch('/api/v1/consultations/`+id+`/end', {method: 'POST', headers: {'X-CSRF-Token': decodeURIComponent(csrf)}});
		return r.status;
	})()`, chromedp.EvalAwaitPromise))
	if status != 200 {
		t.Fatalf("end: %v", status)
	}
	within(t, adv, 20*time.Second, "reload", chromedp.Steps(chromedp.Reload(), chromedp.WaitVisible(`[data-testid="consultation-list"] li`)))
	kept := true
	for end := time.Now().Add(10 * time.Second); kept && time.Now().Before(end); {
		kept = within(t, adv, 5*time.Second, "stored keys", chromedp.Evaluate[bool](
			`(async () => { const m = await import('/static/js/e2ee.js'); return (await m.loadAllSecrets()).has('`+id+`'); })()`, chromedp.EvalAwaitPromise))
		if kept {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if kept {
		t.Errorf("the key of the ended consultation is still stored")
	}
	if n := within(t, adv, 5*time.Second, "no show-invite", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="show-invite-`+id+`"]').length`)); n != 0 {
		t.Errorf("the ended consultation still offers its invite")
	}
}

// TestBrowserNewInviteWithoutKey: in a browser without the key "Neuer
// Einladungslink" is disabled and explained, so the working link stays
// valid and no key-less link is made; in the browser with the key a new
// link carries the same key, replaces the old one, and is shown again
// after a reload.
func TestBrowserNewInviteWithoutKey(t *testing.T) {
	srv := startServer(t)
	devA := newBrowser(t, "advisor-A", 1280, 800)
	devB := newBrowser(t, "advisor-B", 1280, 800)
	bWatch := watchSecret(t, devB)
	invite := loginAndCreate(t, devA, srv.base, "Neuer Link")
	secret := fragmentOf(t, invite)
	id := shownConsultationID(t, devA)

	advisorLogin(t, devB, srv.base)
	within(t, devB, 10*time.Second, "B's row", chromedp.WaitVisible(`[data-testid="new-invite-`+id+`"]`))
	state := within(t, devB, 5*time.Second, "B's new-invite button", chromedp.Evaluate[string](`(() => {
		const b = document.querySelector('[data-testid="new-invite-`+id+`"]');
		b.click();
		return b.disabled + ' | ' + b.title;
	})()`))
	if !strings.HasPrefix(state, "true | ") || !strings.Contains(state, "Schlüssel") {
		t.Errorf("B's new-invite button: %q, want disabled with the reason", state)
	}
	t.Logf("B's new-invite button: %q", state)
	time.Sleep(time.Second) // a request the click might have sent
	if st := inviteStatus(t, srv.base, invite); st != http.StatusOK {
		t.Fatalf("the working invite answers %d after B's click", st)
	}
	bWatch.mu.Lock()
	for _, s := range bWatch.texts {
		if strings.Contains(s, "/invite ") || strings.Contains(s, "/invite\t") || strings.HasSuffix(strings.Fields(s)[0], "/invite") {
			t.Errorf("B asked for a new invite: %.120s", s)
		}
	}
	bWatch.mu.Unlock()
	if hidden := within(t, devB, 5*time.Second, "B's invite panel", chromedp.Evaluate[bool](`document.querySelector('[data-testid="invite-panel"]').hidden`)); !hidden {
		t.Errorf("B shows an invite link")
	}
	saveScreenshot(t, devB, "devicelink-b-no-new-invite")

	// A, with the key: a new link with the same key replaces the old one.
	within(t, devA, 10*time.Second, "A: new invite", chromedp.Click(`[data-testid="new-invite-`+id+`"]`))
	var fresh string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		fresh = strings.TrimSpace(within(t, devA, 5*time.Second, "new link", chromedp.Evaluate[string](`document.querySelector('[data-testid="invite-link"]').textContent`)))
		if fresh != invite && strings.Contains(fresh, "/j/") {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if fresh == invite || fragmentOf(t, fresh) != secret {
		t.Fatalf("A's new link %q: want a new token with the same key", fresh)
	}
	if st := inviteStatus(t, srv.base, invite); st == http.StatusOK {
		t.Errorf("the old invite still works after A's new one")
	}
	if st := inviteStatus(t, srv.base, fresh); st != http.StatusOK {
		t.Errorf("the new invite answers %d", st)
	}
	within(t, devA, 20*time.Second, "A reloads", chromedp.Steps(
		chromedp.Reload(),
		chromedp.WaitVisible(`[data-testid="show-invite-`+id+`"]`),
		chromedp.Click(`[data-testid="show-invite-`+id+`"]`),
	))
	if got := strings.TrimSpace(within(t, devA, 5*time.Second, "shown again", chromedp.Evaluate[string](`document.querySelector('[data-testid="invite-link"]').textContent`))); got != fresh {
		t.Errorf("after a reload A shows %q, want the new link %q", got, fresh)
	}
}
