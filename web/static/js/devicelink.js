// @ts-check
/**
 * Device link (web/E2EE.md "Bringing the key to another device"): an
 * advisor brings a consultation's call key S from the browser that holds
 * it to another browser of their own. The first browser makes a one-time
 * code (16 characters, 80 random bits), seals S (and the invite link) with
 * a key derived from the code (PBKDF2-SHA-256, AES-256-GCM) and leaves the
 * sealed box on the server; the second browser, logged in as the same
 * user, fetches the box once (web/API.md "Device link") and opens it with
 * the code typed in. The code never leaves the screen and the keyboard:
 * no request carries it.
 * @module
 */

import { t } from './i18n.js';
import { request, ApiError } from './api.js';
import { h, formatTime, describeError } from './ui.js';
import { b64uEncode, b64uDecode, SECRET_BYTES, saveSecret } from './e2ee.js';

/**
 * @typedef {import('./e2ee.js').KeyEntry} KeyEntry
 * @typedef {{v: 1, secret: string, inviteUrl?: string, inviteExpiresAt?: string, expiresAt?: string}} Payload
 */

/** Crockford's base32: no I, L, O, U. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_CHARS = 16; // 80 bits
const VERSION = 1;
const SALT_BYTES = 16;
const IV_BYTES = 12;
/** PBKDF2 iterations of version 1. */
export const ITERATIONS = 600000;

// ------------------------------------------------------------------ code

/** @returns {string} a new code, 16 characters of ALPHABET (80 random bits) */
export function newCode() {
  const bytes = crypto.getRandomValues(new Uint8Array(10));
  let bits = 0;
  let acc = 0;
  let out = '';
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += ALPHABET[(acc >> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  return out;
}

/** @param {string} code @returns {string} "7KQM-9XRT-2HWD-P4NB" */
export function formatCode(code) {
  return code.match(/.{1,4}/g)?.join('-') ?? code;
}

/**
 * The code as typed, normalised (case, spaces, dashes, O→0, I/L→1), or
 * null when it cannot be one.
 * @param {string} input
 * @returns {string|null}
 */
export function normalizeCode(input) {
  const s = input.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== CODE_CHARS) return null;
  for (const c of s) if (!ALPHABET.includes(c)) return null;
  return s;
}

// ---------------------------------------------------------------- sealing

/**
 * @param {string} code normalised
 * @param {Uint8Array} salt
 * @returns {Promise<CryptoKey>}
 */
async function wrapKey(code, salt) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(code), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(salt), iterations: ITERATIONS },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/**
 * The additional data: the box opens only for this consultation and user.
 * @param {string} consultationId
 * @param {number} userId
 */
function aadOf(consultationId, userId) {
  return new TextEncoder().encode(`parley-device-link-v1/${consultationId}/${userId}`);
}

/**
 * Seals what the other device needs: version ‖ salt ‖ IV ‖ AES-GCM(payload).
 * @param {string} code normalised
 * @param {string} consultationId
 * @param {number} userId
 * @param {KeyEntry} entry
 * @returns {Promise<Uint8Array>}
 */
export async function seal(code, consultationId, userId, entry) {
  /** @type {Payload} */
  const payload = { v: VERSION, secret: b64uEncode(entry.secret) };
  if (entry.inviteUrl) payload.inviteUrl = entry.inviteUrl.split('#')[0];
  if (entry.inviteExpiresAt) payload.inviteExpiresAt = entry.inviteExpiresAt;
  if (entry.expiresAt) payload.expiresAt = entry.expiresAt;
  const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await wrapKey(code, salt);
  const plain = new TextEncoder().encode(JSON.stringify(payload));
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: aadOf(consultationId, userId) }, key, plain));
  const box = new Uint8Array(1 + SALT_BYTES + IV_BYTES + ct.byteLength);
  box[0] = VERSION;
  box.set(salt, 1);
  box.set(iv, 1 + SALT_BYTES);
  box.set(ct, 1 + SALT_BYTES + IV_BYTES);
  return box;
}

/**
 * Opens a box with a code; null when the code (or the box) is wrong.
 * @param {string} code normalised
 * @param {string} consultationId
 * @param {number} userId
 * @param {Uint8Array} box
 * @returns {Promise<KeyEntry|null>}
 */
