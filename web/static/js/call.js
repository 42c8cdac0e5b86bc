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
import { Signaling } from './protocol.js';
import { RtcSession, RtcError } from './rtc.js';
import { canShareScreen, deviceErrorCode } from './devices.js';
import * as debug from './debug.js';

/**
 * @typedef {import('./protocol.js').Participant} Participant
 * @typedef {import('./protocol.js').WelcomeMessage} WelcomeMessage
 * @typedef {import('./protocol.js').TrackSource} TrackSource
 * @typedef {import('./protocol.js').CloseInfo} CloseInfo
 * @typedef {import('./rtc.js').RemoteTrack} RemoteTrack
 * @typedef {import('./devices.js').LocalMedia} LocalMedia
 * @typedef {import('./devices.js').DeviceKind} DeviceKind
 *
 * @typedef {'connecting'|'waiting'|'joined'|'rejected'|'ended'|'left'} SelfState
 * @typedef {'ended'|'rejected'|'left'|'replaced'|'too_slow'|'lost'|'policy'|'too_large'} EndReason
 * @typedef {'connecting'|'connected'|'unstable'|'failed'} Connection
 * @typedef {{
 *   self: SelfState,
 *   roster: Participant[],
 *   tracks: null,
 *   connection: Connection,
 *   error: {ns: 'ws.error'|'error', code: string},
 *   end: {reason: EndReason, close: CloseInfo|null},
 *   local: null,
 *   firstframe: RemoteTrack
 * }} CallEvents
 */

/**
 * @extends {Emitter<CallEvents>}
 */
export class CallSession extends Emitter {
  /**
   * @param {{consultationId: string, media: LocalMedia}} opts
   */
  constructor(opts) {
    super();
    this.consultationId = opts.consultationId;
    this.media = opts.media;
    this.sig = new Signaling(opts.consultationId);
    /** @type {RtcSession|null} */
    this.rtc = null;
    /** @type {WelcomeMessage|null} */
    this.welcome = null;
    /** @type {Participant|null} */
    this.self = null;
    /** @type {SelfState} */
    this.state = 'connecting';
    /** @type {Participant[]} */
    this.participants = [];
    /** @type {Connection} */
    this.connection = 'connecting';
    /** @type {Record<'publish'|'subscribe', RTCPeerConnectionState|null>} */
    this._pcState = { publish: null, subscribe: null };
    /** @type {MediaStreamTrack|null} */
    this.screenTrack = null;
    this._screenBusy = false;
    this.ended = false;
    this._leaving = false;
    /** @type {(() => void)[]} */
    this._off = [];
    debug.setState('connecting');
  }

  /**
   * Connects; resolves with the welcome message. Rejects (with a
   * SignalingClosedError carrying the close info) when the server refuses.
   * @returns {Promise<WelcomeMessage>}
   */
  async connect() {
    const sig = this.sig;
    this._off.push(
      sig.on('roster', (m) => this._onRoster(m.participants)),
      sig.on('state', (m) => this._onState(m.state)),
      sig.on('error', (m) => this._onProtocolError(m.code)),
      sig.on('close', (info) => this._onClose(info)),
    );
    const welcome = await sig.connect();
    this.welcome = welcome;
    this.self = welcome.self;
    debug.setSelf(welcome.self.id, welcome.self.role);
    this.rtc = new RtcSession(sig, Array.isArray(welcome.iceServers) ? welcome.iceServers : []);
    debug.setRtc(this.rtc, (p, tr, kind) => this.sourceOf(p, tr, kind));
    this._wireRtc(this.rtc);
    this._wireMedia();
    if (welcome.self.state === 'joined') this._setState('joined');
    else this._setState('waiting');
    this._updateConnection();
    return welcome;
  }

  /** @param {RtcSession} rtc */
  _wireRtc(rtc) {
    rtc.on('remotetrack', () => this.emit('tracks', null));
    rtc.on('remotetrackremoved', () => this.emit('tracks', null));
    rtc.on('firstframe', (entry) => {
      if (entry.firstFrameAt !== null) debug.markFirstFrame(entry.key, entry.firstFrameAt);
      this.emit('firstframe', entry);
    });
    rtc.on('connection', ({ target, state }) => {
      this._pcState[target] = state;
      this._updateConnection();
    });
    rtc.on('error', ({ code }) => this.emit('error', { ns: 'ws.error', code }));
  }

