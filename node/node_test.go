package node

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parley-video/parley/redistest"

	"github.com/parley-video/parley/config"
	"github.com/parley-video/parley/signaling"
)

func testConfig(t *testing.T) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Admin.Addr = "off"
	cfg.Log.Level = "warn"
	cfg.RTC.UDPPort = 0
	cfg.RTC.TCPPort = -1
	cfg.RTC.ListenIP = "127.0.0.1"
	return cfg
}

// startNode runs a node until the test ends.
func startNode(t *testing.T, cfg config.Config) *Node {
	t.Helper()
	n, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("start node: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("node shutdown: %v", err)
		}
	})
	return n
}

// readyz returns the status and the checks of GET /readyz.
func readyz(t *testing.T, n *Node) (int, map[string]string) {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := hc.Get("http://" + n.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Checks map[string]string `json:"checks"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body.Checks
}

func TestReadyzMemorySessions(t *testing.T) {
	n := startNode(t, testConfig(t))
	if _, ok := n.Store.(*signaling.MemoryStore); !ok {
		t.Fatalf("store %T, want memory", n.Store)
	}
	if status, checks := readyz(t, n); status != http.StatusOK || checks["sessions"] != "ok" || checks["records"] != "ok" {
		t.Fatalf("readyz %d %v", status, checks)
	}
}

func TestRedisUnreachableAtStart(t *testing.T) {
	cfg := testConfig(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = fmt.Sprintf("redis://:hunter2@127.0.0.1:%d/0", freePort(t))
	_, err := New(t.Context(), cfg, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), "session.redis_url") || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("start without redis: %v", err)
	}
}

func TestRedisSessions(t *testing.T) {
	url := redistest.URL(t)
	cfg := testConfig(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = url
	cfg.Session.KeyPrefix = "parley-node-test:" + rand.Text()[:12] + ":"
	t.Cleanup(func() { redistest.DeletePrefix(t, url, cfg.Session.KeyPrefix) })
	n := startNode(t, cfg)
	if _, ok := n.Store.(*signaling.RedisStore); !ok {
		t.Fatalf("store %T, want redis", n.Store)
	}
	ctx := t.Context()
	n.Hub.Open(signaling.ConsultationInfo{ID: "c_node"})
	pid, _, err := n.Hub.AddCustomer(ctx, "c_node", "")
	if err != nil {
		t.Fatal(err)
	}
	ws, err := n.Hub.Waiting(ctx, "c_node")
	if err != nil || len(ws) == 0 {
		// The queue is written asynchronously; give it a moment.
		deadline := time.Now().Add(5 * time.Second)
		for (err != nil || len(ws) == 0) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
			ws, err = n.Hub.Waiting(ctx, "c_node")
		}
	}
	if err != nil || len(ws) != 1 || ws[0].Participant != pid {
		t.Fatalf("waiting queue %+v %v", ws, err)
	}
	n.Hub.End(ctx, "c_node") // deletes the consultation's keys
	if ws, err := n.Hub.Waiting(ctx, "c_node"); err != nil || len(ws) != 0 {
		t.Fatalf("after end: %+v %v", ws, err)
	}
	if status, checks := readyz(t, n); status != http.StatusOK || checks["sessions"] != "ok" {
		t.Fatalf("readyz %d %v", status, checks)
	}
}

// /readyz reports the session store: failed while Redis is down, ok
// again when it is back, without restarting the node.
func TestReadyzFollowsRedis(t *testing.T) {
	const bin = "/usr/bin/redis-server"
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	port, dir := freePort(t), t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitPort(t, port)
	}
	stop := func() {
		if cmd != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			cmd = nil
		}
	}
	start()
	t.Cleanup(stop)

	cfg := testConfig(t)
	cfg.Session.Store = "redis"
	cfg.Session.RedisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	n := startNode(t, cfg)
	if status, checks := readyz(t, n); status != http.StatusOK || checks["sessions"] != "ok" {
		t.Fatalf("readyz %d %v", status, checks)
	}
	stop()
	if status, checks := readyz(t, n); status != http.StatusServiceUnavailable || checks["sessions"] != "failed" || checks["records"] != "ok" {
		t.Fatalf("readyz without redis: %d %v", status, checks)
	}
	n.Hub.Open(signaling.ConsultationInfo{ID: "c_x"})
	if _, _, err := n.Hub.AddCustomer(t.Context(), "c_x", ""); !errors.Is(err, signaling.ErrUnavailable) {
		t.Fatalf("AddCustomer without redis: %v", err)
	}
	start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, checks := readyz(t, n)
		if status == http.StatusOK && checks["sessions"] == "ok" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz after redis returned: %d %v", status, checks)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, _, err := n.Hub.AddCustomer(t.Context(), "c_x", ""); err != nil {
		t.Fatalf("AddCustomer after redis returned: %v", err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func waitPort(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 100*time.Millisecond)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