export async function open(code, consultationId, userId, box) {
  if (box.byteLength < 1 + SALT_BYTES + IV_BYTES + 16 || box[0] !== VERSION) return null;
  const salt = box.slice(1, 1 + SALT_BYTES);
  const iv = box.slice(1 + SALT_BYTES, 1 + SALT_BYTES + IV_BYTES);
  try {
    const key = await wrapKey(code, salt);
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv, additionalData: aadOf(consultationId, userId) },
      key,
      box.slice(1 + SALT_BYTES + IV_BYTES),
    );
    const p = JSON.parse(new TextDecoder().decode(pt));
    const secret = typeof p?.secret === 'string' ? b64uDecode(p.secret) : null;
    if (!secret || secret.byteLength !== SECRET_BYTES) return null;
    /** @type {KeyEntry} */
    const e = { secret };
    if (typeof p.inviteUrl === 'string') e.inviteUrl = p.inviteUrl.split('#')[0];
    if (typeof p.inviteExpiresAt === 'string') e.inviteExpiresAt = p.inviteExpiresAt;
    if (typeof p.expiresAt === 'string') e.expiresAt = p.expiresAt;
    return e;
  } catch {
    return null;
  }
}

// -------------------------------------------------------------------- API

/** @param {string} id */
const pathOf = (id) => `/api/v1/consultations/${encodeURIComponent(id)}/device-link`;

/**
 * @param {string} id
 * @param {Uint8Array} box
 * @returns {Promise<{state: string, expiresAt: string}>}
 */
function offer(id, box) {
  return request('POST', pathOf(id), { box: b64uEncode(box) });
}

/** @param {string} id @returns {Promise<{state: 'waiting'|'claimed', expiresAt: string}>} */
function state(id) {
  return request('GET', pathOf(id));
}

/** @param {string} id @returns {Promise<void>} */
function cancel(id) {
  return request('DELETE', pathOf(id));
}

/** @param {string} id @returns {Promise<{box: string, expiresAt: string}>} */
function claim(id) {
  return request('POST', `${pathOf(id)}/claim`);
}

// --------------------------------------------------------------------- UI

const POLL_MS = 2000;

/**
 * The sending side: a dialog with a fresh code; the sealed key waits on
 * the server until the other device fetches it, the code expires, or the
 * dialog is closed (then it is withdrawn).
 * @param {{consultationId: string, title: string, userId: number, entry: KeyEntry}} opts
 */
export function showSendDialog(opts) {
  const codeEl = h('p', { class: 'device-link-code', data: { testid: 'device-link-code' }, attrs: { 'aria-label': t('devlink.codeLabel') } });
  const status = h('p', { class: 'muted small', attrs: { role: 'status' }, data: { testid: 'device-link-status' } });
  const again = h('button', { class: 'btn btn-secondary', attrs: { type: 'button' }, data: { testid: 'device-link-new' }, text: t('devlink.newCode') });
  const close = h('button', { class: 'btn btn-primary', attrs: { type: 'submit', value: 'close' }, data: { testid: 'device-link-close' }, text: t('common.close') });
  const dlg = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': 'device-link-title' }, data: { testid: 'device-link-send' } }, [
    h('form', { attrs: { method: 'dialog' }, class: 'dialog-body' }, [
      h('h2', { id: 'device-link-title', text: t('devlink.sendTitle') }),
      h('p', { class: 'muted', text: opts.title }),
      h('p', { text: t('devlink.sendIntro') }),
      codeEl,
      status,
      h('p', { class: 'muted small', text: t('devlink.sendNote') }),
      h('div', { class: 'dialog-actions' }, [again, close]),
    ]),
  ]);
  let timer = 0;
  let generation = 0;
  let claimed = false;
  let offered = false;

  const stop = () => {
    clearTimeout(timer);
    timer = 0;
  };
  /** @param {string} expiresAt @param {number} gen */
  const poll = (expiresAt, gen) => {
    timer = window.setTimeout(async () => {
      if (gen !== generation || !dlg.open) return;
      if (Date.parse(expiresAt) <= Date.now()) {
        status.textContent = t('devlink.expired');
        codeEl.textContent = '';
        offered = false;
        return;
      }
      try {
        const st = await state(opts.consultationId);
        if (gen !== generation) return;
        if (st.state === 'claimed') {
          claimed = true;
          status.textContent = t('devlink.claimed');
          status.dataset.state = 'claimed';
          return;
        }
      } catch (err) {
        if (gen !== generation) return;
        if (err instanceof ApiError && err.status === 404) {
          status.textContent = t('devlink.expired');
          codeEl.textContent = '';
          offered = false;
          return;
        }
      }
      poll(expiresAt, gen);
    }, POLL_MS);
  };
  const start = async () => {
    stop();
    const gen = ++generation;
    claimed = false;
    again.disabled = true;
    codeEl.textContent = '';
    status.textContent = t('devlink.preparing');
    delete status.dataset.state;
    try {
      const code = newCode();
      const box = await seal(code, opts.consultationId, opts.userId, opts.entry);
      const res = await offer(opts.consultationId, box);
      if (gen !== generation) return;
      offered = true;
      codeEl.textContent = formatCode(code);
      status.textContent = t('devlink.waiting', { time: formatTime(res.expiresAt) });
      status.dataset.state = 'waiting';
      poll(res.expiresAt, gen);
    } catch (err) {
      console.error('parley: device link', err instanceof Error ? err.message : '');
      if (gen === generation) status.textContent = t('devlink.failed');
    } finally {
      if (gen === generation) again.disabled = false;
    }
  };
  again.addEventListener('click', () => void start());
  dlg.addEventListener('close', () => {
    stop();
    generation++;
    // An unfetched box is withdrawn when the dialog closes.
    if (offered && !claimed) void cancel(opts.consultationId).catch(() => {});
    dlg.remove();
  });
  document.body.append(dlg);
  dlg.showModal();
  void start();
}

