package callclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Limits and timeouts of the client.
const (
	readLimit    = 1 << 20 // a subscribe offer for many tracks exceeds the library's 32 KiB default
	writeTimeout = 5 * time.Second
	workQueue    = 1024 // offer, answer and candidate messages waiting for the worker
)

// ErrClosed is returned by operations on a client whose socket is closed.
var ErrClosed = errors.New("callclient: connection closed")

// Options configure a Client. The zero value is usable.
type Options struct {
	// Name labels the client in errors and log lines (e.g. "advisor").
	Name string
	// Logf, if set, receives the client's debug lines (e.g. testing.T.Logf).
	Logf func(format string, args ...any)
	// DiscardPayloads makes received tracks only count packets instead of
	// remembering every payload (for long-running load benchmarks).
	DiscardPayloads bool
	// OnPacket, if set, receives every RTP packet of every track on the
	// subscribe connection, headers included, exactly as the SFU sent it
	// (e.g. to inspect payload bytes or reassemble frames). streamID is
	// "<participantId>~<trackId>". It is called from the track's reading
	// goroutine in arrival order (calls for different tracks may run
	// concurrently) and must not block for long. Each packet is freshly
	// allocated and belongs to the callback.
	OnPacket func(streamID string, pkt *rtp.Packet)
}

// Client is one participant's connection: the protocol WebSocket, a
// publish and a subscribe peer connection, the roster and the client's own
// state. Server offers, answers and candidates are applied in order by one
// worker goroutine, as a browser's event loop would. Methods are safe for
// concurrent use.
type Client struct {
	opts         Options
	name         string
	ws           *websocket.Conn
	self         ID
	role         string
	consultation Consultation
	pub, sub     *webrtc.PeerConnection

	ctx      context.Context // canceled by Close
	cancel   context.CancelFunc
	work     chan serverMessage
	readDone chan struct{} // closed when the socket is closed
	wg       sync.WaitGroup
	once     sync.Once
	pubOp    sync.Mutex // one Publish at a time

	mu          sync.Mutex
	closing     bool
	state       State
	roster      []Participant
	changed     chan struct{} // closed and replaced on every change
	advisorAway bool          // the advisor declared themselves away (customers)
	closeStatus websocket.StatusCode
	closeErr    error
	errs        []error
	serverErrs  []*ServerError
	pending     map[string]chan error // requests by JSON-encoded id
	nextID      int
	tracks      map[string]*RemoteTrack // by stream id, latest
	local       []*LocalTrack
	trickle     map[string]bool                      // target → local candidates may be sent
	held        map[string][]webrtc.ICECandidateInit // local candidates gathered too early
}

// Dial opens the protocol WebSocket of a consultation with h's cookies
// (staff login or customer session), reads the welcome message and sets
// up the peer connections. The client is waiting or joined afterwards (see
// State); call Close when done.
func Dial(ctx context.Context, h *HTTP, consultationID string, opts Options) (*Client, error) {
	name := opts.Name
	if name == "" {
		name = "client"
	}
	wsURL := *h.base
	wsURL.Scheme = map[string]string{"http": "ws", "https": "wss"}[h.base.Scheme]
	wsURL.Path = "/ws/" + consultationID
	wsURL.RawPath = "/ws/" + url.PathEscape(consultationID)
	ws, resp, err := websocket.Dial(ctx, wsURL.String(), &websocket.DialOptions{
		HTTPClient:   h.client,
		HTTPHeader:   http.Header{"Origin": {h.BaseURL()}},
		Subprotocols: []string{Subprotocol},
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			err = errors.Join(err, apiError(resp.StatusCode, body))
		}
		return nil, fmt.Errorf("callclient %s: dial %s: %w", name, consultationID, err)
	}
	if ws.Subprotocol() != Subprotocol {
		ws.CloseNow()
		return nil, fmt.Errorf("callclient %s: server chose subprotocol %q", name, ws.Subprotocol())
	}
	ws.SetReadLimit(readLimit)
	welcome, err := readWelcome(ctx, ws)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("callclient %s: %w", name, err)
	}
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		opts: opts, name: name, ws: ws,
		self: welcome.Self.ID, role: welcome.Self.Role, consultation: welcome.Consultation,
		ctx: cctx, cancel: cancel,
		work:        make(chan serverMessage, workQueue),
		readDone:    make(chan struct{}),
		state:       welcome.Self.State,
		advisorAway: welcome.AdvisorAway,
		changed:     make(chan struct{}),
		pending:     make(map[string]chan error),
		tracks:      make(map[string]*RemoteTrack),
		trickle:     make(map[string]bool),
		held:        make(map[string][]webrtc.ICECandidateInit),
	}
	if err := c.setupMedia(); err != nil {
		cancel()
		ws.CloseNow()
		return nil, fmt.Errorf("callclient %s: %w", name, err)
	}
	c.wg.Add(2)
	go c.readLoop()
	go c.worker()
	c.logf("welcome: self %s (%s), state %s", c.self, c.role, c.state)
	return c, nil
}

