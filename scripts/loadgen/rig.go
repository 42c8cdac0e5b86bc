package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/parley-video/parley/callclient"
	"github.com/pion/rtp"
)

// child is a process the driver started: the Parley server or the relay.
type child struct {
	mode  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	info  serverInfo

	logMu    sync.Mutex
	logLines int
	logFirst string
	logDone  chan struct{}
}

// Child log lines echoed to our stderr; the rest are only counted.
const echoLines = 5

// readLog counts the child's log lines (it logs errors only) and echoes
// the first few.
func (c *child) readLog(r io.Reader) {
	defer close(c.logDone)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		c.logMu.Lock()
		c.logLines++
		n := c.logLines
		if n == 1 {
			c.logFirst = sc.Text()
		}
		c.logMu.Unlock()
		if n <= echoLines || os.Getenv("LOADGEN_SERVER_LOG") != "" {
			fmt.Fprintf(os.Stderr, "%s: %s\n", c.mode, sc.Text())
		}
	}
}

func (c *child) errorLines() int {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.logLines
}

func (c *child) firstError() string {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	return c.logFirst
}

// startChild runs this binary in mode (server, relay), pinned to cpus
// with taskset when cpus is set, and waits for its ready line.
func startChild(mode, cpus string, args ...string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	return startChildBin(self, mode, cpus, args...)
}

