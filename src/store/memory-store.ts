/**
 * @module The in-memory `StateMachineStore`: the simulator's store, and the reference the LMDB store is tested
 * against. Nothing is durable; "atomic" means a batch is computed first and then installed in one synchronous
 * step, so a failing batch changes nothing.
 */
import { keyFromId, keyId } from "../commands/bytes.js";
import type { CommandResult } from "../commands/command.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue } from "../commands/record.js";
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { planBatch } from "./batch-plan.js";
import { ChunkedSnapshot } from "./chunked-snapshot.js";
import {
  compactedError,
  encodeEvent,
  type HistoryEvent,
  type HistoryOptions,
  HistoryWindow,
  summarize,
} from "./history.js";
import { rangeStartAfter } from "./key-range.js";
import { parseSnapshot, SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT, type SnapshotRecord } from "./snapshot-format.js";
import type { ApplyEntry, HistoryStats, StateMachineStore, StoreSnapshot, StoreStats } from "./state-machine-store.js";
import { EMPTY_META, type StoreMeta } from "./store-meta.js";

export interface MemoryStoreOptions extends HistoryOptions {
  /** Upper bound of each snapshot chunk. */
  readonly snapshotChunkSizeBytes?: number;
}

export class MemoryStore implements StateMachineStore {
  readonly #chunkSizeBytes: number;
  /** By keyId (latin1), so map order is irrelevant and sorting the ids sorts the keys bytewise. */
  #records = new Map<string, StoredRecord>();
  /** The ids in ascending order, rebuilt lazily after a key is added or removed. */
  #sortedIds: string[] | undefined = [];
  /** The ids of keys with an expiry (expiredKeys scans these). */
  #expiring = new Set<string>();
  #meta: StoreMeta = EMPTY_META;
  /** The watch history by revision; the window decides what is kept. */
  #events = new Map<number, HistoryEvent[]>();
  readonly #history: HistoryWindow;
  #restoring = false;
  #closed = false;
  readonly #snapshots = new Set<ChunkedSnapshot>();

  constructor(options: MemoryStoreOptions = {}) {
    this.#chunkSizeBytes = options.snapshotChunkSizeBytes ?? SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT;
    this.#history = new HistoryWindow(options, 0);
  }

  appliedIndex(): number {
    return this.#meta.appliedIndex;
  }

  revision(): number {
    return this.#meta.revision;
  }

  clockMs(): number {
    return this.#meta.clockMs;
  }

