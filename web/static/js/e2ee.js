// @ts-check
/**
 * End-to-end encryption, page side (format: web/E2EE.md): the consultation
 * secret S (made by the advisor's browser, carried only in URL fragments,
 * kept by the advisor in IndexedDB), the safety code, and E2EEMedia, which
 * owns the frame-transform worker (e2ee-worker.js) and attaches it to the
 * senders and receivers of rtc.js.
 *
 * S never leaves this page except into the worker as a non-extractable
 * HKDF CryptoKey: no request, WebSocket message, log line or debug field
 * carries it.
 * @module
 */

import { Emitter } from './events.js';

/**
 * @typedef {'script-transform'|'encoded-streams'|'none'} E2EEMode
 * @typedef {'required'|'optional'} E2EEPolicy
 * @typedef {{
 *   enabled: boolean,
 *   mode: E2EEMode,
 *   safetyCode: string|null,
 *   decryptFailures: Record<string, number>,
 *   encryptedFrames: number,
 *   decryptedFrames: number
 * }} E2EEDebug
 * @typedef {{update: null}} E2EEEvents
 */

const SALT = new TextEncoder().encode('parley-e2ee-v1');
export const SECRET_BYTES = 32;

// ------------------------------------------------------------- the secret

/** @param {Uint8Array} bytes @returns {string} base64url without padding */
export function b64uEncode(bytes) {
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** @param {string} s @returns {Uint8Array|null} */
export function b64uDecode(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) return null;
  try {
    const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  } catch {
    return null;
  }
}

/** @returns {Uint8Array} a new consultation secret S */
export function generateSecret() {
  return crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
}

/**
 * S from a URL fragment ("#<b64u S>"), or null when absent or malformed.
 * @param {string} [hash]
 * @returns {Uint8Array|null}
 */
export function secretFromHash(hash = location.hash) {
  const s = hash.startsWith('#') ? hash.slice(1) : hash;
  const b = b64uDecode(s);
  return b && b.byteLength === SECRET_BYTES ? b : null;
}

/**
 * A link with S in its fragment.
 * @param {string} url
 * @param {Uint8Array|null} secret
 * @returns {string}
 */
export function withSecret(url, secret) {
  const base = url.split('#')[0] ?? url;
  return secret ? `${base}#${b64uEncode(secret)}` : base;
}

// -------------------------------------------------------------- IndexedDB

const DB_NAME = 'parley';
const STORE = 'secrets';

