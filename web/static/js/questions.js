// @ts-check
/**
 * The company's questions (config "questions", web/questions.go) as form
 * fields: asked on the join page once consent is given ("before") and
 * when the consultation is over ("after"). Types: text and email inputs,
 * choice (radio buttons, a select for more than five options) and rating
 * (a group of five stars, radio buttons underneath). Answers are strings:
 * a choice is its option's index ("0".."n-1"), a rating "1".."5".
 *
 * Test ids: question-<id> on the input, select or fieldset; a radio is
 * question-<id>-<value>; the field's error question-error-<id>.
 * @module
 */

import { t, getLang } from './i18n.js';
import { h } from './ui.js';
import { icon } from './icons.js';

/**
 * @typedef {import('./api.js').Question} Question
 * @typedef {import('./api.js').LocalText} LocalText
 */

/**
 * A configured text in the current language.
 * @param {LocalText|undefined|null} text
 * @returns {string}
 */
export function localText(text) {
  if (!text) return '';
  return (getLang() === 'en' ? text.en : text.de) || text.de || text.en || '';
}

/**
 * An answer as a person reads it: the option of a choice, the stars of a
 * rating, the text otherwise.
 * @param {Question|undefined} q
 * @param {string} value
 * @returns {string}
 */
export function answerText(q, value) {
  if (!q) return value;
  if (q.type === 'choice') {
    const opt = q.options?.[Number.parseInt(value, 10)];
    return opt ? localText(opt) : value;
  }
  if (q.type === 'rating') {
    const n = Number.parseInt(value, 10);
    if (n >= 1 && n <= 5) return `${'★'.repeat(n)}${'☆'.repeat(5 - n)} (${t('q.ratingOf', { n })})`;
  }
  return value;
}

// A pragmatic check before sending; the server decides (net/mail).
const EMAIL = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

/**
 * One question's field.
 */
class QuestionField {
  /**
   * @param {Question} q
   * @param {string} prefix id prefix, unique on the page
   */
  constructor(q, prefix) {
    this.q = q;
    this.id = `${prefix}-${q.id}`;
    this.errorEl = h('p', {
      class: 'q-error',
      id: `${this.id}-error`,
      attrs: { hidden: true },
      data: { testid: `question-error-${q.id}` },
    });
    /** @type {(HTMLInputElement|HTMLSelectElement)[]} */
    this.inputs = [];
    /** @type {HTMLElement|null} */
    this.labelText = null;
    /** @type {HTMLElement[]} */
    this.optionTexts = [];
    this.required = h('span', { class: 'q-required' });
    const multi = q.type === 'rating' || (q.type === 'choice' && (q.options?.length ?? 0) <= 5);
    if (multi) this.el = this._group();
    else this.el = this._single();
    this.render();
  }

  /** Text, e-mail, or a choice with many options. @returns {HTMLElement} */
  _single() {
    const q = this.q;
    /** @type {HTMLInputElement|HTMLSelectElement} */
    let input;
    if (q.type === 'choice') {
      const select = h('select', { id: this.id, attrs: { name: this.id }, data: { testid: `question-${q.id}` } });
      select.append(h('option', { attrs: { value: '' } }));
      (q.options ?? []).forEach((_, i) => select.append(h('option', { attrs: { value: String(i) } })));
      input = select;
    } else {
      input = h('input', {
        id: this.id,
        attrs: {
          name: this.id,
          type: q.type === 'email' ? 'email' : 'text',
          maxlength: 500,
          autocomplete: q.type === 'email' ? 'email' : 'off',
          inputmode: q.type === 'email' ? 'email' : null,
          spellcheck: q.type === 'email' ? 'false' : null,
        },
        data: { testid: `question-${q.id}` },
      });
    }
    input.setAttribute('aria-describedby', this.errorEl.id);
    input.addEventListener('input', () => this._clearError());
    input.addEventListener('change', () => this._clearError());
    this.inputs = [input];
    this.labelText = h('span');
    return h('div', { class: 'field q-field', data: { question: q.id, type: q.type } }, [
      h('label', { attrs: { for: this.id } }, [this.labelText, this.required]),
      input,
      this.errorEl,
    ]);
  }

  /** Radio buttons: a choice with few options, or the five stars. @returns {HTMLElement} */
  _group() {
    const q = this.q;
    const rating = q.type === 'rating';
    const values = rating ? ['1', '2', '3', '4', '5'] : (q.options ?? []).map((_, i) => String(i));
    const items = values.map((v) => {
      const input = h('input', {
        id: `${this.id}-${v}`,
        attrs: { type: 'radio', name: this.id, value: v },
        data: { testid: `question-${q.id}-${v}` },
      });
      input.addEventListener('change', () => {
        this._clearError();
        this._renderStars();
      });
      this.inputs.push(input);
      const text = h('span', { class: rating ? 'sr-only' : 'q-option-text' });
      this.optionTexts.push(text);
      return h('label', { class: rating ? 'q-star' : 'q-option', attrs: { for: input.id } }, [
        input,
        rating ? icon('star') : null,
        text,
      ]);
    });
    this.labelText = h('span');
    this.group = h('div', { class: rating ? 'q-stars' : 'q-options' }, items);
    return h('fieldset', {
      class: `q-field ${rating ? 'q-rating' : 'q-choice'}`,
      id: this.id,
      attrs: { 'aria-describedby': this.errorEl.id },
      data: { question: q.id, type: q.type, testid: `question-${q.id}` },
    }, [
      h('legend', {}, [this.labelText, this.required]),
      this.group,
      this.errorEl,
    ]);
  }

