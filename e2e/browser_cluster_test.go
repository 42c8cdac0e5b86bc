package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/callclient"
	"github.com/parley-video/parley/records"
)

// TestBrowserClusterCall: two real browsers on a three-node cluster. The
// advisor's browser talks to one node, the customer's to another, and the
// call lives on the third (its home node): both decode each other's video
// and receive audio (end-to-end encrypted, media straight to the home
// node), a chat message arrives, the advisor presents the contract and the
// customer signs it, and the back office, asked on yet another node, finds
// the signed contract valid.
func TestBrowserClusterCall(t *testing.T) {
	nodes := startCluster(t, 3)
	if _, err := nodes[0].Records.CreateUser(t.Context(), backofficeName, "Berta Backoffice", records.RoleBackoffice, advisorPassword); err != nil {
		t.Fatal(err)
	}
	// The call's home is the least-loaded node, the smallest id on a tie:
	// node-a. The advisor comes through node-b, the customer through node-c.
	advNode, custNode := nodes[1], nodes[2]
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, advNode.base, "Baufinanzierung")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	path := within(t, adv, 5*time.Second, "call path", chromedp.Evaluate[string](`location.pathname`))
	id := strings.TrimPrefix(path, "/app/call/")
	h := homeOf(t, t.Context(), nodes, id)
	if nodes[h] == advNode || nodes[h] == custNode {
		t.Fatalf("the call's home is node %d, one the browsers talk to", h)
	}

	customerJoins(t, cust, at(t, invite, custNode.base))
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="admit-`+custID+`"]`),
		chromedp.Click(`[data-testid="admit-`+custID+`"]`),
	))
	waitStats(t, cust, 10*time.Second, "customer admitted", func(s debugStats) bool { return s.State == "joined" })
	flowing(t, cust, "customer", advID)
	flowing(t, adv, "advisor", custID)
	saveScreenshot(t, adv, "cluster-advisor-call")
	saveScreenshot(t, cust, "cluster-customer-call")

	// Chat, through two nodes to the home node and back.
	within(t, cust, 10*time.Second, "customer opens the chat", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="chat-toggle"]`),
		chromedp.Click(`[data-testid="chat-toggle"]`),
		chromedp.WaitVisible(`[data-testid="chat-input"]`),
	))
	within(t, adv, 10*time.Second, "advisor opens the chat", chromedp.Steps(
		chromedp.WaitVisible(`[data-testid="chat-toggle"]`),
		chromedp.Click(`[data-testid="chat-toggle"]`),
		chromedp.WaitVisible(`[data-testid="chat-input"]`),
	))
	msg := sendText(t, cust, "customer", "Guten Tag aus dem Cluster")
	within(t, adv, 10*time.Second, "advisor reads the chat", chromedp.WaitVisible(`[data-testid="chat-message"][data-msg="`+msg+`"]`))
	within(t, adv, 10*time.Second, "advisor closes the chat", chromedp.Click(`[data-testid="chat-toggle"]`))

	// The contract: presented through node-b, signed through node-c.
	docID := presentTemplate(t, adv, "Darlehensvertrag", "customer")
	view := `[data-testid="doc-view"][data-doc="` + docID + `"]`
	within(t, cust, 15*time.Second, "customer's document view opens", chromedp.WaitVisible(view))
	waitJS(t, cust, 20*time.Second, "page 1 rendered", `document.querySelector('`+view+`').dataset.rendered === '1'`)
	for range 10 {
		if within(t, cust, 5*time.Second, "sign enabled?", chromedp.Evaluate[bool](`!document.querySelector('[data-testid="doc-sign-start"]').disabled`)) {
			break
		}
		within(t, cust, 15*time.Second, "next page", chromedp.Click(`[data-testid="doc-page-next"]`))
		time.Sleep(300 * time.Millisecond)
	}
	within(t, cust, 20*time.Second, "customer opens the pad", chromedp.Steps(
		chromedp.WaitEnabled(`[data-testid="doc-sign-start"]`),
		chromedp.Click(`[data-testid="doc-sign-start"]`),
		chromedp.WaitVisible(`[data-testid="signature-pad"]`),
	))
	left, top, w, hh := padRect(t, cust)
	within(t, cust, 20*time.Second, "customer signs by pen", penGesture(signatureStrokes(left, top, w, hh)))
	within(t, cust, 20*time.Second, "customer submits", chromedp.Click(`[data-testid="signature-submit"]`))
	within(t, cust, 30*time.Second, "customer sees it signed", chromedp.WaitVisible(`[data-testid="doc-signed"]`))
	within(t, adv, 15*time.Second, "advisor sees it signed", chromedp.WaitVisible(`#call-docs [data-testid="doc-`+docID+`"][data-state="signed"]`))
	saveScreenshot(t, cust, "cluster-customer-signed")

	// The back office on the home node (neither browser's node) finds it
	// valid: records in PostgreSQL, the PDF in S3.
	bo, err := callclient.Staff(t.Context(), nodes[h].base, backofficeName, advisorPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer bo.Close()
	var v struct {
		Verdict string `json:"verdict"`
	}
	if err := bo.Do(t.Context(), http.MethodGet, "/api/v1/contracts/"+docID+"/verification", nil, http.StatusOK, &v); err != nil {
		t.Fatal(err)
	}
	if v.Verdict != "valid" && v.Verdict != "valid_with_warnings" {
		b, _ := json.Marshal(v)
		t.Fatalf("back office on another node: %s", b)
	}
	t.Logf("contract %s signed across nodes: %s", docID, v.Verdict)
}
