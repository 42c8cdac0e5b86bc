// Package sfu is Parley's media plane: a selective forwarding unit on
// pion/webrtc v4. It knows peers, rooms and tracks, never people or
// consultations, and it forwards RTP as it arrives (end-to-end encrypted
// payloads stay ciphertext).
//
// Each peer has two peer connections: publish (the client offers and sends
// its tracks) and subscribe (the SFU offers the other peers' tracks). Every
// published track is fanned out to every other peer of the same room as a
// local track whose stream ID is "<publisherPeerID>~<publisherTrackID>", so
// a subscriber can tell whose track it receives and which of the
// publisher's tracks it is (the publisher announces each track's source,
// e.g. camera or screen, through signaling).
//
// All ICE traffic shares one UDP port (and one TCP port as fallback).
//
// Each subscriber has its own down-tracks, bounded queues and writer
// goroutine (downtrack.go): a subscriber that cannot keep up loses video
// up to the next keyframe, never delays the others, and never makes the
// SFU hold more than its queues. ICE-TCP writes have a deadline
// (icetcp.go).
//
// Forwarding rewrites only what a forwarder must: SSRC and payload type per
// subscriber, sequence numbers where packets were dropped for that
// subscriber (so it does not ask for them again), and RTP header
// extensions are dropped (their ids are negotiated per connection, so a
// publisher's ids mean nothing to a subscriber), except that video is
// stamped with abs-send-time as it leaves. Payloads are forwarded byte for
// byte. Simulcast and RTX are not negotiated.
//
// Congestion: each subscriber's browser reports what it can receive
// (REMB); each publisher is told, by REMB, the smallest of its
// subscribers' budgets, leaving out one far below the others, whose video
// is paused (congestion.go; RTCP handling in CONGESTION.md).
package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors callers can test for with errors.Is.
var (
	ErrClosed         = errors.New("sfu: closed")
	ErrPeerExists     = errors.New("sfu: peer id already in room")
	ErrBadDescription = errors.New("sfu: session description not acceptable")
	// ErrBadCandidate is returned for an ICE candidate that cannot be parsed
	// or names an unknown Direction.
	ErrBadCandidate = errors.New("sfu: ICE candidate not acceptable")
)

// DefaultPLIInterval is used when Config.PLIInterval is zero.
const DefaultPLIInterval = 500 * time.Millisecond

// Direction names one of a peer's two connections.
type Direction string

const (
	Publish   Direction = "publish"   // client → SFU, the client offers
	Subscribe Direction = "subscribe" // SFU → client, the SFU offers
)

// Config configures the media plane.
type Config struct {
	UDPPort         int           // single UDP port for all ICE; 0 picks a free port
	TCPPort         int           // ICE-TCP fallback; 0 picks a free port, -1 disables
	ListenIP        string        // bind address; empty: all
	PublicIP        string        // announced instead of host addresses (NAT 1:1)
	IncludeLoopback bool          // offer loopback candidates (tests)
	PLIInterval     time.Duration // min time between PLIs forwarded to one publisher track
	// MaxBitrate caps the video budget sent to each publisher (bit/s, all
	// its video tracks together); 0: no cap (congestion.go).
	MaxBitrate uint64
}

// Events is how a peer reports to its owner. Implementations must not block
// (queue and return); they are called from pion goroutines. They must not
// call Peer.Close synchronously either (Close waits for those goroutines).
//
// Ordering: a subscribe candidate is never reported before the first
// subscribe offer. A publish candidate may be reported before Publish
// returns its answer (the answer already contains every candidate gathered
// by then), so clients should queue remote candidates that arrive before
// the remote description and add them once it is set.
type Events interface {
	// OnSubscribeOffer carries an SFU offer for the subscribe connection,
	// sent whenever tracks are added or removed. The owner relays it to the
	// client and hands the answer to Peer.SubscribeAnswer. The SFU makes at
	// most one offer at a time and coalesces changes until it is answered.
	OnSubscribeOffer(offer webrtc.SessionDescription)
	// OnICECandidate carries a local candidate of either connection
	// (trickle ICE). A nil candidate is never passed.
	OnICECandidate(dir Direction, c webrtc.ICECandidateInit)
	// OnConnectionState reports either connection's state changes.
	OnConnectionState(dir Direction, s webrtc.PeerConnectionState)
}

