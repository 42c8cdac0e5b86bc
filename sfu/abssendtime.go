package sfu

import (
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// absSendTime stamps every forwarded video packet with the abs-send-time
// header extension (when the subscriber negotiated it) at the moment the
// SFU sends it. A subscriber's browser then estimates its downlink from
// the SFU's send times (congestion.go) instead of from the RTP timestamps,
// which carry the publisher's capture, encoding and uplink jitter and made
// Chrome's estimate collapse on a loaded machine
// (e2e/browser_congestion_test.go).
type absSendTime struct {
	interceptor.NoOp
}

type absSendTimeFactory struct{}

func (absSendTimeFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &absSendTime{}, nil
}

// BindLocalStream implements interceptor.Interceptor.
func (*absSendTime) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	id := 0
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.ABSSendTimeURI {
			id = e.ID
		}
	}
	if id == 0 {
		return writer
	}
	// One stream is written by one forwarding goroutine at a time, and
	// the header is marshalled before WriteRTP returns: buf is reused.
	var buf [3]byte
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		v := absSendTimeValue(time.Now())
		buf[0], buf[1], buf[2] = byte(v>>16), byte(v>>8), byte(v)
		if err := h.SetExtension(uint8(id), buf[:]); err != nil {
			return 0, err
		}
		return writer.Write(h, payload, a)
	})
}

// absSendTimeValue is t as abs-send-time: seconds in 6.18 fixed point,
// the low 24 bits (it wraps every 64 s; receivers use differences).
func absSendTimeValue(t time.Time) uint32 {
	ns := uint64(t.UnixNano())
	secs, frac := ns/1e9, ns%1e9
	return uint32((secs<<18 | frac<<18/1e9) & 0xFFFFFF)
}
