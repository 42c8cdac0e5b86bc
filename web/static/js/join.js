// @ts-check
/**
 * Customer flow at /j/{token}: invite details → consent, optional name and
 * device check → join (REST) → waiting room (WebSocket) → call → end.
 *
 * A reload (or the link opened again) within the server's grace period
 * goes straight back into the call as the same participant: once
 * connected, this page remembers in localStorage only which consultation
 * it joined ("parley.joined" = consultation id, no personal data). On
 * load, when that is this invite's consultation, it opens the WebSocket
 * first (the session cookie identifies the customer); the welcome says
 * whether they are in the call or still waiting. When the server refuses
 * (no session any more), the normal landing page follows. Leaving, the end
 * of the consultation or a rejection forget the marker.
 *
 * Privacy: the company's questions before joining are asked only once
 * consent is given; where the invite allows it, the customer may instead
 * join anonymously without consent (no name, no questions). The join
 * answers the data-subject link's token, kept in sessionStorage for the
 * consultation (my-data-api.js): in the call "Meine Daten" shows what is
 * stored, and the end screen offers the personal link and the questions
 * after the consultation.
 * @module
 */

import { initI18n, t, getLang, onLangChange } from './i18n.js';
import * as api from './api.js';
import { byId, h, toast, describeError, installErrorNet, showScreen } from './ui.js';
import { icon, setIcon } from './icons.js';
import { LocalMedia, LevelMeter, fillDeviceSelect, deviceProblems } from './devices.js';
import { CallSession } from './call.js';
import { CallView, ReconnectBanner } from './call-ui.js';
import { SignalingClosedError, CloseCode } from './protocol.js';
import { installDebugHook } from './debug.js';
import { E2EEMedia, secretFromHash } from './e2ee.js';
import { QuestionFields } from './questions.js';
import { cookieSource, tokenSource, saveToken, loadToken, personalLink } from './my-data-api.js';
import { FeedbackForm, canGiveFeedback, erasureSummary, personalLinkBox, signedContractsBox } from './my-data-ui.js';

/**
 * @typedef {import('./api.js').Invite} Invite
 * @typedef {import('./call.js').EndReason} EndReason
 * @typedef {import('./i18n.js').Key} Key
 * @typedef {import('./my-data-api.js').Erasure} Erasure
 */

installErrorNet();
initI18n();
installDebugHook();

const SCREENS = ['screen-loading', 'screen-early', 'screen-error', 'screen-landing', 'screen-waiting', 'screen-call', 'screen-end'];

/** The invite token: the last non-empty path segment of /j/{token}. */
const token = (() => {
  const parts = location.pathname.split('/').filter(Boolean);
  const last = parts[parts.length - 1] ?? '';
  try {
    return decodeURIComponent(last);
  } catch {
    return last;
  }
})();

/**
 * The call secret S from the link's fragment (web/E2EE.md). It stays in
 * the URL (a reload keeps it) and is stored nowhere else.
 */
const secret = secretFromHash();

/** @type {Invite|null} */
let invite = null;
const media = new LocalMedia();
/** @type {CallSession|null} */
let session = null;
/** @type {CallView|null} */
let view = null;
/** @type {LevelMeter|null} */
let meter = null;
/** @type {Promise<void>|null} */
let mediaStarted = null;
/** The consultation this page joined (or resumed). */
let joinedConsultation = '';
/** @type {QuestionFields|null} the questions before joining */
let questions = null;

/** Starts camera and microphone once (the preview and the call share them). */
function ensureMedia() {
  mediaStarted ??= media.start();
  return mediaStarted;
}

// ------------------------------------------------------- rejoin marker

const MARKER_KEY = 'parley.joined';

/** @returns {string|null} the consultation this browser was connected to */
function readMarker() {
  try {
    return localStorage.getItem(MARKER_KEY);
  } catch {
    return null; // storage disabled: no automatic return, the landing works
  }
}

