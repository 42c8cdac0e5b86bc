// @ts-check
/**
 * End-to-end encrypted chat, files and photos of one call, without DOM
 * (the view is chat-ui.js). Formats: web/E2EE.md "Chat, files and
 * photos"; messages: signaling/PROTOCOL.md (`chat`, `receipt`,
 * `chat_history`, `delete`/`deleted`); file storage: web/API.md "Files and
 * photos". The server only ever sees ciphertext: names, types and texts are
 * inside the encrypted message.
 *
 * Own messages go sending → sent (the server's echo) → delivered (a
 * receipt from another participant).
 * @module
 */

import { Emitter } from './events.js';
import { ChatCrypto, randomId } from './e2ee.js';
import { readCookie } from './api.js';
import * as debug from './debug.js';

/**
 * @typedef {'sending'|'sent'|'delivered'|'failed'} ChatState
 * @typedef {'text'|'file'|'photo'|'unknown'} ChatKind
 * @typedef {{kind: 'text', text: string}
 *   | {kind: 'file', fileId: string, name: string, mime: string, size: number}
 *   | {kind: 'photo', fileId: string, mime: string, size: number, width: number, height: number}} ChatPayload
 * @typedef {{
 *   id: string,
 *   from: string,
 *   at: string,
 *   mine: boolean,
 *   state: ChatState,
 *   payload: ChatPayload|null,
 *   undecryptable: boolean,
 *   blobUrl: string|null,
 *   fileError: string|null
 * }} ChatEntryView payload null + undecryptable: cannot be decrypted
 * @typedef {{
 *   sent: number,
 *   received: number,
 *   decryptFailures: number,
 *   lastRawBody: string|null,
 *   downloads: {msg: string, name: string, size: number, sha256: string}[]
 * }} ChatDebug
 * @typedef {{update: null, incoming: ChatEntryView}} ChatEvents
 */

/** Max ciphertext of a chat body (PROTOCOL.md). */
const MAX_BODY_BYTES = 16 << 10;

/** An error of a chat action; code is translated as "chat.error.<code>". */
export class ChatError extends Error {
  /** @param {string} code */
  constructor(code) {
    super(code);
    this.name = 'ChatError';
    this.code = code;
  }
}