// SFU is the media plane of one node.
type SFU struct {
	cfg     Config
	log     *slog.Logger
	apiCfg  *apiConfig  // publish connections get an API each (Peer)
	api     *webrtc.API // subscribe connections
	scratch *webrtc.API // same settings, quiet logging: for checkOffer
	metrics *metrics
	packets *packetPool // shared by every forwarded track
	trim    *trimmer    // returns memory after a peak (trim.go)
	arrive  *arrivals   // when published packets came in (arrival.go)

	udpConn *net.UDPConn
	udpMux  *udpMux
	tcpLn   *net.TCPListener // nil when ICE-TCP is off
	tcpMux  ice.TCPMux

	mu     sync.Mutex
	rooms  map[string]*Room
	closed bool
}

// New opens the shared ICE sockets and registers metrics on reg (which may
// be nil): parley_sfu_peers, parley_sfu_tracks, parley_sfu_forwarded_packets_total,
// parley_sfu_forwarded_bytes_total, parley_sfu_pli_total,
// parley_sfu_nack_total, parley_sfu_nacked_packets_total,
// parley_sfu_retransmitted_packets_total, parley_sfu_errors_total,
// parley_sfu_dropped_packets_total, parley_sfu_udp_queue_dropped_total.
func New(cfg Config, log *slog.Logger, reg prometheus.Registerer) (*SFU, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.PLIInterval == 0 {
		cfg.PLIInterval = DefaultPLIInterval
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	s := &SFU{cfg: cfg, log: log, metrics: m, packets: newPacketPool(), trim: newTrimmer(), arrive: &arrivals{}, rooms: make(map[string]*Room)}
	lf := newPionLoggerFactory(log)
	if err := s.listen(lf); err != nil {
		m.unregister()
		return nil, err
	}
	ac, err := newAPI(cfg, lf, s.udpMux, s.tcpMux)
	if err != nil {
		s.closeSockets()
		m.unregister()
		return nil, err
	}
	s.apiCfg, s.api = ac, ac.build(newStreamBuffer)
	quiet, err := newAPI(cfg, lf.demote(), s.udpMux, s.tcpMux)
	if err != nil {
		s.closeSockets()
		m.unregister()
		return nil, err
	}
	s.scratch = quiet.build(newStreamBuffer)
	log.Info("sfu listening", "udp", s.UDPAddr(), "tcp", s.TCPAddr(), "public_ip", cfg.PublicIP)
	return s, nil
}

func (c Config) validate() error {
	if c.UDPPort < 0 || c.UDPPort > 65535 {
		return fmt.Errorf("sfu: udp port %d out of range", c.UDPPort)
	}
	if c.TCPPort < -1 || c.TCPPort > 65535 {
		return fmt.Errorf("sfu: tcp port %d out of range", c.TCPPort)
	}
	if c.ListenIP != "" && net.ParseIP(c.ListenIP) == nil {
		return fmt.Errorf("sfu: listen ip %q is not an IP address", c.ListenIP)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return fmt.Errorf("sfu: public ip %q is not an IP address", c.PublicIP)
	}
	if c.MaxBitrate != 0 && c.MaxBitrate < minPublishBitrate {
		return fmt.Errorf("sfu: max bitrate %d bit/s below the minimum %d", c.MaxBitrate, minPublishBitrate)
	}
	if c.PLIInterval < 0 {
		return fmt.Errorf("sfu: negative PLI interval %s", c.PLIInterval)
	}
	return nil
}

// udpSocketBuffer is the receive and send buffer size asked for the
// shared ICE UDP socket.
const udpSocketBuffer = 4 << 20

// listen opens the shared UDP socket and, unless disabled, the TCP listener.
func (s *SFU) listen(lf *pionLoggerFactory) error {
	ip := net.ParseIP(s.cfg.ListenIP) // nil (all addresses) when empty
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: s.cfg.UDPPort})
	if err != nil {
		return fmt.Errorf("sfu: listen udp %s:%d: %w", s.cfg.ListenIP, s.cfg.UDPPort, err)
	}
	// One socket carries every participant's media, so bursts (a keyframe
	// from each of many publishers) meet in its buffers; the kernel default
	// (~208 KiB, about 170 video packets) overflowed under load in
	// docs/BENCHMARKS.md. The kernel caps the sizes at net.core.rmem_max /
	// wmem_max; failing to raise them is not fatal.
	if err := udp.SetReadBuffer(udpSocketBuffer); err != nil {
		s.log.Warn("sfu: set UDP receive buffer", "err", err)
	}
	if err := udp.SetWriteBuffer(udpSocketBuffer); err != nil {
		s.log.Warn("sfu: set UDP send buffer", "err", err)
	}
	s.udpConn = udp
	// Parley's mux (udpmux.go) bounds each connection's receive queue.
	s.udpMux = newUDPMux(udp, s.log, s.cfg.IncludeLoopback, 0)
	s.udpMux.arrivals.Store(s.arrive)
	dropped := s.udpMux.Dropped
	s.metrics.udpDropped.Store(&dropped)
	if s.cfg.TCPPort < 0 {
		return nil
	}
	tcp, err := net.ListenTCP("tcp", &net.TCPAddr{IP: ip, Port: s.cfg.TCPPort})
	if err != nil {
		s.closeSockets()
		return fmt.Errorf("sfu: listen tcp %s:%d: %w", s.cfg.ListenIP, s.cfg.TCPPort, err)
	}
	s.tcpLn = tcp
	s.tcpMux = newICETCPMux(lf.NewLogger("ice-tcp-mux"), tcp, 8)
	return nil
}

