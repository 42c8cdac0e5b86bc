package main

import (
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

// Relay control datagrams (anything else is media and is forwarded).
var (
	relaySub = []byte("SUB\n") // register the sender as a receiver
	relayRst = []byte("RST\n") // forget all receivers
	relayOK  = []byte("OK\n")
)

// serveRelay is the floor: the least a forwarder must do. It reads one
// datagram from its UDP socket and writes it to every registered
// receiver, nothing else (no crypto, no parsing). It also serves a bare
// WebSocket endpoint (upgrade, one message, wait for close), the floor
// for signaling joins. Runs until stdin is closed.
func serveRelay(stdout io.Writer) error {
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		conn.Close()
		return err
	}
	hs := &http.Server{Handler: http.HandlerFunc(bareWebSocket), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		conn.Close()
	}()
	info, _ := json.Marshal(serverInfo{UDP: conn.LocalAddr().String(), WS: ln.Addr().String()})
	fmt.Fprintf(stdout, "%s\n", info)

	var subs []netip.AddrPort
	buf := make([]byte, 1500)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			return nil // closed
		}
		switch string(buf[:n]) {
		case string(relaySub):
			subs = append(subs, from)
			_, _ = conn.WriteToUDPAddrPort(relayOK, from)
			continue
		case string(relayRst):
			subs = subs[:0]
			_, _ = conn.WriteToUDPAddrPort(relayOK, from)
			continue
		}
		for _, s := range subs {
			_, _ = conn.WriteToUDPAddrPort(buf[:n], s)
		}
	}
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
