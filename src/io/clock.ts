/**
 * @module Time as the node's host loop sees it: a monotonic clock in milliseconds, timers, and "a later turn of
 * the event loop" (where the host lets timers and sockets run between slices of work). `io/node/clock.ts` is the
 * real one over Node's timers; the simulator's (`sim/sim-clock.ts`) runs every timer and turn from one seeded
 * event queue in virtual time, so a run is a function of its seed.
 */

/** An opaque timer, as `setTimeout`/`setInterval` return it; only its clock can cancel it. */
export interface TimerHandle {
  readonly __timerHandle?: never;
}

export interface Clock {
  /** Milliseconds on a monotonic clock (like `performance.now()`); only differences mean anything. */
  now(): number;
  setTimeout(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer of this clock; undefined or an already fired timer is ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
  setInterval(callback: () => void, intervalMs: number): TimerHandle;
  clearInterval(handle: TimerHandle | undefined): void;
  /** Runs `callback` on a later turn of the event loop, after what is due now (Node's `setImmediate`). */
  setImmediate(callback: () => void): void;
  /** Resolves on a later turn of the event loop: the yield between two bounded slices of work. */
  nextTurn(): Promise<void>;
}
