package signaling

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/webrtc/v4"
)

// Transport constants.
const (
	writeTimeout = 10 * time.Second // one message
	flushTimeout = 5 * time.Second  // queued messages before a close

	// Rate limit per connection (PROTOCOL.md: 50 messages per second).
	rateLimit = 50
	rateBurst = 50
	// A client rate limited in this many consecutive seconds, or sending
	// this many invalid messages in a row, is closed with 1008.
	maxFloodSeconds  = 5
	maxBadInARow     = 50
	maxHeldCandidate = 64 // candidates held back per description (see peerEvents)
)

// closeMode says how a connection goes down.
type closeMode int

const (
	// closeFlush writes what is queued, then does the close handshake.
	closeFlush closeMode = iota
	// closeHandshake does the close handshake without the queue (the
	// client is too slow for it).
	closeHandshake
	// closeAbrupt drops the TCP connection (the client is unresponsive or
	// already gone).
	closeAbrupt
)

// conn is one protocol WebSocket. Anyone may send (it never blocks) or
// close it; only its writer goroutine writes to the socket, and only the
// goroutine running serveConn reads.
type conn struct {
	id  string // owner id in the session store
	ws  *websocket.Conn
	log *slog.Logger
	m   *metrics

	queue chan []byte
	stop  chan struct{} // closed by close

	once   sync.Once
	code   websocket.StatusCode // set by close, before stop is closed
	reason string
	mode   closeMode

	pingInterval time.Duration
	pongTimeout  time.Duration
}

func newConn(id string, ws *websocket.Conn, cfg *Config, m *metrics, log *slog.Logger) *conn {
	return &conn{
		id:           id,
		ws:           ws,
		log:          log,
		m:            m,
		queue:        make(chan []byte, cfg.SendQueue),
		stop:         make(chan struct{}),
		pingInterval: cfg.PingInterval,
		pongTimeout:  cfg.PongTimeout,
	}
}

// send queues one encoded message. It never blocks: when the queue is
// full the connection is closed with 4008 and the message dropped.
func (c *conn) send(b []byte) bool {
	select {
	case <-c.stop:
		return false
	default:
	}
	select {
	case c.queue <- b:
		return true
	default:
		if c.close(StatusQueueFull, "send queue overflow", closeHandshake) {
			c.m.error(metricQueueFull)
			c.log.Warn("signaling connection too slow, closing", "code", int(StatusQueueFull))
		}
		return false
	}
}

// sendError queues an error message.
func (c *conn) sendError(code, msg string, ref []byte) {
	c.m.error(code)
	c.send(encodeError(code, msg, ref))
}

// close asks the writer to close the connection; the first call wins and
// reports true.
func (c *conn) close(code websocket.StatusCode, reason string, mode closeMode) bool {
	first := false
	c.once.Do(func() {
		c.code, c.reason, c.mode = code, reason, mode
		close(c.stop)
		first = true
	})
	return first
}

// closing reports whether close has been called.
func (c *conn) closing() bool {
	select {
	case <-c.stop:
		return true
	default:
		return false
	}
}

// writeLoop is the writer goroutine: it writes queued messages until the
// connection is closed, then closes the socket as close asked.
func (c *conn) writeLoop(ctx context.Context) {
	for {
		select {
		case b := <-c.queue:
			if err := c.write(ctx, b, writeTimeout); err != nil {
				c.close(websocket.StatusAbnormalClosure, "", closeAbrupt)
				c.ws.CloseNow()
				return
			}
		case <-c.stop:
			c.finish(ctx)
			return
		}
	}
}

func (c *conn) write(ctx context.Context, b []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *conn) finish(ctx context.Context) {
	switch c.mode {
	case closeFlush:
		ctx, cancel := context.WithTimeout(ctx, flushTimeout)
		defer cancel()
	drain:
		for {
			select {
			case b := <-c.queue:
				if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
					c.ws.CloseNow()
					return
				}
			default:
				break drain
			}
		}
		c.ws.Close(c.code, c.reason)
	case closeHandshake:
		c.ws.Close(c.code, c.reason)
	default:
		c.ws.CloseNow()
	}
}