// readWelcome reads the first message, which must be a welcome.
func readWelcome(ctx context.Context, ws *websocket.Conn) (serverMessage, error) {
	typ, data, err := ws.Read(ctx)
	if err != nil {
		return serverMessage{}, fmt.Errorf("read welcome: %w", err)
	}
	var m serverMessage
	if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
		return serverMessage{}, fmt.Errorf("first message is not a JSON text frame: %.200q", data)
	}
	if m.Type != "welcome" || m.Self == nil || m.Self.ID == "" {
		return serverMessage{}, fmt.Errorf("first message is not a welcome with self: %.300s", data)
	}
	if m.Protocol != 1 {
		return serverMessage{}, fmt.Errorf("welcome: protocol %d, want 1", m.Protocol)
	}
	return m, nil
}

// Self is the client's participant id.
func (c *Client) Self() ID { return c.self }

// Role is the client's role, advisor or customer.
func (c *Client) Role() string { return c.role }

// Consultation is what the welcome message said about the call.
func (c *Client) Consultation() Consultation { return c.consultation }

// State is the client's own state: from the welcome, then from state
// messages ("ended" also when the socket closes with 4004, "rejected" with
// 4003).
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// Roster is a copy of the latest roster.
func (c *Client) Roster() []Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return cloneRoster(c.roster)
}

func cloneRoster(r []Participant) []Participant {
	out := slices.Clone(r)
	for i := range out {
		if out[i].Tracks != nil {
			tracks := make(map[string]string, len(out[i].Tracks))
			for k, v := range out[i].Tracks {
				tracks[k] = v
			}
			out[i].Tracks = tracks
		}
	}
	return out
}

// AdvisorAway reports whether the server last said the consultation's
// advisor is away (customers only; welcome's advisorAway, then "advisor"
// messages).
func (c *Client) AdvisorAway() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.advisorAway
}

// WaitAdvisorAway waits until AdvisorAway is away.
func (c *Client) WaitAdvisorAway(ctx context.Context, away bool) error {
	return c.wait(ctx, func() bool { return c.advisorAway == away })
}

// Done is closed when the socket is closed (by either side).
func (c *Client) Done() <-chan struct{} { return c.readDone }

// CloseStatus is the WebSocket close code once Done is closed (-1 if the
// connection ended without a close frame).
func (c *Client) CloseStatus() websocket.StatusCode {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeStatus
}

// Err reports what went wrong in the background (failed negotiations,
// unexpected server errors, protocol order violations), nil if nothing.
// Errors after Close are not recorded.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return errors.Join(c.errs...)
}

// ServerErrors are all error messages the server sent, including those
// already returned by a request.
func (c *Client) ServerErrors() []*ServerError {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.serverErrs)
}

// WaitState waits until the client's own state is s. It fails early when
// the socket closes in another state.
func (c *Client) WaitState(ctx context.Context, s State) error {
	err := c.wait(ctx, func() bool { return c.state == s })
	if err != nil {
		return fmt.Errorf("callclient %s: wait for state %s (now %s): %w", c.name, s, c.State(), err)
	}
	return nil
}

