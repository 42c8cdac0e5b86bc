// @ts-check
/**
 * WebRTC for one participant, as PROTOCOL.md describes it: a publish
 * RTCPeerConnection that this client creates and offers (microphone,
 * camera, optional screen), and a subscribe RTCPeerConnection that answers
 * the server's offers and receives everyone else's tracks, each in a stream
 * with id "<participantId>~<trackId>". Trickle ICE both ways, with target.
 *
 * The track ids announced in the `media` message are the ones in the
 * publish connection's SDP (a=msid), which is what the SFU sees; they are
 * not always MediaStreamTrack.id (Firefox uses its own ids there).
 *
 * One RtcSession lives as long as one signaling connection: after a
 * reconnect the call (call.js) closes it and starts a new one with new
 * peer connections, as PROTOCOL.md asks, publishing the same local tracks.
 * While the signaling connection holds, a failed ICE connection or a
 * network change is repaired in place with restartIce() (PROTOCOL.md,
 * "ICE restart"): same peer connections, new ICE credentials.
 * @module
 */

import { Emitter } from './events.js';
import { parseStreamId } from './protocol.js';

/**
 * @typedef {import('./protocol.js').SignalingLink} SignalingLink
 * @typedef {import('./protocol.js').Target} Target
 * @typedef {import('./protocol.js').TrackSource} TrackSource
 * @typedef {import('./protocol.js').MessageId} MessageId
 */

/**
 * A track received on the subscribe connection.
 * @typedef {{
 *   key: string,
 *   participantId: string,
 *   trackId: string,
 *   kind: 'audio'|'video',
 *   track: MediaStreamTrack,
 *   stream: MediaStream,
 *   receiver: RTCRtpReceiver,
 *   transceiver: RTCRtpTransceiver,
 *   addedAt: number,
 *   firstFrameAt: number|null
 * }} RemoteTrack
 */

/**
 * Inbound statistics of one remote track.
 * @typedef {{
 *   key: string,
 *   participant: string,
 *   trackId: string,
 *   kind: 'audio'|'video',
 *   framesDecoded: number,
 *   bytesReceived: number,
 *   packetsReceived: number,
 *   frameWidth: number|null,
 *   frameHeight: number|null,
 *   firstFrameAt: number|null
 * }} RemoteTrackStats
 */

/**
 * @typedef {{
 *   remotetrack: RemoteTrack,
 *   remotetrackremoved: RemoteTrack,
 *   firstframe: RemoteTrack,
 *   connection: {target: Target, state: RTCPeerConnectionState},
 *   error: {code: string, detail?: unknown},
 *   media: {audio: boolean, video: boolean, screen: boolean, tracks: Record<string, TrackSource>}
 * }} RtcEvents
 */

/** Thrown when a negotiation fails; code is a protocol error code or "timeout"/"closed". */
export class RtcError extends Error {
  /** @param {string} code @param {string} message */
  constructor(code, message) {
    super(message);
    this.name = 'RtcError';
    this.code = code;
  }
}

const ANSWER_TIMEOUT_MS = 15000;
const FIRST_FRAME_POLL_MS = 40;
const FIRST_FRAME_POLL_LIMIT_MS = 120000;

/**
 * Maps each media section's mid to the track id of its a=msid line.
 * @param {string} sdp
 * @returns {Map<string, string>}
 */
export function trackIdsByMid(sdp) {
  /** @type {Map<string, string>} */
  const out = new Map();
  for (const section of sdp.split(/\r?\nm=/).slice(1)) {
    const mid = /^a=mid:(\S+)/m.exec(section)?.[1];
    const track = /^a=msid:\S+ (\S+)/m.exec(section)?.[1] ?? /^a=ssrc:\d+ msid:\S+ (\S+)/m.exec(section)?.[1];
    if (mid && track) out.set(mid, track);
  }
  return out;
}

/**
 * @extends {Emitter<RtcEvents>}
 */
