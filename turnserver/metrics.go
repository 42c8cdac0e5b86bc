package turnserver

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one Server's Prometheus collectors, created per New (no
// package globals), so tests can run many servers on their own registries.
type metrics struct {
	reg prometheus.Registerer // nil: not registered

	allocations  prometheus.Counter
	active       prometheus.Gauge
	authFailures prometheus.Counter
	peerDenied   prometheus.Counter
	revoked      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_turn_allocations_total",
			Help: "TURN relay allocations created by the embedded TURN server.",
		}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_turn_allocations",
			Help: "TURN relay allocations currently open.",
		}),
		authFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_turn_auth_failures_total",
			Help: "TURN requests refused for malformed or expired usernames or wrong passwords.",
		}),
		peerDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_turn_peer_denied_total",
			Help: "TURN permissions and relayed datagrams refused because the peer address is the server's own, loopback, private or reserved.",
		}),
		revoked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_turn_relays_revoked_total",
			Help: "TURN relay allocations closed because their credentials expired or their consultation ended.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("turnserver: register metrics: %w", err)
		}
	}
	m.reg = reg
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.allocations, m.active, m.authFailures, m.peerDenied, m.revoked}
}

// unregister removes the collectors again, so a registry can outlive a Server.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors() {
		m.reg.Unregister(c)
	}
	m.reg = nil
}
