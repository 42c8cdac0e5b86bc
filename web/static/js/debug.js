// @ts-check
/**
 * Hook for automated browser tests: window.parleyDebug.
 *
 *   parleyDebug.info()   → DebugInfo (below)
 *   parleyDebug.stats()  → Promise<{...info(), tracks: [{participant,
 *                           source, kind, trackId, framesDecoded,
 *                           bytesReceived, packetsReceived, frameWidth,
 *                           frameHeight, firstFrameAt}]}>
 *   parleyDebug.simulateNetworkLoss(ms)
 *                        → TEST HOOK: acts as if the network were gone for
 *                          ms milliseconds: closes the signaling socket
 *                          (code 4000, no `leave`) and the peer
 *                          connections, and lets every reconnect attempt in
 *                          that time fail; then the client reconnects as
 *                          it would after a real outage. It changes nothing
 *                          a user could not cause by pulling the cable.
 *                          Returns false outside a call.
 *   parleyDebug.retryNow() → starts the waiting reconnect attempt now.
 *   parleyDebug.peerConnections() → {publish, subscribe}: the current
 *                          RTCPeerConnection objects (or null), so a test
 *                          can check that an ICE restart kept them.
 *
 * Times are performance.now() values of this page (milliseconds since
 * performance.timeOrigin, which info() returns as `timeOrigin`, in ms
 * since the Unix epoch). A page reload restarts that clock: to compare
 * times across a reload (or between two pages), add `timeOrigin`, which
 * gives Date.now()-like absolute times (the Go tests compare them with
 * time.Now()).
 *
 * - admittedAt: when this participant became "joined" (customers: the
 *   state message after admit; advisors: the welcome).
 * - firstRemoteFrameAt: the first decoded (or presented, whichever is seen
 *   first) frame of any remote video track after admission; firstFrames
 *   has one entry per "<participant>~<trackId>" (track ids change when a
 *   participant reconnects, so a reconnected participant gets new keys).
 * - admitsSent: a waiting participant's id → when this advisor sent `admit`.
 * - link: the signaling link's phase (connecting, connected, reconnecting,
 *   failed, closed); reconnectAttempt: the attempt running or waiting;
 *   lastReconnectAttempts: how many attempts the latest reconnect took.
 * - reconnects: how many times this page reconnected (welcomes after the
 *   first). reconnectStartedAt: when the latest loss of the connection
 *   was noticed (the client entered "reconnecting"); lastAttemptAt: when
 *   the latest connection attempt started; lastReconnectedAt: the welcome
 *   of the latest reconnect; firstFrameAfterReconnectAt: the first decoded
 *   remote video frame after that welcome (null again at each new loss).
 *   Reconnect start → first decoded frame is
 *   firstFrameAfterReconnectAt − reconnectStartedAt.
 * - iceRestarts: how many ICE restarts this page started (PROTOCOL.md,
 *   "ICE restart"); lastIceRestartAt and lastIceRestartWhy: the latest
 *   one ("network change", "ice failed", "ice disconnected").
 * - e2ee: {enabled, mode ('script-transform'|'encoded-streams'|'none'),
 *   safetyCode, decryptFailures: {participant: n}, encryptedFrames,
 *   decryptedFrames} (web/E2EE.md; never the secret or a key).
 * - chat: {sent, received, decryptFailures, lastRawBody (the latest chat
 *   body received from someone else, i.e. ciphertext), downloads: [{msg,
 *   name, size, sha256}] of decrypted files and photos}.
 * - roster: the latest roster as {id, role, state, audio, video, screen};
 *   rosterLog: every roster
 *   received (at most the last 500), to check afterwards that nobody was
 *   listed twice or as "left" in between.
 * @module
 */

/**
 * @typedef {import('./rtc.js').RtcSession} RtcSession
 * @typedef {import('./protocol.js').TrackSource} TrackSource
 * @typedef {import('./protocol.js').LinkState} LinkState
 * @typedef {{id: string, role: string, state: string, audio: boolean, video: boolean, screen: boolean}} RosterEntry
 * @typedef {{
 *   participantId: string|null,
 *   role: string|null,
 *   state: string,
 *   admittedAt: number|null,
 *   firstRemoteFrameAt: number|null,
 *   firstFrames: Record<string, number>,
 *   admitsSent: Record<string, number>,
 *   link: string,
 *   reconnectAttempt: number,
 *   lastReconnectAttempts: number,
 *   reconnects: number,
 *   reconnectStartedAt: number|null,
 *   lastAttemptAt: number|null,
 *   lastReconnectedAt: number|null,
 *   firstFrameAfterReconnectAt: number|null,
 *   iceRestarts: number,
 *   lastIceRestartAt: number|null,
 *   lastIceRestartWhy: string|null,
 *   timeOrigin: number,
 *   roster: RosterEntry[],
 *   rosterLog: {at: number, participants: RosterEntry[]}[],
 *   e2ee: import('./e2ee.js').E2EEDebug,
 *   chat: import('./chat.js').ChatDebug
 * }} DebugInfo
 * @typedef {{simulateNetworkLoss: (ms: number) => void, retryNow: () => void}} Controller
 */

const ROSTER_LOG_MAX = 500;

