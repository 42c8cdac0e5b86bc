// @ts-check
/**
 * One participant's call, without DOM: wires the signaling connection
 * (protocol.js), the peer connections (rtc.js) and the local devices
 * (devices.js), keeps the roster and own state, and reports changes as
 * events for the view (call-ui.js). Used by the advisor and the customer
 * pages alike.
 * @module
 */

import { Emitter } from './events.js';
import { SignalingLink, SignalingClosedError } from './protocol.js';
import { RtcSession, RtcError } from './rtc.js';
import { canShareScreen, deviceErrorCode } from './devices.js';
import * as debug from './debug.js';
import { ChatSession } from './chat.js';

/**
 * @typedef {import('./protocol.js').Participant} Participant
 * @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage
 * @typedef {import('./protocol.js').TrackSource} TrackSource
 * @typedef {import('./protocol.js').CloseInfo} CloseInfo
 * @typedef {import('./protocol.js').LinkState} LinkState
 * @typedef {import('./protocol.js').RefusalCheck} RefusalCheck
 * @typedef {import('./rtc.js').RemoteTrack} RemoteTrack
 * @typedef {import('./devices.js').LocalMedia} LocalMedia
 * @typedef {import('./devices.js').DeviceKind} DeviceKind
 *
 * @typedef {'connecting'|'waiting'|'joined'|'rejected'|'ended'|'left'} SelfState
 * Why the call ended for this page (each has a text "close.<reason>"):
 * replaced = opened in another window (4001); failed = could not
 * reconnect (the server keeps refusing); unauthorized / gone = the
 * cookie or the access is no longer valid.
 * e2ee_unsupported = this browser cannot encrypt and the call requires it.
 * @typedef {'ended'|'rejected'|'left'|'replaced'|'failed'|'unauthorized'|'gone'|'e2ee_unsupported'} EndReason
 * @typedef {'connecting'|'connected'|'unstable'|'failed'|'reconnecting'} Connection
 * @typedef {{
 *   self: SelfState,
 *   roster: Participant[],
 *   tracks: null,
 *   connection: Connection,
 *   link: LinkState,
 *   reconnected: null,
 *   error: {ns: 'ws.error'|'error', code: string},
 *   end: {reason: EndReason, close: CloseInfo|null},
 *   local: null,
 *   firstframe: RemoteTrack
 * }} CallEvents
 */

/** A peer connection "disconnected" this long counts as failed: restart ICE. */
const ICE_DISCONNECTED_MS = 5000;
/** Network change events within this long make one ICE restart. */
const NETWORK_CHANGE_SETTLE_MS = 100;
/** An ICE restart that has not brought the connections back after this long: reconnect. */
const ICE_RESTART_MS = 10000;

/**
 * One participant's call. Its connection is a small state machine (the
 * link of protocol.js): connecting → connected → reconnecting (attempt n,
 * next retry at …) → connected … or failed (final reason). On every
 * welcome after the first one (a reconnect) it closes the old peer
 * connections and makes new ones, publishing the same local tracks
 * (microphone, camera and a running screen share) with the same mute
 * states: the devices are not asked for again. A publish or subscribe
 * connection that fails (or stays disconnected for 5 s) is treated like a
 * dropped socket: the link closes it with 4000 and reconnects.
 * @extends {Emitter<CallEvents>}
 */
