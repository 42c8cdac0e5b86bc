// @ts-check
/**
 * The back office at /backoffice (web/API.md "Contracts and verification
 * (back office)"): search signed contracts, open one to see its
 * verification verdict, its signatures and its audit trail, download the
 * PDF and export the trail; and verify any uploaded PDF. The list and the
 * detail are two screens of one page; the location hash "#contract/<id>"
 * names the open contract, so the browser's back button returns to the list.
 * @module
 */

import { initI18n, t, getLang, onLangChange } from './i18n.js';
import * as api from './api.js';
import * as bo from './backoffice-api.js';
import { bt, btry, initBoI18n } from './backoffice-i18n.js';
import { byId, h, describeError, formatTime, installErrorNet, showScreen } from './ui.js';
import { icon } from './icons.js';

/**
 * @typedef {import('./api.js').User} User
 * @typedef {import('./backoffice-api.js').Contract} Contract
 * @typedef {import('./backoffice-api.js').ContractDetail} ContractDetail
 * @typedef {import('./backoffice-api.js').Verdict} Verdict
 * @typedef {import('./backoffice-api.js').AuditEvent} AuditEvent
 * @typedef {import('./backoffice-api.js').AuditChain} AuditChain
 * @typedef {import('./backoffice-api.js').SignatureSummary} SignatureSummary
 * @typedef {import('./backoffice-i18n.js').BoKey} BoKey
 */

installErrorNet();
initI18n();
initBoI18n();

const SCREENS = ['screen-loading', 'screen-error', 'screen-list', 'screen-detail'];
const LIST_LIMIT = 200; // API.md: at most 200 contracts per answer
const HASH_PREFIX = '#contract/';

const userName = byId('user-name', HTMLElement);
const logoutBtn = byId('logout', HTMLButtonElement);
logoutBtn.prepend(icon('leave'));

/** @type {User|null} */
let me = null;

// ----------------------------------------------------------------- helpers

/** Sends the browser to the login page, coming back here afterwards. */
function toLogin() {
  location.replace(`/login?next=${encodeURIComponent(location.pathname)}`);
}

/** @param {unknown} err @returns {boolean} handled (went to the login page) */
function unauthorized(err) {
  if (err instanceof api.ApiError && err.status === 401) {
    toLogin();
    return true;
  }
  return false;
}

/**
 * The text for an error: the back office's own texts first (e.g. 422
 * unverifiable), then the shared ones.
 * @param {unknown} err
 * @returns {string}
 */
function errorMessage(err) {
  if (err instanceof api.ApiError) {
    const own = btry(`bo.error.${err.code}`);
    if (own !== null) return own;
  }
  return describeError(err);
}

