// @ts-check
/**
 * REST client for the data-subject rights (web/subject.go): what is
 * stored about a customer, as a machine-readable export; correcting the
 * name; erasure (signed contracts and consent records are restricted, not
 * deleted); the questions after the consultation. Three ways in, each a
 * SubjectSource with the same methods:
 *
 * - cookieSource: in the call, with the customer's session cookie
 *   (/api/v1/consultations/{id}/my-data);
 * - tokenSource: afterwards, with the data-subject link's token
 *   (/my-data#<token>), sent as "Authorization: Bearer" to /api/v1/my-data;
 * - adminSource: an admin handling a request received otherwise
 *   (/api/v1/admin/data-subjects/{cid}/{pid}, staff cookie and CSRF header).
 *
 * The token is kept per consultation in sessionStorage
 * ("parley.myData.<consultationId>"), so a reload keeps it; it is never
 * put into a URL other than the personal link's fragment.
 * @module
 */

import { request, ApiError } from './api.js';

/**
 * @typedef {import('./api.js').Question} Question
 * @typedef {{consultationId: string, participantId: string}} Subject
 * @typedef {{consultationId: string, participantId: string, name: string, anonymous: boolean, joinedAt: string}} Customer
 * @typedef {{phase: 'before'|'after', questionId: string, value: string, givenAt: string}} Answer
 * @typedef {{
 *   id?: string,
 *   kind: string,
 *   at: string,
 *   detail: Record<string, any>|null,
 *   restricted: boolean,
 *   keptUntil?: string,
 *   canEmail?: boolean
 * }} SubjectRecord
 * @typedef {{fileId: string, size: number}} SubjectFile
 * @typedef {{
 *   format: string,
 *   generatedAt: string,
 *   controller: string,
 *   subject: Subject,
 *   customer: Customer|null,
 *   answers: Answer[],
 *   consents: SubjectRecord[],
 *   contracts: SubjectRecord[],
 *   requests: SubjectRecord[],
 *   files: SubjectFile[],
 *   inCall: boolean,
 *   feedback: {questions: Question[], given: boolean},
 *   questionsBefore?: Question[],
 *   restricted: boolean,
 *   notes: Record<string, string[]>
 * }} SubjectExport
 * @typedef {{
 *   deleted: Record<string, number>,
 *   restricted: Record<string, number>,
 *   remaining: SubjectExport
 * }} Erasure
 * @typedef {{
 *   consultationId: string,
 *   participantId: string,
 *   name: string,
 *   matchedIn: 'customer'|'answer'|'contract'|'consultation'|string,
 *   consultationTitle?: string
 * }} SubjectMatch
 * @typedef {{
 *   kind: 'cookie'|'token'|'admin',
 *   load: () => Promise<SubjectExport>,
 *   correct: (name: string) => Promise<SubjectExport>,
 *   erase: () => Promise<Erasure>,
 *   download: () => Promise<void>,
 *   contract: ((docId: string) => Promise<void>)|null,
 *   emailContract: ((docId: string, lang: string) => Promise<{status: 'queued'|'already-queued'}>)|null,
 *   feedback: ((answers: Record<string, string>) => Promise<void>)|null
 * }} SubjectSource
 */

/** @param {string} s */
const seg = (s) => encodeURIComponent(s);

/** The file name the server gives the export (Content-Disposition). */
function exportName(/** @type {SubjectExport} */ exp) {
  const pid = exp.subject?.participantId || 'export';
  return `parley-my-data-${pid.replace(/[^A-Za-z0-9_-]/g, '')}.json`;
}

/**
 * Starts the download of a URL the server answers as an attachment (the
 * cookies go along; no fetch, no blob).
 * @param {string} url
 */
function downloadUrl(url) {
  const a = document.createElement('a');
  a.href = url;
  a.download = '';
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
}

/**
 * Offers JSON for saving (the bearer token cannot go along with a link).
 * @param {unknown} data
 * @param {string} name
 */
function saveJSON(data, name) {
  saveBlob(new Blob([JSON.stringify(data, null, 2) + '\n'], { type: 'application/json' }), name);
}

/**
 * Offers a blob for saving under name.
 * @param {Blob} blob
 * @param {string} name
 */
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

/**
 * In the call: the customer's session cookie.
 * @param {string} consultationId
 * @returns {SubjectSource}
 */