export class CallSession extends Emitter {
  /**
   * @param {{
   *   consultationId: string,
   *   media: LocalMedia,
   *   mediaReady?: Promise<unknown>,
   *   checkRefusal?: (info: CloseInfo) => Promise<RefusalCheck>,
   *   e2ee?: import('./e2ee.js').E2EEMedia|null,
   *   chatSecret?: Uint8Array|null
   * }} opts mediaReady: publishing waits for it (the devices may still be
   *   starting while the socket connects); checkRefusal: see SignalingLink;
   *   e2ee: end-to-end encryption of the media (web/E2EE.md);
   *   chatSecret: the call secret S for the encrypted chat (none: no chat)
   */
  constructor(opts) {
    super();
    /** @type {import('./e2ee.js').E2EEMedia|null} */
    this.e2ee = opts.e2ee ?? null;
    const e2ee = this.e2ee;
    if (e2ee) debug.setE2EE(() => e2ee.debug());
    this.consultationId = opts.consultationId;
    this.media = opts.media;
    this.mediaReady = (opts.mediaReady ?? Promise.resolve()).catch(() => {});
    this.link = new SignalingLink({ consultationId: opts.consultationId, checkRefusal: opts.checkRefusal });
    /** @type {RtcSession|null} the peer connections of the current signaling connection */
    this.rtc = null;
    /** @type {RtcSession|null} the session that publishing was started on */
    this._publishingRtc = null;
    /** @type {WelcomeMessage|null} */
    this.welcome = null;
    /** @type {Participant|null} */
    this.self = null;
    /** @type {SelfState} */
    this.state = 'connecting';
    /** @type {Participant[]} */
    this.participants = [];
    /** @type {Map<string, string>} participant id → last state other than reconnecting */
    this._lastState = new Map();
    /** @type {Connection} */
    this.connection = 'connecting';
    /** @type {Record<'publish'|'subscribe', RTCPeerConnectionState|null>} */
    this._pcState = { publish: null, subscribe: null };
    this._iceTimer = 0;
    /** Fallback after an ICE restart: reconnect when it has not helped. */
    this._restartTimer = 0;
    /** @type {import('./protocol.js').LinkPhase} */
    this._linkPhase = 'idle';
    /** @type {MediaStreamTrack|null} */
    this.screenTrack = null;
    this._screenBusy = false;
    this.ended = false;
    /** The server took us out because our data was erased (state left, reason erased). */
    this.erased = false;
    this._leaving = false;
    /** @type {{resolve: (w: WelcomeMessage) => void, reject: (err: Error) => void}|null} */
    this._first = null;
    /** @type {(() => void)[]} */
    this._off = [];
    debug.setState('connecting');
    /** @type {ChatSession|null} end-to-end encrypted chat, files and photos */
    this.chat = opts.chatSecret ? new ChatSession(this, opts.chatSecret) : null;
  }

  /**
   * Connects; resolves with the first welcome message. Rejects (with a
   * SignalingClosedError carrying the close info) when the first
   * connection fails; the page asks the REST API why. Later drops are
   * reconnected on their own (`link` events).
   * @returns {Promise<WelcomeMessage>}
   */
  connect() {
    const link = this.link;
    this._off.push(
      link.on('welcome', (m) => this._onWelcome(m)),
      link.on('roster', (m) => this._onRoster(m.participants)),
      link.on('state', (m) => {
        if (m.state === 'left' && m.reason === 'erased') this.erased = true;
        this._onState(m.state);
      }),
      link.on('error', (m) => this._onProtocolError(m.code)),
      link.on('link', (st) => this._onLink(st)),
    );
    debug.setController({
      // Test hook (debug.js): a network loss takes the media with it.
      simulateNetworkLoss: (ms) => {
        if (this.ended) return;
        link.simulateNetworkLoss(ms);
        this.rtc?.close();
      },
      retryNow: () => link.retryNow(),
    });
    // A network change (back online, another network): the paths ICE
    // found may be gone; restart ICE on the same connections at once.
    // One restart for the burst of events a change brings (online, then
    // the connection change).
    let netTimer = 0;
    const onNetwork = () => {
      if (netTimer) return;
      netTimer = window.setTimeout(() => {
        netTimer = 0;
        this.restartIce('network change');
      }, NETWORK_CHANGE_SETTLE_MS);
    };
    window.addEventListener('online', onNetwork);
    const conn = /** @type {{connection?: EventTarget}} */ (/** @type {unknown} */ (navigator)).connection;
    conn?.addEventListener?.('change', onNetwork);
    this._off.push(() => {
      clearTimeout(netTimer);
      window.removeEventListener('online', onNetwork);
      conn?.removeEventListener?.('change', onNetwork);
    });
    return new Promise((resolve, reject) => {
      this._first = { resolve, reject };
      link.start();
    });
  }