/**
 * The receiving side: a form for the code. Boxes fetched from the server
 * are kept on this page, so a mistyped code can be corrected without a
 * new code. On success S (and the invite link) is stored in this browser
 * and onDone runs.
 * @param {{consultationId: string, userId: number, onDone: (e: KeyEntry) => void}} opts
 * @returns {HTMLFormElement}
 */
export function receiveForm(opts) {
  const inputId = `device-link-input-${opts.consultationId}`;
  const input = h('input', {
    id: inputId,
    class: 'device-link-input',
    attrs: { type: 'text', autocomplete: 'off', autocapitalize: 'characters', spellcheck: 'false', maxlength: 24, inputmode: 'text', 'aria-describedby': `${inputId}-error` },
    data: { testid: 'device-link-input' },
  });
  const submit = h('button', { class: 'btn btn-primary', attrs: { type: 'submit' }, data: { testid: 'device-link-submit' }, i18n: 'devlink.submit' });
  const error = h('p', { id: `${inputId}-error`, class: 'alert alert-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'device-link-error' } });
  const form = h('form', { class: 'device-link-form', data: { testid: 'device-link-receive' } }, [
    h('div', { class: 'field' }, [h('label', { attrs: { for: inputId }, i18n: 'devlink.inputLabel' }), input]),
    error,
    h('div', { class: 'actions' }, [submit]),
  ]);
  /** @type {Uint8Array[]} boxes fetched so far, newest first */
  const boxes = [];
  /** @param {string} msg */
  const fail = (msg) => {
    error.textContent = msg;
    error.hidden = false;
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const code = normalizeCode(input.value);
    if (!code) {
      fail(t('devlink.badFormat'));
      return;
    }
    submit.disabled = true;
    error.hidden = true;
    input.removeAttribute('aria-invalid');
    submit.textContent = t('devlink.working');
    try {
      try {
        const res = await claim(opts.consultationId);
        const box = b64uDecode(res.box);
        if (box) boxes.unshift(box);
      } catch (err) {
        if (!(err instanceof ApiError && err.status === 404)) throw err;
      }
      if (boxes.length === 0) {
        fail(t('devlink.none'));
        return;
      }
      for (const box of boxes) {
        const entry = await open(code, opts.consultationId, opts.userId, box);
        if (entry) {
          await saveSecret(opts.consultationId, entry.secret, {
            inviteUrl: entry.inviteUrl,
            inviteExpiresAt: entry.inviteExpiresAt,
            expiresAt: entry.expiresAt,
          });
          input.value = '';
          opts.onDone(entry);
          return;
        }
      }
      fail(t('devlink.wrong'));
    } catch (err) {
      fail(describeError(err));
    } finally {
      submit.disabled = false;
      submit.textContent = t('devlink.submit');
    }
  });
  return form;
}

/**
 * The receiving side as a dialog (from the console).
 * @param {{consultationId: string, title: string, userId: number, onDone: (e: KeyEntry) => void}} opts
 */
export function showReceiveDialog(opts) {
  const close = h('button', { class: 'btn btn-secondary', attrs: { type: 'button' }, text: t('common.close') });
  const dlg = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': 'device-link-fetch-title' }, data: { testid: 'device-link-fetch' } }, [
    h('div', { class: 'dialog-body' }, [
      h('h2', { id: 'device-link-fetch-title', text: t('devlink.fetchTitle') }),
      h('p', { class: 'muted', text: opts.title }),
      h('p', { text: t('devlink.fetchIntro') }),
      receiveForm({
        consultationId: opts.consultationId,
        userId: opts.userId,
        onDone: (e) => {
          dlg.close();
          opts.onDone(e);
        },
      }),
      h('div', { class: 'dialog-actions' }, [close]),
    ]),
  ]);
  close.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  document.body.append(dlg);
  dlg.showModal();
}
