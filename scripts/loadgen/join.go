package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/parley-video/parley/callclient"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// joinRows measures join and rejoin times against their floor.
func (b *bench) joinRows(ctx context.Context, joins int) error {
	join, rejoin, err := b.joinTimes(ctx, joins)
	if err != nil {
		return fmt.Errorf("join times: %w", err)
	}
	var floorJoin []float64
	for range joins {
		d, err := floorFirstPacket(ctx)
		if err != nil {
			return fmt.Errorf("floor join: %w", err)
		}
		floorJoin = append(floorJoin, d.Seconds()*1000)
	}
	note := fmt.Sprintf("%d joins of a colleague into a running call; floor: a bare pion pair in one process, SDP handed over directly", len(join))
	b.add("join", "WebSocket open → first media packet p50", "ms", percentile(join, 0.5), percentile(floorJoin, 0.5), note)
	b.add("join", "WebSocket open → first media packet p99", "ms", percentile(join, 0.99), percentile(floorJoin, 0.99), "")
	b.add("join", "reconnect after a drop → first media p50", "ms", percentile(rejoin, 0.5), percentile(floorJoin, 0.5),
		fmt.Sprintf("%d reconnects within the grace period (socket closed without leave)", len(rejoin)))
	b.add("join", "reconnect after a drop → first media p99", "ms", percentile(rejoin, 0.99), percentile(floorJoin, 0.99), "")
	return nil
}

// signalingRows measures signaling joins per second against the bare
// WebSocket floor, alternating, b.capReps times.
func (b *bench) signalingRows(ctx context.Context) error {
	var rates, cpuPer, frates, fcpu []float64
	for range b.capReps {
		r, c, err := b.joinRate(ctx, 4, 2*time.Second)
		if err != nil {
			return fmt.Errorf("join rate: %w", err)
		}
		rates, cpuPer = append(rates, r), append(cpuPer, c)
		r, c, err = b.floorJoinRate(ctx, 4, 2*time.Second)
		if err != nil {
			return fmt.Errorf("floor join rate: %w", err)
		}
		frates, fcpu = append(frates, r), append(fcpu, c)
	}
	b.add("signaling", "joins per second (4 clients in parallel)", "joins/s", median(rates), median(frates),
		"open, welcome (joined, media peers made), leave; floor: bare WebSocket upgrade + 1 message")
	b.add("signaling", "server CPU per join", "ms", median(cpuPer), median(fcpu), "")
	return nil
}

// joinTimes measures, count times each, the time from opening the
// WebSocket to the first forwarded media packet for a colleague joining
// a running call (after leaving for good) and rejoining (after dropping
// the connection without leave, i.e. a reconnect within the grace period).
func (b *bench) joinTimes(ctx context.Context, count int) (join, rejoin []float64, err error) {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cl, err := b.p.openCall(sctx, advisorUser(0))
	if err != nil {
		return nil, nil, err
	}
	defer cl.end(ctx)
	pub := cl.members[0]
	if err := cl.publish(sctx, pub); err != nil {
		return nil, nil, err
	}
	link, err := cl.adv.ColleagueLink(sctx, cl.id)
	if err != nil {
		return nil, nil, err
	}
	col, err := b.p.login(sctx, colleagueUser)
	if err != nil {
		return nil, nil, err
	}
	if _, err := col.AcceptColleague(sctx, link); err != nil {
		return nil, nil, err
	}
	stop := startSources(pub.srcs)
	defer stop()
	streams := map[string]bool{string(pub.c.Self()) + "~mic": true, string(pub.c.Self()) + "~cam": true}
	once := func() (time.Duration, *callclient.Client, error) {
		first := make(chan time.Time, 1)
		t0 := time.Now()
		c, err := callclient.Dial(sctx, col, cl.id, callclient.Options{
			Name: "colleague", DiscardPayloads: true,
			OnPacket: func(s string, p *rtp.Packet) {
				if streams[s] {
					if _, _, _, ok := checkPayload(p.Payload); ok {
						select {
						case first <- time.Now():
						default:
						}
					}
				}
			},
		})
		if err != nil {
			return 0, nil, err
		}
		select {
		case t := <-first:
			return t.Sub(t0), c, nil
		case <-time.After(10 * time.Second):
			c.Close()
			return 0, nil, errors.New("no media 10 s after joining")
		}
	}
	for range count {
		d, c, err := once()
		if err != nil {
			return nil, nil, fmt.Errorf("join: %w", err)
		}
		join = append(join, d.Seconds()*1000)
		if err := c.Leave(sctx); err != nil {
			return nil, nil, err
		}
	}
	_, c, err := once() // the first drop follows a join, not a drop
	if err != nil {
		return nil, nil, err
	}
	c.Close()
	for range count {
		d, c, err := once()
		if err != nil {
			return nil, nil, fmt.Errorf("rejoin: %w", err)
		}
		rejoin = append(rejoin, d.Seconds()*1000)
		c.Close()
	}
	return join, rejoin, nil
}

