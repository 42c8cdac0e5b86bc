// @ts-check
/**
 * Local camera and microphone: getUserMedia with fallbacks, device lists
 * via enumerateDevices, switching devices, on/off via track.enabled, and a
 * small audio level meter. One MediaStream object stays the same for the
 * whole page; its tracks are swapped when a device changes.
 * @module
 */

import { Emitter } from './events.js';

/**
 * Why a device could not be used.
 * @typedef {'denied'|'notfound'|'inuse'|'insecure'|'unknown'} DeviceError
 * @typedef {'audio'|'video'} DeviceKind
 * @typedef {{
 *   track: {kind: DeviceKind, track: MediaStreamTrack|null, previous: MediaStreamTrack|null},
 *   state: {audioOn: boolean, videoOn: boolean},
 *   devices: {audio: MediaDeviceInfo[], video: MediaDeviceInfo[]}
 * }} LocalMediaEvents
 */

const VIDEO_CONSTRAINTS = {
  facingMode: { ideal: 'user' },
  width: { ideal: 1280 },
  height: { ideal: 720 },
  frameRate: { ideal: 24, max: 30 },
};
const AUDIO_CONSTRAINTS = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };

/**
 * @param {unknown} err
 * @returns {DeviceError}
 */
export function deviceErrorCode(err) {
  const name = err instanceof Error || err instanceof DOMException ? err.name : '';
  switch (name) {
    case 'NotAllowedError':
    case 'SecurityError':
    case 'PermissionDeniedError':
      return 'denied';
    case 'NotFoundError':
    case 'OverconstrainedError':
    case 'DevicesNotFoundError':
      return 'notfound';
    case 'NotReadableError':
    case 'AbortError':
    case 'TrackStartError':
      return 'inuse';
    case 'TypeError':
      return 'notfound';
    default:
      return 'unknown';
  }
}

/**
 * One user-facing sentence about the devices that could not be started,
 * or "" when both work.
 * @param {LocalMedia} media
 * @param {(key: import('./i18n.js').Key, params?: Record<string, string|number>) => string} t
 * @returns {string}
 */
export function deviceProblems(media, t) {
  const v = media.videoError;
  const a = media.audioError;
  if (v && a && v === a) return t('device.error.both', { reason: t(`device.error.${v}`) });
  /** @type {string[]} */
  const out = [];
  if (v) out.push(t('device.error.camera', { reason: t(`device.error.${v}`) }));
  if (a) out.push(t('device.error.microphone', { reason: t(`device.error.${a}`) }));
  return out.join(' ');
}

