package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/blobs"
	"github.com/parley-video/parley/config"
)

// chatDebug mirrors parleyDebug.info().chat (web/static/js/debug.js).
type chatDebug struct {
	Sent            float64 `json:"sent"`
	Received        float64 `json:"received"`
	DecryptFailures float64 `json:"decryptFailures"`
	LastRawBody     string  `json:"lastRawBody"`
	Downloads       []struct {
		Msg    string  `json:"msg"`
		Name   string  `json:"name"`
		Size   float64 `json:"size"`
		SHA256 string  `json:"sha256"`
	} `json:"downloads"`
}

func readChat(t *testing.T, ctx context.Context, who string) chatDebug {
	t.Helper()
	return within(t, ctx, 5*time.Second, who+" chat state",
		chromedp.Evaluate[chatDebug](`window.parleyDebug.info().chat`))
}

// storedSize is the size of what the server stored as file p, decrypted
// with the data directory's development storage key.
func storedSize(t *testing.T, dataDir, p string) int {
	t.Helper()
	ring, err := blobs.LoadKeyRing("", filepath.Join(dataDir, "keys"), nil)
	if err != nil {
		t.Fatal(err)
	}
	store, err := blobs.Open(filepath.Dir(filepath.Dir(p)), ring)
	if err != nil {
		t.Fatal(err)
	}
	f, size, err := store.Open(filepath.Base(filepath.Dir(p)), filepath.Base(p))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return int(size)
}

// storedFiles reads every file under dir (recursively).
func storedFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[p] = b
		return nil
	})
	if err != nil {
		t.Fatalf("read %s: %v", dir, err)
	}
	return out
}

// blobsOf keeps the stored ciphertexts (named by their 32-hex file id),
// without the store's sidecars (uploader metadata).
func blobsOf(files map[string][]byte) map[string][]byte {
	out := map[string][]byte{}
	for p, b := range files {
		if base := filepath.Base(p); len(base) == 32 && strings.Trim(base, "0123456789abcdef") == "" {
			out[p] = b
		}
	}
	return out
}

// noPlaintext fails if any stored file contains one of the markers.
func noPlaintext(t *testing.T, files map[string][]byte, markers ...string) {
	t.Helper()
	for p, b := range files {
		for _, m := range markers {
			if bytes.Contains(b, []byte(m)) {
				t.Errorf("%s contains the plaintext %q", p, m)
			}
		}
	}
}

// inChat starts a server, puts the advisor and a customer (with the given
// invite fragment transform) in a call and returns both pages, their ids,
// the consultation id and the server's data dir.
type chatCall struct {
	srv            *server
	adv, cust      context.Context
	advID, custID  string
	consultationID string
	dataDir        string
}

func startChatCall(t *testing.T, title string, customerLink func(invite string) string) *chatCall {
	t.Helper()
	c := &chatCall{}
	c.srv = startServer(t, func(cfg *config.Config) { c.dataDir = cfg.DataDir })
	c.adv = newBrowser(t, "advisor", 1280, 800)
	c.cust = newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, c.adv, c.srv.base, title)
	within(t, c.adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, c.adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	c.advID = waitStats(t, c.adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	path := within(t, c.adv, 5*time.Second, "call path", chromedp.Evaluate[string](`location.pathname`))
	c.consultationID = strings.TrimPrefix(path, "/app/call/")

	customerJoins(t, c.cust, customerLink(invite))
	c.custID = waitStats(t, c.cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, c.adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+c.custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+c.custID+`"]`),
	))
	waitStats(t, c.cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	for _, x := range []struct {
		who string
		ctx context.Context
	}{{"advisor", c.adv}, {"customer", c.cust}} {
		within(t, x.ctx, 10*time.Second, x.who+" opens the chat", chromedp.Steps(
			chromedp.WaitVisible(`[data-testid="chat-toggle"]`),
			chromedp.Click(`[data-testid="chat-toggle"]`),
			chromedp.WaitVisible(`[data-testid="chat-input"]`),
		))
	}
	return c
}

