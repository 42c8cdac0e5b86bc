// @ts-check
/**
 * Signing a contract in the call (contract.js has the logic): the
 * "Dokumente" panel (a drawer like the chat; advisors present a PDF or the
 * contract template there, choose who signs, and follow each document:
 * fields signed or not, the customer's reading progress, the signed PDF to
 * download) and the document view (over the stage, a full-screen sheet on
 * phones): the pages rendered by pdf.js one at a time, "Unterschreiben"
 * once the last page was shown, then the signature pad with the legal
 * sentence, and after signing "Unterschrieben ✓" with the signed PDF.
 * Beside the pad, "Ohne Zeichnen: Namen tippen" is the accessible
 * alternative (keyboard, screen reader, no pointer gesture): the name
 * typed and an explicit confirmation checkbox, signed as method "typed"
 * (signature/CAPTURE.md, "Typed signatures"). Entering the signature puts
 * the focus on that choice. Someone else starting to sign is announced to
 * advisors in the live region (ui.announce).
 *
 * pdf.js (web/static/vendor/pdfjs, scripts/vendor-pdfjs.sh) is loaded on
 * first use, from this origin only: no eval, no WebAssembly (its JavaScript
 * decoders instead), standard fonts served locally, no CMaps.
 *
 * Test ids: documents-toggle, documents-panel, document-upload (file input),
 * document-template, document-title, document-signers-customer,
 * document-signers-both, document-present, document-error, doc-<id> (with
 * data-state), doc-progress-<id>, doc-open-<id>, doc-download-<id>;
 * in the view: doc-view (data-doc, data-mode, data-page), doc-page-prev,
 * doc-page-next, doc-page-label, doc-sign-start, doc-signed,
 * signature-pad, signature-clear, signature-submit, signature-error,
 * sign-method-draw, sign-method-typed, typed-sign, typed-name,
 * typed-confirm, doc-download-<id>.
 * @module
 */

import { t, tryT, onLangChange, applyTranslations } from './i18n.js';
import { h, toast, errorText, formatTime, announce } from './ui.js';
import { icon } from './icons.js';
import { formatSize } from './chat-ui.js';
import { ApiError } from './api.js';
import { DocumentSession } from './contract.js';
import { SignaturePad } from './signature-pad.js';
import { FieldPlacer } from './contract-place.js';

/**
 * @typedef {import('./contract.js').Document} Document
 * @typedef {import('./contract.js').Field} Field
 * @typedef {import('./contract.js').SignerRole} SignerRole
 * @typedef {import('./contract.js').Progress} Progress
 * @typedef {import('./i18n.js').Key} Key
 * @typedef {typeof import('pdfjs-dist')} PdfJs
 * @typedef {import('pdfjs-dist').PDFDocumentProxy} PdfDocument
 * @typedef {import('pdfjs-dist').RenderTask} RenderTask
 */

const PDFJS = '/static/vendor/pdfjs/';

/**
 * The document view's sizes, in CSS px per PDF point. On a narrow screen
 * (a phone) a page opens at READABLE_SCALE, wider than the screen (it pans
 * sideways inside the view): a contract's 10.5 pt body text is then about
 * 13 px high instead of 6 px at the screen's width. Wider screens open at
 * the view's width (at most 1.6).
 */
const READABLE_SCALE = 1.25;
const NARROW_PX = 600;
const MIN_SCALE = 0.4;
const MAX_SCALE = 4;
const ZOOM_STEP = 1.25;
/** Canvas pixels at most (browsers refuse or slow down beyond). */
const MAX_CANVAS_PIXELS = 16e6;

/** @type {Promise<PdfJs>|null} */
let pdfjsLoading = null;
/** @type {import('pdfjs-dist').PDFWorker|null} one worker for every document of the page */
let pdfWorker = null;

/** @returns {Promise<PdfJs>} pdf.js, loaded once */
function loadPdfjs() {
  if (!pdfjsLoading) {
    const url = `${PDFJS}pdf.min.mjs`; // a variable: no bundler or type checker follows it
    pdfjsLoading = import(url).then((/** @type {PdfJs} */ m) => {
      m.GlobalWorkerOptions.workerSrc = `${PDFJS}pdf.worker.min.mjs`;
      return m;
    });
    pdfjsLoading.catch(() => {
      pdfjsLoading = null;
    });
  }
  return pdfjsLoading;
}

/**
 * Opens PDF bytes with pdf.js, configured for Parley's CSP.
 * @param {Uint8Array} data
 * @returns {Promise<PdfDocument>}
 */
async function openPdf(data) {
  const pdfjs = await loadPdfjs();
  const abs = (/** @type {string} */ p) => new URL(PDFJS + p, location.href).href;
  /** @type {import('pdfjs-dist/types/src/display/api').DocumentInitParameters & {isEvalSupported: boolean}} */
  const params = {
    data,
    // pdf.js 6 no longer evaluates code and ignores this; older builds need it under the CSP.
    isEvalSupported: false,
    useWasm: false, // the CSP has no 'wasm-unsafe-eval': the JavaScript decoders from wasmUrl instead
    wasmUrl: abs('wasm/'),
    standardFontDataUrl: abs('standard_fonts/'),
    enableXfa: false,
  };
  if (!pdfWorker || pdfWorker.destroyed) pdfWorker = new pdfjs.PDFWorker();
  params.worker = pdfWorker;
  return pdfjs.getDocument(params).promise;
}

/** @param {Document} doc @returns {string} */
function pagesText(doc) {
  return doc.pages === 1 ? t('doc.pagesOne') : t('doc.pages', { n: doc.pages });
}

/** @param {Document} doc @returns {Key} */
function stateKey(doc) {
  return doc.state === 'signed' ? 'doc.state.signed' : doc.state === 'withdrawn' ? 'doc.state.withdrawn' : 'doc.state.open';
}

/** @param {Field} f @returns {string} */
function fieldLabel(f) {
  return t(f.signer === 'advisor' ? 'doc.field.advisor' : 'doc.field.customer');
}

/**
 * Translated text of a failed document action.
 * @param {unknown} err
 * @returns {string}
 */
function docErrorText(err) {
  if (err instanceof ApiError) {
    if (err.code === 'implausible') return tryT(`sign.error.${err.reason ?? ''}`) ?? t('sign.error.implausible');
    return tryT(`doc.error.${err.code}`) ?? errorText('error', err.code);
  }
  return t('doc.error.load');
}

/**
 * The link that downloads a document's current revision.
 * @param {Document} doc
 * @returns {HTMLAnchorElement}
 */
function downloadLink(doc) {
  // Not yet signed by everyone (a second signer is missing): the link
  // says so, and so does a toast when it is used.
  const partial = doc.state !== 'signed' && doc.fields.some((f) => !f.signed);
  const a = h('a', {
    class: 'btn btn-secondary btn-small',
    attrs: { href: doc.downloadUrl, download: doc.name || 'dokument.pdf', 'aria-label': t(partial ? 'doc.downloadPartialLabel' : 'doc.downloadLabel', { name: doc.name }) },
    data: { testid: `doc-download-${doc.id}`, partial: String(partial) },
  }, [icon('download'), h('span', { text: t(doc.state === 'signed' ? 'doc.downloadSigned' : partial ? 'doc.downloadPartial' : 'doc.download') })]);
  if (partial) {
    a.addEventListener('click', () => toast(t('doc.partialToast', { fields: doc.fields.filter((f) => !f.signed).map(fieldLabel).join(', ') }), { kind: 'info', timeout: 8000 }));
  }
  return a;
}

/**
 * The document view: pages, then the signature pad.
 */