/** @param {string} consultationId */
function writeMarker(consultationId) {
  try {
    localStorage.setItem(MARKER_KEY, consultationId);
  } catch {
    // storage disabled
  }
}

function clearMarker() {
  try {
    localStorage.removeItem(MARKER_KEY);
  } catch {
    // storage disabled
  }
}

// ------------------------------------------------------------------ errors

/** Refills the texts of the error or end screen (after a language change). */
let refillMessage = () => {};

/**
 * Shows the error screen for an invite problem.
 * @param {string} code API error code
 * @param {(() => void)|null} retry
 * @param {string} [joined] the consultation this browser had joined (its
 *   personal link and the questions after it are offered once it ended)
 */
function showInviteError(code, retry, joined = '') {
  refillMessage = () => {
    /** @type {Key} */
    let title = 'join.error.generic.title';
    /** @type {string} */
    let text = '';
    if (code === 'not_found') {
      title = 'join.error.not_found.title';
      text = t('join.error.not_found.text');
    } else if (code === 'expired') {
      title = 'join.error.expired.title';
      text = t('join.error.expired.text');
    } else if (code === 'ended') {
      title = 'join.error.ended.title';
      text = t('join.error.ended.text');
    } else if (code === 'e2ee_missing') {
      title = 'e2ee.incompleteLink.title';
      text = t('e2ee.incompleteLink.text');
    } else {
      text = describeError({ code });
    }
    byId('error-title', HTMLElement).textContent = t(title);
    byId('error-text', HTMLElement).textContent = text;
  };
  refillMessage();
  byId('error-screen', HTMLElement).dataset.code = code;
  const btn = byId('error-retry', HTMLButtonElement);
  btn.hidden = !retry;
  btn.onclick = retry ? () => retry() : null;
  media.stop();
  meter?.close();
  const extra = byId('error-extra', HTMLElement);
  const tok = joined && code === 'ended' ? loadToken(joined) : null;
  if (tok) void showAfterwards(extra, tok, true);
  else extra.hidden = true;
  showScreen(SCREENS, 'screen-error');
}

/**
 * @param {unknown} err
 * @returns {string}
 */
function codeOf(err) {
  if (err instanceof api.ApiError) {
    if (err.status === 410 && err.code !== 'ended' && err.code !== 'expired') return 'expired';
    return err.code;
  }
  return 'unknown';
}

// ----------------------------------------------------------------- landing

async function load() {
  showScreen(SCREENS, 'screen-loading');
  if (!token) {
    showInviteError('not_found', null);
    return;
  }
  if (!secret) {
    showInviteError('e2ee_missing', null);
    return;
  }
  try {
    invite = await api.getInvite(token);
  } catch (err) {
    const code = codeOf(err);
    const joined = readMarker() ?? '';
    if (code === 'ended') clearMarker();
    showInviteError(code, code === 'network' || code === 'internal' || code === 'unknown' ? () => void load() : null, joined);
    return;
  }
  if (invite.appointment && !invite.appointment.open) {
    showEarly(invite);
    return;
  }
  renderInvite();
  if (invite.consultationId && readMarker() === invite.consultationId && (await resume(invite.consultationId))) return;
  showLanding();
}

/**
 * A booked consultation before its window: when it starts, then load
 * again once it opens (counted on the server's clock).
 * @param {Invite} inv
 */
