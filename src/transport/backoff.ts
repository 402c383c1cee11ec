/**
 * @module Reconnect delays: exponential with a cap and "equal jitter" (half the delay fixed, half random), so
 * a node that comes back is not hit by every peer in the same millisecond, yet no retry is ever immediate.
 * Pure: the caller passes the random draw (Math.random at the I/O edge, a seeded Prng in tests).
 */

import { assert } from "../lib/assert.js";

export interface BackoffBounds {
  readonly reconnectDelayBaseMs: number;
  readonly reconnectDelayMaxMs: number;
}

/** The delay before reconnect attempt number `attempt` (0 for the first retry). `random01` is in [0, 1). */
export function reconnectDelayMs(attempt: number, bounds: BackoffBounds, random01: number): number {
  assert(Number.isSafeInteger(attempt) && attempt >= 0, "attempt must be a non-negative integer");
  assert(random01 >= 0, "random01 must be >= 0");
  assert(random01 < 1, "random01 must be < 1");
  // Cap the exponent before multiplying so a peer that is down for days cannot overflow to Infinity.
  const ceilingMs = Math.min(bounds.reconnectDelayMaxMs, bounds.reconnectDelayBaseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceilingMs / 2 + (random01 * ceilingMs) / 2);
}
