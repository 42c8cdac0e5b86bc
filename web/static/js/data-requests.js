// @ts-check
/**
 * Admins' page for data-subject requests received by mail or post, at
 * /admin/data-requests: find the person (name, e-mail address given as an
 * answer, consultation id or title), open what is stored about them (the
 * same view a customer sees, my-data-ui.js), download the export, correct
 * the name or delete their data, each with the server's answer (what was
 * deleted, what is restricted and until when). The location hash
 * "#subject/<consultation>/<participant>" names the open person, so the
 * browser's back button returns to the search.
 * @module
 */

import { initI18n, t, onLangChange } from './i18n.js';
import * as api from './api.js';
import { findSubjects, adminSource } from './my-data-api.js';
import { SubjectView } from './my-data-ui.js';
import { byId, h, describeError, installErrorNet, showScreen } from './ui.js';
import { icon } from './icons.js';

/**
 * @typedef {import('./api.js').User} User
 * @typedef {import('./my-data-api.js').SubjectMatch} SubjectMatch
 * @typedef {import('./i18n.js').Key} Key
 */

installErrorNet();
initI18n();

const SCREENS = ['screen-loading', 'screen-error', 'screen-search', 'screen-detail'];
const HASH_PREFIX = '#subject/';

const userName = byId('user-name', HTMLElement);
const logoutBtn = byId('logout', HTMLButtonElement);
logoutBtn.prepend(icon('leave'));
byId('to-console', HTMLAnchorElement).prepend(icon('users'));

/** @type {User|null} */
let me = null;
/** @type {SubjectMatch[]|null} the last search's hits */
let results = null;
let lastQuery = '';
/** @type {SubjectView|null} */
let view = null;
/** @type {{cid: string, pid: string}|null} */
let open = null;

/** Sends the browser to the login page, coming back here afterwards. */
function toLogin() {
  location.replace(`/login?next=${encodeURIComponent(location.pathname)}`);
}

/** Refills the error screen's texts after a language change. */
let refillError = () => {};

/**
 * @param {() => string} title
 * @param {() => string} text
 * @param {(() => void)|null} retry
 */
function showError(title, text, retry) {
  refillError = () => {
    byId('error-title', HTMLElement).textContent = title();
    byId('error-text', HTMLElement).textContent = text();
  };
  refillError();
  const btn = byId('error-retry', HTMLButtonElement);
  btn.hidden = !retry;
  btn.onclick = retry ? () => retry() : null;
  showScreen(SCREENS, 'screen-error');
}

function renderUser() {
  if (!me) return;
  userName.textContent = t('console.signedInAs', { name: me.displayName || me.username });
}

logoutBtn.addEventListener('click', () => {
  logoutBtn.disabled = true;
  api
    .logout()
    .catch(() => {})
    .finally(() => location.assign('/login'));
});

async function start() {
  showScreen(SCREENS, 'screen-loading');
  try {
    me = await api.me();
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) {
      toLogin();
      return;
    }
    showError(() => t('error.unknown'), () => describeError(err), () => void start());
    return;
  }
  renderUser();
  document.body.classList.add('signed-in');
  if (me.role !== 'admin') {
    showError(() => t('dsr.forbiddenTitle'), () => t('dsr.forbidden'), null);
    return;
  }
  route();
}

// ---------------------------------------------------------------- search

const form = byId('dsr-search', HTMLFormElement);
const qInput = byId('dsr-q', HTMLInputElement);
const qError = byId('dsr-q-error', HTMLElement);
const searchError = byId('dsr-error', HTMLElement);
const submitBtn = byId('dsr-submit', HTMLButtonElement);

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void search(qInput.value.trim());
});
qInput.addEventListener('input', () => {
  qError.hidden = true;
  qInput.removeAttribute('aria-invalid');
});

/** @param {string} q */
async function search(q) {
  searchError.hidden = true;
  if ([...q].length < 2) {
    qError.textContent = t('dsr.tooShort');
    qError.hidden = false;
    qInput.setAttribute('aria-invalid', 'true');
    qInput.focus();
    return;
  }
  submitBtn.disabled = true;
  try {
    const res = await findSubjects(q);
    results = Array.isArray(res?.subjects) ? res.subjects : [];
    lastQuery = q;
    renderResults();
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) {
      toLogin();
      return;
    }
    searchError.textContent = describeError(err);
    searchError.hidden = false;
  } finally {
    submitBtn.disabled = false;
  }
}