function showEarly(inv) {
  const appt = /** @type {NonNullable<Invite['appointment']>} */ (inv.appointment);
  const skew = inv.serverTime ? Date.parse(inv.serverTime) - Date.now() : 0;
  const render = () => {
    const lang = getLang() === 'en' ? 'en-GB' : 'de-DE';
    // This browser's clock: the time the customer will see on it.
    /** @type {Intl.DateTimeFormatOptions} */
    const opt = {};
    const time = (/** @type {string} */ iso) => new Date(iso).toLocaleTimeString(lang, { ...opt, hour: '2-digit', minute: '2-digit' });
    const date = new Date(appt.startsAt).toLocaleDateString(lang, { ...opt, weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
    byId('early-title', HTMLElement).textContent = t('join.early.title', { time: time(appt.startsAt) });
    byId('early-text', HTMLElement).textContent = t('join.early.text', {
      date, advisor: inv.advisorName, company: inv.company, opens: time(appt.opensAt),
    });
  };
  render();
  onLangChange(render);
  showScreen(SCREENS, 'screen-early');
  const wait = Date.parse(appt.opensAt) - (Date.now() + skew);
  // Check again when it opens (at most a minute apart, so a wrong clock
  // or a moved appointment is noticed).
  window.setTimeout(() => void load(), Math.min(Math.max(wait + 250, 1000), 60_000));
}

function showLanding() {
  showScreen(SCREENS, 'screen-landing');
  // No camera yet: the device check starts only once the customer has
  // consented and asks for it ("Kamera und Mikrofon testen").
}

/**
 * Back into a consultation this browser joined before (reload, link
 * opened again): connect with the session cookie, without the landing.
 * @param {string} consultationId
 * @returns {Promise<boolean>} false when there is no session any more
 */
async function resume(consultationId) {
  const label = document.querySelector('#screen-loading [data-i18n]');
  if (label) {
    label.setAttribute('data-i18n', 'join.resuming');
    label.textContent = t('join.resuming');
  }
  const ok = await connect(consultationId, true);
  if (!ok) clearMarker();
  return ok;
}

function renderInvite() {
  const inv = invite;
  if (!inv) return;
  byId('company', HTMLElement).textContent = inv.company;
  byId('topbar-company', HTMLElement).textContent = inv.company;
  byId('advisor-line', HTMLElement).textContent = inv.advisorName ? t('join.with', { advisor: inv.advisorName }) : '';
  const topic = byId('topic-line', HTMLElement);
  topic.textContent = inv.title ? t('join.topic', { title: inv.title }) : '';
  topic.hidden = !inv.title;
  const text = inv.consent?.text ?? {};
  byId('consent-text', HTMLElement).textContent = text[getLang()] ?? text.de ?? text.en ?? Object.values(text)[0] ?? '';
  const privacy = byId('privacy-link', HTMLAnchorElement);
  const url = inv.privacyUrl || '/privacy';
  // Only our own pages: a relative or same-origin URL; the notice in the
  // language chosen here (one language at a time).
  const own = url.startsWith('/') && !url.startsWith('//') ? url : '/privacy';
  privacy.href = own === '/privacy' ? `/privacy?lang=${getLang()}` : own;
  renderWaiting();
  // The questions before joining, once; answered only with consent.
  if (!questions && (inv.questions ?? []).length > 0) {
    questions = new QuestionFields(inv.questions ?? [], 'join-q');
    byId('join-questions-fields', HTMLElement).replaceChildren(questions.el);
    byId('join-questions', HTMLElement).hidden = false;
    updateJoinButton();
  }
  questions?.render();
  byId('join-anonymous-option', HTMLElement).hidden = !inv.allowAnonymous;
  prefillDetails(inv);
}

// ------------------------------------------------------------ join again

/** @param {string} cid */
const detailsKey = (cid) => `parley.joinDetails.${cid}`;

/**
 * Remembers, for this tab only (sessionStorage, gone when it closes), what
 * the customer entered, so "Erneut teilnehmen" does not ask again; an
 * anonymous join forgets it.
 * @param {string} cid
 * @param {{name: string, answers: Record<string, string>}|null} details
 */
function saveDetails(cid, details) {
  try {
    if (details) sessionStorage.setItem(detailsKey(cid), JSON.stringify({ ...details, consent: true }));
    else sessionStorage.removeItem(detailsKey(cid));
  } catch {
    // storage disabled: the form starts empty
  }
}

let prefilled = false;

/**
 * Joining again in this tab: name, answers and consent as given before
 * (the consent text version is checked by the server again).
 * @param {Invite} inv
 */
function prefillDetails(inv) {
  if (prefilled || !inv.consultationId) return;
  prefilled = true;
  /** @type {{name?: string, answers?: Record<string, string>, consent?: boolean}|null} */
  let d = null;
  try {
    d = JSON.parse(sessionStorage.getItem(detailsKey(inv.consultationId)) ?? 'null');
  } catch {
    d = null;
  }
  if (!d || typeof d !== 'object') return;
  if (typeof d.name === 'string') nameInput.value = d.name;
  if (d.consent === true) consent.checked = true;
  if (d.answers && typeof d.answers === 'object') questions?.setValues(d.answers);
  updateJoinButton();
  const welcome = document.getElementById('join-welcome-back') ?? h('p', { id: 'join-welcome-back', class: 'alert alert-info', data: { testid: 'join-welcome-back' }, attrs: { role: 'status' }, i18n: 'join.rejoinWelcome' });
  if (!welcome.isConnected) form.prepend(welcome);
}

// ----------------------------------------------------------------- preview

const previewVideo = byId('preview-video', HTMLVideoElement);
const waitingVideo = byId('waiting-video', HTMLVideoElement);
const camSelect = byId('camera-select', HTMLSelectElement);
const micSelect = byId('mic-select', HTMLSelectElement);
const micBtn = byId('preview-mic', HTMLButtonElement);
const camBtn = byId('preview-camera', HTMLButtonElement);

const previewStart = byId('preview-start', HTMLButtonElement);

/** The customer asked for the device check (after consent): camera and microphone start. */
previewStart.addEventListener('click', () => {
  if (!consent.checked) return;
  byId('preview-offer', HTMLElement).hidden = true;
  byId('preview-box', HTMLElement).hidden = false;
  void startPreview();
  micBtn.focus();
});

/** @type {boolean} the preview's listeners are set up */
let previewWired = false;

async function startPreview() {
  if (previewWired) return;
  previewWired = true;
  previewVideo.srcObject = media.stream;
  waitingVideo.srcObject = media.stream;
  meter = new LevelMeter(byId('preview-level', HTMLElement));
  media.on('track', ({ kind, track }) => {
    if (kind === 'audio') meter?.attach(track);
    renderPreview();
  });
  media.on('state', () => renderPreview());
  media.on('devices', () => renderDevices());
  await ensureMedia();
  meter?.attach(media.audioTrack);
  previewVideo.play().catch(() => {});
  renderPreview();
  renderDevices();
}

function renderPreview() {
  const camOn = !!media.videoTrack && media.videoOn;
  const micOn = !!media.audioTrack && media.audioOn;
  byId('preview', HTMLElement).classList.toggle('video-off', !camOn);
  byId('waiting-preview', HTMLElement).classList.toggle('video-off', !camOn);
  camBtn.setAttribute('aria-pressed', String(camOn));
  camBtn.classList.toggle('is-off', !camOn);
  camBtn.disabled = !media.videoTrack;
  setIcon(camBtn, camOn ? 'camera' : 'camera-off');
  micBtn.setAttribute('aria-pressed', String(micOn));
  micBtn.classList.toggle('is-off', !micOn);
  micBtn.disabled = !media.audioTrack;
  setIcon(micBtn, micOn ? 'mic' : 'mic-off');
  byId('preview-off-text', HTMLElement).textContent = media.videoTrack ? t('device.cameraIsOff') : t('device.noCamera');

  const problems = deviceProblems(media, t);
  const box = byId('device-errors', HTMLElement);
  box.textContent = problems;
  box.hidden = problems === '';
}

function renderDevices() {
  fillDeviceSelect(camSelect, media.devices.video, media.currentDeviceId('video'), (n) => t('device.cameraN', { n }));
  fillDeviceSelect(micSelect, media.devices.audio, media.currentDeviceId('audio'), (n) => t('device.microphoneN', { n }));
}

/**
 * @param {'audio'|'video'} kind
 * @param {string} id
 */
async function switchDevice(kind, id) {
  try {
    await media.useDevice(kind, id);
  } catch (code) {
    toast(`${t('device.switchFailed')} ${typeof code === 'string' ? t(`device.error.${/** @type {import('./devices.js').DeviceError} */ (code)}`) : ''}`, { kind: 'error' });
    renderDevices();
  }
}

camSelect.addEventListener('change', () => void switchDevice('video', camSelect.value));
micSelect.addEventListener('change', () => void switchDevice('audio', micSelect.value));
micBtn.prepend(icon('mic'));
camBtn.prepend(icon('camera'));
micBtn.addEventListener('click', () => media.setAudioOn(!media.audioOn));
camBtn.addEventListener('click', () => media.setVideoOn(!media.videoOn));

// -------------------------------------------------------------------- join

const form = byId('join-form', HTMLFormElement);
const consent = byId('consent', HTMLInputElement);
const joinBtn = byId('join-button', HTMLButtonElement);
const nameInput = byId('join-name', HTMLInputElement);
const joinError = byId('join-error', HTMLElement);
const joinHint = byId('join-hint', HTMLElement);

const anonBtn = byId('join-anonymous', HTMLButtonElement);

function updateJoinButton() {
  const busy = form.getAttribute('aria-busy') === 'true';
  joinBtn.disabled = !consent.checked || busy;
  joinHint.hidden = consent.checked;
  previewStart.disabled = !consent.checked;
  byId('preview-locked', HTMLElement).hidden = consent.checked;
  anonBtn.disabled = busy;
  questions?.setEnabled(consent.checked);
  byId('join-questions-locked', HTMLElement).hidden = consent.checked;
}
consent.addEventListener('change', updateJoinButton);

/** @param {boolean} busy */
function setBusy(busy) {
  form.setAttribute('aria-busy', String(busy));
  joinBtn.textContent = t(busy ? 'join.busy' : 'join.submit');
  joinBtn.setAttribute('data-i18n', busy ? 'join.busy' : 'join.submit');
  updateJoinButton();
}

form.addEventListener('submit', (ev) => {
  ev.preventDefault();
  void join(false);
});
anonBtn.addEventListener('click', () => void join(true));

/**
 * Joins: with consent (name, answers), or anonymously without it.
 * @param {boolean} anonymous
 */
async function join(anonymous) {
  const inv = invite;
  if (!inv || (!anonymous && !consent.checked)) return;
  joinError.hidden = true;
  if (!anonymous && questions && !questions.validate()) {
    joinError.textContent = t('q.error.form');
    joinError.hidden = false;
    return;
  }
  setBusy(true);
  // Joining again after leaving: the earlier personal link goes along, so
  // the server keeps it (one data subject, API.md "My data").
  const previous = inv.consultationId ? loadToken(inv.consultationId) : null;
  const details = anonymous ? null : { name: nameInput.value.trim().slice(0, 64), answers: questions?.values() ?? {} };
  /** @type {import('./api.js').JoinResult} */
  let res;
  try {
    res = await api.joinInvite(token, {
      ...(details
        ? { name: details.name, consent: true, consentVersion: inv.consent?.version ?? '', lang: getLang(), answers: details.answers }
        : { name: '', consent: false, consentVersion: inv.consent?.version ?? '', lang: getLang() }),
      ...(previous ? { previous } : {}),
    });
  } catch (err) {
    setBusy(false);
    const code = codeOf(err);
    if (code === 'not_found' || code === 'expired' || code === 'ended') {
      showInviteError(code, null);
      return;
    }
    joinError.textContent = describeError(err);
    joinError.hidden = false;
    return;
  }
  const cid = res.consultationId || inv.consultationId;
  if (res.myDataToken) saveToken(cid, res.myDataToken);
  saveDetails(cid, details);
  await connect(cid, false);
  setBusy(false);
}

/**
 * Why the server refused a reconnecting socket (browsers see only 1006),
 * as far as the REST API can tell a customer: the consultation ended
 * (final), or the invite answers at all (then the server is reachable and
 * the link gives up after a while of refusals, see protocol.js).
 * @returns {Promise<import('./protocol.js').RefusalCheck>}
 */
async function checkInvite() {
  try {
    await api.getInvite(token);
    return { reachable: true };
  } catch (err) {
    if (!(err instanceof api.ApiError)) return { reachable: false };
    if (err.code === 'ended') return { final: 'ended' };
    // A new link or an expired one does not end the session: reachable.
    return { reachable: err.status !== 0 && err.status !== 429 && err.status < 500 };
  }
}

/**
 * Opens the call connection.
 * @param {string} consultationId
 * @param {boolean} resuming back after a reload: a refusal is not shown
 * @returns {Promise<boolean>} whether it connected
 */
async function connect(consultationId, resuming) {
  const s = new CallSession({
    consultationId,
    media,
    mediaReady: ensureMedia(),
    checkRefusal: checkInvite,
    e2ee: secret ? new E2EEMedia(secret) : null,
    chatSecret: secret,
  });
  session = s;
  joinedConsultation = consultationId;
  waitingVideo.srcObject = media.stream;
  s.on('self', (state) => {
    if (state === 'waiting') showScreen(SCREENS, 'screen-waiting');
    else if (state === 'joined') showCall(s);
  });
  s.link.on('welcome', (m) => {
    advisorState.away = m.advisorAway === true;
    renderWaiting();
  });
  s.link.on('advisor', (m) => {
    advisorState.away = m.away === true;
    renderWaiting();
  });
  s.on('roster', () => renderWaiting());
  s.on('end', ({ reason }) => {
    if (s.erased && !erasure.pending && !erasure.done) erasure.byStaff = true;
    showEnd(reason);
  });
  s.on('error', (e) => {
    // Before the call view exists (waiting room) errors still need a voice.
    if (!view) toast(describeError({ code: e.code }), { kind: 'error' });
  });
  try {
    const welcome = await s.connect();
    writeMarker(consultationId);
    new ReconnectBanner(s);
    if (welcome.self.state === 'joined') showCall(s);
    else showScreen(SCREENS, 'screen-waiting');
    return true;
  } catch (err) {
    session = null;
    if (err instanceof SignalingClosedError && err.info.code === CloseCode.REPLACED) {
      // Another window of this browser connected at the same moment and won.
      media.stop();
      showEnd('replaced');
      return true;
    }
    if (resuming) return false;
    if (err instanceof SignalingClosedError) {
      // Refused before the upgrade: ask the API why (ended, expired …).
      try {
        await api.getInvite(token);
      } catch (e) {
        const code = codeOf(e);
        if (code === 'not_found' || code === 'expired' || code === 'ended') {
          showInviteError(code, null);
          return false;
        }
      }
      joinError.textContent = t('close.connect_failed');
      joinError.hidden = false;
      return false;
    }
    joinError.textContent = describeError(err);
    joinError.hidden = false;
    return false;
  }
}

/**
 * Whether the advisor is away, as the server says (welcome and "advisor"
 * messages, signaling/PROTOCOL.md); wasAway once the customer was told.
 */
const advisorState = { away: false, wasAway: false };

/**
 * The waiting room's line: the advisor lets you in shortly, is away (an
 * advisor in the call counts as present whatever the switch says), or is
 * back. A live region: screen readers hear each change.
 */
function renderWaiting() {
  const inCall = !!session && session.participants.some((p) => p.role === 'advisor' && p.state === 'joined');
  const away = advisorState.away && !inCall;
  if (away) advisorState.wasAway = true;
  const name = invite?.advisorName ?? '';
  /** @type {Key} */
  let key;
  if (away) key = name ? 'join.advisorAwayNamed' : 'join.advisorAway';
  else if (advisorState.wasAway) key = name ? 'join.advisorBackNamed' : 'join.advisorBack';
  else key = name ? 'join.waitingTextNamed' : 'join.waitingText';
  const el = byId('waiting-text', HTMLElement);
  const text = t(key, { advisor: name });
  if (el.textContent !== text) el.textContent = text;
  el.dataset.away = String(away);
  byId('screen-waiting', HTMLElement).classList.toggle('advisor-away', away);
}

/** Was this customer ever in the call (admitted)? Only then is there a consultation to rate. */
let wasInCall = false;

/** @param {CallSession} s */
function showCall(s) {
  wasInCall = true;
  if (view) {
    // Back from the waiting room (e.g. admitted again).
    showScreen(SCREENS, 'screen-call');
    return;
  }
  meter?.close();
  meter = null;
  const root = byId('screen-call', HTMLElement);
  const consultationId = s.consultationId;
  view = new CallView(root, s, {
    role: 'customer',
    title: invite?.title || invite?.company || t('join.heading'),
    myData: {
      source: cookieSource(consultationId),
      link: () => {
        const tok = loadToken(consultationId);
        return tok ? personalLink(tok) : null;
      },
      questions: invite?.questions ?? [],
      onErase: (pending) => onErase(s, pending),
    },
  });
  document.body.classList.add('in-call');
  showScreen(SCREENS, 'screen-call');
}

byId('waiting-leave', HTMLButtonElement).addEventListener('click', () => session?.leave());

// ------------------------------------------------------------ my data

/** The customer's erasure request from "Meine Daten", while it runs and after. */
const erasure = {
  /** @type {Promise<Erasure>|null} */
  pending: null,
  /** @type {Erasure|null} */
  done: null,
  /** @type {HTMLElement|null} where the end screen shows it */
  box: null,
  /** An admin erased the data (a request received otherwise). */
  byStaff: false,
};

/**
 * The customer deletes their data in the call: the server answers and
 * takes them out of the call (their socket gets "left"); the end screen
 * then shows what was deleted and what is restricted.
 * @param {CallSession} s
 * @param {Promise<Erasure>} pending
 */
function onErase(s, pending) {
  erasure.pending = pending;
  pending.then(
    (e) => {
      erasure.done = e;
      // Deleted means deleted here too: joining again starts empty.
      saveDetails(s.consultationId, null);
      renderErasure();
      // Should the server's "left" not arrive, leave from this side.
      s.leave();
    },
    () => {
      erasure.pending = null;
      renderErasure();
    },
  );
}

function renderErasure() {
  const box = erasure.box;
  if (!box) return;
  if (erasure.done) box.replaceChildren(erasureSummary(erasure.done));
  else if (erasure.pending) {
    box.replaceChildren(h('p', { class: 'loading', attrs: { role: 'status' } }, [
      h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } }),
      h('span', { text: t('call.erasing') }),
    ]));
  } else box.replaceChildren();
  box.hidden = box.childElementCount === 0;
}

