// @ts-check
/**
 * The call view shared by advisor and customer: one tile per participant
 * (camera or avatar), a remote screen share shown large, the own camera
 * as a muted preview, controls (microphone, camera, screen, devices,
 * leave, end), the participant list with states and, for advisors, the
 * waiting room with Admit / Reject. It renders a CallSession (call.js) and
 * holds no connection logic itself.
 *
 * Test hooks: every remote <video> has data-participant="<id>" and
 * data-source="camera"|"screen"; buttons have data-testid (see README in
 * the report): toggle-mic, toggle-camera, screen-share, devices, leave,
 * end, end-confirm, admit-<id> (+ inner "admit"), reject-<id> (+ inner
 * "reject"), invite-colleague, colleague-link. End-to-end encryption (web/E2EE.md):
 * e2ee-badge (data-enabled), safety-code (data-code), e2ee-error (media
 * of someone in the call does not decrypt), e2ee-warning (someone sends
 * without E2EE). Participant list entries
 * and tiles carry data-participant and data-state (a participant whose
 * connection dropped is "reconnecting", shown with a badge, not removed).
 * The encrypted chat (chat-ui.js) adds chat-toggle and its panel; for a
 * customer, "Meine Daten" (my-data-ui.js) adds my-data-toggle and its panel.
 *
 * ReconnectBanner, also here, is the page-wide notice while this page's
 * own connection is being restored (data-testid "reconnect-banner").
 * @module
 */

import { t, onLangChange, applyTranslations } from './i18n.js';
import { h, toast, errorText, initials, copyText, formatTime } from './ui.js';
import { icon, setIcon } from './icons.js';
import { canShareScreen, fillDeviceSelect, LevelMeter } from './devices.js';
import { ChatPanel } from './chat-ui.js';
import { showWaitingCount, chime, notifyDesktop, knockSettings } from './knock.js';
import { DocumentsPanel } from './contract-ui.js';
import { MyDataPanel } from './my-data-ui.js';

/**
 * @typedef {import('./call.js').CallSession} CallSession
 * @typedef {import('./protocol.js').Participant} Participant
 * @typedef {import('./rtc.js').RemoteTrack} RemoteTrack
 * @typedef {import('./i18n.js').Key} Key
 *
 * @typedef {{
 *   role: 'advisor'|'customer',
 *   title: string,
 *   staffId?: number,
 *   onEndConsultation?: () => Promise<void>,
 *   onColleagueLink?: () => Promise<{url: string, expiresAt: string}>,
 *   myData?: import('./my-data-ui.js').MyDataPanelOptions
 * }} CallViewOptions
 *
 * @typedef {{
 *   root: HTMLElement,
 *   media: HTMLElement,
 *   video: HTMLVideoElement|null,
 *   avatar: HTMLElement,
 *   name: HTMLElement,
 *   badges: HTMLElement,
 *   status: HTMLElement,
 *   trackKey: string
 * }} Tile
 */

/**
 * A display name with a placeholder for anonymous participants.
 * @param {Participant|undefined} p
 * @returns {string}
 */
function displayName(p) {
  const name = p?.name?.trim();
  return name ? name : t('common.guest');
}

/**
 * Is the own microphone shown as on? Yes when it sends, and while the
 * devices are still starting (no track and no error yet) if it is meant
 * to be on.
 * @param {import('./devices.js').LocalMedia} m
 * @returns {boolean}
 */
function micShownOn(m) {
  return m.audioOn && (!!m.audioTrack || (!m.audioError && !m.stopped));
}

/**
 * The same for the own camera.
 * @param {import('./devices.js').LocalMedia} m
 * @returns {boolean}
 */
function camShownOn(m) {
  return m.videoOn && (!!m.videoTrack || (!m.videoError && !m.stopped));
}