export class RtcSession extends Emitter {
  /**
   * @param {SignalingLink} signaling a connected signaling link
   * @param {RTCIceServer[]} iceServers from the welcome message
   * @param {RTCIceTransportPolicy} [iceTransportPolicy] from the welcome: "relay" when the server forces TURN
   * @param {{e2ee?: import('./e2ee.js').E2EEMedia|null, selfId?: string}} [opts] end-to-end
   *   encryption of every sender and receiver (web/E2EE.md); selfId keys this side's frames
   */
  constructor(signaling, iceServers, iceTransportPolicy = 'all', opts = {}) {
    super();
    this.sig = signaling;
    /** @type {import('./e2ee.js').E2EEMedia|null} */
    this.e2ee = opts.e2ee ?? null;
    this.selfId = opts.selfId ?? '';
    /** @type {RTCConfiguration} */
    const config = {
      iceServers: iceServers ?? [],
      iceTransportPolicy: iceTransportPolicy === 'relay' ? 'relay' : 'all',
      bundlePolicy: 'max-bundle',
      rtcpMuxPolicy: 'require',
    };
    this.config = this.e2ee ? this.e2ee.configure(config) : config;
    /** @type {RTCPeerConnection|null} */
    this.pub = null;
    /** @type {RTCPeerConnection|null} */
    this.sub = null;
    /** @type {{audio: RTCRtpTransceiver|null, camera: RTCRtpTransceiver|null, screen: RTCRtpTransceiver|null}} */
    this.tx = { audio: null, camera: null, screen: null };
    this.localStream = new MediaStream();
    this.screenStream = new MediaStream();
    this.audioOn = true;
    this.videoOn = true;
    /** @type {Map<string, string>} mid → SDP track id */
    this.trackIds = new Map();
    /** @type {Map<string, RemoteTrack>} */
    this.remote = new Map();
    /** @type {{id: number, resolve: (sdp: string) => void, reject: (err: Error) => void, timer: number}|null} */
    this._pendingOffer = null;
    /** @type {Promise<void>|null} */
    this._negotiating = null;
    this._renegotiate = false;
    /** @type {Record<Target, RTCIceCandidateInit[]>} */
    this._candidateQueue = { publish: [], subscribe: [] };
    /** @type {Promise<void>} */
    this._subChain = Promise.resolve();
    /** @type {MessageId|null} */
    this._lastAnswerId = null;
    this._lastMedia = '';
    this.closed = false;
    /** @type {Set<number>} */
    this._timers = new Set();

    this._off = [
      signaling.on('answer', (m) => this._onAnswer(m.sdp)),
      signaling.on('offer', (m) => this._onOffer(m.sdp)),
      signaling.on('candidate', (m) => this._onCandidate(m.target, m.candidate)),
      signaling.on('error', (m) => this._onError(m.code, m.ref)),
    ];
  }

  // ---------------------------------------------------------------- publish

  /**
   * Creates the publish connection and sends the first offer. A screen
   * track (still shared when a reconnect replaces this session) goes into
   * the same first offer.
   * @param {{audio: MediaStreamTrack|null, video: MediaStreamTrack|null, screen?: MediaStreamTrack|null, audioOn: boolean, videoOn: boolean}} local
   * @returns {Promise<void>}
   */
  async startPublishing(local) {
    if (this.closed) throw new RtcError('closed', 'session closed');
    if (this.pub) return;
    this.audioOn = local.audioOn;
    this.videoOn = local.videoOn;
    const pc = new RTCPeerConnection(this.config);
    this.pub = pc;
    // A new publish connection is a new key epoch (web/E2EE.md).
    this.e2ee?.newEpoch(this.selfId);
    pc.addEventListener('icecandidate', (ev) => {
      if (ev.candidate && ev.candidate.candidate) {
        this.sig.send({ type: 'candidate', target: 'publish', candidate: ev.candidate.toJSON() });
      }
    });
    pc.addEventListener('connectionstatechange', () => {
      this.emit('connection', { target: 'publish', state: pc.connectionState });
    });
    // One transceiver per source, created even without a track so that a
    // device that appears later needs only replaceTrack.
    this.tx.audio = pc.addTransceiver(local.audio ?? 'audio', { direction: 'sendonly', streams: [this.localStream] });
    this.tx.camera = pc.addTransceiver(local.video ?? 'video', { direction: 'sendonly', streams: [this.localStream] });
    this.e2ee?.setupSender(this.tx.audio, 'audio');
    this.e2ee?.setupSender(this.tx.camera, 'video');
    if (local.screen && local.screen.readyState === 'live') this._addScreen(pc, local.screen);
    await this.negotiate();
  }

