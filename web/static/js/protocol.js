// @ts-check
/**
 * Client side of the signaling protocol v1 (signaling/PROTOCOL.md): one
 * WebSocket per participant with the subprotocol "parley.v1", JSON text
 * frames, request ids echoed as "ref", typed event dispatch.
 *
 * All WebSocket handling lives here (and RTCPeerConnection handling in
 * rtc.js) so that reconnecting with backoff can be added in one place.
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
 *   tracks: Record<string, TrackSource>
 * }} Participant
 */

/**
 * Server → client messages.
 * @typedef {{type: 'welcome', protocol: number, self: Participant, consultation: {id: string, title: string, company: string}, iceServers: RTCIceServer[]}} WelcomeMessage
 * @typedef {{type: 'roster', participants: Participant[]}} RosterMessage
 * @typedef {{type: 'state', state: SelfState, reason?: string}} StateMessage
 * @typedef {{type: 'answer', sdp: string, ref?: MessageId}} AnswerMessage
 * @typedef {{type: 'offer', sdp: string}} OfferMessage
 * @typedef {{type: 'candidate', target: Target, candidate: RTCIceCandidateInit}} CandidateMessage
 * @typedef {{type: 'error', code: string, message: string, ref?: MessageId}} ErrorMessage
 * @typedef {{type: 'pong', ref?: MessageId}} PongMessage
 * @typedef {{
 *   welcome: WelcomeMessage,
 *   roster: RosterMessage,
 *   state: StateMessage,
 *   answer: AnswerMessage,
 *   offer: OfferMessage,
 *   candidate: CandidateMessage,
 *   error: ErrorMessage,
 *   pong: PongMessage
 * }} ServerMessageMap
 */

/**
 * Client → server messages (without "id", which send() adds).
 * @typedef {{type: 'offer', sdp: string}
 *   | {type: 'answer', sdp: string}
 *   | {type: 'candidate', target: Target, candidate: RTCIceCandidateInit}
 *   | {type: 'media', audio: boolean, video: boolean, screen: boolean, tracks: Record<string, TrackSource>}
 *   | {type: 'admit', participant: string}
 *   | {type: 'reject', participant: string}
 *   | {type: 'leave'}
 *   | {type: 'ping'}} ClientMessage
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
});

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
const KNOWN = new Set(['welcome', 'roster', 'state', 'answer', 'offer', 'candidate', 'error', 'pong']);

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