/** @param {Uint8Array} bytes @returns {Promise<string>} */
async function sha256Hex(bytes) {
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', new Uint8Array(bytes)));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * @param {unknown} v
 * @returns {ChatPayload|null} a well-formed payload
 */
function checkPayload(v) {
  if (!v || typeof v !== 'object') return null;
  const o = /** @type {Record<string, unknown>} */ (v);
  const id = typeof o.fileId === 'string' && /^[0-9a-f]{32}$/.test(o.fileId) ? o.fileId : null;
  const num = (/** @type {unknown} */ x) => (typeof x === 'number' && Number.isFinite(x) && x >= 0 ? x : 0);
  if (o.kind === 'text' && typeof o.text === 'string') return { kind: 'text', text: o.text };
  if (o.kind === 'file' && id) {
    return { kind: 'file', fileId: id, name: typeof o.name === 'string' ? o.name : 'datei', mime: typeof o.mime === 'string' ? o.mime : '', size: num(o.size) };
  }
  if (o.kind === 'photo' && id) {
    return { kind: 'photo', fileId: id, mime: 'image/jpeg', size: num(o.size), width: num(o.width), height: num(o.height) };
  }
  return null;
}

/**
 * The chat of one call.
 * @extends {Emitter<ChatEvents>}
 */
export class ChatSession extends Emitter {
  /**
   * @param {import('./call.js').CallSession} session
   * @param {Uint8Array} secret the call secret S
   */
  constructor(session, secret) {
    super();
    this.session = session;
    this.consultationId = session.consultationId;
    this.crypto = new ChatCrypto(secret, session.consultationId);
    /** @type {Map<string, ChatEntryView>} in display order */
    this.messages = new Map();
    /** @type {Set<string>} messages this page has sent a receipt for */
    this._receipted = new Set();
    /** @type {Set<string>} */
    this._deleted = new Set();
    /** @type {Map<string, string>} participant id → last known name */
    this.names = new Map();
    /** @type {Map<string, 'advisor'|'customer'>} */
    this.roles = new Map();
    /** @type {ChatDebug} */
    this.stats = { sent: 0, received: 0, decryptFailures: 0, lastRawBody: null, downloads: [] };
    /** Serializes incoming messages (decryption is async, order matters). */
    this._queue = Promise.resolve();
    const link = session.link;
    this._off = [
      link.on('chat', (m) => this._enqueue(() => this._onChat(m))),
      link.on('chat_history', (m) => this._enqueue(() => this._onHistory(Array.isArray(m.messages) ? m.messages : []))),
      link.on('receipt', (m) => this._enqueue(async () => this._onReceipt(m.msg))),
      link.on('deleted', (m) => this._enqueue(async () => this._remove(m.msg))),
      link.on('roster', (m) => {
        for (const p of m.participants) {
          this.names.set(p.id, p.name);
          this.roles.set(p.id, p.role);
        }
      }),
      link.on('welcome', (m) => {
        this.names.set(m.self.id, m.self.name);
        this.roles.set(m.self.id, m.self.role);
      }),
    ];
    debug.setChat(() => ({ ...this.stats, downloads: this.stats.downloads.map((d) => ({ ...d })) }));
  }

  /** @returns {string|null} */
  get selfId() {
    return this.session.self?.id ?? null;
  }

  /** Whether messages can be sent now. */
  get canSend() {
    return this.session.state === 'joined' && this.session.link.ready;
  }

  /** @param {() => Promise<void>} fn */
  _enqueue(fn) {
    this._queue = this._queue.then(fn).catch((err) => console.error('parley: chat', err instanceof Error ? err.message : ''));
  }

  _changed() {
    this.emit('update', null);
  }

  /**
   * @param {import('./protocol.js').ChatEntry} e
   * @returns {Promise<ChatEntryView|null>}
   */
  async _entry(e) {
    if (typeof e.msg !== 'string' || typeof e.from !== 'string' || typeof e.body !== 'string') return null;
    const mine = e.from === this.selfId;
    const have = this.messages.get(e.msg);
    if (have) {
      if (mine && have.state === 'sending') have.state = 'sent';
      have.at = e.at || have.at;
      return have;
    }
    if (!mine) this.stats.lastRawBody = e.body;
    const raw = await this.crypto.decryptMessage(e.from, e.msg, e.body);
    const payload = checkPayload(raw);
    if (!payload) this.stats.decryptFailures++;
    /** @type {ChatEntryView} */
    const v = {
      id: e.msg,
      from: e.from,
      at: e.at,
      mine,
      state: 'sent',
      payload,
      undecryptable: !payload,
      blobUrl: null,
      fileError: null,
    };
    return v;
  }

  /** @param {ChatEntryView} v */
  _receipt(v) {
    if (v.mine || this._receipted.has(v.id)) return;
    if (this.session.link.send({ type: 'receipt', msg: v.id }) !== null) this._receipted.add(v.id);
  }

  /** @param {import('./protocol.js').ChatMessage} m */
  async _onChat(m) {
    if (this._deleted.has(m.msg)) return;
    const known = this.messages.has(m.msg);
    const v = await this._entry(m);
    if (!v) return;
    if (!known) {
      this.messages.set(v.id, v);
      if (!v.mine) {
        this.stats.received++;
        this.emit('incoming', v);
      }
      if (v.payload?.kind === 'photo') void this._loadPhoto(v);
    }
    this._receipt(v);
    this._changed();
  }

  /** @param {import('./protocol.js').ChatEntry[]} list */
  async _onHistory(list) {
    /** @type {Map<string, ChatEntryView>} */
    const next = new Map();
    for (const e of list) {
      if (this._deleted.has(e.msg)) continue;
      const known = this.messages.has(e.msg);
      const v = await this._entry(e);
      if (!v) continue;
      next.set(v.id, v);
      if (!known) {
        if (!v.mine) {
          this.stats.received++;
          this.emit('incoming', v);
        }
        if (v.payload?.kind === 'photo') void this._loadPhoto(v);
      }
      this._receipt(v);
    }
    // Own messages still on their way stay; others the server no longer
    // has were deleted (or are older than its history).
    for (const v of this.messages.values()) {
      if (next.has(v.id)) continue;
      if (v.mine && (v.state === 'sending' || v.state === 'failed')) next.set(v.id, v);
      else if (v.blobUrl) URL.revokeObjectURL(v.blobUrl);
    }
    this.messages = next;
    this._changed();
  }

  /** @param {string} msg */
  async _onReceipt(msg) {
    const v = this.messages.get(msg);
    if (v && v.mine && v.state !== 'failed') {
      v.state = 'delivered';
      this._changed();
    }
  }

  /** @param {string} msg */
  _remove(msg) {
    this._deleted.add(msg);
    const v = this.messages.get(msg);
    if (!v) return;
    if (v.blobUrl) URL.revokeObjectURL(v.blobUrl);
    this.messages.delete(msg);
    this._changed();
  }

  // ---------------------------------------------------------------- sending

  /**
   * Encrypts and sends a message.
   * @param {ChatPayload} payload
   * @param {ChatEntryView} [pending] the entry already shown (files)
   * @returns {Promise<ChatEntryView>}
   */
  async _send(payload, pending) {
    const self = this.selfId;
    if (!self || !this.canSend) throw new ChatError('offline');
    const id = pending?.id ?? randomId();
    const body = await this.crypto.encryptMessage(self, id, payload);
    if (Math.ceil((body.length * 3) / 4) > MAX_BODY_BYTES) throw new ChatError('too_long');
    /** @type {ChatEntryView} */
    const v = pending ?? { id, from: self, at: new Date().toISOString(), mine: true, state: 'sending', payload, undecryptable: false, blobUrl: null, fileError: null };
    if (!pending) {
      this.messages.set(id, v);
      this._changed();
    }
    if (this.session.link.send({ type: 'chat', msg: id, body }) === null) {
      v.state = 'failed';
      this._changed();
      throw new ChatError('offline');
    }
    this.stats.sent++;
    return v;
  }

  /**
   * @param {string} text
   * @returns {Promise<void>}
   */
  async sendText(text) {
    const s = text.trim();
    if (!s) return;
    await this._send({ kind: 'text', text: s });
  }

  /**
   * Encrypts a file (or photo), uploads it, then announces it.
   * @param {Blob} blob
   * @param {{kind: 'file', name: string, mime: string} | {kind: 'photo', width: number, height: number}} meta
   * @returns {Promise<void>}
   */
  async sendFile(blob, meta) {
    const self = this.selfId;
    if (!self || !this.canSend) throw new ChatError('offline');
    const fileId = randomId();
    /** @type {ChatPayload} */
    const payload = meta.kind === 'file'
      ? { kind: 'file', fileId, name: meta.name, mime: meta.mime, size: blob.size }
      : { kind: 'photo', fileId, mime: 'image/jpeg', size: blob.size, width: meta.width, height: meta.height };
    /** @type {ChatEntryView} */
    const v = {
      id: randomId(),
      from: self,
      at: new Date().toISOString(),
      mine: true,
      state: 'sending',
      payload,
      undecryptable: false,
      blobUrl: meta.kind === 'photo' ? URL.createObjectURL(blob) : null,
      fileError: null,
    };
    this.messages.set(v.id, v);
    this._changed();
    try {
      const sealed = await this.crypto.encryptFile(self, fileId, new Uint8Array(await blob.arrayBuffer()));
      await this._upload(fileId, sealed);
      await this._send(payload, v);
    } catch (err) {
      this.messages.delete(v.id);
      if (v.blobUrl) URL.revokeObjectURL(v.blobUrl);
      this._changed();
      throw err;
    }
  }

  /** @param {string} fileId */
  _fileUrl(fileId) {
    return `/api/v1/consultations/${encodeURIComponent(this.consultationId)}/files/${fileId}`;
  }

  /** @param {'PUT'|'DELETE'} method @returns {Record<string, string>} */
  _headers(method) {
    /** @type {Record<string, string>} */
    const h = { Accept: 'application/json' };
    if (method === 'PUT') h['Content-Type'] = 'application/octet-stream';
    const token = readCookie('parley_csrf');
    if (token) h['X-CSRF-Token'] = token;
    return h;
  }

  /**
   * @param {string} fileId
   * @param {Uint8Array} sealed
   */
  async _upload(fileId, sealed) {
    /** @type {Response} */
    let res;
    try {
      res = await fetch(this._fileUrl(fileId), {
        method: 'PUT',
        headers: this._headers('PUT'),
        body: new Blob([new Uint8Array(sealed)], { type: 'application/octet-stream' }),
        credentials: 'same-origin',
        cache: 'no-store',
      });
    } catch {
      throw new ChatError('network');
    }
    if (res.ok) return;
    if (res.status === 413) throw new ChatError('too_large');
    if (res.status === 410) throw new ChatError('ended');
    throw new ChatError('upload');
  }

  /**
   * Downloads and decrypts the file of a message.
   * @param {ChatEntryView} v
   * @returns {Promise<Blob>}
   */
  async fetchFile(v) {
    const p = v.payload;
    if (!p || p.kind === 'text') throw new ChatError('download');
    /** @type {Response} */
    let res;
    try {
      res = await fetch(this._fileUrl(p.fileId), { credentials: 'same-origin', cache: 'no-store' });
    } catch {
      throw new ChatError('network');
    }
    if (!res.ok) throw new ChatError(res.status === 404 ? 'gone' : 'download');
    const sealed = new Uint8Array(await res.arrayBuffer());
    const plain = await this.crypto.decryptFile(v.from, p.fileId, sealed);
    if (!plain) {
      this.stats.decryptFailures++;
      throw new ChatError('undecryptable');
    }
    const name = p.kind === 'file' ? p.name : `foto-${v.id.slice(0, 8)}.jpg`;
    this.stats.downloads.push({ msg: v.id, name, size: plain.byteLength, sha256: await sha256Hex(plain) });
    const mime = p.kind === 'file' && /^[\w.+-]+\/[\w.+-]+$/.test(p.mime) ? p.mime : p.kind === 'photo' ? 'image/jpeg' : 'application/octet-stream';
    return new Blob([new Uint8Array(plain)], { type: mime });
  }

  /** @param {ChatEntryView} v */
  async _loadPhoto(v) {
    if (v.blobUrl) return;
    try {
      const blob = await this.fetchFile(v);
      if (!this.messages.has(v.id)) return;
      v.blobUrl = URL.createObjectURL(blob);
    } catch (err) {
      v.fileError = err instanceof ChatError ? err.code : 'download';
    }
    this._changed();
  }

  /**
   * Whether this page may delete a message for everyone.
   * @param {ChatEntryView} v
   */
  canDelete(v) {
    return v.mine || this.session.self?.role === 'advisor';
  }

  /**
   * Deletes a message for everyone, and its file on the server.
   * @param {ChatEntryView} v
   */
  async remove(v) {
    if (!this.canDelete(v)) return;
    if (v.state === 'sending' || v.state === 'failed') {
      this._remove(v.id);
      return;
    }
    if (this.session.link.send({ type: 'delete', msg: v.id }) === null) throw new ChatError('offline');
    const p = v.payload;
    if (p && p.kind !== 'text') {
      try {
        await fetch(this._fileUrl(p.fileId), { method: 'DELETE', headers: this._headers('DELETE'), credentials: 'same-origin', cache: 'no-store' });
      } catch {
        // deleted with the consultation at the latest
      }
    }
  }

  /** Stops listening and frees the blob URLs. */
  dispose() {
    for (const off of this._off) off();
    this._off = [];
    for (const v of this.messages.values()) if (v.blobUrl) URL.revokeObjectURL(v.blobUrl);
  }
}

/**
 * A still of a camera track as JPEG.
 * @param {MediaStreamTrack} track
 * @returns {Promise<{blob: Blob, width: number, height: number}>}
 */
export async function takePhoto(track) {
  const video = document.createElement('video');
  video.muted = true;
  video.playsInline = true;
  video.srcObject = new MediaStream([track]);
  try {
    await video.play();
    const start = performance.now();
    while (video.videoWidth === 0 && performance.now() - start < 3000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const width = video.videoWidth;
    const height = video.videoHeight;
    if (!width || !height) throw new ChatError('photo');
    const canvas = document.createElement('canvas');
    canvas.width = width;
    canvas.height = height;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new ChatError('photo');
    ctx.drawImage(video, 0, 0, width, height);
    /** @type {Blob|null} */
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', 0.9));
    if (!blob) throw new ChatError('photo');
    return { blob, width, height };
  } finally {
    video.pause();
    video.srcObject = null;
  }
}
