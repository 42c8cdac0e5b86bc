package node

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/redis/go-redis/v9"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/contracts"
	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signature"
)

// TestDataSubjectRights runs a whole node on Redis: two customers join
// with consent and answers; the first one's export holds all of their data
// and nothing of the other; erasure removes their data from the database,
// the file store and Redis, restricts their signed contract and consent
// record, and the export afterwards says so.
func TestDataSubjectRights(t *testing.T) {
	url := redistest.URL(t)
	cfg := testConfig(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = url
	cfg.Session.KeyPrefix = "parley-subject-test:" + rand.Text()[:12] + ":"
	cfg.Questions.Before = []config.Question{{ID: "email", Type: "email", Label: config.Text{DE: "E-Mail", EN: "E-mail"}}}
	t.Cleanup(func() { redistest.DeletePrefix(t, url, cfg.Session.KeyPrefix) })
	n := startNode(t, cfg)
	ctx := t.Context()
	base := "http://" + n.HTTPAddr()

	do := func(c *http.Client, method, path string, body any, hdr ...string) (int, []byte) {
		t.Helper()
		return request(t, c, method, base+path, body, hdr...)
	}
	client := func() *http.Client {
		jar, _ := cookiejar.New(nil)
		return &http.Client{Jar: jar, Timeout: 10 * time.Second}
	}

	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	con, invite, err := n.Records.CreateConsultation(ctx, adv.ID, "Baufinanzierung", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	_, inv := do(client(), "GET", "/api/v1/invites/"+invite, nil)
	var invInfo struct {
		Consent struct{ Version string } `json:"consent"`
	}
	json.Unmarshal(inv, &invInfo)

	type joined struct {
		c     *http.Client
		pid   string
		token string
	}
	join := func(name, email string) joined {
		t.Helper()
		c := client()
		code, b := do(c, "POST", "/api/v1/invites/"+invite+"/join", map[string]any{"name": name, "consent": true,
			"consentVersion": invInfo.Consent.Version, "lang": "de", "answers": map[string]string{"email": email}})
		if code != http.StatusOK {
			t.Fatalf("join %s: %d %s", name, code, b)
		}
		var r struct{ ParticipantID, MyDataToken string }
		json.Unmarshal(b, &r)
		return joined{c, r.ParticipantID, r.MyDataToken}
	}
	erika := join("Erika Mustermann", "erika@example.org")
	max := join("Max Beispiel", "max@example.net")

	// Erika sent a file and signed a contract.
	const fid = "0123456789abcdef0123456789abcdef"
	if _, err := n.files.Put(ctx, con.ID, fid, "participant:"+erika.pid, strings.NewReader("ciphertext")); err != nil {
		t.Fatal(err)
	}
	if _, err := n.files.Put(ctx, con.ID, "fedcba9876543210fedcba9876543210", "participant:"+max.pid, strings.NewReader("other")); err != nil {
		t.Fatal(err)
	}
	pdf, _ := signature.ContractPDF(signature.ContractTemplate{Title: "Darlehensvertrag"})
	doc, err := n.Contracts.Present(ctx, contracts.Presentation{ConsultationID: con.ID, Name: "darlehen.pdf", PDF: pdf,
		Signers: []string{"customer"}, CreatedBy: adv.ID, Actor: "staff:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Records.RecordSignature(ctx, doc.ID, records.Signing{Field: "customer", Blob: doc.CurrentBlob, Size: doc.Size,
		SHA256: doc.SHA256, SignerName: "Erika Mustermann", SignerRef: "participant:" + erika.pid, Actor: "participant:" + erika.pid, At: time.Now()}); err != nil {
		t.Fatal(err)
	}

	// The export in the call (session cookie) has everything about Erika
	// and nothing about Max.
	code, b := do(erika.c, "GET", "/api/v1/consultations/"+con.ID+"/my-data?download=1", nil)
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, b)
	}
	export := string(b)
	for _, want := range []string{"Erika Mustermann", "erika@example.org", erika.pid, fid, invInfo.Consent.Version, doc.ID, `"inCall":true`} {
		if !strings.Contains(export, want) {
			t.Errorf("export lacks %q:\n%s", want, export)
		}
	}
	for _, never := range []string{"Max Beispiel", "max@example.net", max.pid, "fedcba98"} {
		if strings.Contains(export, never) {
			t.Errorf("export about Erika contains %q", never)
		}
	}
	// A forged token gets nothing.
	if code, _ := do(client(), "GET", "/api/v1/my-data", nil, "Authorization", "Bearer "+con.ID+"."+erika.pid+".forged"); code != http.StatusUnauthorized {
		t.Fatalf("forged token: %d", code)
	}

	// Redis holds Erika's session now.
	rdb := redisClient(t, url)
	sessionKeys := func(pid string) []string {
		t.Helper()
		var out []string
		iter := rdb.Scan(ctx, 0, cfg.Session.KeyPrefix+"*", 100).Iterator()
		for iter.Next(ctx) {
			k := iter.Val()
			switch rdb.Type(ctx, k).Val() {
			case "hash":
				if v, _ := rdb.HGetAll(ctx, k).Result(); v["participant"] == pid || strings.Contains(v["name"], "Erika") {
					out = append(out, k)
				}
			case "zset":
				if _, err := rdb.ZScore(ctx, k, pid).Result(); err == nil {
					out = append(out, k+" (waiting)")
				}
			}
		}
		return out
	}
	if len(sessionKeys(erika.pid)) == 0 {
		t.Fatal("no session of Erika in Redis before erasure")
	}

	// Erasure, with the link's token.
	code, b = do(client(), "DELETE", "/api/v1/my-data", nil, "Authorization", "Bearer "+erika.token)
	if code != http.StatusOK {
		t.Fatalf("erase: %d %s", code, b)
	}
	var erased struct {
		Deleted    map[string]int
		Restricted map[string]int
		Remaining  map[string]any
	}
	json.Unmarshal(b, &erased)
	if erased.Deleted["customer"] != 1 || erased.Deleted["answers"] != 1 || erased.Deleted["files"] != 1 || erased.Deleted["session"] != 1 ||
		erased.Restricted["contracts"] != 1 || erased.Restricted["consents"] != 1 {
		t.Fatalf("erasure answer: %s", b)
	}
	// Gone from the database, the file store and Redis.
	var c int
	n.Records.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM customers WHERE participant_id = ?", erika.pid).Scan(&c)
	if c != 0 {
		t.Error("customer row survived erasure")
	}
	n.Records.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM answers WHERE participant_id = ?", erika.pid).Scan(&c)
	if c != 0 {
		t.Error("answers survived erasure")
	}
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "files", con.ID, fid)); !os.IsNotExist(err) {
		t.Errorf("Erika's file: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(sessionKeys(erika.pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if keys := sessionKeys(erika.pid); len(keys) > 0 {
		t.Errorf("Redis still holds Erika's session: %v", keys)
	}
	// Her session cookie works no more.
	if code, _ := do(erika.c, "GET", "/api/v1/consultations/"+con.ID+"/my-data", nil); code == http.StatusOK {
		t.Error("the erased customer's cookie still works")
	}
	// The export afterwards: no name, no answers, the contract and the
	// consent restricted, with the end of their retention.
	code, b = do(client(), "GET", "/api/v1/my-data", nil, "Authorization", "Bearer "+erika.token)
	if code != http.StatusOK {
		t.Fatalf("export after erasure: %d %s", code, b)
	}
	var after struct {
		Customer   *records.Customer
		Answers    []records.Answer
		Contracts  []records.SubjectRecord
		Consents   []records.SubjectRecord
		Files      []any
		Restricted bool
		Requests   []records.SubjectRecord
	}
	json.Unmarshal(b, &after)
	if after.Customer != nil || len(after.Answers) != 0 || len(after.Files) != 0 || !after.Restricted ||
		len(after.Contracts) != 1 || !after.Contracts[0].Restricted || after.Contracts[0].KeptUntil == nil ||
		len(after.Consents) != 1 || !after.Consents[0].Restricted {
		t.Fatalf("export after erasure: %s", b)
	}
	if strings.Contains(string(b), "erika@example.org") {
		t.Error("export after erasure still has the e-mail address")
	}
	kinds := map[string]bool{}
	for _, r := range after.Requests {
		kinds[r.Kind] = true
	}
	if !kinds["export"] || !kinds["erase"] {
		t.Errorf("request log: %+v", after.Requests)
	}
	// Max's data is untouched.
	code, b = do(max.c, "GET", "/api/v1/consultations/"+con.ID+"/my-data", nil)
	if code != http.StatusOK || !strings.Contains(string(b), "max@example.net") || !strings.Contains(string(b), "fedcba98") {
		t.Fatalf("Max's export after Erika's erasure: %d %s", code, b)
	}
	// The back office sees the contract as restricted.
	d, err := n.Records.DocumentAnywhere(ctx, doc.ID)
	if err != nil {
		t.Fatalf("restricted contract deleted: %v", err)
	}
	_ = d
}

