// @ts-check
/**
 * A tiny typed event emitter (no DOM dependency), used by the protocol,
 * RTC and call modules. Handlers that throw are logged, never propagated,
 * so one broken listener cannot break the connection logic.
 * @module
 */

/**
 * @template {Record<string, any>} M  map of event name → payload type
 */
export class Emitter {
  constructor() {
    /** @type {Map<keyof M, Set<(value: any) => void>>} */
    this._handlers = new Map();
  }

  /**
   * Subscribes to an event.
   * @template {keyof M} K
   * @param {K} type
   * @param {(value: M[K]) => void} fn
   * @returns {() => void} unsubscribe
   */
  on(type, fn) {
    let set = this._handlers.get(type);
    if (!set) {
      set = new Set();
      this._handlers.set(type, set);
    }
    set.add(fn);
    return () => {
      set?.delete(fn);
    };
  }

  /**
   * @template {keyof M} K
   * @param {K} type
   * @param {M[K]} value
   */
  emit(type, value) {
    const set = this._handlers.get(type);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(value);
      } catch (err) {
        console.error(`parley: handler for ${String(type)} failed`, err);
      }
    }
  }

  /** Removes all handlers. */
  removeAllListeners() {
    this._handlers.clear();
  }
}