  /** @param {WelcomeMessage} welcome */
  _onWelcome(welcome) {
    if (this.ended) return;
    const reconnect = this.welcome !== null;
    this.welcome = welcome;
    this.self = welcome.self;
    debug.setSelf(welcome.self.id, welcome.self.role);
    const e2ee = this.e2ee;
    if (e2ee) {
      e2ee.setPolicy(welcome.e2ee === 'optional' ? 'optional' : 'required');
      if (e2ee.mode === 'none' && e2ee.policy === 'required') {
        // No silent unencrypted call: this browser cannot take part. (The
        // page's connect() stays pending; the end event shows the reason.)
        this._first = null;
        this._leaving = true;
        this.link.leave();
        this._finish('e2ee_unsupported', null);
        return;
      }
    }
    // New peer connections for the new signaling connection.
    const old = this.rtc;
    this.rtc = null;
    this._clearIceWatch();
    this._pcState = { publish: null, subscribe: null };
    old?.close();
    const rtc = new RtcSession(this.link, Array.isArray(welcome.iceServers) ? welcome.iceServers : [], welcome.iceTransportPolicy, {
      e2ee: this.e2ee,
      selfId: welcome.self.id,
    });
    this.rtc = rtc;
    debug.setRtc(rtc, (p, tr, kind) => this.sourceOf(p, tr, kind));
    this._wireRtc(rtc);
    if (reconnect) debug.markReconnected(performance.now());
    else this._wireMedia();
    if (welcome.self.state === 'joined') {
      this._setState('joined');
      this._startPublishing();
    } else {
      this._setState('waiting');
    }
    this._updateConnection();
    const first = this._first;
    this._first = null;
    first?.resolve(welcome);
    if (reconnect) this.emit('reconnected', null);
    this.emit('tracks', null);
  }

  /** @param {LinkState} st */
  _onLink(st) {
    debug.setLink(st);
    if (st.phase === 'reconnecting' && this._linkPhase !== 'reconnecting') {
      debug.markReconnecting(st.since ?? performance.now());
      this._clearIceWatch();
    }
    this._linkPhase = st.phase;
    this._updateConnection();
    this.emit('link', st);
    if (st.phase === 'failed') this._onLinkFailed(st);
  }

  /** @param {LinkState} st */
  _onLinkFailed(st) {
    const first = this._first;
    if (first) {
      // The first connection failed: the page decides (REST API).
      this._first = null;
      const info = st.close ?? { code: 1006, reason: '', wasClean: false, beforeWelcome: true, byClient: false, meaning: 'connect_failed' };
      // The devices stay on: the page may show its landing or preview.
      this._teardown(false);
      first.reject(new SignalingClosedError(info));
      return;
    }
    /** @type {EndReason} */
    let reason;
    switch (st.reason) {
      case 'replaced':
      case 'rejected':
      case 'ended':
      case 'unauthorized':
      case 'gone':
        reason = st.reason;
        break;
      case 'normal':
        reason = this._leaving ? 'left' : 'ended';
        break;
      default:
        reason = 'failed';
    }
    this._finish(reason, st.close);
  }

  /** @param {RtcSession} rtc */
  _wireRtc(rtc) {
    rtc.on('remotetrack', () => this.emit('tracks', null));
    rtc.on('remotetrackremoved', () => {
      if (rtc === this.rtc || this.rtc === null) this.emit('tracks', null);
    });
    rtc.on('firstframe', (entry) => {
      if (rtc !== this.rtc) return;
      if (entry.firstFrameAt !== null) debug.markFirstFrame(entry.key, entry.firstFrameAt);
      this.emit('firstframe', entry);
    });
    rtc.on('connection', ({ target, state }) => {
      if (rtc !== this.rtc) return;
      this._pcState[target] = state;
      this._watchIce();
      this._updateConnection();
    });
    rtc.on('error', ({ code }) => {
      if (rtc === this.rtc && this.link.ready) this.emit('error', { ns: 'ws.error', code });
    });
  }

