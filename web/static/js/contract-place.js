// @ts-check
/**
 * Placing the signature fields of an uploaded PDF (the advisor's
 * "present" form in the documents drawer): "automatic" (the server finds
 * free space without text on the last page) or "place them myself": a
 * preview of each page, rendered by pdf.js, where a click puts the chosen
 * field's box (230 × 80 pt, the server's default size) centred on the
 * click, kept inside the page; arrow keys move it by 5 pt. Fields not
 * placed go into free space. The server checks every box again.
 *
 * Test ids: document-placement, document-place-auto,
 * document-place-manual, document-place-field-<field>, document-place-prev,
 * document-place-next, document-place-page, document-place-canvas,
 * document-box-<field> (data-page, data-box="x,y,w,h" in PDF points).
 * @module
 */

import { t, applyTranslations } from './i18n.js';
import { h } from './ui.js';

/**
 * @typedef {import('./contract.js').FieldBox} FieldBox
 * @typedef {import('./contract.js').SignerRole} SignerRole
 * @typedef {import('pdfjs-dist').PDFDocumentProxy} PdfDocument
 * @typedef {import('pdfjs-dist').PageViewport} PageViewport
 */

/** The box size, as the server's default (signature.DefaultSignatureRect). */
const BOX_W = 230;
const BOX_H = 80;

export class FieldPlacer {
  /**
   * @param {{openPdf: (data: Uint8Array) => Promise<PdfDocument>}} opts
   */
  constructor(opts) {
    this.opts = opts;
    /** @type {File|null} */
    this.file = null;
    /** @type {SignerRole[]} */
    this.signers = ['customer'];
    this.manual = false;
    /** @type {Map<string, FieldBox>} */
    this.placed = new Map();
    /** @type {SignerRole} */
    this.active = 'customer';
    /** @type {PdfDocument|null} */
    this.pdf = null;
    this.page = 1;
    /** @type {{vp: PageViewport, view: number[]}|null} the page shown */
    this.shown = null;
    this._gen = 0;

    /** @param {string} value @param {import('./i18n.js').Key} label @param {string} testid */
    const radio = (value, label, testid) => {
      const input = h('input', { attrs: { type: 'radio', name: 'doc-place', value, checked: value === 'auto' }, data: { testid } });
      input.addEventListener('change', () => {
        this.manual = value === 'manual' && input.checked;
        void this._renderAll();
      });
      return h('label', { class: 'docs-radio' }, [input, h('span', { i18n: label })]);
    };
    this.fieldsEl = h('div', { class: 'docs-place-fields', attrs: { role: 'radiogroup', 'aria-label': t('doc.present.placeField') } });
    this.prevBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button', 'aria-label': t('doc.present.placePrev') }, data: { testid: 'document-place-prev' }, text: '‹' });
    this.nextBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button', 'aria-label': t('doc.present.placeNext') }, data: { testid: 'document-place-next' }, text: '›' });
    this.pageLabel = h('span', { class: 'small', data: { testid: 'document-place-page' } });
    this.prevBtn.addEventListener('click', () => this._go(this.page - 1));
    this.nextBtn.addEventListener('click', () => this._go(this.page + 1));
    this.canvas = h('canvas', { class: 'docs-place-canvas', data: { testid: 'document-place-canvas' } });
    this.stage = h('div', { class: 'docs-place-stage', attrs: { tabindex: 0, role: 'application' } }, [this.canvas]);
    this.stage.addEventListener('click', (ev) => this._click(ev));
    this.stage.addEventListener('keydown', (ev) => this._key(ev));
    this.manualEl = h('div', { class: 'docs-place-manual', attrs: { hidden: true } }, [
      h('p', { class: 'muted small', i18n: 'doc.present.placeHint' }),
      this.fieldsEl,
      h('div', { class: 'docs-place-nav' }, [this.prevBtn, this.pageLabel, this.nextBtn]),
      this.stage,
    ]);
    this.el = h('fieldset', { class: 'docs-signers docs-placement', attrs: { hidden: true }, data: { testid: 'document-placement' } }, [
      h('legend', { i18n: 'doc.present.placeHeading' }),
      radio('auto', 'doc.present.placeAuto', 'document-place-auto'),
      radio('manual', 'doc.present.placeManual', 'document-place-manual'),
      this.manualEl,
    ]);
  }