/** @type {FeedbackForm|null} */
let feedbackForm = null;

/**
 * What the customer can still do about their data once the call is over:
 * the result of their erasure request, the questions after the
 * consultation (if any and not answered yet) and the personal link.
 * @param {HTMLElement} box
 * @param {string|null} tok the data-subject token
 * @param {boolean} askFeedback
 */
async function showAfterwards(box, tok, askFeedback) {
  feedbackForm?.destroy();
  feedbackForm = null;
  const erased = h('div', { class: 'end-erasure' });
  erasure.box = erased;
  const fb = h('div', { class: 'end-feedback', attrs: { hidden: true } });
  const signed = h('div', { class: 'end-contracts', attrs: { hidden: true } });
  box.replaceChildren(erased, signed, fb);
  if (tok) box.append(personalLinkBox(personalLink(tok), { heading: 'h2' }));
  renderErasure();
  box.hidden = !tok && !erasure.pending && !erasure.done;
  if (!tok) return;
  const src = tokenSource(tok);
  const send = src.feedback;
  try {
    const exp = await src.load();
    // The signed contracts, to download now (and later with the link).
    const list = signedContractsBox(exp, src, { heading: 'h2' });
    if (list && signed.isConnected) {
      signed.replaceChildren(list);
      signed.hidden = false;
    }
    if (!askFeedback || erasure.pending || erasure.done || !send) return;
    if (!canGiveFeedback(exp) || !fb.isConnected) return;
    feedbackForm = new FeedbackForm(exp.feedback.questions, send, { prefix: 'end-fb', heading: 'h2' });
    fb.replaceChildren(feedbackForm.el);
    fb.hidden = false;
  } catch (err) {
    // The personal link still works; the questions are optional.
    console.warn('parley: questions after the consultation', err);
  }
}

