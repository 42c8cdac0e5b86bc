// @ts-check
/**
 * "Meine Daten": what is stored about a customer, shown from the server's
 * export (my-data-api.js), with the data-subject rights as buttons:
 * download the export as JSON, correct the name, delete (with a
 * confirmation that says what is deleted, that the customer leaves the
 * call, and which records are restricted instead, until when), and the
 * questions after the consultation. One SubjectView serves the customer in
 * the call (MyDataPanel, a drawer like the chat), the customer afterwards
 * (/my-data) and an admin (/admin/data-requests).
 *
 * Test ids: my-data-toggle, my-data-panel, my-data-view (data-restricted,
 * data-in-call), my-data-name, my-data-correct, my-data-name-input,
 * my-data-name-save, my-data-answers (entries answer-<questionId>),
 * my-data-consents, my-data-contracts (entries with data-restricted),
 * my-data-files, my-data-requests, my-data-notes, my-data-download,
 * my-data-delete, my-data-delete-dialog, my-data-delete-confirm,
 * my-data-error, erase-result, my-data-link, copy-my-data-link;
 * feedback-form, feedback-submit, feedback-done, feedback-error.
 * @module
 */

import { t, tryT, getLang, onLangChange, applyTranslations } from './i18n.js';
import { h, toast, describeError, copyText, formatTime } from './ui.js';
import { icon } from './icons.js';
import { ApiError } from './api.js';
import { QuestionFields, answerText, localText } from './questions.js';

/**
 * @typedef {import('./api.js').Question} Question
 * @typedef {import('./my-data-api.js').SubjectSource} SubjectSource
 * @typedef {import('./my-data-api.js').SubjectExport} SubjectExport
 * @typedef {import('./my-data-api.js').SubjectRecord} SubjectRecord
 * @typedef {import('./my-data-api.js').Erasure} Erasure
 * @typedef {import('./i18n.js').Key} Key
 * @typedef {'subject'|'admin'} Audience
 */

/**
 * A date (no time) for the current language.
 * @param {string|undefined|null} iso
 * @returns {string}
 */
export function formatDate(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'long' }).format(d);
}

/** @param {number} n bytes @returns {string} */
function formatBytes(n) {
  const nf = (/** @type {number} */ v, /** @type {number} */ d) =>
    new Intl.NumberFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: d }).format(v);
  if (n < 1024) return `${nf(n, 0)} B`;
  if (n < 1024 * 1024) return `${nf(n / 1024, 1)} KB`;
  return `${nf(n / (1024 * 1024), 1)} MB`;
}

/**
 * Singular or plural.
 * @param {number} n
 * @param {Key} one
 * @param {Key} many
 * @param {Record<string, string|number>} [params]
 */
function plural(n, one, many, params = {}) {
  return t(n === 1 ? one : many, { n, ...params });
}

/**
 * The text of a failed request.
 * @param {unknown} err
 * @returns {string}
 */
function errorMessage(err) {
  return describeError(err);
}

/**
 * A restricted or kept record's status line.
 * @param {SubjectRecord} r
 * @returns {HTMLElement}
 */
function recordStatus(r) {
  const date = formatDate(r.keptUntil);
  let text;
  if (r.restricted) text = date ? t('mydata.restricted', { date }) : t('mydata.restrictedNoDate');
  else text = date ? t('mydata.kept', { date }) : '';
  return h('span', { class: `md-status${r.restricted ? ' is-restricted' : ''}`, text, attrs: { hidden: !text } }, []);
}

/**
 * Whether the server takes the answers to the questions after the
 * consultation from this subject: not given yet, and from someone who took
 * part and has not asked for erasure (a customer record or a consent that
 * is not restricted is left). An anonymous customer's record goes when
 * the consultation ends, so they are not asked afterwards.
 * @param {SubjectExport} d
 * @returns {boolean}
 */
export function canGiveFeedback(d) {
  return (d.feedback?.questions ?? []).length > 0 && !d.feedback.given && !d.restricted &&
    (!!d.customer || d.consents.some((c) => !c.restricted));
}

/**
 * What an erasure did, as the server answered it: deleted, restricted
 * (with the dates until which the restricted records are kept).
 * @param {Erasure} e
 * @returns {HTMLElement}
 */