// pingLoop pings the client every pingInterval and closes the connection
// when a pong does not come within pongTimeout.
func (c *conn) pingLoop(ctx context.Context) {
	t := time.NewTicker(c.pingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			pctx, cancel := context.WithTimeout(ctx, c.pongTimeout)
			err := c.ws.Ping(pctx)
			cancel()
			if err != nil {
				if c.close(websocket.StatusGoingAway, "ping timeout", closeAbrupt) {
					c.m.error(metricPingTimeout)
					c.log.Info("signaling client did not answer ping, closing")
				}
				return
			}
		}
	}
}

// hold waits d (backpressure: the socket is not read meanwhile) and
// reports false when the connection was closed in the meantime.
func (c *conn) hold(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.stop:
		return false
	}
}

// read returns the next message and whether it was a text message.
func (c *conn) read(ctx context.Context) (data []byte, text bool, err error) {
	typ, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, false, err
	}
	return b, typ == websocket.MessageText, nil
}

// readError classifies why reading stopped, for logs.
func readError(err error) string {
	switch s := websocket.CloseStatus(err); {
	case s == websocket.StatusMessageTooBig:
		return "too_big"
	case s != -1:
		return "closed_by_client"
	case errors.Is(err, context.Canceled):
		return "canceled"
	default:
		return "connection_lost"
	}
}

// tokenBucket is a per-connection rate limiter (not safe for concurrent
// use; only the reading goroutine uses it).
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) allow(now time.Time) bool { return b.allowAt(now, rateLimit) }

