// @ts-check
/**
 * The advisor's appointments in the console: book a consultation for a
 * slot, send the invitation, see the day, move or cancel an appointment.
 *
 * The call secret S is made here, as for any consultation (web/E2EE.md),
 * and kept in this browser; the invite link with S in its fragment is
 * composed here. Sent "by the server", the link goes to the server, which
 * mails it (it then sees the key); sent "from my own mail program", only
 * a mailto: link is opened and the server never sees the key.
 * @module
 */

import { t, getLang, onLangChange } from './i18n.js';
import * as api from './api.js';
import { byId, h, toast, describeError } from './ui.js';
import { generateSecret, saveSecret, loadKeyEntry, withSecret } from './e2ee.js';

/** @typedef {import('./api.js').Appointment} Appointment */

/** How long this browser keeps an appointment's key after its end. */
const KEEP_AFTER_END_MS = 24 * 3600 * 1000;

/** @type {boolean} */
let mailOn = false;

/**
 * Appointments whose link this browser left to the advisor's own mail
 * program: their link never goes to the server, not with a move either
 * (localStorage, ids only).
 */
const BY_CLIENT_KEY = 'parley.apptByClient';

/** @returns {string[]} */
function byClientIds() {
  try {
    const v = JSON.parse(localStorage.getItem(BY_CLIENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x) => typeof x === 'string') : [];
  } catch {
    return [];
  }
}

/** @param {string} id */
function markByClient(id) {
  try {
    localStorage.setItem(BY_CLIENT_KEY, JSON.stringify([...byClientIds().slice(-199), id]));
  } catch {
    // Storage full or off: a later move would hand the link to the server.
  }
}
/** @type {() => void} */
let changed = () => {};

/**
 * Wires the appointment card; onChange runs after a booking, move or
 * cancellation (the console reloads its list).
 * @param {() => void} onChange
 */
export function runAppointments(onChange) {
  changed = onChange;
  const day = byId('appt-day', HTMLInputElement);
  day.value = isoDay(new Date());
  day.addEventListener('change', () => void loadDay());
  const start = byId('appt-start', HTMLInputElement);
  if (!start.value) start.value = localInput(new Date(Date.now() + 3600_000));
  byId('appt-lang', HTMLSelectElement).value = getLang() === 'en' ? 'en' : 'de';
  byId('appt-form', HTMLFormElement).addEventListener('submit', (ev) => {
    ev.preventDefault();
    void book();
  });
  onLangChange(() => void loadDay());
  void loadDay();
}

/** @param {Date} d */
function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

