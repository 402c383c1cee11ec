/**
 * @module The in-memory `StateMachineStore`: the simulator's store, and the reference the LMDB store is tested
 * against. Nothing is durable; "atomic" means a batch is computed first and then installed in one synchronous
 * step, so a failing batch changes nothing.
 */
import { assert } from "../lib/assert.js";
import { compareBytes, keyFromId, keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { SortedIdMap } from "../lib/sorted-ids.js";
import { hashSlot, keysInSlotOf } from "../slots/hash-slot.js";
import { planBatch } from "./batch-plan.js";
import { ChunkedSnapshot } from "./chunked-snapshot.js";
import { collectionOf } from "./collection.js";
import type { EntryApplier } from "./entry-applier.js";
import {
  compactedError,
  encodeEvent,
  type HistoryEvent,
  type HistoryOptions,
  HistoryWindow,
  summarize,
} from "./history.js";
import { rangeStartAfter } from "./key-range.js";
import { BackgroundReclaimer, RECLAIM_ROWS_PER_STEP_DEFAULT, type ReclaimOptions } from "./reclaimer.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue } from "./record.js";
import type { SlotStates } from "./slot-states.js";
import { parseSnapshot, SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT, type SnapshotEntry } from "./snapshot-format.js";
import type {
  ApplyEntry,
  HistoryStats,
  ReclaimStats,
  StateMachineStore,
  StoreSnapshot,
  StoreStats,
} from "./state-machine-store.js";
import { EMPTY_META, type StoreMeta } from "./store-meta.js";
import type { CollectionRow } from "./write-set.js";

export interface MemoryStoreOptions<R> extends HistoryOptions, ReclaimOptions {
  /** What an entry means (a node's: the command layer's `applyEntryData`). */
  readonly applier: EntryApplier<R>;
  /** Upper bound of each snapshot chunk. */
  readonly snapshotChunkSizeBytes?: number;
  /** The yield between two snapshot chunks; the simulator passes its clock's. @default setImmediate */
  readonly nextTurn?: () => Promise<void>;
}

export class MemoryStore<R> implements StateMachineStore<R> {
  readonly #applier: EntryApplier<R>;
  readonly #chunkSizeBytes: number;
  readonly #nextTurn: (() => Promise<void>) | undefined;
  /** By keyId (latin1), so map order is irrelevant and sorting the ids sorts the keys bytewise. */
  #records = new Map<string, StoredRecord>();
  /** The ids in ascending order, rebuilt lazily after a key is added or removed. */
  #sortedIds: string[] | undefined = [];
  /** The ids of keys with an expiry (expiredKeys scans these). */
  #expiring = new Set<string>();
  /** Collection rows by collection id. */
  #rows = new Map<number, SortedIdMap<Uint8Array>>();
  /** Dropped collections awaiting the reclaimer, oldest first. */
  #reclaimQueue = new Set<number>();
  #reclaimedRows = 0;
  readonly #reclaimer: BackgroundReclaimer;
  #meta: StoreMeta = EMPTY_META;
  /** The watch history by revision; the window decides what is kept. */
  #events = new Map<number, HistoryEvent[]>();
  readonly #history: HistoryWindow;
  #restoring = false;
  #closed = false;
  readonly #snapshots = new Set<ChunkedSnapshot>();

  constructor(options: MemoryStoreOptions<R>) {
    this.#applier = options.applier;
    this.#chunkSizeBytes = options.snapshotChunkSizeBytes ?? SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT;
    this.#nextTurn = options.nextTurn;
    this.#history = new HistoryWindow(options, 0);
    const rowsPerStep = options.reclaimRowsPerStep ?? RECLAIM_ROWS_PER_STEP_DEFAULT;
    this.#reclaimer = new BackgroundReclaimer(options.reclaim ?? "background", () => {
      this.reclaimStep(rowsPerStep);
      return this.#reclaimQueue.size > 0;
    });
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

  slotStates(): SlotStates {
    return this.#meta.slots;
  }

  stats(): StoreStats {
    return { keyCount: this.#meta.keyCount, sizeBytes: this.#meta.sizeBytes };
  }

  expiringKeyCount(): number {
    return this.#expiring.size;
  }

  /** O(keys): no slot index here. */
  countKeysInSlot(slot: number): number {
    return keysInSlotOf(this.#records.keys(), slot).length;
  }

  keysInSlot(slot: number, limit: number, after?: Uint8Array): Uint8Array[] {
    const keys = keysInSlotOf(this.#records.keys(), slot);
    const from = after === undefined ? 0 : keys.findIndex((key) => compareBytes(key, after) > 0);
    return from === -1 ? [] : keys.slice(from, from + limit);
  }

  /** O(keys log keys): the simulator's and tests' store. */
  keysFromSlot(slot: number, limit: number): Uint8Array[] {
    return [...this.#records.keys()]
      .map((id) => ({ key: keyFromId(id), slot: hashSlot(keyFromId(id)) }))
      .filter((each) => each.slot >= slot)
      .sort((a, b) => a.slot - b.slot || compareBytes(a.key, b.key))
      .slice(0, limit)
      .map((each) => each.key);
  }

  historyStats(): HistoryStats {
    return this.#history.stats();
  }

  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
    this.#checkOpen();
    return this.#rows.get(collectionId)?.values.get(keyId(rowKey));
  }

  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "rowsAfter limit is a positive integer");
    const rows = this.#rows.get(collectionId);
    if (rows === undefined) return [];
    return rows
      .idsAfter(after === undefined ? undefined : keyId(after), limit)
      .map((id) => ({ rowKey: keyFromId(id), value: rows.values.get(id) as Uint8Array }));
  }

  reclaimStats(): ReclaimStats {
    return { pendingCollections: this.#reclaimQueue.size, reclaimedRows: this.#reclaimedRows };
  }

  reclaimStep(rowsMax: number): number {
    this.#checkOpen();
    assert(Number.isSafeInteger(rowsMax) && rowsMax > 0, "reclaimStep's rowsMax is a positive integer");
    let deleted = 0;
    for (const collectionId of this.#reclaimQueue) {
      const rows = this.#rows.get(collectionId);
      for (const id of rows?.values.keys() ?? []) {
        if (deleted === rowsMax) break;
        rows?.delete(id);
        deleted++;
      }
      if (rows !== undefined && rows.values.size > 0) break;
      this.#rows.delete(collectionId);
      this.#reclaimQueue.delete(collectionId);
    }
    this.#reclaimedRows += deleted;
    return deleted;
  }

  events(fromRevision: number, toRevision: number): HistoryEvent[] {
    this.#checkOpen();
    if (fromRevision <= this.#history.compactedRevision)
      throw compactedError(fromRevision, this.#history.compactedRevision);
    // The window's revisions in order (a Map keeps insertion order, and they are inserted increasing); one an
    // import skipped has none (history.ts).
    const out: HistoryEvent[] = [];
    const last = Math.min(toRevision, this.#meta.revision);
    for (const [revision, events] of this.#events) {
      if (revision > last) break;
      if (revision >= fromRevision) out.push(...events);
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

  applyEntries(entries: readonly ApplyEntry[]): R[] {
    this.#checkOpen();
    assert(!this.#restoring, "Cannot apply entries while a snapshot is being restored");
    const reader = {
      getRecord: (key: Uint8Array) => this.#records.get(keyId(key)),
      keysAfter: this.#keysAfter.bind(this),
      keyCount: () => this.#records.size,
      getRow: this.getRow.bind(this),
      rowsAfter: this.rowsAfter.bind(this),
    };
    const plan = planBatch(this.#applier, reader, this.#meta, entries);
    if (plan.flushed) this.#dropAll(plan.events[0]?.revision ?? plan.meta.revision);
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
    for (const { collectionId, rowKey, value } of plan.rows) {
      const rows = this.#rows.get(collectionId) ?? new SortedIdMap<Uint8Array>();
      this.#rows.set(collectionId, rows);
      if (value === undefined) rows.delete(keyId(rowKey));
      else rows.set(keyId(rowKey), value);
    }
    for (const collectionId of plan.reclaims) this.#reclaimQueue.add(collectionId);
    if (plan.reclaims.length > 0) this.#reclaimer.wake();
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

  /** FLUSHALL: the whole state goes at once; the history restarts just before the flush's revision. */
  #dropAll(flushRevision: number): void {
    this.#records = new Map();
    this.#sortedIds = [];
    this.#expiring = new Set();
    this.#rows = new Map();
    this.#reclaimQueue = new Set();
    this.#events = new Map();
    this.#history.reset(flushRevision - 1);
  }

  snapshot(): StoreSnapshot {
    this.#checkOpen();
    // Records and row values are immutable, so copying the sorted pairs freezes this point in time.
    const entries: SnapshotEntry[] = [];
    for (const id of this.#ids()) {
      const record = this.#records.get(id) as StoredRecord;
      entries.push({ kind: "record", key: keyFromId(id), record });
      const collection = collectionOf(record);
      if (collection !== undefined) entries.push(...this.#snapshotRows(collection.collectionId));
    }
    const snapshot = new ChunkedSnapshot(
      this.#meta,
      entries.values(),
      this.#chunkSizeBytes,
      () => {
        this.#snapshots.delete(snapshot);
      },
      this.#nextTurn,
    );
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  async restore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    this.#checkOpen();
    assert(!this.#restoring, "Cannot restore: another restore is running");
    this.#restoring = true;
    try {
      const records = new Map<string, StoredRecord>();
      const allRows = new Map<number, SortedIdMap<Uint8Array>>();
      let meta: StoreMeta | undefined;
      for await (const item of parseSnapshot(chunks)) {
        if (item.kind === "header") meta = item.meta;
        else if (item.kind === "record") records.set(keyId(item.key), item.record);
        else {
          const rows = allRows.get(item.collectionId) ?? new SortedIdMap<Uint8Array>();
          allRows.set(item.collectionId, rows);
          rows.set(keyId(item.rowKey), item.value);
        }
      }
      assert(meta !== undefined, "a parsed snapshot has a header");
      if (this.#closed) throw new ShoalError("UNAVAILABLE", "Cannot restore snapshot: the store was closed");
      this.#records = records;
      this.#rows = allRows;
      this.#reclaimQueue = new Set();
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
    this.#reclaimer.stop();
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

  #snapshotRows(collectionId: number): SnapshotEntry[] {
    const rows = this.#rows.get(collectionId);
    if (rows === undefined) return [];
    return rows.sortedIds().map((id) => ({
      kind: "row",
      collectionId,
      rowKey: keyFromId(id),
      value: rows.values.get(id) as Uint8Array,
    }));
  }

  #ids(): string[] {
    if (this.#sortedIds === undefined) this.#sortedIds = [...this.#records.keys()].sort();
    return this.#sortedIds;
  }

  #checkOpen(): void {
    assert(!this.#closed, "The store is closed");
  }
}

/** The first index whose id is >= `id`. Latin1 ids compare like their bytes (see lib/bytes.ts). */
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