export function erasureSummary(e) {
  const d = e.deleted ?? {};
  const r = e.restricted ?? {};
  const remaining = e.remaining;
  /** @type {string[]} */
  const deleted = [];
  if ((d.customer ?? 0) > 0) deleted.push(t('mydata.erased.customer'));
  if ((d.answers ?? 0) > 0) deleted.push(plural(d.answers ?? 0, 'mydata.erased.answersOne', 'mydata.erased.answers'));
  if ((d.files ?? 0) > 0) deleted.push(plural(d.files ?? 0, 'mydata.erased.filesOne', 'mydata.erased.files'));
  if ((d.session ?? 0) > 0) deleted.push(t('mydata.erased.session'));
  /** @param {SubjectRecord[]|undefined} recs */
  const until = (recs) => {
    const dates = [...new Set((recs ?? []).filter((x) => x.restricted && x.keptUntil).map((x) => formatDate(x.keptUntil)))];
    return dates.length ? ` – ${t('mydata.erased.until', { date: dates.join(', ') })}` : '';
  };
  // Everything restricted now counts, also records restricted by an
  // earlier request (the server's count covers only this one).
  const consents = Math.max(r.consents ?? 0, (remaining?.consents ?? []).filter((x) => x.restricted).length);
  const contracts = Math.max(r.contracts ?? 0, (remaining?.contracts ?? []).filter((x) => x.restricted).length);
  /** @type {string[]} */
  const restricted = [];
  if (consents > 0) restricted.push(plural(consents, 'mydata.erased.consentsOne', 'mydata.erased.consents') + until(remaining?.consents));
  if (contracts > 0) restricted.push(plural(contracts, 'mydata.erased.contractsOne', 'mydata.erased.contracts') + until(remaining?.contracts));
  /** @param {string[]} items */
  const list = (items) => h('ul', { class: 'md-result-list' }, items.map((s) => h('li', { text: s })));
  return h('div', {
    class: 'md-result',
    attrs: { role: 'status' },
    data: {
      testid: 'erase-result',
      deleted: JSON.stringify(d),
      restricted: JSON.stringify({ consents, contracts }),
    },
  }, [
    h('p', { class: 'md-result-title' }, [icon('check'), h('strong', { text: t('mydata.erased.title') })]),
    h('p', { class: 'md-result-head', text: t('mydata.erased.deleted') }),
    list(deleted.length ? deleted : [t('mydata.erased.nothing')]),
    h('p', { class: 'md-result-head', text: t('mydata.erased.restrictedHead') }),
    list(restricted.length ? restricted : [t('mydata.erased.none')]),
  ]);
}

// ------------------------------------------------------------- feedback

/**
 * The questions after the consultation, sent once with the data-subject
 * link's token.
 */
export class FeedbackForm {
  /**
   * @param {Question[]} questions
   * @param {(answers: Record<string, string>) => Promise<void>} submit
   * @param {{prefix: string, heading?: 'h2'|'h3', onDone?: () => void}} opts
   */
  constructor(questions, submit, opts) {
    this.submit = submit;
    this.opts = opts;
    this.fields = new QuestionFields(questions, opts.prefix);
    this.errorEl = h('p', { class: 'alert alert-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'feedback-error' } });
    this.button = h('button', { class: 'btn btn-primary', attrs: { type: 'submit' }, data: { testid: 'feedback-submit' }, i18n: 'feedback.submit' });
    const headingId = `${opts.prefix}-heading`;
    this.form = h('form', { class: 'stack md-feedback-form', attrs: { novalidate: true, 'aria-labelledby': headingId } }, [
      h(opts.heading ?? 'h2', { id: headingId, class: 'md-feedback-title', i18n: 'feedback.title' }),
      h('p', { class: 'muted small', i18n: 'feedback.intro' }),
      this.fields.el,
      this.errorEl,
      h('div', {}, [this.button]),
    ]);
    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this._send();
    });
    this.doneEl = h('p', { class: 'md-feedback-done', attrs: { role: 'status', hidden: true }, data: { testid: 'feedback-done' } });
    this.el = h('section', { class: 'md-feedback', data: { testid: 'feedback-form' } }, [this.form, this.doneEl]);
    this._off = onLangChange(() => this.render());
    this.render();
  }

  render() {
    this.fields.render();
    applyTranslations(this.el);
    if (this.doneEl.dataset.key) this.doneEl.textContent = t(/** @type {Key} */ (this.doneEl.dataset.key));
  }

  /** @param {Key} key */
  _done(key) {
    this.form.hidden = true;
    this.doneEl.dataset.key = key;
    this.doneEl.textContent = t(key);
    this.doneEl.hidden = false;
    this.opts.onDone?.();
  }

