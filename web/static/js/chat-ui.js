// @ts-check
/**
 * The chat panel of a call (chat.js has the logic): a toggle button with an
 * unread count for the control bar, and a panel (a drawer over the stage,
 * full width on phones) with the messages, the input, "Datei senden" and
 * "Foto aufnehmen" (a preview with retake, send and the rear camera:
 * photo-ui.js). Test ids: chat-toggle, chat-panel, chat-input,
 * chat-send, chat-file-input, chat-photo; every message is
 * data-testid="chat-message" with data-msg, data-state, data-kind, and
 * (where allowed) a chat-delete button.
 * @module
 */

import { t, getLang, applyTranslations, onLangChange } from './i18n.js';
import { h, toast, announce } from './ui.js';
import { icon } from './icons.js';
import { ChatError } from './chat.js';
import { PhotoDialog } from './photo-ui.js';

/**
 * @typedef {import('./chat.js').ChatSession} ChatSession
 * @typedef {import('./chat.js').ChatEntryView} ChatEntryView
 */

/** @param {number} n bytes @returns {string} */
export function formatSize(n) {
  const nf = (/** @type {number} */ v, /** @type {number} */ d) =>
    new Intl.NumberFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', { maximumFractionDigits: d }).format(v);
  if (n < 1024) return `${nf(n, 0)} B`;
  if (n < 1024 * 1024) return `${nf(n / 1024, 1)} KB`;
  return `${nf(n / (1024 * 1024), 1)} MB`;
}

/** @param {string} iso @returns {string} HH:MM */
function clock(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return new Intl.DateTimeFormat(getLang() === 'de' ? 'de-DE' : 'en-GB', { hour: '2-digit', minute: '2-digit' }).format(d);
}

/** @param {unknown} err */
function chatErrorText(err) {
  const code = err instanceof ChatError ? err.code : 'upload';
  const key = /** @type {import('./i18n.js').Key} */ (`chat.error.${code}`);
  return t(key);
}

/**
 * Offers a blob for saving.
 * @param {Blob} blob
 * @param {string} name
 */
function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h('a', { attrs: { href: url, download: name, hidden: true } });
  document.body.append(a);
  a.click();
  a.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 60000);
}