export class CallView {
  /**
   * @param {HTMLElement} root container; its content is replaced
   * @param {CallSession} session
   * @param {CallViewOptions} opts
   */
  constructor(root, session, opts) {
    this.root = root;
    this.session = session;
    this.opts = opts;
    /** @type {Map<string, Tile>} */
    this.tiles = new Map();
    /** @type {Map<string, HTMLAudioElement>} */
    this.audios = new Map();
    /** @type {Map<string, HTMLLIElement>} */
    this.waitingItems = new Map();
    /** @type {Map<string, HTMLElement|null>} waiting participant → its "is waiting" toast */
    this.knownWaiting = new Map();
    this.audioBlocked = false;
    /** @type {Map<string, {audio: boolean, video: boolean}>} what each participant last sent (see _mediaOf) */
    this.lastMedia = new Map();
    /** @type {(() => void)[]} */
    this._off = [];
    // ----------------------------------------------------------------- build
    const advisor = this.opts.role === 'advisor';

    this.statusEl = h('p', { class: 'call-status', attrs: { role: 'status', 'aria-live': 'polite' } });
    this.unlockBtn = h('button', { class: 'btn btn-small btn-warning', attrs: { type: 'button', hidden: true }, data: { testid: 'enable-audio' } }, [
      icon('sound'),
      h('span', { i18n: 'call.enableAudio' }),
    ]);
    this.unlockBtn.addEventListener('click', () => this._unlockAudio());

    // End-to-end encryption (web/E2EE.md): lock badge, safety code, and
    // the alerts for undecryptable media or a call without E2EE.
    this.e2eeBadge = h('span', { class: 'e2ee-badge', data: { testid: 'e2ee-badge' }, attrs: { hidden: true } });
    this.safetyEl = h('span', { class: 'e2ee-code', data: { testid: 'safety-code' }, attrs: { hidden: true } });
    this.e2eeError = h('p', { class: 'e2ee-alert e2ee-alert-bad', data: { testid: 'e2ee-error' }, attrs: { role: 'alert', hidden: true } });
    this.e2eeWarning = h('p', { class: 'e2ee-alert', data: { testid: 'e2ee-warning' }, attrs: { role: 'alert', hidden: true } });
    const header = h('header', { class: 'call-header' }, [
      h('div', { class: 'call-heading' }, [
        h('h1', { class: 'call-title', text: this.opts.title || t('join.heading'), id: 'call-title' }),
        this.statusEl,
        this.e2eeBadge,
        this.safetyEl,
      ]),
      this.unlockBtn,
      this.e2eeError,
      this.e2eeWarning,
    ]);

    this.focusEl = h('div', { class: 'stage-focus', attrs: { hidden: true } });
    this.tilesEl = h('div', { class: 'stage-tiles' });
    this.sharingNotice = h('p', { class: 'stage-notice', attrs: { hidden: true } });
    this.emptyNotice = h('p', { class: 'stage-empty', attrs: { hidden: true } });
    this.stageEl = h('section', { class: 'stage', attrs: { 'aria-labelledby': 'call-title' } }, [
      this.focusEl,
      this.tilesEl,
      this.emptyNotice,
      this.sharingNotice,
    ]);

    // Side panel: waiting room (advisor), participants, colleague link (advisor).
    this.waitingList = h('ul', { class: 'people', id: 'waiting-list', data: { testid: 'waiting-list' } });
    this.waitingEmpty = h('p', { class: 'muted', i18n: 'call.waitingEmpty' });
    this.waitingCount = h('span', { class: 'count', text: '0' });
    this.peopleList = h('ul', { class: 'people', id: 'participant-list', data: { testid: 'participant-list' } });
    this.colleagueOut = h('div', { class: 'colleague-out', attrs: { hidden: true } });
    const closeSide = h('button', {
      class: 'btn-icon side-close',
      attrs: { type: 'button', 'aria-label': t('common.close'), 'data-i18n-aria-label': 'common.close' },
    }, [icon('close')]);
    closeSide.addEventListener('click', () => this._toggleSide(false));

    /** @type {(HTMLElement|null)[]} */
    const sideParts = [
      h('div', { class: 'side-top' }, [h('h2', { class: 'side-title', i18n: 'call.participants' }), closeSide]),
    ];
    if (advisor) {
      sideParts.push(
        h('section', { class: 'side-section', attrs: { 'aria-labelledby': 'waiting-heading' } }, [
          h('h3', { id: 'waiting-heading' }, [h('span', { i18n: 'call.waitingRoom' }), ' ', this.waitingCount]),
          this.waitingEmpty,
          this.waitingList,
          knockSettings('call-knock'),
        ]),
      );
    }
    sideParts.push(
      h('section', { class: 'side-section', attrs: { 'aria-labelledby': 'people-heading' } }, [
        h('h3', { id: 'people-heading', i18n: 'call.inCall' }),
        this.peopleList,
      ]),
    );
    if (advisor && this.opts.onColleagueLink) {
      const btn = h('button', { class: 'btn btn-secondary btn-block', attrs: { type: 'button' }, id: 'invite-colleague', data: { testid: 'invite-colleague' } }, [
        icon('link'),
        h('span', { i18n: 'call.inviteColleague' }),
      ]);
      btn.addEventListener('click', () => void this._colleague(btn));
      sideParts.push(h('section', { class: 'side-section' }, [btn, this.colleagueOut]));
    }
    const sideEl = h('aside', { class: 'side', id: 'call-side', attrs: { 'aria-label': t('call.participants'), 'data-i18n-aria-label': 'call.participants' } }, sideParts);
    sideEl.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && this.callEl.classList.contains('side-open')) this._toggleSide(false);
    });
    this.sideEl = sideEl;

    // The knock notice (advisor): a row above the stage, the side panel
    // and every drawer, with Admit / Reject for the longest-waiting customer.
    /** @type {string} the participant the knock notice names */
    this.knockPid = '';
    this.knockText = h('p', { class: 'knock-text', data: { testid: 'knock-text' } });
    this.knockAdmit = h('button', { class: 'btn btn-primary btn-small', attrs: { type: 'button' }, data: { testid: 'knock-admit' } }, [
      h('span', { i18n: 'call.admit' }),
    ]);
    this.knockReject = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'knock-reject' } }, [
      h('span', { i18n: 'call.reject' }),
    ]);
    const knockShow = h('button', { class: 'btn btn-ghost btn-small knock-show', attrs: { type: 'button', 'aria-controls': 'call-side' }, data: { testid: 'knock-show' } }, [
      h('span', { i18n: 'call.waitingRoom' }),
    ]);
    this.knockAdmit.addEventListener('click', () => this._decide(this.knockPid, true, [this.knockAdmit, this.knockReject]));
    this.knockReject.addEventListener('click', () => this._decide(this.knockPid, false, [this.knockAdmit, this.knockReject]));
    knockShow.addEventListener('click', () => this._showWaitingRoom());
    this.knockBar = advisor
      ? h('div', {
        class: 'knock-bar',
        attrs: { role: 'region', 'aria-label': t('call.knock.region'), 'data-i18n-aria-label': 'call.knock.region', hidden: true },
        data: { testid: 'knock-bar' },
      }, [icon('bell'), this.knockText, h('div', { class: 'knock-actions' }, [this.knockAdmit, this.knockReject, knockShow])])
      : null;

    // Controls.
    /**
     * @param {string} id
     * @param {string} testid
     * @param {Parameters<typeof icon>[0]} ic
     * @param {Key} label
     * @param {string} [extra]
     */
    const ctl = (id, testid, ic, label, extra = '') =>
      h('button', { class: `ctl ${extra}`, id, attrs: { type: 'button' }, data: { testid } }, [
        icon(ic),
        h('span', { class: 'ctl-label', i18n: label }),
      ]);
    this.micBtn = ctl('btn-mic', 'toggle-mic', 'mic', 'call.mic');
    this.camBtn = ctl('btn-camera', 'toggle-camera', 'camera', 'call.camera');
    this.screenBtn = ctl('btn-screen', 'screen-share', 'screen', 'call.screen');
    this.screenBtn.setAttribute('aria-label', t('call.screenLabel'));
    this.screenBtn.setAttribute('data-i18n-aria-label', 'call.screenLabel');
    this.devicesBtn = ctl('btn-devices', 'devices', 'settings', 'call.devices');
    this.peopleBtn = ctl('btn-people', 'participants', 'users', 'call.participants', 'ctl-people');
    this.peopleBadge = h('span', { class: 'ctl-badge', attrs: { hidden: true } });
    this.peopleBtn.append(this.peopleBadge);
    this.peopleBtn.setAttribute('aria-controls', 'call-side');
    this.peopleBtn.setAttribute('aria-expanded', String(window.matchMedia('(min-width: 960px)').matches));
    this.leaveBtn = ctl('btn-leave', 'leave', 'leave', 'call.leave', 'ctl-leave');
    this.endBtn = advisor ? ctl('btn-end', 'end', 'end', 'call.end', 'ctl-danger') : null;
    if (this.endBtn) {
      this.endBtn.setAttribute('aria-label', t('call.endLabel'));
      this.endBtn.setAttribute('data-i18n-aria-label', 'call.endLabel');
    }
    if (!canShareScreen()) this.screenBtn.hidden = true;

    this.micBtn.addEventListener('click', () => this.session.toggleMic());
    this.camBtn.addEventListener('click', () => this.session.toggleCamera());
    this.screenBtn.addEventListener('click', () => void this.session.toggleScreen());
    this.devicesBtn.addEventListener('click', () => this._openDevices());
    this.peopleBtn.addEventListener('click', () => this._toggleSide());
    // Leaving asks first (a mis-tap must not end the call for this person).
    this.leaveBtn.addEventListener('click', () => this._confirmLeave());
    this.endBtn?.addEventListener('click', () => this._confirmEnd());

    // Encrypted chat, files and photos (chat-ui.js).
    /** @type {ChatPanel|null} */
    this.chatPanel = session.chat ? new ChatPanel(session.chat, session) : null;
    // Contracts to sign in the call (contract-ui.js); one drawer open at a time.
    this.docsPanel = new DocumentsPanel(session, {
      role: this.opts.role,
      title: this.opts.title,
      selfStaff: this.opts.staffId !== undefined ? `staff:${this.opts.staffId}` : undefined,
      onOpen: () => {
        if (this.chatPanel?.open) this.chatPanel.toggle(false);
        this.myDataPanel?.hide();
      },
    });
    // "Meine Daten" (my-data-ui.js): the customer's stored data and rights.
    /** @type {MyDataPanel|null} */
    this.myDataPanel = !advisor && this.opts.myData
      ? new MyDataPanel({
        ...this.opts.myData,
        onOpen: () => {
          if (this.chatPanel?.open) this.chatPanel.toggle(false);
          this.docsPanel.hide();
        },
      })
      : null;
    this.chatPanel?.toggleBtn.addEventListener('click', () => {
      if (this.chatPanel?.open) {
        this.docsPanel.hide();
        this.myDataPanel?.hide();
      }
    });

    const controls = h('div', { class: 'controls', attrs: { role: 'toolbar', 'aria-label': t('call.controls'), 'data-i18n-aria-label': 'call.controls' } }, [
      // "Meine Daten" with the other drawers, away from "Verlassen" (easily
      // mis-tapped side by side on a phone).
      h('div', { class: 'controls-group' }, [this.micBtn, this.camBtn, this.screenBtn, this.devicesBtn, this.peopleBtn, this.chatPanel?.toggleBtn, this.docsPanel.toggleBtn, this.myDataPanel?.toggleBtn]),
      h('div', { class: 'controls-group' }, [this.leaveBtn, this.endBtn]),
    ]);
    // Toasts sit just above the controls, however many rows they wrap to
    // (app.css: --controls-h). CSSOM, not an inline style: CSP allows it.
    const controlsHeight = new ResizeObserver(() => {
      document.body.style.setProperty('--controls-h', `${controls.offsetHeight}px`);
    });
    controlsHeight.observe(controls);
    this._off.push(() => {
      controlsHeight.disconnect();
      document.body.style.removeProperty('--controls-h');
    });

    // Devices dialog.
    this.camSelect = h('select', { id: 'call-camera-select', data: { testid: 'camera-select' } });
    this.micSelect = h('select', { id: 'call-mic-select', data: { testid: 'mic-select' } });
    this.camSelect.addEventListener('change', () => void this.session.useDevice('video', this.camSelect.value));
    this.micSelect.addEventListener('change', () => void this.session.useDevice('audio', this.micSelect.value));
    this.levelBar = h('span', { class: 'level-bar' });
    const closeDevices = h('button', { class: 'btn btn-primary', attrs: { type: 'submit' }, i18n: 'common.close' });
    this.devicesDialog = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': 'devices-title' } }, [
      h('form', { attrs: { method: 'dialog' }, class: 'dialog-body' }, [
        h('h2', { id: 'devices-title', i18n: 'call.devicesTitle' }),
        h('div', { class: 'field' }, [h('label', { attrs: { for: 'call-camera-select' }, i18n: 'device.camera' }), this.camSelect]),
        h('div', { class: 'field' }, [
          h('label', { attrs: { for: 'call-mic-select' }, i18n: 'device.microphone' }),
          this.micSelect,
          h('span', { class: 'level', attrs: { role: 'presentation', title: t('device.level'), 'data-i18n-title': 'device.level' } }, [this.levelBar]),
        ]),
        h('div', { class: 'dialog-actions' }, [closeDevices]),
      ]),
    ]);
    this.devicesDialog.addEventListener('close', () => this.meter.detach());

    // End confirmation (advisor).
    this.endDialog = null;
    if (advisor) {
      const cancel = h('button', { class: 'btn btn-secondary', attrs: { type: 'submit', value: 'cancel' }, i18n: 'common.cancel' });
      const ok = h('button', { class: 'btn btn-danger', attrs: { type: 'submit', value: 'end' }, id: 'end-confirm', data: { testid: 'end-confirm' }, i18n: 'call.endConfirmOk' });
      this.endDialog = h('dialog', { class: 'dialog', attrs: { 'aria-labelledby': 'end-dialog-title', 'aria-describedby': 'end-dialog-text' } }, [
        h('form', { attrs: { method: 'dialog' }, class: 'dialog-body' }, [
          h('h2', { id: 'end-dialog-title', i18n: 'call.endConfirmTitle' }),
          h('p', { id: 'end-dialog-text', i18n: 'call.endConfirmText' }),
          h('div', { class: 'dialog-actions' }, [cancel, ok]),
        ]),
      ]);
      const dlg = this.endDialog;
      dlg.addEventListener('close', () => {
        if (dlg.returnValue === 'end') void this._end();
      });
    }

    // Leave confirmation (everyone).
    {
      const cancel = h('button', { class: 'btn btn-secondary', attrs: { type: 'submit', value: 'cancel', autofocus: '' }, data: { testid: 'leave-cancel' }, i18n: 'common.cancel' });
      const ok = h('button', { class: 'btn btn-danger', attrs: { type: 'submit', value: 'leave' }, data: { testid: 'leave-confirm' }, i18n: 'call.leaveConfirmOk' });
      this.leaveDialog = h('dialog', { class: 'dialog', data: { testid: 'leave-dialog' }, attrs: { 'aria-labelledby': 'leave-dialog-title', 'aria-describedby': 'leave-dialog-text' } }, [
        h('form', { attrs: { method: 'dialog' }, class: 'dialog-body' }, [
          h('h2', { id: 'leave-dialog-title', i18n: 'call.leaveConfirmTitle' }),
          h('p', { id: 'leave-dialog-text', i18n: advisor ? 'call.leaveConfirmTextStaff' : 'call.leaveConfirmText' }),
          h('div', { class: 'dialog-actions' }, [cancel, ok]),
        ]),
      ]);
      const dlg = this.leaveDialog;
      dlg.addEventListener('close', () => {
        if (dlg.returnValue === 'leave') this.session.leave();
      });
    }

    this.audioSink = h('div', { class: 'audio-sink', attrs: { 'aria-hidden': 'true' } });

    this.callEl = h('div', { class: 'call', data: { layout: 'grid', role: this.opts.role } }, [
      header,
      this.knockBar,
      h('div', { class: 'call-main' }, [this.stageEl, this.sideEl, this.chatPanel?.el, this.docsPanel.el, this.myDataPanel?.el, this.docsPanel.viewer.el]),
      controls,
      this.devicesDialog,
      this.endDialog,
      this.leaveDialog,
      this.audioSink,
    ]);
    this.root.replaceChildren(this.callEl);
    this.meter = new LevelMeter(this.levelBar);

    this._off.push(
      session.on('roster', () => this.render()),
      session.on('tracks', () => this.render()),
      session.on('self', () => this.render()),
      session.on('local', () => this.render()),
      session.on('connection', () => {
        this._renderStatus();
        this._renderControls();
      }),
      session.on('error', (e) => toast(errorText(e.ns, e.code), { kind: 'error' })),
      session.media.on('devices', () => this._fillDevices()),
      session.media.on('track', () => {
        this._fillDevices();
        if (this.devicesDialog.open) this.meter.attach(session.media.audioTrack);
      }),
      onLangChange(() => this.render()),
    );
    if (session.e2ee) this._off.push(session.e2ee.on('update', () => this._renderE2EE()));
    this.render();
  }


  // ----------------------------------------------------------------- render

  render() {
    if (this.session.ended) return;
    this._renderStage();
    this._renderLists();
    this._renderControls();
    this._renderStatus();
    this._renderE2EE();
    applyTranslations(this.root);
  }

  /** Lock badge, safety code, decryption failures, unencrypted warning. */
  _renderE2EE() {
    const e = this.session.e2ee;
    const code = e?.safetyCode ?? null;
    const enabled = !!e && e.enabled;
    const sig = `${enabled}|${code}|${t('e2ee.badge')}|${t('e2ee.safetyCode', { code: code ?? '' })}`;
    if (this.e2eeBadge.dataset.sig !== sig) {
      this.e2eeBadge.dataset.sig = sig;
      this.e2eeBadge.replaceChildren(icon(enabled ? 'lock' : 'unlock'), h('span', { text: t(enabled ? 'e2ee.badge' : 'e2ee.badgeOff') }));
      this.e2eeBadge.title = enabled ? t('e2ee.badgeTitle') : '';
      this.e2eeBadge.dataset.enabled = String(enabled);
      this.e2eeBadge.hidden = !e;
      this.safetyEl.textContent = code ? t('e2ee.safetyCode', { code }) : '';
      this.safetyEl.dataset.code = code ?? '';
      this.safetyEl.hidden = !enabled || !code;
    }
    // Media from someone in the call that does not decrypt.
    const inCall = new Set(this._remotePeople().map((p) => p.id));
    const broken = !!e && enabled && [...e.broken].some((id) => inCall.has(id));
    const errText = t('e2ee.error');
    if (this.e2eeError.textContent !== errText) this.e2eeError.textContent = errText;
    this.e2eeError.hidden = !broken;
    // Someone (maybe this browser) sends without E2EE: everyone is told.
    const plain = !!e && (e.mode === 'none' || this.session.participants.some((p) => this.session.inCall(p) && p.e2ee === false));
    const warnText = t('e2ee.notEncrypted');
    if (this.e2eeWarning.textContent !== warnText) this.e2eeWarning.textContent = warnText;
    this.e2eeWarning.hidden = !plain;
  }

  _renderStatus() {
    const s = this.session;
    /** @type {Key} */
    let key;
    let kind = 'ok';
    if (s.connection === 'reconnecting') {
      key = 'call.status.reconnecting';
      kind = 'warn';
    } else if (s.connection === 'connecting') {
      key = 'call.status.connecting';
      kind = 'busy';
    } else if (s.connection === 'failed') {
      key = 'call.status.mediaFailed';
      kind = 'bad';
    } else if (s.connection === 'unstable') {
      key = 'call.status.unstable';
      kind = 'warn';
    } else {
      key = 'call.status.connected';
    }
    const text = t(key);
    if (this.statusEl.textContent !== text) this.statusEl.textContent = text;
    this.statusEl.dataset.kind = kind;
  }

  /**
   * Whether a remote participant sends sound and picture, for the muted
   * badges. While their connection is being restored, and after it until
   * they publish again (the server's roster says false then, PROTOCOL.md
   * "Reconnecting"), it is what they last sent: nobody muted anything.
   * @param {Participant} p
   * @returns {{audio: boolean, video: boolean}}
   */
  _mediaOf(p) {
    const publishing = p.state === 'joined' && Object.keys(p.tracks ?? {}).length > 0;
    if (publishing) {
      const m = { audio: !!p.audio, video: !!p.video };
      this.lastMedia.set(p.id, m);
      return m;
    }
    return this.lastMedia.get(p.id) ?? { audio: !!p.audio, video: !!p.video };
  }

  /** Remote participants in the call (joined or reconnecting). @returns {Participant[]} */
  _remotePeople() {
    const selfId = this.session.self?.id;
    return this.session.participants.filter((p) => p.id !== selfId && this.session.inCall(p));
  }

  _renderStage() {
    const s = this.session;
    const selfId = s.self?.id;
    /** @type {Map<string, {p: Participant|undefined, camera: RemoteTrack|null, screens: RemoteTrack[], audio: RemoteTrack[]}>} */
    const people = new Map();
    for (const p of this._remotePeople()) people.set(p.id, { p, camera: null, screens: [], audio: [] });
    for (const entry of s.remoteTracks()) {
      if (entry.participantId === selfId) continue;
      let person = people.get(entry.participantId);
      if (!person) {
        const p = s.participant(entry.participantId);
        // Gone from the call: its tracks are about to be removed.
        if (p && !s.inCall(p)) continue;
        person = { p, camera: null, screens: [], audio: [] };
        people.set(entry.participantId, person);
      }
      const source = s.sourceOf(entry.participantId, entry.trackId, entry.kind);
      if (entry.kind === 'audio') person.audio.push(entry);
      else if (source === 'screen') person.screens.push(entry);
      else if (!person.camera || entry.addedAt > person.camera.addedAt) person.camera = entry;
    }

    /** @type {Set<string>} */
    const keep = new Set();
    /** @type {Tile[]} */
    const ordered = [];
    /** @type {Tile|null} */
    let focus = null;

    for (const [pid, person] of people) {
      const key = `cam:${pid}`;
      keep.add(key);
      const tile = this._tile(key, false);
      const name = displayName(person.p);
      this._setTileVideo(tile, person.camera, pid, 'camera');
      const sends = person.p ? this._mediaOf(person.p) : null;
      const videoOn = !!person.camera && sends?.video !== false;
      tile.root.classList.toggle('video-off', !videoOn);
      tile.avatar.textContent = initials(person.p?.name || '?');
      tile.name.textContent = name;
      tile.root.setAttribute('aria-label', t('call.videoOf', { name }));
      tile.root.dataset.participant = pid;
      tile.root.dataset.state = person.p?.state ?? 'joined';
      this._setBadges(tile, {
        muted: sends ? !sends.audio : false,
        reconnecting: person.p?.state === 'reconnecting',
      });
      ordered.push(tile);

      for (const scr of person.screens) {
        const skey = `scr:${scr.key}`;
        keep.add(skey);
        const stile = this._tile(skey, true);
        this._setTileVideo(stile, scr, pid, 'screen');
        stile.root.classList.remove('video-off');
        stile.name.textContent = t('call.screenOf', { name });
        stile.root.setAttribute('aria-label', t('call.screenOf', { name }));
        this._setBadges(stile, { muted: false, reconnecting: false });
        if (!focus) focus = stile;
        else ordered.push(stile);
      }
      for (const a of person.audio) this._ensureAudio(a, pid);
    }

    // Own camera preview.
    keep.add('local');
    const local = this._tile('local', false);
    local.root.classList.add('tile-local');
    const media = s.media;
    if (!local.video) {
      const v = h('video', { class: 'mirror', attrs: { autoplay: true, playsinline: true, muted: true }, data: { local: 'camera', testid: 'local-video' } });
      v.muted = true;
      v.srcObject = media.stream;
      local.video = v;
      local.media.prepend(v);
      v.play().catch(() => {});
    } else if (local.video.srcObject !== media.stream) {
      local.video.srcObject = media.stream;
    }
    const localVideoOn = !!media.videoTrack && media.videoOn;
    local.root.classList.toggle('video-off', !localVideoOn);
    const selfName = s.self?.name?.trim() || t('common.you');
    local.avatar.textContent = initials(s.self?.name || t('common.you'));
    local.name.textContent = s.self?.name?.trim() ? t('call.youSuffix', { name: selfName }) : t('common.you');
    local.root.setAttribute('aria-label', t('call.yourVideo'));
    this._setBadges(local, { muted: !micShownOn(media), reconnecting: false });
    ordered.push(local);

    // Drop tiles and audio elements that are gone.
    for (const [key, tile] of this.tiles) {
      if (!keep.has(key)) {
        if (tile.video) tile.video.srcObject = null;
        tile.root.remove();
        this.tiles.delete(key);
      }
    }
    const audioKeys = new Set(s.remoteTracks().filter((e) => e.kind === 'audio').map((e) => e.key));
    for (const [key, el] of this.audios) {
      if (!audioKeys.has(key)) {
        el.srcObject = null;
        el.remove();
        this.audios.delete(key);
      }
    }

    // Place: focus area for the first screen share, the rest in the grid.
    if (focus) {
      if (focus.root.parentElement !== this.focusEl) this.focusEl.replaceChildren(focus.root);
    } else {
      this.focusEl.replaceChildren();
    }
    this.focusEl.hidden = !focus;
    ordered.forEach((tile, i) => {
      if (this.tilesEl.children[i] !== tile.root) this.tilesEl.insertBefore(tile.root, this.tilesEl.children[i] ?? null);
    });
    const remoteCount = people.size;
    this.callEl.dataset.layout = focus ? 'focus' : 'grid';
    this.tilesEl.dataset.count = String(ordered.length);
    // 1:1 without a screen share: the own preview floats in a corner.
    const pip = !focus && remoteCount === 1;
    local.root.classList.toggle('pip', pip);
    this.callEl.dataset.pip = String(pip);

    this.emptyNotice.hidden = remoteCount > 0;
    this.emptyNotice.textContent = t('call.status.alone');
    this.sharingNotice.hidden = !s.sharingScreen;
    this.sharingNotice.textContent = t('call.sharing');
  }

  /**
   * @param {string} key
   * @param {boolean} screen
   * @returns {Tile}
   */
  _tile(key, screen) {
    let tile = this.tiles.get(key);
    if (tile) return tile;
    const avatar = h('div', { class: 'tile-avatar', attrs: { 'aria-hidden': 'true' } });
    const media = h('div', { class: 'tile-media' }, [avatar]);
    const name = h('span', { class: 'tile-name' });
    const badges = h('span', { class: 'tile-badges' });
    const status = h('div', { class: 'tile-status' });
    const root = h('figure', { class: screen ? 'tile tile-screen' : 'tile', attrs: { role: 'group' }, data: { tile: key } }, [
      media,
      status,
      h('figcaption', { class: 'tile-caption' }, [name, badges]),
    ]);
    tile = { root, media, video: null, avatar, name, badges, status, trackKey: '' };
    this.tiles.set(key, tile);
    return tile;
  }

  /**
   * Attaches a remote track to a tile's <video> (created on demand).
   * @param {Tile} tile
   * @param {RemoteTrack|null} entry
   * @param {string} pid
   * @param {'camera'|'screen'} source
   */
  _setTileVideo(tile, entry, pid, source) {
    if (!entry) {
      if (tile.video) {
        tile.video.srcObject = null;
        tile.video.remove();
        tile.video = null;
      }
      tile.trackKey = '';
      return;
    }
    if (!tile.video) {
      const v = h('video', { attrs: { autoplay: true, playsinline: true, muted: true } });
      v.muted = true;
      tile.video = v;
      tile.media.prepend(v);
    }
    const v = tile.video;
    v.dataset.participant = pid;
    v.dataset.source = source;
    if (tile.trackKey !== entry.key || v.srcObject !== entry.stream) {
      tile.trackKey = entry.key;
      v.srcObject = entry.stream;
      this._watchFirstFrame(v, entry);
      v.play().catch(() => {});
    }
  }

  /**
   * Reports the first presented frame of a remote video (the RTC layer
   * also polls framesDecoded; whichever comes first counts).
   * @param {HTMLVideoElement} video
   * @param {RemoteTrack} entry
   */
  _watchFirstFrame(video, entry) {
    if (entry.firstFrameAt !== null) return;
    if (typeof video.requestVideoFrameCallback === 'function') {
      video.requestVideoFrameCallback(() => {
        this.session.rtc?.noteFirstFrame(entry.key, performance.now());
      });
    }
  }

  /**
   * @param {Tile} tile
   * @param {{muted: boolean, reconnecting: boolean}} b
   */
  _setBadges(tile, b) {
    const sig = `${b.muted}|${b.reconnecting}|${t('call.badge.muted')}|${t('call.badge.reconnecting')}`;
    if (tile.badges.dataset.sig === sig) return;
    tile.badges.dataset.sig = sig;
    tile.badges.replaceChildren();
    tile.status.replaceChildren();
    if (b.muted) {
      tile.badges.append(h('span', { class: 'badge badge-muted', attrs: { title: t('call.badge.muted') } }, [
        icon('mic-off'),
        h('span', { class: 'sr-only', text: t('call.badge.muted') }),
      ]));
    }
    if (b.reconnecting) {
      tile.status.append(h('span', { class: 'badge badge-warn', data: { testid: 'badge-reconnecting' }, text: t('call.badge.reconnecting') }));
    }
    tile.root.classList.toggle('reconnecting', b.reconnecting);
  }

  /**
   * @param {RemoteTrack} entry
   * @param {string} pid
   */
  _ensureAudio(entry, pid) {
    let el = this.audios.get(entry.key);
    if (!el) {
      el = h('audio', { attrs: { autoplay: true }, data: { audioParticipant: pid } });
      this.audios.set(entry.key, el);
      this.audioSink.append(el);
    }
    if (el.srcObject !== entry.stream) {
      el.srcObject = entry.stream;
      el.play().catch((err) => {
        if (err instanceof DOMException && err.name === 'NotAllowedError') {
          this.audioBlocked = true;
          this.unlockBtn.hidden = false;
          toast(t('call.audioBlocked'), { kind: 'info' });
        }
      });
    }
  }

  _unlockAudio() {
    for (const el of this.audios.values()) el.play().catch(() => {});
    for (const tile of this.tiles.values()) tile.video?.play().catch(() => {});
    this.audioBlocked = false;
    this.unlockBtn.hidden = true;
  }

  _renderLists() {
    const s = this.session;
    const selfId = s.self?.id;
    const advisor = this.opts.role === 'advisor';

    // In the call: self first, then the others.
    /** @type {Participant[]} */
    const inCall = [];
    if (s.self) inCall.push(s.self);
    for (const p of s.participants) {
      if (p.id !== selfId && s.inCall(p)) inCall.push(p);
    }
    this.peopleList.replaceChildren(
      ...inCall.map((p) => {
        const isSelf = p.id === selfId;
        const name = displayName(p);
        const audioOn = isSelf ? micShownOn(s.media) : this._mediaOf(p).audio;
        const videoOn = isSelf ? camShownOn(s.media) : this._mediaOf(p).video;
        return h('li', { class: 'person', data: { participant: p.id, state: p.state } }, [
          h('span', { class: 'person-avatar', attrs: { 'aria-hidden': 'true' }, text: initials(p.name || '?') }),
          h('span', { class: 'person-main' }, [
            h('span', { class: 'person-name', text: isSelf ? t('call.youSuffix', { name }) : name }),
            h('span', { class: 'person-role', text: t(p.role === 'advisor' ? 'call.role.advisor' : 'call.role.customer') }),
          ]),
          h('span', { class: 'person-icons' }, [
            p.state === 'reconnecting' ? h('span', { class: 'badge badge-warn', data: { testid: 'badge-reconnecting' }, text: t('call.state.reconnecting') }) : null,
            !audioOn ? h('span', { class: 'badge badge-muted', attrs: { title: t('device.micIsOff') } }, [icon('mic-off'), h('span', { class: 'sr-only', text: t('device.micIsOff') })]) : null,
            !videoOn ? h('span', { class: 'badge badge-muted', attrs: { title: t('device.cameraIsOff') } }, [icon('camera-off'), h('span', { class: 'sr-only', text: t('device.cameraIsOff') })]) : null,
            p.screen ? h('span', { class: 'badge', attrs: { title: t('call.screenLabel') } }, [icon('screen'), h('span', { class: 'sr-only', text: t('call.screenLabel') })]) : null,
          ]),
        ]);
      }),
    );

    if (!advisor) return;
    const waiting = s.participants.filter((p) => s.isWaiting(p) && p.id !== selfId);
    const ids = new Set(waiting.map((p) => p.id));
    for (const [id, li] of this.waitingItems) {
      if (!ids.has(id)) {
        li.remove();
        this.waitingItems.delete(id);
      }
    }
    waiting.forEach((p, i) => {
      const name = displayName(p);
      let li = this.waitingItems.get(p.id);
      if (!li) {
        const admit = h('button', {
          class: 'btn btn-primary btn-small',
          attrs: { type: 'button' },
          data: { testid: `admit-${p.id}`, pid: p.id },
        }, [h('span', { data: { testid: 'admit' }, text: t('call.admit') })]);
        const reject = h('button', {
          class: 'btn btn-secondary btn-small',
          attrs: { type: 'button' },
          data: { testid: `reject-${p.id}`, pid: p.id },
        }, [h('span', { data: { testid: 'reject' }, text: t('call.reject') })]);
        admit.addEventListener('click', () => this._decide(p.id, true, [admit, reject]));
        reject.addEventListener('click', () => this._decide(p.id, false, [admit, reject]));
        li = h('li', { class: 'person person-waiting', data: { participant: p.id, state: 'waiting' } }, [
          h('span', { class: 'person-avatar', attrs: { 'aria-hidden': 'true' } }),
          h('span', { class: 'person-main' }, [h('span', { class: 'person-name' }), h('span', { class: 'person-role' })]),
          h('span', { class: 'person-actions' }, [admit, reject]),
        ]);
        this.waitingItems.set(p.id, li);
      }
      const avatar = li.querySelector('.person-avatar');
      const nameEl = li.querySelector('.person-name');
      const roleEl = li.querySelector('.person-role');
      if (avatar) avatar.textContent = initials(p.name || '?');
      if (nameEl) nameEl.textContent = name;
      // Waiting, or reconnecting from the waiting room (still admittable).
      if (roleEl) roleEl.textContent = t(p.state === 'reconnecting' ? 'call.state.reconnecting' : 'call.state.waiting');
      li.dataset.state = p.state;
      for (const btn of li.querySelectorAll('button')) {
        const isAdmit = btn.dataset.testid?.startsWith('admit-');
        btn.setAttribute('aria-label', t(isAdmit ? 'call.admitName' : 'call.rejectName', { name }));
        const span = btn.querySelector('span');
        if (span) span.textContent = t(isAdmit ? 'call.admit' : 'call.reject');
      }
      if (this.waitingList.children[i] !== li) this.waitingList.insertBefore(li, this.waitingList.children[i] ?? null);
    });
    this.waitingEmpty.hidden = waiting.length > 0;
    this.waitingCount.textContent = String(waiting.length);
    this.peopleBadge.hidden = waiting.length === 0;
    this.peopleBadge.textContent = String(waiting.length);

    this._renderKnock(waiting);
    showWaitingCount(waiting.length);

    /** @type {Map<string, HTMLElement|null>} */
    const known = new Map();
    for (const p of waiting) {
      if (this.knownWaiting.has(p.id)) {
        known.set(p.id, this.knownWaiting.get(p.id) ?? null);
        continue;
      }
      // A new knock: a toast that stays while they wait (it is in the
      // toasts' live region, so screen readers hear it), with Admit;
      // the sound and the desktop notification if the advisor wants them.
      const name = displayName(p);
      known.set(p.id, toast(t('call.someoneWaiting', { name }), {
        kind: 'info',
        timeout: 0,
        action: {
          label: t('call.admit'),
          ariaLabel: t('call.admitName', { name }),
          testid: `toast-admit-${p.id}`,
          onClick: () => this._decide(p.id, true, []),
        },
      }));
      chime();
      notifyDesktop(t('call.knock.notifyTitle', { name }), () => this._showWaitingRoom());
    }
    // Admitted, rejected or gone: their toast is no longer news.
    for (const [id, el] of this.knownWaiting) if (!known.has(id)) el?.remove();
    this.knownWaiting = known;
  }

  /**
   * The knock notice: the longest-waiting customer, how many more.
   * @param {Participant[]} waiting
   */
  _renderKnock(waiting) {
    const bar = this.knockBar;
    if (!bar) return;
    const first = waiting[0];
    bar.hidden = !first;
    this.callEl.classList.toggle('has-knock', !!first);
    if (!first) {
      this.knockPid = '';
      return;
    }
    if (this.knockPid !== first.id) {
      this.knockAdmit.disabled = false;
      this.knockReject.disabled = false;
    }
    this.knockPid = first.id;
    bar.dataset.participant = first.id;
    const name = displayName(first);
    const more = waiting.length > 1 ? ` ${t('call.knock.more', { n: waiting.length - 1 })}` : '';
    const text = t('call.someoneWaiting', { name }) + more;
    if (this.knockText.textContent !== text) this.knockText.textContent = text;
    this.knockAdmit.setAttribute('aria-label', t('call.admitName', { name }));
    this.knockReject.setAttribute('aria-label', t('call.rejectName', { name }));
  }

  /**
   * Admits or rejects a waiting customer; the buttons stay disabled until
   * the roster changes (or 4 s, e.g. after room_full).
   * @param {string} pid
   * @param {boolean} admit
   * @param {HTMLButtonElement[]} buttons
   */
  _decide(pid, admit, buttons) {
    if (!pid) return;
    for (const b of buttons) b.disabled = true;
    if (admit) this.session.admit(pid);
    else this.session.reject(pid);
    window.setTimeout(() => {
      for (const b of buttons) b.disabled = false;
    }, 4000);
  }

  /** Is the side panel a column beside the stage (desktop) rather than a drawer? */
  _wide() {
    return window.matchMedia('(min-width: 960px)').matches;
  }

  /** Closes the drawers over the side panel (chat, documents, my data). */
  _closeDrawers() {
    if (this.chatPanel?.open) this.chatPanel.toggle(false);
    if (this.docsPanel.open) this.docsPanel.hide();
    if (this.myDataPanel?.open) this.myDataPanel.hide();
  }

  /** Brings the waiting room into view and focuses its first Admit. */
  _showWaitingRoom() {
    this._closeDrawers();
    this._toggleSide(true);
    const first = this.waitingList.querySelector('button');
    if (first instanceof HTMLButtonElement) first.focus();
  }

  _renderControls() {
    const s = this.session;
    const m = s.media;
    const joined = s.state === 'joined';

    // While the devices (re)start (a reload is a reconnect) the buttons
    // show what is intended, disabled, not a red "off".
    const micOn = micShownOn(m);
    this.micBtn.setAttribute('aria-pressed', String(micOn));
    this.micBtn.classList.toggle('is-off', !micOn);
    this.micBtn.disabled = !m.audioTrack;
    this.micBtn.title = m.audioTrack || !m.audioError ? '' : t('device.error.microphone', { reason: t(`device.error.${m.audioError ?? 'notfound'}`) });
    setIcon(this.micBtn, micOn ? 'mic' : 'mic-off');

    const camOn = camShownOn(m);
    this.camBtn.setAttribute('aria-pressed', String(camOn));
    this.camBtn.classList.toggle('is-off', !camOn);
    this.camBtn.disabled = !m.videoTrack;
    this.camBtn.title = m.videoTrack || !m.videoError ? '' : t('device.error.camera', { reason: t(`device.error.${m.videoError ?? 'notfound'}`) });
    setIcon(this.camBtn, camOn ? 'camera' : 'camera-off');

    this.screenBtn.setAttribute('aria-pressed', String(s.sharingScreen));
    this.screenBtn.classList.toggle('is-active', s.sharingScreen);
    // Screen sharing starts only on a live connection (a share already
    // running survives a reconnect and can always be stopped).
    this.screenBtn.disabled = !s.sharingScreen && (!joined || s.connection === 'reconnecting' || s.connection === 'connecting');
  }

  // ---------------------------------------------------------------- actions

  /**
   * Shows or hides the participants panel. On a phone it is a drawer
   * (side-open); on a desktop a column that can be folded away
   * (side-collapsed), and opening it closes a drawer that covers it.
   * @param {boolean} [open]
   */
  _toggleSide(open) {
    let next;
    if (this._wide()) {
      const covered = !!this.chatPanel?.open || this.docsPanel.open || !!this.myDataPanel?.open;
      const shown = !this.callEl.classList.contains('side-collapsed') && !covered;
      next = open ?? !shown;
      if (next) this._closeDrawers();
      this.callEl.classList.toggle('side-collapsed', !next);
      this.callEl.classList.remove('side-open');
    } else {
      next = open ?? !this.callEl.classList.contains('side-open');
      this.callEl.classList.toggle('side-open', next);
    }
    this.peopleBtn.setAttribute('aria-expanded', String(next));
    const target = next ? this.sideEl.querySelector('button:not(.side-close)') : null;
    if (target instanceof HTMLElement) target.focus();
    else if (!next) this.peopleBtn.focus();
  }

  _fillDevices() {
    const m = this.session.media;
    fillDeviceSelect(this.camSelect, m.devices.video, m.currentDeviceId('video'), (n) => t('device.cameraN', { n }));
    fillDeviceSelect(this.micSelect, m.devices.audio, m.currentDeviceId('audio'), (n) => t('device.microphoneN', { n }));
  }

  _openDevices() {
    this._fillDevices();
    void this.session.media.refreshDevices();
    if (!this.devicesDialog.open) this.devicesDialog.showModal();
    this.meter.attach(this.session.media.audioTrack);
  }

  _confirmLeave() {
    const dlg = this.leaveDialog;
    if (dlg.open) return;
    dlg.returnValue = '';
    dlg.showModal();
  }

  _confirmEnd() {
    const dlg = this.endDialog;
    if (!dlg) return;
    dlg.returnValue = '';
    dlg.showModal();
  }

  async _end() {
    const fn = this.opts.onEndConsultation;
    if (!fn || !this.endBtn) return;
    this.endBtn.disabled = true;
    try {
      await fn();
    } catch (err) {
      toast(errorText('error', err && typeof err === 'object' && 'code' in err ? String(err.code) : 'unknown'), { kind: 'error' });
    } finally {
      if (this.endBtn) this.endBtn.disabled = false;
    }
  }

  /** @param {HTMLButtonElement} btn */
  async _colleague(btn) {
    const fn = this.opts.onColleagueLink;
    if (!fn) return;
    btn.disabled = true;
    try {
      const link = await fn();
      const box = h('code', { class: 'link-box', id: 'colleague-link', data: { testid: 'colleague-link' }, text: link.url });
      const copy = h('button', { class: 'btn btn-secondary btn-small', attrs: { type: 'button' }, data: { testid: 'copy-colleague-link' } }, [
        icon('copy'),
        h('span', { i18n: 'common.copy' }),
      ]);
      copy.addEventListener('click', async () => {
        const ok = await copyText(link.url, box);
        toast(t(ok ? 'common.copied' : 'common.copyFailed'), { kind: ok ? 'success' : 'error' });
      });
      this.colleagueOut.replaceChildren(
        h('p', { class: 'label', i18n: 'call.colleagueLink' }),
        h('div', { class: 'link-row' }, [box, copy]),
        h('p', { class: 'muted small', text: `${t('common.validUntil', { time: formatTime(link.expiresAt) })} · ${t('call.colleagueHint')}` }),
      );
      this.colleagueOut.hidden = false;
    } catch (err) {
      toast(errorText('error', err && typeof err === 'object' && 'code' in err ? String(err.code) : 'unknown'), { kind: 'error' });
    } finally {
      btn.disabled = false;
    }
  }

  /** Removes the view and its listeners. */
  destroy() {
    if (this.knockBar) showWaitingCount(0);
    for (const toastEl of this.knownWaiting.values()) toastEl?.remove();
    this.knownWaiting.clear();
    for (const off of this._off) off();
    this._off = [];
    this.chatPanel?.destroy();
    this.chatPanel = null;
    this.docsPanel.destroy();
    this.myDataPanel?.destroy();
    this.myDataPanel = null;
    this.meter.close();
    for (const tile of this.tiles.values()) if (tile.video) tile.video.srcObject = null;
    for (const el of this.audios.values()) el.srcObject = null;
    this.tiles.clear();
    this.audios.clear();
    this.root.replaceChildren();
  }
}

