// @ts-check
/**
 * End-to-end encryption of media frames (web/E2EE.md), in a dedicated
 * worker. Two ways in, the same transform code:
 *
 *  - RTCRtpScriptTransform (preferred): the page sets
 *    `sender.transform = new RTCRtpScriptTransform(worker, {operation, rid})`;
 *    the worker gets an `rtctransform` event with the transformer.
 *  - createEncodedStreams() (older Chromium): the page transfers the
 *    readable and writable streams with a `streams` message.
 *
 * Messages from the page:
 *   {type: 'key', key}             HKDF base key (a non-extractable CryptoKey
 *                                  made from S; S itself never comes here)
 *   {type: 'send', participantId, keyId}
 *                                  a new publish connection: a new key epoch
 *                                  (keyId: 4 random bytes), counter from 0
 *   {type: 'rx', rid, participantId}
 *                                  receiver rid carries this sender's media
 *   {type: 'plain', allow}         call without E2EE (policy "optional" and
 *                                  someone cannot encrypt): pass frames through
 *   {type: 'streams', operation, rid, readable, writable}
 *                                  the createEncodedStreams() fallback
 * Messages to the page, about once a second while something changes:
 *   {type: 'stats', encrypted, decrypted, failures: {pid: n}, ok: {pid: n}}
 * @module
 */

/**
 * @typedef {{data: ArrayBuffer, type?: string}} EncodedFrame
 * @typedef {{operation: 'encrypt'|'decrypt', rid?: number, kind?: string}} TransformOptions
 * @typedef {{readable: ReadableStream<EncodedFrame>, writable: WritableStream<EncodedFrame>, options?: TransformOptions}} Transformer
 * @typedef {{
 *   postMessage: (msg: unknown) => void,
 *   addEventListener: (type: string, fn: (ev: any) => void) => void
 * }} WorkerScope
 */

const scope = /** @type {WorkerScope} */ (/** @type {unknown} */ (globalThis));

const SALT = new TextEncoder().encode('parley-e2ee-v1');
const VERSION = 0x01;
const TRAILER = 13; // keyId 4 + counter 8 + version 1
const TAG = 16;
const KEY_CACHE_MAX = 64;

/** @type {CryptoKey|null} */
let baseKey = null;
/** @type {{participantId: string, keyId: Uint8Array<ArrayBuffer>, keyIdHex: string, counter: number, key: Promise<CryptoKey>|null}|null} */
let send = null;
/** @type {Map<number, string>} receiver id → sender participant id */
const receivers = new Map();
/** @type {Map<string, Promise<CryptoKey>>} "<participant>/<keyIdHex>" → AES key */
const keys = new Map();
let allowPlain = false;

/** @type {{encrypted: number, decrypted: number, failures: Record<string, number>, ok: Record<string, number>}} */
const stats = { encrypted: 0, decrypted: 0, failures: {}, ok: {} };
let dirty = false;

/** @param {Uint8Array} b */
function hex(b) {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * The AES-256-GCM key of one sender and epoch (cached).
 * @param {string} participantId
 * @param {string} keyIdHex
 * @returns {Promise<CryptoKey>}
 */
function mediaKey(participantId, keyIdHex) {
  const id = `${participantId}/${keyIdHex}`;
  let k = keys.get(id);
  if (k) return k;
  const base = baseKey;
  if (!base) return Promise.reject(new Error('no key'));
  k = crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: new TextEncoder().encode(`media/${id}`) },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
  if (keys.size >= KEY_CACHE_MAX) {
    const first = keys.keys().next().value;
    if (first !== undefined) keys.delete(first);
  }
  keys.set(id, k);
  return k;
}

/**
 * Bytes left in clear (E2EE.md): VP8 key frame 10, delta 3, Opus 1.
 * @param {EncodedFrame} frame
 * @returns {number}
 */
function clearPrefix(frame) {
  if (frame.type === 'key') return 10;
  if (frame.type === 'delta') return 3;
  return 1; // audio frames have no type
}

/**
 * @param {Uint8Array} keyId 4 bytes
 * @param {number} counter
 * @returns {Uint8Array<ArrayBuffer>} 12-byte IV = keyId ‖ counter (BE)
 */
function makeIv(keyId, counter) {
  const iv = new Uint8Array(12);
  iv.set(keyId, 0);
  const dv = new DataView(iv.buffer);
  dv.setUint32(4, Math.floor(counter / 0x100000000));
  dv.setUint32(8, counter >>> 0);
  return iv;
}

/**
 * @param {EncodedFrame} frame
 * @param {TransformStreamDefaultController<EncodedFrame>} controller
 */
