package signaling

import "github.com/prometheus/client_golang/prometheus"

// metrics are the hub's Prometheus metrics. Label values are bounded: the
// known message types (plus "invalid") and error codes.
type metrics struct {
	consultations prometheus.Gauge
	participants  *prometheus.GaugeVec
	messages      *prometheus.CounterVec
	errors        *prometheus.CounterVec
}

// Error label values besides the protocol's error codes.
const (
	metricQueueFull   = "queue_full"
	metricPingTimeout = "ping_timeout"
	metricFlood       = "flood"
	metricInvalidType = "invalid"
)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		consultations: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "parley_consultations_active",
			Help: "Consultations open on this node.",
		}),
		participants: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "parley_participants",
			Help: "Participants of open consultations by state.",
		}, []string{"state"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signaling_messages_total",
			Help: "Client signaling messages received, by type (invalid: not decodable).",
		}, []string{"type"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "parley_signaling_errors_total",
			Help: "Signaling errors sent to clients or forced disconnects, by code.",
		}, []string{"code"}),
	}
	// Make the series visible from the start.
	m.participants.WithLabelValues(string(StateJoined))
	m.participants.WithLabelValues(string(StateWaiting))
	m.participants.WithLabelValues(string(StateReconnecting))
	if reg != nil {
		reg.MustRegister(m.consultations, m.participants, m.messages, m.errors)
	}
	return m
}

func (m *metrics) message(typ string) {
	switch typ {
	case TypeOffer, TypeAnswer, TypeCandidate, TypeMedia, TypeAdmit, TypeReject, TypeLeave, TypePing,
		TypeChat, TypeReceipt, TypeDelete:
	default:
		typ = metricInvalidType
	}
	m.messages.WithLabelValues(typ).Inc()
}

func (m *metrics) error(code string) { m.errors.WithLabelValues(code).Inc() }

// addParticipants moves the participant gauges by the given deltas.
func (m *metrics) addParticipants(joined, waiting, reconnecting int) {
	for s, d := range map[State]int{StateJoined: joined, StateWaiting: waiting, StateReconnecting: reconnecting} {
		if d != 0 {
			m.participants.WithLabelValues(string(s)).Add(float64(d))
		}
	}
}