// allowAt is allow for a bucket of rate per second (and burst rate).
func (b *tokenBucket) allowAt(now time.Time, rate float64) bool {
	if b.last.IsZero() {
		b.tokens = rate
	} else {
		b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// reserve takes a token of a bucket of rate per second (and burst rate),
// going into debt when there is none, and returns how long to wait until
// the token is due.
func (b *tokenBucket) reserve(now time.Time, rate float64) time.Duration {
	if b.last.IsZero() {
		b.tokens = rate
	} else if now.After(b.last) {
		b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	}
	if now.After(b.last) {
		b.last = now
	}
	b.tokens--
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / rate * float64(time.Second))
}

// inbound guards a connection against floods and garbage. Messages that
// change the call (offer, answer, candidate, media, admit, reject, leave,
// restart_ice)
// are never dropped: they have a budget of their own, and a message over
// it is held back (the connection's socket is not read meanwhile, so the
// client's TCP window closes: backpressure) until the budget allows it.
// A client held back in maxHeldSeconds consecutive seconds is closed
// with 1008 after the message in hand is handled. The rest (ping, chat,
// receipt, delete, garbage) is dropped when over its budget; every
// dropped message with an id is answered with rate_limited naming it in
// ref, and messages without an id are reported once a second.
type inbound struct {
	bucket      tokenBucket // ping, chat, receipt, delete, garbage
	control     tokenBucket // messages that change the call
	lastLimited time.Time   // last second with a dropped message
	lastReport  time.Time   // last rate_limited without a ref
	floodSecs   int         // consecutive seconds with dropped messages
	lastHeld    time.Time   // last second with a held-back call message
	heldSecs    int         // consecutive seconds with held-back call messages
	badInARow   int
}

// maxHeldSeconds is how many consecutive seconds a client may be held
// back for call messages over their budget before it is closed.
const maxHeldSeconds = 10

// controlTypes are the messages that change the call.
var controlTypes = map[string]bool{
	TypeOffer: true, TypeAnswer: true, TypeCandidate: true, TypeMedia: true,
	TypeAdmit: true, TypeReject: true, TypeLeave: true, TypeRestartICE: true,
}

// verdict is what inbound.admit decides for one message.
type verdict struct {
	ok     bool          // handle it (after wait)
	wait   time.Duration // hold the reader back this long first (call messages)
	reply  bool          // dropped: tell the client which request (it has an id)
	report bool          // dropped: send an unnamed rate_limited
	flood  bool          // close the connection (after handling, if ok)
}

// admit decides about a message of type typ arriving at now.
func (in *inbound) admit(now time.Time, typ string, hasID bool) verdict {
	if controlTypes[typ] {
		wait := in.control.reserve(now, rateLimit)
		if wait > 0 {
			in.heldSecs = countSecond(now, &in.lastHeld, in.heldSecs)
		}
		return verdict{ok: true, wait: wait, flood: wait > 0 && in.heldSecs >= maxHeldSeconds}
	}
	if in.bucket.allow(now) {
		return verdict{ok: true}
	}
	in.floodSecs = countSecond(now, &in.lastLimited, in.floodSecs)
	v := verdict{flood: in.floodSecs >= maxFloodSeconds}
	switch {
	case hasID:
		v.reply = true
	case now.Sub(in.lastReport) >= time.Second:
		in.lastReport = now
		v.report = true
	}
	return v
}

// countSecond counts consecutive seconds with an event: n is the count so
// far and *last the start of the last counted second.
func countSecond(now time.Time, last *time.Time, n int) int {
	d := now.Sub(*last)
	if d < time.Second {
		return n
	}
	*last = now
	if d < 2*time.Second {
		return n + 1
	}
	return 1
}

// bad counts an invalid message and reports whether there were too many
// in a row.
func (in *inbound) bad() bool {
	in.badInARow++
	return in.badInARow >= maxBadInARow
}

func (in *inbound) good() { in.badInARow = 0 }

// serve upgrades the request and runs participant p's connection (id
// connID, generation gen) until it ends. The calling (HTTP handler)
// goroutine is the connection's reader; it starts the writer and the
// pinger and waits for both.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request, rm *room, p *participant, gen uint64, connID string) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		h.refuse(w, rm.info.ID, errHubClosed)
		return
	}
	h.wg.Add(1)
	h.mu.Unlock()
	defer h.wg.Done()

	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols:       []string{Subprotocol},
		InsecureSkipVerify: true, // checkRequest has checked the Origin
	})
	if err != nil {
		rm.log.Debug("websocket upgrade failed", "participant", p.id)
		return
	}
	ws.SetReadLimit(h.cfg.MaxMessageBytes)
	c := newConn(connID, ws, &h.cfg, h.m, rm.log.With("participant", p.id, "conn", connID))
	// The connection outlives nothing of the request but its values.
	ctx := context.WithoutCancel(r.Context())
	var wg sync.WaitGroup
	wg.Go(func() { c.writeLoop(ctx) })
	wg.Go(func() { c.pingLoop(ctx) })
	defer wg.Wait()

	if ws.Subprotocol() != Subprotocol { // checkRequest makes this impossible
		c.close(websocket.StatusPolicyViolation, "subprotocol parley.v1 required", closeHandshake)
		return
	}
	h.mu.Lock()
	closed := h.closed
	if !closed {
		h.conns[c] = struct{}{}
	}
	h.mu.Unlock()
	if closed {
		c.close(websocket.StatusGoingAway, "server shutting down", closeHandshake)
		return
	}
	defer func() {
		h.mu.Lock()
		delete(h.conns, c)
		h.mu.Unlock()
	}()
	h.run(ctx, rm, p, c, gen)
}