/** @returns {Promise<IDBDatabase>} */
function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB_NAME, 1);
    req.onupgradeneeded = () => {
      if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/**
 * @template T
 * @param {IDBTransactionMode} mode
 * @param {(store: IDBObjectStore) => IDBRequest} fn
 * @returns {Promise<T>}
 */
async function withStore(mode, fn) {
  const db = await openDb();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = fn(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/**
 * What this browser keeps of a consultation it holds the key of: S, and,
 * on the device that made or last renewed the invite, the invite link
 * (without S; S is added when it is shown). Deleted when the consultation
 * ends, and at the latest after its maximum duration (expiresAt).
 * @typedef {{
 *   secret: Uint8Array,
 *   inviteUrl?: string,
 *   inviteExpiresAt?: string,
 *   expiresAt?: string,
 *   storedAt?: number
 * }} KeyEntry
 */

/** Without a known end, an entry is kept this long (ms). */
const FALLBACK_KEEP_MS = 24 * 3600 * 1000;

/**
 * An entry as stored (older versions stored S alone), or null.
 * @param {unknown} v
 * @returns {KeyEntry|null}
 */
function asEntry(v) {
  if (v instanceof Uint8Array) return v.byteLength === SECRET_BYTES ? { secret: v } : null;
  if (!v || typeof v !== 'object') return null;
  const e = /** @type {Record<string, unknown>} */ (v);
  if (!(e.secret instanceof Uint8Array) || e.secret.byteLength !== SECRET_BYTES) return null;
  /** @type {KeyEntry} */
  const out = { secret: e.secret };
  if (typeof e.inviteUrl === 'string') out.inviteUrl = e.inviteUrl.split('#')[0];
  if (typeof e.inviteExpiresAt === 'string') out.inviteExpiresAt = e.inviteExpiresAt;
  if (typeof e.expiresAt === 'string') out.expiresAt = e.expiresAt;
  if (typeof e.storedAt === 'number') out.storedAt = e.storedAt;
  return out;
}

/**
 * Whether an entry is past the consultation's maximum duration.
 * @param {KeyEntry} e
 * @param {number} [now]
 */
export function entryExpired(e, now = Date.now()) {
  const end = e.expiresAt ? Date.parse(e.expiresAt) : (e.storedAt ?? now) + FALLBACK_KEEP_MS;
  return Number.isFinite(end) && end <= now;
}

/**
 * Keeps S of a consultation (advisor's browser), with what is known of
 * its invite; fields not given keep their stored values.
 * @param {string} consultationId
 * @param {Uint8Array} secret
 * @param {{inviteUrl?: string, inviteExpiresAt?: string, expiresAt?: string}} [more]
 * @returns {Promise<void>}
 */
export async function saveSecret(consultationId, secret, more = {}) {
  try {
    const old = await loadKeyEntry(consultationId);
    /** @type {KeyEntry} */
    const entry = { secret, storedAt: old?.storedAt ?? Date.now() };
    const same = old && old.secret.every((b, i) => b === secret[i]);
    const inviteUrl = more.inviteUrl ?? (same ? old?.inviteUrl : undefined);
    const inviteExpiresAt = more.inviteExpiresAt ?? (same ? old?.inviteExpiresAt : undefined);
    const expiresAt = more.expiresAt ?? old?.expiresAt;
    if (inviteUrl) entry.inviteUrl = inviteUrl.split('#')[0];
    if (inviteExpiresAt) entry.inviteExpiresAt = inviteExpiresAt;
    if (expiresAt) entry.expiresAt = expiresAt;
    await withStore('readwrite', (s) => s.put(entry, consultationId));
  } catch (err) {
    console.warn('parley: cannot store the call key in this browser', err instanceof Error ? err.name : '');
  }
}

/**
 * @param {string} consultationId
 * @returns {Promise<KeyEntry|null>} null when none or past its end (then deleted)
 */
export async function loadKeyEntry(consultationId) {
  try {
    const e = asEntry(await withStore('readonly', (s) => s.get(consultationId)));
    if (e && entryExpired(e)) {
      await deleteSecret(consultationId);
      return null;
    }
    return e;
  } catch {
    return null;
  }
}

/**
 * @param {string} consultationId
 * @returns {Promise<Uint8Array|null>}
 */
export async function loadSecret(consultationId) {
  return (await loadKeyEntry(consultationId))?.secret ?? null;
}

/**
 * All stored entries (the console adds the keys to its links); entries
 * past their consultation's maximum duration are deleted instead.
 * @returns {Promise<Map<string, KeyEntry>>}
 */
export async function loadAllSecrets() {
  /** @type {Map<string, KeyEntry>} */
  const out = new Map();
  /** @type {string[]} */
  const expired = [];
  try {
    const db = await openDb();
    try {
      await new Promise((resolve, reject) => {
        const tx = db.transaction(STORE, 'readonly');
        const req = tx.objectStore(STORE).openCursor();
        req.onsuccess = () => {
          const c = req.result;
          if (!c) return;
          const e = asEntry(c.value);
          if (typeof c.key === 'string' && e) {
            if (entryExpired(e)) expired.push(c.key);
            else out.set(c.key, e);
          }
          c.continue();
        };
        tx.oncomplete = () => resolve(null);
        tx.onerror = () => reject(tx.error);
      });
    } finally {
      db.close();
    }
  } catch {
    // no IndexedDB: links without keys
  }
  for (const id of expired) await deleteSecret(id);
  return out;
}

/** @param {string} consultationId @returns {Promise<void>} */
export async function deleteSecret(consultationId) {
  try {
    await withStore('readwrite', (s) => s.delete(consultationId));
  } catch {
    // nothing stored
  }
}

// ------------------------------------------------------------ derivations

/**
 * @param {Uint8Array} secret
 * @returns {Promise<CryptoKey>} non-extractable HKDF key
 */
function importSecret(secret) {
  return crypto.subtle.importKey('raw', new Uint8Array(secret), 'HKDF', false, ['deriveKey', 'deriveBits']);
}

/**
 * The safety code: first 4 bytes of HKDF(S, salt, "safety-code") as a
 * big-endian number mod 10^6, shown as "042 917".
 * @param {CryptoKey} base
 * @returns {Promise<string>}
 */
async function safetyCodeOf(base) {
  const bits = await crypto.subtle.deriveBits(
    { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: new TextEncoder().encode('safety-code') },
    base,
    256,
  );
  const n = new DataView(bits).getUint32(0) % 1000000;
  const s = String(n).padStart(6, '0');
  return `${s.slice(0, 3)} ${s.slice(3)}`;
}

/**
 * @param {Uint8Array} secret
 * @returns {Promise<string>}
 */
export async function safetyCode(secret) {
  return safetyCodeOf(await importSecret(secret));
}

// ---------------------------------------------------------------- support

/** @returns {E2EEMode} what this browser can do */
export function e2eeSupport() {
  if (typeof window.RTCRtpScriptTransform === 'function') return 'script-transform';
  const proto = /** @type {any} */ (window.RTCRtpSender?.prototype);
  if (proto && typeof proto.createEncodedStreams === 'function') return 'encoded-streams';
  return 'none';
}

/**
 * Only Opus and VP8 (and VP8's retransmissions) on a transceiver.
 * @param {RTCRtpTransceiver} t
 * @param {'audio'|'video'} kind
 * @param {'send'|'receive'} side
 */
function preferCodecs(t, kind, side) {
  if (typeof t.setCodecPreferences !== 'function') return;
  const caps = side === 'send' ? RTCRtpSender.getCapabilities(kind) : RTCRtpReceiver.getCapabilities(kind);
  if (!caps) return;
  const want = kind === 'audio' ? ['audio/opus'] : ['video/vp8', 'video/rtx'];
  const codecs = caps.codecs.filter((c) => want.includes(c.mimeType.toLowerCase()));
  if (!codecs.some((c) => c.mimeType.toLowerCase() !== 'video/rtx')) return;
  try {
    t.setCodecPreferences(codecs);
  } catch (err) {
    console.warn('parley: setCodecPreferences failed', err instanceof Error ? err.message : '');
  }
}

// -------------------------------------------------------------- E2EEMedia

/**
 * The encryption of one page's call. Created with the secret; the worker
 * starts at once. mode "none" (this browser has no encoded transforms)
 * means media goes out unencrypted, which call.js allows only when the
 * welcome says e2ee "optional".
 * @extends {Emitter<E2EEEvents>}
 */
export class E2EEMedia extends Emitter {
  /**
   * @param {Uint8Array} secret
   * @param {E2EEMode} [mode] for tests: force a mode
   */
  constructor(secret, mode = e2eeSupport()) {
    super();
    /** @type {E2EEMode} */
    this.mode = mode;
    /** @type {E2EEPolicy} */
    this.policy = 'required';
    /** @type {string|null} */
    this.safetyCode = null;
    /** @type {Worker|null} */
    this.worker = null;
    this.encryptedFrames = 0;
    this.decryptedFrames = 0;
    /** @type {Record<string, number>} */
    this.failures = {};
    /** @type {Record<string, number>} */
    this.ok = {};
    /** @type {Set<string>} participants whose frames fail to decrypt now */
    this.broken = new Set();
    /** Someone in the call sends without E2EE (policy "optional"). */
    this.plain = mode === 'none';
    /** @type {WeakMap<RTCRtpReceiver, number>} */
    this._rids = new WeakMap();
    this._nextRid = 1;
    /** @type {WeakSet<RTCRtpSender>} */
    this._senders = new WeakSet();
    const base = importSecret(secret);
    base
      .then((k) => safetyCodeOf(k))
      .then((code) => {
        this.safetyCode = code;
        this.emit('update', null);
      })
      .catch(() => {});
    if (mode !== 'none') {
      try {
        this.worker = new Worker('/static/js/e2ee-worker.js', { type: 'module', name: 'parley-e2ee' });
        this.worker.addEventListener('message', (ev) => this._onWorker(ev.data));
        this.worker.addEventListener('error', () => console.error('parley: the encryption worker failed'));
        const w = this.worker;
        base.then((key) => w.postMessage({ type: 'key', key })).catch(() => console.error('parley: cannot import the call key'));
      } catch (err) {
        console.error('parley: cannot start the encryption worker', err instanceof Error ? err.message : '');
        this.mode = 'none';
        this.plain = true;
      }
    }
  }

  /** Whether media is end-to-end encrypted (this side can, and nobody sends in clear). */
  get enabled() {
    return this.mode !== 'none' && !this.plain;
  }

  /** @param {unknown} m */
  _onWorker(m) {
    if (!m || typeof m !== 'object' || /** @type {any} */ (m).type !== 'stats') return;
    const s = /** @type {{encrypted: number, decrypted: number, failures: Record<string, number>, ok: Record<string, number>}} */ (m);
    for (const [pid, n] of Object.entries(s.failures)) {
      const failed = n - (this.failures[pid] ?? 0);
      const okd = (s.ok[pid] ?? 0) - (this.ok[pid] ?? 0);
      if (okd > 0) this.broken.delete(pid);
      else if (failed > 0) this.broken.add(pid);
    }
    for (const [pid, n] of Object.entries(s.ok)) if (n > (this.ok[pid] ?? 0)) this.broken.delete(pid);
    this.encryptedFrames = s.encrypted;
    this.decryptedFrames = s.decrypted;
    this.failures = { ...s.failures };
    this.ok = { ...s.ok };
    this.emit('update', null);
  }

  /** @param {E2EEPolicy} policy from the welcome */
  setPolicy(policy) {
    this.policy = policy === 'optional' ? 'optional' : 'required';
  }

  /**
   * Follows the roster: with policy "optional", a participant without
   * E2EE in the call makes everyone send and accept clear frames.
   * @param {{e2ee?: boolean}[]} inCall participants in the call
   */
  noteParticipants(inCall) {
    const someonePlain = inCall.some((p) => p.e2ee === false);
    const plain = this.mode === 'none' || (this.policy === 'optional' && someonePlain);
    if (plain !== this.plain) {
      this.plain = plain;
      this.worker?.postMessage({ type: 'plain', allow: plain });
      this.emit('update', null);
    }
  }

  /**
   * Peer connection settings (the encoded-streams fallback needs a flag).
   * @param {RTCConfiguration} config
   * @returns {RTCConfiguration}
   */
  configure(config) {
    if (this.mode === 'encoded-streams') return /** @type {RTCConfiguration} */ ({ ...config, encodedInsertableStreams: true });
    return config;
  }

  /**
   * A new publish connection: a new key epoch (random keyId).
   * @param {string} participantId own participant id
   */
  newEpoch(participantId) {
    if (!this.worker) return;
    const keyId = crypto.getRandomValues(new Uint8Array(4));
    this.worker.postMessage({ type: 'send', participantId, keyId });
  }

  /**
   * Encrypts what a publish transceiver sends; only Opus and VP8.
   * @param {RTCRtpTransceiver} t
   * @param {'audio'|'video'} kind
   */
  setupSender(t, kind) {
    if (this.mode === 'none') return;
    preferCodecs(t, kind, 'send');
    const w = this.worker;
    const sender = t.sender;
    if (!w || this._senders.has(sender)) return;
    this._senders.add(sender);
    try {
      if (this.mode === 'script-transform') {
        sender.transform = new RTCRtpScriptTransform(w, { operation: 'encrypt', kind });
      } else {
        const { readable, writable } = /** @type {any} */ (sender).createEncodedStreams();
        w.postMessage({ type: 'streams', operation: 'encrypt', readable, writable }, [readable, writable]);
      }
    } catch (err) {
      console.error('parley: cannot encrypt a sender', err instanceof Error ? err.message : '');
    }
  }

  /**
   * A subscribe transceiver (before the answer): only Opus and VP8.
   * @param {RTCRtpTransceiver} t
   */
  setupReceiverCodecs(t) {
    if (this.mode === 'none') return;
    const kind = t.receiver.track.kind === 'audio' ? 'audio' : 'video';
    preferCodecs(t, kind, 'receive');
    this._receiverTransform(t.receiver);
  }

  /**
   * @param {RTCRtpReceiver} receiver
   * @returns {number} its id in the worker
   */
  _receiverTransform(receiver) {
    let rid = this._rids.get(receiver);
    if (rid !== undefined) return rid;
    rid = this._nextRid++;
    this._rids.set(receiver, rid);
    const w = this.worker;
    if (!w) return rid;
    try {
      if (this.mode === 'script-transform') {
        receiver.transform = new RTCRtpScriptTransform(w, { operation: 'decrypt', rid });
      } else {
        const { readable, writable } = /** @type {any} */ (receiver).createEncodedStreams();
        w.postMessage({ type: 'streams', operation: 'decrypt', rid, readable, writable }, [readable, writable]);
      }
    } catch (err) {
      console.error('parley: cannot decrypt a receiver', err instanceof Error ? err.message : '');
    }
    return rid;
  }

  /**
   * Decrypts what a receiver gets from this participant.
   * @param {RTCRtpReceiver} receiver
   * @param {string} participantId the sender, from the stream id
   */
  setupReceiver(receiver, participantId) {
    if (this.mode === 'none') return;
    const rid = this._receiverTransform(receiver);
    this.worker?.postMessage({ type: 'rx', rid, participantId });
  }

  /** @returns {E2EEDebug} no secret, no key */
  debug() {
    return {
      enabled: this.enabled,
      mode: this.mode,
      safetyCode: this.safetyCode,
      decryptFailures: { ...this.failures },
      encryptedFrames: this.encryptedFrames,
      decryptedFrames: this.decryptedFrames,
    };
  }

  /** Stops the worker (the call is over). */
  close() {
    this.worker?.terminate();
    this.worker = null;
  }
}

// ------------------------------------------------------------- ChatCrypto

/**
 * Encryption of chat messages, files and photos (web/E2EE.md "Chat, files
 * and photos"): per sender a chat key HKDF(S, salt, "chat/<participantId>")
 * and a file key HKDF(S, salt, "file/<participantId>"), AES-256-GCM with a
 * random 12-byte IV. Keys are non-extractable; S itself is not kept.
 */
export class ChatCrypto {
  /**
   * @param {Uint8Array} secret
   * @param {string} consultationId
   */
  constructor(secret, consultationId) {
    this.consultationId = consultationId;
    /** @type {Promise<CryptoKey>} */
    this._base = importSecret(secret);
    /** @type {Map<string, Promise<CryptoKey>>} */
    this._keys = new Map();
  }

  /**
   * @param {'chat'|'file'} purpose
   * @param {string} participantId
   * @returns {Promise<CryptoKey>}
   */
  _key(purpose, participantId) {
    const info = `${purpose}/${participantId}`;
    let k = this._keys.get(info);
    if (!k) {
      k = this._base.then((base) =>
        crypto.subtle.deriveKey(
          { name: 'HKDF', hash: 'SHA-256', salt: SALT, info: new TextEncoder().encode(info) },
          base,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        ),
      );
      this._keys.set(info, k);
    }
    return k;
  }

  /**
   * @param {CryptoKey} key
   * @param {Uint8Array} plain
   * @param {string} aad
   * @returns {Promise<Uint8Array>} IV ‖ ciphertext‖tag
   */
  static async _seal(key, plain, aad) {
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(
      await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new TextEncoder().encode(aad) }, key, new Uint8Array(plain)),
    );
    const out = new Uint8Array(12 + ct.byteLength);
    out.set(iv, 0);
    out.set(ct, 12);
    return out;
  }

  /**
   * @param {CryptoKey} key
   * @param {Uint8Array} sealed IV ‖ ciphertext‖tag
   * @param {string} aad
   * @returns {Promise<Uint8Array|null>} null when it does not decrypt
   */
  static async _open(key, sealed, aad) {
    if (sealed.byteLength < 12 + 16) return null;
    try {
      const pt = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: sealed.slice(0, 12), additionalData: new TextEncoder().encode(aad) },
        key,
        sealed.slice(12),
      );
      return new Uint8Array(pt);
    } catch {
      return null;
    }
  }

  /**
   * A chat body: b64u(IV ‖ ct) of the JSON payload, AAD "<cid>/<msgId>".
   * @param {string} selfId the sender (this page's participant id)
   * @param {string} msgId
   * @param {Record<string, unknown>} payload
   * @returns {Promise<string>}
   */
  async encryptMessage(selfId, msgId, payload) {
    const key = await this._key('chat', selfId);
    const plain = new TextEncoder().encode(JSON.stringify(payload));
    return b64uEncode(await ChatCrypto._seal(key, plain, `${this.consultationId}/${msgId}`));
  }

  /**
   * @param {string} fromId the sender
   * @param {string} msgId
   * @param {string} body
   * @returns {Promise<Record<string, unknown>|null>} null when it does not decrypt
   */
  async decryptMessage(fromId, msgId, body) {
    const sealed = b64uDecode(body);
    if (!sealed) return null;
    const pt = await ChatCrypto._open(await this._key('chat', fromId), sealed, `${this.consultationId}/${msgId}`);
    if (!pt) return null;
    try {
      const v = JSON.parse(new TextDecoder().decode(pt));
      return v && typeof v === 'object' && !Array.isArray(v) ? v : null;
    } catch {
      return null;
    }
  }

  /**
   * File bytes: IV ‖ ct, AAD "<cid>/<fileId>".
   * @param {string} selfId
   * @param {string} fileId
   * @param {Uint8Array} bytes
   * @returns {Promise<Uint8Array>}
   */
  async encryptFile(selfId, fileId, bytes) {
    return ChatCrypto._seal(await this._key('file', selfId), bytes, `${this.consultationId}/${fileId}`);
  }

  /**
   * @param {string} fromId the uploader
   * @param {string} fileId
   * @param {Uint8Array} sealed
   * @returns {Promise<Uint8Array|null>}
   */
  async decryptFile(fromId, fileId, sealed) {
    return ChatCrypto._open(await this._key('file', fromId), sealed, `${this.consultationId}/${fileId}`);
  }
}

/** @returns {string} 32 random lowercase hex digits (message and file ids) */
export function randomId() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');
}
