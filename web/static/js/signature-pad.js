// @ts-check
/**
 * The handwriting capture of a signature: a canvas that takes Pointer
 * Events (finger, pen and mouse alike; every coalesced sample, with
 * pressure and tilt), draws the ink as it is written, and hands out what
 * was written as a capture of version 1 (signature/CAPTURE.md):
 *
 *   {v: 1, started_at, canvas: {w, h, dpr}, pointer,
 *    strokes: [{t0, pointer, points: [[x, y, t, pressure, tiltX, tiltY], …]}]}
 *
 * x, y are CSS pixels from the canvas's top left corner; t0 is the stroke's
 * pen-down in ms since the capture started (the first pen-down), t the
 * point's ms since its stroke's pen-down (event timestamps, monotonic);
 * pressure 0…1, tilt in degrees. The pad never judges plausibility (the
 * server does). When its size changes the ink is cleared: points measured
 * on one canvas size cannot honestly be moved to another.
 * @module
 */

import { Emitter } from './events.js';

/**
 * @typedef {'pen'|'touch'|'mouse'} PointerKind
 * @typedef {[number, number, number, number, number, number]} Point x, y, t, pressure, tiltX, tiltY
 * @typedef {{t0: number, pointer: PointerKind, points: Point[]}} Stroke
 * @typedef {{
 *   v: 1,
 *   started_at: string,
 *   canvas: {w: number, h: number, dpr: number},
 *   pointer: PointerKind,
 *   strokes: Stroke[]
 * }} Capture
 * @typedef {{change: {reason: 'ink'|'clear'|'resized'}}} PadEvents
 */

/** Ink colour: a dark blue, like a ballpoint pen. */
const INK = '#1a2b6d';

/** @param {string} type @returns {PointerKind} */
function kindOf(type) {
  return type === 'pen' || type === 'touch' ? type : 'mouse';
}

/** @param {number} v @param {number} digits */
function round(v, digits) {
  const f = 10 ** digits;
  return Math.round(v * f) / f;
}

/**
 * A signature pad on a canvas. The canvas should have CSS `touch-action:
 * none` (set here as well) so that a finger writes instead of scrolling.
 * @extends {Emitter<PadEvents>}
 */
export class SignaturePad extends Emitter {
  /** @param {HTMLCanvasElement} canvas */
  constructor(canvas) {
    super();
    this.canvas = canvas;
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('parley: no 2D canvas');
    this.ctx = ctx;
    canvas.style.touchAction = 'none';
    /** @type {Stroke[]} */
    this.strokes = [];
    /** @type {{id: number, stroke: Stroke, down: number, rect: DOMRect}|null} the stroke being written */
    this._active = null;
    /** @type {number|null} event time of the capture's first pen-down */
    this._origin = null;
    /** @type {Date|null} */
    this._startedAt = null;
    this._w = 0;
    this._h = 0;
    this._dpr = 1;
    this.disabled = false;

    /** @type {[keyof HTMLElementEventMap, (ev: any) => void][]} */
    this._listeners = [
      ['pointerdown', (ev) => this._down(ev)],
      ['pointermove', (ev) => this._move(ev)],
      ['pointerup', (ev) => this._up(ev)],
      ['pointercancel', (ev) => this._up(ev)],
      ['lostpointercapture', (ev) => this._up(ev)],
      ['contextmenu', (ev) => ev.preventDefault()],
    ];
    for (const [type, fn] of this._listeners) canvas.addEventListener(type, fn);
    this._resizeObs = new ResizeObserver(() => this._resize());
    this._resizeObs.observe(canvas);
    this._resize();
  }

  /** Whether nothing has been written. */
  isEmpty() {
    return this.strokes.length === 0;
  }

  /** Points written so far (all strokes). */
  get pointCount() {
    return this.strokes.reduce((n, s) => n + s.points.length, 0);
  }

  /** Removes the ink and starts a new capture. */
  clear() {
    this._reset();
    this.emit('change', { reason: 'clear' });
  }

  _reset() {
    this.strokes = [];
    this._active = null;
    this._origin = null;
    this._startedAt = null;
    this.ctx.setTransform(1, 0, 0, 1, 0, 0);
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.ctx.setTransform(this._dpr, 0, 0, this._dpr, 0, 0);
  }

  /**
   * What was written, as capture version 1; null when empty.
   * @returns {Capture|null}
   */
  capture() {
    if (this.isEmpty() || !this._startedAt) return null;
    /** @type {Record<PointerKind, number>} */
    const count = { pen: 0, touch: 0, mouse: 0 };
    for (const s of this.strokes) count[s.pointer] += s.points.length;
    /** @type {PointerKind} */
    const pointer = count.pen >= count.touch && count.pen >= count.mouse ? 'pen' : count.touch >= count.mouse ? 'touch' : 'mouse';
    return {
      v: 1,
      started_at: this._startedAt.toISOString(),
      canvas: { w: round(this._w, 2), h: round(this._h, 2), dpr: this._dpr },
      pointer,
      strokes: this.strokes.map((s) => ({ t0: s.t0, pointer: s.pointer, points: s.points.map((p) => /** @type {Point} */ ([...p])) })),
    };
  }

