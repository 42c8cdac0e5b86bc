package sfu

import (
	"errors"
	"net"
	"os"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
)

// tcpWriteTimeout bounds one write on an ICE-TCP connection. A client that
// has not taken a single packet for that long (its socket not read, its
// path dead) loses the connection: its ICE agent notices and the client
// restarts ICE or reconnects. Until then only that subscriber's own writer
// goroutine waits (downtrack.go); everyone else keeps being served.
const tcpWriteTimeout = 5 * time.Second

// tcpSendBuffer is the socket send buffer asked for each ICE-TCP
// connection (Linux doubles it and stops auto-tuning it, which would let
// it grow to megabytes). Media that sits in a socket buffer is late media:
// 256 KiB is about 0.8 s of a 2.5 Mbit/s call. Beyond that, the
// subscriber's own queue fills and drops whole frames (downtrack.go).
const tcpSendBuffer = 128 << 10

// newICETCPMux is pion's TCP mux (webrtc.NewICETCPMux) with two changes:
// writes go straight to the socket instead of into pion's 4 MiB buffer per
// connection (which never pushes back: it silently drops whatever does not
// fit, mid-frame, so the subscriber's queue never learns that it is
// congested, and it holds up to 4 MiB per slow client), and every write has
// a deadline (tcpWriteTimeout).
func newICETCPMux(logger logging.LeveledLogger, ln *net.TCPListener, readBufferSize int) ice.TCPMux {
	return ice.NewTCPMuxDefault(ice.TCPMuxParams{
		Listener:        deadlineListener{TCPListener: ln, timeout: tcpWriteTimeout},
		Logger:          logger,
		ReadBufferSize:  readBufferSize,
		WriteBufferSize: 0, // no buffer: back-pressure reaches the down-track queues
	})
}

// deadlineListener hands out connections whose writes time out.
type deadlineListener struct {
	*net.TCPListener
	timeout time.Duration
}

// Accept implements net.Listener.
func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.AcceptTCP()
	if err != nil {
		return nil, err
	}
	_ = c.SetWriteBuffer(tcpSendBuffer) // not fatal: the deadline still bounds a write
	return &deadlineConn{Conn: c, timeout: l.timeout}, nil
}

// deadlineConn sets a write deadline before every write. A write that
// times out may have sent part of a framed packet (RFC 4571), which leaves
// the stream unusable: the connection is closed then.
type deadlineConn struct {
	net.Conn
	timeout time.Duration
}

// Write implements net.Conn.
func (c *deadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetWriteDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	n, err := c.Conn.Write(b)
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		_ = c.Conn.Close()
	}
	return n, err
}