  _renderStars() {
    if (this.q.type !== 'rating' || !this.group) return;
    const v = Number.parseInt(this.value() || '0', 10);
    [...this.group.children].forEach((el, i) => el.classList.toggle('is-lit', i < v));
  }

  /** Texts in the current language. */
  render() {
    const q = this.q;
    if (this.labelText) this.labelText.textContent = localText(q.label);
    this.required.textContent = q.required ? ` ${t('q.required')}` : ` ${t('q.optional')}`;
    if (q.type === 'rating') {
      this.optionTexts.forEach((el, i) => {
        el.textContent = t('q.stars', { n: i + 1 });
      });
    } else if (q.type === 'choice') {
      const first = this.inputs[0];
      if (first instanceof HTMLSelectElement) {
        [...first.options].forEach((opt, i) => {
          opt.textContent = i === 0 ? t('q.choose') : localText(q.options?.[i - 1]);
        });
      } else {
        this.optionTexts.forEach((el, i) => {
          el.textContent = localText(q.options?.[i]);
        });
      }
    }
    if (this.errorEl.dataset.key) this.errorEl.textContent = t(/** @type {import('./i18n.js').Key} */ (this.errorEl.dataset.key));
  }

  /** @returns {string} the answer, "" when none */
  value() {
    const first = this.inputs[0];
    if (!first) return '';
    if (first instanceof HTMLInputElement && first.type === 'radio') {
      const checked = this.inputs.find((i) => i instanceof HTMLInputElement && i.checked);
      return checked ? checked.value : '';
    }
    return first.value.trim();
  }

  /**
   * Fills in an earlier answer (joining again).
   * @param {string} v
   */
  setValue(v) {
    for (const i of this.inputs) {
      if (i instanceof HTMLInputElement && i.type === 'radio') i.checked = i.value === v;
      else i.value = v;
    }
  }

  /** @param {boolean} on */
  setEnabled(on) {
    for (const i of this.inputs) {
      i.disabled = !on;
      // Required only while it can be answered (i.e. once consent is given).
      i.required = on && this.q.required;
    }
    this.el.classList.toggle('is-disabled', !on);
    if (!on) this._clearError();
  }

  /**
   * Checks the answer; shows the problem at the field.
   * @returns {boolean}
   */
  validate() {
    const v = this.value();
    /** @type {import('./i18n.js').Key|null} */
    let key = null;
    if (!v && this.q.required) key = 'q.error.required';
    else if (v && this.q.type === 'email' && !EMAIL.test(v)) key = 'q.error.email';
    if (!key) {
      this._clearError();
      return true;
    }
    this.errorEl.dataset.key = key;
    this.errorEl.textContent = t(key);
    this.errorEl.hidden = false;
    for (const i of this.inputs) i.setAttribute('aria-invalid', 'true');
    return false;
  }

  _clearError() {
    delete this.errorEl.dataset.key;
    this.errorEl.hidden = true;
    for (const i of this.inputs) i.removeAttribute('aria-invalid');
  }

  focus() {
    const target = this.inputs.find((i) => i instanceof HTMLInputElement && i.checked) ?? this.inputs[0];
    target?.focus();
  }
}

/**
 * A set of questions as form fields.
 */
export class QuestionFields {
  /**
   * @param {Question[]} questions
   * @param {string} prefix id prefix, unique on the page
   */
  constructor(questions, prefix) {
    this.fields = questions.map((q) => new QuestionField(q, prefix));
    this.el = h('div', { class: 'q-fields' }, this.fields.map((f) => f.el));
  }

  get empty() {
    return this.fields.length === 0;
  }

  /** Texts in the current language. */
  render() {
    for (const f of this.fields) f.render();
  }

  /** @param {boolean} on */
  setEnabled(on) {
    for (const f of this.fields) f.setEnabled(on);
  }

  /**
   * Checks every field; focuses the first with a problem.
   * @returns {boolean}
   */
  validate() {
    let first = null;
    for (const f of this.fields) {
      if (!f.validate() && !first) first = f;
    }
    first?.focus();
    return !first;
  }

  /**
   * Fills in earlier answers by question id (joining again).
   * @param {Record<string, string>} values
   */
  setValues(values) {
    for (const f of this.fields) {
      const v = values[f.q.id];
      if (typeof v === 'string') f.setValue(v);
    }
  }

  /** @returns {Record<string, string>} the non-empty answers by question id */
  values() {
    /** @type {Record<string, string>} */
    const out = {};
    for (const f of this.fields) {
      const v = f.value();
      if (v) out[f.q.id] = v;
    }
    return out;
  }
}
