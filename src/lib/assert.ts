/**
 * @module Assertions for programmer errors. A failed assertion means the node's own logic is broken
 * (an invariant of Raft, the WAL or the store no longer holds): the node must stop loudly rather than
 * limp on with state it can no longer trust. Operating errors (bad input, a lost peer) are never asserted;
 * they are typed `ShoalError`s.
 */

/** Thrown when an invariant is violated. Never caught on purpose except by the simulator's checkers. */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/** Asserts `condition`; split compound conditions into several calls so the failing one is named. */
export function assert(condition: unknown, message = "Assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** Marks a branch the type system proves unreachable (exhaustive switches). */
export function unreachable(value: never, message = "Unreachable code reached"): never {
  throw new AssertionError(`${message}: ${JSON.stringify(value)}`);
}
