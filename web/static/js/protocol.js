// @ts-check
/**
 * Client side of the signaling protocol v1 (signaling/PROTOCOL.md): one
 * WebSocket per participant with the subprotocol "parley.v1", JSON text
 * frames, request ids echoed as "ref", typed event dispatch.
 *
 * All WebSocket handling lives here (RTCPeerConnection handling is in
 * rtc.js). Signaling is one socket; SignalingLink is the connection a call
 * keeps: it reconnects a dropped socket with backoff ("Reconnecting" in
 * PROTOCOL.md) and is the one place that decides whether a close is final.
 * @module
 */

import { Emitter } from './events.js';

export const SUBPROTOCOL = 'parley.v1';
export const PROTOCOL_VERSION = 1;

/**
 * @typedef {'audio'|'camera'|'screen'} TrackSource
 * @typedef {'waiting'|'joined'|'reconnecting'|'left'|'rejected'} ParticipantState
 * @typedef {'joined'|'rejected'|'ended'|'left'} SelfState
 * @typedef {'publish'|'subscribe'} Target
 * @typedef {number|string} MessageId
 * @typedef {{
 *   id: string,
 *   name: string,
 *   role: 'advisor'|'customer',
 *   state: ParticipantState,
 *   audio: boolean,
 *   video: boolean,
 *   screen: boolean,
 *   tracks: Record<string, TrackSource>,
 *   e2ee?: boolean
 * }} Participant
 */

/**
 * Server → client messages.
 * @typedef {{type: 'welcome', protocol: number, self: Participant, consultation: {id: string, title: string, company: string}, iceServers: RTCIceServer[], iceTransportPolicy?: RTCIceTransportPolicy, e2ee?: 'required'|'optional', advisorAway?: boolean}} WelcomeMessage
 * @typedef {{type: 'roster', participants: Participant[]}} RosterMessage
 * @typedef {{type: 'state', state: SelfState, reason?: string}} StateMessage
 * @typedef {{type: 'answer', sdp: string, ref?: MessageId}} AnswerMessage
 * @typedef {{type: 'offer', sdp: string}} OfferMessage
 * @typedef {{type: 'candidate', target: Target, candidate: RTCIceCandidateInit}} CandidateMessage
 * @typedef {{type: 'error', code: string, message: string, ref?: MessageId}} ErrorMessage
 * @typedef {{type: 'pong', ref?: MessageId}} PongMessage
 * @typedef {{msg: string, from: string, at: string, body: string}} ChatEntry
 * @typedef {{type: 'chat'} & ChatEntry} ChatMessage
 * @typedef {{type: 'chat_history', messages: ChatEntry[]}} ChatHistoryMessage
 * @typedef {{type: 'receipt', msg: string, from: string}} ReceiptMessage
 * @typedef {{type: 'deleted', msg: string}} DeletedMessage
 * @typedef {{type: 'document', document: import('./contract.js').Document}} DocumentMessage
 * @typedef {{type: 'document_progress', doc: string, from: string, page: number, pages: number, activity: import('./contract.js').Activity}} DocumentProgressMessage
 * @typedef {{type: 'document_sign_failed', doc: string, field: string, from: string, code: string}} DocumentSignFailedMessage
 * @typedef {{type: 'advisor', away: boolean}} AdvisorMessage
 * @typedef {{
 *   welcome: WelcomeMessage,
 *   roster: RosterMessage,
 *   state: StateMessage,
 *   answer: AnswerMessage,
 *   offer: OfferMessage,
 *   candidate: CandidateMessage,
 *   error: ErrorMessage,
 *   pong: PongMessage,
 *   chat: ChatMessage,
 *   chat_history: ChatHistoryMessage,
 *   receipt: ReceiptMessage,
 *   deleted: DeletedMessage,
 *   document: DocumentMessage,
 *   document_progress: DocumentProgressMessage,
 *   document_sign_failed: DocumentSignFailedMessage,
 *   advisor: AdvisorMessage
 * }} ServerMessageMap
 */