/** @param {number} bytes @returns {string} */
function formatSize(bytes) {
  const lang = getLang() === 'de' ? 'de-DE' : 'en-GB';
  if (!Number.isFinite(bytes)) return '';
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KB', 'MB', 'GB'];
  let v = bytes / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${new Intl.NumberFormat(lang, { maximumFractionDigits: 1 }).format(v)} ${units[u]}`;
}

/**
 * A hash shown short, in full on hover and for screen readers on demand.
 * @param {string} hash
 * @returns {HTMLElement}
 */
function hashCode(hash) {
  return h('code', { class: 'bo-hash', text: hash.length > 16 ? `${hash.slice(0, 16)}…` : hash, attrs: { title: hash } });
}

/** @param {string} field @returns {string} */
function fieldLabel(field) {
  return btry(`bo.field.${field}`) ?? field;
}

/**
 * A yes/no value with a mark that does not rely on colour alone.
 * @param {boolean} ok
 * @param {string} [noText]
 * @returns {HTMLElement}
 */
function yesNo(ok, noText) {
  return h('span', { class: ok ? 'bo-ok' : 'bo-bad', data: { ok: String(ok) } }, [
    h('span', { class: 'bo-mark', text: ok ? '✓' : '✕', attrs: { 'aria-hidden': 'true' } }),
    ' ',
    ok ? bt('bo.yes') : (noText ?? bt('bo.no')),
  ]);
}

/**
 * A definition list entry.
 * @param {string} term
 * @param {Node|string} value
 * @returns {HTMLElement[]}
 */
function fact(term, value) {
  return [h('dt', { text: term }), h('dd', {}, [value])];
}

// ----------------------------------------------------------------- header

function renderUser() {
  if (!me) return;
  userName.textContent = t('console.signedInAs', { name: me.displayName || me.username });
  // Advisors and admins also have the console; back-office staff only this.
  byId('to-console', HTMLAnchorElement).hidden = me.role === 'backoffice';
  // Data-subject requests are the admins' (/admin/data-requests).
  byId('to-data-requests', HTMLAnchorElement).hidden = me.role !== 'admin';
}

logoutBtn.addEventListener('click', () => {
  logoutBtn.disabled = true;
  api
    .logout()
    .catch(() => {})
    .finally(() => location.assign('/login'));
});

// ------------------------------------------------------------------ verdict

/** @type {Record<import('./backoffice-api.js').VerdictKind, string>} */
const VERDICT_MARK = { valid: '✓', valid_with_warnings: '!', invalid: '✕' };

/**
 * The verdict view: one big badge, the reasons in the current language,
 * and a summary per signature.
 * @param {Verdict} v
 * @returns {HTMLElement}
 */
function verdictView(v) {
  const kind = v.verdict in VERDICT_MARK ? v.verdict : 'invalid';
  const lang = getLang();
  const title = btry(`bo.verdict.${kind}`) ?? kind;
  const text = btry(`bo.verdict.${kind}Text`) ?? '';
  const badge = h('div', {
    class: `bo-verdict bo-verdict-${kind}`,
    attrs: { role: 'status', 'data-testid': 'verdict', 'data-verdict': kind },
  }, [
    h('span', { class: 'bo-verdict-mark', text: VERDICT_MARK[kind], attrs: { 'aria-hidden': 'true' } }),
    h('div', { class: 'bo-verdict-body' }, [
      h('p', { class: 'bo-verdict-title', text: title }),
      h('p', { class: 'bo-verdict-text', text }),
    ]),
  ]);
  const reasons = Array.isArray(v.reasons) ? v.reasons : [];
  const reasonList = reasons.length === 0 ? null : h('ul', { class: 'bo-reasons', attrs: { 'aria-label': bt('bo.verdict.reasons') } },
    reasons.map((r) =>
      h('li', {
        class: `bo-reason bo-reason-${r.severity === 'error' ? 'error' : 'warning'}`,
        attrs: { 'data-testid': 'reason', 'data-code': r.code, 'data-severity': r.severity },
      }, [
        h('span', { class: 'bo-reason-kind', text: bt(r.severity === 'error' ? 'bo.verdict.error' : 'bo.verdict.warning') }),
        ' ',
        h('span', { class: 'bo-reason-text', text: (lang === 'de' ? r.de : r.en) || r.en || r.de || r.code }),
      ])));
  const sigs = Array.isArray(v.signatures) ? v.signatures : [];
  const sigViews = sigs.length === 0
    ? h('p', { class: 'muted', text: bt('bo.verdict.noSignatures') })
    : h('div', { class: 'bo-signatures' }, sigs.map((s) => signatureView(s, laterChangeAllowed(v))));
  const file = h('p', { class: 'small muted bo-file' }, [
    `${bt('bo.verdict.file', { size: formatSize(v.size) })} `,
    hashCode(v.sha256 ?? ''),
  ]);
  return h('div', { class: 'bo-verdict-view' }, [badge, reasonList, sigViews, file]);
}

/**
 * Whether what was appended after a signature is only what may come
 * later (another signature): no "changed_after_signing" reason.
 * @param {Verdict} v
 * @returns {boolean}
 */
function laterChangeAllowed(v) {
  return !(v.reasons ?? []).some((r) => r.code === 'changed_after_signing');
}

/**
 * A neutral value: information, neither good nor bad.
 * @param {string} text
 * @param {string} state for tests: data-state
 * @returns {HTMLElement}
 */
function neutral(text, state) {
  return h('span', { class: 'bo-info', data: { state } }, [
    h('span', { class: 'bo-mark', text: 'ℹ', attrs: { 'aria-hidden': 'true' } }),
    ' ',
    text,
  ]);
}

/**
 * One signature of a verdict, in words. A signature that does not cover
 * the whole file because a later, allowed signature was added is told
 * neutrally; a signature made with the development seal is not shown as
 * a trusted issuer.
 * @param {SignatureSummary} s
 * @param {boolean} [laterAllowed]
 * @returns {HTMLElement}
 */
function signatureView(s, laterAllowed = false) {
  const envelopeOK = s.envelope === 'bound';
  const envelopeNone = s.envelope === 'none';
  // Signed without drawing (the accessible alternative): no biometric
  // record by design, said as what it is, not as missing or tampered.
  const envelope = s.envelope === 'typed' ? neutral(bt('bo.envelope.typed'), 'typed') : h('span', { class: envelopeOK ? 'bo-ok' : envelopeNone ? 'bo-warn' : 'bo-bad', data: { envelope: s.envelope } }, [
    h('span', { class: 'bo-mark', text: envelopeOK ? '✓' : envelopeNone ? '!' : '✕', attrs: { 'aria-hidden': 'true' } }),
    ' ',
    btry(`bo.envelope.${s.envelope}`) ?? s.envelope,
  ]);
  const timeStamp = s.timeStamp
    ? h('span', { class: 'bo-ok' }, [h('span', { class: 'bo-mark', text: '✓', attrs: { 'aria-hidden': 'true' } }), ' ', formatTime(s.timeStamp)])
    : h('span', { class: 'bo-warn' }, [h('span', { class: 'bo-mark', text: '!', attrs: { 'aria-hidden': 'true' } }), ' ', bt('bo.sig.noTimeStamp')]);
  return h('section', {
    class: 'bo-signature',
    attrs: { 'data-testid': 'signature-summary', 'data-field': s.field, 'aria-label': bt('bo.sig.title', { field: fieldLabel(s.field) }) },
  }, [
    h('h3', { text: bt('bo.sig.title', { field: fieldLabel(s.field) }) }),
    h('dl', { class: 'bo-facts' }, [
      ...fact(bt('bo.sig.signer'), s.signerName || '–'),
      ...fact(bt('bo.sig.time'), formatTime(s.signingTime) || '–'),
      ...fact(bt('bo.sig.timeStamp'), timeStamp),
      ...fact(bt('bo.sig.certificate'), h('span', { class: 'bo-cert', text: s.certificate || '–' })),
      ...fact(bt('bo.sig.trusted'), s.development
        ? h('span', { class: 'bo-warn', data: { state: 'development' } }, [h('span', { class: 'bo-mark', text: '!', attrs: { 'aria-hidden': 'true' } }), ' ', bt('bo.sig.development')])
        : yesNo(s.trusted)),
      ...fact(bt('bo.sig.intact'), yesNo(s.intact)),
      ...fact(bt('bo.sig.covers'), !s.coversWholeFile && s.intact && laterAllowed
        ? neutral(bt('bo.sig.coversLater'), 'later-signature')
        : yesNo(s.coversWholeFile, bt('bo.sig.coversNo'))),
      ...(s.origin ? fact(bt('bo.sig.origin'), btry(`bo.origin.${s.origin}`) ?? s.origin) : []),
      ...(s.method ? fact(bt('bo.sig.method'), btry(`bo.method.${s.method}`) ?? s.method) : []),
      ...fact(bt('bo.sig.envelope'), envelope),
      ...(s.level ? fact(bt('bo.sig.level'), s.level) : []),
    ]),
  ]);
}

// -------------------------------------------------------------------- list

/** @type {Contract[]} */
let contracts = [];
let listLoaded = false;
let listSeq = 0;

const form = byId('search-form', HTMLFormElement);
const fromInput = byId('search-from', HTMLInputElement);
const toInput = byId('search-to', HTMLInputElement);

/** @returns {import('./backoffice-api.js').ContractQuery} */
function currentQuery() {
  const state = byId('search-state', HTMLSelectElement).value;
  return {
    q: byId('search-q', HTMLInputElement).value,
    advisor: byId('search-advisor', HTMLInputElement).value,
    from: fromInput.value,
    to: toInput.value,
    state: state === 'signed' || state === 'open' || state === 'withdrawn' ? state : 'all',
  };
}

/** @param {string} message */
function showListError(message) {
  const box = byId('list-error', HTMLElement);
  box.textContent = message;
  box.hidden = !message;
}

async function loadList() {
  const q = currentQuery();
  if (q.from && q.to && q.from > q.to) {
    showListError(bt('bo.search.badRange'));
    fromInput.focus();
    return;
  }
  const seq = ++listSeq;
  form.setAttribute('aria-busy', 'true');
  try {
    const res = await bo.listContracts(q);
    if (seq !== listSeq) return; // a newer search is under way
    contracts = Array.isArray(res?.contracts) ? res.contracts : [];
    listLoaded = true;
    showListError('');
    renderList();
  } catch (err) {
    if (seq !== listSeq || unauthorized(err)) return;
    showListError(`${bt('bo.search.failed')} ${errorMessage(err)}`);
  } finally {
    if (seq === listSeq) form.removeAttribute('aria-busy');
  }
}

function renderList() {
  const table = byId('contracts', HTMLTableElement);
  const body = byId('contracts-body', HTMLTableSectionElement);
  const empty = byId('list-empty', HTMLElement);
  const count = byId('result-count', HTMLElement);
  if (!listLoaded) return;
  table.hidden = contracts.length === 0;
  empty.hidden = contracts.length > 0;
  count.textContent = contracts.length === 1 ? bt('bo.search.countOne') : bt('bo.search.count', { n: contracts.length });
  byId('list-limit', HTMLElement).hidden = contracts.length < LIST_LIMIT;
  body.replaceChildren(...contracts.map(contractRow));
}

/**
 * @param {Contract} c
 * @returns {{key: BoKey, cls: string}}
 */
function stateOf(c) {
  if (c.state === 'signed') return { key: 'bo.state.signed', cls: 'bo-state-signed' };
  if (c.state === 'withdrawn') return { key: 'bo.state.withdrawn', cls: 'bo-state-withdrawn' };
  if ((c.fields ?? []).some((f) => f.signed)) return { key: 'bo.state.partial', cls: 'bo-state-partial' };
  return { key: 'bo.state.open', cls: 'bo-state-open' };
}

/**
 * @param {Contract} c
 * @returns {HTMLTableRowElement}
 */
function contractRow(c) {
  const st = stateOf(c);
  const signers = h('ul', { class: 'bo-signers' }, (c.fields ?? []).map((f) =>
    h('li', {}, [
      h('span', { class: 'bo-signer-name', text: f.signed ? (f.signerName || fieldLabel(f.signer)) : fieldLabel(f.signer) }),
      ' ',
      h('span', {
        class: `small ${f.signed ? 'muted' : 'bo-pending'}`,
        text: f.signed ? bt('bo.field.signedAt', { time: formatTime(f.signedAt) }) : bt('bo.field.pending'),
      }),
    ])));
  const open = h('a', {
    class: 'bo-open',
    text: c.name,
    attrs: { href: HASH_PREFIX + encodeURIComponent(c.id), 'aria-label': bt('bo.openLabel', { name: c.name }), 'data-testid': `open-${c.id}` },
  });
  return h('tr', { attrs: { 'data-testid': `contract-row-${c.id}`, 'data-id': c.id } }, [
    h('th', { attrs: { scope: 'row' } }, [open, h('div', { class: 'small muted', text: formatTime(c.createdAt) })]),
    h('td', { text: c.consultationTitle || bt('bo.untitled'), class: c.consultationTitle ? '' : 'muted' }),
    h('td', { text: c.advisor || '–' }),
    h('td', {}, [signers]),
    h('td', {}, [h('span', { class: `state ${st.cls}`, text: bt(st.key) })]),
  ]);
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void loadList();
});
form.addEventListener('reset', () => {
  // After the browser has cleared the fields.
  window.setTimeout(() => void loadList(), 0);
});

// ------------------------------------------------------------------ detail

/** @type {{id: string, detail: ContractDetail|null, verdict: Verdict|null, error: unknown}|null} */
let opened = null;

/** @param {string} id */
async function openContract(id) {
  opened = { id, detail: null, verdict: null, error: null };
  const mine = opened;
  showScreen(SCREENS, 'screen-detail');
  renderDetail();
  try {
    // The verification first: it is recorded in the trail loaded next.
    mine.verdict = await bo.verifyContract(id);
  } catch (err) {
    if (unauthorized(err)) return;
    mine.error = err;
  }
  try {
    mine.detail = await bo.getContract(id);
  } catch (err) {
    if (unauthorized(err)) return;
    mine.error = mine.error ?? err;
  }
  if (opened === mine) renderDetail();
}

function renderDetail() {
  if (!opened) return;
  const { detail, verdict, error } = opened;
  const loading = !detail && !verdict && !error;
  byId('detail-loading', HTMLElement).hidden = !loading;
  const errBox = byId('detail-error', HTMLElement);
  errBox.hidden = !error;
  errBox.textContent = error ? `${bt('bo.detail.failed')} ${errorMessage(error)}` : '';

  const c = detail?.contract ?? contracts.find((x) => x.id === opened?.id) ?? null;
  byId('detail-heading', HTMLElement).textContent = c ? c.name : '';
  const meta = byId('detail-meta', HTMLElement);
  if (c) {
    const st = stateOf(c);
    meta.replaceChildren(
      h('span', { class: `state ${st.cls}`, text: bt(st.key) }),
      h('span', { text: `${bt('bo.detail.consultation')}: ${c.consultationTitle || bt('bo.untitled')}` }),
      h('span', { text: `${bt('bo.detail.advisor')}: ${c.advisor || '–'}` }),
    );
  } else {
    meta.replaceChildren();
  }
  const download = byId('detail-download', HTMLAnchorElement);
  const exportLink = byId('detail-audit-export', HTMLAnchorElement);
  download.hidden = !c;
  exportLink.hidden = !c;
  if (c) {
    download.href = c.downloadUrl;
    exportLink.href = bo.auditExportUrl(c.id);
  }
  const facts = byId('detail-facts', HTMLElement);
  facts.replaceChildren(...(c ? [
    ...fact(bt('bo.detail.created'), formatTime(c.createdAt)),
    ...(c.signedAt ? fact(bt('bo.detail.signedAt'), formatTime(c.signedAt)) : []),
    ...(c.restrictedAt ? fact(bt('bo.detail.restrictedAt'), formatTime(c.restrictedAt)) : []),
    ...fact(bt('bo.detail.pages'), String(c.pages)),
    ...fact(bt('bo.detail.revision'), `${c.revision} · ${formatSize(c.currentSize)}`),
    ...fact(bt('bo.detail.presentedHash'), hashCode(c.sha256)),
    ...fact(bt('bo.detail.currentHash'), hashCode(c.currentSha256)),
  ] : []));

  const verdictBox = byId('detail-verdict', HTMLElement);
  verdictBox.replaceChildren(verdict ? verdictView(verdict) : loading ? h('p', { class: 'muted', text: bt('bo.detail.loading') }) : '');
  const auditBox = byId('detail-audit', HTMLElement);
  auditBox.replaceChildren(...(detail ? auditView(detail.audit ?? [], detail.auditChain, c) : []));
}

/**
 * The audit trail: the chain status, then one row per event.
 * @param {AuditEvent[]} events
 * @param {AuditChain} chain
 * @param {Contract|null} contract
 * @returns {HTMLElement[]}
 */
function auditView(events, chain, contract) {
  const names = actorNames(events, contract);
  const valid = !!chain?.valid;
  const status = h('div', {
    class: `bo-chain ${valid ? 'bo-chain-valid' : 'bo-chain-broken'}`,
    attrs: { 'data-testid': 'audit-chain', 'data-valid': String(valid), role: 'status' },
  }, [
    h('span', { class: 'bo-mark', text: valid ? '✓' : '✕', attrs: { 'aria-hidden': 'true' } }),
    h('div', {}, [
      h('strong', { text: bt(valid ? 'bo.audit.chainValid' : 'bo.audit.chainBroken') }),
      !valid && chain?.problem ? h('div', { class: 'small', text: bt('bo.audit.chainProblem', { problem: chain.problem }) }) : null,
    ]),
  ]);
  if (events.length === 0) return [status, h('p', { class: 'muted', text: bt('bo.audit.empty') })];
  const table = h('table', { class: 'bo-table bo-audit', attrs: { 'data-testid': 'audit-table' } }, [
    h('caption', { class: 'sr-only', text: bt('bo.detail.auditTitle') }),
    h('thead', {}, [h('tr', {}, [
      h('th', { text: '#', attrs: { scope: 'col' } }),
      h('th', { text: bt('bo.audit.time'), attrs: { scope: 'col' } }),
      h('th', { text: bt('bo.audit.kind'), attrs: { scope: 'col' } }),
      h('th', { text: bt('bo.audit.actor'), attrs: { scope: 'col' } }),
      h('th', { text: bt('bo.audit.detail'), attrs: { scope: 'col' } }),
    ])]),
    h('tbody', {}, events.map((ev) =>
      h('tr', { attrs: { 'data-testid': 'audit-row', 'data-kind': ev.kind, 'data-seq': ev.seq } }, [
        h('td', { class: 'bo-num', text: String(ev.seq) }),
        h('td', { class: 'bo-nowrap', text: formatTime(ev.at) }),
        h('td', { text: btry(`bo.kind.${ev.kind}`) ?? ev.kind }),
        h('td', {}, [actorView(ev.actor, names)]),
        h('td', {}, [detailView(ev.detail), h('div', { class: 'bo-event-hash small muted' }, ['# ', hashCode(ev.hash)])]),
      ]))),
  ]);
  return [status, h('div', { class: 'bo-table-wrap' }, [table])];
}

/**
 * Names for the actors of a trail, as far as the trail and the page know
 * them: the presenting advisor (the contract's advisor), each signer (the
 * "signed" event's signer), and the signed-in user.
 * @param {AuditEvent[]} events
 * @param {Contract|null} contract
 * @returns {Map<string, string>}
 */
function actorNames(events, contract) {
  /** @type {Map<string, string>} */
  const names = new Map();
  if (me) names.set(`staff:${me.id}`, me.displayName || me.username);
  for (const ev of events) {
    if (names.has(ev.actor)) continue;
    if (ev.kind === 'presented' && contract?.advisor) names.set(ev.actor, contract.advisor);
    const signer = ev.detail?.signer;
    if (ev.kind === 'signed' && typeof signer === 'string' && signer) names.set(ev.actor, signer);
  }
  return names;
}

/**
 * @param {string} actor "staff:<id>", "participant:<id>" or "system"
 * @param {Map<string, string>} names
 * @returns {HTMLElement}
 */
function actorView(actor, names) {
  const i = actor.indexOf(':');
  const kind = i < 0 ? actor : actor.slice(0, i);
  const id = i < 0 ? '' : actor.slice(i + 1);
  let role = actor;
  if (kind === 'staff') role = bt('bo.actor.staff', { id });
  else if (kind === 'participant') role = bt('bo.actor.participant', { id });
  else if (kind === 'system') role = bt('bo.actor.system');
  const name = names.get(actor);
  if (!name) return h('span', { text: role });
  return h('span', {}, [h('span', { class: 'bo-actor-name', text: name }), h('span', { class: 'small muted bo-actor-role', text: role })]);
}

/** The order of known detail keys: what a reader looks for first. */
const DETAIL_ORDER = ['name', 'signer', 'field', 'fields', 'verdict', 'pages', 'revision', 'size', 'sha256',
  'signed_over_sha256', 'signed_sha256', 'envelope_sha256', 'envelope_recipient', 'strokes', 'points', 'duration_ms',
  'method', 'typed_name', 'confirmed'];

/** @param {string} k @returns {number} */
const detailRank = (k) => {
  const i = DETAIL_ORDER.indexOf(k);
  return i < 0 ? DETAIL_ORDER.length : i;
};

/**
 * An event's detail as labelled values; hashes shortened.
 * @param {Record<string, unknown>|null} detail
 * @returns {HTMLElement}
 */
function detailView(detail) {
  const list = h('dl', { class: 'bo-event-detail' });
  if (!detail || typeof detail !== 'object') return list;
  const entries = Object.entries(detail).sort(([a], [b]) => detailRank(a) - detailRank(b));
  for (const [k, v] of entries) {
    if (v === null || v === undefined || v === '') continue;
    /** @type {Node|string} */
    let value;
    if (typeof v === 'string' && /^(sha256:)?[0-9a-f]{40,}$/.test(v)) value = hashCode(v);
    else if (k === 'size' && typeof v === 'number') value = formatSize(v);
    else if (k === 'field' && typeof v === 'string') value = fieldLabel(v);
    else if (k === 'fields' && Array.isArray(v)) value = v.map((f) => fieldLabel(String(f))).join(', ');
    else if (k === 'verdict' && typeof v === 'string') value = btry(`bo.verdict.${v}`) ?? v;
    else if (k === 'method' && typeof v === 'string') value = btry(`bo.method.${v}`) ?? v;
    else if (typeof v === 'boolean') value = bt(v ? 'bo.yes' : 'bo.no');
    else if (k === 'placement' && typeof v === 'object') value = placementText(/** @type {Record<string, any>} */ (v));
    else if (typeof v === 'object') value = JSON.stringify(v);
    else value = String(v);
    list.append(h('div', {}, [h('dt', { text: btry(`bo.key.${k}`) ?? k }), h('dd', {}, [value])]));
  }
  return list;
}

/**
 * Where the signature fields of an upload were placed (the "presented"
 * event's detail.placement: field → {page, rect: {x, y, w, h}}).
 * @param {Record<string, any>} p
 * @returns {string}
 */
function placementText(p) {
  const r1 = (/** @type {unknown} */ v) => String(Math.round(Number(v) * 10) / 10);
  return Object.entries(p).map(([f, b]) => `${fieldLabel(f)}: ${bt('bo.placementAt', {
    page: r1(b?.page), x: r1(b?.rect?.x), y: r1(b?.rect?.y), w: r1(b?.rect?.w), h: r1(b?.rect?.h),
  })}`).join('; ');
}

/** The list was shown before in this page: "back" returns to it as it was. */
let listSeen = false;

byId('detail-back', HTMLButtonElement).addEventListener('click', () => {
  if (listSeen && location.hash.startsWith(HASH_PREFIX)) history.back();
  else location.hash = '';
});

// ------------------------------------------------------------------ verify

const upload = byId('verify-upload', HTMLInputElement);
/** @type {{name: string, verdict: Verdict|null, error: unknown, busy: boolean}|null} */
let checked = null;

upload.addEventListener('change', () => {
  const file = upload.files?.[0];
  if (!file) return;
  upload.value = ''; // the same file can be chosen again
  void verifyFile(file);
});

/** @param {File} file */
async function verifyFile(file) {
  const looksPdf = file.type === 'application/pdf' || /\.pdf$/i.test(file.name) || file.type === '';
  checked = { name: file.name, verdict: null, error: null, busy: looksPdf };
  const mine = checked;
  if (!looksPdf) {
    mine.error = new Error('not a pdf');
    renderVerify();
    return;
  }
  renderVerify();
  try {
    mine.verdict = await bo.verifyUpload(file);
  } catch (err) {
    if (unauthorized(err)) return;
    mine.error = err;
  }
  mine.busy = false;
  if (checked === mine) renderVerify();
}

function renderVerify() {
  const status = byId('verify-status', HTMLElement);
  const result = byId('verify-result', HTMLElement);
  upload.disabled = !!checked?.busy;
  if (!checked) {
    status.replaceChildren();
    result.replaceChildren();
    return;
  }
  const { name, verdict, error, busy } = checked;
  if (busy) {
    status.replaceChildren(h('p', { class: 'loading' }, [
      h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
      h('span', { text: bt('bo.verify.busy', { name }) }),
    ]));
    result.replaceChildren();
    return;
  }
  status.replaceChildren();
  if (error) {
    const text = error instanceof api.ApiError ? errorMessage(error) : bt('bo.verify.notPdf');
    result.replaceChildren(h('div', { class: 'alert alert-error', text, attrs: { role: 'alert', 'data-testid': 'verify-error' } }));
    return;
  }
  if (verdict) {
    result.replaceChildren(h('h3', { class: 'bo-result-title', text: bt('bo.verify.result', { name }) }), verdictView(verdict));
  }
}

// ------------------------------------------------------------------ routing

function route() {
  const hash = location.hash;
  if (hash.startsWith(HASH_PREFIX)) {
    let id = '';
    try {
      id = decodeURIComponent(hash.slice(HASH_PREFIX.length));
    } catch {
      id = '';
    }
    if (id) {
      void openContract(id);
      return;
    }
  }
  opened = null;
  listSeen = true;
  showScreen(SCREENS, 'screen-list');
  if (!listLoaded) void loadList();
}

window.addEventListener('hashchange', route);

onLangChange(() => {
  renderUser();
  renderList();
  renderDetail();
  renderVerify();
});

/** Shows the error screen for a failed start. @param {unknown} err */
function failStart(err) {
  byId('error-title', HTMLElement).textContent = t('error.unknown');
  byId('error-text', HTMLElement).textContent = describeError(err);
  byId('error-retry', HTMLButtonElement).onclick = () => void start();
  showScreen(SCREENS, 'screen-error');
}

async function start() {
  try {
    me = await api.me();
  } catch (err) {
    if (!unauthorized(err)) failStart(err);
    return;
  }
  if (me.mustChangePassword) {
    location.replace(`/login?change=1&next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  renderUser();
  document.body.classList.add('signed-in');
  route();
}

void start();
