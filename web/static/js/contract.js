// @ts-check
/**
 * Contracts signed in the call, without DOM (the view is contract-ui.js):
 * the documents of the consultation (REST, web/API.md "Documents") kept up
 * to date by the `document` and `document_progress` messages
 * (signaling/PROTOCOL.md) and fetched again after every (re)join;
 * presenting a PDF or the built-in contract template (advisors); signing a
 * field with a handwritten capture (signature-pad.js, format in
 * signature/CAPTURE.md); and telling the advisors how far the reader is
 * (throttled to two reports a second).
 * @module
 */

import { Emitter } from './events.js';
import { request, ApiError } from './api.js';

/**
 * @typedef {'customer'|'advisor'} SignerRole
 * @typedef {{
 *   name: string,
 *   signer: SignerRole,
 *   signed: boolean,
 *   signerName?: string,
 *   signedAt?: string
 * }} Field
 * @typedef {{
 *   id: string,
 *   name: string,
 *   pages: number,
 *   size: number,
 *   sha256: string,
 *   state: 'open'|'signed'|'withdrawn',
 *   withdrawnAt?: string,
 *   createdAt: string,
 *   fields: Field[],
 *   pdfUrl: string,
 *   downloadUrl: string
 * }} Document
 * @typedef {'reading'|'signing'|'closed'} Activity
 * @typedef {{from: string, page: number, pages: number, activity: Activity|'failed', at: number}} Progress
 * @typedef {{
 *   update: null,
 *   arrived: {doc: Document, live: boolean},
 *   signed: {doc: Document, field: Field},
 *   progress: {doc: string, progress: Progress},
 *   withdrawn: {doc: Document, live: boolean},
 *   failed: {doc: string, field: string, from: string, code: string, own: boolean}
 * }} DocumentEvents
 * @typedef {{page: number, x: number, y: number, w: number, h: number}} FieldBox
 *   where a signature field goes: 1-based page, lower-left corner and size in PDF points
 * @typedef {{file: File, signers: SignerRole[], boxes?: Map<string, FieldBox>} | {template: 'contract', title: string, signers: SignerRole[]}} PresentRequest
 */

/** At most this often a progress report per document (ms). */
const PROGRESS_INTERVAL_MS = 500;

/**
 * A document from the server, checked for the fields the view relies on.
 * @param {unknown} v
 * @returns {Document|null}
 */
function asDocument(v) {
  if (!v || typeof v !== 'object') return null;
  const d = /** @type {Record<string, unknown>} */ (v);
  if (typeof d.id !== 'string' || !d.id || typeof d.pdfUrl !== 'string' || !Array.isArray(d.fields)) return null;
  const fields = d.fields.filter((f) => f && typeof f === 'object' && typeof f.name === 'string');
  return /** @type {Document} */ ({ ...d, fields, name: typeof d.name === 'string' ? d.name : '', pages: Number(d.pages) || 0 });
}

/**
 * The documents of one call.
 * @extends {Emitter<DocumentEvents>}
 */
export class DocumentSession extends Emitter {
  /** @param {import('./call.js').CallSession} session */
  constructor(session) {
    super();
    this.session = session;
    /** @type {Map<string, Document>} in the order presented (newest last) */
    this.documents = new Map();
    /** @type {Map<string, Map<string, Progress>>} document → participant → last report */
    this.progress = new Map();
    /** Whether the list was fetched at least once. */
    this.loaded = false;
    this._seq = 0;
    /** @type {Map<string, {timer: number, last: number, pending: {page: number, pages: number, activity: Activity}|null}>} */
    this._reports = new Map();
    /**
     * Sign requests of this page: document and field → until when a
     * failure pushed about them is this page's own (staff are named
     * "staff:<id>" in pushes, not by their participant id).
     * @type {Map<string, number>}
     */
    this._ownSigning = new Map();
    const link = session.link;
    /** @type {(() => void)[]} */
    this._off = [
      link.on('document', (m) => this._apply(m.document, true)),
      link.on('document_progress', (m) => this._onProgress(m)),
      link.on('document_sign_failed', (m) => this._onSignFailed(m)),
      // Whatever was presented or signed while this page was away.
      link.on('welcome', (w) => {
        if (w.self?.state === 'joined') void this.refresh();
      }),
      session.on('self', (st) => {
        if (st === 'joined') void this.refresh();
      }),
    ];
    if (session.state === 'joined') void this.refresh();
  }

