// @ts-check
/**
 * Knock alerts for advisors, on the console and in the call: the number of
 * waiting customers in the tab title ("(1) Gespräch – Musterbank AG") and
 * as a badge on the favicon, an optional sound (off by default; the choice
 * is kept in localStorage "parley.knockSound") and an optional desktop
 * notification (Notification API; permission is asked only when the
 * advisor ticks the box, a user gesture; "parley.knockNotify" keeps the
 * choice). The visible knock notices and their admit buttons are the
 * pages' own (call-ui.js, app.js).
 *
 * Test hooks on <body>: data-waiting (the count shown), data-knock-chimes
 * and data-knock-notifications (how many sounds and notifications this
 * page produced).
 * @module
 */

import { t, setTitlePrefix } from './i18n.js';
import { h } from './ui.js';
import { icon } from './icons.js';

const SOUND_KEY = 'parley.knockSound';
const NOTIFY_KEY = 'parley.knockNotify';

/**
 * @param {string} key
 * @returns {boolean}
 */
function readFlag(key) {
  try {
    return localStorage.getItem(key) === 'on';
  } catch {
    return false;
  }
}

/**
 * @param {string} key
 * @param {boolean} on
 */
function writeFlag(key, on) {
  try {
    if (on) localStorage.setItem(key, 'on');
    else localStorage.removeItem(key);
  } catch {
    // storage disabled: this page view only
  }
}

/** @param {string} name */
function bump(name) {
  const body = document.body;
  body.dataset[name] = String(Number(body.dataset[name] ?? '0') + 1);
}

/** @type {string|null} the page's own favicon (the company's, when configured) */
let plainIcon = null;
let plainType = '';
/** @type {HTMLImageElement|null} */
let logo = null;
let shownCount = -1;

/**
 * Shows how many customers wait: tab-title prefix and favicon badge.
 * @param {number} n
 */
export function showWaitingCount(n) {
  if (n === shownCount) return;
  shownCount = n;
  document.body.dataset.waiting = String(n);
  setTitlePrefix(n > 0 ? `(${n}) ` : '');
  const link = document.querySelector('link[rel="icon"]');
  if (!(link instanceof HTMLLinkElement)) return;
  if (plainIcon === null) {
    plainIcon = link.href;
    plainType = link.type;
  }
  if (n === 0) {
    link.href = plainIcon;
    link.type = plainType;
    document.body.dataset.faviconBadge = '0';
    return;
  }
  if (!logo) {
    logo = new Image();
    logo.addEventListener('load', () => drawBadge(link));
    logo.addEventListener('error', () => drawBadge(link));
    logo.src = plainIcon;
  }
  if (logo.complete) drawBadge(link);
}

/**
 * Draws the favicon with a badge of the current count.
 * @param {HTMLLinkElement} link
 */
function drawBadge(link) {
  const n = shownCount;
  if (n <= 0) return;
  const c = document.createElement('canvas');
  c.width = 64;
  c.height = 64;
  const g = c.getContext('2d');
  if (!g) return;
  if (logo?.complete && logo.naturalWidth > 0) g.drawImage(logo, 0, 0, 64, 64);
  g.fillStyle = '#c62828';
  g.beginPath();
  g.arc(42, 22, 22, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = '#ffffff';
  g.font = 'bold 30px sans-serif';
  g.textAlign = 'center';
  g.textBaseline = 'middle';
  g.fillText(n > 9 ? '9+' : String(n), 42, 24);
  link.type = 'image/png';
  link.href = c.toDataURL('image/png');
  document.body.dataset.faviconBadge = String(n);
}

/** @type {AudioContext|null} */
let audio = null;

/** A short two-tone chime, when the advisor turned the sound on. */
export function chime() {
  if (!readFlag(SOUND_KEY)) return;
  try {
    const Ctx = window.AudioContext;
    audio ??= new Ctx();
    const ctx = audio;
    void ctx.resume();
    const now = ctx.currentTime;
    for (const [i, freq] of [660, 880].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, now + i * 0.18);
      gain.gain.exponentialRampToValueAtTime(0.2, now + i * 0.18 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, now + i * 0.18 + 0.16);
      osc.connect(gain).connect(ctx.destination);
      osc.start(now + i * 0.18);
      osc.stop(now + i * 0.18 + 0.18);
    }
    bump('knockChimes');
  } catch (err) {
    console.warn('parley: knock sound', err);
  }
}

/**
 * A desktop notification, when the advisor allowed them; clicking it
 * brings this tab to the front and calls onClick.
 * @param {string} title
 * @param {() => void} [onClick]
 */
export function notifyDesktop(title, onClick) {
  if (!readFlag(NOTIFY_KEY) || !('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { tag: 'parley-knock', icon: '/static/img/logo.svg' });
    n.addEventListener('click', () => {
      window.focus();
      onClick?.();
      n.close();
    });
    bump('knockNotifications');
  } catch (err) {
    console.warn('parley: desktop notification', err);
  }
}

/**
 * The two switches "when someone knocks": sound, desktop notification.
 * @param {string} idPrefix unique per page
 * @returns {HTMLElement}
 */
export function knockSettings(idPrefix) {
  const sound = h('input', { id: `${idPrefix}-sound`, attrs: { type: 'checkbox' }, data: { testid: 'knock-sound' } });
  sound.checked = readFlag(SOUND_KEY);
  sound.addEventListener('change', () => {
    writeFlag(SOUND_KEY, sound.checked);
    if (sound.checked) chime(); // a sample, and the gesture unlocks audio
  });
  const note = h('p', { class: 'hint', attrs: { hidden: true, role: 'status' } });
  const notify = h('input', { id: `${idPrefix}-notify`, attrs: { type: 'checkbox' }, data: { testid: 'knock-notify' } });
  const supported = 'Notification' in window;
  notify.checked = supported && readFlag(NOTIFY_KEY) && Notification.permission === 'granted';
  notify.disabled = !supported;
  notify.addEventListener('change', () => {
    if (!notify.checked) {
      writeFlag(NOTIFY_KEY, false);
      return;
    }
    // Asked here only: the advisor just ticked the box.
    void Notification.requestPermission().then((p) => {
      const ok = p === 'granted';
      notify.checked = ok;
      writeFlag(NOTIFY_KEY, ok);
      note.textContent = ok ? '' : t('call.knock.notifyDenied');
      note.hidden = ok;
    });
  });
  return h('fieldset', { class: 'knock-settings', data: { testid: 'knock-settings' } }, [
    h('legend', { class: 'knock-settings-title' }, [icon('bell'), h('span', { i18n: 'call.knock.settings' })]),
    h('label', { class: 'check', attrs: { for: sound.id } }, [sound, h('span', { i18n: 'call.knock.sound' })]),
    h('label', { class: 'check', attrs: { for: notify.id } }, [notify, h('span', { i18n: 'call.knock.notify' })]),
    note,
  ]);
}