async function encryptFrame(frame, controller) {
  if (allowPlain) {
    controller.enqueue(frame);
    return;
  }
  const s = send;
  if (!s || !baseKey) return; // no key yet: send nothing rather than clear media
  const data = new Uint8Array(frame.data);
  const n = clearPrefix(frame);
  if (data.byteLength < n) {
    controller.enqueue(frame); // too short to carry a header: as is (E2EE.md)
    return;
  }
  const counter = s.counter++;
  s.key ??= mediaKey(s.participantId, s.keyIdHex);
  const key = await s.key;
  const iv = makeIv(s.keyId, counter);
  const prefix = data.subarray(0, n);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: prefix, tagLength: 128 }, key, data.subarray(n)));
  const out = new Uint8Array(n + ct.byteLength + TRAILER);
  out.set(prefix, 0);
  out.set(ct, n);
  out.set(iv, n + ct.byteLength);
  out[out.byteLength - 1] = VERSION;
  frame.data = out.buffer;
  stats.encrypted++;
  dirty = true;
  controller.enqueue(frame);
}

/**
 * @param {string} pid
 * @param {boolean} ok
 */
function count(pid, ok) {
  const m = ok ? stats.ok : stats.failures;
  m[pid] = (m[pid] ?? 0) + 1;
  if (ok) stats.decrypted++;
  dirty = true;
}

/**
 * @param {EncodedFrame} frame
 * @param {TransformStreamDefaultController<EncodedFrame>} controller
 * @param {number} rid
 */
async function decryptFrame(frame, controller, rid) {
  const data = new Uint8Array(frame.data);
  if (data.byteLength === 0) return;
  const pid = receivers.get(rid) ?? '';
  const n = clearPrefix(frame);
  if (data.byteLength <= n) {
    // A frame the sender had to leave as is: never played in an encrypted call.
    if (allowPlain) controller.enqueue(frame);
    return;
  }
  if (data.byteLength < n + TAG + TRAILER || data[data.byteLength - 1] !== VERSION) {
    if (allowPlain) controller.enqueue(frame);
    else if (pid) count(pid, false);
    return;
  }
  // Not ready yet (key import, sender unknown): drop without blame.
  if (!baseKey || !pid) return;
  const end = data.byteLength - TRAILER;
  const keyId = data.subarray(end, end + 4);
  const iv = data.slice(end, end + 12);
  try {
    const key = await mediaKey(pid, hex(keyId));
    const plain = new Uint8Array(
      await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: data.subarray(0, n), tagLength: 128 }, key, data.subarray(n, end)),
    );
    const out = new Uint8Array(n + plain.byteLength);
    out.set(data.subarray(0, n), 0);
    out.set(plain, n);
    frame.data = out.buffer;
    count(pid, true);
    controller.enqueue(frame);
  } catch {
    if (allowPlain) controller.enqueue(frame);
    else count(pid, false);
  }
}

/**
 * Pipes one sender's or receiver's frames through encryption or decryption.
 * @param {ReadableStream<EncodedFrame>} readable
 * @param {WritableStream<EncodedFrame>} writable
 * @param {TransformOptions} options
 */
function pipe(readable, writable, options) {
  const rid = Number(options.rid ?? 0);
  /** @type {TransformStream<EncodedFrame, EncodedFrame>} */
  const ts = new TransformStream({
    transform: options.operation === 'encrypt'
      ? (frame, controller) => encryptFrame(frame, controller).catch(() => {})
      : (frame, controller) => decryptFrame(frame, controller, rid).catch(() => {}),
  });
  readable.pipeThrough(ts).pipeTo(writable).catch(() => {
    // the connection closed
  });
}

scope.addEventListener('rtctransform', (ev) => {
  const tr = /** @type {Transformer} */ (ev.transformer);
  pipe(tr.readable, tr.writable, tr.options ?? { operation: 'decrypt' });
});

scope.addEventListener('message', (ev) => {
  const m = ev.data;
  if (!m || typeof m !== 'object') return;
  switch (m.type) {
    case 'key':
      baseKey = m.key;
      keys.clear();
      if (send) send.key = null;
      break;
    case 'send': {
      const keyId = new Uint8Array(m.keyId);
      send = { participantId: String(m.participantId), keyId, keyIdHex: hex(keyId), counter: 0, key: null };
      break;
    }
    case 'rx':
      receivers.set(Number(m.rid), String(m.participantId));
      break;
    case 'plain':
      allowPlain = !!m.allow;
      break;
    case 'streams':
      pipe(m.readable, m.writable, { operation: m.operation === 'encrypt' ? 'encrypt' : 'decrypt', rid: m.rid });
      break;
    default:
      break;
  }
});

setInterval(() => {
  if (!dirty) return;
  dirty = false;
  scope.postMessage({ type: 'stats', encrypted: stats.encrypted, decrypted: stats.decrypted, failures: { ...stats.failures }, ok: { ...stats.ok } });
}, 500);

export {};