  /**
   * A failed peer connection, or one disconnected for ICE_DISCONNECTED_MS,
   * gets an ICE restart on the same connections (PROTOCOL.md, "ICE
   * restart"); when that has not brought them back within ICE_RESTART_MS,
   * the client reconnects (new socket, new peer connections).
   */
  _watchIce() {
    const states = Object.values(this._pcState);
    if (states.includes('failed')) {
      clearTimeout(this._iceTimer);
      this._iceTimer = 0;
      if (!this._restartTimer) this.restartIce('ice failed');
      return;
    }
    if (states.includes('disconnected')) {
      if (!this._iceTimer && !this._restartTimer) {
        this._iceTimer = window.setTimeout(() => {
          this._iceTimer = 0;
          const now = Object.values(this._pcState);
          if (now.includes('disconnected') || now.includes('failed')) this.restartIce('ice disconnected');
        }, ICE_DISCONNECTED_MS);
      }
      return;
    }
    if (states.every((s) => s === null || s === 'connected' || s === 'new' || s === 'connecting')) {
      clearTimeout(this._iceTimer);
      this._iceTimer = 0;
      if (states.every((s) => s === null || s === 'connected')) {
        clearTimeout(this._restartTimer);
        this._restartTimer = 0;
      }
    }
  }

  /**
   * Restarts ICE on the current peer connections (network change, failed
   * or long-disconnected ICE). Without a signaling connection there is
   * nothing to do here: the reconnect makes new connections anyway.
   * @param {string} why for the debug log
   * @returns {boolean} whether a restart was started
   */
  restartIce(why) {
    const rtc = this.rtc;
    if (this.ended || !rtc || !this.link.ready) return false;
    if (!rtc.restartIce()) return false;
    debug.markIceRestart(performance.now(), why);
    clearTimeout(this._restartTimer);
    this._restartTimer = window.setTimeout(() => {
      this._restartTimer = 0;
      const now = Object.values(this._pcState);
      if (rtc === this.rtc && now.some((s) => s !== null && s !== 'connected')) this.link.drop('ice restart failed');
    }, ICE_RESTART_MS);
    return true;
  }

  _clearIceWatch() {
    clearTimeout(this._iceTimer);
    this._iceTimer = 0;
    clearTimeout(this._restartTimer);
    this._restartTimer = 0;
  }

  _wireMedia() {
    this._off.push(
      this.media.on('track', ({ kind, track }) => {
        const rtc = this.rtc;
        if (rtc && rtc.publishing && this.link.ready) {
          rtc.replaceTrack(kind === 'audio' ? 'audio' : 'camera', track).catch((err) => {
            if (rtc !== this.rtc) return;
            console.error('parley: replaceTrack failed', err);
            this.emit('error', { ns: 'ws.error', code: 'media_failed' });
          });
        }
        this.emit('local', null);
      }),
      this.media.on('state', ({ audioOn, videoOn }) => {
        this.rtc?.setMediaState(audioOn, videoOn);
        this.emit('local', null);
      }),
    );
  }