// request sends a JSON request as a browser of the node's origin would
// and returns the status and body.
func request(t *testing.T, c *http.Client, method, url string, body any, hdr ...string) (int, []byte) {
	t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := neturl.Parse(url)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", u.Scheme+"://"+u.Host)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func redisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// TestPreJoinDataGoesWhenTheConsultationEnds: with the default retention,
// ending a consultation removes the customers' names and answers at once
// (the end kicks the sweeper), while the consent record stays.
func TestPreJoinDataGoesWhenTheConsultationEnds(t *testing.T) {
	cfg := testConfig(t)
	cfg.Questions.Before = []config.Question{{ID: "email", Type: "email", Label: config.Text{DE: "E-Mail", EN: "E-mail"}}}
	n := startNode(t, cfg)
	ctx := t.Context()
	base := "http://" + n.HTTPAddr()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	post := func(path string, body any, hdr ...string) int {
		t.Helper()
		code, _ := request(t, hc, "POST", base+path, body, hdr...)
		return code
	}
	adv, _ := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	con, invite, _ := n.Records.CreateConsultation(ctx, adv.ID, "Ende", time.Hour)
	var inv struct{ Consent struct{ Version string } }
	resp, err := hc.Get(base + "/api/v1/invites/" + invite)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&inv)
	resp.Body.Close()
	customer := &http.Client{Timeout: 10 * time.Second}
	if code, b := request(t, customer, "POST", base+"/api/v1/invites/"+invite+"/join", map[string]any{"name": "Erika", "consent": true,
		"consentVersion": inv.Consent.Version, "lang": "de", "answers": map[string]string{"email": "erika@example.org"}}); code != http.StatusOK {
		t.Fatalf("join: %d %s", code, b)
	}
	count := func(table string) int {
		var c int
		n.Records.DB().QueryRowContext(ctx, "SELECT COUNT(*) FROM "+table+" WHERE consultation_id = ?", con.ID).Scan(&c)
		return c
	}
	if count("customers") != 1 || count("answers") != 1 || count("consents") != 1 {
		t.Fatalf("after join: customers %d answers %d consents %d", count("customers"), count("answers"), count("consents"))
	}
	if code := post("/api/v1/login", map[string]string{"username": "anna", "password": "correct horse battery"}); code != http.StatusOK {
		t.Fatalf("login: %d", code)
	}
	u, _ := neturl.Parse(base)
	var csrf string
	for _, c := range jar.Cookies(u) {
		if c.Name == "parley_csrf" {
			csrf = c.Value
		}
	}
	if code := post("/api/v1/consultations/"+con.ID+"/end", nil, "X-CSRF-Token", csrf); code >= 300 {
		t.Fatalf("end: %d", code)
	}
	deadline := time.Now().Add(5 * time.Second)
	for (count("customers") != 0 || count("answers") != 0) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if count("customers") != 0 || count("answers") != 0 {
		t.Fatalf("pre-join data after the end: customers %d answers %d", count("customers"), count("answers"))
	}
	if count("consents") != 1 {
		t.Fatalf("consent record gone with the consultation's end")
	}
}
