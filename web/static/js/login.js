// @ts-check
/**
 * Staff login page (/login): username and password, clear messages for
 * 401 and 429, then a redirect to ?next= when it is a local path.
 * @module
 */

import { initI18n, t } from './i18n.js';
import { login, ApiError } from './api.js';
import { byId, errorText, installErrorNet, isLocalPath } from './ui.js';

installErrorNet();
initI18n();

const form = byId('login-form', HTMLFormElement);
const username = byId('username', HTMLInputElement);
const password = byId('password', HTMLInputElement);
const submit = byId('login-submit', HTMLButtonElement);
const errorBox = byId('login-error', HTMLElement);

/** @param {string} message */
function showError(message) {
  errorBox.textContent = message;
  errorBox.hidden = false;
}

/** @returns {string} */
function target() {
  const next = new URLSearchParams(location.search).get('next');
  return next && isLocalPath(next) ? next : '/app';
}

/** @param {boolean} busy */
function setBusy(busy) {
  submit.disabled = busy;
  submit.textContent = t(busy ? 'login.busy' : 'login.submit');
  submit.setAttribute('data-i18n', busy ? 'login.busy' : 'login.submit');
  form.setAttribute('aria-busy', String(busy));
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void (async () => {
    errorBox.hidden = true;
    const user = username.value.trim();
    if (!user || !password.value) {
      showError(t('login.error.missing'));
      (user ? password : username).focus();
      return;
    }
    setBusy(true);
    try {
      await login(user, password.value);
      // A colleague link's call key rides in the fragment (web/E2EE.md):
      // keep it across the login (client side only, never sent).
      const next = target();
      location.assign(next.includes('#') ? next : next + location.hash);
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) {
        showError(t('login.error.unauthorized'));
        password.value = '';
        password.focus();
      } else if (err instanceof ApiError && err.status === 429) {
        showError(err.retryAfter ? t('login.error.retryAfter', { seconds: err.retryAfter }) : t('login.error.rate_limited'));
      } else if (err instanceof ApiError) {
        showError(errorText('login.error', err.code));
      } else {
        showError(t('error.unknown'));
      }
    }
    setBusy(false);
  })();
});

username.focus();