export class ChatPanel {
  /**
   * @param {ChatSession} chat
   * @param {import('./call.js').CallSession} session
   */
  constructor(chat, session) {
    this.chat = chat;
    this.session = session;
    this.unread = 0;
    /** @type {ChatEntryView[]} messages heard but not yet announced */
    this._heard = [];
    this._announceTimer = 0;
    this.open = false;
    /** @type {PhotoDialog|null} made on first use */
    this.photoDialog = null;
    /** @type {(() => void)[]} */
    this._off = [];

    this.badge = h('span', { class: 'ctl-badge', attrs: { hidden: true } });
    this.toggleBtn = h('button', {
      class: 'ctl ctl-chat',
      id: 'btn-chat',
      attrs: { type: 'button', 'aria-controls': 'call-chat', 'aria-expanded': 'false' },
      data: { testid: 'chat-toggle' },
    }, [icon('chat'), h('span', { class: 'ctl-label', i18n: 'chat.toggle' }), ' ', this.badge]);
    this.toggleBtn.addEventListener('click', () => this.toggle());

    const close = h('button', {
      class: 'btn-icon chat-close',
      attrs: { type: 'button', 'aria-label': t('common.close'), 'data-i18n-aria-label': 'common.close' },
    }, [icon('close')]);
    close.addEventListener('click', () => this.toggle(false));

    // Not a live region itself: new messages are announced by ui.announce,
    // which is heard also while the drawer is closed (and only once).
    this.list = h('ol', { class: 'chat-list', data: { testid: 'chat-list' } });
    this.empty = h('p', { class: 'chat-empty muted', i18n: 'chat.empty' });
    this.input = h('textarea', {
      class: 'chat-input',
      id: 'chat-input',
      attrs: { rows: 1, maxlength: 4000, placeholder: t('chat.placeholder'), 'data-i18n-placeholder': 'chat.placeholder', 'aria-label': t('chat.input'), 'data-i18n-aria-label': 'chat.input' },
      data: { testid: 'chat-input' },
    });
    this.sendBtn = h('button', {
      class: 'btn btn-primary chat-send',
      attrs: { type: 'submit', 'aria-label': t('chat.send'), 'data-i18n-aria-label': 'chat.send', title: t('chat.send'), 'data-i18n-title': 'chat.send' },
      data: { testid: 'chat-send' },
    }, [icon('send')]);
    this.fileInput = h('input', { class: 'sr-only', id: 'chat-file', attrs: { type: 'file', tabindex: -1, 'aria-label': t('chat.sendFile'), 'data-i18n-aria-label': 'chat.sendFile' }, data: { testid: 'chat-file-input' } });
    this.fileBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'chat-file' } }, [
      icon('paperclip'),
      h('span', { i18n: 'chat.sendFile' }),
    ]);
    this.photoBtn = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'chat-photo' } }, [
      icon('photo'),
      h('span', { i18n: 'chat.takePhoto' }),
    ]);
    this.fileBtn.addEventListener('click', () => this.fileInput.click());
    this.fileInput.addEventListener('change', () => void this._sendFiles());
    this.photoBtn.addEventListener('click', () => void this._photo());
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        void this._sendText();
      }
    });
    const form = h('form', { class: 'chat-form' }, [this.input, this.sendBtn]);
    form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      void this._sendText();
    });

    this.el = h('section', {
      class: 'chat',
      id: 'call-chat',
      attrs: { hidden: true, 'aria-labelledby': 'chat-title' },
      data: { testid: 'chat-panel' },
    }, [
      h('div', { class: 'chat-top' }, [
        h('div', {}, [
          h('h2', { class: 'chat-title', id: 'chat-title', i18n: 'chat.title' }),
          h('p', { class: 'chat-e2ee' }, [icon('lock'), h('span', { i18n: 'chat.e2ee' })]),
        ]),
        close,
      ]),
      h('div', { class: 'chat-scroll' }, [this.empty, this.list]),
      h('div', { class: 'chat-actions' }, [this.fileBtn, this.photoBtn, this.fileInput]),
      form,
    ]);
    this.el.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape') this.toggle(false);
    });

    this._off.push(
      chat.on('update', () => this.render()),
      chat.on('incoming', (v) => {
        if (!this.open) {
          this.unread++;
          this._renderBadge();
        }
        this._announce(v);
      }),
      session.on('self', () => this._renderControls()),
      session.on('connection', () => this._renderControls()),
      session.on('local', () => this._renderControls()),
      onLangChange(() => this.render()),
    );
    this.render();
  }

  /**
   * Tells screen readers of a message from someone else (ui.announce: a
   * polite live region outside the drawer, focus stays where it is).
   * Messages arriving together (the history after a reconnect) are
   * counted, not read out one by one.
   * @param {ChatEntryView} v
   */
  _announce(v) {
    this._heard.push(v);
    clearTimeout(this._announceTimer);
    this._announceTimer = window.setTimeout(() => {
      const heard = this._heard;
      this._heard = [];
      if (heard.length > 1) {
        announce(t('chat.announce.many', { n: heard.length }));
        return;
      }
      const m = heard[0];
      const p = m?.payload;
      if (!m) return;
      const what = !p ? t('chat.announce.unreadable')
        : p.kind === 'text' ? p.text.slice(0, 300)
          : p.kind === 'photo' ? t('chat.announce.photo') : t('chat.announce.file', { name: p.name });
      announce(t('chat.announce.one', { name: this._name(m.from), text: what }));
    }, 250);
  }

  /** @param {boolean} [open] */
  toggle(open) {
    this.open = open ?? !this.open;
    this.el.hidden = !this.open;
    this.toggleBtn.setAttribute('aria-expanded', String(this.open));
    this.toggleBtn.classList.toggle('is-active', this.open);
    if (this.open) {
      this.unread = 0;
      this._renderBadge();
      this._scrollToEnd();
      this.input.focus();
    } else {
      this.toggleBtn.focus();
    }
  }

  _renderBadge() {
    this.badge.hidden = this.unread === 0;
    this.badge.textContent = String(this.unread);
    // No parentheses: the name must contain the visible "Chat 1" (WCAG 2.5.3).
    this.toggleBtn.setAttribute('aria-label', this.unread ? `${t('chat.toggle')} ${t('chat.unread', { n: this.unread })}` : t('chat.toggle'));
  }

  _renderControls() {
    const can = this.session.state === 'joined';
    this.sendBtn.disabled = !can;
    this.fileBtn.disabled = !can;
    this.photoBtn.disabled = !can || !this.session.media.videoTrack;
  }

  _scrollToEnd() {
    const box = this.list.parentElement;
    if (box) box.scrollTop = box.scrollHeight;
  }

  render() {
    const box = this.list.parentElement;
    const atEnd = !box || box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    const items = [...this.chat.messages.values()].map((v) => this._message(v));
    this.list.replaceChildren(...items);
    this.empty.hidden = items.length > 0;
    this._renderControls();
    this._renderBadge();
    applyTranslations(this.el);
    if (atEnd) this._scrollToEnd();
  }

  /** @param {string} id */
  _name(id) {
    if (id === this.chat.selfId) return t('common.you');
    const n = this.chat.names.get(id)?.trim();
    return n || t('common.guest');
  }

  /**
   * @param {ChatEntryView} v
   * @returns {HTMLLIElement}
   */
  _message(v) {
    const p = v.payload;
    const kind = p ? p.kind : 'unknown';
    const state = v.mine ? (v.state === 'failed' ? 'sending' : v.state) : 'sent';
    const meta = h('div', { class: 'chat-meta' }, [
      h('span', { class: 'chat-from', text: this._name(v.from) }),
      h('time', { class: 'chat-time', attrs: { datetime: v.at }, text: clock(v.at) }),
      v.mine ? h('span', { class: `chat-state chat-state-${v.state}`, data: { testid: 'chat-state' }, text: t(/** @type {import('./i18n.js').Key} */ (`chat.state.${v.state}`)) }) : null,
    ]);
    /** @type {(Node|null)[]} */
    const body = [];
    if (!p) {
      body.push(h('p', { class: 'chat-text chat-undecryptable', data: { testid: 'chat-undecryptable' } }, [icon('unlock'), h('span', { text: t('chat.undecryptable') })]));
    } else if (p.kind === 'text') {
      body.push(h('p', { class: 'chat-text', data: { testid: 'chat-text' }, text: p.text }));
    } else if (p.kind === 'file') {
      const dl = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'chat-download' } }, [
        icon('download'),
        h('span', { text: t('chat.download') }),
      ]);
      dl.addEventListener('click', () => void this._download(v, dl));
      body.push(
        h('div', { class: 'chat-file', data: { testid: 'chat-file-card' } }, [
          icon('paperclip'),
          h('div', { class: 'chat-file-info' }, [
            h('span', { class: 'chat-file-name', data: { testid: 'chat-file-name' }, text: p.name }),
            h('span', { class: 'chat-file-meta muted', data: { testid: 'chat-file-meta', size: String(p.size) }, text: `${p.mime || '—'} · ${formatSize(p.size)}` }),
          ]),
          v.mine && v.state === 'sending' ? null : dl,
        ]),
      );
    } else {
      if (v.blobUrl) {
        const img = h('img', { class: 'chat-photo', attrs: { src: v.blobUrl, alt: t('chat.photoAlt', { name: this._name(v.from) }), width: p.width || null, height: p.height || null }, data: { testid: 'chat-photo-img' } });
        const dl = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'chat-download' } }, [
          icon('download'),
          h('span', { text: t('chat.download') }),
        ]);
        dl.addEventListener('click', () => void this._download(v, dl));
        body.push(img, dl);
      } else if (v.fileError) {
        body.push(h('p', { class: 'chat-text chat-undecryptable', text: chatErrorText(new ChatError(v.fileError)) }));
      } else {
        body.push(h('p', { class: 'chat-text muted', text: t('chat.photoLoading') }));
      }
    }
    let del = null;
    if (this.chat.canDelete(v)) {
      del = h('button', {
        class: 'btn-icon chat-delete',
        attrs: { type: 'button', 'aria-label': t('chat.delete'), title: t('chat.delete') },
        data: { testid: 'chat-delete' },
      }, [icon('trash')]);
      del.addEventListener('click', () => {
        this.chat.remove(v).catch((err) => toast(chatErrorText(err), { kind: 'error' }));
      });
    }
    return h('li', {
      class: `chat-msg${v.mine ? ' chat-mine' : ''}`,
      data: { testid: 'chat-message', msg: v.id, state, kind, from: v.from },
    }, [h('div', { class: 'chat-head' }, [meta, del]), ...body]);
  }

  async _sendText() {
    const text = this.input.value;
    if (!text.trim()) return;
    try {
      const pending = this.chat.sendText(text);
      this.input.value = '';
      await pending;
    } catch (err) {
      toast(chatErrorText(err), { kind: 'error' });
    }
  }

  async _sendFiles() {
    const files = [...(this.fileInput.files ?? [])];
    this.fileInput.value = '';
    for (const f of files) {
      try {
        await this.chat.sendFile(f, { kind: 'file', name: f.name, mime: f.type || 'application/octet-stream' });
      } catch (err) {
        toast(chatErrorText(err), { kind: 'error' });
      }
    }
  }

  /** "Foto aufnehmen": the preview dialog; only "Senden" sends. */
  async _photo() {
    const track = this.session.media.videoTrack;
    if (!track || track.readyState !== 'live' || !track.enabled) {
      toast(t('chat.error.nocamera'), { kind: 'error' });
      return;
    }
    this.photoDialog ??= new PhotoDialog(this.session.media);
    const shot = await this.photoDialog.open();
    if (!shot) {
      this.photoBtn.focus();
      return;
    }
    this.photoBtn.disabled = true;
    try {
      await this.chat.sendFile(shot.blob, { kind: 'photo', width: shot.width, height: shot.height });
    } catch (err) {
      toast(chatErrorText(err instanceof ChatError ? err : new ChatError('photo')), { kind: 'error' });
    } finally {
      this._renderControls();
      this.photoBtn.focus();
    }
  }

  /**
   * @param {ChatEntryView} v
   * @param {HTMLButtonElement} btn
   */
  async _download(v, btn) {
    btn.disabled = true;
    try {
      const blob = await this.chat.fetchFile(v);
      const p = v.payload;
      saveBlob(blob, p && p.kind === 'file' ? p.name : `foto-${v.id.slice(0, 8)}.jpg`);
    } catch (err) {
      toast(chatErrorText(err), { kind: 'error' });
    } finally {
      btn.disabled = false;
    }
  }

  destroy() {
    for (const off of this._off) off();
    this._off = [];
    clearTimeout(this._announceTimer);
    this.photoDialog?.destroy();
    this.photoDialog = null;
    this.el.remove();
    this.toggleBtn.remove();
  }
}