  /**
   * The PDF chosen (null: none, or the template: nothing to place).
   * @param {File|null} file
   */
  setFile(file) {
    if (file === this.file) return;
    this.file = file;
    this.placed.clear();
    this.page = 1;
    this.shown = null;
    this.pdf?.loadingTask.destroy().catch(() => {});
    this.pdf = null;
    this._gen++;
    void this._renderAll();
  }

  /** @param {SignerRole[]} signers */
  setSigners(signers) {
    this.signers = signers;
    for (const f of [...this.placed.keys()]) if (!signers.includes(/** @type {SignerRole} */ (f))) this.placed.delete(f);
    if (!signers.includes(this.active)) this.active = signers[0] ?? 'customer';
    void this._renderAll();
  }

  /** Translates what is shown again (the language changed). */
  relabel() {
    this.prevBtn.setAttribute('aria-label', t('doc.present.placePrev'));
    this.nextBtn.setAttribute('aria-label', t('doc.present.placeNext'));
    this.fieldsEl.setAttribute('aria-label', t('doc.present.placeField'));
    if (this.pdf && this.shown) this.pageLabel.textContent = t('doc.present.placePage', { page: this.page, pages: this.pdf.numPages });
    this._renderFields();
    this._renderBoxes();
  }

  /** @returns {Map<string, FieldBox>} the boxes to send (none when automatic) */
  boxes() {
    return this.manual ? new Map(this.placed) : new Map();
  }

  async _renderAll() {
    this.el.hidden = !this.file;
    this.manualEl.hidden = !this.manual;
    this._renderFields();
    if (!this.file || !this.manual) return;
    if (!this.pdf) {
      const gen = this._gen;
      const data = new Uint8Array(await this.file.arrayBuffer());
      const pdf = await this.opts.openPdf(data);
      if (gen !== this._gen) {
        pdf.loadingTask.destroy().catch(() => {});
        return;
      }
      this.pdf = pdf;
    }
    await this._renderPage();
  }

  _renderFields() {
    this.fieldsEl.replaceChildren(...this.signers.map((f) => {
      const input = h('input', { attrs: { type: 'radio', name: 'doc-place-field', value: f, checked: f === this.active }, data: { testid: `document-place-field-${f}` } });
      input.addEventListener('change', () => {
        if (input.checked) this.active = f;
        this._renderBoxes();
      });
      const b = this.placed.get(f);
      return h('label', { class: 'docs-radio' }, [
        input,
        h('span', { text: t(f === 'advisor' ? 'doc.field.advisor' : 'doc.field.customer') }),
        h('span', { class: 'muted small', text: b ? t('doc.present.placeAt', { page: b.page }) : t('doc.present.placeNone') }),
      ]);
    }));
    applyTranslations(this.el);
  }

  /** @param {number} n */
  _go(n) {
    if (!this.pdf || n < 1 || n > this.pdf.numPages) return;
    this.page = n;
    void this._renderPage();
  }

  async _renderPage() {
    const pdf = this.pdf;
    if (!pdf) return;
    const n = Math.min(Math.max(1, this.page), pdf.numPages);
    const page = await pdf.getPage(n);
    if (pdf !== this.pdf || n !== this.page) return;
    const base = page.getViewport({ scale: 1 });
    const avail = Math.max(160, this.manualEl.clientWidth || 280);
    const scale = avail / base.width;
    const dpr = Math.min(window.devicePixelRatio || 1, 3);
    const vp = page.getViewport({ scale });
    const out = page.getViewport({ scale: scale * dpr });
    this.canvas.width = Math.floor(out.width);
    this.canvas.height = Math.floor(out.height);
    this.canvas.style.width = `${Math.floor(vp.width)}px`;
    this.canvas.style.height = `${Math.floor(vp.height)}px`;
    await page.render({ canvas: this.canvas, viewport: out }).promise;
    if (pdf !== this.pdf || n !== this.page) return;
    this.shown = { vp, view: page.view };
    this.pageLabel.textContent = t('doc.present.placePage', { page: n, pages: pdf.numPages });
    this.prevBtn.disabled = n <= 1;
    this.nextBtn.disabled = n >= pdf.numPages;
    this.stage.dataset.page = String(n);
    this._renderBoxes();
  }