/** @param {Date} d value for <input type="datetime-local"> */
function localInput(d) {
  return `${isoDay(d)}T${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** @param {string} iso */
function clock(iso) {
  return new Date(iso).toLocaleTimeString(getLang() === 'en' ? 'en-GB' : 'de-DE', { hour: '2-digit', minute: '2-digit' });
}

/** @param {string} iso */
function date(iso) {
  return new Date(iso).toLocaleDateString(getLang() === 'en' ? 'en-GB' : 'de-DE', { day: 'numeric', month: 'long', year: 'numeric' });
}

async function book() {
  const submit = byId('appt-submit', HTMLButtonElement);
  const startLocal = byId('appt-start', HTMLInputElement).value;
  const minutes = Number(byId('appt-duration', HTMLInputElement).value) || 30;
  const start = new Date(startLocal);
  if (!startLocal || Number.isNaN(start.getTime())) return;
  submit.disabled = true;
  try {
    const a = await api.bookAppointment({
      title: byId('appt-title', HTMLInputElement).value.trim(),
      startsAt: start.toISOString(),
      endsAt: new Date(start.getTime() + minutes * 60_000).toISOString(),
      customerName: byId('appt-name', HTMLInputElement).value.trim(),
      customerEmail: byId('appt-email', HTMLInputElement).value.trim(),
      customerPhone: byId('appt-phone', HTMLInputElement).value.trim(),
      lang: byId('appt-lang', HTMLSelectElement).value,
    });
    // The call secret is made here and stays in this browser.
    const secret = generateSecret();
    const inviteUrl = a.inviteUrl ?? '';
    await saveSecret(a.consultationId, secret, {
      inviteUrl, expiresAt: new Date(Date.parse(a.endsAt) + KEEP_AFTER_END_MS).toISOString(),
    });
    const link = withSecret(inviteUrl, secret);
    const byServer = byId('appt-by-server', HTMLInputElement).checked;
    showSent(a, link);
    if (byServer) {
      try {
        await api.sendAppointment(a.id, link);
        toast(t('appt.sent'), { kind: 'success' });
      } catch (err) {
        if (err instanceof api.ApiError && err.code === 'mail_disabled') toast(t('appt.mailOff'), { kind: 'info' });
        else toast(describeError(err), { kind: 'error' });
      }
    } else {
      markByClient(a.id);
      toast(t('appt.booked'), { kind: 'success' });
    }
    byId('appt-form', HTMLFormElement).reset();
    byId('appt-day', HTMLInputElement).value = isoDay(start);
    await loadDay();
    changed();
  } catch (err) {
    toast(describeError(err), { kind: 'error' });
  } finally {
    submit.disabled = false;
  }
}

/**
 * Shows the link and the mailto: alternative (nothing of it reaches the
 * server).
 * @param {Appointment} a
 * @param {string} link
 */
function showSent(a, link) {
  const panel = byId('appt-sent', HTMLElement);
  const subject = t('appt.mailSubject', { date: date(a.startsAt), time: clock(a.startsAt) });
  const body = t('appt.mailBody', { name: a.customer.name, date: date(a.startsAt), time: clock(a.startsAt), link });
  const mailto = `mailto:${encodeURIComponent(a.customer.email)}?subject=${encodeURIComponent(subject)}&body=${encodeURIComponent(body)}`;
  panel.replaceChildren(
    h('code', { class: 'link-box', text: link, data: { testid: 'appt-link' } }),
    h('a', { class: 'btn btn-secondary btn-small', attrs: { href: mailto }, data: { testid: 'appt-mailto' }, text: t('appt.sendByClient') }),
  );
  panel.hidden = false;
}

async function loadDay() {
  const dayValue = byId('appt-day', HTMLInputElement).value;
  const list = byId('appt-list', HTMLElement);
  try {
    const res = await api.appointmentDay(dayValue || undefined);
    mailOn = res.mail;
    const server = byId('appt-by-server', HTMLInputElement);
    server.disabled = !mailOn;
    if (!mailOn) byId('appt-by-client', HTMLInputElement).checked = true;
    byId('appt-day-heading', HTMLElement).textContent = t('appt.dayHeading', { date: date(`${res.day}T12:00:00`) });
    const items = await Promise.all(res.appointments.map(item));
    list.replaceChildren(...(items.length ? items : [h('li', { class: 'muted', text: t('appt.none') })]));
  } catch (err) {
    list.replaceChildren(h('li', { class: 'alert alert-error', text: describeError(err) }));
  }
}

/**
 * @param {Appointment} a
 * @returns {Promise<HTMLElement>}
 */
async function item(a) {
  const entry = await loadKeyEntry(a.consultationId);
  const link = entry?.inviteUrl ? withSecret(entry.inviteUrl, entry.secret) : '';
  const cancelled = a.state === 'cancelled';
  const when = t('appt.at', { start: clock(a.startsAt), end: clock(a.endsAt) });
  const label = `${when} · ${a.customer.name}${a.title ? ` · ${a.title}` : ''}${cancelled ? ` (${t('appt.stateCancelled')})` : ''}`;
  const actions = [];
  if (!cancelled) {
    actions.push(
      h('a', {
        class: 'btn btn-primary btn-small',
        attrs: { href: withSecret(`/app/call/${encodeURIComponent(a.consultationId)}`, entry?.secret ?? null) },
        data: { testid: `appt-open-${a.id}` },
        text: t('console.openCall'),
      }),
    );
    const moveInput = h('input', {
      attrs: { type: 'datetime-local', 'aria-label': t('appt.start') },
      data: { testid: `appt-move-input-${a.id}` },
    });
    if (moveInput instanceof HTMLInputElement) moveInput.value = localInput(new Date(a.startsAt));
    actions.push(
      moveInput,
      h('button', {
        class: 'btn btn-secondary btn-small',
        attrs: { type: 'button' },
        data: { testid: `appt-move-${a.id}` },
        text: t('appt.reschedule'),
        on: {
          click: () => {
            const v = moveInput instanceof HTMLInputElement ? moveInput.value : '';
            const s = new Date(v);
            if (!v || Number.isNaN(s.getTime())) return;
            const len = Date.parse(a.endsAt) - Date.parse(a.startsAt);
            /** @type {{startsAt: string, endsAt: string, link?: string}} */
            const body = { startsAt: s.toISOString(), endsAt: new Date(s.getTime() + len).toISOString() };
            if (link && mailOn && !byClientIds().includes(a.id)) body.link = link;
            api
              .rescheduleAppointment(a.id, body)
              .then(() => {
                toast(t('appt.rescheduled'), { kind: 'success' });
                byId('appt-day', HTMLInputElement).value = isoDay(s); // show its new day
                return loadDay();
              })
              .then(changed)
              .catch((err) => toast(describeError(err), { kind: 'error' }));
          },
        },
      }),
      h('button', {
        class: 'btn btn-danger btn-small',
        attrs: { type: 'button' },
        data: { testid: `appt-cancel-${a.id}` },
        text: t('appt.cancel'),
        on: {
          click: () => {
            api
              .cancelAppointment(a.id)
              .then(() => {
                toast(t('appt.cancelled'), { kind: 'success' });
                return loadDay();
              })
              .then(changed)
              .catch((err) => toast(describeError(err), { kind: 'error' }));
          },
        },
      }),
    );
  }
  return h('li', { class: `consultation${cancelled ? ' is-ended' : ''}`, data: { appointment: a.id } }, [
    h('div', { class: 'consultation-main' }, [h('h3', { class: 'consultation-title', text: label })]),
    h('div', { class: 'consultation-actions' }, actions),
  ]);
}