class DocumentViewer {
  /**
   * @param {DocumentSession} docs
   * @param {{onClose: (docId: string) => void, session?: import('./call.js').CallSession, role?: 'advisor'|'customer'}} opts
   *   session: the call, whose other person's camera stays visible (picture-in-picture)
   */
  constructor(docs, opts) {
    this.docs = docs;
    this.opts = opts;
    /** @type {number|null} CSS px per PDF point chosen by zoom or pinch; null: automatic */
    this.zoom = null;
    /** The scale the page is shown at (CSS px per PDF point). */
    this.scale = 1;
    /** @type {Document|null} */
    this.doc = null;
    /** @type {'read'|'sign'} */
    this.mode = 'read';
    this.page = 1;
    this.pages = 0;
    /** @type {PdfDocument|null} */
    this.pdf = null;
    /** The document's state when the shown revision was fetched. */
    this.pdfState = '';
    /** @type {RenderTask|null} */
    this._task = null;
    this._loadSeq = 0;
    /** @type {Set<string>} documents whose last page this reader has seen */
    this.readToEnd = new Set();
    /** @type {SignaturePad|null} */
    this.pad = null;
    this._busy = false;

    this.titleEl = h('h2', { class: 'docview-title', id: 'docview-title' });
    this.stateEl = h('span', { class: 'doc-state' });
    const close = h('button', {
      class: 'btn-icon docview-close',
      attrs: { type: 'button', 'aria-label': t('view.close'), 'data-i18n-aria-label': 'view.close', title: t('view.close'), 'data-i18n-title': 'view.close' },
    }, [icon('close')]);
    close.addEventListener('click', () => this.close());

    // Zoom: buttons, pinch (touch) and Ctrl+wheel; the label resets to the
    // automatic size (readable on a phone, the width on a desktop).
    /** @param {string} testid @param {Key} label @param {string} glyph */
    const zoomBtn = (testid, label, glyph) => h('button', {
      class: 'btn-icon docview-zoom-btn',
      attrs: { type: 'button', 'aria-label': t(label), 'data-i18n-aria-label': label, title: t(label), 'data-i18n-title': label },
      data: { testid },
    }, [h('span', { attrs: { 'aria-hidden': 'true' }, text: glyph })]);
    this.zoomOutBtn = zoomBtn('doc-zoom-out', 'view.zoomOut', '−');
    this.zoomInBtn = zoomBtn('doc-zoom-in', 'view.zoomIn', '+');
    this.zoomLabel = h('button', {
      class: 'btn-icon docview-zoom-label',
      attrs: { type: 'button', 'aria-label': t('view.zoomReset'), 'data-i18n-aria-label': 'view.zoomReset', title: t('view.zoomReset'), 'data-i18n-title': 'view.zoomReset' },
      data: { testid: 'doc-zoom-reset' },
    });
    this.zoomOutBtn.addEventListener('click', () => this.setZoom(this.scale / ZOOM_STEP));
    this.zoomInBtn.addEventListener('click', () => this.setZoom(this.scale * ZOOM_STEP));
    this.zoomLabel.addEventListener('click', () => this.setZoom(null));
    this.zoomEl = h('div', { class: 'docview-zoom', attrs: { role: 'group', 'aria-label': t('view.zoom'), 'data-i18n-aria-label': 'view.zoom' } }, [
      this.zoomOutBtn, this.zoomLabel, this.zoomInBtn,
    ]);

    // Reading.
    this.canvas = h('canvas', { class: 'docview-canvas', attrs: { role: 'img' } });
    this.loadingEl = h('p', { class: 'docview-loading', attrs: { role: 'status' } }, [
      h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
      h('span', { i18n: 'view.loading' }),
    ]);
    this.loadError = h('p', { class: 'docview-alert', attrs: { role: 'alert', hidden: true } });
    this.stage = h('div', { class: 'docview-stage' }, [this.loadingEl, this.loadError, this.canvas]);
    this.signedEl = h('p', { class: 'docview-signed', data: { testid: 'doc-signed' }, attrs: { hidden: true, role: 'status' } }, [
      h('strong', { i18n: 'view.signedBadge' }),
      ' ',
      h('span', { i18n: 'view.signedText' }),
    ]);

    // Signing.
    this.padCanvas = h('canvas', {
      class: 'pad-canvas',
      attrs: { 'aria-label': t('pad.label'), 'data-i18n-aria-label': 'pad.label', role: 'img', tabindex: 0 },
      data: { testid: 'signature-pad' },
    });
    this.padHere = h('span', { class: 'pad-here', attrs: { 'aria-hidden': 'true' }, i18n: 'pad.here' });
    this.legalEl = h('p', { class: 'pad-legal', id: 'pad-legal' });
    this.padError = h('p', { class: 'pad-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'signature-error' } });
    // How to sign: drawing, or the accessible alternative (name typed
    // and confirmed; signature/CAPTURE.md, "Typed signatures").
    /** @type {'draw'|'typed'} */
    this.method = 'draw';
    this.methodDraw = h('input', { attrs: { type: 'radio', name: 'sign-method', value: 'draw', checked: true }, data: { testid: 'sign-method-draw' } });
    this.methodTyped = h('input', { attrs: { type: 'radio', name: 'sign-method', value: 'typed' }, data: { testid: 'sign-method-typed' } });
    for (const r of [this.methodDraw, this.methodTyped]) {
      r.addEventListener('change', () => this._setMethod(this.methodTyped.checked ? 'typed' : 'draw'));
    }
    this.methodEl = h('fieldset', { class: 'sign-method' }, [
      h('legend', { class: 'sign-method-legend', i18n: 'pad.method.legend' }),
      h('label', { class: 'sign-method-option' }, [this.methodDraw, h('span', { i18n: 'pad.method.draw' })]),
      h('label', { class: 'sign-method-option' }, [this.methodTyped, h('span', { i18n: 'pad.method.typed' })]),
    ]);
    this.padHint = h('p', { class: 'pad-hint muted', i18n: 'pad.hint' });
    this.padBox = h('div', { class: 'pad-box' }, [
      this.padHere,
      h('span', { class: 'pad-line', attrs: { 'aria-hidden': 'true' } }),
      h('span', { class: 'pad-x', attrs: { 'aria-hidden': 'true' }, text: '×' }),
      this.padCanvas,
    ]);
    this.padRotate = h('p', { class: 'pad-rotate muted small', i18n: 'pad.rotate' });
    this.typedInput = h('input', {
      class: 'input typed-name',
      id: 'typed-name',
      attrs: { type: 'text', autocomplete: 'name', maxlength: 64, spellcheck: 'false', 'aria-describedby': 'typed-hint' },
      data: { testid: 'typed-name' },
    });
    this.typedPreview = h('span', { class: 'typed-preview-name' });
    this.typedConfirm = h('input', { attrs: { type: 'checkbox', id: 'typed-confirm' }, data: { testid: 'typed-confirm' } });
    this.typedConfirmText = h('span', {});
    this.typedInput.addEventListener('input', () => {
      this.padError.hidden = true;
      this._renderTyped();
    });
    this.typedInput.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter') {
        ev.preventDefault();
        this.typedConfirm.focus();
      }
    });
    this.typedConfirm.addEventListener('change', () => {
      this.padError.hidden = true;
    });
    this.typedPane = h('div', { class: 'typed-sign', attrs: { hidden: true }, data: { testid: 'typed-sign' } }, [
      h('label', { class: 'label', attrs: { for: 'typed-name' }, i18n: 'pad.typed.name' }),
      this.typedInput,
      h('p', { class: 'muted small typed-hint', id: 'typed-hint', i18n: 'pad.typed.hint' }),
      h('div', { class: 'typed-preview', attrs: { 'aria-hidden': 'true' } }, [
        h('span', { class: 'pad-x', text: '×' }),
        this.typedPreview,
        h('span', { class: 'pad-line' }),
      ]),
      h('label', { class: 'typed-confirm', attrs: { for: 'typed-confirm' } }, [this.typedConfirm, this.typedConfirmText]),
    ]);
    this.signPane = h('div', { class: 'docview-sign', attrs: { hidden: true } }, [
      h('h3', { class: 'pad-title', id: 'pad-title', i18n: 'pad.title' }),
      this.methodEl,
      this.padHint,
      this.padBox,
      this.padRotate,
      this.typedPane,
      this.padError,
      this.legalEl,
    ]);