export function cookieSource(consultationId) {
  const path = `/api/v1/consultations/${seg(consultationId)}/my-data`;
  return {
    kind: 'cookie',
    load: () => request('GET', path),
    correct: (name) => request('PATCH', path, { name }),
    erase: () => request('DELETE', path),
    download: async () => downloadUrl(`${path}?download=1`),
    contract: async (docId) => downloadUrl(`${path}/contracts/${seg(docId)}`),
    emailContract: (docId, lang) => request('POST', `${path}/contracts/${seg(docId)}/email`, { lang }),
    feedback: null,
  };
}

/**
 * Afterwards: the data-subject link's token.
 * @param {string} token
 * @returns {SubjectSource}
 */
export function tokenSource(token) {
  const auth = { Authorization: `Bearer ${token}` };
  return {
    kind: 'token',
    load: () => request('GET', '/api/v1/my-data', undefined, auth),
    correct: (name) => request('PATCH', '/api/v1/my-data', { name }, auth),
    erase: () => request('DELETE', '/api/v1/my-data', undefined, auth),
    download: async () => {
      const exp = /** @type {SubjectExport} */ (await request('GET', '/api/v1/my-data?download=1', undefined, auth));
      saveJSON(exp, exportName(exp));
    },
    contract: async (docId) => {
      // The bearer token cannot go along with a link: fetch, then save.
      const res = await fetch(`/api/v1/my-data/contracts/${seg(docId)}`, { headers: auth, credentials: 'same-origin' });
      if (!res.ok) {
        /** @type {any} */
        let body = null;
        try {
          body = await res.json();
        } catch {
          // not JSON
        }
        throw new ApiError(res.status, body?.error?.code ?? 'unknown', body?.error?.message ?? res.statusText);
      }
      const m = /filename\*=UTF-8''([^;]+)/.exec(res.headers.get('Content-Disposition') ?? '');
      let name = 'contract-signed.pdf';
      try {
        if (m) name = decodeURIComponent(m[1]);
      } catch {
        // keep the default
      }
      saveBlob(await res.blob(), name);
    },
    emailContract: (docId, lang) => request('POST', `/api/v1/my-data/contracts/${seg(docId)}/email`, { lang }, auth),
    feedback: async (answers) => {
      await request('POST', '/api/v1/my-data/feedback', { answers }, auth);
    },
  };
}

/**
 * An admin, for a request received by mail (staff cookie, CSRF header).
 * @param {string} consultationId
 * @param {string} participantId
 * @returns {SubjectSource}
 */
export function adminSource(consultationId, participantId) {
  const path = `/api/v1/admin/data-subjects/${seg(consultationId)}/${seg(participantId)}`;
  return {
    kind: 'admin',
    load: () => request('GET', path),
    correct: (name) => request('PATCH', path, { name }),
    erase: () => request('DELETE', path),
    download: async () => downloadUrl(`${path}?download=1`),
    contract: null,
    emailContract: null,
    feedback: null,
  };
}

/**
 * Admins: customers by name, e-mail (an answer), consultation id or title.
 * @param {string} q at least 2 characters
 * @returns {Promise<{subjects: SubjectMatch[]}>}
 */
export const findSubjects = (q) => request('GET', `/api/v1/admin/data-subjects?q=${seg(q)}`);

// ------------------------------------------------------------ the token

/** @param {string} consultationId */
const storageKey = (consultationId) => `parley.myData.${consultationId}`;

/**
 * Remembers the data-subject token of a consultation for this tab.
 * @param {string} consultationId
 * @param {string} token
 */
export function saveToken(consultationId, token) {
  try {
    sessionStorage.setItem(storageKey(consultationId), token);
  } catch {
    // storage disabled: the link is shown only until the page reloads
  }
}

/**
 * @param {string} consultationId
 * @returns {string|null}
 */
export function loadToken(consultationId) {
  try {
    return sessionStorage.getItem(storageKey(consultationId));
  } catch {
    return null;
  }
}

/**
 * The personal link for later: this origin's /my-data page with the token
 * in the fragment (which browsers never send to a server).
 * @param {string} token
 * @returns {string}
 */
export function personalLink(token) {
  return `${location.origin}/my-data#${token}`;
}

/**
 * The token from this page's fragment (/my-data#<token>), or "".
 * @returns {string}
 */
export function tokenFromHash() {
  let raw = location.hash.replace(/^#/, '').trim();
  try {
    raw = decodeURIComponent(raw);
  } catch {
    // keep raw
  }
  return raw;
}
