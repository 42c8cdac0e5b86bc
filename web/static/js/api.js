// @ts-check
/**
 * REST client for web/API.md: JSON in and out, the CSRF header from the
 * parley_csrf cookie on state-changing requests, and errors as ApiError
 * carrying the API's error code (the UI translates the code, never the
 * English message).
 * @module
 */

/**
 * @typedef {'admin'|'advisor'|'backoffice'} Role
 * @typedef {{id: number, username: string, displayName: string, role: Role, available: boolean, mustChangePassword?: boolean, disabled?: boolean}} User
 * @typedef {{joined: number, waiting: number}} LiveCounts
 * @typedef {{
 *   id: string,
 *   title: string,
 *   state: 'open'|'ended',
 *   advisor: {id: number, displayName: string},
 *   createdAt: string,
 *   endedAt?: string,
 *   inviteUrl?: string,
 *   inviteExpiresAt?: string,
 *   expiresAt?: string,
 *   live?: LiveCounts
 * }} Consultation
 * @typedef {{url: string, expiresAt: string}} ColleagueLink
 * @typedef {{version: string, text: Record<string, string>}} Consent
 * @typedef {{de: string, en: string}} LocalText
 * @typedef {{
 *   id: string,
 *   type: 'text'|'email'|'choice'|'rating',
 *   required: boolean,
 *   label: LocalText,
 *   options?: LocalText[]
 * }} Question
 * @typedef {{
 *   company: string,
 *   advisorName: string,
 *   title: string,
 *   consultationId: string,
 *   privacyUrl: string,
 *   consent: Consent,
 *   allowAnonymous?: boolean,
 *   questions?: Question[],
 *   appointment?: {startsAt: string, endsAt: string, opensAt: string, open: boolean, timeZone: string},
 *   serverTime?: string
 * }} Invite
 * @typedef {{
 *   id: string,
 *   consultationId: string,
 *   title: string,
 *   startsAt: string,
 *   endsAt: string,
 *   opensAt: string,
 *   state: 'booked'|'cancelled',
 *   sequence: number,
 *   lang: 'de'|'en',
 *   customer: {name: string, email: string, phone?: string},
 *   advisor: {id: number, displayName: string},
 *   inviteUrl?: string
 * }} Appointment
 * @typedef {{day: string, timeZone: string, mail: boolean, appointments: Appointment[]}} AppointmentDay
 * @typedef {{
 *   consultationId: string,
 *   participantId: string,
 *   anonymous?: boolean,
 *   myDataUrl?: string,
 *   myDataToken?: string
 * }} JoinResult
 * @typedef {{
 *   name: string,
 *   consent: boolean,
 *   consentVersion: string,
 *   lang: string,
 *   answers?: Record<string, string>,
 *   previous?: string
 * }} JoinRequest
 */

/** An error answered by the API (or a network failure, code "network"). */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 for network errors
   * @param {string} code API error code (see API.md) or "network"
   * @param {string} message developer message (English, not shown as is)
   * @param {number|null} [retryAfter] seconds from a Retry-After header
   * @param {string|null} [reason] the error's "reason", where API.md names one
   *   (e.g. why a signature capture is implausible)
   */
  constructor(status, code, message, retryAfter = null, reason = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.reason = reason;
  }
}

/** @param {number} status @returns {string} */
function codeForStatus(status) {
  switch (status) {
    case 400: return 'bad_request';
    case 401: return 'unauthorized';
    case 403: return 'forbidden';
    case 404: return 'not_found';
    case 409: return 'conflict';
    case 410: return 'expired';
    case 413: return 'too_large';
    case 429: return 'rate_limited';
    default: return 'internal';
  }
}

/**
 * Reads a cookie readable by script (only parley_csrf is).
 * @param {string} name
 * @returns {string}
 */
export function readCookie(name) {
  for (const part of document.cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) {
      try {
        return decodeURIComponent(part.slice(eq + 1).trim());
      } catch {
        return part.slice(eq + 1).trim();
      }
    }
  }
  return '';
}

/**
 * Performs one API request.
 * @param {'GET'|'POST'|'PUT'|'PATCH'|'DELETE'} method
 * @param {string} path absolute path, e.g. /api/v1/me
 * @param {unknown} [body] JSON body, or a Blob sent as it is with its type
 * @param {Record<string, string>} [extraHeaders] e.g. the data-subject
 *   link's Authorization header (my-data-api.js)
 * @returns {Promise<any>} parsed JSON, or null for an empty response
 */