/**
 * The page-wide notice while this page's own connection is being
 * restored: "Connection lost – reconnecting…", the attempt number and a
 * countdown to the next attempt, and a button to try at once. It follows
 * the session's `link` events; when the connection is back it disappears
 * with a short "Connection restored." A final failure is the page's end
 * screen, not this banner.
 */
export class ReconnectBanner {
  /** @param {CallSession} session */
  constructor(session) {
    this.session = session;
    this.title = h('strong', { class: 'conn-banner-title', text: t('call.reconnecting.title') });
    this.detail = h('span', { class: 'conn-banner-detail', attrs: { 'aria-live': 'off' } });
    this.retry = h('button', {
      class: 'btn btn-small btn-secondary',
      attrs: { type: 'button' },
      data: { testid: 'reconnect-now' },
      text: t('call.reconnecting.retryNow'),
    });
    this.retry.addEventListener('click', () => session.link.retryNow());
    this.el = h('div', {
      class: 'conn-banner',
      attrs: { role: 'status', 'aria-live': 'polite', hidden: true },
      data: { testid: 'reconnect-banner' },
    }, [
      h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
      h('span', { class: 'conn-banner-text' }, [this.title, this.detail]),
      this.retry,
    ]);
    document.body.append(this.el);
    this.tick = 0;
    this._off = [
      session.on('link', (st) => {
        if (st.phase === 'failed' || st.phase === 'closed') this.destroy();
        else this.render();
      }),
      session.on('reconnected', () => toast(t('call.reconnected'), { kind: 'success', timeout: 3000 })),
      session.on('end', () => this.destroy()),
      onLangChange(() => this.render()),
    ];
    this.render();
  }

  render() {
    const st = this.session.link.state;
    const show = st.phase === 'reconnecting' && !this.session.ended;
    this.el.hidden = !show;
    document.body.classList.toggle('reconnecting', show);
    if (!show) {
      clearInterval(this.tick);
      this.tick = 0;
      return;
    }
    this.title.textContent = t('call.reconnecting.title');
    this.retry.textContent = t('call.reconnecting.retryNow');
    /** @type {string} */
    let detail;
    if (st.nextRetryAt === null) {
      detail = t('call.reconnecting.trying', { n: st.attempt });
    } else {
      const s = Math.max(0, Math.ceil((st.nextRetryAt - performance.now()) / 1000));
      detail = t('call.reconnecting.next', { n: st.attempt, s });
    }
    if (this.detail.textContent !== detail) this.detail.textContent = detail;
    this.retry.hidden = st.nextRetryAt === null;
    this.el.dataset.attempt = String(st.attempt);
    if (!this.tick) this.tick = window.setInterval(() => this.render(), 250);
  }

  destroy() {
    clearInterval(this.tick);
    this.tick = 0;
    for (const off of this._off) off();
    this._off = [];
    document.body.classList.remove('reconnecting');
    this.el.remove();
  }
}
