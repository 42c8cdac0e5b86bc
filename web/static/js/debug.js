// @ts-check
/**
 * Read-only hook for automated browser tests: window.parleyDebug.
 *
 *   parleyDebug.info()   → {participantId, role, state, admittedAt,
 *                           firstRemoteFrameAt, firstFrames, admitsSent}
 *   parleyDebug.stats()  → Promise<{...info(), tracks: [{participant,
 *                           source, kind, trackId, framesDecoded,
 *                           bytesReceived, packetsReceived, frameWidth,
 *                           frameHeight, firstFrameAt}]}>
 *
 * Times are performance.now() values of this page. admittedAt is when this
 * participant became "joined" (customers: the state message after admit;
 * advisors: the welcome). firstRemoteFrameAt is the first decoded (or
 * presented, whichever is seen first) frame of any remote video track
 * after admission; firstFrames has one entry per "<participant>~<trackId>".
 * admitsSent maps a waiting participant's id to when this advisor sent
 * `admit` for them.
 * @module
 */

/**
 * @typedef {import('./rtc.js').RtcSession} RtcSession
 * @typedef {import('./protocol.js').TrackSource} TrackSource
 * @typedef {{
 *   participantId: string|null,
 *   role: string|null,
 *   state: string,
 *   admittedAt: number|null,
 *   firstRemoteFrameAt: number|null,
 *   firstFrames: Record<string, number>,
 *   admitsSent: Record<string, number>
 * }} DebugInfo
 */

/** @type {DebugInfo} */
const info = {
  participantId: null,
  role: null,
  state: 'idle',
  admittedAt: null,
  firstRemoteFrameAt: null,
  firstFrames: {},
  admitsSent: {},
};

/** @type {RtcSession|null} */
let rtc = null;
/** @type {(participantId: string, trackId: string, kind: 'audio'|'video') => TrackSource} */
let sourceOf = (_p, _t, kind) => (kind === 'audio' ? 'audio' : 'camera');

/**
 * @param {string|null} participantId
 * @param {string|null} role
 */
export function setSelf(participantId, role) {
  info.participantId = participantId;
  info.role = role;
}

/** @param {string} state */
export function setState(state) {
  info.state = state;
  if (state === 'joined' && info.admittedAt === null) info.admittedAt = performance.now();
}

/**
 * @param {RtcSession|null} session
 * @param {(participantId: string, trackId: string, kind: 'audio'|'video') => TrackSource} resolveSource
 */
export function setRtc(session, resolveSource) {
  rtc = session;
  sourceOf = resolveSource;
}

/**
 * @param {string} key "<participant>~<trackId>"
 * @param {number} at
 */
export function markFirstFrame(key, at) {
  if (!(key in info.firstFrames)) info.firstFrames[key] = at;
  if (info.firstRemoteFrameAt === null || at < info.firstRemoteFrameAt) {
    if (info.admittedAt === null || at >= info.admittedAt) info.firstRemoteFrameAt = at;
  }
}

/** @param {string} participantId */
export function markAdmitSent(participantId) {
  info.admitsSent[participantId] = performance.now();
}

/** @returns {DebugInfo} a copy */
function snapshot() {
  return {
    ...info,
    firstFrames: { ...info.firstFrames },
    admitsSent: { ...info.admitsSent },
  };
}

async function stats() {
  const list = rtc ? await rtc.stats() : [];
  return {
    ...snapshot(),
    tracks: list.map((s) => ({
      participant: s.participant,
      source: sourceOf(s.participant, s.trackId, s.kind),
      kind: s.kind,
      trackId: s.trackId,
      framesDecoded: s.framesDecoded,
      bytesReceived: s.bytesReceived,
      packetsReceived: s.packetsReceived,
      frameWidth: s.frameWidth,
      frameHeight: s.frameHeight,
      firstFrameAt: s.firstFrameAt,
    })),
  };
}

/** Installs window.parleyDebug (read-only, once). */
export function installDebugHook() {
  if (Object.prototype.hasOwnProperty.call(window, 'parleyDebug')) return;
  Object.defineProperty(window, 'parleyDebug', {
    value: Object.freeze({ info: snapshot, stats }),
    writable: false,
    enumerable: false,
    configurable: false,
  });
}