  _wireMedia() {
    this._off.push(
      this.media.on('track', ({ kind, track }) => {
        const rtc = this.rtc;
        if (!rtc || !rtc.publishing) return;
        rtc.replaceTrack(kind === 'audio' ? 'audio' : 'camera', track).catch((err) => {
          console.error('parley: replaceTrack failed', err);
          this.emit('error', { ns: 'ws.error', code: 'media_failed' });
        });
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

  _startPublishing() {
    const rtc = this.rtc;
    if (!rtc || rtc.publishing) return;
    rtc
      .startPublishing({
        audio: this.media.audioTrack,
        video: this.media.videoTrack,
        audioOn: this.media.audioOn,
        videoOn: this.media.videoOn,
      })
      .catch((err) => {
        if (this.ended) return;
        console.error('parley: publishing failed', err);
        this.emit('error', { ns: 'ws.error', code: err instanceof RtcError ? err.code : 'media_failed' });
      });
  }

  /** @param {Participant[]} list */
  _onRoster(list) {
    if (!Array.isArray(list)) return;
    this.participants = list.filter((p) => p && typeof p.id === 'string');
    const me = this.participants.find((p) => p.id === this.self?.id);
    if (me) this.self = me;
    this.emit('roster', this.participants);
    // Sources may have become known for tracks already received.
    this.emit('tracks', null);
  }

  /** @param {string} state */
  _onState(state) {
    switch (state) {
      case 'joined':
        this._setState('joined');
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
    // Errors answering a publish offer are reported by the RTC layer.
    this.emit('error', { ns: 'ws.error', code });
  }

  /** @param {CloseInfo} info */
  _onClose(info) {
    if (this.ended || info.beforeWelcome) return;
    /** @type {EndReason} */
    let reason;
    switch (info.meaning) {
      case 'ended':
      case 'rejected':
      case 'replaced':
      case 'too_slow':
      case 'policy':
      case 'too_large':
        reason = info.meaning;
        break;
      case 'normal':
        reason = this._leaving ? 'left' : 'ended';
        break;
      default:
        reason = this._leaving ? 'left' : 'lost';
    }
    this._finish(reason, info);
  }

  /**
   * @param {EndReason} reason
   * @param {CloseInfo|null} close
   */
  _finish(reason, close) {
    if (this.ended) return;
    this.ended = true;
    this.state = reason === 'rejected' ? 'rejected' : reason === 'left' ? 'left' : 'ended';
    debug.setState(this.state);
    this._stopScreenTrack();
    this.rtc?.close();
    this.media.stop();
    this.sig.close();
    for (const off of this._off) off();
    this._off = [];
    this.emit('end', { reason, close });
  }

  _updateConnection() {
    /** @type {Connection} */
    let c;
    const states = Object.values(this._pcState).filter((s) => s !== null);
    if (!this.sig.isOpen) c = 'connecting';
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
    if (this.sig.send({ type: 'admit', participant: participantId }) === null) {
      this.emit('error', { ns: 'ws.error', code: 'closed' });
    }
  }

  /** @param {string} participantId */
  reject(participantId) {
    if (this.sig.send({ type: 'reject', participant: participantId }) === null) {
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
    if (this._screenBusy) return;
    const rtc = this.rtc;
    if (!rtc || !rtc.publishing || this.ended) return;
    this._screenBusy = true;
    try {
      if (this.screenTrack) {
        this._stopScreenTrack();
        this.emit('local', null);
        await rtc.stopScreenShare();
        return;
      }
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
      if (this.ended) {
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
    this.sig.leave();
    this._finish('left', null);
  }

  /** Drops everything without telling the server (page unload). */
  dispose() {
    if (this.ended) return;
    this.ended = true;
    this._stopScreenTrack();
    this.rtc?.close();
    this.media.stop();
    this.sig.close();
    for (const off of this._off) off();
  }
}
