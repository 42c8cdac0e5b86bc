// @ts-check
/**
 * Staff administration for admins (/admin/users, API.md "Staff
 * accounts"): the accounts with role and state; add one (its first
 * password must be changed at the first login), disable or enable it,
 * reset its password (the same duty to change it follows).
 * @module
 */

import { initI18n, t, onLangChange } from './i18n.js';
import * as api from './api.js';
import { byId, h, toast, describeError, installErrorNet } from './ui.js';

/** @typedef {import('./api.js').User} User */

installErrorNet();
initI18n();

const body = byId('users-body', HTMLElement);
const errorBox = byId('users-error', HTMLElement);
/** @type {User[]} */
let users = [];
/** @type {User|null} */
let self = null;

/** @param {unknown} err */
function fail(err) {
  if (err instanceof api.ApiError && err.status === 401) {
    location.replace(`/login?next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  if (err instanceof api.ApiError && err.code === 'password_change_required') {
    location.replace(`/login?change=1&next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  errorBox.textContent = describeError(err);
  errorBox.hidden = false;
}

/** @param {User} u */
function row(u) {
  const toggle = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: `user-toggle-${u.username}` },
    text: t(u.disabled ? 'users.enable' : 'users.disable') });
  toggle.hidden = !!self && self.id === u.id;
  toggle.addEventListener('click', async () => {
    toggle.disabled = true;
    try {
      await api.setUserDisabled(u.id, !u.disabled);
      await load();
    } catch (err) {
      fail(err);
      toggle.disabled = false;
    }
  });
  const pwInput = h('input', { attrs: { type: 'password', autocomplete: 'new-password', minlength: '10', placeholder: t('login.change.new'), 'aria-label': t('users.resetLabel', { name: u.username }) },
    data: { testid: `user-reset-password-${u.username}` } });
  const reset = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: `user-reset-${u.username}` }, text: t('users.reset') });
  reset.addEventListener('click', async () => {
    const pw = /** @type {HTMLInputElement} */ (pwInput).value;
    if (pw.length < 10) {
      toast(t('login.change.tooShort'), { kind: 'error' });
      pwInput.focus();
      return;
    }
    reset.disabled = true;
    try {
      await api.resetPassword(u.id, pw);
      toast(t('users.resetDone', { name: u.username }), { kind: 'success' });
      await load();
    } catch (err) {
      fail(err);
      reset.disabled = false;
    }
  });
  const state = u.disabled ? t('users.state.disabled') : u.mustChangePassword ? t('users.state.mustChange') : t('users.state.active');
  return h('tr', { data: { testid: `user-${u.username}`, disabled: String(!!u.disabled) } }, [
    h('td', {}, [h('strong', { text: u.displayName || u.username }), h('br'), h('span', { class: 'muted small', text: u.username })]),
    h('td', { text: t(`users.role.${u.role}`) }),
    h('td', { data: { testid: `user-state-${u.username}` }, text: state }),
    h('td', { class: 'users-actions' }, [toggle, h('span', { class: 'users-reset' }, [pwInput, reset])]),
  ]);
}

function render() {
  body.replaceChildren(...users.map(row));
}

async function load() {
  try {
    users = (await api.listUsers()).users;
    errorBox.hidden = true;
    render();
  } catch (err) {
    fail(err);
  }
}

const form = byId('add-form', HTMLFormElement);
form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void (async () => {
    const username = byId('add-username', HTMLInputElement).value.trim();
    const password = byId('add-password', HTMLInputElement).value;
    if (!username || password.length < 10) {
      errorBox.textContent = t('users.add.missing');
      errorBox.hidden = false;
      return;
    }
    try {
      const u = await api.addUser({
        username,
        displayName: byId('add-display', HTMLInputElement).value.trim(),
        role: /** @type {import('./api.js').Role} */ (byId('add-role', HTMLSelectElement).value),
        password,
      });
      form.reset();
      toast(t('users.added', { name: u.username }), { kind: 'success' });
      await load();
    } catch (err) {
      if (err instanceof api.ApiError && err.status === 409) {
        errorBox.textContent = t('users.add.taken');
        errorBox.hidden = false;
      } else fail(err);
    }
  })();
});

onLangChange(render);

void (async () => {
  try {
    self = await api.me();
  } catch (err) {
    fail(err);
    return;
  }
  if (self.mustChangePassword) {
    location.replace(`/login?change=1&next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  await load();
})();