// WaitRoster waits until cond holds for the roster. cond gets a copy and
// must not call the client.
func (c *Client) WaitRoster(ctx context.Context, cond func([]Participant) bool) error {
	err := c.wait(ctx, func() bool { return cond(cloneRoster(c.roster)) })
	if err != nil {
		return fmt.Errorf("callclient %s: wait for roster: %w", c.name, err)
	}
	return nil
}

// wait waits until cond (called with c.mu held) holds, the socket closes
// (ErrClosed) or ctx ends.
func (c *Client) wait(ctx context.Context, cond func() bool) error {
	for {
		c.mu.Lock()
		ok := cond()
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-c.readDone:
			c.mu.Lock()
			ok := cond()
			c.mu.Unlock()
			if ok {
				return nil
			}
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notifyLocked wakes all waiters (c.mu held).
func (c *Client) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Admit lets a waiting customer in and waits until the roster shows it
// joined (or the server refuses with an error message).
func (c *Client) Admit(ctx context.Context, pid ID) error {
	err := c.call(ctx, clientMessage{Type: "admit", Participant: pid}, func() bool {
		return rosterState(c.roster, pid) == StateJoined
	})
	if err != nil {
		return fmt.Errorf("callclient %s: admit %s: %w", c.name, pid, err)
	}
	return nil
}

// Reject turns a waiting customer away and waits until the roster no
// longer shows it waiting.
func (c *Client) Reject(ctx context.Context, pid ID) error {
	err := c.call(ctx, clientMessage{Type: "reject", Participant: pid}, func() bool {
		return rosterState(c.roster, pid) != StateWaiting
	})
	if err != nil {
		return fmt.Errorf("callclient %s: reject %s: %w", c.name, pid, err)
	}
	return nil
}

// rosterState is pid's state in roster, "" if absent.
func rosterState(roster []Participant, pid ID) State {
	for _, p := range roster {
		if p.ID == pid {
			return p.State
		}
	}
	return ""
}

// Leave leaves the call for good: it sends leave, waits until the server
// closes the socket, then closes the client.
func (c *Client) Leave(ctx context.Context) error {
	defer c.Close()
	if err := c.send(ctx, clientMessage{Type: "leave"}); err != nil {
		return fmt.Errorf("callclient %s: leave: %w", c.name, err)
	}
	select {
	case <-c.readDone:
	case <-ctx.Done():
		return fmt.Errorf("callclient %s: leave: server did not close the socket: %w", c.name, ctx.Err())
	}
	if code := c.CloseStatus(); code != websocket.StatusNormalClosure {
		return fmt.Errorf("callclient %s: leave: socket closed with %d, want 1000", c.name, code)
	}
	return nil
}

// Close closes the socket and both peer connections and waits for all of
// the client's goroutines. Idempotent.
func (c *Client) Close() {
	c.once.Do(func() {
		c.mu.Lock()
		c.closing = true
		c.mu.Unlock()
		select {
		case <-c.readDone:
			c.ws.CloseNow()
		default:
			_ = c.ws.Close(websocket.StatusNormalClosure, "client closed")
		}
		c.cancel()
		_ = c.pub.GracefulClose()
		_ = c.sub.GracefulClose()
		c.wg.Wait()
	})
}

// send writes one message.
func (c *Client) send(ctx context.Context, m clientMessage) error {
	b, err := json.Marshal(m)
	if err != nil {
		return fmt.Errorf("encode %s: %w", m.Type, err)
	}
	wctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("send %s: %w", m.Type, err)
	}
	return nil
}

// call sends m with a fresh id. Without done, it waits for a reply with
// that ref. With done (called with c.mu held), it sends a ping right
// after m as a barrier: the server handles a connection's messages in
// order, so once the pong is in, any error for m has arrived too; then
// it waits until done holds. An error message with m's ref is returned as
// a *ServerError.
func (c *Client) call(ctx context.Context, m clientMessage, done func() bool) error {
	var reply, barrier chan error
	m.ID, reply = c.expect()
	defer c.forget(m.ID)
	if err := c.send(ctx, m); err != nil {
		return err
	}
	if done != nil {
		var ping string
		ping, barrier = c.expect()
		defer c.forget(ping)
		if err := c.send(ctx, clientMessage{Type: "ping", ID: ping}); err != nil {
			return err
		}
	}
	passed := false // the barrier's pong arrived
	for {
		c.mu.Lock()
		ok := passed && done()
		changed := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case err := <-reply:
			if err != nil || done == nil {
				return err
			}
		case <-barrier:
			barrier, passed = nil, true
			select {
			case err := <-reply: // dispatched before the pong
				if err != nil {
					return err
				}
			default:
			}
		case <-changed:
		case <-c.readDone:
			c.mu.Lock()
			ok := passed && done()
			c.mu.Unlock()
			if ok {
				return nil
			}
			return ErrClosed
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// expect registers a fresh message id for a reply.
func (c *Client) expect() (string, chan error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	id := "m" + strconv.Itoa(c.nextID)
	key, _ := json.Marshal(id)
	ch := make(chan error, 1)
	c.pending[string(key)] = ch
	return id, ch
}

// forget drops a message id registered by expect.
func (c *Client) forget(id string) {
	key, _ := json.Marshal(id)
	c.mu.Lock()
	delete(c.pending, string(key))
	c.mu.Unlock()
}

// reply hands a reply (nil) or error to the call waiting for ref; false if
// none waits.
func (c *Client) reply(ref json.RawMessage, err error) bool {
	if len(ref) == 0 {
		return false
	}
	c.mu.Lock()
	ch, ok := c.pending[string(bytes.TrimSpace(ref))]
	c.mu.Unlock()
	if ok {
		select {
		case ch <- err:
		default:
		}
	}
	return ok
}

// fail records a background error (ignored while closing).
func (c *Client) fail(err error) {
	c.mu.Lock()
	closing := c.closing
	if !closing {
		c.errs = append(c.errs, err)
	}
	c.mu.Unlock()
	if !closing {
		c.logf("error: %v", err)
	}
}

func (c *Client) logf(format string, args ...any) {
	if c.opts.Logf != nil {
		c.opts.Logf("["+c.name+"] "+format, args...)
	}
}

// readLoop reads server messages until the socket closes.
func (c *Client) readLoop() {
	defer c.wg.Done()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			c.closed(err)
			return
		}
		var m serverMessage
		if typ != websocket.MessageText || json.Unmarshal(data, &m) != nil {
			c.fail(fmt.Errorf("server message is not a JSON text frame: %.200q", data))
			continue
		}
		c.dispatch(m, data)
	}
}

// closed records the end of the socket.
func (c *Client) closed(err error) {
	code := websocket.CloseStatus(err)
	c.mu.Lock()
	c.closeStatus, c.closeErr = code, err
	switch code {
	case 4004:
		c.state = StateEnded
	case 4003:
		c.state = StateRejected
	}
	c.notifyLocked()
	c.mu.Unlock()
	c.logf("socket closed: %d (%v)", code, err)
	close(c.readDone)
}

// dispatch handles one server message; media messages go to the worker.
func (c *Client) dispatch(m serverMessage, raw []byte) {
	switch m.Type {
	case "roster":
		c.mu.Lock()
		c.roster = m.Participants
		c.notifyLocked()
		c.mu.Unlock()
	case "state":
		c.logf("state %s %s", m.State, m.Reason)
		c.mu.Lock()
		c.state = m.State
		c.notifyLocked()
		c.mu.Unlock()
	case "offer", "answer", "candidate":
		select {
		case c.work <- m:
		default:
			c.fail(fmt.Errorf("worker queue full, dropped %s", m.Type))
		}
	case "error":
		se := &ServerError{Code: m.Code, Message: m.Message, Ref: m.Ref}
		c.mu.Lock()
		c.serverErrs = append(c.serverErrs, se)
		c.notifyLocked()
		c.mu.Unlock()
		if !c.reply(m.Ref, se) {
			c.fail(se)
		}
	case "pong":
		c.reply(m.Ref, nil)
	case "advisor":
		c.mu.Lock()
		c.advisorAway = m.Away
		c.notifyLocked()
		c.mu.Unlock()
	case "welcome":
		c.fail(errors.New("second welcome message"))
	default:
		c.logf("ignoring unknown message type %q: %.200s", m.Type, raw)
	}
}