  async _send() {
    this.errorEl.hidden = true;
    if (!this.fields.validate()) return;
    const answers = this.fields.values();
    if (Object.keys(answers).length === 0) {
      this.errorEl.textContent = t('feedback.empty');
      this.errorEl.hidden = false;
      return;
    }
    this.button.disabled = true;
    this.button.textContent = t('feedback.busy');
    try {
      await this.submit(answers);
      this._done('feedback.thanks');
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) {
        this._done('feedback.given');
        return;
      }
      this.errorEl.textContent = err instanceof ApiError && err.status === 403 ? t('feedback.forbidden') : errorMessage(err);
      this.errorEl.hidden = false;
    } finally {
      this.button.disabled = false;
      this.button.textContent = t('feedback.submit');
    }
  }

  destroy() {
    this._off();
    this.el.remove();
  }
}

// --------------------------------------------------------- personal link

/**
 * The personal link for later, with a copy button.
 * @param {string} url
 * @param {{heading?: 'h2'|'h3'|'h4'}} [opts]
 * @returns {HTMLElement}
 */
export function personalLinkBox(url, opts = {}) {
  const box = h('code', { class: 'link-box', data: { testid: 'my-data-link' }, text: url });
  const copy = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'copy-my-data-link' } }, [
    icon('copy'),
    h('span', { i18n: 'common.copy' }),
  ]);
  copy.addEventListener('click', async () => {
    const ok = await copyText(url, box);
    toast(t(ok ? 'common.copied' : 'common.copyFailed'), { kind: ok ? 'success' : 'error' });
  });
  return h('section', { class: 'md-link' }, [
    h(opts.heading ?? 'h3', { class: 'md-link-title' }, [icon('link'), h('span', { i18n: 'mydata.link.title' })]),
    h('div', { class: 'link-row' }, [box, copy]),
    h('p', { class: 'hint', i18n: 'mydata.link.hint' }),
  ]);
}

// ------------------------------------------------------------ contracts

/**
 * A button that downloads a signed contract (the PDF as kept, with every
 * signature given so far), or null where the source offers none (admins
 * use the back office). A contract not yet signed by everyone says so.
 * @param {SubjectRecord} r
 * @param {SubjectSource} source
 * @returns {HTMLElement|null}
 */
export function contractButton(r, source) {
  const get = source.contract;
  if (!get || !r.id) return null;
  const id = r.id;
  const partial = r.detail?.complete === 'false';
  const btn = h('button', {
    class: 'btn btn-secondary btn-small md-contract-download',
    attrs: { type: 'button', 'aria-label': t(partial ? 'mydata.contract.downloadPartialLabel' : 'mydata.contract.downloadLabel', { document: String(r.detail?.document ?? '') }) },
    data: { testid: 'my-data-contract-download', doc: id },
  }, [icon('download'), h('span', { text: t(partial ? 'mydata.contract.downloadPartial' : 'mydata.contract.download') })]);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      await get(id);
    } catch (err) {
      toast(errorMessage(err), { kind: 'error' });
    } finally {
      btn.disabled = false;
    }
  });
  return btn;
}

/**
 * A button that asks the server to send a copy of a signed contract by
 * e-mail to the address the customer gave, or null where the server says
 * it is not possible (r.canEmail: signed by everyone, an address given,
 * e-mail on). Sent only on this explicit request; once sent, the button
 * stays disabled and says so.
 * @param {SubjectRecord} r
 * @param {SubjectSource} source
 * @returns {HTMLElement|null}
 */
export function emailButton(r, source) {
  const send = source.emailContract;
  if (!send || !r.id || !r.canEmail) return null;
  const id = r.id;
  const label = h('span', { text: t('mydata.contract.email') });
  const btn = h('button', {
    class: 'btn btn-secondary btn-small md-contract-email',
    attrs: { type: 'button', 'aria-label': t('mydata.contract.emailLabel', { document: String(r.detail?.document ?? '') }) },
    data: { testid: 'my-data-contract-email', doc: id },
  }, [icon('send'), label]);
  btn.addEventListener('click', async () => {
    btn.disabled = true;
    try {
      const res = await send(id, getLang());
      label.textContent = t('mydata.contract.emailSent');
      btn.setAttribute('aria-label', t('mydata.contract.emailSentLabel', { document: String(r.detail?.document ?? '') }));
      btn.dataset.state = 'sent';
      toast(t(res?.status === 'already-queued' ? 'mydata.contract.emailAlready' : 'mydata.contract.emailQueued'), { kind: 'success' });
    } catch (err) {
      btn.disabled = false;
      toast(errorMessage(err), { kind: 'error' });
    }
  });
  return btn;
}

/**
 * The actions on a signed contract: download, and the copy by e-mail
 * where possible.
 * @param {SubjectRecord} r
 * @param {SubjectSource} source
 * @returns {HTMLElement|null}
 */