  _resize() {
    const rect = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    if (rect.width < 1 || rect.height < 1) return; // hidden
    if (Math.abs(rect.width - this._w) < 0.5 && Math.abs(rect.height - this._h) < 0.5 && dpr === this._dpr) return;
    const hadInk = !this.isEmpty() || this._active !== null;
    this._w = rect.width;
    this._h = rect.height;
    this._dpr = dpr;
    this.canvas.width = Math.round(rect.width * dpr);
    this.canvas.height = Math.round(rect.height * dpr);
    this._reset();
    if (hadInk) this.emit('change', { reason: 'resized' });
  }

  /** @param {PointerEvent} ev */
  _down(ev) {
    if (this.disabled || this._active) return; // one pointer at a time (a palm or second finger is ignored)
    if (ev.pointerType === 'mouse' && ev.button !== 0) return;
    ev.preventDefault();
    try {
      this.canvas.setPointerCapture(ev.pointerId);
    } catch {
      // a synthetic or already released pointer: the canvas still gets its events
    }
    if (this._origin === null) {
      this._origin = ev.timeStamp;
      // Wall clock of the first pen-down, from the event's own timestamp.
      this._startedAt = new Date(Date.now() - (performance.now() - ev.timeStamp));
    }
    /** @type {Stroke} */
    const stroke = { t0: round(Math.max(0, ev.timeStamp - this._origin), 1), pointer: kindOf(ev.pointerType), points: [] };
    this.strokes.push(stroke);
    this._active = { id: ev.pointerId, stroke, down: ev.timeStamp, rect: this.canvas.getBoundingClientRect() };
    this._add(ev);
  }

  /** @param {PointerEvent} ev */
  _move(ev) {
    const a = this._active;
    if (!a || ev.pointerId !== a.id) return;
    ev.preventDefault();
    const samples = typeof ev.getCoalescedEvents === 'function' ? ev.getCoalescedEvents() : [];
    for (const e of samples.length ? samples : [ev]) this._add(e);
  }

  /** @param {PointerEvent} ev */
  _up(ev) {
    const a = this._active;
    if (!a || ev.pointerId !== a.id) return;
    if (ev.type === 'pointerup') this._add(ev);
    this._active = null;
    this.emit('change', { reason: 'ink' });
  }

  /**
   * Records one sample of the active stroke and draws up to it.
   * @param {PointerEvent} e
   */
  _add(e) {
    const a = this._active;
    if (!a) return;
    const pts = a.stroke.points;
    const prev = pts[pts.length - 1];
    const x = round(e.clientX - a.rect.left, 2);
    const y = round(e.clientY - a.rect.top, 2);
    // Timestamps of coalesced samples never run backwards here.
    const t = round(Math.max(prev ? prev[2] : 0, e.timeStamp - a.down), 1);
    if (prev && prev[0] === x && prev[1] === y && prev[2] === t) return;
    const pressure = round(Math.min(1, Math.max(0, Number.isFinite(e.pressure) ? e.pressure : 0)), 3);
    /** @type {Point} */
    const p = [x, y, t, pressure, Math.round(e.tiltX || 0), Math.round(e.tiltY || 0)];
    pts.push(p);
    this._draw(a.stroke, pts.length - 1);
  }

  /**
   * Draws the ink of a stroke from point i-1 to i: a quadratic curve
   * through the midpoints, its width following the pressure.
   * @param {Stroke} stroke
   * @param {number} i
   */
  _draw(stroke, i) {
    const ctx = this.ctx;
    const pts = stroke.points;
    const p = pts[i];
    if (!p) return;
    const pressure = stroke.pointer === 'mouse' || p[3] === 0 ? 0.5 : p[3];
    const width = 1.2 + pressure * 2.6;
    ctx.strokeStyle = INK;
    ctx.fillStyle = INK;
    ctx.lineCap = 'round';
    ctx.lineJoin = 'round';
    ctx.lineWidth = width;
    const q = pts[i - 1];
    if (!q) {
      ctx.beginPath();
      ctx.arc(p[0], p[1], width / 2, 0, Math.PI * 2);
      ctx.fill();
      return;
    }
    const o = pts[i - 2];
    const start = o ? [(o[0] + q[0]) / 2, (o[1] + q[1]) / 2] : [q[0], q[1]];
    const end = [(q[0] + p[0]) / 2, (q[1] + p[1]) / 2];
    ctx.beginPath();
    ctx.moveTo(start[0] ?? q[0], start[1] ?? q[1]);
    ctx.quadraticCurveTo(q[0], q[1], end[0] ?? p[0], end[1] ?? p[1]);
    ctx.lineTo(p[0], p[1]);
    ctx.stroke();
  }

  destroy() {
    for (const [type, fn] of this._listeners) this.canvas.removeEventListener(type, fn);
    this._resizeObs.disconnect();
    this.removeAllListeners();
  }
}
