// @ts-check
/**
 * The data-subject page /my-data#<token>: with the personal link a
 * customer got when joining, they see what is stored about them after the
 * consultation, download it as JSON, correct their name, delete their data
 * and answer the questions after the consultation. The token stays in the
 * URL fragment (never sent to the server in a URL) and goes along as
 * "Authorization: Bearer" (my-data-api.js). A link this server did not
 * issue (401) gets a clear error page.
 * @module
 */

import { initI18n, t, onLangChange } from './i18n.js';
import { ApiError } from './api.js';
import { byId, describeError, installErrorNet, showScreen } from './ui.js';
import { tokenSource, tokenFromHash, personalLink } from './my-data-api.js';
import { SubjectView } from './my-data-ui.js';

/** @typedef {import('./i18n.js').Key} Key */

installErrorNet();
initI18n();

const SCREENS = ['screen-loading', 'screen-error', 'screen-data'];

/** Refills the error screen's texts after a language change. */
let refillError = () => {};
/** @type {SubjectView|null} */
let view = null;

/**
 * @param {Key} title
 * @param {() => string} text
 * @param {string} code for tests: data-code
 * @param {(() => void)|null} retry
 */
function showError(title, text, code, retry) {
  refillError = () => {
    byId('error-title', HTMLElement).textContent = t(title);
    byId('error-text', HTMLElement).textContent = text();
  };
  refillError();
  byId('error-screen', HTMLElement).dataset.code = code;
  const btn = byId('error-retry', HTMLButtonElement);
  btn.hidden = !retry;
  btn.onclick = retry ? () => retry() : null;
  showScreen(SCREENS, 'screen-error');
}

async function load() {
  showScreen(SCREENS, 'screen-loading');
  const token = tokenFromHash();
  if (!token) {
    showError('mydata.page.invalid.title', () => t('mydata.page.invalid.text'), 'unauthorized', null);
    return;
  }
  const source = tokenSource(token);
  /** @type {import('./my-data-api.js').SubjectExport} */
  let data;
  try {
    data = await source.load();
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 400)) {
      showError('mydata.page.invalid.title', () => t('mydata.page.invalid.text'), 'unauthorized', null);
      return;
    }
    showError('mydata.page.error.title', () => describeError(err), err instanceof ApiError ? err.code : 'unknown', () => void load());
    return;
  }
  view?.destroy();
  view = new SubjectView({
    source,
    audience: 'subject',
    prefix: 'md',
    heading: 'h2',
    feedback: true,
    link: personalLink(token),
  });
  byId('md-card', HTMLElement).replaceChildren(view.el);
  view.setData(data);
  const company = data.controller || '';
  byId('md-company', HTMLElement).textContent = company;
  if (company) byId('topbar-company', HTMLElement).textContent = company;
  showScreen(SCREENS, 'screen-data');
}

// Another link pasted into the address bar: show that one.
window.addEventListener('hashchange', () => void load());
onLangChange(() => refillError());

void load();