  /** True once the publish connection exists. */
  get publishing() {
    return this.pub !== null;
  }

  /**
   * Offers (again) on the publish connection; one offer at a time, changes
   * during a running negotiation are folded into one more round.
   * @returns {Promise<void>}
   */
  negotiate() {
    if (this._negotiating) {
      this._renegotiate = true;
      return this._negotiating;
    }
    const run = async () => {
      const pc = this.pub;
      if (!pc) throw new RtcError('closed', 'no publish connection');
      do {
        this._renegotiate = false;
        const offer = await pc.createOffer();
        await pc.setLocalDescription(offer);
        const sdp = pc.localDescription?.sdp ?? offer.sdp ?? '';
        this.trackIds = trackIdsByMid(sdp);
        // Announce the sources first so that subscribers can place the
        // tracks as soon as they arrive.
        this.sendMedia();
        const answer = await this._offerAndWait(sdp);
        if (this.closed) return;
        await pc.setRemoteDescription({ type: 'answer', sdp: answer });
        this._flushCandidates('publish');
      } while (this._renegotiate && !this.closed);
    };
    this._negotiating = run().finally(() => {
      this._negotiating = null;
    });
    return this._negotiating;
  }

  /**
   * @param {string} sdp
   * @returns {Promise<string>}
   */
  _offerAndWait(sdp) {
    return new Promise((resolve, reject) => {
      const id = this.sig.send({ type: 'offer', sdp });
      if (id === null) {
        reject(new RtcError('closed', 'signaling is not open'));
        return;
      }
      const timer = window.setTimeout(() => {
        if (this._pendingOffer?.id === id) {
          this._pendingOffer = null;
          reject(new RtcError('timeout', 'no answer to publish offer'));
        }
      }, ANSWER_TIMEOUT_MS);
      this._pendingOffer = { id, resolve, reject, timer };
    });
  }

  /** @param {string} sdp */
  _onAnswer(sdp) {
    const p = this._pendingOffer;
    if (!p) {
      console.warn('parley: unexpected answer');
      return;
    }
    this._pendingOffer = null;
    clearTimeout(p.timer);
    p.resolve(sdp);
  }

  /**
   * @param {string} code
   * @param {MessageId|undefined} ref
   */
  _onError(code, ref) {
    const p = this._pendingOffer;
    if (p && ref !== undefined && String(ref) === String(p.id)) {
      this._pendingOffer = null;
      clearTimeout(p.timer);
      p.reject(new RtcError(code, `publish offer refused: ${code}`));
      return;
    }
    if (ref !== undefined && this._lastAnswerId !== null && String(ref) === String(this._lastAnswerId)) {
      this.emit('error', { code, detail: 'subscribe answer refused' });
    }
  }

  /**
   * Sends the `media` message describing what this client sends now
   * (skipped when unchanged).
   * @param {boolean} [force]
   */
  sendMedia(force = false) {
    if (!this.pub || this.closed) return;
    /** @type {Record<string, TrackSource>} */
    const tracks = {};
    /** @param {RTCRtpTransceiver|null} t @param {TrackSource} source */
    const add = (t, source) => {
      const track = t?.sender.track;
      if (!t || !track || !t.mid) return;
      tracks[this.trackIds.get(t.mid) ?? track.id] = source;
    };
    add(this.tx.audio, 'audio');
    add(this.tx.camera, 'camera');
    add(this.tx.screen, 'screen');
    const media = {
      audio: !!this.tx.audio?.sender.track && this.audioOn,
      video: !!this.tx.camera?.sender.track && this.videoOn,
      screen: !!this.tx.screen?.sender.track,
      tracks,
    };
    const json = JSON.stringify(media);
    if (!force && json === this._lastMedia) return;
    // A browser that cannot encrypt says so (only allowed when the welcome
    // says e2ee "optional"); absent means encrypted.
    const e2ee = this.e2ee && this.e2ee.mode !== 'none' ? {} : { e2ee: false };
    if (this.sig.send({ type: 'media', ...media, ...e2ee }) !== null) {
      this._lastMedia = json;
      this.emit('media', media);
    }
  }