    // Footer: page navigation and actions.
    this.prevBtn = h('button', {
      class: 'btn btn-secondary btn-small',
      attrs: { type: 'button', 'aria-label': t('view.prev'), 'data-i18n-aria-label': 'view.prev', title: t('view.prev'), 'data-i18n-title': 'view.prev' },
      data: { testid: 'doc-page-prev' },
    }, [icon('chevron-left')]);
    this.nextBtn = h('button', {
      class: 'btn btn-secondary btn-small',
      attrs: { type: 'button', 'aria-label': t('view.next'), 'data-i18n-aria-label': 'view.next', title: t('view.next'), 'data-i18n-title': 'view.next' },
      data: { testid: 'doc-page-next' },
    }, [icon('chevron-right')]);
    this.pageLabel = h('span', { class: 'docview-page', attrs: { 'aria-live': 'polite' }, data: { testid: 'doc-page-label' } });
    this.prevBtn.addEventListener('click', () => this.go(this.page - 1));
    this.nextBtn.addEventListener('click', () => this.go(this.page + 1));
    this.hintEl = h('p', { class: 'docview-hint small' });
    this.signStart = h('button', { class: 'btn btn-primary', attrs: { type: 'button' }, data: { testid: 'doc-sign-start' } }, [
      icon('pen'),
      h('span', { i18n: 'doc.sign' }),
    ]);
    this.signStart.addEventListener('click', () => this._startSigning());
    this.downloadSlot = h('span', { class: 'docview-download' });
    this.readActions = h('div', { class: 'docview-actions' }, [
      h('div', { class: 'docview-nav' }, [this.prevBtn, this.pageLabel, this.nextBtn]),
      h('div', { class: 'docview-buttons' }, [this.downloadSlot, this.signStart]),
    ]);

    const back = h('button', { class: 'btn btn-ghost', attrs: { type: 'button' } }, [icon('chevron-left'), h('span', { i18n: 'pad.back' })]);
    back.addEventListener('click', () => this._setMode('read'));
    this.clearBtn = h('button', { class: 'btn btn-secondary', attrs: { type: 'button' }, data: { testid: 'signature-clear' } }, [
      icon('trash'),
      h('span', { i18n: 'pad.clear' }),
    ]);
    this.clearBtn.addEventListener('click', () => {
      this.pad?.clear();
      this.padError.hidden = true;
    });
    this.submitLabel = h('span', { i18n: 'pad.submit' });
    this.submitBtn = h('button', {
      class: 'btn btn-primary',
      attrs: { type: 'button', 'aria-describedby': 'pad-legal' },
      data: { testid: 'signature-submit' },
    }, [icon('check'), this.submitLabel]);
    this.submitBtn.addEventListener('click', () => void this._submit());
    this.signActions = h('div', { class: 'docview-actions docview-actions-sign', attrs: { hidden: true } }, [
      back,
      h('div', { class: 'docview-buttons' }, [this.clearBtn, this.submitBtn]),
    ]);

    // Scrollable (pan, zoom): focusable, so a keyboard can scroll it.
    this.bodyEl = h('div', { class: 'docview-body', attrs: { tabindex: '0', role: 'region', 'aria-labelledby': 'docview-title' } }, [this.stage, this.signPane]);
    this._wirePinch();