// --------------------------------------------------------------------- end

/** @param {EndReason} reason */
function showEnd(reason) {
  view?.destroy();
  view = null;
  meter?.close();
  meter = null;
  document.body.classList.remove('in-call');
  // Opened in another window: the session lives on there, and a reload
  // here takes it back. Otherwise this session is over.
  if (reason !== 'replaced') clearMarker();
  const erased = reason === 'left' && (!!erasure.pending || !!erasure.done || erasure.byStaff);
  const rejoin = byId('end-rejoin', HTMLButtonElement);
  refillMessage = () => {
    /** @type {Key} */
    let title = 'call.endedTitle';
    let text = t('call.endedText');
    /** @type {Key} */
    let button = 'join.rejoin';
    switch (reason) {
      case 'ended':
        break;
      case 'rejected':
        title = 'call.rejectedTitle';
        text = t('call.rejectedText');
        break;
      case 'left':
        title = erased ? 'call.erasedTitle' : 'call.leftTitle';
        text = erased ? t('call.erasedText') : t('join.closeWindow');
        break;
      case 'replaced':
        title = 'call.replacedTitle';
        text = t('close.replaced');
        button = 'call.takeBack';
        break;
      case 'failed':
        title = 'call.failedTitle';
        text = t('close.failed');
        break;
      case 'e2ee_unsupported':
        title = 'call.e2eeUnsupportedTitle';
        text = t('close.e2ee_unsupported');
        break;
      default:
        title = 'call.disconnectedTitle';
        text = t(`close.${reason}`);
    }
    byId('end-title', HTMLElement).textContent = t(title);
    byId('end-text', HTMLElement).textContent = text;
    rejoin.textContent = t(button);
    rejoin.setAttribute('data-i18n', button);
  };
  refillMessage();
  byId('screen-end', HTMLElement).dataset.reason = reason;
  rejoin.hidden = reason === 'ended' || reason === 'rejected' || reason === 'e2ee_unsupported' || erased;
  rejoin.dataset.testid = reason === 'replaced' ? 'take-back' : 'end-rejoin';
  rejoin.onclick = () => location.reload();
  // The session lives on in another window when replaced: nothing to add.
  const extra = byId('end-extra', HTMLElement);
  const tok = reason !== 'replaced' && joinedConsultation ? loadToken(joinedConsultation) : null;
  // The questions after the consultation only for one that took place
  // for this customer (not after leaving the waiting room).
  void showAfterwards(extra, tok, wasInCall && (reason === 'ended' || reason === 'left'));
  showScreen(SCREENS, 'screen-end');
}

onLangChange(() => {
  refillMessage();
  renderWaiting();
  renderErasure();
  renderInvite();
  renderPreview();
  renderDevices();
  if (form.getAttribute('aria-busy') !== 'true') setBusy(false);
});

updateJoinButton();
void load();
