// @ts-check
/**
 * Small DOM helpers shared by the pages: typed element lookup, element
 * creation, toasts (aria-live), clipboard, dates, and the global safety net
 * for unhandled errors.
 * @module
 */

import { t, tryT, getLang } from './i18n.js';

/**
 * The element with an id, checked to be of a type.
 * @template {Element} T
 * @param {string} id
 * @param {{new (): T, prototype: T}} type
 * @returns {T}
 */
export function byId(id, type) {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`parley: #${id} missing or not a ${type.name}`);
  return el;
}

/**
 * @typedef {{
 *   class?: string,
 *   text?: string,
 *   i18n?: import('./i18n.js').Key,
 *   id?: string,
 *   attrs?: Record<string, string|number|boolean|null|undefined>,
 *   data?: Record<string, string>,
 *   on?: Partial<Record<keyof HTMLElementEventMap, (ev: any) => void>>
 * }} Props
 */

/**
 * Creates an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {(Node|string|null|undefined|false)[]} [children]
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, children = []) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.id) el.id = props.id;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.i18n) {
    // Translated now and again on every language change (applyTranslations).
    el.textContent = t(props.i18n);
    el.setAttribute('data-i18n', props.i18n);
  }
  if (props.attrs) {
    for (const [k, v] of Object.entries(props.attrs)) {
      if (v === null || v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  if (props.data) {
    for (const [k, v] of Object.entries(props.data)) el.dataset[k] = v;
  }
  if (props.on) {
    for (const [k, fn] of Object.entries(props.on)) {
      if (fn) el.addEventListener(k, fn);
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c);
  }
  return el;
}

/** @returns {HTMLElement} */
function toastRegion() {
  let region = document.getElementById('toasts');
  if (!region) {
    region = h('div', { id: 'toasts', class: 'toasts', attrs: { 'aria-live': 'polite', 'aria-relevant': 'additions' } });
    document.body.append(region);
  }
  return region;
}

/**
 * Says text to screen readers without moving focus or showing anything:
 * one visually hidden polite live region per page (id "sr-announcer",
 * outside every drawer, so it is heard while the chat or the documents
 * are closed). The text is set anew after a frame so that a repeated
 * announcement is heard again. Used for chat messages and signing
 * progress; toasts have their own region.
 * @param {string} text
 */
export function announce(text) {
  let region = document.getElementById('sr-announcer');
  if (!region) {
    region = h('div', {
      id: 'sr-announcer',
      class: 'sr-only',
      attrs: { role: 'status', 'aria-live': 'polite', 'aria-atomic': 'true' },
      data: { testid: 'sr-announcer' },
    });
    document.body.append(region);
  }
  const el = region;
  el.textContent = '';
  requestAnimationFrame(() => { el.textContent = text; });
}

/**
 * @typedef {{label: string, ariaLabel?: string, testid?: string, onClick: () => void}} ToastAction
 */

/**
 * Shows a short message in a toast, optionally with an action button
 * (e.g. "Einlassen" on a knock). timeout 0 keeps it until removed.
 * @param {string} message
 * @param {{kind?: 'error'|'info'|'success', timeout?: number, action?: ToastAction}} [opts]
 * @returns {HTMLElement|null} the toast (remove() to dismiss early), null for a duplicate
 */
export function toast(message, opts = {}) {
  const kind = opts.kind ?? 'info';
  const region = toastRegion();
  // Same text already visible: do not stack duplicates.
  for (const el of region.querySelectorAll('.toast-text')) {
    if (el.textContent === message) return null;
  }
  const close = h('button', {
    class: 'toast-close',
    attrs: { type: 'button', 'aria-label': t('common.close') },
    text: '×',
  });
  const action = opts.action;
  /** @type {HTMLButtonElement|null} */
  let actionBtn = null;
  if (action) {
    actionBtn = h('button', {
      class: 'btn btn-primary btn-small toast-action',
      attrs: { type: 'button', 'aria-label': action.ariaLabel ?? null },
      data: action.testid ? { testid: action.testid } : {},
      text: action.label,
    });
  }
  const el = h('div', { class: `toast toast-${kind}`, attrs: { role: kind === 'error' ? 'alert' : 'status' } }, [
    h('span', { class: 'toast-text', text: message }),
    actionBtn,
    close,
  ]);
  const remove = () => el.remove();
  close.addEventListener('click', remove);
  actionBtn?.addEventListener('click', () => {
    remove();
    action?.onClick();
  });
  region.append(el);
  const timeout = opts.timeout ?? (kind === 'error' ? 8000 : 4000);
  if (timeout > 0) window.setTimeout(remove, timeout);
  return el;
}

/**
 * A user-facing text for an error code, from a namespace like "error" or
 * "ws.error", falling back to a generic text.
 * @param {'error'|'ws.error'|'login.error'|'login.sso.error'} ns
 * @param {string} code
 * @returns {string}
 */
export function errorText(ns, code) {
  return tryT(`${ns}.${code}`) ?? tryT(`error.${code}`) ?? t('error.unknown');
}

/**
 * Text for any thrown value (ApiError-like objects carry a code).
 * @param {unknown} err
 * @returns {string}
 */
export function describeError(err) {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') {
    return errorText('error', err.code);
  }
  return t('error.unknown');
}

/**
 * Copies text to the clipboard; without the async clipboard API (plain
 * http on a LAN address) it selects the element's text and uses the old
 * copy command.
 * @param {string} text
 * @param {HTMLElement|null} [el] an element showing the text, selected as fallback
 * @returns {Promise<boolean>}
 */
export async function copyText(text, el = null) {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall through
  }
  if (el) {
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      el.focus();
      el.select();
    } else {
      const range = document.createRange();
      range.selectNodeContents(el);
      const sel = window.getSelection();
      sel?.removeAllRanges();
      sel?.addRange(range);
    }
    try {
      // Deprecated, but the only way without the async clipboard API.
      if (document.execCommand('copy')) return true;
    } catch {
      // ignore
    }
  }
  return false;
}

/**
 * Formats an RFC 3339 time for the current language.
 * @param {string|undefined|null} iso
 * @returns {string}
 */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(d);
}

/**
 * Initials for an avatar placeholder.
 * @param {string} name
 * @returns {string}
 */
export function initials(name) {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return '?';
  const first = parts[0]?.[0] ?? '';
  const last = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '';
  return (first + last).toUpperCase();
}

/**
 * Shows exactly one of several sibling "screens" (by id), hides the rest.
 * @param {string[]} ids all screen ids
 * @param {string} active the one to show
 */
export function showScreen(ids, active) {
  for (const id of ids) {
    const el = document.getElementById(id);
    if (el) el.hidden = id !== active;
  }
  const shown = document.getElementById(active);
  const heading = shown?.querySelector('h1, h2');
  if (heading instanceof HTMLElement) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
}

/**
 * Catches what slipped through: unhandled rejections and errors become a
 * toast instead of a silent failure.
 */
export function installErrorNet() {
  window.addEventListener('unhandledrejection', (ev) => {
    ev.preventDefault();
    console.error('parley: unhandled rejection', ev.reason);
    toast(describeError(ev.reason), { kind: 'error' });
  });
  window.addEventListener('error', (ev) => {
    console.error('parley: error', ev.error ?? ev.message);
  });
}

/**
 * Is this a safe local redirect target ("/…" but not "//…" or "/\…")?
 * @param {string|null} next
 * @returns {boolean}
 */
export function isLocalPath(next) {
  return !!next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/\\') && !/[\r\n\t]/.test(next);
}