export function contractActions(r, source) {
  const dl = contractButton(r, source);
  const mail = emailButton(r, source);
  if (!dl && !mail) return null;
  return h('span', { class: 'md-contract-actions' }, [dl, mail]);
}

/**
 * The end screen's list of the contracts the customer signed, each with
 * its download (and the copy by e-mail); null when there are none.
 * @param {SubjectExport} d
 * @param {SubjectSource} source
 * @param {{heading?: 'h2'|'h3'}} [opts]
 * @returns {HTMLElement|null}
 */
export function signedContractsBox(d, source, opts = {}) {
  if (!d.contracts.length || !source.contract) return null;
  return h('section', { class: 'md-link md-contracts', data: { testid: 'end-contracts' } }, [
    h(opts.heading ?? 'h3', { class: 'md-link-title' }, [icon('download'), h('span', { i18n: 'mydata.contracts.endTitle' })]),
    h('ul', { class: 'md-records' }, d.contracts.map((r) => h('li', { class: 'md-record' }, [
      h('span', { class: 'md-record-text', text: String(r.detail?.document ?? '–') }),
      contractActions(r, source),
    ]))),
    h('p', { class: 'hint', i18n: 'mydata.contracts.endHint' }),
  ]);
}

// ----------------------------------------------------------------- view

/**
 * @typedef {{
 *   source: SubjectSource,
 *   audience: Audience,
 *   prefix: string,
 *   heading?: 'h2'|'h3',
 *   questions?: Question[],
 *   link?: string|null,
 *   feedback?: boolean,
 *   onErase?: (pending: Promise<Erasure>) => void,
 *   onUpdate?: (data: SubjectExport) => void
 * }} SubjectViewOptions
 */

/**
 * The export, readable, with the actions.
 */
export class SubjectView {
  /** @param {SubjectViewOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.source = opts.source;
    /** @type {SubjectExport|null} */
    this.data = null;
    /** @type {Erasure|null} */
    this.erasure = null;
    this.editing = false;
    this.busy = false;
    /** @type {FeedbackForm|null} */
    this.feedback = null;
    /** @type {string} a short confirmation of the last action, by key */
    this.notice = '';

