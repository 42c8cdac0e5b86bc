package node

import (
	"bufio"
	"net"
	"net/http"
	"net/http/cookiejar"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v4"

	"github.com/parley-video/parley/records"
	"github.com/parley-video/parley/signaling"
	"github.com/parley-video/parley/turnserver"
)

// nodeMetric reads one unlabelled metric from the node's /metrics.
func nodeMetric(t *testing.T, n *Node, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + n.AdminAddr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// turnClient allocates a relay on the node's TURN server.
func turnClient(t *testing.T, n *Node, user, pass string) (*turn.Client, error) {
	t.Helper()
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := n.TURN.UDPAddr().String()
	c, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Username: user, Password: pass,
		Conn: conn, RTO: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, nil
}

// TestNodeTURN: the node's TURN relay reaches this host only at the SFU's
// media port, and the credentials a participant gets end with the
// consultation: ending it over the API closes the relay and refuses them.
func TestNodeTURN(t *testing.T) {
	cfg := testConfig(t)
	cfg.Admin.Addr = "127.0.0.1:0"
	cfg.TURN.Enabled = true
	cfg.TURN.ListenIP, cfg.TURN.PublicIP = "127.0.0.1", "127.0.0.1"
	cfg.TURN.UDPPort, cfg.TURN.TCPPort = 0, -1
	cfg.TURN.RelayMinPort, cfg.TURN.RelayMaxPort = 0, 0
	cfg.TURN.AllowedPeers = []string{"127.0.0.0/8"} // loopback-only test machine
	n := startNode(t, cfg)
	ctx := t.Context()

	adv, err := n.Records.CreateUser(ctx, "anna", "Anna Advisor", records.RoleAdvisor, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	con, _, err := n.Records.CreateConsultation(ctx, adv.ID, "Baufinanzierung", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	n.Hub.Open(signaling.ConsultationInfo{ID: signaling.ConsultationID(con.ID), ExpiresAt: time.Now().Add(time.Hour)})
	ice := n.TURN.ICEServers(turnserver.Grant{Session: con.ID, Participant: "p_1", NotAfter: time.Now().Add(time.Hour)}, time.Now())
	user, pass := ice[0].Username, ice[0].Credential.(string)

	client, _ := turnClient(t, n, user, pass)
	relay, err := client.Allocate()
	if err != nil {
		t.Fatalf("Allocate in an open consultation: %v", err)
	}
	defer relay.Close()

	sfu, err := net.ResolveUDPAddr("udp4", n.Media.UDPAddr())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := relay.WriteTo([]byte("to the SFU"), sfu); err != nil {
		t.Fatalf("relaying to the SFU's port: %v", err)
	}
	if _, err := relay.WriteTo([]byte("to the TURN port"), n.TURN.UDPAddr()); err != nil {
		t.Logf("refused at once: %v", err)
	}
	waitFor(t, "the datagram to the TURN port refused", func() bool {
		return nodeMetric(t, n, "parley_turn_peer_denied_total") >= 1
	})
	if got := nodeMetric(t, n, "parley_turn_peer_denied_total"); got != 1 {
		t.Errorf("parley_turn_peer_denied_total = %v, want 1 (only the TURN port refused, the SFU port relayed)", got)
	}

	// The advisor ends the consultation.
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + n.HTTPAddr()
	if code, b := request(t, hc, "POST", base+"/api/v1/login", map[string]string{"username": "anna", "password": "correct horse battery"}); code != http.StatusOK {
		t.Fatalf("login: %d %s", code, b)
	}
	u, _ := neturl.Parse(base)
	csrf := ""
	for _, ck := range jar.Cookies(u) {
		if ck.Name == "parley_csrf" {
			csrf = ck.Value
		}
	}
	if code, b := request(t, hc, "POST", base+"/api/v1/consultations/"+con.ID+"/end", nil, "X-CSRF-Token", csrf); code >= 300 {
		t.Fatalf("end: %d %s", code, b)
	}
	if got := nodeMetric(t, n, "parley_turn_relays_revoked_total"); got != 1 {
		t.Errorf("parley_turn_relays_revoked_total = %v right after the end, want 1", got)
	}
	waitFor(t, "the relay closed", func() bool { return nodeMetric(t, n, "parley_turn_allocations") == 0 })
	again, _ := turnClient(t, n, user, pass)
	if r, err := again.Allocate(); err == nil {
		r.Close()
		t.Error("credentials of the ended consultation still allocate")
	}
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