  /** Draws the boxes placed on the page shown. */
  _renderBoxes() {
    for (const el of this.stage.querySelectorAll('.docs-place-box')) el.remove();
    const shown = this.shown;
    if (!shown) return;
    const label = t(this.active === 'advisor' ? 'doc.field.advisor' : 'doc.field.customer');
    this.stage.setAttribute('aria-label', t('doc.present.placePreview', { page: this.page, field: label }));
    for (const [f, b] of this.placed) {
      if (b.page !== this.page) continue;
      const [x1, y1] = shown.vp.convertToViewportPoint(b.x, b.y);
      const [x2, y2] = shown.vp.convertToViewportPoint(b.x + b.w, b.y + b.h);
      const box = h('div', {
        class: `docs-place-box${f === this.active ? ' is-active' : ''}`,
        data: { testid: `document-box-${f}`, page: String(b.page), box: [b.x, b.y, b.w, b.h].join(',') },
        text: t(f === 'advisor' ? 'doc.field.advisor' : 'doc.field.customer'),
      });
      // CSSOM, not a style attribute: the CSP has no 'unsafe-inline'.
      Object.assign(box.style, {
        left: `${Math.min(x1, x2)}px`, top: `${Math.min(y1, y2)}px`,
        width: `${Math.abs(x2 - x1)}px`, height: `${Math.abs(y2 - y1)}px`,
      });
      this.stage.append(box);
    }
  }

  /**
   * Puts the active field's box with its centre at (px, py) PDF points,
   * inside the page shown.
   * @param {number} px
   * @param {number} py
   */
  _place(px, py) {
    const shown = this.shown;
    if (!shown) return;
    const [vx1, vy1, vx2, vy2] = shown.view;
    const round = (/** @type {number} */ v) => Math.round(v * 10) / 10;
    const x = round(Math.min(Math.max(px - BOX_W / 2, vx1), vx2 - BOX_W));
    const y = round(Math.min(Math.max(py - BOX_H / 2, vy1), vy2 - BOX_H));
    this.placed.set(this.active, { page: this.page, x, y, w: BOX_W, h: BOX_H });
    this._renderFields();
    this._renderBoxes();
  }

  /** @param {MouseEvent} ev */
  _click(ev) {
    const shown = this.shown;
    if (!shown) return;
    const r = this.canvas.getBoundingClientRect();
    const [px, py] = shown.vp.convertToPdfPoint(ev.clientX - r.left, ev.clientY - r.top);
    this._place(px, py);
  }

  /** @param {KeyboardEvent} ev */
  _key(ev) {
    const shown = this.shown;
    if (!shown) return;
    const b = this.placed.get(this.active);
    const step = 5;
    /** @type {Record<string, [number, number]>} */
    const moves = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (ev.key === 'Enter' || ev.key === ' ') {
      const [vx1, vy1, vx2, vy2] = shown.view;
      this._place((vx1 + vx2) / 2, (vy1 + vy2) / 2);
    } else if (moves[ev.key] && b && b.page === this.page) {
      const [dx, dy] = moves[ev.key];
      this._place(b.x + b.w / 2 + dx, b.y + b.h / 2 + dy);
    } else {
      return;
    }
    ev.preventDefault();
  }

  destroy() {
    this._gen++;
    this.pdf?.loadingTask.destroy().catch(() => {});
    this.pdf = null;
  }
}