    this.errorEl = h('p', { class: 'alert alert-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'my-data-error' } });
    this.body = h('div', { class: 'md-body' });
    this.dialogTitle = h('h2', { id: `${opts.prefix}-del-title` });
    this.dialogText = h('div', { class: 'md-dialog-text', id: `${opts.prefix}-del-text` });
    this.confirmBtn = h('button', { class: 'btn btn-danger', attrs: { type: 'submit', value: 'delete' }, data: { testid: 'my-data-delete-confirm' }, i18n: 'mydata.deleteConfirm' });
    this.dialog = this._buildDialog();
    this.el = h('div', { class: 'md-view', data: { testid: 'my-data-view' } }, [this.errorEl, this.body, this.dialog]);
    this._off = onLangChange(() => this.render());
  }

  /** @param {Key} key */
  _h(key) {
    return h(this.opts.heading ?? 'h3', { class: 'md-section-title', i18n: key });
  }

  /** @param {string} testid */
  _focus(testid) {
    const el = this.el.querySelector(`[data-testid="${testid}"]`);
    if (el instanceof HTMLElement) el.focus();
  }

  /** Fetches the export anew. */
  async refresh() {
    this.errorEl.hidden = true;
    if (!this.data) this.body.replaceChildren(h('p', { class: 'loading', attrs: { role: 'status' } }, [
      h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
      h('span', { i18n: 'mydata.loading' }),
    ]));
    try {
      this.setData(await this.source.load());
    } catch (err) {
      this._error(err, 'mydata.loadFailed');
      if (!this.data) this.body.replaceChildren();
      throw err;
    }
  }

  /** @param {SubjectExport} data */
  setData(data) {
    this.data = data;
    this.render();
    this.opts.onUpdate?.(data);
  }

  /**
   * @param {unknown} err
   * @param {Key} [prefix]
   */
  _error(err, prefix) {
    this.errorEl.textContent = prefix ? `${t(prefix)} ${errorMessage(err)}` : errorMessage(err);
    this.errorEl.hidden = false;
  }

  /** @returns {Map<string, Question>} every known question by id */
  _questions() {
    /** @type {Map<string, Question>} */
    const m = new Map();
    for (const q of this.opts.questions ?? []) m.set(q.id, q);
    for (const q of [...(this.data?.questionsBefore ?? []), ...(this.data?.feedback?.questions ?? [])]) {
      if (!m.has(q.id)) m.set(q.id, q);
    }
    return m;
  }

  /** Something is left that erasure would delete. */
  _erasable() {
    const d = this.data;
    if (!d) return false;
    return !!d.customer || d.answers.length > 0 || d.files.length > 0 || d.inCall ||
      d.consents.some((r) => !r.restricted) || d.contracts.some((r) => !r.restricted);
  }

  render() {
    const d = this.data;
    if (!d) return;
    const admin = this.opts.audience === 'admin';
    this.el.dataset.restricted = String(!!d.restricted);
    this.el.dataset.inCall = String(!!d.inCall);
    /** @type {(Node|null)[]} */
    const parts = [];

    parts.push(h('p', { class: 'md-meta muted small' }, [
      h('span', { text: t('mydata.generated', { time: formatTime(d.generatedAt) }) }),
      d.controller ? h('span', { text: t('mydata.controller', { name: d.controller }) }) : null,
    ]));
    if (this.erasure) parts.push(erasureSummary(this.erasure));
    else if (d.restricted) parts.push(h('p', { class: 'alert alert-warn', data: { testid: 'my-data-restricted' }, text: t('mydata.restrictedBanner') }));
    if (d.inCall) parts.push(h('p', { class: 'md-incall' }, [icon('users'), h('span', { text: t(admin ? 'mydata.inCall.admin' : 'mydata.inCall.subject') })]));

    parts.push(this._nameSection(d));
    parts.push(this._answersSection(d));
    // The text version is a checksum of the wording (web/consent.go): shown
    // as the wording in force on the day, in words; the checksum stays in
    // the download.
    parts.push(this._recordsSection('mydata.section.consents', 'my-data-consents', d.consents, 'mydata.consents.none', (r) => t('mydata.consent.item', {
      language: tryT(`mydata.lang.${String(r.detail?.lang ?? '')}`) ?? String(r.detail?.lang ?? '–').toUpperCase(),
      date: formatDate(r.at),
      time: formatTime(r.at),
    })));
    parts.push(this._recordsSection('mydata.section.contracts', 'my-data-contracts', d.contracts, 'mydata.contracts.none', (r) => t('mydata.contract.item', {
      document: String(r.detail?.document ?? '–'),
      name: String(r.detail?.signerName || t('mydata.contract.noName')),
      time: formatTime(r.at),
    }), (r) => contractActions(r, this.source)));
    parts.push(this._filesSection(d));
    parts.push(this._requestsSection(d));

    // Actions.
    const download = h('button', { class: 'btn btn-secondary', attrs: { type: 'button' }, data: { testid: 'my-data-download' } }, [
      icon('download'),
      h('span', { i18n: 'mydata.download' }),
    ]);
    download.addEventListener('click', () => void this._download(download));
    const del = h('button', { class: 'btn btn-danger', attrs: { type: 'button' }, data: { testid: 'my-data-delete' } }, [
      icon('trash'),
      h('span', { i18n: admin ? 'mydata.deleteAdmin' : 'mydata.delete' }),
    ]);
    del.addEventListener('click', () => this._confirmDelete());
    const erasable = this._erasable();
    del.hidden = !erasable;
    parts.push(h('div', { class: 'md-actions' }, [
      download,
      del,
      erasable ? null : h('p', { class: 'muted small md-nothing', text: t('mydata.nothingLeft') }),
    ]));

    // The questions after the consultation (with the link's token only).
    const fq = d.feedback?.questions ?? [];
    if (this.opts.feedback && this.source.feedback && canGiveFeedback(d) && !d.inCall) {
      if (!this.feedback) {
        const send = this.source.feedback;
        this.feedback = new FeedbackForm(fq, send, { prefix: `${this.opts.prefix}-fb`, heading: this.opts.heading ?? 'h3' });
      }
      parts.push(this.feedback.el);
    } else if (this.feedback && !this.feedback.doneEl.hidden) {
      parts.push(this.feedback.el); // keep the thanks visible
    }

    if (this.opts.link) parts.push(personalLinkBox(this.opts.link, { heading: this.opts.heading ?? 'h3' }));

    const notes = d.notes?.[getLang()] ?? d.notes?.de ?? [];
    if (notes.length) {
      parts.push(h('section', { class: 'md-section md-notes', data: { testid: 'my-data-notes' } }, [
        this._h('mydata.section.notes'),
        h('ul', {}, notes.map((n) => h('li', { text: n }))),
      ]));
    }
    this.body.replaceChildren(...parts.filter((p) => p !== null));
    applyTranslations(this.body);
  }

  /** @param {SubjectExport} d */
  _nameSection(d) {
    const c = d.customer;
    let text;
    let cls = 'md-value';
    if (c?.name) text = c.name;
    else {
      cls += ' md-empty';
      if (c?.anonymous) text = t('mydata.name.anonymous');
      else if (c) text = t('mydata.name.none');
      else text = t('mydata.name.gone');
    }
    /** @type {(Node|null)[]} */
    const kids = [
      this._h('mydata.section.name'),
      h('p', { class: cls, data: { testid: 'my-data-name', name: c?.name ?? '' }, text }),
      c?.joinedAt ? h('p', { class: 'muted small', text: t('mydata.joinedAt', { time: formatTime(c.joinedAt) }) }) : null,
    ];
    if (this.notice === 'mydata.corrected') kids.push(h('p', { class: 'md-ok small', attrs: { role: 'status' }, text: t('mydata.corrected') }));
    const canCorrect = !!c || d.inCall;
    if (canCorrect && !this.editing) {
      const btn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'my-data-correct' } }, [
        icon('pen'),
        h('span', { i18n: 'mydata.correct' }),
      ]);
      btn.addEventListener('click', () => {
        this.editing = true;
        this.notice = '';
        this.render();
        const input = this.el.querySelector('[data-testid="my-data-name-input"]');
        if (input instanceof HTMLInputElement) {
          input.focus();
          input.select();
        }
      });
      kids.push(btn);
    }
    if (canCorrect && this.editing) kids.push(this._correctForm(c?.name ?? ''));
    return h('section', { class: 'md-section' }, kids);
  }

  /** @param {string} current */
  _correctForm(current) {
    const id = `${this.opts.prefix}-name`;
    const input = h('input', {
      id,
      attrs: { type: 'text', maxlength: 64, autocomplete: 'name', value: current },
      data: { testid: 'my-data-name-input' },
    });
    const save = h('button', { class: 'btn btn-primary btn-small', attrs: { type: 'submit' }, data: { testid: 'my-data-name-save' }, i18n: 'mydata.save' });
    const cancel = h('button', { class: 'btn btn-ghost btn-small', attrs: { type: 'button' }, i18n: 'common.cancel' });
    cancel.addEventListener('click', () => {
      this.editing = false;
      this.render();
      this._focus('my-data-correct');
    });
    const form = h('form', { class: 'md-correct', attrs: { novalidate: true } }, [
      h('div', { class: 'field' }, [h('label', { attrs: { for: id }, i18n: 'mydata.correctLabel' }), input]),
      h('div', { class: 'md-correct-actions' }, [save, cancel]),
    ]);
    form.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        cancel.click();
      }
    });
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this._correct(input.value.trim(), save);
    });
    return form;
  }

  /**
   * @param {string} name
   * @param {HTMLButtonElement} btn
   */
  async _correct(name, btn) {
    btn.disabled = true;
    btn.textContent = t('mydata.saving');
    this.errorEl.hidden = true;
    try {
      const data = await this.source.correct(name);
      this.editing = false;
      this.notice = 'mydata.corrected';
      this.setData(data);
      toast(t('mydata.corrected'), { kind: 'success' });
    } catch (err) {
      btn.disabled = false;
      btn.textContent = t('mydata.save');
      if (err instanceof ApiError && err.status === 409) {
        this.errorEl.textContent = t('mydata.correctConflict');
        this.errorEl.hidden = false;
      } else this._error(err);
    }
  }

  /** @param {SubjectExport} d */
  _answersSection(d) {
    const qs = this._questions();
    const list = h('dl', { class: 'md-answers', data: { testid: 'my-data-answers' } });
    for (const a of d.answers) {
      const q = qs.get(a.questionId);
      list.append(
        h('div', { class: 'md-answer', data: { testid: `answer-${a.questionId}`, phase: a.phase, value: a.value } }, [
          h('dt', { text: q ? localText(q.label) : a.questionId }),
          h('dd', {}, [
            h('span', { class: 'md-value', text: answerText(q, a.value) }),
            h('span', { class: 'muted small', text: t(a.phase === 'after' ? 'mydata.phase.after' : 'mydata.phase.before', { time: formatTime(a.givenAt) }) }),
          ]),
        ]),
      );
    }
    return h('section', { class: 'md-section' }, [
      this._h('mydata.section.answers'),
      d.answers.length ? list : h('p', { class: 'muted', text: t('mydata.answers.none') }),
    ]);
  }

  /**
   * @param {Key} heading
   * @param {string} testid
   * @param {SubjectRecord[]} recs
   * @param {Key} none
   * @param {(r: SubjectRecord) => string} line
   * @param {(r: SubjectRecord) => HTMLElement|null} [extra] e.g. a download button
   */
  _recordsSection(heading, testid, recs, none, line, extra) {
    const list = h('ul', { class: 'md-records', data: { testid } }, recs.map((r) => h('li', {
      class: `md-record${r.restricted ? ' is-restricted' : ''}`,
      data: { restricted: String(r.restricted), keptUntil: r.keptUntil ?? '' },
    }, [
      h('span', { class: 'md-record-text', text: line(r) }),
      recordStatus(r),
      extra ? extra(r) : null,
    ])));
    return h('section', { class: 'md-section' }, [
      this._h(heading),
      recs.length ? list : h('p', { class: 'muted', data: { testid }, text: t(none) }),
    ]);
  }

  /** @param {SubjectExport} d */
  _filesSection(d) {
    const n = d.files.length;
    const size = formatBytes(d.files.reduce((s, f) => s + (f.size || 0), 0));
    return h('section', { class: 'md-section' }, [
      this._h('mydata.section.files'),
      h('p', { class: n ? '' : 'muted', data: { testid: 'my-data-files', count: String(n) }, text: n ? plural(n, 'mydata.files.one', 'mydata.files.count', { size }) : t('mydata.files.none') }),
    ]);
  }

  /** @param {SubjectExport} d */
  _requestsSection(d) {
    const reqs = d.requests ?? [];
    if (reqs.length === 0) return null;
    return h('details', { class: 'md-section md-requests', data: { testid: 'my-data-requests' } }, [
      h('summary', { text: t('mydata.section.requests', { n: reqs.length }) }),
      h('ul', { class: 'md-records' }, [...reqs].reverse().map((r) => {
        const by = String(r.detail?.requestedBy ?? '');
        const staff = /^staff:(\d+)$/.exec(by);
        const who = staff ? t('mydata.request.byStaff', { id: staff[1] ?? '' }) : t('mydata.request.bySubject');
        const kind = r.kind === 'erase' ? 'mydata.request.erase' : r.kind === 'correct' ? 'mydata.request.correct' : 'mydata.request.export';
        return h('li', { class: 'md-record', data: { kind: r.kind } }, [
          h('span', { class: 'md-record-text', text: `${t(kind)} · ${formatTime(r.at)}` }),
          h('span', { class: 'md-status', text: who }),
        ]);
      })),
    ]);
  }

  /** @param {HTMLButtonElement} btn */
  async _download(btn) {
    btn.disabled = true;
    try {
      await this.source.download();
    } catch (err) {
      this._error(err);
    } finally {
      window.setTimeout(() => {
        btn.disabled = false;
      }, 800);
    }
  }

  // -------------------------------------------------------------- delete

  /** @returns {HTMLDialogElement} the confirmation before erasure */
  _buildDialog() {
    const cancel = h('button', { class: 'btn btn-secondary', attrs: { type: 'submit', value: 'cancel' }, i18n: 'common.cancel' });
    const dlg = h('dialog', {
      class: 'dialog',
      attrs: { 'aria-labelledby': this.dialogTitle.id, 'aria-describedby': this.dialogText.id },
      data: { testid: 'my-data-delete-dialog' },
    }, [
      h('form', { attrs: { method: 'dialog' }, class: 'dialog-body' }, [
        this.dialogTitle,
        this.dialogText,
        h('div', { class: 'dialog-actions' }, [cancel, this.confirmBtn]),
      ]),
    ]);
    dlg.addEventListener('close', () => {
      if (dlg.returnValue === 'delete') void this._erase();
      else this._focus('my-data-delete');
    });
    return dlg;
  }

  _confirmDelete() {
    const d = this.data;
    if (!d || this.busy) return;
    const admin = this.opts.audience === 'admin';
    this.dialogTitle.textContent = t(admin ? 'mydata.deleteTitleAdmin' : 'mydata.deleteTitle');
    /** @type {Node[]} */
    const kids = [h('p', { text: t(admin ? 'mydata.deleteWhatAdmin' : 'mydata.deleteWhat') })];
    if (d.inCall) kids.push(h('p', { class: 'md-dialog-leave' }, [h('strong', { text: t(admin ? 'mydata.deleteLeaveAdmin' : 'mydata.deleteLeave') })]));
    const kept = [
      ...d.consents.map((r) => t('mydata.deleteKept.consent', { time: formatTime(r.at), date: formatDate(r.keptUntil) || '–' })),
      ...d.contracts.map((r) => t('mydata.deleteKept.contract', { document: String(r.detail?.document ?? '–'), date: formatDate(r.keptUntil) || '–' })),
    ];
    if (kept.length) {
      kids.push(h('p', { text: t('mydata.deleteKept') }), h('ul', { class: 'md-dialog-list' }, kept.map((s) => h('li', { text: s }))));
    }
    this.dialogText.replaceChildren(...kids);
    this.confirmBtn.textContent = t('mydata.deleteConfirm');
    this.dialog.returnValue = '';
    this.dialog.showModal();
  }

  async _erase() {
    this.busy = true;
    this.errorEl.hidden = true;
    const del = this.el.querySelector('[data-testid="my-data-delete"]');
    if (del instanceof HTMLButtonElement) {
      del.disabled = true;
      del.replaceChildren(icon('trash'), h('span', { text: t('mydata.deleting') }));
    }
    const pending = this.source.erase();
    this.opts.onErase?.(pending);
    try {
      const e = await pending;
      this.erasure = e;
      this.editing = false;
      this.feedback?.destroy();
      this.feedback = null;
      this.setData(e.remaining);
    } catch (err) {
      this._error(err);
      this.render();
    } finally {
      this.busy = false;
    }
  }

  destroy() {
    this._off();
    this.feedback?.destroy();
    if (this.dialog.open) this.dialog.close();
    this.el.remove();
  }
}