// startChildBin is startChild with another loadgen binary (-compare).
func startChildBin(bin, mode, cpus string, args ...string) (*child, error) {
	argv := append([]string{bin, mode}, args...)
	if cpus != "" {
		argv = append([]string{"taskset", "-c", cpus}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", mode, err)
	}
	c := &child{mode: mode, cmd: cmd, stdin: stdin, logDone: make(chan struct{})}
	go c.readLog(stderr)
	line := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if !sc.Scan() {
			line <- fmt.Errorf("%s exited before it was ready", mode)
			return
		}
		line <- json.Unmarshal(sc.Bytes(), &c.info)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case err = <-line:
	case <-time.After(90 * time.Second):
		err = fmt.Errorf("%s not ready after 90 s", mode)
	}
	if err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// stop closes the child's stdin (its signal to exit) and waits; it kills
// the child (by its pid) if it does not exit within 15 s.
func (c *child) stop() {
	_ = c.stdin.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
	<-c.logDone
}

// mem asks the server's /mem.
func (c *child) mem(ctx context.Context) (memInfo, error) {
	var m memInfo
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.info.Debug+"/mem", nil)
	if err != nil {
		return m, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return m, err
	}
	defer resp.Body.Close()
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// profile fetches a CPU profile of the server over d into path.
func (c *child) profile(ctx context.Context, d time.Duration, path string) error {
	return c.fetch(ctx, fmt.Sprintf("/debug/pprof/profile?seconds=%d", int(d.Seconds())), path)
}

// fetch saves a debug endpoint's answer (a profile) into path.
func (c *child) fetch(ctx context.Context, endpoint, path string) error {
	u := "http://" + c.info.Debug + endpoint
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// parley drives the server through callclient, as users would.
type parley struct {
	srv  *child
	base string

	mu    sync.Mutex
	staff map[string]*callclient.HTTP
}

func newParley(srv *child) *parley {
	return &parley{srv: srv, base: "http://" + srv.info.HTTP, staff: make(map[string]*callclient.HTTP)}
}

// login returns the (cached) staff session of user.
func (p *parley) login(ctx context.Context, user string) (*callclient.HTTP, error) {
	p.mu.Lock()
	h := p.staff[user]
	p.mu.Unlock()
	if h != nil {
		return h, nil
	}
	h, err := callclient.Staff(ctx, p.base, user, benchPassword)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.staff[user] = h
	p.mu.Unlock()
	return h, nil
}

// member is one participant of a benchmark call.
type member struct {
	name string
	h    *callclient.HTTP
	c    *callclient.Client
	rx   *receiver
	srcs []*source         // audio, video once published
	udp  *net.UDPConn      // floor participants only (h and c are nil)
	pub  map[string]uint16 // published: track key → source id
}

// announce tells rx which tracks carry m's sources.
func (m *member) announce(rx *receiver) {
	for k, id := range m.pub {
		rx.expectTrack(k, id)
	}
}

// call is one consultation: the advisor first, then customers.
type call struct {
	id, invite string
	adv        *callclient.HTTP
	members    []*member
	lastAdmit  time.Time
}

// admitGap paces one advisor's admissions: signaling drops a client's
// messages beyond 50 per second (signaling/conn.go, rate_limited), and an
// admission is two (admit and the ping barrier callclient sends after it).
// A dropped admit leaves Admit waiting for a roster change that never
// comes, so the generator stays well below the limit.
const admitGap = 60 * time.Millisecond

func (p *parley) dial(ctx context.Context, h *callclient.HTTP, id, name string) (*member, error) {
	rx := newReceiver(name)
	c, err := callclient.Dial(ctx, h, id, callclient.Options{
		Name: name, DiscardPayloads: true,
		OnPacket: func(stream string, pkt *rtp.Packet) {
			rx.record(stream, pkt.Payload, pkt.Header.MarshalSize())
		},
	})
	if err != nil {
		return nil, err
	}
	return &member{name: name, h: h, c: c, rx: rx}, nil
}

// openCall creates a consultation as advisor user and connects the advisor.
func (p *parley) openCall(ctx context.Context, user string) (*call, error) {
	h, err := p.login(ctx, user)
	if err != nil {
		return nil, err
	}
	id, invite, err := h.CreateConsultation(ctx, "Benchmark")
	if err != nil {
		return nil, err
	}
	m, err := p.dial(ctx, h, id, user)
	if err != nil {
		return nil, err
	}
	return &call{id: id, invite: invite, adv: h, members: []*member{m}}, nil
}

// addCustomer joins a customer by the invite link and admits it.
func (p *parley) addCustomer(ctx context.Context, cl *call) (*member, error) {
	name := fmt.Sprintf("cust%d", len(cl.members))
	h, _, err := callclient.JoinInvite(ctx, cl.invite, name)
	if err != nil {
		return nil, err
	}
	m, err := p.dial(ctx, h, cl.id, name)
	if err != nil {
		h.Close()
		return nil, err
	}
	cl.members = append(cl.members, m)
	if d := time.Until(cl.lastAdmit.Add(admitGap)); d > 0 {
		time.Sleep(d)
	}
	cl.lastAdmit = time.Now()
	if err := cl.members[0].c.Admit(ctx, m.c.Self()); err != nil {
		return nil, rateLimited(cl.members[0].c, err)
	}
	if err := m.c.WaitState(ctx, callclient.StateJoined); err != nil {
		return nil, err
	}
	return m, nil
}

// rateLimited adds to err that the server rate-limited c, if it did.
func rateLimited(c *callclient.Client, err error) error {
	for _, se := range c.ServerErrors() {
		if se.Code == "rate_limited" {
			return fmt.Errorf("%w (the server rate-limited this client: %s)", err, se.Message)
		}
	}
	return err
}

// publish makes m publish audio and video and tells every other member
// of the call which stream ids carry m's sources.
func (cl *call) publish(ctx context.Context, m *member) error {
	if m.udp != nil {
		sa, ssa := floorSource(m.udp, false)
		sv, ssv := floorSource(m.udp, true)
		m.srcs = []*source{sa, sv}
		m.pub = map[string]uint16{ssrcKey(ssa): sa.id, ssrcKey(ssv): sv.id}
		cl.announce(m)
		return nil
	}
	audio, video, err := m.c.Publish(ctx)
	if err != nil {
		return rateLimited(m.c, err)
	}
	sa := newSource(false, audio.WritePayload)
	sv := newSource(true, video.WritePayload)
	m.srcs = []*source{sa, sv}
	self := string(m.c.Self())
	m.pub = map[string]uint16{self + "~" + audio.ID: sa.id, self + "~" + video.ID: sv.id}
	cl.announce(m)
	return nil
}

// announce tells every other member which tracks carry m's sources.
func (cl *call) announce(m *member) {
	for _, o := range cl.members {
		if o != m {
			m.announce(o.rx)
		}
	}
}

// wants lists every (receiver, source) pair of the call: each member gets
// every other member's sources.
func (cl *call) wants() []want {
	var out []want
	for _, pub := range cl.members {
		for _, s := range pub.srcs {
			for _, sub := range cl.members {
				if sub != pub {
					out = append(out, want{rx: sub.rx, src: s})
				}
			}
		}
	}
	return out
}

func (cl *call) sources() []*source {
	var out []*source
	for _, m := range cl.members {
		out = append(out, m.srcs...)
	}
	return out
}

func (cl *call) receivers() []*receiver {
	var out []*receiver
	for _, m := range cl.members {
		out = append(out, m.rx)
	}
	return out
}

// waitFlowing runs the call's sources until every wanted pair has
// received a packet (the tracks are up end to end).
func (cl *call) waitFlowing(ctx context.Context) error {
	stop := startSources(cl.sources())
	defer stop()
	ws := cl.wants()
	for {
		ok := true
		for _, w := range ws {
			ok = ok && w.rx.seen(w.src.id)
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("call %s: media did not flow to all members: %w", cl.id, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// end ends the consultation and closes every client (floor calls are
// closed with their rig).
func (cl *call) end(ctx context.Context) {
	if cl.adv == nil {
		return
	}
	_ = cl.adv.End(ctx, cl.id)
	var wg sync.WaitGroup
	for _, m := range cl.members {
		wg.Go(func() {
			m.c.Close()
			if m.h != cl.adv {
				m.h.Close()
			}
		})
	}
	wg.Wait()
}

// floorRig is the generator's other half for the floor: participants
// with one plain UDP socket each (like a bundled WebRTC connection),
// grouped at the relay like the members of a call.
type floorRig struct {
	relay *net.UDPAddr
	conns []*net.UDPConn
	wg    sync.WaitGroup
}

// newFloorRig makes the relay forget earlier groups.
func newFloorRig(relay string) (*floorRig, error) {
	raddr, err := net.ResolveUDPAddr("udp4", relay)
	if err != nil {
		return nil, err
	}
	f := &floorRig{relay: raddr}
	c, err := net.DialUDP("udp4", nil, raddr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if err := control(c, relayRst); err != nil {
		return nil, err
	}
	return f, nil
}

// join adds a participant to group at the relay and starts reading its
// socket. Its receiver checks tracks by SSRC.
func (f *floorRig) join(group, name string) (*member, error) {
	c, err := net.DialUDP("udp4", nil, f.relay)
	if err != nil {
		return nil, err
	}
	f.conns = append(f.conns, c)
	_ = c.SetReadBuffer(1 << 20)
	if err := control(c, append(slices.Clone(relayJoin), group+"\n"...)); err != nil {
		return nil, err
	}
	rx := newReceiver(name)
	f.wg.Go(func() {
		buf := make([]byte, 1500)
		var pkt rtp.Packet
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if pkt.Unmarshal(buf[:n]) == nil {
				rx.record(ssrcKey(pkt.SSRC), pkt.Payload, pkt.Header.MarshalSize())
			} else {
				rx.record("", nil, 0) // counts as corrupt
			}
		}
	})
	return &member{name: name, rx: rx, udp: c}, nil
}

// call makes a floor call of n participants in group.
func (f *floorRig) call(group string, n int) (*call, error) {
	cl := &call{id: group}
	for i := range n {
		m, err := f.join(group, fmt.Sprintf("%s/%d", group, i))
		if err != nil {
			return nil, err
		}
		cl.members = append(cl.members, m)
	}
	return cl, nil
}

func ssrcKey(ssrc uint32) string { return "ssrc:" + strconv.FormatUint(uint64(ssrc), 10) }

// control sends a control datagram on a socket connected to the relay
// and waits for the relay's OK.
func control(c *net.UDPConn, msg []byte) error {
	buf := make([]byte, 16)
	for range 20 {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		n, err := c.Read(buf)
		if err == nil && string(buf[:n]) == string(relayOK) {
			return c.SetReadDeadline(time.Time{})
		}
	}
	return errors.New("relay does not answer")
}

// floorSource makes an audio or video source that sends RTP on a floor
// participant's socket.
func floorSource(c *net.UDPConn, video bool) (*source, uint32) {
	pt := uint8(111)
	if video {
		pt = 96
	}
	ssrc := rand.Uint32()
	var seq uint16
	var ts uint32
	step := uint32(960)
	if video {
		step = 3000
	}
	return newSource(video, func(b []byte) error {
		seq++
		ts += step
		raw, err := (&rtp.Packet{
			Header:  rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Timestamp: ts, SSRC: ssrc, Marker: true},
			Payload: b,
		}).Marshal()
		if err != nil {
			return err
		}
		_, err = c.Write(raw)
		return err
	}), ssrc
}

func (f *floorRig) close() {
	for _, c := range f.conns {
		c.Close()
	}
	f.wg.Wait()
}
