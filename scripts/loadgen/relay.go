package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/coder/websocket"
)

// Relay control datagrams (anything else is media and is forwarded). RTP
// starts with 0x80, so media never looks like one.
var (
	relayJoin = []byte("JOIN ") // + group name + "\n": the sender becomes a member of the group
	relayRst  = []byte("RST\n") // forget all groups
	relayOK   = []byte("OK\n")
)

// relay is the floor: the least a forwarder must do. It reads one
// datagram, looks up the group of its sender and writes it to every
// other member, nothing else (no crypto, no parsing). One goroutine.
type relay struct {
	conn   *net.UDPConn
	member map[netip.AddrPort]*relayGroup
	groups map[string]*relayGroup

	// mangle, if set, turns the n-th media datagram into what is
	// forwarded instead (tests use it to play a broken forwarder).
	mangle func(n uint64, b []byte) [][]byte
}

type relayGroup struct{ members []netip.AddrPort }

func newRelay() (*relay, error) {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	_ = conn.SetReadBuffer(4 << 20)
	_ = conn.SetWriteBuffer(4 << 20)
	return &relay{conn: conn, member: make(map[netip.AddrPort]*relayGroup), groups: make(map[string]*relayGroup)}, nil
}

func (r *relay) addr() string { return r.conn.LocalAddr().String() }

// serve forwards until the socket is closed.
func (r *relay) serve() {
	buf := make([]byte, 1500)
	var count uint64
	for {
		n, from, err := r.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return // closed
		}
		b := buf[:n]
		if len(b) > 0 && b[0] != 0x80 && r.control(b, from) {
			continue
		}
		g := r.member[from]
		if g == nil {
			continue
		}
		if r.mangle != nil {
			count++
			for _, d := range r.mangle(count, b) {
				r.fanout(g, from, d)
			}
			continue
		}
		r.fanout(g, from, b)
	}
}

func (r *relay) fanout(g *relayGroup, from netip.AddrPort, b []byte) {
	for _, m := range g.members {
		if m != from {
			_, _ = r.conn.WriteToUDPAddrPort(b, m)
		}
	}
}

func (r *relay) control(b []byte, from netip.AddrPort) bool {
	switch {
	case bytes.Equal(b, relayRst):
		clear(r.member)
		clear(r.groups)
	case bytes.HasPrefix(b, relayJoin) && bytes.HasSuffix(b, []byte("\n")):
		name := string(b[len(relayJoin) : len(b)-1])
		g := r.groups[name]
		if g == nil {
			g = &relayGroup{}
			r.groups[name] = g
		}
		if r.member[from] != g {
			g.members = append(g.members, from)
			r.member[from] = g
		}
	default:
		return false
	}
	_, _ = r.conn.WriteToUDPAddrPort(relayOK, from)
	return true
}

// serveRelay runs the relay as a child process, plus a bare WebSocket
// endpoint (upgrade, one message, wait for close), the floor for
// signaling joins. Runs until stdin is closed.
func serveRelay(stdout io.Writer) error {
	r, err := newRelay()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		r.conn.Close()
		return err
	}
	hs := &http.Server{Handler: http.HandlerFunc(bareWebSocket), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		r.conn.Close()
	}()
	info, _ := json.Marshal(serverInfo{UDP: r.addr(), WS: ln.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", info)
	r.serve()
	return nil
}

// bareWebSocket accepts the parley.v1 subprotocol, sends one message and
// waits for the client to close.
func bareWebSocket(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: []string{"parley.v1"}, InsecureSkipVerify: true,
	})
	if err != nil {
		return
	}
	defer c.CloseNow()
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"welcome","protocol":1}`)); err != nil {
		return
	}
	_, _, _ = c.Read(ctx) // returns when the client closes
}