    // The other person's camera, small, while reading and signing
    // (picture-in-picture); a tap shows the call, the pill brings the
    // document back.
    this.pipVideo = h('video', { class: 'docview-pip-video', attrs: { autoplay: true, muted: true, playsinline: true, 'aria-hidden': 'true' } });
    this.pipVideo.muted = true;
    this.pipName = h('span', { class: 'docview-pip-name' });
    this.pipEl = h('button', {
      class: 'docview-pip',
      attrs: { type: 'button', hidden: true, title: t('view.showCall'), 'data-i18n-title': 'view.showCall' },
      data: { testid: 'doc-pip' },
      // Its name is what it shows (the person) plus what it does.
    }, [this.pipVideo, this.pipName, h('span', { class: 'sr-only', i18n: 'view.showCall' })]);
    this.pipEl.addEventListener('click', () => this.minimize(true));
    this.restoreBtn = h('button', { class: 'btn btn-primary docview-restore', attrs: { type: 'button' }, data: { testid: 'doc-restore' } }, [
      icon('document'),
      h('span', { i18n: 'view.backToDoc' }),
    ]);
    this.restoreBtn.addEventListener('click', () => this.minimize(false));
    /** @type {(() => void)[]} */
    this._offPip = [];
    if (opts.session) {
      const s = opts.session;
      this._offPip.push(s.on('tracks', () => this._pip()), s.on('roster', () => this._pip()));
    }
    /** After the next rendering, scroll to the page's end (where signature fields are). */
    this._scrollEnd = false;
    this.el = h('section', {
      class: 'docview',
      attrs: { hidden: true, role: 'dialog', 'aria-labelledby': 'docview-title', 'aria-modal': 'false' },
      data: { testid: 'doc-view', mode: 'read' },
    }, [
      h('div', { class: 'docview-sheet' }, [
        h('header', { class: 'docview-top' }, [h('div', { class: 'docview-heading' }, [this.titleEl, this.stateEl]), this.zoomEl, close]),
        this.bodyEl,
        h('footer', { class: 'docview-foot' }, [this.signedEl, this.hintEl, this.readActions, this.signActions]),
        this.pipEl,
      ]),
      this.restoreBtn,
    ]);
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') {
        ev.stopPropagation();
        if (this.mode === 'sign' && !this._busy) this._setMode('read');
        else this.close();
      } else if (this.mode === 'read' && ev.target === this.el) {
        if (ev.key === 'ArrowRight' || ev.key === 'PageDown') this.go(this.page + 1);
        if (ev.key === 'ArrowLeft' || ev.key === 'PageUp') this.go(this.page - 1);
      }
    });
    this.el.tabIndex = -1;
    this._resizeObs = new ResizeObserver(() => {
      clearTimeout(this._resizeTimer);
      this._resizeTimer = window.setTimeout(() => {
        if (!this.el.hidden && this.mode === 'read') void this._render();
      }, 150);
    });
    this._resizeTimer = 0;
    this._resizeObs.observe(this.stage);
  }

  get isOpen() {
    return !this.el.hidden && this.doc !== null;
  }

  /**
   * Opens a document (again).
   * @param {Document} doc
   */
  open(doc) {
    const same = this.doc?.id === doc.id && !this.el.hidden;
    this.doc = doc;
    this.el.hidden = false;
    this.minimize(false, false);
    document.body.classList.add('docview-open');
    this.el.dataset.doc = doc.id;
    this._pip();
    if (!same) {
      this.zoom = null;
      this.page = 1;
      this.pages = doc.pages;
      this._setMode('read', false);
      // Signed: straight to the signatures (the last page's end).
      void this._load(doc.state === 'signed');
      this.el.focus({ preventScroll: true });
    }
    this.render();
  }

  /**
   * Closes the view even while a signature is being submitted (the
   * document was withdrawn: nothing more can be done with it).
   */
  forceClose() {
    this._busy = false;
    if (this.pad) this.pad.disabled = false;
    this.close();
  }

  close() {
    if (this.el.hidden) return;
    const doc = this.doc;
    if (this._busy) return; // a signature is being submitted
    if (doc) this.docs.reportProgress(doc.id, this.page, this.pages, 'closed');
    this.el.hidden = true;
    this.minimize(false, false);
    this.pipVideo.srcObject = null;
    document.body.classList.remove('docview-open');
    this._task?.cancel();
    this._task = null;
    this.pdf?.loadingTask.destroy().catch(() => {});
    this.pdf = null;
    this.doc = null;
    if (doc) this.opts.onClose(doc.id);
  }

  /**
   * The newest version of the open document arrived.
   * @param {Document} doc
   */
  update(doc) {
    if (this.doc?.id !== doc.id) return;
    const wasSigned = this.doc.fields.filter((f) => f.signed).length;
    this.doc = doc;
    // Someone signed: show the new revision.
    if (doc.fields.filter((f) => f.signed).length !== wasSigned && this.mode === 'read') void this._load(true);
    this.render();
  }

  /** The field this reader may sign in the open document. */
  get field() {
    return this.doc ? this.docs.openFieldFor(this.doc) : null;
  }

  /**
   * @param {boolean} [toLast] show the last page (after a signature)
   */
  async _load(toLast = false) {
    const doc = this.doc;
    if (!doc) return;
    const seq = ++this._loadSeq;
    this.loadingEl.hidden = false;
    this.loadError.hidden = true;
    try {
      const data = await this.docs.fetchPdf(doc);
      const pdf = await openPdf(data);
      if (seq !== this._loadSeq || this.doc?.id !== doc.id) {
        void pdf.loadingTask.destroy();
        return;
      }
      this.pdf?.loadingTask.destroy().catch(() => {});
      this.pdf = pdf;
      this.pdfState = doc.state;
      this.pages = pdf.numPages;
      if (toLast) {
        this.page = this.pages;
        this._scrollEnd = true;
      }
      this.page = Math.min(Math.max(1, this.page), this.pages);
      await this._render();
    } catch (err) {
      if (seq !== this._loadSeq) return;
      console.error('parley: document view', err);
      this.loadingEl.hidden = true;
      this.loadError.textContent = docErrorText(err);
      this.loadError.hidden = false;
    }
  }

  /** Renders the current page to fit the stage's width. */
  async _render() {
    const pdf = this.pdf;
    if (!pdf) return;
    const n = this.page;
    const page = await pdf.getPage(n);
    if (pdf !== this.pdf || n !== this.page) return;
    const base = page.getViewport({ scale: 1 });
    const scale = this._scaleFor(base.width);
    this.scale = scale;
    // Sharp at the device's pixel ratio, within a canvas size browsers allow.
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const px = Math.min(scale * dpr, Math.sqrt(MAX_CANVAS_PIXELS / (base.width * base.height)));
    const vp = page.getViewport({ scale: px });
    // Render off screen, then swap: no blank flash between pages.
    const out = document.createElement('canvas');
    out.width = Math.floor(vp.width);
    out.height = Math.floor(vp.height);
    this._task?.cancel();
    const task = page.render({ canvas: out, viewport: vp });
    this._task = task;
    try {
      await task.promise;
    } catch (err) {
      if (err instanceof Error && err.name === 'RenderingCancelledException') return;
      throw err;
    }
    if (this._task !== task) return;
    this._task = null;
    this.canvas.width = out.width;
    this.canvas.height = out.height;
    this.canvas.style.width = `${Math.round(base.width * scale)}px`;
    this.canvas.style.transform = '';
    this.el.dataset.scale = scale.toFixed(3);
    this._renderZoom();
    this.canvas.getContext('2d')?.drawImage(out, 0, 0);
    this.loadingEl.hidden = true;
    this.el.dataset.rendered = String(n);
    this.el.dataset.renderedState = this.pdfState; // of the revision shown
    if (this._scrollEnd) {
      this._scrollEnd = false;
      this.bodyEl.scrollTop = this.bodyEl.scrollHeight;
    }
    this._notePage();
    this.render();
  }

  /**
   * The scale for a page base points wide: the chosen zoom, else readable
   * on a phone, else the view's width.
   * @param {number} baseWidth
   * @returns {number}
   */
  _scaleFor(baseWidth) {
    if (this.zoom !== null) return this.zoom;
    const width = this.bodyEl.clientWidth || this.stage.clientWidth;
    const fit = Math.max(200, width - 16) / baseWidth;
    return width < NARROW_PX ? Math.max(fit, READABLE_SCALE) : Math.min(fit, 1.6);
  }

  /**
   * Zooms to a scale (null: the automatic one), keeping the middle of
   * what is shown in place.
   * @param {number|null} zoom
   * @param {{x: number, y: number}} [at] the point to keep, in the view's client px
   */
  setZoom(zoom, at) {
    const before = this.scale;
    this.zoom = zoom === null ? null : Math.min(MAX_SCALE, Math.max(MIN_SCALE, zoom));
    const body = this.bodyEl;
    const r = body.getBoundingClientRect();
    const x = at ? at.x - r.left : body.clientWidth / 2;
    const y = at ? at.y - r.top : body.clientHeight / 2;
    const cx = body.scrollLeft + x;
    const cy = body.scrollTop + y;
    void this._render().then(() => {
      const k = this.scale / before;
      body.scrollLeft = cx * k - x;
      body.scrollTop = cy * k - y;
    });
  }

  _renderZoom() {
    this.zoomLabel.textContent = `${Math.round(this.scale * 100)} %`;
    this.zoomOutBtn.disabled = this.scale <= MIN_SCALE + 1e-3;
    this.zoomInBtn.disabled = this.scale >= MAX_SCALE - 1e-3;
    this.el.dataset.zoom = this.zoom === null ? 'auto' : this.zoom.toFixed(3);
  }

  /**
   * Pinch to zoom with two fingers on the page (the browser keeps panning
   * with one: touch-action pan-x pan-y), and Ctrl+wheel (a trackpad's
   * pinch). While pinching, the page is scaled by CSS; on release it is
   * rendered anew at the new size.
   */
  _wirePinch() {
    const body = this.bodyEl;
    /** @type {{d: number, scale: number, x: number, y: number, k: number}|null} */
    let pinch = null;
    /** @param {TouchList} ts */
    const spread = (ts) => Math.hypot(ts[0].clientX - ts[1].clientX, ts[0].clientY - ts[1].clientY);
    body.addEventListener('touchstart', (ev) => {
      if (ev.touches.length !== 2 || this.mode !== 'read' || !this.pdf) return;
      const ts = ev.touches;
      pinch = { d: Math.max(1, spread(ts)), scale: this.scale, x: (ts[0].clientX + ts[1].clientX) / 2, y: (ts[0].clientY + ts[1].clientY) / 2, k: 1 };
      const r = this.canvas.getBoundingClientRect();
      this.canvas.style.transformOrigin = `${pinch.x - r.left}px ${pinch.y - r.top}px`;
    }, { passive: true });
    body.addEventListener('touchmove', (ev) => {
      if (!pinch || ev.touches.length !== 2) return;
      ev.preventDefault();
      const k = Math.min(MAX_SCALE, Math.max(MIN_SCALE, pinch.scale * (spread(ev.touches) / pinch.d))) / pinch.scale;
      pinch.k = k;
      this.canvas.style.transform = `scale(${k.toFixed(3)})`;
    }, { passive: false });
    const end = () => {
      if (!pinch) return;
      const p = pinch;
      pinch = null;
      if (Math.abs(p.k - 1) < 0.02) {
        this.canvas.style.transform = '';
        return;
      }
      this.setZoom(p.scale * p.k, { x: p.x, y: p.y });
    };
    body.addEventListener('touchend', end);
    body.addEventListener('touchcancel', end);
    body.addEventListener('wheel', (ev) => {
      if (!ev.ctrlKey || this.mode !== 'read' || !this.pdf) return;
      ev.preventDefault();
      this.setZoom(this.scale * (ev.deltaY < 0 ? ZOOM_STEP : 1 / ZOOM_STEP), { x: ev.clientX, y: ev.clientY });
    }, { passive: false });
  }

  /**
   * Shows the other person's camera in the corner (picture-in-picture):
   * for a customer the advisor's, for an advisor the customer's.
   */
  _pip() {
    const s = this.opts.session;
    if (!s || this.el.hidden) return;
    const selfId = s.self?.id;
    const cams = s.remoteTracks().filter((r) => r.kind === 'video' && r.participantId !== selfId &&
      s.sourceOf(r.participantId, r.trackId, 'video') === 'camera' && r.track.readyState === 'live');
    const roleOf = (/** @type {string} */ id) => s.participant(id)?.role;
    const want = this.opts.role === 'customer' ? 'advisor' : 'customer';
    const cam = cams.find((r) => roleOf(r.participantId) === want) ?? cams[0] ?? null;
    if (!cam) {
      this.pipEl.hidden = true;
      this.pipVideo.srcObject = null;
      return;
    }
    if (this.pipVideo.srcObject !== cam.stream) {
      this.pipVideo.srcObject = cam.stream;
      this.pipVideo.play().catch(() => {});
    }
    this.pipEl.dataset.participant = cam.participantId;
    this.pipName.textContent = s.participant(cam.participantId)?.name?.trim() || t(want === 'advisor' ? 'call.role.advisor' : 'common.guest');
    this.pipEl.hidden = false;
  }

  /**
   * Minimizes the view to a pill over the call (the video large again),
   * or brings it back.
   * @param {boolean} min
   * @param {boolean} [focus]
   */
  minimize(min, focus = true) {
    this.el.classList.toggle('is-minimized', min);
    this.el.dataset.minimized = String(min);
    document.body.classList.toggle('docview-open', !min && !this.el.hidden);
    if (!focus) return;
    if (min) this.restoreBtn.focus();
    else this.el.focus({ preventScroll: true });
  }

  /** @param {number} n */
  go(n) {
    if (!this.pdf || n < 1 || n > this.pages || n === this.page) return;
    this.page = n;
    void this._render();
    this.render();
    this._notePage();
  }

  /** Counts the page as shown and tells the advisors. */
  _notePage() {
    const doc = this.doc;
    if (!doc || !this.pdf) return;
    if (this.page >= this.pages) this.readToEnd.add(doc.id);
    this.docs.reportProgress(doc.id, this.page, this.pages, this.mode === 'sign' ? 'signing' : 'reading');
  }

  /**
   * @param {'read'|'sign'} mode
   * @param {boolean} [report]
   */
  _setMode(mode, report = true) {
    this.mode = mode;
    this.el.dataset.mode = mode;
    this.stage.hidden = mode !== 'read';
    this.signPane.hidden = mode !== 'sign';
    this.readActions.hidden = mode !== 'read';
    this.signActions.hidden = mode !== 'sign';
    this.zoomEl.hidden = mode !== 'read'; // the pad is not zoomed
    this.padError.hidden = true;
    if (mode === 'sign') {
      if (!this.pad) {
        this.pad = new SignaturePad(this.padCanvas);
        this.pad.on('change', ({ reason }) => {
          if (reason === 'resized') this._padError(t('pad.resized'));
          else if (reason === 'ink') this.padError.hidden = true;
          this._renderPad();
        });
      }
      this.pad.clear();
      this.typedInput.value = '';
      this.typedConfirm.checked = false;
      this._setMethod(this.method);
      // The choice first: a keyboard or screen-reader user hears at once
      // that there is a way to sign without drawing.
      (this.method === 'typed' ? this.methodTyped : this.methodDraw).focus({ preventScroll: true });
    } else {
      this.signStart.focus({ preventScroll: true });
      if (this.pdf) void this._render();
    }
    if (report && this.doc) this.docs.reportProgress(this.doc.id, this.page, this.pages, mode === 'sign' ? 'signing' : 'reading');
    this.render();
  }

  _startSigning() {
    if (!this.field || !this.doc || !this.readToEnd.has(this.doc.id)) return;
    this._setMode('sign');
  }

  /** @param {string} text */
  _padError(text) {
    this.padError.textContent = text;
    this.padError.hidden = false;
  }

  _renderPad() {
    const empty = !this.pad || this.pad.isEmpty();
    this.padHere.hidden = !empty;
    // Typed: the button stays usable and says what is missing (_typedReady).
    this.submitBtn.disabled = this._busy || (this.method === 'draw' && empty);
    this.clearBtn.disabled = this._busy || empty;
  }

  /**
   * Switches between drawing and typing the name.
   * @param {'draw'|'typed'} method
   */
  _setMethod(method) {
    this.method = method;
    this.methodDraw.checked = method === 'draw';
    this.methodTyped.checked = method === 'typed';
    this.el.dataset.method = method;
    const typed = method === 'typed';
    this.padHint.hidden = typed;
    this.padBox.hidden = typed;
    this.padRotate.hidden = typed;
    this.typedPane.hidden = !typed;
    this.clearBtn.hidden = typed;
    this.padError.hidden = true;
    this._renderPad();
    this._renderTyped();
  }

  _renderTyped() {
    const name = this.typedInput.value.trim().replace(/\s+/g, ' ');
    this.typedPreview.textContent = name;
    this.typedConfirmText.textContent = t('pad.typed.confirm', { doc: this.doc?.name ?? '' });
    this.legalEl.textContent = t(this.method === 'typed' ? 'pad.typed.legal' : 'pad.legal', { doc: this.doc?.name ?? '' });
  }

  /**
   * Checks the typed signature in the browser first (the server checks
   * again): says what is missing and moves the focus there.
   * @returns {boolean}
   */
  _typedReady() {
    const name = this.typedInput.value.trim();
    if (!name) {
      this._padError(t('sign.error.typed_name_empty'));
      this.typedInput.focus();
      return false;
    }
    if (!this.typedConfirm.checked) {
      this._padError(t('sign.error.not_confirmed'));
      this.typedConfirm.focus();
      return false;
    }
    return true;
  }

  async _submit() {
    const doc = this.doc;
    const field = this.field;
    const pad = this.pad;
    if (!doc || !field || !pad || this._busy) return;
    const typed = this.method === 'typed';
    const capture = typed ? null : pad.capture();
    if (typed ? !this._typedReady() : !capture) {
      if (!typed) this._padError(t('pad.empty'));
      return;
    }
    this._busy = true;
    pad.disabled = true;
    this.typedInput.disabled = true;
    this.typedConfirm.disabled = true;
    this.submitLabel.textContent = t('pad.busy');
    this._renderPad();
    try {
      const signed = capture ? await this.docs.sign(doc, field.name, capture)
        : await this.docs.signTyped(doc, field.name, this.typedInput.value, this.typedConfirm.checked);
      this.doc = signed;
      this._busy = false;
      this._setMode('read', false);
      this.docs.reportProgress(signed.id, this.pages, this.pages, 'reading');
      void this._load(true);
      this.signedEl.focus?.();
    } catch (err) {
      this._busy = false;
      if (err instanceof ApiError && err.code === 'implausible') {
        // The ink goes; the message stays until the next try begins.
        if (!typed) pad.clear();
      } else if (err instanceof ApiError && err.code === 'conflict') {
        void this.docs.refresh();
      }
      if (!this.doc) return; // withdrawn (and closed) meanwhile
      // A failure of the server (not of the signature): say so plainly.
      const serverFault = err instanceof ApiError && err.status >= 500;
      this._padError(serverFault ? t('doc.error.signFailed') : docErrorText(err));
    } finally {
      pad.disabled = false;
      this.typedInput.disabled = false;
      this.typedConfirm.disabled = false;
      this.submitLabel.textContent = t('pad.submit');
      this._renderPad();
    }
  }

  render() {
    const doc = this.doc;
    if (!doc) return;
    this.titleEl.textContent = doc.name;
    this.stateEl.textContent = t(stateKey(doc));
    this.stateEl.dataset.state = doc.state;
    this.el.dataset.state = doc.state;
    this.el.dataset.page = String(this.page);
    const pages = this.pages || doc.pages;
    this.el.dataset.pages = String(pages);
    this.pageLabel.textContent = pages ? t('view.page', { page: this.page, pages }) : '';
    this.canvas.setAttribute('aria-label', pages ? t('view.page', { page: this.page, pages }) : doc.name);
    this.prevBtn.disabled = !this.pdf || this.page <= 1;
    this.nextBtn.disabled = !this.pdf || this.page >= pages;

    const field = this.field;
    const mine = doc.fields.filter((f) => f.signer === this.docs.role);
    const signedByMe = mine.length > 0 && mine.every((f) => f.signed);
    const read = this.readToEnd.has(doc.id);
    this.signStart.hidden = !field;
    this.signStart.disabled = !field || !read || !this.pdf;
    this.signedEl.hidden = !signedByMe || this.mode !== 'read';
    const missing = doc.fields.filter((f) => !f.signed);
    /** @type {string} */
    let hint = '';
    if (this.mode === 'read') {
      if (field) hint = t(read ? 'view.readDone' : 'view.readFirst');
      else if (signedByMe && missing.length) hint = t('view.waitingFor', { fields: missing.map(fieldLabel).join(', ') });
      else if (!mine.length && doc.state !== 'signed') hint = t('view.viewOnly');
    }
    this.hintEl.textContent = hint;
    this.hintEl.hidden = !hint;
    this._renderTyped();
    const showDownload = signedByMe || doc.state === 'signed';
    const cur = this.downloadSlot.firstElementChild;
    if (!showDownload) this.downloadSlot.replaceChildren();
    else {
      // Anew when the state or its wording (language, fields signed) changed.
      const a = downloadLink(doc);
      a.dataset.state = doc.state;
      if (!(cur instanceof HTMLAnchorElement) || cur.dataset.state !== doc.state || cur.textContent !== a.textContent) this.downloadSlot.replaceChildren(a);
    }
    this._renderPad();
    applyTranslations(this.el);
  }

  destroy() {
    for (const off of this._offPip) off();
    this._offPip = [];
    this.pipVideo.srcObject = null;
    this._resizeObs.disconnect();
    clearTimeout(this._resizeTimer);
    this._task?.cancel();
    this.pdf?.loadingTask.destroy().catch(() => {});
    this.pad?.destroy();
    document.body.classList.remove('docview-open');
    this.el.remove();
  }
}

