// @ts-check
/**
 * "Foto aufnehmen" in the chat (chat-ui.js): a dialog with the live camera,
 * a switch to the rear camera (facingMode "environment", for an ID card or
 * a document), the shutter, then the still with "Neu aufnehmen" and
 * "Senden". Nothing leaves the browser before "Senden"; the caller
 * encrypts and sends what open() answers. When the dialog switched the
 * call's camera to the rear one, it switches back to the front camera on
 * closing (the advisor sees the customer again).
 *
 * Test ids: photo-dialog (data-mode="live"|"review"), photo-live,
 * photo-still, photo-switch, photo-shutter, photo-retake, photo-send,
 * photo-cancel, photo-error.
 * @module
 */

import { t, applyTranslations } from './i18n.js';
import { h } from './ui.js';
import { icon } from './icons.js';
import { takePhoto } from './chat.js';

/**
 * @typedef {{blob: Blob, width: number, height: number}} Shot
 * @typedef {import('./devices.js').LocalMedia} LocalMedia
 */

export class PhotoDialog {
  /** @param {LocalMedia} media the call's camera and microphone */
  constructor(media) {
    this.media = media;
    /** @type {Shot|null} */
    this.shot = null;
    /** @type {string} object URL of the still */
    this.stillUrl = '';
    /** @type {((shot: Shot|null) => void)|null} */
    this._resolve = null;
    /** The camera faced this way when the dialog opened. */
    this._facingBefore = media.facing;
    this._busy = false;

    this.live = h('video', { class: 'photo-live', attrs: { autoplay: true, muted: true, playsinline: true, 'aria-hidden': 'true' }, data: { testid: 'photo-live' } });
    this.live.muted = true;
    this.still = h('img', { class: 'photo-still', attrs: { alt: t('photo.stillAlt'), hidden: true }, data: { testid: 'photo-still' } });
    this.errorEl = h('p', { class: 'alert alert-error', attrs: { role: 'alert', hidden: true }, data: { testid: 'photo-error' } });
    this.statusEl = h('p', { class: 'photo-status small', attrs: { role: 'status' } });

    /**
     * @param {string} testid
     * @param {string} cls
     * @param {import('./i18n.js').Key} label
     * @param {Node|null} ic
     * @param {() => void} fn
     */
    const button = (testid, cls, label, ic, fn) => {
      const b = h('button', { class: `btn ${cls}`, attrs: { type: 'button' }, data: { testid } }, [ic, h('span', { i18n: label })]);
      b.addEventListener('click', fn);
      return b;
    };
    this.switchBtn = button('photo-switch', 'btn-secondary', 'photo.rear', icon('camera'), () => void this._switch());
    this.shutterBtn = button('photo-shutter', 'btn-primary', 'photo.shutter', icon('photo'), () => void this._capture());
    this.retakeBtn = button('photo-retake', 'btn-secondary', 'photo.retake', icon('camera'), () => this._setMode('live'));
    this.sendBtn = button('photo-send', 'btn-primary', 'photo.send', icon('send'), () => this._finish(this.shot));
    this.cancelBtn = button('photo-cancel', 'btn-ghost', 'common.cancel', null, () => this._finish(null));

    this.el = h('dialog', { class: 'dialog photo-dialog', attrs: { 'aria-labelledby': 'photo-title' }, data: { testid: 'photo-dialog', mode: 'live' } }, [
      h('div', { class: 'dialog-body' }, [
        h('h2', { id: 'photo-title', i18n: 'photo.title' }),
        h('p', { class: 'muted small photo-hint', i18n: 'photo.hint' }),
        h('div', { class: 'photo-frame' }, [this.live, this.still]),
        this.statusEl,
        this.errorEl,
        h('div', { class: 'dialog-actions photo-actions' }, [this.cancelBtn, this.switchBtn, this.shutterBtn, this.retakeBtn, this.sendBtn]),
      ]),
    ]);
    // Escape: like "Abbrechen".
    this.el.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      this._finish(null);
    });
    this._offTrack = media.on('track', ({ kind }) => {
      if (kind === 'video') this._attach();
    });
  }

  /**
   * Opens the dialog with the live camera.
   * @returns {Promise<Shot|null>} the photo to send, or null (cancelled)
   */
  open() {
    this._resolve?.(null);
    if (!this.el.isConnected) document.body.append(this.el);
    this._facingBefore = this.media.facing;
    this._setMode('live');
    applyTranslations(this.el);
    this.el.showModal();
    this.shutterBtn.focus();
    return new Promise((resolve) => {
      this._resolve = resolve;
    });
  }

  _attach() {
    const track = this.media.videoTrack;
    const cur = this.live.srcObject instanceof MediaStream ? this.live.srcObject.getVideoTracks()[0] : null;
    if (cur !== track) this.live.srcObject = track ? new MediaStream([track]) : null;
    // The front camera is shown mirrored (as in the call), the rear one as it is.
    this.live.classList.toggle('mirror', this.media.facing === 'user');
    this.live.play().catch(() => {});
    this._render();
  }

  /** @param {'live'|'review'} mode */
  _setMode(mode) {
    this.el.dataset.mode = mode;
    this.errorEl.hidden = true;
    if (mode === 'live') {
      this._dropShot();
      this._attach();
    }
    this._render();
  }

  _render() {
    const review = this.el.dataset.mode === 'review';
    const live = !!this.media.videoTrack && this.media.videoTrack.readyState === 'live';
    this.live.hidden = review;
    this.still.hidden = !review;
    this.switchBtn.hidden = review;
    this.shutterBtn.hidden = review;
    this.retakeBtn.hidden = !review;
    this.sendBtn.hidden = !review;
    this.switchBtn.disabled = this._busy;
    this.shutterBtn.disabled = this._busy || !live;
    const rear = this.media.facing === 'environment';
    const label = /** @type {HTMLElement} */ (this.switchBtn.lastElementChild);
    label.dataset.i18n = rear ? 'photo.front' : 'photo.rear';
    label.textContent = t(rear ? 'photo.front' : 'photo.rear');
    this.statusEl.textContent = review ? t('photo.notSent') : '';
    this.still.alt = t('photo.stillAlt');
  }

  async _switch() {
    if (this._busy) return;
    this._busy = true;
    this._render();
    try {
      await this.media.useFacing(this.media.facing === 'environment' ? 'user' : 'environment');
    } catch {
      this._error(t('photo.switchFailed'));
    } finally {
      this._busy = false;
      this._attach();
    }
  }

  async _capture() {
    const track = this.media.videoTrack;
    if (!track || this._busy) return;
    this._busy = true;
    this._render();
    try {
      const shot = await takePhoto(track);
      this._dropShot();
      this.shot = shot;
      this.stillUrl = URL.createObjectURL(shot.blob);
      this.still.src = this.stillUrl;
      this.still.width = shot.width;
      this.still.height = shot.height;
      this._busy = false;
      this._setMode('review');
      this.sendBtn.focus();
    } catch {
      this._busy = false;
      this._error(t('chat.error.photo'));
      this._render();
    }
  }

  /** @param {string} text */
  _error(text) {
    this.errorEl.textContent = text;
    this.errorEl.hidden = false;
  }

  _dropShot() {
    this.shot = null;
    if (this.stillUrl) URL.revokeObjectURL(this.stillUrl);
    this.stillUrl = '';
    this.still.removeAttribute('src');
  }

  /**
   * Closes the dialog with the photo to send (or none) and turns the
   * camera back to the front, if the dialog turned it.
   * @param {Shot|null} shot
   */
  _finish(shot) {
    const resolve = this._resolve;
    this._resolve = null;
    if (this.el.open) this.el.close();
    this.live.srcObject = null;
    this.shot = null;
    if (this.media.facing !== this._facingBefore) {
      this.media.useFacing(this._facingBefore).catch(() => {});
    }
    // The still's URL goes once the caller has the blob itself.
    if (this.stillUrl) URL.revokeObjectURL(this.stillUrl);
    this.stillUrl = '';
    resolve?.(shot);
  }

  destroy() {
    this._finish(null);
    this._offTrack();
    this.el.remove();
  }
}