/**
 * Client → server messages (without "id", which send() adds).
 * @typedef {{type: 'offer', sdp: string}
 *   | {type: 'answer', sdp: string}
 *   | {type: 'candidate', target: Target, candidate: RTCIceCandidateInit}
 *   | {type: 'media', audio: boolean, video: boolean, screen: boolean, tracks: Record<string, TrackSource>, e2ee?: boolean}
 *   | {type: 'admit', participant: string}
 *   | {type: 'reject', participant: string}
 *   | {type: 'chat', msg: string, body: string}
 *   | {type: 'receipt', msg: string}
 *   | {type: 'delete', msg: string}
 *   | {type: 'leave'}
 *   | {type: 'ping'}
 *   | {type: 'restart_ice'}} ClientMessage
 */

/**
 * @typedef {{
 *   code: number,
 *   reason: string,
 *   wasClean: boolean,
 *   beforeWelcome: boolean,
 *   byClient: boolean,
 *   meaning: CloseMeaning
 * }} CloseInfo
 * @typedef {'normal'|'replaced'|'rejected'|'ended'|'too_slow'|'policy'|'too_large'|'connect_failed'|'lost'} CloseMeaning
 */

/**
 * @typedef {ServerMessageMap & {
 *   open: null,
 *   close: CloseInfo,
 *   message: {type: string} & Record<string, unknown>
 * }} SignalingEvents
 */

/** Close codes of PROTOCOL.md. */
export const CloseCode = Object.freeze({
  NORMAL: 1000,
  POLICY: 1008,
  TOO_BIG: 1009,
  REPLACED: 4001,
  REJECTED: 4003,
  ENDED: 4004,
  TOO_SLOW: 4008,
  /** Sent by this client when it gives up on a connection (dead socket, failed ICE) to reconnect. */
  CLIENT_RECONNECT: 4000,
});

/**
 * Close codes after which the client must not reconnect on its own
 * (PROTOCOL.md, "Reconnecting"); every other close is retried.
 * @param {number} code
 * @returns {boolean}
 */
export function isFinalClose(code) {
  return code === CloseCode.NORMAL || code === CloseCode.REPLACED || code === CloseCode.REJECTED || code === CloseCode.ENDED;
}

/** Backoff of reconnect attempts: 0.5 s doubling up to 8 s (PROTOCOL.md). */
export const RETRY_BASE_MS = 500;
export const RETRY_MAX_MS = 8000;

/**
 * The wait before reconnect attempt n (1, 2, …): 0.5 s, 1 s, 2 s, 4 s,
 * 8 s, 8 s … with "equal jitter" (between half and all of it), so that
 * clients dropped together do not come back in lockstep.
 * @param {number} attempt 1-based
 * @param {() => number} [random] in [0, 1)
 * @returns {number} milliseconds
 */
export function retryDelay(attempt, random = Math.random) {
  const n = Math.max(1, Math.floor(attempt));
  const nominal = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.min(n - 1, 16));
  return Math.round(nominal / 2 + (random() * nominal) / 2);
}

/**
 * What a close code means for the user.
 * @param {number} code
 * @param {boolean} beforeWelcome
 * @returns {CloseMeaning}
 */
export function closeMeaning(code, beforeWelcome) {
  switch (code) {
    case CloseCode.NORMAL: return 'normal';
    case CloseCode.REPLACED: return 'replaced';
    case CloseCode.REJECTED: return 'rejected';
    case CloseCode.ENDED: return 'ended';
    case CloseCode.TOO_SLOW: return 'too_slow';
    case CloseCode.POLICY: return 'policy';
    case CloseCode.TOO_BIG: return 'too_large';
    default: return beforeWelcome ? 'connect_failed' : 'lost';
  }
}

/** Server message types this client understands. */
const KNOWN = new Set(['welcome', 'roster', 'state', 'answer', 'offer', 'candidate', 'error', 'pong', 'chat', 'chat_history', 'receipt', 'deleted', 'document', 'document_progress', 'document_sign_failed', 'advisor']);

/**
 * The WebSocket URL for a consultation, on this page's own origin.
 * @param {string} consultationId
 * @returns {string}
 */
