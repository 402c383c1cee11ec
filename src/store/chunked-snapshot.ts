/**
 * @module The `StoreSnapshot` both stores hand out: a fixed meta plus a lazily pulled record iterator, turned
 * into bounded chunks on demand. Each store supplies the point-in-time iterator (a copied key list for memory,
 * a cursor in a read transaction for LMDB) and what to free on release.
 */
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { type SnapshotRecord, snapshotChunks } from "./snapshot-format.js";
import type { StoreSnapshot } from "./state-machine-store.js";
import type { StoreMeta } from "./store-meta.js";

export class ChunkedSnapshot implements StoreSnapshot {
  readonly appliedIndex: number;
  readonly revision: number;
  readonly #meta: StoreMeta;
  readonly #records: Iterator<SnapshotRecord>;
  readonly #chunkSizeBytes: number;
  readonly #onRelease: () => void;
  #started = false;
  #released = false;

  /** Takes ownership of `records` (closed on release) and calls `onRelease` exactly once. */
  constructor(meta: StoreMeta, records: Iterator<SnapshotRecord>, chunkSizeBytes: number, onRelease: () => void) {
    this.appliedIndex = meta.appliedIndex;
    this.revision = meta.revision;
    this.#meta = meta;
    this.#records = records;
    this.#chunkSizeBytes = chunkSizeBytes;
    this.#onRelease = onRelease;
  }

  get released(): boolean {
    return this.#released;
  }

  async *chunks(): AsyncGenerator<Uint8Array> {
    assert(!this.#started, "a snapshot's chunks are iterated once");
    this.#started = true;
    try {
      for (const chunk of snapshotChunks(this.#meta, this.#guardedRecords(), this.#chunkSizeBytes)) {
        this.#checkUsable();
        yield chunk;
        // Producing a large image must not starve Raft's timers: one chunk per event-loop turn at most.
        await nextMacrotask();
      }
    } finally {
      this.release();
    }
  }

  release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#records.return?.();
    this.#onRelease();
  }

  /** Checks before every pull, so a released cursor (its transaction gone) is never touched again. */
  *#guardedRecords(): Generator<SnapshotRecord> {
    for (;;) {
      this.#checkUsable();
      const next = this.#records.next();
      if (next.done === true) return;
      yield next.value;
    }
  }

  #checkUsable(): void {
    if (this.#released) throw new ShoalError("UNAVAILABLE", "Cannot read snapshot: it was released");
  }
}