/** True when the browser can capture at all (secure context, API present). */
export function canCapture() {
  return !!(window.isSecureContext && navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function');
}

/** True when screen sharing is possible (not on most phones). */
export function canShareScreen() {
  return !!(window.isSecureContext && navigator.mediaDevices && typeof navigator.mediaDevices.getDisplayMedia === 'function');
}

/**
 * @extends {Emitter<LocalMediaEvents>}
 */
export class LocalMedia extends Emitter {
  constructor() {
    super();
    this.stream = new MediaStream();
    /** @type {MediaStreamTrack|null} */
    this.audioTrack = null;
    /** @type {MediaStreamTrack|null} */
    this.videoTrack = null;
    this.audioOn = true;
    this.videoOn = true;
    /** @type {DeviceError|null} */
    this.audioError = null;
    /** @type {DeviceError|null} */
    this.videoError = null;
    /** @type {{audio: MediaDeviceInfo[], video: MediaDeviceInfo[]}} */
    this.devices = { audio: [], video: [] };
    this._onDeviceChange = () => {
      void this.refreshDevices();
    };
    this.stopped = false;
    /** @type {'user'|'environment'} which way the camera faces, as last asked for */
    this.facing = 'user';
  }

  /**
   * Acquires microphone and camera, each on its own when both together fail.
   * Never throws; errors end up in audioError / videoError.
   * @returns {Promise<void>}
   */
  async start() {
    if (!canCapture()) {
      this.audioError = 'insecure';
      this.videoError = 'insecure';
      return;
    }
    const md = navigator.mediaDevices;
    try {
      const s = await md.getUserMedia({ audio: AUDIO_CONSTRAINTS, video: VIDEO_CONSTRAINTS });
      this._setTrack('audio', s.getAudioTracks()[0] ?? null);
      this._setTrack('video', s.getVideoTracks()[0] ?? null);
      this.audioError = this.audioTrack ? null : 'notfound';
      this.videoError = this.videoTrack ? null : 'notfound';
    } catch (err) {
      const code = deviceErrorCode(err);
      if (code === 'denied') {
        this.audioError = 'denied';
        this.videoError = 'denied';
      } else {
        // Maybe only one of the two is missing or busy: try them apart.
        try {
          const a = await md.getUserMedia({ audio: AUDIO_CONSTRAINTS });
          this._setTrack('audio', a.getAudioTracks()[0] ?? null);
          this.audioError = null;
        } catch (e) {
          this.audioError = deviceErrorCode(e);
        }
        try {
          const v = await md.getUserMedia({ video: VIDEO_CONSTRAINTS });
          this._setTrack('video', v.getVideoTracks()[0] ?? null);
          this.videoError = null;
        } catch (e) {
          this.videoError = deviceErrorCode(e);
        }
      }
    }
    if (this.stopped) {
      this.stop();
      return;
    }
    md.addEventListener('devicechange', this._onDeviceChange);
    await this.refreshDevices();
  }

  /**
   * @param {DeviceKind} kind
   * @param {MediaStreamTrack|null} track
   */
  _setTrack(kind, track) {
    const previous = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (previous === track) return;
    if (previous) this.stream.removeTrack(previous);
    if (track) {
      track.enabled = kind === 'audio' ? this.audioOn : this.videoOn;
      this.stream.addTrack(track);
      track.addEventListener('ended', () => {
        // Unplugged or revoked: forget it so the UI can say so.
        if ((kind === 'audio' ? this.audioTrack : this.videoTrack) === track) {
          this._setTrack(kind, null);
          if (kind === 'audio') this.audioError = 'notfound';
          else this.videoError = 'notfound';
        }
      });
    }
    if (kind === 'audio') this.audioTrack = track;
    else this.videoTrack = track;
    this.emit('track', { kind, track, previous });
  }

  /** Re-reads the device lists. */
  async refreshDevices() {
    if (!navigator.mediaDevices?.enumerateDevices) return;
    try {
      const all = await navigator.mediaDevices.enumerateDevices();
      this.devices = {
        audio: all.filter((d) => d.kind === 'audioinput' && d.deviceId !== ''),
        video: all.filter((d) => d.kind === 'videoinput' && d.deviceId !== ''),
      };
    } catch {
      this.devices = { audio: [], video: [] };
    }
    this.emit('devices', this.devices);
  }

  /**
   * The device id of the current track of a kind.
   * @param {DeviceKind} kind
   * @returns {string}
   */
  currentDeviceId(kind) {
    const track = kind === 'audio' ? this.audioTrack : this.videoTrack;
    if (!track) return '';
    try {
      return track.getSettings().deviceId ?? '';
    } catch {
      return '';
    }
  }

  /**
   * Switches to another device. The old track is stopped first (phones
   * cannot open two cameras at once); on failure the old device is
   * reopened. Throws a DeviceError code string on failure.
   * @param {DeviceKind} kind
   * @param {string} deviceId
   * @returns {Promise<void>}
   */
  async useDevice(kind, deviceId) {
    if (!canCapture()) throw 'insecure';
    const old = kind === 'audio' ? this.audioTrack : this.videoTrack;
    const oldId = this.currentDeviceId(kind);
    if (old && oldId === deviceId) return;
    /** @param {string} id */
    const constraints = (id) =>
      kind === 'audio'
        ? { audio: { ...AUDIO_CONSTRAINTS, deviceId: { exact: id } } }
        : { video: { ...VIDEO_CONSTRAINTS, deviceId: { exact: id } } };
    old?.stop();
    try {
      const s = await navigator.mediaDevices.getUserMedia(constraints(deviceId));
      const track = (kind === 'audio' ? s.getAudioTracks() : s.getVideoTracks())[0] ?? null;
      this._setTrack(kind, track);
      if (kind === 'audio') this.audioError = null;
      else this.videoError = null;
    } catch (err) {
      let back = null;
      if (oldId) {
        try {
          const s = await navigator.mediaDevices.getUserMedia(constraints(oldId));
          back = (kind === 'audio' ? s.getAudioTracks() : s.getVideoTracks())[0] ?? null;
        } catch {
          back = null;
        }
      }
      this._setTrack(kind, back);
      throw deviceErrorCode(err);
    }
    await this.refreshDevices();
  }

  /**
   * Switches the camera to the one facing the user or to the rear one
   * (facingMode "environment": a photo of an ID card or a document). The
   * old track is stopped first (phones cannot open two cameras at once);
   * on failure the old camera is reopened. Where there is only one camera
   * the browser keeps it ("ideal", not "exact"). Throws a DeviceError code
   * string on failure.
   * @param {'user'|'environment'} facing
   * @returns {Promise<void>}
   */
  async useFacing(facing) {
    if (!canCapture()) throw 'insecure';
    const old = this.videoTrack;
    const oldId = this.currentDeviceId('video');
    old?.stop();
    try {
      const s = await navigator.mediaDevices.getUserMedia({ video: { ...VIDEO_CONSTRAINTS, facingMode: { ideal: facing } } });
      this.facing = facing;
      this._setTrack('video', s.getVideoTracks()[0] ?? null);
      this.videoError = this.videoTrack ? null : 'notfound';
    } catch (err) {
      let back = null;
      try {
        const s = await navigator.mediaDevices.getUserMedia({ video: oldId ? { ...VIDEO_CONSTRAINTS, deviceId: { exact: oldId } } : VIDEO_CONSTRAINTS });
        back = s.getVideoTracks()[0] ?? null;
      } catch {
        back = null;
      }
      this._setTrack('video', back);
      throw deviceErrorCode(err);
    }
    await this.refreshDevices();
  }

  /** @param {boolean} on */
  setAudioOn(on) {
    this.audioOn = on;
    if (this.audioTrack) this.audioTrack.enabled = on;
    this.emit('state', { audioOn: this.audioOn, videoOn: this.videoOn });
  }

  /** @param {boolean} on */
  setVideoOn(on) {
    this.videoOn = on;
    if (this.videoTrack) this.videoTrack.enabled = on;
    this.emit('state', { audioOn: this.audioOn, videoOn: this.videoOn });
  }

  /** Stops all tracks and releases the devices. */
  stop() {
    this.stopped = true;
    navigator.mediaDevices?.removeEventListener?.('devicechange', this._onDeviceChange);
    for (const t of this.stream.getTracks()) {
      t.stop();
      this.stream.removeTrack(t);
    }
    this.audioTrack = null;
    this.videoTrack = null;
  }
}

/**
 * Fills a <select> with devices, keeping the current one selected.
 * @param {HTMLSelectElement} select
 * @param {MediaDeviceInfo[]} devices
 * @param {string} currentId
 * @param {(index: number) => string} fallbackLabel label for unnamed devices
 */
export function fillDeviceSelect(select, devices, currentId, fallbackLabel) {
  select.replaceChildren();
  devices.forEach((d, i) => {
    const opt = document.createElement('option');
    opt.value = d.deviceId;
    opt.textContent = d.label || fallbackLabel(i + 1);
    if (d.deviceId === currentId) opt.selected = true;
    select.append(opt);
  });
  select.disabled = devices.length < 2;
}

/**
 * A microphone level meter drawn by scaling a bar element (CSSOM, no
 * inline style attribute). Optional: does nothing without Web Audio.
 */
export class LevelMeter {
  /** @param {HTMLElement} bar */
  constructor(bar) {
    this.bar = bar;
    /** @type {AudioContext|null} */
    this.ctx = null;
    /** @type {MediaStreamAudioSourceNode|null} */
    this.source = null;
    /** @type {AnalyserNode|null} */
    this.analyser = null;
    this.raf = 0;
    /** @type {Uint8Array<ArrayBuffer>} */
    this.buf = new Uint8Array(new ArrayBuffer(512));
    this._resume = () => {
      void this.ctx?.resume().catch(() => {});
    };
  }

  /** @param {MediaStreamTrack|null} track */
  attach(track) {
    this.detach();
    if (!track) {
      this._draw(0);
      return;
    }
    const Ctx = window.AudioContext;
    if (!Ctx) return;
    try {
      if (!this.ctx) {
        this.ctx = new Ctx();
        document.addEventListener('pointerdown', this._resume, { once: true });
        document.addEventListener('keydown', this._resume, { once: true });
      }
      this.source = this.ctx.createMediaStreamSource(new MediaStream([track]));
      this.analyser = this.ctx.createAnalyser();
      this.analyser.fftSize = 512;
      this.source.connect(this.analyser);
    } catch {
      return;
    }
    const loop = () => {
      const a = this.analyser;
      if (!a) return;
      a.getByteTimeDomainData(this.buf);
      let sum = 0;
      for (const v of this.buf) {
        const x = (v - 128) / 128;
        sum += x * x;
      }
      const rms = Math.sqrt(sum / this.buf.length);
      this._draw(track.enabled ? Math.min(1, rms * 4) : 0);
      this.raf = requestAnimationFrame(loop);
    };
    this.raf = requestAnimationFrame(loop);
  }

  /** @param {number} level 0…1 */
  _draw(level) {
    this.bar.style.transform = `scaleX(${level.toFixed(3)})`;
  }

  detach() {
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    try {
      this.source?.disconnect();
    } catch {
      // ignore
    }
    this.source = null;
    this.analyser = null;
  }

  close() {
    this.detach();
    void this.ctx?.close().catch(() => {});
    this.ctx = null;
  }
}