// sendText types a message and sends it; returns its id.
func sendText(t *testing.T, ctx context.Context, who, text string) string {
	t.Helper()
	within(t, ctx, 10*time.Second, who+" sends "+text, chromedp.Steps(
		chromedp.SendKeys(`[data-testid="chat-input"]`, text),
		chromedp.Click(`[data-testid="chat-send"]`),
	))
	return within(t, ctx, 10*time.Second, who+" message id", chromedp.Poll[string](
		`[...document.querySelectorAll('[data-testid="chat-message"][data-kind="text"]')].filter(e => e.textContent.includes(`+strconv.Quote(text)+`)).map(e => e.dataset.msg)[0] || null`))
}

// TestBrowserChatFilesPhotos: a customer's text reaches the advisor and
// shows "delivered"; the advisor's file arrives as a card with its name and
// size and decrypts to the same bytes; the customer's photo shows inline on
// the advisor's side; the server's file store only ever holds ciphertext;
// deleting removes a message everywhere and its file on the server; ending
// the consultation removes its files.
func TestBrowserChatFilesPhotos(t *testing.T) {
	const marker1 = "PLAINTEXT-MARKER-1"
	const marker2 = "PLAINTEXT-MARKER-2"
	c := startChatCall(t, "Chat", func(invite string) string { return invite })
	filesDir := filepath.Join(c.dataDir, "files")

	// Text: customer → advisor, sending → sent → delivered.
	text := "Hallo " + marker1
	msg1 := sendText(t, c.cust, "customer", text)
	within(t, c.adv, 10*time.Second, "advisor sees the text", chromedp.WaitVisible(`[data-testid="chat-message"][data-msg="`+msg1+`"]`))
	got := within(t, c.adv, 5*time.Second, "advisor text", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="chat-message"][data-msg="`+msg1+`"] [data-testid="chat-text"]').textContent`))
	if got != text {
		t.Errorf("advisor shows %q, want %q", got, text)
	}
	within(t, c.cust, 10*time.Second, "customer's message delivered", chromedp.WaitVisible(`[data-testid="chat-message"][data-msg="`+msg1+`"][data-state="delivered"]`))
	state := within(t, c.cust, 5*time.Second, "state text", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="chat-message"][data-msg="`+msg1+`"] [data-testid="chat-state"]').textContent`))
	if state != "zugestellt" {
		t.Errorf("delivered state reads %q", state)
	}
	raw := readChat(t, c.adv, "advisor").LastRawBody
	if raw == "" || strings.Contains(raw, marker1) {
		t.Errorf("advisor's last received raw body %q: empty or plaintext", raw)
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || bytes.Contains(b, []byte(marker1)) {
		t.Errorf("raw body is not base64url ciphertext (err %v)", err)
	}
	t.Logf("customer → advisor text %s delivered; relayed body is %d chars of ciphertext", msg1, len(raw))

	// File: advisor → customer.
	content := []byte(marker2 + " – Kreditunterlagen, Seite 1\n" + strings.Repeat("0123456789", 300))
	sum := sha256.Sum256(content)
	tmp := filepath.Join(t.TempDir(), "Unterlagen.txt")
	if err := os.WriteFile(tmp, content, 0o600); err != nil {
		t.Fatal(err)
	}
	within(t, c.adv, 10*time.Second, "advisor picks a file", chromedp.SetUploadFiles(`[data-testid="chat-file-input"]`, []string{tmp}))
	fileMsg := within(t, c.cust, 20*time.Second, "customer sees the file card", chromedp.Poll[string](
		`[...document.querySelectorAll('[data-testid="chat-message"][data-kind="file"]')].map(e => e.dataset.msg)[0] || null`))
	name := within(t, c.cust, 5*time.Second, "file name", chromedp.Evaluate[string](
		`document.querySelector('[data-msg="`+fileMsg+`"] [data-testid="chat-file-name"]').textContent`))
	size := within(t, c.cust, 5*time.Second, "file size", chromedp.Evaluate[string](
		`document.querySelector('[data-msg="`+fileMsg+`"] [data-testid="chat-file-meta"]').dataset.size`))
	meta := within(t, c.cust, 5*time.Second, "file meta", chromedp.Evaluate[string](
		`document.querySelector('[data-msg="`+fileMsg+`"] [data-testid="chat-file-meta"]').textContent`))
	if name != "Unterlagen.txt" || size != strconv.Itoa(len(content)) || !strings.Contains(meta, "text/plain") {
		t.Errorf("file card: name %q size %q meta %q; want Unterlagen.txt, %d, text/plain", name, size, meta, len(content))
	}
	t.Logf("customer sees file card %q (%s)", name, meta)

	// The server holds the ciphertext only.
	stored := storedFiles(t, filesDir)
	if len(blobsOf(stored)) != 1 {
		t.Fatalf("want 1 stored file under %s, have %v", filesDir, len(stored))
	}
	// Every file (ciphertexts and the store's sidecars) is free of plaintext.
	noPlaintext(t, stored, marker1, marker2, "Unterlagen.txt", "text/plain", "Kreditunterlagen")
	t.Logf("server's file store: %d files, none contains a marker, the name or the type", len(stored))
	for p := range blobsOf(stored) {
		if n := storedSize(t, c.dataDir, p); n != 12+len(content)+16 {
			t.Errorf("%s: %d bytes, want IV+ciphertext+tag = %d", p, n, 12+len(content)+16)
		}
	}

	within(t, c.cust, 10*time.Second, "customer downloads", chromedp.Click(`[data-msg="`+fileMsg+`"] [data-testid="chat-download"]`))
	waitJS(t, c.cust, 10*time.Second, "customer decrypted the file", `window.parleyDebug.info().chat.downloads.some(d => d.msg === '`+fileMsg+`')`)
	for _, d := range readChat(t, c.cust, "customer").Downloads {
		if d.Msg != fileMsg {
			continue
		}
		if d.SHA256 != hex.EncodeToString(sum[:]) || int(d.Size) != len(content) || d.Name != "Unterlagen.txt" {
			t.Errorf("download %+v, want %d bytes with sha256 %x", d, len(content), sum)
		} else {
			t.Logf("customer decrypted %s: %d bytes, same sha256 as the advisor's file", d.Name, int(d.Size))
		}
	}

	// Photo: customer → advisor.
	within(t, c.cust, 20*time.Second, "customer takes a photo (preview, then send)", chromedp.Steps(
		chromedp.Click(`[data-testid="chat-photo"]`),
		chromedp.WaitEnabled(`[data-testid="photo-shutter"]`),
		chromedp.Click(`[data-testid="photo-shutter"]`),
		chromedp.WaitVisible(`[data-testid="photo-send"]`),
		chromedp.Click(`[data-testid="photo-send"]`),
	))
	photoMsg := within(t, c.adv, 20*time.Second, "advisor shows the photo", chromedp.Poll[string](
		`[...document.querySelectorAll('[data-testid="chat-message"][data-kind="photo"]')].filter(e => { const i = e.querySelector('img'); return i && i.complete && i.naturalWidth > 0; }).map(e => e.dataset.msg)[0] || null`))
	w := within(t, c.adv, 5*time.Second, "photo width", chromedp.Evaluate[float64](
		`document.querySelector('[data-msg="`+photoMsg+`"] img').naturalWidth`))
	src := within(t, c.adv, 5*time.Second, "photo src", chromedp.Evaluate[string](
		`document.querySelector('[data-msg="`+photoMsg+`"] img').src`))
	if w <= 0 || !strings.HasPrefix(src, "blob:") {
		t.Errorf("photo: width %v src %q", w, src)
	}
	t.Logf("advisor shows the customer's photo: %v px wide from %s", w, src[:5])
	stored = storedFiles(t, filesDir)
	if len(blobsOf(stored)) != 2 {
		t.Errorf("want 2 stored files, have %d", len(blobsOf(stored)))
	}
	noPlaintext(t, stored, marker1, marker2, "Unterlagen.txt", "image/jpeg", "JFIF")
	time.Sleep(500 * time.Millisecond)
	saveScreenshot(t, c.adv, "chat-advisor")
	saveScreenshot(t, c.cust, "chat-customer")

	// Delete: the customer deletes its text → gone on both sides.
	within(t, c.cust, 10*time.Second, "customer deletes its text", chromedp.Click(`[data-msg="`+msg1+`"] [data-testid="chat-delete"]`))
	waitJS(t, c.adv, 10*time.Second, "text gone for the advisor", `!document.querySelector('[data-msg="`+msg1+`"]')`)
	waitJS(t, c.cust, 10*time.Second, "text gone for the customer", `!document.querySelector('[data-msg="`+msg1+`"]')`)
	// The customer may not delete the advisor's file.
	if n := within(t, c.cust, 5*time.Second, "delete buttons", chromedp.Evaluate[int](
		`document.querySelectorAll('[data-msg="`+fileMsg+`"] [data-testid="chat-delete"]').length`)); n != 0 {
		t.Errorf("customer has a delete button on the advisor's file")
	}
	// The advisor deletes the customer's photo → its file is deleted too.
	within(t, c.adv, 10*time.Second, "advisor deletes the photo", chromedp.Click(`[data-msg="`+photoMsg+`"] [data-testid="chat-delete"]`))
	waitJS(t, c.cust, 10*time.Second, "photo gone for the customer", `!document.querySelector('[data-msg="`+photoMsg+`"]')`)
	deadline := time.Now().Add(10 * time.Second)
	for len(blobsOf(storedFiles(t, filesDir))) != 1 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if n := len(blobsOf(storedFiles(t, filesDir))); n != 1 {
		t.Errorf("after deleting the photo: %d stored files, want 1", n)
	}

	// End: the consultation's files are gone.
	cdir := filepath.Join(filesDir, c.consultationID)
	if _, err := os.Stat(cdir); err != nil {
		t.Fatalf("files dir of the consultation: %v", err)
	}
	within(t, c.adv, 10*time.Second, "advisor ends", chromedp.Steps(
		chromedp.Click(`[data-testid="end"]`),
		chromedp.Click(`[data-testid="end-confirm"]`),
	))
	within(t, c.cust, 10*time.Second, "customer sees the end", chromedp.WaitVisible(`[data-testid="end-screen"]`))
	deadline = time.Now().Add(10 * time.Second)
	for {
		_, err := os.Stat(cdir)
		if os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after the end (err %v)", cdir, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("after the end %s is gone", cdir)
}

// TestBrowserChatWrongKey: a customer whose link carries a wrong key sees
// the advisor's message as undecryptable, never as garbage.
func TestBrowserChatWrongKey(t *testing.T) {
	wrong := make([]byte, 32)
	if _, err := rand.Read(wrong); err != nil {
		t.Fatal(err)
	}
	c := startChatCall(t, "Chat falscher Schlüssel", func(invite string) string {
		return invite[:strings.IndexByte(invite, '#')+1] + base64.RawURLEncoding.EncodeToString(wrong)
	})
	msg := sendText(t, c.adv, "advisor", "Guten Tag PLAINTEXT-MARKER-3")
	within(t, c.cust, 10*time.Second, "customer gets the message", chromedp.WaitVisible(`[data-testid="chat-message"][data-msg="`+msg+`"][data-kind="unknown"]`))
	got := within(t, c.cust, 5*time.Second, "customer text", chromedp.Evaluate[string](
		`document.querySelector('[data-testid="chat-message"][data-msg="`+msg+`"]').textContent`))
	if !strings.Contains(got, "Nachricht kann nicht entschlüsselt werden – der Link ist unvollständig oder falsch") || strings.Contains(got, "MARKER") {
		t.Errorf("customer shows %q", got)
	}
	if d := readChat(t, c.cust, "customer"); d.DecryptFailures < 1 || d.Received < 1 {
		t.Errorf("customer chat debug %+v", d)
	}
	// The advisor still sees "delivered": the receipt says it arrived, not that it decrypted.
	within(t, c.adv, 10*time.Second, "advisor's message delivered", chromedp.WaitVisible(`[data-msg="`+msg+`"][data-state="delivered"]`))
	t.Logf("customer with the wrong key shows %q", strings.TrimSpace(got))
	saveScreenshot(t, c.cust, "chat-customer-wrong-key")
}