  /** @param {SelfState} state */
  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    debug.setState(state);
    if (state === 'joined') this._startPublishing();
    this.emit('self', state);
  }

  /** Starts publishing on the current peer connections (once per RtcSession). */
  _startPublishing() {
    const rtc = this.rtc;
    if (!rtc || this._publishingRtc === rtc || this.state !== 'joined') return;
    this._publishingRtc = rtc;
    const run = async () => {
      await this.mediaReady;
      if (rtc !== this.rtc || this.ended) return;
      await rtc.startPublishing({
        audio: this.media.audioTrack,
        video: this.media.videoTrack,
        screen: this.screenTrack,
        audioOn: this.media.audioOn,
        videoOn: this.media.videoOn,
      });
      this.emit('local', null);
    };
    run().catch((err) => {
      // A session replaced by a reconnect fails its pending offer: not news.
      if (this.ended || rtc !== this.rtc || !this.link.ready) return;
      console.error('parley: publishing failed', err);
      this.emit('error', { ns: 'ws.error', code: err instanceof RtcError ? err.code : 'media_failed' });
    });
  }

  /** @param {Participant[]} list */
  _onRoster(list) {
    if (!Array.isArray(list)) return;
    this.participants = list.filter((p) => p && typeof p.id === 'string');
    for (const p of this.participants) if (p.state !== 'reconnecting') this._lastState.set(p.id, p.state);
    debug.noteRoster(this.participants);
    const me = this.participants.find((p) => p.id === this.self?.id);
    if (me) this.self = me;
    this.e2ee?.noteParticipants(this.participants.filter((p) => this.inCall(p)));
    this.emit('roster', this.participants);
    // Sources may have become known for tracks already received.
    this.emit('tracks', null);
  }

  /** @param {string} state */
  _onState(state) {
    switch (state) {
      case 'joined':
        this._setState('joined');
        this._startPublishing();
        break;
      case 'rejected':
        this._finish('rejected', null);
        break;
      case 'ended':
        this._finish('ended', null);
        break;
      case 'left':
        this._finish('left', null);
        break;
      default:
        console.warn('parley: unknown state', state);
    }
  }

  /** @param {string} code */
  _onProtocolError(code) {
    // Errors answering a publish offer are reported by the RTC layer;
    // "replaced" announces close code 4001, which ends the call view.
    if (code === 'replaced') return;
    this.emit('error', { ns: 'ws.error', code });
  }

  /**
   * @param {EndReason} reason
   * @param {CloseInfo|null} close
   */
  _finish(reason, close) {
    if (this.ended) return;
    this.state = reason === 'rejected' ? 'rejected' : reason === 'left' ? 'left' : 'ended';
    debug.setState(this.state);
    this._teardown();
    this.emit('end', { reason, close });
  }

  /**
   * Stops everything on this side (peer connections, socket, and the
   * devices unless told otherwise).
   * @param {boolean} [stopMedia]
   */
  _teardown(stopMedia = true) {
    this.ended = true;
    this._clearIceWatch();
    this._stopScreenTrack();
    this.rtc?.close();
    this.e2ee?.close();
    this.chat?.dispose();
    if (stopMedia) this.media.stop();
    if (this.link.state.phase !== 'failed' && this.link.state.phase !== 'closed') this.link.close();
    for (const off of this._off) off();
    this._off = [];
    debug.setController(null);
  }

  _updateConnection() {
    /** @type {Connection} */
    let c;
    const phase = this.link.state.phase;
    const states = Object.values(this._pcState).filter((s) => s !== null);
    if (phase === 'reconnecting') c = 'reconnecting';
    else if (phase !== 'connected') c = 'connecting';
    else if (states.includes('failed')) c = 'failed';
    else if (states.includes('disconnected')) c = 'unstable';
    else if (states.some((s) => s === 'new' || s === 'connecting') && !states.includes('connected')) c = 'connecting';
    else c = 'connected';
    if (c !== this.connection) {
      this.connection = c;
      this.emit('connection', c);
    }
  }

  // --------------------------------------------------------------- queries

  /** Remote tracks currently received. @returns {RemoteTrack[]} */
  remoteTracks() {
    return this.rtc ? [...this.rtc.remote.values()] : [];
  }

  /**
   * The source of a remote track, from the roster (default by kind).
   * @param {string} participantId
   * @param {string} trackId
   * @param {'audio'|'video'} kind
   * @returns {TrackSource}
   */
  sourceOf(participantId, trackId, kind) {
    const p = this.participants.find((x) => x.id === participantId);
    const src = p?.tracks?.[trackId];
    if (src === 'audio' || src === 'camera' || src === 'screen') return src;
    return kind === 'audio' ? 'audio' : 'camera';
  }

  /**
   * Whether a participant is in the call: joined, or reconnecting after
   * having been joined. (The roster says only "reconnecting"; whether they
   * were waiting or joined before is what this page saw last.)
   * @param {Participant} p
   * @returns {boolean}
   */
  inCall(p) {
    return p.state === 'joined' || (p.state === 'reconnecting' && this._lastState.get(p.id) !== 'waiting');
  }

  /**
   * Whether a participant waits for admission: waiting, or reconnecting
   * from the waiting room (an advisor may admit them meanwhile).
   * @param {Participant} p
   * @returns {boolean}
   */
  isWaiting(p) {
    return p.state === 'waiting' || (p.state === 'reconnecting' && this._lastState.get(p.id) === 'waiting');
  }

  /** @param {string} id @returns {Participant|undefined} */
  participant(id) {
    return this.participants.find((p) => p.id === id);
  }

  get sharingScreen() {
    return this.screenTrack !== null;
  }

  // --------------------------------------------------------------- actions

  /** @param {string} participantId */
  admit(participantId) {
    debug.markAdmitSent(participantId);
    if (this.link.send({ type: 'admit', participant: participantId }) === null) {
      this.emit('error', { ns: 'ws.error', code: 'closed' });
    }
  }

  /** @param {string} participantId */
  reject(participantId) {
    if (this.link.send({ type: 'reject', participant: participantId }) === null) {
      this.emit('error', { ns: 'ws.error', code: 'closed' });
    }
  }

  toggleMic() {
    this.media.setAudioOn(!this.media.audioOn);
  }

  toggleCamera() {
    this.media.setVideoOn(!this.media.videoOn);
  }

  /**
   * Starts or stops screen sharing. A user cancelling the browser's picker
   * is not an error.
   * @returns {Promise<void>}
   */
  async toggleScreen() {
    if (this._screenBusy || this.ended) return;
    if (this.screenTrack) {
      // Stopping works while reconnecting too: the next peer connections
      // will not carry it.
      this._screenBusy = true;
      const rtc = this.rtc;
      this._stopScreenTrack();
      this.emit('local', null);
      try {
        if (rtc && this.link.ready) await rtc.stopScreenShare();
      } catch (err) {
        if (rtc === this.rtc && this.link.ready) console.error('parley: stopping the screen share failed', err);
      } finally {
        this._screenBusy = false;
      }
      return;
    }
    const rtc = this.rtc;
    if (!rtc || !rtc.publishing || !this.link.ready) return;
    this._screenBusy = true;
    try {
      if (!canShareScreen()) {
        this.emit('error', { ns: 'error', code: 'screen_unsupported' });
        return;
      }
      /** @type {MediaStream} */
      let stream;
      try {
        stream = await navigator.mediaDevices.getDisplayMedia({
          video: { frameRate: { ideal: 15, max: 30 } },
          audio: false,
        });
      } catch (err) {
        if (deviceErrorCode(err) === 'denied') return; // picker cancelled
        throw err;
      }
      const track = stream.getVideoTracks()[0];
      if (!track) return;
      if (this.ended || rtc !== this.rtc || !this.link.ready) {
        // Ended, or the connection dropped while the picker was open.
        track.stop();
        return;
      }
      this.screenTrack = track;
      track.addEventListener('ended', () => {
        // Stopped from the browser's own "stop sharing" bar.
        if (this.screenTrack === track) void this.toggleScreen();
      });
      this.emit('local', null);
      await rtc.startScreenShare(track);
    } catch (err) {
      // Published on peer connections that a reconnect replaced: the new
      // ones carry the screen track already.
      if (rtc !== this.rtc && this.screenTrack) return;
      console.error('parley: screen share failed', err);
      this._stopScreenTrack();
      this.emit('local', null);
      this.emit('error', { ns: 'error', code: err instanceof RtcError ? err.code : 'screen_failed' });
    } finally {
      this._screenBusy = false;
    }
  }

  _stopScreenTrack() {
    const t = this.screenTrack;
    this.screenTrack = null;
    t?.stop();
  }

  /**
   * Switches camera or microphone.
   * @param {DeviceKind} kind
   * @param {string} deviceId
   */
  async useDevice(kind, deviceId) {
    try {
      await this.media.useDevice(kind, deviceId);
    } catch (code) {
      this.emit('error', { ns: 'error', code: typeof code === 'string' ? `device_${code}` : 'device_switch' });
    }
  }

  /** Leaves for good. */
  leave() {
    if (this.ended) return;
    this._leaving = true;
    this.link.leave();
    this._finish('left', null);
  }

  /** Drops everything without `leave` (the server keeps the participant for its grace period). */
  dispose() {
    if (this.ended) return;
    this.link.close(4000, 'disposed');
    this._teardown();
  }
}