// floorFirstPacket is the floor for joins: two bare pion peer connections
// in this process (same codecs, interceptors and loopback-only ICE as the
// clients), the offer and answer handed over directly; the time from
// creating them to the first packet.
func floorFirstPacket(ctx context.Context) (time.Duration, error) {
	api, err := loopbackAPI()
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	tx, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer tx.Close()
	rx, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return 0, err
	}
	defer rx.Close()
	var srcs []*source
	for _, kind := range []struct {
		video bool
		codec webrtc.RTPCodecCapability
	}{
		{false, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}},
		{true, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}},
	} {
		tr, err := webrtc.NewTrackLocalStaticRTP(kind.codec, fmt.Sprint(kind.video), "floor")
		if err != nil {
			return 0, err
		}
		if _, err := tx.AddTrack(tr); err != nil {
			return 0, err
		}
		var seq uint16
		srcs = append(srcs, newSource(kind.video, func(b []byte) error {
			seq++
			return tr.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 960}, Payload: b})
		}))
	}
	first := make(chan time.Time, 1)
	rx.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			if _, _, _, ok := checkPayload(p.Payload); ok {
				select {
				case first <- time.Now():
				default:
				}
			}
		}
	})
	stop := startSources(srcs)
	defer stop()
	offer, err := tx.CreateOffer(nil)
	if err != nil {
		return 0, err
	}
	gathered := webrtc.GatheringCompletePromise(tx)
	if err := tx.SetLocalDescription(offer); err != nil {
		return 0, err
	}
	<-gathered
	if err := rx.SetRemoteDescription(*tx.LocalDescription()); err != nil {
		return 0, err
	}
	answer, err := rx.CreateAnswer(nil)
	if err != nil {
		return 0, err
	}
	gathered = webrtc.GatheringCompletePromise(rx)
	if err := rx.SetLocalDescription(answer); err != nil {
		return 0, err
	}
	<-gathered
	if err := tx.SetRemoteDescription(*rx.LocalDescription()); err != nil {
		return 0, err
	}
	select {
	case t := <-first:
		return t.Sub(t0), nil
	case <-time.After(10 * time.Second):
		return 0, errors.New("floor: no packet 10 s after connecting")
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// loopbackAPI is a pion API like callclient's: Opus and VP8, the default
// interceptors, UDP4 with loopback candidates, no mDNS.
func loopbackAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(me, ir); err != nil {
		return nil, err
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// joinRate runs workers loops of "open the WebSocket, get the welcome
// (joined, media peer created), leave" for d and returns joins per second
// and the server's CPU time per join (ms).
func (b *bench) joinRate(ctx context.Context, workers int, d time.Duration) (rate, cpuMs float64, err error) {
	sctx, cancel := context.WithTimeout(ctx, d+time.Minute)
	defer cancel()
	var calls []*call
	for i := range workers {
		h, err := b.p.login(sctx, advisorUser(i%b.advisors))
		if err != nil {
			return 0, 0, err
		}
		id, invite, err := h.CreateConsultation(sctx, "Joins")
		if err != nil {
			return 0, 0, err
		}
		calls = append(calls, &call{id: id, invite: invite, adv: h})
	}
	defer func() {
		for _, cl := range calls {
			_ = cl.adv.End(ctx, cl.id)
		}
	}()
	return b.rate(workers, d, b.srv.pid(), func(i int) error {
		cl := calls[i]
		c, err := callclient.Dial(sctx, cl.adv, cl.id, callclient.Options{Name: "joiner", DiscardPayloads: true})
		if err != nil {
			return err
		}
		if c.State() != callclient.StateJoined {
			c.Close()
			return fmt.Errorf("joiner is %s", c.State())
		}
		return c.Leave(sctx)
	})
}

// floorJoinRate is the floor: the same loop against the relay's bare
// WebSocket endpoint (upgrade, one message, close).
func (b *bench) floorJoinRate(ctx context.Context, workers int, d time.Duration) (rate, cpuMs float64, err error) {
	u := "ws://" + b.relay.info.WS + "/ws"
	return b.rate(workers, d, b.relay.pid(), func(int) error {
		c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{Subprotocols: []string{"parley.v1"}})
		if err != nil {
			return err
		}
		if _, _, err := c.Read(ctx); err != nil {
			c.CloseNow()
			return err
		}
		return c.Close(websocket.StatusNormalClosure, "")
	})
}

// rate runs op in workers loops for d and returns operations per second
// and pid's CPU time per operation (ms).
func (b *bench) rate(workers int, d time.Duration, pid int, op func(worker int) error) (float64, float64, error) {
	var n atomic.Int64
	var firstErr error
	var mu sync.Mutex
	cpu0, t0 := procCPU(pid), time.Now()
	deadline := t0.Add(d)
	var wg sync.WaitGroup
	for i := range workers {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := op(i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	wall, cpu := time.Since(t0).Seconds(), procCPU(pid)-cpu0
	if firstErr != nil {
		return 0, 0, firstErr
	}
	return float64(n.Load()) / wall, cpu / float64(n.Load()) * 1000, nil
}

// percentile of unsorted values.
func percentile(v []float64, q float64) float64 {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[int(q*float64(len(v)-1))]
}