  /**
   * Mute or unmute: the caller sets track.enabled; this announces it.
   * @param {boolean} audioOn
   * @param {boolean} videoOn
   */
  setMediaState(audioOn, videoOn) {
    this.audioOn = audioOn;
    this.videoOn = videoOn;
    this.sendMedia();
  }

  /**
   * Switches the microphone or camera track without renegotiation.
   * @param {'audio'|'camera'} source
   * @param {MediaStreamTrack|null} track
   */
  async replaceTrack(source, track) {
    const t = this.tx[source];
    if (!t) return;
    await t.sender.replaceTrack(track);
    this.sendMedia();
  }

  /** True while a screen track is published. */
  get sharingScreen() {
    return !!this.tx.screen;
  }

  /**
   * Publishes a screen track (renegotiates).
   * @param {MediaStreamTrack} track from getDisplayMedia
   */
  async startScreenShare(track) {
    const pc = this.pub;
    if (!pc) throw new RtcError('bad_state', 'not publishing');
    if (this.tx.screen) throw new RtcError('bad_state', 'already sharing');
    /** @type {RTCRtpTransceiver} */
    const tx = this._addScreen(pc, track);
    try {
      await this.negotiate();
    } catch (err) {
      if (this._screenTransceiver() === tx) {
        this.tx.screen = null;
        try {
          pc.removeTrack(tx.sender);
        } catch {
          // closed
        }
        this.sendMedia();
      }
      throw err;
    }
  }

  /**
   * The screen transceiver now (a method, so that the type checker does
   * not carry a narrowing across an await).
   * @returns {RTCRtpTransceiver|null}
   */
  _screenTransceiver() {
    return this.tx.screen;
  }

  /**
   * @param {RTCPeerConnection} pc
   * @param {MediaStreamTrack} track
   * @returns {RTCRtpTransceiver}
   */
  _addScreen(pc, track) {
    try {
      track.contentHint = 'detail';
    } catch {
      // not supported: fine
    }
    for (const t of this.screenStream.getTracks()) this.screenStream.removeTrack(t);
    this.screenStream.addTrack(track);
    const tx = pc.addTransceiver(track, { direction: 'sendonly', streams: [this.screenStream] });
    this.e2ee?.setupSender(tx, 'video');
    this.tx.screen = tx;
    return tx;
  }

  /** Stops publishing the screen track (renegotiates). */
  async stopScreenShare() {
    const pc = this.pub;
    const tx = this.tx.screen;
    if (!pc || !tx) return;
    this.tx.screen = null;
    try {
      pc.removeTrack(tx.sender);
    } catch {
      // already closed
    }
    if (pc.signalingState === 'closed') return;
    await this.negotiate();
  }

  // -------------------------------------------------------------- subscribe

  _ensureSubscriber() {
    if (this.sub) return this.sub;
    const pc = new RTCPeerConnection(this.config);
    this.sub = pc;
    pc.addEventListener('icecandidate', (ev) => {
      if (ev.candidate && ev.candidate.candidate) {
        this.sig.send({ type: 'candidate', target: 'subscribe', candidate: ev.candidate.toJSON() });
      }
    });
    pc.addEventListener('connectionstatechange', () => {
      this.emit('connection', { target: 'subscribe', state: pc.connectionState });
    });
    pc.addEventListener('track', (ev) => this._onTrack(ev));
    return pc;
  }

