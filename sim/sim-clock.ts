/**
 * @module SimClock: virtual time for the whole simulated cluster. Every timer, interval, `setImmediate` and
 * "next turn" of every simulated node — and every simulated fsync completing — is an event in one queue ordered
 * by (time, insertion order). The run loop (`advanceTo`) pops one event at a time, runs it, and then lets the
 * microtasks it started settle (one real `setImmediate`: the simulation does no real I/O, so nothing else can
 * run in between) before the next. The order of everything is therefore a function of the seed.
 *
 * A node's incarnation gets its own `ClockScope`: when the node crashes its scope is halted, its timers never
 * fire and its yields never resume, as if the process were gone.
 */
import type { Clock, TimerHandle } from "../src/io/clock.js";
import { assert } from "../src/lib/assert.js";

interface SimEvent {
  readonly timeMs: number;
  readonly sequence: number;
  readonly run: () => void;
  cancelled: boolean;
}

/** A real macrotask: every microtask queued before it has run once it resolves. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class SimClock {
  #nowMs = 0;
  #sequence = 0;
  /** A binary min-heap by (timeMs, sequence). */
  readonly #heap: SimEvent[] = [];
  /** Events run so far (run statistics). */
  eventsRun = 0;

  now(): number {
    return this.#nowMs;
  }

  /** Queues `run` at now + delayMs (at least now). */
  schedule(delayMs: number, run: () => void): SimEvent {
    const event: SimEvent = {
      timeMs: this.#nowMs + Math.max(0, delayMs),
      sequence: this.#sequence++,
      run,
      cancelled: false,
    };
    this.#push(event);
    return event;
  }

  /** A fresh scope for one incarnation of one node. */
  scope(): ClockScope {
    return new ClockScope(this);
  }

  /**
   * Runs every event due up to `targetMs`, one at a time, each followed by settling its microtasks; then time
   * stands at `targetMs`. `check` runs after every event (the run's failure, recorded by an observer, stops it).
   */
  async advanceTo(targetMs: number, check: () => void): Promise<void> {
    assert(targetMs >= this.#nowMs, "Virtual time never goes back");
    await settle();
    check();
    for (;;) {
      const next = this.#heap[0];
      if (next === undefined || next.timeMs > targetMs) break;
      this.#pop();
      if (next.cancelled) continue;
      this.#nowMs = next.timeMs;
      this.eventsRun++;
      next.run();
      await settle();
      check();
    }
    this.#nowMs = targetMs;
  }

  /** Advances time a millisecond at a time until `work` settles (tests and start-up), at most `limitMs`. */
  async drive<T>(work: Promise<T>, limitMs = 60_000): Promise<T> {
    let settled = false;
    const watched = work.finally(() => {
      settled = true;
    });
    watched.catch(() => {});
    for (const deadline = this.#nowMs + limitMs; !settled; ) {
      assert(this.#nowMs < deadline, `Work did not settle within ${limitMs} virtual ms`);
      await this.advanceTo(this.#nowMs + 1, () => {});
    }
    return watched;
  }

  pendingEvents(): number {
    return this.#heap.length;
  }

  #push(event: SimEvent): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(event, heap[parent] as SimEvent)) break;
      heap[i] = heap[parent] as SimEvent;
      i = parent;
    }
    heap[i] = event;
  }

  #pop(): void {
    const heap = this.#heap;
    const last = heap.pop() as SimEvent;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right] as SimEvent, heap[left] as SimEvent) ? right : left;
      if (!before(heap[child] as SimEvent, last)) break;
      heap[i] = heap[child] as SimEvent;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.timeMs < b.timeMs || (a.timeMs === b.timeMs && a.sequence < b.sequence);
}

interface ScopedTimer extends TimerHandle {
  event: SimEvent | undefined;
}

/** The `Clock` one node incarnation sees; `halt()` is its process dying. */
export class ClockScope implements Clock {
  readonly #clock: SimClock;
  readonly #timers = new Set<ScopedTimer>();
  #halted = false;

  constructor(clock: SimClock) {
    this.#clock = clock;
  }

  get halted(): boolean {
    return this.#halted;
  }

  now(): number {
    return this.#clock.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    const timer: ScopedTimer = { event: undefined };
    if (this.#halted) return timer;
    this.#timers.add(timer);
    timer.event = this.#clock.schedule(delayMs, () => {
      this.#timers.delete(timer);
      timer.event = undefined;
      callback();
    });
    return timer;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    const timer = handle as ScopedTimer | undefined;
    if (timer?.event === undefined) return;
    timer.event.cancelled = true;
    timer.event = undefined;
    this.#timers.delete(timer);
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    assert(intervalMs > 0, "An interval must be positive");
    const timer: ScopedTimer = { event: undefined };
    if (this.#halted) return timer;
    this.#timers.add(timer);
    const arm = (): void => {
      timer.event = this.#clock.schedule(intervalMs, () => {
        arm();
        callback();
      });
    };
    arm();
    return timer;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    this.clearTimeout(handle);
  }

  setImmediate(callback: () => void): void {
    this.setTimeout(callback, 0);
  }

  nextTurn(): Promise<void> {
    return new Promise((resolve) => this.setImmediate(resolve));
  }

  /** The process is gone: no timer of it fires again, and no yield of it resumes. */
  halt(): void {
    this.#halted = true;
    for (const timer of this.#timers) if (timer.event !== undefined) timer.event.cancelled = true;
    this.#timers.clear();
  }
}
