// @ts-check
/**
 * Advisor pages: the console at /app (availability, consultations, new
 * consultation with invite link) and the call at /app/call/{id} (shared
 * call view plus waiting room, colleague link, end consultation). Both
 * routes serve app.html; location.pathname decides.
 * @module
 */

import { initI18n, t, onLangChange, pageTitle } from './i18n.js';
import * as api from './api.js';
import { byId, h, toast, errorText, describeError, copyText, formatTime, installErrorNet, showScreen } from './ui.js';
import { icon } from './icons.js';
import { LocalMedia, deviceProblems } from './devices.js';
import { CallSession } from './call.js';
import { CallView, ReconnectBanner } from './call-ui.js';
import { SignalingClosedError, CloseCode } from './protocol.js';
import { installDebugHook } from './debug.js';
import { showWaitingCount, chime, notifyDesktop, knockSettings } from './knock.js';
import { runAppointments } from './appointments.js';
import { E2EEMedia, generateSecret, saveSecret, loadSecret, loadAllSecrets, deleteSecret, secretFromHash, withSecret } from './e2ee.js';
import { showSendDialog, showReceiveDialog, receiveForm } from './devicelink.js';

/**
 * @typedef {import('./api.js').User} User
 * @typedef {import('./api.js').Consultation} Consultation
 * @typedef {import('./call.js').EndReason} EndReason
 * @typedef {import('./i18n.js').Key} Key
 * @typedef {import('./e2ee.js').KeyEntry} KeyEntry
 */

installErrorNet();
initI18n();

const SCREENS = ['screen-loading', 'screen-error', 'screen-console', 'screen-call', 'screen-end'];
// The console learns of knocks by polling the list it shows anyway (one
// indexed query and the hub's in-memory counts): every 3 s, also in a
// background tab (browsers slow that down), so that the tab title, the
// favicon, the sound and the desktop notification follow promptly. The
// signaling WebSocket is per consultation and connecting to it makes the
// advisor a participant of that call, so it does not fit a list.
const REFRESH_MS = 3000;

const userName = byId('user-name', HTMLElement);
const availBtn = byId('availability', HTMLButtonElement);
const logoutBtn = byId('logout', HTMLButtonElement);
logoutBtn.prepend(icon('leave'));
const dataRequestsLink = byId('to-data-requests', HTMLAnchorElement);
dataRequestsLink.prepend(icon('shield'));
// Every staff role may open the back office (advisors see their own
// contracts there); admins also manage the staff accounts.
const backofficeLink = byId('to-backoffice', HTMLAnchorElement);
const usersLink = byId('to-users', HTMLAnchorElement);

/** @type {User|null} */
let me = null;

/** Sends the browser to the login page, coming back here afterwards. */
function toLogin() {
  location.replace(`/login?next=${encodeURIComponent(location.pathname + location.search)}`);
}

/** Refills the texts of the error or end screen (after a language change). */
let refillMessage = () => {};
onLangChange(() => refillMessage());

/**
 * Shows the error screen.
 * @param {() => string} title
 * @param {() => string} text
 * @param {(() => void)|null} retry
 */
function showError(title, text, retry) {
  refillMessage = () => {
    byId('error-title', HTMLElement).textContent = title();
    byId('error-text', HTMLElement).textContent = text();
  };
  refillMessage();
  const btn = byId('error-retry', HTMLButtonElement);
  btn.hidden = !retry;
  btn.onclick = retry ? () => retry() : null;
  showScreen(SCREENS, 'screen-error');
}

/**
 * Handles an error of a page-level request: 401 → login, else the error screen.
 * @param {unknown} err
 * @param {() => void} retry
 */
function failPage(err, retry) {
  if (err instanceof api.ApiError && err.status === 401) {
    toLogin();
    return;
  }
  console.error('parley:', err);
  showError(() => t('error.unknown'), () => describeError(err), retry);
}

// ----------------------------------------------------------------- header

function renderUser() {
  if (!me) return;
  userName.textContent = t('console.signedInAs', { name: me.displayName || me.username });
  availBtn.setAttribute('aria-checked', String(me.available));
  availBtn.classList.toggle('is-on', me.available);
  const label = availBtn.querySelector('.switch-label');
  if (label) label.textContent = t(me.available ? 'console.available' : 'console.away');
  availBtn.setAttribute('aria-label', t('console.availabilityLabel'));
  // Admins also handle data-subject requests received by mail.
  dataRequestsLink.hidden = me.role !== 'admin';
  backofficeLink.hidden = false;
  usersLink.hidden = me.role !== 'admin';
}