  /** @param {string} sdp */
  _onOffer(sdp) {
    this._subChain = this._subChain
      .then(async () => {
        if (this.closed) return;
        const pc = this._ensureSubscriber();
        await pc.setRemoteDescription({ type: 'offer', sdp });
        if (this.e2ee) for (const t of pc.getTransceivers()) this.e2ee.setupReceiverCodecs(t);
        this._flushCandidates('subscribe');
        const answer = await pc.createAnswer();
        await pc.setLocalDescription(answer);
        this._lastAnswerId = this.sig.send({ type: 'answer', sdp: pc.localDescription?.sdp ?? answer.sdp ?? '' });
        this._reconcileRemote();
      })
      .catch((err) => {
        console.error('parley: subscribe negotiation failed', err);
        this.emit('error', { code: 'media_failed', detail: err });
      });
  }

  /** @param {RTCTrackEvent} ev */
  _onTrack(ev) {
    const stream = ev.streams[0];
    if (!stream) {
      console.warn('parley: remote track without stream');
      return;
    }
    const parsed = parseStreamId(stream.id);
    if (!parsed) {
      console.warn('parley: unexpected remote stream id', stream.id);
      return;
    }
    // A transceiver the server reuses for another track: drop the old entry.
    for (const old of [...this.remote.values()]) {
      if (old.receiver === ev.receiver && old.key !== stream.id) this._removeRemote(old.key);
    }
    if (this.remote.has(stream.id)) this._removeRemote(stream.id);
    this.e2ee?.setupReceiver(ev.receiver, parsed.participantId);
    const kind = ev.track.kind === 'audio' ? 'audio' : 'video';
    /** @type {RemoteTrack} */
    const entry = {
      key: stream.id,
      participantId: parsed.participantId,
      trackId: parsed.trackId,
      kind,
      track: ev.track,
      stream,
      receiver: ev.receiver,
      transceiver: ev.transceiver,
      addedAt: performance.now(),
      firstFrameAt: null,
    };
    this.remote.set(entry.key, entry);
    stream.addEventListener('removetrack', (e) => {
      if (e.track === entry.track && this.remote.get(entry.key) === entry) this._removeRemote(entry.key);
    });
    this.emit('remotetrack', entry);
    if (kind === 'video') this._pollFirstFrame(entry);
  }

  /** Drops remote tracks whose transceiver no longer receives. */
  _reconcileRemote() {
    for (const entry of [...this.remote.values()]) {
      const t = entry.transceiver;
      const dir = t.currentDirection;
      if (dir === 'stopped' || dir === 'inactive' || dir === 'sendonly' || entry.track.readyState === 'ended') {
        this._removeRemote(entry.key);
      }
    }
  }

  /** @param {string} key */
  _removeRemote(key) {
    const entry = this.remote.get(key);
    if (!entry) return;
    this.remote.delete(key);
    this.emit('remotetrackremoved', entry);
  }

  /**
   * Polls a video receiver until it has decoded a frame.
   * @param {RemoteTrack} entry
   */
  _pollFirstFrame(entry) {
    const started = performance.now();
    const tick = async () => {
      if (this.closed || entry.firstFrameAt !== null || this.remote.get(entry.key) !== entry) return;
      if (performance.now() - started > FIRST_FRAME_POLL_LIMIT_MS) return;
      try {
        const report = await entry.receiver.getStats();
        /** @type {number} */
        let decoded = 0;
        report.forEach((s) => {
          if (s.type === 'inbound-rtp' && typeof s.framesDecoded === 'number') decoded = Math.max(decoded, s.framesDecoded);
        });
        if (decoded > 0) {
          this.noteFirstFrame(entry.key, performance.now());
          return;
        }
      } catch {
        // receiver gone
      }
      const timer = window.setTimeout(() => {
        this._timers.delete(timer);
        void tick();
      }, FIRST_FRAME_POLL_MS);
      this._timers.add(timer);
    };
    void tick();
  }

  /**
   * Records the first decoded (or presented) frame of a remote video track.
   * @param {string} key
   * @param {number} at performance.now() value
   */
  noteFirstFrame(key, at) {
    const entry = this.remote.get(key);
    if (!entry || entry.firstFrameAt !== null) return;
    entry.firstFrameAt = at;
    this.emit('firstframe', entry);
  }

  // ------------------------------------------------------------------- ICE

