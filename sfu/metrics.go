package sfu

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are one SFU's Prometheus collectors. They are created per New (no
// package globals), so tests can run many SFUs, each on its own registry.
type metrics struct {
	reg prometheus.Registerer // nil: not registered

	peers   prometheus.Gauge
	tracks  prometheus.Gauge
	packets prometheus.Counter
	bytes   prometheus.Counter
	pli     prometheus.Counter
	nack    prometheus.Counter
	// nackSent counts sequence numbers asked of publishers; rtx counts
	// packets resent to subscribers that NACKed them.
	nackSent prometheus.Counter
	rtx      prometheus.Counter
	errors   prometheus.Counter
	dropped  prometheus.Counter
	stale    prometheus.Counter
	// udpDropped reads the UDP mux's drop count (set once it exists).
	udpDropped     atomic.Pointer[func() uint64]
	udpDroppedFunc prometheus.CounterFunc
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		peers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_sfu_peers",
			Help: "Peers currently joined to a room.",
		}),
		tracks: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_sfu_tracks",
			Help: "Published tracks currently forwarded.",
		}),
		packets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_forwarded_packets_total",
			Help: "RTP packets written to subscribers (one per packet and subscriber).",
		}),
		bytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_forwarded_bytes_total",
			Help: "RTP bytes written to subscribers (one packet size per packet and subscriber).",
		}),
		pli: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_pli_total",
			Help: "Picture loss indications sent to publishers.",
		}),
		nack: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_nack_total",
			Help: "NACK feedback messages received from subscribers.",
		}),
		nackSent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_nacked_packets_total",
			Help: "Video packets the SFU asked publishers to resend (NACK, one per packet and try).",
		}),
		rtx: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_retransmitted_packets_total",
			Help: "Video packets resent to subscribers that NACKed them.",
		}),
		stale: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_stale_packets_total",
			Help: "Received packets not forwarded because they had waited in the node longer than 300 ms (past its capacity).",
		}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_errors_total",
			Help: "Media plane errors (failed writes, negotiations, candidates).",
		}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "parley_sfu_dropped_packets_total",
			Help: "RTP packets not forwarded to a subscriber because its queue was full, or video waiting for a keyframe after that or after a pause (one per packet and subscriber).",
		}),
	}
	m.udpDroppedFunc = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "parley_sfu_udp_queue_dropped_total",
		Help: "Received datagrams dropped because a connection's receive queue in the UDP mux was full (the node is past its capacity).",
	}, func() float64 {
		if f := m.udpDropped.Load(); f != nil {
			return float64((*f)())
		}
		return 0
	})
	if reg == nil {
		return m, nil
	}
	for i, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors()[:i] {
				reg.Unregister(done)
			}
			return nil, fmt.Errorf("sfu: register metrics: %w", err)
		}
	}
	m.reg = reg
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.peers, m.tracks, m.packets, m.bytes, m.pli, m.nack, m.nackSent, m.rtx, m.errors, m.dropped, m.stale, m.udpDroppedFunc}
}

// unregister removes the collectors again, so a registry can outlive an SFU.
func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors() {
		m.reg.Unregister(c)
	}
	m.reg = nil
}