availBtn.addEventListener('click', () => {
  if (!me) return;
  const next = !me.available;
  availBtn.disabled = true;
  api
    .setAvailability(next)
    .then((user) => {
      me = user;
      renderUser();
    })
    .catch((err) => {
      if (err instanceof api.ApiError && err.status === 401) toLogin();
      else toast(describeError(err), { kind: 'error' });
    })
    .finally(() => {
      availBtn.disabled = false;
    });
});

logoutBtn.addEventListener('click', () => {
  logoutBtn.disabled = true;
  api
    .logout()
    .catch(() => {})
    .finally(() => location.assign('/login'));
});

// ---------------------------------------------------------------- console

/** @type {Consultation[]} */
let consultations = [];
/**
 * The call secrets S this browser keeps (web/E2EE.md), by consultation id:
 * they go into the fragments of the links shown here, never to the server.
 * @type {Map<string, Uint8Array>}
 */
const secrets = new Map();
/**
 * The invite links this browser made (or got with a key from another
 * device), by consultation id, so they can be shown again.
 * @type {Map<string, KeyEntry>}
 */
const keyEntries = new Map();
let refreshTimer = 0;

async function runConsole() {
  document.body.dataset.titleKey = 'console.pageTitle';
  document.title = pageTitle(t('console.pageTitle'));
  try {
    me = await api.me();
  } catch (err) {
    failPage(err, () => void runConsole());
    return;
  }
  if (me.mustChangePassword) {
    location.replace(`/login?change=1&next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  renderUser();
  document.body.classList.add('signed-in');
  showScreen(SCREENS, 'screen-console');
  wireNewForm();
  runAppointments(() => void loadList(true));
  // The stored call secrets complete the links once read (not blocking).
  void loadAllSecrets().then((stored) => {
    for (const [id, entry] of stored) {
      if (!secrets.has(id)) secrets.set(id, entry.secret);
      if (!keyEntries.has(id)) keyEntries.set(id, entry);
    }
    forgetEnded();
    renderList();
    renderInvite();
  });
  byId('refresh', HTMLButtonElement).addEventListener('click', () => void loadList());
  await loadList();
  byId('knock-settings-slot', HTMLElement).replaceChildren(knockSettings('console-knock'));
  refreshTimer = window.setInterval(() => void loadList(true), REFRESH_MS);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible') void loadList(true);
  });
  onLangChange(() => {
    renderUser();
    renderList();
    renderInvite();
  });
}

let listLoading = false;
let lastListJSON = '';

/** @param {boolean} [quiet] no error display for background refreshes */
async function loadList(quiet = false) {
  const errBox = byId('list-error', HTMLElement);
  if (listLoading && quiet) return;
  listLoading = true;
  try {
    const res = await api.listConsultations();
    consultations = Array.isArray(res?.consultations) ? res.consultations : [];
    errBox.hidden = true;
    forgetEnded();
    // Re-rendered only when something changed (keeps keyboard focus).
    const json = JSON.stringify(consultations);
    if (json !== lastListJSON || !quiet) {
      lastListJSON = json;
      renderList();
    }
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) {
      clearInterval(refreshTimer);
      toLogin();
      return;
    }
    if (!quiet) {
      errBox.textContent = `${t('console.loadFailed')} ${describeError(err)}`;
      errBox.hidden = false;
    }
  } finally {
    listLoading = false;
  }
}

/** Customers waiting per consultation, as last shown. @type {Map<string, number>} */
const knownKnocks = new Map();
let knocksSeen = false;

/**
 * The knock notices above the list: one per consultation with customers
 * waiting, with its "open the call" link; the tab title and favicon
 * count them; a new knock plays the sound and shows the desktop
 * notification if the advisor turned them on.
 */
function renderKnocks() {
  const box = byId('console-knocks', HTMLElement);
  const open = consultations.filter((c) => c.state === 'open' && (c.live?.waiting ?? 0) > 0);
  let total = 0;
  /** @type {Consultation[]} */
  const fresh = [];
  for (const c of open) {
    const n = c.live?.waiting ?? 0;
    total += n;
    if (n > (knownKnocks.get(c.id) ?? 0)) fresh.push(c);
  }
  knownKnocks.clear();
  for (const c of open) knownKnocks.set(c.id, c.live?.waiting ?? 0);
  showWaitingCount(total);
  box.replaceChildren(...open.map((c) => {
    const n = c.live?.waiting ?? 0;
    const title = c.title?.trim() || t('console.untitled');
    return h('div', { class: 'console-knock', data: { testid: `knock-${c.id}`, consultation: c.id } }, [
      icon('bell'),
      h('p', { text: n === 1 ? t('console.knockOne', { title }) : t('console.knockMany', { n, title }) }),
      h('a', {
        class: 'btn btn-primary btn-small',
        attrs: { href: withSecret(`/app/call/${encodeURIComponent(c.id)}`, secrets.get(c.id) ?? null) },
        data: { testid: `knock-open-${c.id}` },
        text: t('console.openCall'),
      }),
    ]);
  }));
  // The first load shows what waits already; alerts are for new knocks.
  if (knocksSeen) {
    for (const c of fresh) {
      chime();
      const href = withSecret(`/app/call/${encodeURIComponent(c.id)}`, secrets.get(c.id) ?? null);
      notifyDesktop(t('call.knock.notifyConsole', { title: c.title?.trim() || t('console.untitled') }), () => location.assign(href));
    }
  }
  knocksSeen = true;
}

/**
 * Keys and invite links of consultations that have ended are deleted from
 * this browser (web/E2EE.md).
 */
function forgetEnded() {
  for (const c of consultations) {
    if (c.state === 'ended' && (secrets.has(c.id) || keyEntries.has(c.id))) {
      secrets.delete(c.id);
      keyEntries.delete(c.id);
      void deleteSecret(c.id);
    }
  }
}

/**
 * A key arrived from another device (device link): kept and shown.
 * @param {string} id
 * @param {KeyEntry} entry
 */
function keyArrived(id, entry) {
  secrets.set(id, entry.secret);
  keyEntries.set(id, entry);
  toast(t('devlink.done'), { kind: 'success' });
  renderList();
  renderInvite();
}

function renderList() {
  renderKnocks();
  const list = byId('consultation-list', HTMLUListElement);
  byId('list-empty', HTMLElement).hidden = consultations.length > 0;
  list.replaceChildren(...consultations.map(renderItem));
}

/**
 * @param {Consultation} c
 * @returns {HTMLLIElement}
 */
function renderItem(c) {
  const open = c.state === 'open';
  const live = c.live ?? { joined: 0, waiting: 0 };
  const title = c.title?.trim() || t('console.untitled');
  const headingId = `c-title-${c.id}`;
  /** @type {(Node|null)[]} */
  const meta = [
    h('span', { class: `state state-${open ? 'open' : 'ended'}`, text: t(open ? 'console.state.open' : 'console.state.ended') }),
    h('span', { text: t('console.created', { time: formatTime(c.createdAt) }) }),
  ];
  if (open) {
    meta.push(
      h('span', {
        class: live.waiting > 0 ? 'live live-waiting' : 'live',
        data: { testid: `live-${c.id}` },
        text: t('console.live', { joined: live.joined, waiting: live.waiting }),
      }),
    );
  }
  /** @type {(Node|null)[]} */
  const actions = [];
  if (open) {
    actions.push(
      h('a', {
        class: 'btn btn-primary btn-small',
        id: `open-call-${c.id}`,
        attrs: { href: withSecret(`/app/call/${encodeURIComponent(c.id)}`, secrets.get(c.id) ?? null), 'aria-describedby': headingId },
        data: { testid: `open-call-${c.id}`, consultation: c.id },
        text: t('console.openCall'),
      }),
    );
    const hasKey = secrets.has(c.id);
    const entry = keyEntries.get(c.id);
    if (hasKey && entry?.inviteUrl && (!entry.inviteExpiresAt || Date.parse(entry.inviteExpiresAt) > Date.now())) {
      // The invite link made on (or brought to) this browser, again.
      actions.push(
        h('button', {
          class: 'btn btn-secondary btn-small',
          attrs: { type: 'button', 'aria-describedby': headingId },
          data: { testid: `show-invite-${c.id}` },
          text: t('console.showInvite'),
          on: {
            click: () =>
              showInvite({ ...c, inviteUrl: entry.inviteUrl, inviteExpiresAt: entry.inviteExpiresAt ?? c.inviteExpiresAt }),
          },
        }),
      );
    }
    if (me && c.advisor && c.advisor.id === me.id) {
      // Without the key here, a new invite would carry no key and cancel
      // the working link: not offered until the key is fetched.
      const btn = h('button', {
        class: 'btn btn-secondary btn-small',
        attrs: {
          type: 'button',
          title: t(hasKey ? 'console.newInviteHint' : 'e2ee.newInviteNeedsKey'),
          'aria-describedby': hasKey ? headingId : `${headingId} nokey-${c.id}`,
          disabled: !hasKey,
        },
        data: { testid: `new-invite-${c.id}` },
        text: t('console.newInvite'),
      });
      btn.addEventListener('click', () => {
        const secret = secrets.get(c.id);
        if (!secret) return;
        btn.disabled = true;
        api
          .newInvite(c.id)
          .then(async (res) => {
            const more = { inviteUrl: res.inviteUrl, inviteExpiresAt: res.inviteExpiresAt, expiresAt: res.expiresAt };
            keyEntries.set(c.id, { ...(keyEntries.get(c.id) ?? { secret }), ...more });
            await saveSecret(c.id, secret, more);
            showInvite(res);
            renderList();
          })
          .catch((err) => toast(describeError(err), { kind: 'error' }))
          .finally(() => {
            btn.disabled = false;
          });
      });
      actions.push(btn);
    }
    if (me && hasKey) {
      const user = me;
      actions.push(
        h('button', {
          class: 'btn btn-secondary btn-small',
          attrs: { type: 'button', 'aria-describedby': headingId },
          data: { testid: `device-link-send-${c.id}` },
          text: t('devlink.send'),
          on: {
            click: () => {
              const secret = secrets.get(c.id);
              if (!secret) return;
              showSendDialog({ consultationId: c.id, title, userId: user.id, entry: { ...(keyEntries.get(c.id) ?? {}), secret, expiresAt: c.expiresAt } });
            },
          },
        }),
      );
    }
    if (me && !hasKey) {
      const user = me;
      actions.push(
        h('button', {
          class: 'btn btn-primary btn-small',
          attrs: { type: 'button', 'aria-describedby': `${headingId} nokey-${c.id}` },
          data: { testid: `device-link-fetch-${c.id}` },
          text: t('devlink.fetch'),
          on: {
            click: () => showReceiveDialog({ consultationId: c.id, title, userId: user.id, onDone: (e) => keyArrived(c.id, e) }),
          },
        }),
      );
      meta.push(h('span', { class: 'live live-waiting', id: `nokey-${c.id}`, data: { testid: `no-key-${c.id}` }, text: t('e2ee.noKeyHere') }));
    }
  }
  return h('li', { class: `consultation${open ? '' : ' is-ended'}`, data: { consultation: c.id } }, [
    h('div', { class: 'consultation-main' }, [
      h('h3', { class: 'consultation-title', id: headingId, text: title }),
      h('p', { class: 'meta' }, meta),
      me && c.advisor && c.advisor.id !== me.id ? h('p', { class: 'meta', text: t('console.byColleague', { name: c.advisor.displayName }) }) : null,
    ]),
    h('div', { class: 'consultation-actions' }, actions),
  ]);
}

/** @type {Consultation|null} */
let shownInvite = null;

/** @param {Consultation} c */
function showInvite(c) {
  shownInvite = c;
  renderInvite();
  const panel = byId('invite-panel', HTMLElement);
  panel.hidden = false;
  panel.scrollIntoView({ block: 'nearest' });
  byId('invite-copy', HTMLButtonElement).focus();
}

function renderInvite() {
  const c = shownInvite;
  if (!c) return;
  byId('invite-link', HTMLElement).textContent = inviteLink(c);
  byId('invite-for', HTMLElement).textContent = t('console.inviteFor', { title: c.title?.trim() || t('console.untitled') });
  byId('invite-expiry', HTMLElement).textContent = c.inviteExpiresAt ? t('common.validUntil', { time: formatTime(c.inviteExpiresAt) }) : '';
  byId('invite-open', HTMLAnchorElement).href = withSecret(`/app/call/${encodeURIComponent(c.id)}`, secrets.get(c.id) ?? null);
}

/**
 * The invite link with the call secret in its fragment.
 * @param {Consultation} c
 * @returns {string}
 */
function inviteLink(c) {
  return c.inviteUrl ? withSecret(c.inviteUrl, secrets.get(c.id) ?? null) : '';
}

function wireNewForm() {
  const form = byId('new-form', HTMLFormElement);
  const input = byId('new-title-input', HTMLInputElement);
  const submit = byId('new-consultation', HTMLButtonElement);
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    api
      .createConsultation(input.value.trim())
      .then(async (c) => {
        // The call secret is made here and stays in this browser.
        const secret = generateSecret();
        secrets.set(c.id, secret);
        const more = { inviteUrl: c.inviteUrl, inviteExpiresAt: c.inviteExpiresAt, expiresAt: c.expiresAt };
        keyEntries.set(c.id, { secret, ...more });
        await saveSecret(c.id, secret, more);
        input.value = '';
        showInvite(c);
        return loadList(true);
      })
      .catch((err) => {
        if (err instanceof api.ApiError && err.status === 401) toLogin();
        else toast(describeError(err), { kind: 'error' });
      })
      .finally(() => {
        submit.disabled = false;
      });
  });
  const copyBtn = byId('invite-copy', HTMLButtonElement);
  copyBtn.prepend(icon('copy'));
  copyBtn.addEventListener('click', async () => {
    const url = shownInvite ? inviteLink(shownInvite) : '';
    if (!url) return;
    const ok = await copyText(url, byId('invite-link', HTMLElement));
    toast(t(ok ? 'common.copied' : 'common.copyFailed'), { kind: ok ? 'success' : 'error' });
  });
}

// ------------------------------------------------------------------- call

/** @param {string} id */
async function runCall(id) {
  document.body.dataset.titleKey = 'console.callPageTitle';
  document.body.classList.add('in-call');
  document.title = pageTitle(t('console.callPageTitle'));
  installDebugHook();
  // The call secret: from the fragment (kept in IndexedDB for later
  // visits), else from IndexedDB. It is never sent anywhere.
  const fromHash = secretFromHash();
  let secret = fromHash ?? (await loadSecret(id));
  /** @type {Consultation} */
  let consultation;
  try {
    me = await api.me();
    renderUser();
    document.body.classList.add('signed-in');
    consultation = await api.getConsultation(id);
  } catch (err) {
    if (err instanceof api.ApiError && (err.status === 404 || err.status === 403)) {
      showError(() => t('error.not_found'), () => errorText('error', err.code), null);
      return;
    }
    failPage(err, () => void runCall(id));
    return;
  }
  if (consultation.state === 'ended') {
    void deleteSecret(id);
    showEnd('ended');
    return;
  }
  if (fromHash) await saveSecret(id, fromHash, { expiresAt: consultation.expiresAt });
  if (!secret) {
    // Not a dead end: the key can be brought here from the advisor's
    // other device (device link); a colleague also has the colleague link.
    const own = !!me && consultation.advisor?.id === me.id;
    showError(() => t('e2ee.missingKey.title'), () => t(own ? 'e2ee.missingKey.owner' : 'e2ee.missingKey.text'), null);
    const screen = byId('screen-error', HTMLElement);
    screen.dataset.testid = 'e2ee-missing-key';
    if (me) {
      const form = receiveForm({ consultationId: id, userId: me.id, onDone: () => location.reload() });
      form.id = 'device-link-slot';
      document.getElementById('device-link-slot')?.remove();
      byId('error-text', HTMLElement).after(form);
    }
    return;
  }
  const callSecret = secret;

  const media = new LocalMedia();
  // The devices start while the socket connects; publishing waits for them.
  const mediaReady = media.start().then(() => reportDeviceErrors(media));
  const session = new CallSession({
    consultationId: id,
    media,
    mediaReady,
    checkRefusal: () => checkConsultation(id),
    e2ee: new E2EEMedia(callSecret),
    chatSecret: callSecret,
  });
  const root = byId('screen-call', HTMLElement);
  showScreen(SCREENS, 'screen-call');
  const view = new CallView(root, session, {
    role: 'advisor',
    staffId: me?.id,
    title: consultation.title?.trim() || t('console.untitled'),
    onEndConsultation: async () => {
      await api.endConsultation(id);
      void deleteSecret(id);
      // The server tells everyone (state: ended); if that does not arrive,
      // finish here.
      window.setTimeout(() => {
        if (!session.ended) {
          session.dispose();
          view.destroy();
          showEnd('ended');
        }
      }, 3000);
    },
    // The colleague link carries the secret in its fragment.
    onColleagueLink: async () => {
      const link = await api.colleagueLink(id);
      return { ...link, url: withSecret(link.url, callSecret) };
    },
  });
  new ReconnectBanner(session);
  session.on('end', ({ reason }) => {
    view.destroy();
    if (reason === 'left') {
      location.assign('/app');
      return;
    }
    if (reason === 'ended') void deleteSecret(id);
    if (reason === 'unauthorized') {
      toLogin();
      return;
    }
    showEnd(reason);
  });

  try {
    await session.connect();
  } catch (err) {
    view.destroy();
    media.stop();
    if (err instanceof SignalingClosedError && err.info.code === CloseCode.REPLACED) {
      showEnd('replaced'); // another window connected at the same moment and won
      return;
    }
    if (err instanceof SignalingClosedError) {
      // Refused before the upgrade: find out why.
      try {
        const c = await api.getConsultation(id);
        if (c.state === 'ended') {
          showEnd('ended');
          return;
        }
      } catch (e) {
        if (e instanceof api.ApiError && e.status === 401) {
          toLogin();
          return;
        }
      }
      showError(() => t('call.disconnectedTitle'), () => t('close.connect_failed'), () => location.reload());
      return;
    }
    failPage(err, () => location.reload());
  }
}

/**
 * Why the server refused a reconnecting socket (browsers see only 1006),
 * from the REST API: the consultation ended or is gone for this user, the
 * login expired, or it is still there (then the refusal was transient or
 * the server is unreachable; the link retries).
 * @param {string} id
 * @returns {Promise<import('./protocol.js').RefusalCheck>}
 */
async function checkConsultation(id) {
  try {
    const c = await api.getConsultation(id);
    return c.state === 'ended' ? { final: 'ended' } : { reachable: true };
  } catch (err) {
    if (!(err instanceof api.ApiError)) return { reachable: false };
    if (err.status === 401) return { final: 'unauthorized' };
    if (err.status === 403 || err.status === 404) return { final: 'gone' };
    if (err.status === 410) return { final: 'ended' };
    // Network errors, 429 and 5xx (e.g. a proxy whose backend restarts):
    // not an answer about this consultation.
    return { reachable: err.status !== 0 && err.status !== 429 && err.status < 500 };
  }
}

/** @param {LocalMedia} media */
function reportDeviceErrors(media) {
  const problems = deviceProblems(media, t);
  if (problems) toast(problems, { kind: 'error' });
}

/** @param {EndReason} reason */
function showEnd(reason) {
  const rejoin = byId('end-rejoin', HTMLButtonElement);
  refillMessage = () => {
    /** @type {Key} */
    let title = 'call.endedTitle';
    /** @type {string} */
    let text = t('close.ended');
    /** @type {Key} */
    let button = 'call.reconnect';
    switch (reason) {
      case 'ended':
        break;
      case 'left':
        title = 'call.leftTitle';
        text = '';
        break;
      case 'rejected':
        title = 'call.rejectedTitle';
        text = t('close.rejected');
        break;
      case 'replaced':
        // Opened in another window: reloading takes the call back (a
        // reload is a reconnect, and the other window gets "replaced").
        title = 'call.replacedTitle';
        text = t('close.replaced');
        button = 'call.takeBack';
        break;
      case 'failed':
        title = 'call.failedTitle';
        text = t('close.failed');
        button = 'call.reload';
        break;
      case 'e2ee_unsupported':
        title = 'call.e2eeUnsupportedTitle';
        text = t('close.e2ee_unsupported');
        break;
      default:
        title = 'call.disconnectedTitle';
        text = t(`close.${reason}`);
    }
    byId('end-title', HTMLElement).textContent = t(title);
    byId('end-text', HTMLElement).textContent = text;
    rejoin.textContent = t(button);
    rejoin.setAttribute('data-i18n', button);
  };
  refillMessage();
  byId('screen-end', HTMLElement).dataset.reason = reason;
  document.body.classList.remove('in-call');
  rejoin.hidden = reason === 'ended' || reason === 'rejected' || reason === 'gone' || reason === 'e2ee_unsupported';
  rejoin.dataset.testid = reason === 'replaced' ? 'take-back' : 'end-rejoin';
  rejoin.onclick = () => location.reload();
  showScreen(SCREENS, 'screen-end');
}

// ------------------------------------------------------------------ route

const callMatch = /^\/app\/call\/([^/]+)\/?$/.exec(location.pathname);
if (callMatch && callMatch[1]) {
  let id = callMatch[1];
  try {
    id = decodeURIComponent(id);
  } catch {
    // keep raw
  }
  void runCall(id);
} else {
  void runConsole();
}