// ---------------------------------------------------------------- call

/**
 * @typedef {{
 *   source: SubjectSource,
 *   link: () => string|null,
 *   questions?: Question[],
 *   onErase?: (pending: Promise<Erasure>) => void,
 *   onOpen?: () => void
 * }} MyDataPanelOptions
 */

/**
 * The "Meine Daten" button of the call's control bar and its drawer.
 */
export class MyDataPanel {
  /** @param {MyDataPanelOptions} opts */
  constructor(opts) {
    this.opts = opts;
    this.open = false;
    this.toggleBtn = h('button', {
      class: 'ctl ctl-mydata',
      id: 'btn-mydata',
      attrs: { type: 'button', 'aria-controls': 'call-mydata', 'aria-expanded': 'false' },
      data: { testid: 'my-data-toggle' },
    }, [icon('shield'), h('span', { class: 'ctl-label', i18n: 'mydata.toggle' })]);
    this.toggleBtn.addEventListener('click', () => this.toggle());

    const close = h('button', {
      class: 'btn-icon chat-close',
      attrs: { type: 'button', 'aria-label': t('common.close'), 'data-i18n-aria-label': 'common.close' },
    }, [icon('close')]);
    close.addEventListener('click', () => this.toggle(false));
    this.view = new SubjectView({
      source: opts.source,
      audience: 'subject',
      prefix: 'call-md',
      heading: 'h3',
      questions: opts.questions,
      link: opts.link(),
      onErase: opts.onErase,
    });
    this.el = h('section', {
      class: 'chat mydata',
      id: 'call-mydata',
      attrs: { hidden: true, 'aria-labelledby': 'mydata-title' },
      data: { testid: 'my-data-panel' },
    }, [
      h('div', { class: 'chat-top' }, [
        h('div', {}, [
          h('h2', { class: 'chat-title', id: 'mydata-title', i18n: 'mydata.title' }),
          h('p', { class: 'chat-e2ee mydata-intro', i18n: 'mydata.intro' }),
        ]),
        close,
      ]),
      h('div', { class: 'docs-scroll mydata-scroll' }, [this.view.el]),
    ]);
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && !this.view.dialog.open) this.toggle(false);
    });
  }

  /** @param {boolean} [open] */
  toggle(open) {
    this.open = open ?? !this.open;
    this.el.hidden = !this.open;
    this.toggleBtn.setAttribute('aria-expanded', String(this.open));
    this.toggleBtn.classList.toggle('is-active', this.open);
    if (this.open) {
      this.opts.onOpen?.();
      this.view.opts.link = this.opts.link();
      this.view.refresh().catch(() => {});
      const closeBtn = this.el.querySelector('.chat-close');
      if (closeBtn instanceof HTMLElement) closeBtn.focus();
    } else {
      this.toggleBtn.focus();
    }
  }

  /** Closes the drawer without moving the focus (another panel opens). */
  hide() {
    if (!this.open) return;
    this.open = false;
    this.el.hidden = true;
    this.toggleBtn.setAttribute('aria-expanded', 'false');
    this.toggleBtn.classList.remove('is-active');
  }

  destroy() {
    this.view.destroy();
    this.el.remove();
    this.toggleBtn.remove();
  }
}