export async function request(method, path, body, extraHeaders) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json', ...extraHeaders };
  const blob = body instanceof Blob ? body : null;
  if (blob) headers['Content-Type'] = blob.type || 'application/octet-stream';
  else if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const token = readCookie('parley_csrf');
    if (token) headers['X-CSRF-Token'] = token;
  }
  /** @type {Response} */
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: blob ?? (body === undefined ? undefined : JSON.stringify(body)),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (err) {
    throw new ApiError(0, 'network', err instanceof Error ? err.message : String(err));
  }
  let text = '';
  try {
    text = await res.text();
  } catch {
    text = '';
  }
  /** @type {any} */
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!res.ok) {
    const e = data && typeof data === 'object' && data.error && typeof data.error === 'object' ? data.error : null;
    const code = e && typeof e.code === 'string' ? e.code : codeForStatus(res.status);
    const message = e && typeof e.message === 'string' ? e.message : `HTTP ${res.status}`;
    const ra = Number.parseInt(res.headers.get('Retry-After') ?? '', 10);
    const reason = e && typeof e.reason === 'string' ? e.reason : null;
    throw new ApiError(res.status, code, message, Number.isFinite(ra) ? ra : null, reason);
  }
  if (text && data === null) {
    throw new ApiError(res.status, 'internal', 'response is not JSON');
  }
  return data;
}

/** @param {string} s */
const seg = (s) => encodeURIComponent(s);

// Staff

/** @param {string} username @param {string} password @returns {Promise<{user: User}>} */
export const login = (username, password) => request('POST', '/api/v1/login', { username, password });
/** @returns {Promise<null>} */
export const logout = () => request('POST', '/api/v1/logout');

/** What the login page offers: password form, single sign-on and its label. */
export const loginMethods = () => request('GET', '/api/v1/login/methods');
/** @returns {Promise<User>} */
export const me = () => request('GET', '/api/v1/me');
/**
 * Changes the own password (API.md "Staff accounts").
 * @param {string} current @param {string} next @returns {Promise<{user: User}>}
 */
export const changePassword = (current, next) => request('PUT', '/api/v1/me/password', { current, new: next });
/** @returns {Promise<{users: User[]}>} */
export const listUsers = () => request('GET', '/api/v1/admin/users');
/**
 * @param {{username: string, displayName: string, role: Role, password: string}} u
 * @returns {Promise<User>}
 */
export const addUser = (u) => request('POST', '/api/v1/admin/users', u);
/** @param {number} id @param {boolean} disabled @returns {Promise<User>} */
export const setUserDisabled = (id, disabled) => request('PATCH', `/api/v1/admin/users/${id}`, { disabled });
/** @param {number} id @param {string} password @returns {Promise<User>} */
export const resetPassword = (id, password) => request('POST', `/api/v1/admin/users/${id}/password`, { password });
/** @param {boolean} available @returns {Promise<User>} */
export const setAvailability = (available) => request('PUT', '/api/v1/me/availability', { available });
/** @returns {Promise<{consultations: Consultation[]}>} */
export const listConsultations = () => request('GET', '/api/v1/consultations');
/** @param {string} title @returns {Promise<Consultation>} */
export const createConsultation = (title) => request('POST', '/api/v1/consultations', title ? { title } : {});
/** @param {string} id @returns {Promise<Consultation>} */
export const getConsultation = (id) => request('GET', `/api/v1/consultations/${seg(id)}`);
/** @param {string} id @returns {Promise<Consultation>} */
export const newInvite = (id) => request('POST', `/api/v1/consultations/${seg(id)}/invite`);
/** @param {string} id @returns {Promise<ColleagueLink>} */
export const colleagueLink = (id) => request('POST', `/api/v1/consultations/${seg(id)}/colleague`);
/** @param {string} id @returns {Promise<Consultation>} */
export const endConsultation = (id) => request('POST', `/api/v1/consultations/${seg(id)}/end`);

// Appointments (web/API.md "Appointments")

/**
 * The advisor's appointments on a day of this browser's time zone.
 * @param {string} [day] YYYY-MM-DD; default today
 * @returns {Promise<AppointmentDay>}
 */
export const appointmentDay = (day) => {
  const q = new URLSearchParams({ tz: Intl.DateTimeFormat().resolvedOptions().timeZone });
  if (day) q.set('day', day);
  return request('GET', `/api/v1/appointments?${q}`);
};
/**
 * @param {{title: string, startsAt: string, endsAt: string, customerName: string, customerEmail: string, customerPhone: string, lang: string}} body
 * @returns {Promise<Appointment>}
 */
export const bookAppointment = (body) => request('POST', '/api/v1/appointments', body);
/** @param {string} id @param {string} link @returns {Promise<Appointment>} */
export const sendAppointment = (id, link) => request('POST', `/api/v1/appointments/${seg(id)}/send`, { link });
/** @param {string} id @param {{startsAt: string, endsAt: string, link?: string}} body @returns {Promise<Appointment>} */
export const rescheduleAppointment = (id, body) => request('PUT', `/api/v1/appointments/${seg(id)}`, body);
/** @param {string} id @returns {Promise<Appointment>} */
export const cancelAppointment = (id) => request('POST', `/api/v1/appointments/${seg(id)}/cancel`);

// Customer

/** @param {string} token @returns {Promise<Invite>} */
export const getInvite = (token) => request('GET', `/api/v1/invites/${seg(token)}`);
/**
 * Joins with consent (name optional, answers to the questions before
 * joining) or, where the invite allows it, anonymously without consent
 * (consent false, no name, no answers).
 * @param {string} token
 * @param {JoinRequest} body
 * @returns {Promise<JoinResult>}
 */
export const joinInvite = (token, body) => request('POST', `/api/v1/invites/${seg(token)}/join`, body);