  /** @returns {SignerRole} */
  get role() {
    return this.session.self?.role === 'advisor' ? 'advisor' : 'customer';
  }

  /** @returns {string} */
  get _base() {
    return `/api/v1/consultations/${encodeURIComponent(this.session.consultationId)}/documents`;
  }

  /** @param {string} docId @returns {string} */
  _docPath(docId) {
    return `${this._base}/${encodeURIComponent(docId)}`;
  }

  /** Fetches the list again (after a (re)join). */
  async refresh() {
    const seq = ++this._seq;
    try {
      const res = await request('GET', this._base);
      if (seq !== this._seq || this.session.ended) return;
      const list = res && Array.isArray(res.documents) ? res.documents : [];
      for (const d of list) this._apply(d, false);
      this.loaded = true;
      this.emit('update', null);
    } catch (err) {
      console.warn('parley: documents not loaded', err instanceof ApiError ? err.code : err);
    }
  }

  /**
   * Takes a document version from the server (answer or push).
   * @param {unknown} raw
   * @param {boolean} live pushed now (not caught up by a refresh)
   * @returns {Document|null}
   */
  _apply(raw, live) {
    const doc = asDocument(raw);
    if (!doc) return null;
    const prev = this.documents.get(doc.id);
    this.documents.set(doc.id, doc);
    if (!prev) {
      if (doc.state !== 'withdrawn') this.emit('arrived', { doc, live });
    } else if (doc.state === 'withdrawn') {
      if (prev.state !== 'withdrawn') this.emit('withdrawn', { doc, live });
    } else {
      for (const f of doc.fields) {
        const before = prev.fields.find((x) => x.name === f.name);
        if (f.signed && !before?.signed) this.emit('signed', { doc, field: f });
      }
    }
    this.emit('update', null);
    return doc;
  }

  /** @param {import('./protocol.js').DocumentProgressMessage} m */
  _onProgress(m) {
    if (typeof m.doc !== 'string' || typeof m.from !== 'string') return;
    let per = this.progress.get(m.doc);
    if (!per) {
      per = new Map();
      this.progress.set(m.doc, per);
    }
    const activity = m.activity === 'signing' || m.activity === 'closed' ? m.activity : 'reading';
    /** @type {Progress} */
    const p = { from: m.from, page: Number(m.page) || 0, pages: Number(m.pages) || 0, activity, at: Date.now() };
    per.set(m.from, p);
    this.emit('progress', { doc: m.doc, progress: p });
  }

  /**
   * A signing request failed on the server: the signer's line says so
   * (instead of "signing …") and the view is told.
   * @param {import('./protocol.js').DocumentSignFailedMessage} m
   */
  _onSignFailed(m) {
    if (typeof m.doc !== 'string' || typeof m.from !== 'string') return;
    let per = this.progress.get(m.doc);
    if (!per) {
      per = new Map();
      this.progress.set(m.doc, per);
    }
    const last = per.get(m.from);
    /** @type {Progress} */
    const p = { from: m.from, page: last?.page ?? 0, pages: last?.pages ?? 0, activity: 'failed', at: Date.now() };
    per.set(m.from, p);
    this.emit('progress', { doc: m.doc, progress: p });
    const field = String(m.field ?? '');
    const own = (this._ownSigning.get(`${m.doc}\n${field}`) ?? 0) > Date.now();
    this.emit('failed', { doc: m.doc, field, from: m.from, code: String(m.code ?? ''), own });
  }

  /**
   * Withdraws a document that is not signed by everyone (advisors).
   * @param {Document} doc
   * @returns {Promise<Document>}
   */
  async withdraw(doc) {
    const res = await request('POST', `${this._docPath(doc.id)}/withdraw`, {});
    const out = this._apply(res, true);
    if (!out) throw new ApiError(500, 'internal', 'no document in the answer');
    return out;
  }

  /** @returns {Document[]} newest last */
  list() {
    return [...this.documents.values()];
  }

  /**
   * The first field of a document this participant may still sign.
   * @param {Document} doc
   * @returns {Field|null}
   */
  openFieldFor(doc) {
    if (doc.state === 'withdrawn') return null;
    return doc.fields.find((f) => f.signer === this.role && !f.signed) ?? null;
  }

