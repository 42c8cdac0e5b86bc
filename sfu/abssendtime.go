package sfu

import "time"

// abs-send-time: every forwarded video packet is stamped with the
// abs-send-time header extension (when the subscriber negotiated it) at the
// moment the SFU sends it (downTrack.header). A subscriber's browser then
// estimates its downlink from the SFU's send times (congestion.go) instead
// of from the RTP timestamps, which carry the publisher's capture, encoding
// and uplink jitter and made Chrome's estimate collapse on a loaded machine
// (e2e/browser_congestion_test.go).

// absSendTimeValue is t as abs-send-time: seconds in 6.18 fixed point,
// the low 24 bits (it wraps every 64 s; receivers use differences).
func absSendTimeValue(t time.Time) uint32 {
	ns := uint64(t.UnixNano())
	secs, frac := ns/1e9, ns%1e9
	return uint32((secs<<18 | frac<<18/1e9) & 0xFFFFFF)
}