export function socketUrl(consultationId) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws/${encodeURIComponent(consultationId)}`;
}

/**
 * One signaling connection.
 * @extends {Emitter<SignalingEvents>}
 */
export class Signaling extends Emitter {
  /** @param {string} consultationId */
  constructor(consultationId) {
    super();
    this.consultationId = consultationId;
    /** @type {WebSocket|null} */
    this.ws = null;
    /** @type {'idle'|'connecting'|'open'|'closed'} */
    this.status = 'idle';
    /** @type {WelcomeMessage|null} */
    this.welcome = null;
    this._nextId = 1;
    this._closingByClient = false;
    /** @type {CloseInfo|null} */
    this.closeInfo = null;
  }

  /**
   * Opens the socket; resolves with the welcome message, rejects with a
   * SignalingClosedError when the socket closes before it.
   * @returns {Promise<WelcomeMessage>}
   */
  connect() {
    if (this.status !== 'idle') return Promise.reject(new Error('signaling: connect called twice'));
    this.status = 'connecting';
    return new Promise((resolve, reject) => {
      /** @type {WebSocket} */
      let ws;
      try {
        ws = new WebSocket(socketUrl(this.consultationId), SUBPROTOCOL);
      } catch (err) {
        this.status = 'closed';
        reject(err);
        return;
      }
      this.ws = ws;
      ws.addEventListener('open', () => {
        if (ws.protocol && ws.protocol !== SUBPROTOCOL) {
          console.warn('parley: server chose subprotocol', ws.protocol);
        }
        this.status = 'open';
        this.emit('open', null);
      });
      ws.addEventListener('message', (ev) => {
        const msg = this._parse(ev.data);
        if (!msg) return;
        if (msg.type === 'welcome' && !this.welcome) {
          this.welcome = /** @type {WelcomeMessage} */ (msg);
          resolve(this.welcome);
        }
        this._dispatch(msg);
      });
      ws.addEventListener('close', (ev) => {
        this.status = 'closed';
        const beforeWelcome = this.welcome === null;
        const info = {
          code: ev.code,
          reason: ev.reason,
          wasClean: ev.wasClean,
          beforeWelcome,
          byClient: this._closingByClient,
          meaning: closeMeaning(ev.code, beforeWelcome),
        };
        this.closeInfo = info;
        if (beforeWelcome) reject(new SignalingClosedError(info));
        this.emit('close', info);
      });
      // 'error' is always followed by 'close'; nothing to do here.
      ws.addEventListener('error', () => {});
    });
  }

  /**
   * @param {unknown} data
   * @returns {({type: string} & Record<string, unknown>)|null}
   */
  _parse(data) {
    if (typeof data !== 'string') {
      console.warn('parley: ignoring binary frame');
      return null;
    }
    /** @type {unknown} */
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('parley: ignoring non-JSON frame');
      return null;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return null;
    const obj = /** @type {Record<string, unknown>} */ (msg);
    if (typeof obj.type !== 'string') return null;
    return /** @type {{type: string} & Record<string, unknown>} */ (obj);
  }

  /** @param {{type: string} & Record<string, unknown>} msg */
  _dispatch(msg) {
    this.emit('message', msg);
    if (!KNOWN.has(msg.type)) {
      console.warn('parley: unknown message type', msg.type);
      return;
    }
    const type = /** @type {keyof ServerMessageMap} */ (msg.type);
    this.emit(type, /** @type {any} */ (msg));
  }

  /**
   * Sends a message with a fresh id.
   * @param {ClientMessage} msg
   * @returns {number|null} the id, or null when the socket is not open
   */
  send(msg) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN) return null;
    const id = this._nextId++;
    ws.send(JSON.stringify({ ...msg, id }));
    return id;
  }

  /** True while messages can be sent. */
  get isOpen() {
    return this.ws !== null && this.ws.readyState === WebSocket.OPEN;
  }

  /**
   * Leaves for good: sends "leave" and closes if the server has not
   * closed within a second.
   */
  leave() {
    if (this.send({ type: 'leave' }) === null) {
      this.close();
      return;
    }
    this._closingByClient = true;
    setTimeout(() => this.close(), 1000);
  }

  /**
   * Closes the socket from this side.
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    this._closingByClient = true;
    const ws = this.ws;
    if (ws && (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)) {
      try {
        ws.close(code, reason);
      } catch {
        // ignore
      }
    }
  }
}

/** The socket closed before the welcome message arrived. */
export class SignalingClosedError extends Error {
  /** @param {CloseInfo} info */
  constructor(info) {
    super(`signaling closed before welcome (code ${info.code})`);
    this.name = 'SignalingClosedError';
    this.info = info;
  }
}

/**
 * Splits a subscriber stream id "<participantId>~<trackId>".
 * @param {string} streamId
 * @returns {{participantId: string, trackId: string}|null}
 */
export function parseStreamId(streamId) {
  const i = streamId.indexOf('~');
  if (i <= 0 || i === streamId.length - 1) return null;
  return { participantId: streamId.slice(0, i), trackId: streamId.slice(i + 1) };
}

// ------------------------------------------------------------- reconnecting

/**
 * Why a link ended for good.
 * - normal, replaced, rejected, ended: the server's final close codes;
 * - unauthorized, gone: the REST API says the cookie no longer admits
 *   anyone, or the consultation is no longer there for this user;
 * - gave_up: the server is reachable but keeps refusing the socket (the
 *   grace period is over, the session is gone);
 * - connect_failed: the very first connection failed (the page decides).
 * @typedef {'normal'|'replaced'|'rejected'|'ended'|'unauthorized'|'gone'|'gave_up'|'connect_failed'} FinalReason
 */

/**
 * What the REST API says after the server refused a socket before the
 * upgrade, which browsers see only as close code 1006 (PROTOCOL.md):
 * `final` when it will never work again, else whether the server answered
 * at all (`reachable`: then the refusal was real; not: the network).
 * @typedef {{final: FinalReason, reachable?: boolean} | {final?: undefined, reachable: boolean}} RefusalCheck
 */

/**
 * The state machine of a link:
 *   idle → connecting → connected → reconnecting → connected …
 *   any → failed (final reason) | closed (leave or close by this client)
 * In `reconnecting`, `attempt` is the attempt running or waiting
 * (1-based), `nextRetryAt` the performance.now() time the waiting one
 * starts (null while one runs), `since` when the connection was lost.
 * @typedef {'idle'|'connecting'|'connected'|'reconnecting'|'failed'|'closed'} LinkPhase
 * @typedef {{
 *   phase: LinkPhase,
 *   attempt: number,
 *   nextRetryAt: number|null,
 *   since: number|null,
 *   lastAttemptAt: number|null,
 *   reason: FinalReason|null,
 *   lost: string|null,
 *   close: CloseInfo|null
 * }} LinkState
 * @typedef {ServerMessageMap & {
 *   link: LinkState,
 *   message: {type: string} & Record<string, unknown>
 * }} LinkEvents
 */

/** With nothing received for this long, the link sends a ping. */
const HEARTBEAT_MS = 5000;
/** A ping unanswered (nothing received at all) for this long: the socket is dead. */
const PONG_TIMEOUT_MS = 5000;
/**
 * The server answers the REST API but refuses the socket for this long:
 * give up. A browser cannot tell a refusal that will pass (503 while the
 * session store is unreachable) from one that will not (401: the grace
 * period is over and the session gone); both are close code 1006. The
 * refusals start no earlier than the loss of the connection, so 90 s
 * never gives up within the default grace period (60 s); after it the
 * server has let the participant go anyway.
 */
export const REFUSED_GIVE_UP_MS = 90000;

/**
 * The signaling connection of one participant for the whole call. It
 * opens a Signaling socket, forwards the server's messages, and when the
 * socket drops without a final close code it reconnects to the same
 * /ws/<id> (the cookie identifies the participant again) with backoff
 * until a welcome arrives or the answer is final. Each welcome is emitted
 * as a `welcome` event: the first one, and one per reconnect.
 *
 * It also notices dead sockets the browser does not report: an
 * application-level ping after 5 s of silence, and the browser's
 * `offline` event. drop() is how other layers (a failed ICE connection)
 * ask for a reconnect.
 * @extends {Emitter<LinkEvents>}
 */
export class SignalingLink extends Emitter {
  /**
   * @param {{
   *   consultationId: string,
   *   checkRefusal?: (info: CloseInfo) => Promise<RefusalCheck>
   * }} opts checkRefusal asks the REST API why a socket was refused
   */
  constructor(opts) {
    super();
    this.consultationId = opts.consultationId;
    this._checkRefusal = opts.checkRefusal ?? (async () => ({ reachable: false }));
    /** @type {Signaling|null} the socket of the current attempt or connection */
    this._sig = null;
    /** @type {LinkState} */
    this.state = { phase: 'idle', attempt: 0, nextRetryAt: null, since: null, lastAttemptAt: null, reason: null, lost: null, close: null };
    /** Number of welcomes received (1 + successful reconnects). */
    this.welcomes = 0;
    this._timer = 0;
    this._heartbeat = 0;
    this._lastRx = 0;
    /** @type {number|null} when the unanswered ping was sent */
    this._pingAt = null;
    /** @type {number|null} since when the server refuses while reachable */
    this._refusedSince = null;
    /** Test hook: attempts before this performance.now() time fail. */
    this._blockedUntil = 0;
    this._onOnline = () => this.retryNow();
    this._onOffline = () => {
      this.drop('offline');
    };
  }

  /** Opens the first connection. */
  start() {
    if (this.state.phase !== 'idle') return;
    window.addEventListener('online', this._onOnline);
    window.addEventListener('offline', this._onOffline);
    this._set({ phase: 'connecting', attempt: 0 });
    this._open();
  }

  /** True while connected (welcome received) and messages can be sent. */
  get ready() {
    return this.state.phase === 'connected' && this._sig !== null && this._sig.isOpen;
  }

  /**
   * Sends on the current connection; null while not connected (nothing
   * is queued: after a reconnect everything is negotiated afresh).
   * @param {ClientMessage} msg
   * @returns {number|null}
   */
  send(msg) {
    if (!this.ready || !this._sig) return null;
    return this._sig.send(msg);
  }

  /**
   * Gives up on the current connection and reconnects: closes the socket
   * with 4000 (not `leave`: the server keeps the participant
   * `reconnecting`) without waiting for the close handshake, which a dead
   * network never completes.
   * @param {string} why short reason, sent as the close reason
   * @returns {boolean} whether a connection was dropped
   */
  drop(why) {
    if (this.state.phase !== 'connected') return false;
    const sig = this._sig;
    this._sig = null;
    this._stopHeartbeat();
    sig?.close(CloseCode.CLIENT_RECONNECT, why.slice(0, 100));
    this._lost(why, null);
    return true;
  }

  /** While waiting for the next attempt: start it now (e.g. back online, or the user asks). */
  retryNow() {
    if (this.state.phase !== 'reconnecting' || !this._timer) return;
    clearTimeout(this._timer);
    this._timer = 0;
    this._attempt();
  }

  /**
   * Test hook: behaves as if the network were gone for ms milliseconds:
   * drops the connection (without `leave`) and lets every reconnect
   * attempt in that time fail, then reconnects as usual.
   * @param {number} ms
   */
  simulateNetworkLoss(ms) {
    this._blockedUntil = performance.now() + Math.max(0, ms);
    this.drop('simulated network loss');
  }

  /** Leaves for good: sends `leave` (when connected) and stops. */
  leave() {
    const sig = this._sig;
    this._shutdown('closed', null, null);
    sig?.leave();
  }

  /**
   * Stops without `leave` (the server keeps the participant for its grace
   * period, as for a closed tab).
   * @param {number} [code]
   * @param {string} [reason]
   */
  close(code = 1000, reason = '') {
    const sig = this._sig;
    this._shutdown('closed', null, null);
    sig?.close(code, reason);
  }

  // ------------------------------------------------------------- internals

  /** @param {Partial<LinkState>} patch */
  _set(patch) {
    this.state = { ...this.state, ...patch };
    this.emit('link', { ...this.state });
  }

  _open() {
    const sig = new Signaling(this.consultationId);
    this._sig = sig;
    this.state.lastAttemptAt = performance.now();
    sig.on('message', (m) => {
      if (this._sig === sig) this._onMessage(m);
    });
    sig.on('close', (info) => {
      if (this._sig !== sig) return;
      this._sig = null;
      void this._onClose(info);
    });
    sig.connect().catch((err) => {
      // A SignalingClosedError also arrives as a close event; anything
      // else (the WebSocket constructor threw) does not.
      if (err instanceof SignalingClosedError || this._sig !== sig) return;
      this._sig = null;
      void this._onClose({ code: 1006, reason: '', wasClean: false, beforeWelcome: true, byClient: false, meaning: 'connect_failed' });
    });
  }

  /** @param {{type: string} & Record<string, unknown>} msg */
  _onMessage(msg) {
    this._lastRx = performance.now();
    this._pingAt = null;
    if (msg.type === 'welcome' && this.state.phase !== 'connected') {
      this.welcomes++;
      this._refusedSince = null;
      this._blockedUntil = 0;
      this._set({ phase: 'connected', attempt: 0, nextRetryAt: null, since: null, reason: null, lost: null, close: null });
      this._startHeartbeat();
    }
    this.emit('message', msg);
    if (!KNOWN.has(msg.type)) return; // Signaling warned already
    const type = /** @type {keyof ServerMessageMap} */ (msg.type);
    this.emit(type, /** @type {any} */ (msg));
  }

  /** @param {CloseInfo} info */
  async _onClose(info) {
    this._stopHeartbeat();
    const phase = this.state.phase;
    if (phase === 'closed' || phase === 'failed' || phase === 'idle') return;
    if (isFinalClose(info.code)) {
      this._fail(/** @type {FinalReason} */ (closeMeaning(info.code, false)), info);
      return;
    }
    if (phase === 'connected') {
      this._lost(`closed ${info.code}`, info);
      return;
    }
    if (phase === 'connecting') {
      // The very first connection: the page decides what a refusal means.
      this._fail('connect_failed', info);
      return;
    }
    // A reconnect attempt failed before its welcome.
    if (info.code === 1006) {
      /** @type {RefusalCheck} */
      let check;
      try {
        check = await this._checkRefusal(info);
      } catch {
        check = { reachable: false };
      }
      if (this.state.phase !== 'reconnecting') return; // stopped meanwhile
      if (check.final) {
        this._fail(check.final, info);
        return;
      }
      const now = performance.now();
      if (check.reachable) {
        this._refusedSince ??= now;
        if (now - this._refusedSince >= REFUSED_GIVE_UP_MS) {
          this._fail('gave_up', info);
          return;
        }
      } else {
        this._refusedSince = null;
      }
    }
    this._set({ attempt: this.state.attempt + 1, close: info });
    this._schedule();
  }

  /**
   * @param {string} why
   * @param {CloseInfo|null} info
   */
  _lost(why, info) {
    this._set({ phase: 'reconnecting', attempt: 1, nextRetryAt: null, since: performance.now(), lost: why, close: info });
    this._schedule();
  }

  _schedule() {
    clearTimeout(this._timer);
    const delay = retryDelay(this.state.attempt);
    this._set({ nextRetryAt: performance.now() + delay });
    this._timer = window.setTimeout(() => {
      this._timer = 0;
      this._attempt();
    }, delay);
  }

  _attempt() {
    if (this.state.phase !== 'reconnecting') return;
    this._set({ nextRetryAt: null });
    if (performance.now() < this._blockedUntil) {
      // Simulated network loss: this attempt fails like an unreachable server.
      this.state.lastAttemptAt = performance.now();
      this._set({ attempt: this.state.attempt + 1 });
      this._schedule();
      return;
    }
    this._open();
  }

  /**
   * @param {FinalReason} reason
   * @param {CloseInfo|null} info
   */
  _fail(reason, info) {
    const sig = this._sig;
    this._shutdown('failed', reason, info);
    sig?.close();
  }

  /**
   * @param {'failed'|'closed'} phase
   * @param {FinalReason|null} reason
   * @param {CloseInfo|null} info
   */
  _shutdown(phase, reason, info) {
    this._sig = null;
    clearTimeout(this._timer);
    this._timer = 0;
    this._stopHeartbeat();
    window.removeEventListener('online', this._onOnline);
    window.removeEventListener('offline', this._onOffline);
    if (this.state.phase === 'failed' || this.state.phase === 'closed') return;
    this._set({ phase, nextRetryAt: null, reason, close: info ?? this.state.close });
  }

  _startHeartbeat() {
    this._stopHeartbeat();
    this._lastRx = performance.now();
    this._pingAt = null;
    this._heartbeat = window.setInterval(() => this._beat(), 1000);
  }

  _stopHeartbeat() {
    clearInterval(this._heartbeat);
    this._heartbeat = 0;
  }

  _beat() {
    if (this.state.phase !== 'connected' || !this._sig) return;
    const now = performance.now();
    if (this._pingAt !== null) {
      if (now - this._pingAt >= PONG_TIMEOUT_MS) this.drop('no answer to ping');
      return;
    }
    if (now - this._lastRx >= HEARTBEAT_MS && this._sig.send({ type: 'ping' }) !== null) this._pingAt = now;
  }
}