func (s *SFU) closeSockets() {
	if s.udpMux != nil {
		_ = s.udpMux.Close() // closes udpConn too
	} else if s.udpConn != nil {
		_ = s.udpConn.Close()
	}
	if s.tcpMux != nil {
		_ = s.tcpMux.Close() // closes tcpLn too
	} else if s.tcpLn != nil {
		_ = s.tcpLn.Close()
	}
}

// UDPAddr is the bound ICE UDP address (useful when UDPPort was 0).
func (s *SFU) UDPAddr() string {
	if s == nil || s.udpConn == nil {
		return ""
	}
	return s.udpConn.LocalAddr().String()
}

// TCPAddr is the bound ICE-TCP address, or "" when ICE-TCP is disabled.
func (s *SFU) TCPAddr() string {
	if s == nil || s.tcpLn == nil {
		return ""
	}
	return s.tcpLn.Addr().String()
}

// Room returns the room with this id, creating it if needed. After Close it
// returns a closed room whose Join fails with ErrClosed.
func (s *SFU) Room(id string) *Room {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return &Room{id: id, sfu: s, log: s.log.With("room", id), closed: true}
	}
	r, ok := s.rooms[id]
	if !ok {
		r = newRoom(s, id)
		s.rooms[id] = r
	}
	return r
}

// CloseRoom closes every peer of the room and forgets it.
func (s *SFU) CloseRoom(id string) {
	s.mu.Lock()
	r := s.rooms[id]
	delete(s.rooms, id)
	s.mu.Unlock()
	if r != nil {
		r.close()
	}
}

// Close closes all rooms and the shared sockets. Idempotent.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rooms := s.rooms
	s.rooms = nil
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, r := range rooms {
		wg.Go(r.close)
	}
	wg.Wait()
	s.trim.close()
	s.closeSockets()
	s.metrics.unregister()
	s.log.Info("sfu closed")
	return nil
}
