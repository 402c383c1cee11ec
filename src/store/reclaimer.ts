/**
 * @module Runs a store's reclaim steps in the background (StateMachineStore.reclaimStep): one bounded step per
 * event-loop turn while work remains, so deleting the rows of a dropped 1 M-element collection never holds the
 * loop longer than one step, and Raft's timers and client I/O run between steps (`setImmediate` runs after the
 * turn's I/O callbacks). Housekeeping never keeps a process alive: the scheduled step is unref'd.
 */

/** `background`: the store reclaims by itself; `manual`: only `reclaimStep` calls do (tests, benchmarks). */
export type ReclaimMode = "background" | "manual";

/** Rows one step deletes, at most: a few ms of LMDB deletes (median 2–4 ms CPU on the shared test machine, see
 * `npm run bench:collections`), far below an election timeout. */
export const RECLAIM_ROWS_PER_STEP_DEFAULT = 2048;

export interface ReclaimOptions {
  /** Default "background". */
  readonly reclaim?: ReclaimMode;
  /** Rows deleted per step (default RECLAIM_ROWS_PER_STEP_DEFAULT). */
  readonly reclaimRowsPerStep?: number;
}

export class BackgroundReclaimer {
  readonly #step: () => boolean;
  readonly #enabled: boolean;
  #scheduled: NodeJS.Immediate | undefined;
  #stopped = false;

  /** `step` runs one bounded step and answers whether work remains. */
  constructor(mode: ReclaimMode, step: () => boolean) {
    this.#enabled = mode === "background";
    this.#step = step;
  }

  /** Schedules a step on a later turn unless one is scheduled (call after queueing work). */
  wake(): void {
    if (!this.#enabled || this.#stopped || this.#scheduled !== undefined) return;
    this.#scheduled = setImmediate(() => {
      this.#scheduled = undefined;
      if (!this.#stopped && this.#step()) this.wake();
    });
    this.#scheduled.unref();
  }

  /** Stops for good (the store is closing). */
  stop(): void {
    this.#stopped = true;
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled);
    this.#scheduled = undefined;
  }
}