// run attaches c to the room and reads and handles messages until the
// connection ends.
func (h *Hub) run(ctx context.Context, rm *room, p *participant, c *conn, gen uint64) {
	ice := []webrtc.ICEServer{}
	if h.cfg.ICEServers != nil {
		if s := h.cfg.ICEServers(rm.info, p.id); s != nil {
			ice = s
		}
	}
	consultation := consultationMsg{ID: rm.info.ID, Title: rm.info.Title, Company: rm.info.Company}
	policy := "all"
	if h.cfg.RelayOnly {
		policy = "relay"
	}
	e2ee := "required"
	if h.cfg.AllowUnencrypted {
		e2ee = "optional"
	}
	// Called by attach with rm.mu held (advisorAway is read under it).
	welcome := func(self ParticipantInfo) []byte {
		return encode(welcomeMsg{Type: TypeWelcome, Protocol: ProtocolVersion, Self: self, Consultation: consultation,
			ICEServers: ice, ICETransportPolicy: policy, E2EE: e2ee, AdvisorAway: rm.advisorAway})
	}
	joined, err := rm.attach(p, c, gen, welcome)
	if err != nil {
		switch {
		case errors.Is(err, errSuperseded):
			c.sendError(CodeReplaced, msgReplaced, nil)
			c.close(StatusReplaced, "replaced", closeFlush)
		case errors.Is(err, ErrEnded):
			c.send(encode(stateMsg{Type: TypeState, State: StateEnded}))
			c.close(StatusEnded, "ended", closeFlush)
		case errors.Is(err, errHubClosed):
			c.close(websocket.StatusGoingAway, "server shutting down", closeHandshake)
		default:
			c.close(websocket.StatusPolicyViolation, "session gone", closeHandshake)
		}
		return
	}
	if joined {
		if _, _, err := rm.ensurePeer(p, c); err != nil {
			c.log.Warn("media peer on connect", "kind", mediaErrorKind(err))
		}
	}
	var in inbound
	why := ""
	for {
		data, text, err := c.read(ctx)
		if err != nil {
			why = readError(err)
			break
		}
		h.handleMessage(ctx, rm, p, c, &in, data, text)
	}
	rm.connectionLost(p, c, why)
	c.close(websocket.StatusAbnormalClosure, "", closeAbrupt)
}

// handleMessage rate limits, decodes and carries out one client message;
// whatever is wrong with it is answered with an error message.
func (h *Hub) handleMessage(ctx context.Context, rm *room, p *participant, c *conn, in *inbound, data []byte, text bool) {
	var m ClientMessage
	var perr *ProtocolError
	if text {
		m, perr = DecodeClientMessage(data)
	} else {
		perr = protoErr(CodeBadMessage, "binary messages are not supported")
	}
	v := in.admit(time.Now(), m.Type, perr == nil && len(m.ID) > 0)
	if !v.ok {
		switch {
		case v.reply:
			c.sendError(CodeRateLimited, "more than 50 messages per second: this "+m.Type+" was dropped; send it again", m.ID)
		case v.report:
			c.sendError(CodeRateLimited, "more than 50 messages per second; messages are dropped", nil)
		}
		if v.flood && c.close(websocket.StatusPolicyViolation, "flooding: over the rate limit for 5 s", closeFlush) {
			h.m.error(metricFlood)
			c.log.Info("signaling client flooding, closing", "code", int(websocket.StatusPolicyViolation))
		}
		return
	}
	if v.wait > 0 && !c.hold(v.wait) {
		return // closed meanwhile
	}
	if v.flood {
		// Handled below, then the connection goes: nothing read is lost.
		defer func() {
			if c.close(websocket.StatusPolicyViolation, "flooding: call messages over 50 a second for 10 s", closeFlush) {
				h.m.error(metricFlood)
				c.log.Info("signaling client flooding with call messages, closing", "code", int(websocket.StatusPolicyViolation))
			}
		}()
	}
	if perr != nil {
		h.m.message(metricInvalidType)
		c.sendError(perr.Code, perr.Message, perr.Ref)
		if in.bad() && c.close(websocket.StatusPolicyViolation, "too many invalid messages", closeFlush) {
			c.log.Info("signaling client sends garbage, closing", "code", int(websocket.StatusPolicyViolation))
		}
		return
	}
	in.good()
	h.m.message(m.Type)
	if err := rm.handle(ctx, p, c, m); err != nil {
		code, msg := errorCode(err)
		if code == CodeMediaFailed {
			c.log.Info("media request failed", "type", m.Type, "kind", mediaErrorKind(err))
		}
		c.sendError(code, msg, m.ID)
	}
}
