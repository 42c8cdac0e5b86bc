package e2e

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/parley-video/parley/config"
)

// TestBrowserRelayOnlyCall: with TURN forced (iceTransportPolicy "relay"),
// both browsers can only use candidates relayed by Parley's embedded TURN
// server, as behind a firewall that blocks direct media. The call works
// and the TURN server counts the allocations.
func TestBrowserRelayOnlyCall(t *testing.T) {
	srv := startServer(t, func(c *config.Config) {
		c.TURN.Enabled = true
		c.TURN.ListenIP = "127.0.0.1"
		c.TURN.PublicIP = "127.0.0.1"
		c.TURN.UDPPort = 0
		c.TURN.TCPPort = 0
		c.TURN.RelayMinPort = 0
		c.TURN.RelayMaxPort = 0
		c.TURN.RelayOnly = true
	})
	adv := newBrowser(t, "advisor", 1280, 800)
	cust := newBrowser(t, "customer", 390, 844)

	invite := loginAndCreate(t, adv, srv.base, "Nur über TURN")
	within(t, adv, 20*time.Second, "advisor opens the call", chromedp.Click(`[data-testid="open-call"]`))
	waitJS(t, adv, 20*time.Second, "advisor in the call", `!!window.parleyDebug && window.parleyDebug.info().state === 'joined'`)
	advID := waitStats(t, adv, 10*time.Second, "advisor id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	customerJoins(t, cust, invite)
	custID := waitStats(t, cust, 10*time.Second, "customer id", func(s debugStats) bool { return s.ParticipantID != "" }).ParticipantID
	within(t, adv, 20*time.Second, "advisor admits", chromedp.Click(`[data-testid="admit-`+custID+`"]`))

	flowing(t, cust, "customer (relay only)", advID)
	flowing(t, adv, "advisor (relay only)", custID)

	// Every peer connection of both browsers allocated relays (UDP and TCP);
	// without the relay policy Chromium allocated none here.
	allocs := metricValue(t, "http://"+srv.AdminAddr()+"/metrics", "parley_turn_allocations_total")
	if allocs < 4 {
		t.Fatalf("TURN allocations: %v, want at least 4 (two peer connections per browser)", allocs)
	}
	t.Logf("TURN allocations: %v", allocs)
}

// metricValue reads one un-labelled counter or gauge from a Prometheus page.
func metricValue(t *testing.T, url, name string) float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` ([0-9.e+]+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("metric %s not found", name)
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