  /**
   * Presents a PDF or the contract template (advisors).
   * @param {PresentRequest} req
   * @returns {Promise<Document>}
   */
  async present(req) {
    const signers = req.signers.join(',');
    /** @type {unknown} */
    let res;
    if ('file' in req) {
      let q = `?name=${encodeURIComponent(req.file.name)}&signers=${encodeURIComponent(signers)}`;
      // The advisor's boxes (API.md "box.<field>"); fields without one go into free space.
      for (const [field, b] of req.boxes ?? []) {
        q += `&box.${encodeURIComponent(field)}=${[b.page, b.x, b.y, b.w, b.h].map((v) => Math.round(v * 10) / 10).join(',')}`;
      }
      // The file as it is, typed as a PDF whatever the browser guessed.
      res = await request('POST', this._base + q, req.file.slice(0, req.file.size, 'application/pdf'));
    } else {
      res = await request('POST', this._base, { template: req.template, title: req.title, signers: req.signers });
    }
    const doc = this._apply(res, true);
    if (!doc) throw new ApiError(500, 'internal', 'no document in the answer');
    return doc;
  }

  /**
   * The document's current revision (the signed PDF once signed).
   * @param {Document} doc
   * @returns {Promise<Uint8Array>}
   */
  async fetchPdf(doc) {
    /** @type {Response} */
    let res;
    try {
      res = await fetch(doc.pdfUrl, { credentials: 'same-origin', cache: 'no-store' });
    } catch (err) {
      throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err));
    }
    if (!res.ok) {
      /** @type {any} */
      let body = null;
      try {
        body = await res.json();
      } catch {
        body = null;
      }
      const code = typeof body?.error?.code === 'string' ? body.error.code : res.status === 404 ? 'not_found' : 'internal';
      throw new ApiError(res.status, code, `HTTP ${res.status}`);
    }
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Signs a field with a handwritten capture. Rejects with an ApiError;
   * code "implausible" carries the reason.
   * @param {Document} doc
   * @param {string} field
   * @param {import('./signature-pad.js').Capture} capture
   * @returns {Promise<Document>}
   */
  async sign(doc, field, capture) {
    return this._sign(doc, field, '', capture);
  }

  /**
   * Signs a field without drawing: the accessible alternative, the name
   * typed and confirmed by the signer (signature/CAPTURE.md, "Typed
   * signatures"). Rejects like sign; code "implausible" with reasons
   * typed_name_* or not_confirmed.
   * @param {Document} doc
   * @param {string} field
   * @param {string} typedName
   * @param {boolean} confirmed
   * @returns {Promise<Document>}
   */
  async signTyped(doc, field, typedName, confirmed) {
    return this._sign(doc, field, '/typed', { typedName, confirmed });
  }

  /**
   * @param {Document} doc
   * @param {string} field
   * @param {string} suffix
   * @param {unknown} body
   * @returns {Promise<Document>}
   */
  async _sign(doc, field, suffix, body) {
    const key = `${doc.id}\n${field}`;
    this._ownSigning.set(key, Infinity);
    let res;
    try {
      res = await request('POST', `${this._docPath(doc.id)}/sign/${encodeURIComponent(field)}${suffix}`, body);
    } finally {
      // The push about a failure may come just after the answer.
      this._ownSigning.set(key, Date.now() + 10000);
    }
    const signed = this._apply(res, true);
    if (!signed) throw new ApiError(500, 'internal', 'no document in the answer');
    return signed;
  }

  /**
   * Tells the advisors where this reader is. Reports are sent at most
   * every PROGRESS_INTERVAL_MS per document; the latest one always goes out.
   * @param {string} docId
   * @param {number} page 1-based
   * @param {number} pages
   * @param {Activity} activity
   */
  reportProgress(docId, page, pages, activity) {
    let r = this._reports.get(docId);
    if (!r) {
      r = { timer: 0, last: 0, pending: null };
      this._reports.set(docId, r);
    }
    r.pending = { page, pages, activity };
    if (r.timer) return;
    const wait = Math.max(0, r.last + PROGRESS_INTERVAL_MS - performance.now());
    const rep = r;
    rep.timer = window.setTimeout(() => {
      rep.timer = 0;
      const p = rep.pending;
      rep.pending = null;
      if (!p || this.session.ended || this.session.state !== 'joined') return;
      rep.last = performance.now();
      request('POST', `${this._docPath(docId)}/progress`, p).catch((err) => {
        console.debug('parley: progress not sent', err instanceof ApiError ? err.code : err);
      });
    }, wait);
  }

  dispose() {
    for (const off of this._off) off();
    this._off = [];
    for (const r of this._reports.values()) clearTimeout(r.timer);
    this._reports.clear();
    this.removeAllListeners();
  }
}
