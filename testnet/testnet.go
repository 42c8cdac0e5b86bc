// Package testnet guards tests that open WebRTC or browser connections: they
// must run in a network namespace that has nothing but loopback, because ICE
// gathers and probes every interface (see scripts/test.sh).
package testnet

import (
	"net"
	"os"
	"testing"
)

// EnvNetns is set to 1 by scripts/test.sh inside its loopback-only namespace.
const EnvNetns = "PARLEY_TEST_NETNS"

// RequireLoopbackOnly skips the test unless it runs inside the loopback-only
// namespace (under CI=true it fails instead), and fails if any non-loopback
// interface is up, so ICE can never probe a real network. (In a test's own
// namespace (Isolated), its Link with 198.18.0.0/15 addresses is allowed.)
func RequireLoopbackOnly(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvNetns) != "1" {
		msg := "needs the loopback-only network namespace: run `make test` (or scripts/test.sh)"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("list interfaces: %v", err)
	}
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp != 0 && ifc.Flags&net.FlagLoopback == 0 && !isolatedLink(ifc) {
			t.Fatalf("interface %s is up: WebRTC tests must run with loopback only", ifc.Name)
		}
	}
}

// isolatedLink reports whether ifc is a Link made by a test in its own
// namespace (Isolated): only addresses in 198.18.0.0/15.
func isolatedLink(ifc net.Interface) bool {
	if os.Getenv(envIsolated) == "" {
		return false
	}
	addrs, err := ifc.Addrs()
	if err != nil || len(addrs) == 0 {
		return false
	}
	_, bench, _ := net.ParseCIDR("198.18.0.0/15")
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || !bench.Contains(ipn.IP) {
			return false
		}
	}
	return true
}
