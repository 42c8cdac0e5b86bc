// @ts-check
/**
 * Staff login page (/login): username and password, clear messages for
 * 401 and 429, then a redirect to ?next= when it is a local path.
 * @module
 */

import { initI18n, t } from './i18n.js';
import { login, loginMethods, me, changePassword, ApiError } from './api.js';
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
      const res = await login(user, password.value);
      if (res.user?.mustChangePassword) {
        showChange(password.value);
        setBusy(false);
        return;
      }
      proceed();
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

/** Goes where the login was asked for. */
function proceed() {
  // A colleague link's call key rides in the fragment (web/E2EE.md):
  // keep it across the login (client side only, never sent).
  const next = target();
  location.assign(next.includes('#') ? next : next + location.hash);
}

// ------------------------------------------------------ password change

const changeForm = byId('change-form', HTMLFormElement);
const changeCurrent = byId('change-current', HTMLInputElement);
const changeNew = byId('change-new', HTMLInputElement);
const changeRepeat = byId('change-repeat', HTMLInputElement);
const changeError = byId('change-error', HTMLElement);
const changeSubmit = byId('change-submit', HTMLButtonElement);

/**
 * A password someone else set (the first admin's, an admin's reset) is
 * replaced before anything else works (API.md "Staff accounts").
 * @param {string} current the password just typed, if any
 */
function showChange(current) {
  form.hidden = true;
  errorBox.hidden = true;
  changeForm.hidden = false;
  changeCurrent.value = current;
  (current ? changeNew : changeCurrent).focus();
}

/** @param {string} message */
function showChangeError(message) {
  changeError.textContent = message;
  changeError.hidden = false;
}

changeForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void (async () => {
    changeError.hidden = true;
    if (changeNew.value.length < 10) {
      showChangeError(t('login.change.tooShort'));
      changeNew.focus();
      return;
    }
    if (changeNew.value !== changeRepeat.value) {
      showChangeError(t('login.change.mismatch'));
      changeRepeat.focus();
      return;
    }
    changeSubmit.disabled = true;
    try {
      await changePassword(changeCurrent.value, changeNew.value);
      proceed();
      return;
    } catch (err) {
      if (err instanceof ApiError && err.status === 403) showChangeError(t('login.change.wrongCurrent'));
      else if (err instanceof ApiError && err.status === 400) showChangeError(t('login.change.rejected'));
      else showChangeError(err instanceof ApiError ? errorText('login.error', err.code) : t('error.unknown'));
    }
    changeSubmit.disabled = false;
  })();
});

// Sent here by a page that found the password must be changed.
if (new URLSearchParams(location.search).get('change') === '1') {
  me().then((u) => {
    if (u.mustChangePassword) showChange('');
  }, () => {});
}

// ------------------------------------------------------ single sign-on

const ssoBox = byId('sso-box', HTMLElement);
const ssoButton = byId('sso-button', HTMLAnchorElement);
const ssoOr = byId('sso-or', HTMLElement);
const HASH_KEY = 'parley.loginHash';

/**
 * Offers the company's sign-on (web/SSO.md) and/or the password form, as
 * the server says. The trip through the provider loses the URL fragment
 * (a colleague link's call key), so it waits in this tab's session
 * storage and is put back when the sign-on returns.
 */
async function setUpMethods() {
  const params = new URLSearchParams(location.search);
  if (params.get('sso') === '1') {
    const hash = sessionStorage.getItem(HASH_KEY) || '';
    sessionStorage.removeItem(HASH_KEY);
    const next = target();
    location.replace(next.includes('#') ? next : next + hash);
    return;
  }
  const reason = params.get('sso_error');
  if (reason) showError(errorText('login.sso.error', reason));
  /** @type {{password: boolean, sso: boolean, ssoLabel?: string}} */
  let methods = { password: true, sso: false };
  try {
    methods = await loginMethods();
  } catch {
    // An old server or a hiccup: the password form as before.
  }
  if (methods.sso) {
    ssoBox.hidden = false;
    ssoOr.hidden = !methods.password;
    if (methods.ssoLabel) {
      ssoButton.textContent = methods.ssoLabel;
      ssoButton.removeAttribute('data-i18n');
    }
    const next = params.get('next');
    ssoButton.href = '/auth/oidc/login' + (next && isLocalPath(next) ? '?next=' + encodeURIComponent(next) : '');
    ssoButton.addEventListener('click', () => {
      if (location.hash) sessionStorage.setItem(HASH_KEY, location.hash);
      else sessionStorage.removeItem(HASH_KEY);
    });
  }
  if (!methods.password) {
    form.hidden = true;
    if (!reason) ssoButton.focus();
  } else {
    username.focus();
  }
}

void setUpMethods();