  /**
   * @param {Target} target
   * @param {RTCIceCandidateInit} candidate
   */
  _onCandidate(target, candidate) {
    if (!candidate || typeof candidate !== 'object') return;
    const pc = target === 'publish' ? this.pub : this.sub;
    if (!pc || !pc.remoteDescription) {
      this._candidateQueue[target].push(candidate);
      return;
    }
    pc.addIceCandidate(candidate).catch((err) => {
      console.warn(`parley: ${target} candidate rejected`, err);
    });
  }

  /** @param {Target} target */
  _flushCandidates(target) {
    const pc = target === 'publish' ? this.pub : this.sub;
    if (!pc || !pc.remoteDescription) return;
    const queued = this._candidateQueue[target];
    this._candidateQueue[target] = [];
    for (const c of queued) {
      pc.addIceCandidate(c).catch((err) => {
        console.warn(`parley: ${target} candidate rejected`, err);
      });
    }
  }

  /**
   * Restarts ICE on the existing peer connections (PROTOCOL.md, "ICE
   * restart"): the publish connection with restartIce() and a new offer,
   * the subscribe connection by asking the server for an offer that
   * restarts ICE (`restart_ice`). No new connections, no renegotiation of
   * anyone else.
   * @returns {boolean} false when there is nothing to restart
   */
  restartIce() {
    if (this.closed) return false;
    let did = false;
    const pub = this.pub;
    if (pub && pub.signalingState !== 'closed' && pub.remoteDescription) {
      pub.restartIce();
      this.negotiate().catch((err) => {
        if (!this.closed) console.warn('parley: publish ICE restart failed', err);
      });
      did = true;
    }
    if (this.sub && this.sub.signalingState !== 'closed' && this.sub.remoteDescription) {
      did = this.sig.send({ type: 'restart_ice' }) !== null || did;
    }
    return did;
  }

  // ----------------------------------------------------------------- stats

  /**
   * Inbound statistics per remote track (subscribe connection).
   * @returns {Promise<RemoteTrackStats[]>}
   */
  async stats() {
    const pc = this.sub;
    if (!pc || this.closed) return [];
    /** @type {Map<string, any>} */
    const byTrack = new Map();
    try {
      const report = await pc.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp' && typeof s.trackIdentifier === 'string') byTrack.set(s.trackIdentifier, s);
      });
    } catch {
      // closed meanwhile
    }
    /** @type {RemoteTrackStats[]} */
    const out = [];
    for (const entry of this.remote.values()) {
      let s = byTrack.get(entry.track.id);
      if (!s) {
        try {
          const report = await entry.receiver.getStats();
          report.forEach((x) => {
            if (x.type === 'inbound-rtp') s = x;
          });
        } catch {
          // ignore
        }
      }
      out.push({
        key: entry.key,
        participant: entry.participantId,
        trackId: entry.trackId,
        kind: entry.kind,
        framesDecoded: typeof s?.framesDecoded === 'number' ? s.framesDecoded : 0,
        bytesReceived: typeof s?.bytesReceived === 'number' ? s.bytesReceived : 0,
        packetsReceived: typeof s?.packetsReceived === 'number' ? s.packetsReceived : 0,
        frameWidth: typeof s?.frameWidth === 'number' ? s.frameWidth : null,
        frameHeight: typeof s?.frameHeight === 'number' ? s.frameHeight : null,
        firstFrameAt: entry.firstFrameAt,
      });
    }
    return out;
  }

  // ----------------------------------------------------------------- close

  /** Closes both connections; does not stop local tracks (devices.js owns them). */
  close() {
    if (this.closed) return;
    this.closed = true;
    for (const off of this._off) off();
    for (const t of this._timers) clearTimeout(t);
    this._timers.clear();
    const p = this._pendingOffer;
    if (p) {
      this._pendingOffer = null;
      clearTimeout(p.timer);
      p.reject(new RtcError('closed', 'session closed'));
    }
    for (const key of [...this.remote.keys()]) this._removeRemote(key);
    this.pub?.close();
    this.sub?.close();
    this.tx = { audio: null, camera: null, screen: null };
  }
}