/**
 * The "Dokumente" button and panel of a call, and its document view.
 */
export class DocumentsPanel {
  /**
   * @param {import('./call.js').CallSession} session
   * @param {{role: 'advisor'|'customer', title: string, onOpen?: () => void, selfStaff?: string}} opts
   *   selfStaff: "staff:<user id>" of this advisor, as progress reports name them
   */
  constructor(session, opts) {
    this.session = session;
    this.opts = opts;
    this.docs = new DocumentSession(session);
    this.open = false;
    /** @type {File|'template'|null} */
    this.source = null;
    this._presenting = false;
    /** @type {string|null} the document whose withdrawal awaits the second click */
    this._confirming = null;
    this._confirmTimer = 0;
    /** @type {Set<string>} documents whose view this reader closed (no reopening by itself) */
    this.dismissed = new Set();
    /** @type {Map<string, string>} last activity per "<doc>\n<from>", for announcements */
    this._activity = new Map();
    /** @type {(() => void)[]} */
    this._off = [];
    const advisor = opts.role === 'advisor';

    this.badge = h('span', { class: 'ctl-badge', attrs: { hidden: true } });
    this.toggleBtn = h('button', {
      class: 'ctl ctl-docs',
      id: 'btn-docs',
      attrs: { type: 'button', 'aria-controls': 'call-docs', 'aria-expanded': 'false' },
      data: { testid: 'documents-toggle' },
    // The space keeps the label and the count two words (the aria-label names both).
    }, [icon('document'), h('span', { class: 'ctl-label', i18n: 'doc.toggle' }), ' ', this.badge]);
    this.toggleBtn.addEventListener('click', () => this.toggle());

    const close = h('button', {
      class: 'btn-icon chat-close',
      attrs: { type: 'button', 'aria-label': t('common.close'), 'data-i18n-aria-label': 'common.close' },
    }, [icon('close')]);
    close.addEventListener('click', () => this.toggle(false));

    /** @type {(HTMLElement|null)[]} */
    const parts = [
      h('div', { class: 'chat-top' }, [h('h2', { class: 'chat-title', id: 'docs-title', i18n: 'doc.title' }), close]),
    ];
    this.presentEl = advisor ? this._buildPresent() : null;
    this.list = h('ul', { class: 'docs-list', data: { testid: 'documents-list' } });
    this.empty = h('p', { class: 'muted small', i18n: advisor ? 'doc.list.empty' : 'doc.list.emptyCustomer' });
    // The documents first (what matters while someone signs), then the form.
    parts.push(h('div', { class: 'docs-scroll' }, [
      h('section', { class: 'docs-section', attrs: { 'aria-labelledby': 'docs-list-heading' } }, [
        h('h3', { id: 'docs-list-heading', i18n: 'doc.list.heading' }),
        this.empty,
        this.list,
      ]),
      this.presentEl,
    ]));
    this.el = h('section', {
      class: 'chat docs',
      id: 'call-docs',
      attrs: { hidden: true, 'aria-labelledby': 'docs-title' },
      data: { testid: 'documents-panel' },
    }, parts);
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.toggle(false);
    });

    this.viewer = new DocumentViewer(this.docs, {
      session,
      role: opts.role,
      onClose: (docId) => {
        this.dismissed.add(docId);
        const opener = this.open ? this.el.querySelector(`[data-testid="doc-open-${docId}"]`) : null;
        if (opener instanceof HTMLElement) opener.focus();
        if (!this.el.contains(document.activeElement)) this.toggleBtn.focus();
        this.render();
      },
    });

    const d = this.docs;
    this._off.push(
      d.on('update', () => {
        this.render();
        for (const doc of d.documents.values()) this.viewer.update(doc);
      }),
      d.on('arrived', ({ doc, live }) => this._arrived(doc, live)),
      d.on('signed', ({ doc, field }) => this._signed(doc, field)),
      d.on('withdrawn', ({ doc, live }) => this._withdrawn(doc, live)),
      d.on('failed', (f) => this._failed(f)),
      d.on('progress', ({ doc, progress }) => {
        this._renderProgress();
        this._announceProgress(doc, progress);
      }),
      session.on('roster', () => this._renderProgress()),
      session.on('self', () => this._renderControls()),
      session.on('connection', () => this._renderControls()),
      onLangChange(() => {
        this.render();
        this.viewer.render();
        this.placer?.relabel();
      }),
    );
    this.render();
  }

  /** @returns {HTMLElement} the advisor's "present a document" form */
  _buildPresent() {
    this.fileInput = h('input', {
      class: 'sr-only',
      id: 'doc-file',
      attrs: { type: 'file', accept: 'application/pdf,.pdf', tabindex: -1, 'aria-label': t('doc.present.choosePdf'), 'data-i18n-aria-label': 'doc.present.choosePdf' },
      data: { testid: 'document-upload' },
    });
    this.fileBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button', 'aria-pressed': 'false' }, data: { testid: 'document-choose' } }, [
      icon('paperclip'),
      h('span', { i18n: 'doc.present.choosePdf' }),
    ]);
    this.templateBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button', 'aria-pressed': 'false' }, data: { testid: 'document-template' } }, [
      icon('document'),
      h('span', { i18n: 'doc.present.template' }),
    ]);
    this.fileBtn.addEventListener('click', () => this.fileInput?.click());
    this.fileInput.addEventListener('change', () => {
      const f = this.fileInput?.files?.[0] ?? null;
      if (this.fileInput) this.fileInput.value = '';
      if (!f) return;
      const isPdf = f.type === 'application/pdf' || /\.pdf$/i.test(f.name);
      this._presentError(isPdf ? '' : t('doc.present.notPdf'));
      this.source = isPdf ? f : null;
      this._renderPresent();
    });
    this.templateBtn.addEventListener('click', () => {
      this.source = this.source === 'template' ? null : 'template';
      this._presentError('');
      this._renderPresent();
      if (this.source === 'template') this.titleInput?.focus();
    });
    this.chosenEl = h('p', { class: 'docs-chosen small', attrs: { 'aria-live': 'polite' }, data: { testid: 'document-chosen' } });
    this.titleInput = h('input', {
      id: 'doc-title-input',
      attrs: { type: 'text', maxlength: 120, value: this.opts.title || t('doc.present.titleDefault'), autocomplete: 'off' },
      data: { testid: 'document-title' },
    });
    this.titleField = h('div', { class: 'field', attrs: { hidden: true } }, [
      h('label', { attrs: { for: 'doc-title-input' }, i18n: 'doc.present.titleLabel' }),
      this.titleInput,
    ]);
    /** @param {string} value @param {Key} label @param {string} testid */
    const radio = (value, label, testid) => {
      const input = h('input', { attrs: { type: 'radio', name: 'doc-signers', value, checked: value === 'customer' }, data: { testid } });
      return { input, el: h('label', { class: 'docs-radio' }, [input, h('span', { i18n: label })]) };
    };
    const r1 = radio('customer', 'doc.present.signersCustomer', 'document-signers-customer');
    const r2 = radio('customer,advisor', 'doc.present.signersBoth', 'document-signers-both');
    this.signerInputs = [r1.input, r2.input];
    // Where the fields go on an uploaded PDF (contract-place.js).
    this.placer = new FieldPlacer({ openPdf });
    for (const input of this.signerInputs) {
      input.addEventListener('change', () => this.placer?.setSigners(this._signers()));
    }
    this.presentErr = h('p', { class: 'docs-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'document-error' } });
    this.presentLabel = h('span', { i18n: 'doc.present.submit' });
    this.presentBtn = h('button', { class: 'btn btn-primary btn-block', attrs: { type: 'button' }, data: { testid: 'document-present' } }, [
      icon('send'),
      this.presentLabel,
    ]);
    this.presentBtn.addEventListener('click', () => void this._present());
    return h('section', { class: 'docs-section', attrs: { 'aria-labelledby': 'docs-present-heading' } }, [
      h('h3', { id: 'docs-present-heading', i18n: 'doc.present.heading' }),
      h('div', { class: 'docs-source', attrs: { role: 'group', 'aria-label': t('doc.present.source'), 'data-i18n-aria-label': 'doc.present.source' } }, [
        this.fileBtn,
        this.templateBtn,
        this.fileInput,
      ]),
      this.chosenEl,
      this.titleField,
      h('fieldset', { class: 'docs-signers' }, [h('legend', { i18n: 'doc.present.signers' }), r1.el, r2.el]),
      this.placer.el,
      this.presentErr,
      this.presentBtn,
    ]);
  }

  /** @param {string} text */
  _presentError(text) {
    if (!this.presentErr) return;
    this.presentErr.textContent = text;
    this.presentErr.hidden = !text;
  }

  _renderPresent() {
    if (!this.presentEl || !this.chosenEl || !this.fileBtn || !this.templateBtn || !this.titleField || !this.presentBtn || !this.presentLabel) return;
    const src = this.source;
    this.fileBtn.setAttribute('aria-pressed', String(src instanceof File));
    this.templateBtn.setAttribute('aria-pressed', String(src === 'template'));
    this.fileBtn.classList.toggle('is-selected', src instanceof File);
    this.templateBtn.classList.toggle('is-selected', src === 'template');
    this.chosenEl.replaceChildren();
    if (src instanceof File) {
      this.chosenEl.append(icon('document'), h('span', { class: 'docs-chosen-name', text: src.name }), h('span', { class: 'muted', text: ` · ${formatSize(src.size)}` }));
    } else if (src === 'template') {
      this.chosenEl.append(icon('document'), h('span', { class: 'docs-chosen-name', text: t('doc.present.templateName') }));
    } else {
      this.chosenEl.append(h('span', { class: 'muted', text: t('doc.present.none') }));
    }
    this.titleField.hidden = src !== 'template';
    this.placer?.setFile(src instanceof File ? src : null);
    this.presentBtn.disabled = !src || this._presenting || this.session.state !== 'joined';
    this.presentLabel.textContent = t(this._presenting ? 'doc.present.busy' : 'doc.present.submit');
  }

  /** @returns {SignerRole[]} who signs, as chosen */
  _signers() {
    const value = this.signerInputs?.find((i) => i.checked)?.value ?? 'customer';
    return /** @type {SignerRole[]} */ (value.split(','));
  }

  async _present() {
    const src = this.source;
    if (!src || this._presenting) return;
    const signers = this._signers();
    this._presenting = true;
    this._presentError('');
    this._renderPresent();
    try {
      const doc = src instanceof File
        ? await this.docs.present({ file: src, signers, boxes: this.placer?.boxes() })
        : await this.docs.present({ template: 'contract', title: this.titleInput?.value.trim() || t('doc.present.titleDefault'), signers });
      this.source = null;
      toast(t('doc.present.done', { name: doc.name }), { kind: 'success' });
      // The new document heads the list: show it.
      this.el.querySelector('.docs-scroll')?.scrollTo({ top: 0 });
    } catch (err) {
      this._presentError(docErrorText(err));
    } finally {
      this._presenting = false;
      this._renderPresent();
      // The present button may be gone: keep the keyboard focus in the drawer.
      if (this.open && !this.el.contains(document.activeElement)) {
        const heading = this.el.querySelector('#docs-list-heading');
        if (heading instanceof HTMLElement) {
          heading.tabIndex = -1;
          heading.focus();
        }
      }
    }
  }

  /**
   * @param {Document} doc
   * @param {boolean} live
   */
  _arrived(doc, live) {
    if (this._presenting) return; // this advisor's own
    const field = this.docs.openFieldFor(doc);
    if (this.opts.role === 'customer' && field && !this.dismissed.has(doc.id)) {
      const opens = !this.viewer.isOpen || this.viewer.mode === 'read';
      // Short when the view opens anyway: the toast then sits over its header.
      if (live) toast(t('doc.arrived', { name: doc.name }), { kind: 'info', timeout: opens ? 3500 : 8000 });
      if (opens) this.openDoc(doc);
      return;
    }
    if (live) toast(t(field ? 'doc.arrived' : 'doc.arrivedView', { name: doc.name }), { kind: 'info', timeout: 6000 });
  }

  /**
   * @param {Document} doc
   * @param {Field} field
   */
  _signed(doc, field) {
    if (this.viewer.isOpen && this.viewer.doc?.id === doc.id && field.signer === this.docs.role) return; // own, shown in the view
    const name = field.signerName?.trim() || t('doc.someone');
    toast(t(doc.state === 'signed' ? 'doc.allSigned' : 'doc.signedToast', { name, doc: doc.name }), { kind: 'success', timeout: 6000 });
  }

  /**
   * The advisor withdrew a document: its view closes, everyone is told.
   * @param {Document} doc
   * @param {boolean} live
   */
  _withdrawn(doc, live) {
    if (this.viewer.doc?.id === doc.id) this.viewer.forceClose();
    if (live) toast(t('doc.withdrawnToast', { doc: doc.name }), { kind: this.opts.role === 'advisor' ? 'success' : 'error', timeout: 10000 });
    this.render();
  }

  /**
   * A signing request failed on the server. The signer reads why in the
   * pad; the others get a toast and the progress line.
   * @param {{doc: string, field: string, from: string, code: string, own: boolean}} f
   */
  _failed(f) {
    const doc = this.docs.documents.get(f.doc);
    if (!doc) return;
    if (f.own || f.from === this.session.self?.id) {
      if (!this.viewer.isOpen || this.viewer.doc?.id !== doc.id) toast(t('doc.error.signFailed'), { kind: 'error', timeout: 10000 });
      return;
    }
    toast(t('doc.signFailedToast', { name: this._signerName(f.from), doc: doc.name }), { kind: 'error', timeout: 10000 });
  }

  /**
   * The name of whoever a protocol message is from: a participant id, or
   * "staff:<id>" for an advisor signing (the advisor in the call when
   * there is one, else "the advisor").
   * @param {string} from
   * @returns {string}
   */
  _signerName(from) {
    const name = this.session.participant(from)?.name?.trim();
    if (name) return name;
    if (from.startsWith('staff:')) {
      const advisors = this.session.participants.filter((p) => p.role === 'advisor' && p.state === 'joined');
      return (advisors.length === 1 && advisors[0].name?.trim()) || t('doc.field.advisor');
    }
    return t('doc.someone');
  }

  /**
   * Withdraws a document (advisors).
   * @param {Document} doc
   * @param {HTMLButtonElement} btn
   */
  async _withdraw(doc, btn) {
    btn.disabled = true;
    try {
      await this.docs.withdraw(doc);
    } catch (err) {
      btn.disabled = false;
      toast(docErrorText(err), { kind: 'error' });
    }
  }

  /** @param {Document} doc */
  openDoc(doc) {
    this.dismissed.delete(doc.id);
    this.viewer.open(doc);
    this.render();
  }

  /** @param {boolean} [open] */
  toggle(open) {
    this.open = open ?? !this.open;
    this.el.hidden = !this.open;
    this.toggleBtn.setAttribute('aria-expanded', String(this.open));
    this.toggleBtn.classList.toggle('is-active', this.open);
    if (this.open) {
      this.opts.onOpen?.();
      this.render();
      const first = this.el.querySelector('.docs-scroll button:not([disabled])');
      if (first instanceof HTMLElement) first.focus();
    } else {
      this.toggleBtn.focus();
    }
  }

  /** Closes the panel without moving the focus (another panel opens). */
  hide() {
    if (!this.open) return;
    this.open = false;
    this.el.hidden = true;
    this.toggleBtn.setAttribute('aria-expanded', 'false');
    this.toggleBtn.classList.remove('is-active');
  }

  _renderControls() {
    this._renderPresent();
  }

  render() {
    const docs = this.docs.list();
    const pending = docs.filter((d) => this.docs.openFieldFor(d)).length;
    this.badge.hidden = pending === 0;
    this.badge.textContent = String(pending);
    // No parentheses: the name must contain the visible "Dokumente 1" (WCAG 2.5.3).
    this.toggleBtn.setAttribute('aria-label', pending ? `${t('doc.toggle')} ${pending}` : t('doc.toggle'));
    this.empty.hidden = docs.length > 0;
    this.list.replaceChildren(...[...docs].reverse().map((d) => this._item(d)));
    this._renderPresent();
    this._renderProgress();
    applyTranslations(this.el);
  }

  /**
   * @param {Document} doc
   * @returns {HTMLLIElement}
   */
  _item(doc) {
    const field = this.docs.openFieldFor(doc);
    const openBtn = h('button', { class: `btn ${field ? 'btn-primary' : 'btn-secondary'} btn-small`, attrs: { type: 'button' }, data: { testid: `doc-open-${doc.id}` } }, [
      icon(field ? 'pen' : 'document'),
      h('span', { text: t(field ? 'doc.sign' : 'doc.open') }),
    ]);
    openBtn.addEventListener('click', () => {
      this.openDoc(doc);
      if (window.matchMedia('(max-width: 599px)').matches) this.hide();
    });
    /** @type {HTMLButtonElement|null} */
    let withdrawBtn = null;
    if (this.opts.role === 'advisor' && doc.state === 'open') {
      // Two clicks: the first asks "really?" (for a few seconds).
      const confirming = this._confirming === doc.id;
      const btn = /** @type {HTMLButtonElement} */ (h('button', {
        class: `btn ${confirming ? 'btn-danger' : 'btn-secondary'} btn-small`,
        attrs: { type: 'button' },
        data: { testid: `doc-withdraw-${doc.id}`, confirm: confirming ? '1' : '' },
      }, [icon('close'), h('span', { text: t(confirming ? 'doc.withdrawConfirm' : 'doc.withdraw') })]));
      btn.addEventListener('click', () => {
        clearTimeout(this._confirmTimer);
        if (this._confirming !== doc.id) {
          this._confirming = doc.id;
          this._confirmTimer = window.setTimeout(() => {
            this._confirming = null;
            this.render();
          }, 6000);
          this.render();
          const again = this.list.querySelector(`[data-testid="doc-withdraw-${doc.id}"]`);
          if (again instanceof HTMLElement) again.focus();
          return;
        }
        this._confirming = null;
        void this._withdraw(doc, btn);
      });
      withdrawBtn = btn;
    }
    return h('li', { class: 'doc-item', data: { testid: `doc-${doc.id}`, state: doc.state, doc: doc.id } }, [
      h('div', { class: 'doc-head' }, [
        icon('document'),
        h('div', { class: 'doc-info' }, [
          h('span', { class: 'doc-name', text: doc.name }),
          h('span', { class: 'doc-meta muted small', text: `${pagesText(doc)} · ${formatSize(doc.size)}` }),
        ]),
        h('span', { class: 'doc-state', data: { state: doc.state }, text: t(stateKey(doc)) }),
      ]),
      h('ul', { class: 'doc-fields' }, doc.fields.map((f) => h('li', { class: 'doc-field', data: { field: f.name, signed: String(f.signed) } }, [
        h('span', { class: `doc-field-mark${f.signed ? ' is-signed' : ''}`, attrs: { 'aria-hidden': 'true' }, text: f.signed ? '✓' : '○' }),
        h('span', { class: 'doc-field-who', text: fieldLabel(f) }),
        h('span', {
          class: 'doc-field-state muted small',
          text: f.signed ? t('doc.field.signedBy', { name: f.signerName || t('doc.someone'), time: formatTime(f.signedAt) }) : t('doc.field.pending'),
        }),
      ]))),
      // Not a live region: page turns would be read out one by one, and
      // not at all while the drawer is closed; _announceProgress tells.
      this.opts.role === 'advisor' ? h('p', { class: 'doc-progress small', data: { testid: `doc-progress-${doc.id}` } }) : null,
      h('div', { class: 'doc-actions' }, [openBtn, doc.state === 'signed' ? downloadLink(doc) : null, withdrawBtn]),
    ]);
  }

  /**
   * Tells screen readers (ui.announce, polite, focus stays) when someone
   * else starts signing; "signed" and "failed" are told by their toasts
   * (a live region too), so nothing is said twice.
   * @param {string} docId
   * @param {Progress} p
   */
  _announceProgress(docId, p) {
    const key = `${docId}\n${p.from}`;
    const before = this._activity.get(key);
    this._activity.set(key, p.activity);
    if (this.opts.role !== 'advisor' || p.activity !== 'signing' || before === 'signing') return;
    if (p.from === this.session.self?.id || p.from === this.opts.selfStaff) return;
    announce(t('doc.progress.signing', { name: this._signerName(p.from) }));
  }

  /** Fills each document's progress line (advisors) from the last reports. */
  _renderProgress() {
    if (this.opts.role !== 'advisor') return;
    const selfId = this.session.self?.id;
    for (const el of this.list.querySelectorAll('[data-testid^="doc-progress-"]')) {
      if (!(el instanceof HTMLElement)) continue;
      const docId = el.dataset.testid?.slice('doc-progress-'.length) ?? '';
      const doc = this.docs.documents.get(docId);
      const per = this.docs.progress.get(docId);
      /** @type {Progress[]} */
      // Not this advisor's own reading (it comes back as staff:<id>).
      const reports = per ? [...per.values()].filter((p) => p.from !== selfId && p.from !== this.opts.selfStaff) : [];
      const lines = reports.map((p) => {
        const staff = p.from.startsWith('staff:');
        const name = staff ? t('call.role.advisor') : this.session.participant(p.from)?.name?.trim() || t('common.guest');
        // Who has signed all their fields is done, not "reading page n".
        const theirs = doc?.fields.filter((f) => f.signer === (staff ? 'advisor' : 'customer')) ?? [];
        if (p.activity !== 'failed' && theirs.length > 0 && theirs.every((f) => f.signed)) return t('doc.progress.signed', { name });
        const key = /** @type {Key} */ (`doc.progress.${p.activity}`);
        return t(key, { name, page: p.page, pages: p.pages });
      });
      const text = doc?.state === 'signed' || doc?.state === 'withdrawn' ? '' : lines.join(' · ') || t('doc.progress.none');
      if (el.textContent !== text) el.textContent = text;
      el.hidden = !text;
      el.dataset.activity = reports[reports.length - 1]?.activity ?? '';
    }
  }

  destroy() {
    for (const off of this._off) off();
    this._off = [];
    clearTimeout(this._confirmTimer);
    this.viewer.destroy();
    this.placer?.destroy();
    this.docs.dispose();
    this.el.remove();
    this.toggleBtn.remove();
  }
}