  stats(): StoreStats {
    return { keyCount: this.#meta.keyCount, sizeBytes: this.#meta.sizeBytes };
  }

  expiringKeyCount(): number {
    return this.#expiring.size;
  }

  historyStats(): HistoryStats {
    return this.#history.stats();
  }

  events(fromRevision: number, toRevision: number): HistoryEvent[] {
    this.#checkOpen();
    if (fromRevision <= this.#history.compactedRevision)
      throw compactedError(fromRevision, this.#history.compactedRevision);
    const out: HistoryEvent[] = [];
    for (let revision = fromRevision; revision <= Math.min(toRevision, this.#meta.revision); revision++) {
      const events = this.#events.get(revision);
      assert(events !== undefined, `the history holds revision ${revision}`);
      out.push(...events);
    }
    return out;
  }

  get(key: Uint8Array, nowMs: number): KeyValue | undefined {
    this.#checkOpen();
    const record = this.#records.get(keyId(key));
    if (record === undefined || !isLive(record, Math.max(nowMs, this.#meta.clockMs))) return undefined;
    return toKeyValue(key, record);
  }

  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, nowMs: number): KeyValue[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "range limit is a positive integer");
    const ids = this.#ids();
    const start = rangeStartAfter(prefix, after);
    const startId = keyId(start.key);
    let i = lowerBound(ids, startId);
    if (start.exclusive && ids[i] === startId) i++;
    const prefixId = keyId(prefix);
    const effectiveNowMs = Math.max(nowMs, this.#meta.clockMs);
    const out: KeyValue[] = [];
    for (; i < ids.length && out.length < limit; i++) {
      const id = ids[i] as string;
      if (!id.startsWith(prefixId)) break;
      const record = this.#records.get(id) as StoredRecord;
      if (isLive(record, effectiveNowMs)) out.push(toKeyValue(keyFromId(id), record));
    }
    return out;
  }

  expiredKeys(nowMs: number, limit: number): Uint8Array[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "expiredKeys limit is a positive integer");
    const effectiveNowMs = Math.max(nowMs, this.#meta.clockMs);
    const expired: { id: string; expiresAtMs: number }[] = [];
    for (const id of this.#expiring) {
      const { expiresAtMs } = this.#records.get(id) as StoredRecord;
      if (expiresAtMs <= effectiveNowMs) expired.push({ id, expiresAtMs });
    }
    expired.sort((a, b) => a.expiresAtMs - b.expiresAtMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return expired.slice(0, limit).map(({ id }) => keyFromId(id));
  }

  applyEntries(entries: readonly ApplyEntry[]): CommandResult[] {
    this.#checkOpen();
    assert(!this.#restoring, "Cannot apply entries while a snapshot is being restored");
    const reader = {
      getRecord: (key: Uint8Array) => this.#records.get(keyId(key)),
      keysAfter: this.#keysAfter.bind(this),
      keyCount: () => this.#records.size,
    };
    const plan = planBatch(reader, this.#meta, entries);
    const added = summarize(
      plan.events.map((event) => ({ revision: event.revision, bytes: encodeEvent(event).byteLength })),
    );
    const historyPlan = this.#history.plan(added);
    for (const { key, record } of plan.writes) {
      const id = keyId(key);
      if (record !== undefined && record.expiresAtMs !== 0) this.#expiring.add(id);
      else this.#expiring.delete(id);
      if (record === undefined) {
        if (this.#records.delete(id)) this.#sortedIds = undefined;
      } else {
        if (!this.#records.has(id)) this.#sortedIds = undefined;
        this.#records.set(id, record);
      }
    }
    this.#meta = plan.meta;
    for (const event of plan.events) {
      const events = this.#events.get(event.revision);
      if (events === undefined) this.#events.set(event.revision, [event]);
      else events.push(event);
    }
    for (const { revision } of historyPlan.drop) this.#events.delete(revision);
    this.#history.commit(added, historyPlan);
    return plan.results;
  }

  snapshot(): StoreSnapshot {
    this.#checkOpen();
    // Records are immutable objects, so copying the sorted (id, record) pairs freezes this point in time.
    const records: SnapshotRecord[] = this.#ids().map((id) => ({
      key: keyFromId(id),
      record: this.#records.get(id) as StoredRecord,
    }));
    const snapshot = new ChunkedSnapshot(this.#meta, records.values(), this.#chunkSizeBytes, () => {
      this.#snapshots.delete(snapshot);
    });
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  async restore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    this.#checkOpen();
    assert(!this.#restoring, "Cannot restore: another restore is running");
    this.#restoring = true;
    try {
      const records = new Map<string, StoredRecord>();
      let meta: StoreMeta | undefined;
      for await (const item of parseSnapshot(chunks)) {
        if (item.kind === "header") meta = item.meta;
        else records.set(keyId(item.key), item.record);
      }
      assert(meta !== undefined, "a parsed snapshot has a header");
      if (this.#closed) throw new ShoalError("UNAVAILABLE", "Cannot restore snapshot: the store was closed");
      this.#records = records;
      this.#expiring = new Set([...records].filter(([, record]) => record.expiresAtMs !== 0).map(([id]) => id));
      this.#sortedIds = undefined;
      this.#meta = meta;
      this.#events = new Map();
      this.#history.reset(meta.revision);
    } finally {
      this.#restoring = false;
    }
  }

  async close(): Promise<void> {
    for (const snapshot of [...this.#snapshots]) snapshot.release();
    this.#closed = true;
  }

  /** Stored keys after `after` in order (expired ones included): for KEYS/SCAN/FLUSHALL inside apply. */
  #keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    const ids = this.#ids();
    let i = 0;
    if (after !== undefined) {
      const afterId = keyId(after);
      i = lowerBound(ids, afterId);
      if (ids[i] === afterId) i++;
    }
    return ids.slice(i, i + limit).map(keyFromId);
  }

  #ids(): string[] {
    if (this.#sortedIds === undefined) this.#sortedIds = [...this.#records.keys()].sort();
    return this.#sortedIds;
  }

  #checkOpen(): void {
    assert(!this.#closed, "The store is closed");
  }
}

/** The first index whose id is >= `id`. Latin1 ids compare like their bytes (see commands/bytes.ts). */
function lowerBound(ids: readonly string[], id: string): number {
  let low = 0;
  let high = ids.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((ids[middle] as string) < id) low = middle + 1;
    else high = middle;
  }
  return low;
}
