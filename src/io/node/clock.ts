/**
 * @module The real `Clock`: `performance.now()` and Node's timers.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import type { Clock, TimerHandle } from "../clock.js";

export class NodeClock implements Clock {
  now(): number {
    return performance.now();
  }

  setTimeout(callback: () => void, delayMs: number): TimerHandle {
    return setTimeout(callback, delayMs) as TimerHandle;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    clearTimeout(handle as NodeJS.Timeout | undefined);
  }

  setInterval(callback: () => void, intervalMs: number): TimerHandle {
    return setInterval(callback, intervalMs) as TimerHandle;
  }

  clearInterval(handle: TimerHandle | undefined): void {
    clearInterval(handle as NodeJS.Timeout | undefined);
  }

  setImmediate(callback: () => void): void {
    setImmediate(callback);
  }

  nextTurn(): Promise<void> {
    return nextMacrotask();
  }
}

/** One real clock is enough for a process. */
export const NODE_CLOCK: Clock = new NodeClock();
