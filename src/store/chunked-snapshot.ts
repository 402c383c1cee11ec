/**
 * @module The `StoreSnapshot` both stores hand out: a fixed meta plus a lazily pulled iterator of records (each
 * followed by its collection rows), turned into bounded chunks on demand. Each store supplies the point-in-time
 * iterator (copied lists for memory, cursors in a read transaction for LMDB) and what to free on release.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { type SnapshotEntry, snapshotChunks } from "./snapshot-format.js";
import type { StoreSnapshot } from "./state-machine-store.js";
import type { StoreMeta } from "./store-meta.js";

export class ChunkedSnapshot implements StoreSnapshot {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly #meta: StoreMeta;
  readonly #entries: Iterator<SnapshotEntry>;
  readonly #chunkSizeBytes: number;
  readonly #onRelease: () => void;
  readonly #nextTurn: () => Promise<void>;
  #started = false;
  #released = false;

  /** Takes ownership of `entries` (closed on release) and calls `onRelease` exactly once. `nextTurn` is the yield
   * between chunks (the simulator passes its clock's). */
  constructor(
    meta: StoreMeta,
    entries: Iterator<SnapshotEntry>,
    chunkSizeBytes: number,
    onRelease: () => void,
    nextTurn: () => Promise<void> = nextMacrotask,
  ) {
    this.appliedIndex = meta.appliedIndex;
    this.revision = meta.revision;
    this.#meta = meta;
    this.#entries = entries;
    this.#chunkSizeBytes = chunkSizeBytes;
    this.#onRelease = onRelease;
    this.#nextTurn = nextTurn;
  }

  get released(): boolean {
    return this.#released;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    assert(!this.#started, "a snapshot's chunks are iterated once");
    this.#started = true;
    try {
      for (const chunk of snapshotChunks(this.#meta, this.#guardedEntries(), this.#chunkSizeBytes)) {
        this.#checkUsable();
        yield chunk;
        // Producing a large image must not starve Raft's timers: one chunk per event-loop turn at most.
        await this.#nextTurn();
      }
    } finally {
      this.release();
    }
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#entries.return?.();
    this.#onRelease();
  }

  /** Checks before every pull, so a released cursor (its transaction gone) is never touched again. */
  *#guardedEntries(): Generator<SnapshotEntry> {
    for (;;) {
      this.#checkUsable();
      const next = this.#entries.next();
      if (next.done === true) return;
      yield next.value;
    }
  }

  #checkUsable(): void {
    if (this.#released) throw new ShoalError("UNAVAILABLE", "Cannot read snapshot: it was released");
  }
}
