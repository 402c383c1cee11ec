/**
 * @module SCAN's numeric cursors (redis-cli and clients parse them as numbers) mapped to the key to resume after.
 * Pure data, kept by the RESP server (one bounded table shared by its connections) and by tests: the oldest cursor is evicted first, after which
 * resuming it answers "invalid cursor" (Redis's text for a cursor it cannot use).
 */
import { ShoalError } from "../../lib/errors.js";
import type { ScanCursors } from "./command-spec.js";

export const SCAN_CURSORS_MAX = 10_000;

export class ScanCursorTable implements ScanCursors {
  readonly #positions = new Map<bigint, Uint8Array>();
  readonly #capacity: number;
  #next = 1n;

  constructor(capacity = SCAN_CURSORS_MAX) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#positions.size;
  }

  resume(cursor: bigint): Uint8Array | undefined {
    if (cursor === 0n) return undefined;
    const position = this.#positions.get(cursor);
    if (position === undefined) throw new ShoalError("BAD_REQUEST", "invalid cursor");
    return position;
  }

  issue(lastKey: Uint8Array): bigint {
    const cursor = this.#next;
    // Cursors stay below 2^63 (Redis cursors are unsigned 64-bit, but some clients parse them as int64).
    this.#next = this.#next >= 2n ** 62n ? 1n : this.#next + 1n;
    // A copy: the key may be a view into a buffer the caller reuses.
    this.#positions.set(cursor, Uint8Array.from(lastKey));
    if (this.#positions.size > this.#capacity) {
      const oldest = this.#positions.keys().next().value;
      if (oldest !== undefined) this.#positions.delete(oldest);
    }
    return cursor;
  }
}