/** @param {string} where @returns {string} */
function matchedText(where) {
  switch (where) {
    case 'customer': return t('dsr.matched.customer');
    case 'answer': return t('dsr.matched.answer');
    case 'contract': return t('dsr.matched.contract');
    case 'consultation': return t('dsr.matched.consultation');
    default: return where;
  }
}

function renderResults() {
  const list = byId('dsr-results', HTMLUListElement);
  const count = byId('dsr-count', HTMLElement);
  if (results === null) {
    list.replaceChildren();
    count.textContent = '';
    return;
  }
  const n = results.length;
  count.textContent = n === 0 ? t('dsr.empty') : n === 1 ? t('dsr.countOne') : t('dsr.count', { n });
  list.replaceChildren(...results.map((m) => {
    const name = m.name?.trim() || t('dsr.noName');
    const headingId = `dsr-r-${m.consultationId}-${m.participantId}`;
    return h('li', { class: 'consultation dsr-result', data: { testid: `subject-${m.participantId}`, consultation: m.consultationId, participant: m.participantId } }, [
      h('div', { class: 'consultation-main' }, [
        h('h3', { class: 'consultation-title', id: headingId, text: name }),
        h('p', { class: 'meta' }, [
          h('span', { text: m.consultationTitle?.trim() || t('dsr.untitled') }),
          h('span', { text: t('dsr.matchedIn', { where: matchedText(m.matchedIn) }) }),
        ]),
        h('p', { class: 'meta dsr-ids' }, [h('code', { text: m.consultationId }), h('code', { text: m.participantId })]),
      ]),
      h('div', { class: 'consultation-actions' }, [
        h('a', {
          class: 'btn btn-primary btn-small',
          attrs: { href: `${HASH_PREFIX}${encodeURIComponent(m.consultationId)}/${encodeURIComponent(m.participantId)}`, 'aria-label': t('dsr.openLabel', { name }) },
          data: { testid: `open-subject-${m.participantId}` },
          text: t('dsr.open'),
        }),
      ]),
    ]);
  }));
}

// ---------------------------------------------------------------- detail

byId('dsr-back', HTMLButtonElement).addEventListener('click', () => {
  if (history.length > 1 && results !== null) history.back();
  else location.hash = '';
});

/**
 * @param {string} cid
 * @param {string} pid
 */
async function openSubject(cid, pid) {
  open = { cid, pid };
  view?.destroy();
  const v = new SubjectView({ source: adminSource(cid, pid), audience: 'admin', prefix: 'dsr', heading: 'h2', onUpdate: () => renderDetailHead() });
  view = v;
  const box = byId('dsr-detail', HTMLElement);
  box.replaceChildren(v.el);
  renderDetailHead();
  showScreen(SCREENS, 'screen-detail');
  try {
    await v.refresh();
  } catch (err) {
    if (err instanceof api.ApiError && err.status === 401) {
      toLogin();
      return;
    }
    if (err instanceof api.ApiError && err.status === 404) {
      box.replaceChildren(h('p', { class: 'alert alert-warn', data: { testid: 'subject-not-found' }, text: t('dsr.notFound') }));
    }
  }
}

function renderDetailHead() {
  if (!open) return;
  const d = view?.data;
  const fromList = results?.find((m) => m.consultationId === open?.cid && m.participantId === open?.pid);
  const name = d?.customer?.name || fromList?.name || t('dsr.noName');
  byId('dsr-detail-heading', HTMLElement).textContent = name;
  const meta = byId('dsr-detail-meta', HTMLElement);
  meta.replaceChildren();
  if (fromList?.consultationTitle) meta.append(h('span', { text: fromList.consultationTitle }));
  meta.append(h('span', { text: t('dsr.subject', { cid: open.cid, pid: open.pid }) }));
}

function route() {
  const hash = location.hash;
  if (hash.startsWith(HASH_PREFIX)) {
    const [cid, pid] = hash.slice(HASH_PREFIX.length).split('/').map((p) => {
      try {
        return decodeURIComponent(p);
      } catch {
        return p;
      }
    });
    if (cid && pid) {
      void openSubject(cid, pid);
      return;
    }
  }
  open = null;
  view?.destroy();
  view = null;
  showScreen(SCREENS, 'screen-search');
  renderResults();
  if (!qInput.value) qInput.value = lastQuery;
}

window.addEventListener('hashchange', () => {
  if (me?.role === 'admin') route();
});
onLangChange(() => {
  refillError();
  renderUser();
  renderResults();
  renderDetailHead();
});

void start();