/** @type {() => import('./e2ee.js').E2EEDebug} */
let e2eeInfo = () => ({ enabled: false, mode: 'none', safetyCode: null, decryptFailures: {}, encryptedFrames: 0, decryptedFrames: 0 });

/** @type {() => import('./chat.js').ChatDebug} */
let chatInfo = () => ({ sent: 0, received: 0, decryptFailures: 0, lastRawBody: null, downloads: [] });

/** @type {Omit<DebugInfo, 'e2ee'|'chat'>} */
const info = {
  participantId: null,
  role: null,
  state: 'idle',
  admittedAt: null,
  firstRemoteFrameAt: null,
  firstFrames: {},
  admitsSent: {},
  link: 'idle',
  reconnectAttempt: 0,
  lastReconnectAttempts: 0,
  reconnects: 0,
  reconnectStartedAt: null,
  lastAttemptAt: null,
  lastReconnectedAt: null,
  firstFrameAfterReconnectAt: null,
  iceRestarts: 0,
  lastIceRestartAt: null,
  lastIceRestartWhy: null,
  timeOrigin: performance.timeOrigin,
  roster: [],
  rosterLog: [],
};

/** @type {RtcSession|null} */
let rtc = null;
/** @type {(participantId: string, trackId: string, kind: 'audio'|'video') => TrackSource} */
let sourceOf = (_p, _t, kind) => (kind === 'audio' ? 'audio' : 'camera');
/** @type {Controller|null} */
let controller = null;

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

/** @param {Controller|null} c */
export function setController(c) {
  controller = c;
}

/** @param {LinkState} st */
export function setLink(st) {
  if (st.phase === 'connected' && info.link === 'reconnecting') info.lastReconnectAttempts = info.reconnectAttempt;
  info.link = st.phase;
  info.reconnectAttempt = st.attempt;
  info.lastAttemptAt = st.lastAttemptAt;
}

/**
 * The connection was lost; a reconnect starts.
 * @param {number} at
 */
export function markReconnecting(at) {
  info.reconnectStartedAt = at;
  info.firstFrameAfterReconnectAt = null;
}

/**
 * A reconnect succeeded (its welcome arrived).
 * @param {number} at
 */
export function markReconnected(at) {
  info.reconnects++;
  info.lastReconnectedAt = at;
  info.firstFrameAfterReconnectAt = null;
}

/**
 * An ICE restart started.
 * @param {number} at
 * @param {string} why
 */
export function markIceRestart(at, why) {
  info.iceRestarts++;
  info.lastIceRestartAt = at;
  info.lastIceRestartWhy = why;
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
  if (info.lastReconnectedAt !== null && at >= info.lastReconnectedAt) {
    if (info.firstFrameAfterReconnectAt === null || at < info.firstFrameAfterReconnectAt) info.firstFrameAfterReconnectAt = at;
  }
}

/** @param {string} participantId */
export function markAdmitSent(participantId) {
  info.admitsSent[participantId] = performance.now();
}

/** @param {import('./protocol.js').Participant[]} list */
export function noteRoster(list) {
  const entries = list.map((p) => ({ id: p.id, role: p.role, state: p.state, audio: !!p.audio, video: !!p.video, screen: !!p.screen }));
  info.roster = entries;
  info.rosterLog.push({ at: performance.now(), participants: entries });
  if (info.rosterLog.length > ROSTER_LOG_MAX) info.rosterLog.splice(0, info.rosterLog.length - ROSTER_LOG_MAX);
}

/**
 * End-to-end encryption state (never the secret or a key).
 * @param {() => import('./e2ee.js').E2EEDebug} fn
 */
export function setE2EE(fn) {
  e2eeInfo = fn;
}

/**
 * Chat counters (never a key or a plaintext; lastRawBody is ciphertext).
 * @param {() => import('./chat.js').ChatDebug} fn
 */
export function setChat(fn) {
  chatInfo = fn;
}

/** @returns {DebugInfo} a copy */
function snapshot() {
  return {
    ...info,
    e2ee: e2eeInfo(),
    chat: chatInfo(),
    firstFrames: { ...info.firstFrames },
    admitsSent: { ...info.admitsSent },
    roster: info.roster.map((p) => ({ ...p })),
    rosterLog: info.rosterLog.map((r) => ({ at: r.at, participants: r.participants.map((p) => ({ ...p })) })),
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

/**
 * Test hook, see the module comment.
 * @param {number} ms
 * @returns {boolean}
 */
function simulateNetworkLoss(ms) {
  if (!controller) return false;
  controller.simulateNetworkLoss(Number(ms) || 0);
  return true;
}

/** @returns {boolean} */
function retryNow() {
  if (!controller) return false;
  controller.retryNow();
  return true;
}

/** @returns {{publish: RTCPeerConnection|null, subscribe: RTCPeerConnection|null}} */
function peerConnections() {
  return { publish: rtc?.pub ?? null, subscribe: rtc?.sub ?? null };
}

/** Installs window.parleyDebug (once, not writable). */
export function installDebugHook() {
  if (Object.prototype.hasOwnProperty.call(window, 'parleyDebug')) return;
  Object.defineProperty(window, 'parleyDebug', {
    value: Object.freeze({ info: snapshot, stats, simulateNetworkLoss, retryNow, peerConnections }),
    writable: false,
    enumerable: false,
    configurable: false,
  });
}
