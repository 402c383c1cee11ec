/**
 * @module The LMDB `StateMachineStore` of a real node: the only importer of lmdb (through lmdb-env.ts).
 *
 * Layout, in one LMDB database with binary keys:
 *   0x00 'm'                              -> StoreMeta (applied index, revision, clock, counts)  store-meta.ts
 *   0x01 <key bytes>                      -> the key's record                                    record-codec.ts
 *   0x02 <expiresAtMs u64 BE> <key bytes> -> empty: the expiry index, one row per key with a TTL
 *   0x03 <revision u64 BE> <seq u32 BE>   -> one watch-history event (store/history.ts), seq 0.. per revision
 * The namespace byte leaves room for more kinds of rows and makes the empty Redis key storable (LMDB refuses
 * zero-length keys). The expiry index is derived data: written in the same transaction as the records, left
 * out of snapshots and rebuilt on restore. The history is written in the same transaction as the records it
 * describes (so it never misses or invents a change across a crash), compacted in that transaction too, left
 * out of snapshots, and empty after a restore.
 *
 * Durability: `applyEntries` writes a batch's records AND its applied index in one `transactionSync`, so after
 * any crash the data is exactly that of the entries up to the stored applied index: nothing re-applied, nothing
 * skipped. With `syncCommits` (the default) that transaction is fsynced before `applyEntries` returns, so an
 * applied index the node has seen is never lost, and the WAL may be compacted up to it. With `syncCommits: false`
 * (LMDB noSync, for fsync=never cache mode) a machine crash may roll the store back to an older applied index
 * (still consistent if the file system keeps write order, which LMDB needs); recovery then re-applies the
 * entries after it from the WAL, so the host must never compact the WAL past the store's durable applied index.
 * A process crash (SIGKILL) loses nothing in either mode: committed pages are in the OS page cache.
 */
import fs from "node:fs";
import path from "node:path";
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { plainBytes } from "../../commands/bytes.js";
import type { CommandResult } from "../../commands/command.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue } from "../../commands/record.js";
import { assert } from "../../lib/assert.js";
import { ShoalError } from "../../lib/errors.js";
import { planBatch } from "../batch-plan.js";
import { ChunkedSnapshot } from "../chunked-snapshot.js";
import {
  compactedError,
  decodeEvent,
  encodeEvent,
  type HistoryEvent,
  type HistoryOptions,
  HistoryWindow,
  type RevisionSummary,
  summarize,
} from "../history.js";
import { isStorableKey, prefixEnd, rangeStartAfter, storableAfter } from "../key-range.js";
import { decodeRecord, encodeRecord } from "../record-codec.js";
import { parseSnapshot, SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT, type SnapshotRecord } from "../snapshot-format.js";
import type { ApplyEntry, HistoryStats, StateMachineStore, StoreSnapshot, StoreStats } from "../state-machine-store.js";
import { decodeMeta, EMPTY_META, encodeMeta, type StoreMeta } from "../store-meta.js";
import { envGeneration, envName, readCurrent, removeStale, writeCurrent } from "./env-dir.js";
import { type LmdbDatabase, LmdbEnv } from "./lmdb-env.js";

export interface LmdbStoreOptions extends HistoryOptions {
  /** Upper bound of each snapshot chunk. */
  readonly snapshotChunkSizeBytes?: number;
  /** Fsync every applied batch before returning (default true). See the module comment before turning it off. */
  readonly syncCommits?: boolean;
  /** Record bytes per LMDB transaction while restoring: bounds each synchronous step (default 1 MiB). */
  readonly restoreBatchSizeBytes?: number;
}

export const META_KEY = Buffer.from([0x00, 0x6d]);
const DATA_PREFIX = 0x01;
export const DATA_START = Buffer.from([DATA_PREFIX]);
export const DATA_END = Buffer.from([DATA_PREFIX + 1]);
const EXPIRY_PREFIX = 0x02;
const EXPIRY_START = Buffer.from([EXPIRY_PREFIX]);
const HISTORY_PREFIX = 0x03;
const HISTORY_START = Buffer.from([HISTORY_PREFIX]);
const HISTORY_END = Buffer.from([HISTORY_PREFIX + 1]);
const EMPTY_VALUE = new Uint8Array(0);

export class LmdbStore implements StateMachineStore {
  readonly #dir: string;
  readonly #syncCommits: boolean;
  readonly #chunkSizeBytes: number;
  readonly #restoreBatchSizeBytes: number;
  #env: LmdbEnv;
  /** The highest environment generation this process has used. A restore always takes a new one: a retired
   * environment may still be closing (and deleting its directory) in the background, so a name is never reused. */
  #generation: number;
  /** A cache of the meta row of #env, updated with every commit. */
  #meta: StoreMeta;
  readonly #history: HistoryWindow;
  #restoring: Promise<void> | undefined;
  #closed = false;
  readonly #snapshots = new Set<ChunkedSnapshot>();
  /** Every environment ever opened that may not be closed yet (retired ones still read by snapshots). */
  readonly #envs = new Set<LmdbEnv>();

  private constructor(dir: string, options: LmdbStoreOptions, env: LmdbEnv) {
    this.#dir = dir;
    this.#syncCommits = options.syncCommits ?? true;
    this.#chunkSizeBytes = options.snapshotChunkSizeBytes ?? SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT;
    this.#restoreBatchSizeBytes = options.restoreBatchSizeBytes ?? 1024 * 1024;
    this.#env = env;
    this.#generation = envGeneration(env.name);
    this.#envs.add(env);
    this.#meta = readMeta(env.db);
    this.#history = new HistoryWindow(options, 0);
    const held = readHistorySummaries(env.db);
    this.#history.reset(held.length === 0 ? this.#meta.revision : (held[0] as RevisionSummary).revision - 1, held);
  }

  /** Opens (creating if needed) the store in directory `dir`, discarding leftovers of an interrupted restore. */
  static open(dir: string, options: LmdbStoreOptions = {}): LmdbStore {
    fs.mkdirSync(dir, { recursive: true });
    let name = readCurrent(dir);
    removeStale(dir, name);
    const envOptions = { syncCommits: options.syncCommits ?? true };
    if (name === undefined) {
      name = envName(1);
      const env = LmdbEnv.open(dir, name, envOptions);
      writeCurrent(dir, name);
      return new LmdbStore(dir, options, env);
    }
    return new LmdbStore(dir, options, LmdbEnv.open(dir, name, envOptions));
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
    this.#checkOpen();
    return this.#env.db.getKeysCount({ start: EXPIRY_START, end: Buffer.from([EXPIRY_PREFIX + 1]) });
  }

  /** The bytes the live environment's data file uses (its pages up to the last one written), for metrics. */
  fileSizeBytes(): number {
    this.#checkOpen();
    const stats = this.#env.db.getStats() as { pageSize?: number; lastPageNumber?: number };
    return ((stats.lastPageNumber ?? -1) + 1) * (stats.pageSize ?? 0);
  }

  historyStats(): HistoryStats {
    return this.#history.stats();
  }

  /**
   * Lends the live environment to a reader on another thread (lmdb-read-view.ts): its path, pinned open until
   * `release` is called, so a restore that retires it meanwhile cannot delete it under the reader. Every commit
   * made before this call is visible to a read transaction the reader starts afterwards.
   */
  lendEnvironment(): { readonly path: string; release(): void } {
    this.#checkOpen();
    const env = this.#env;
    env.ref();
    let released = false;
    return {
      path: env.path,
      release: () => {
        if (released) return;
        released = true;
        env.unref();
      },
    };
  }

  events(fromRevision: number, toRevision: number): HistoryEvent[] {
    this.#checkOpen();
    if (fromRevision <= this.#history.compactedRevision)
      throw compactedError(fromRevision, this.#history.compactedRevision);
    const last = Math.min(toRevision, this.#meta.revision);
    if (last < fromRevision) return [];
    const rows = this.#env.db.getRange({ start: historyKey(fromRevision, 0), end: historyKey(last + 1, 0) });
    const out: HistoryEvent[] = [];
    for (const { key, value } of rows) out.push(decodeEvent(historyRevision(key), value));
    return out;
  }

  get(key: Uint8Array, nowMs: number): KeyValue | undefined {
    this.#checkOpen();
    const record = this.#getRecord(key);
    if (record === undefined || !isLive(record, Math.max(nowMs, this.#meta.clockMs))) return undefined;
    return toKeyValue(plainBytes(key), record);
  }

  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, nowMs: number): KeyValue[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "range limit is a positive integer");
    if (!isStorableKey(prefix)) return [];
    const start = rangeStartAfter(prefix, after);
    const end = prefixEnd(prefix);
    const rows = this.#env.db.getRange({
      start: dataKey(start.key),
      end: end === undefined ? DATA_END : dataKey(end),
      exclusiveStart: start.exclusive,
    });
    const effectiveNowMs = Math.max(nowMs, this.#meta.clockMs);
    const out: KeyValue[] = [];
    for (const { key, value } of rows) {
      if (out.length >= limit) break;
      const record = decodeRecord(value);
      if (isLive(record, effectiveNowMs)) out.push(toKeyValue(userKey(key), record));
    }
    return out;
  }

  expiredKeys(nowMs: number, limit: number): Uint8Array[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "expiredKeys limit is a positive integer");
    const effectiveNowMs = Math.max(nowMs, this.#meta.clockMs);
    const rows = this.#env.db.getKeys({ start: EXPIRY_START, end: expiryKey(effectiveNowMs + 1, EMPTY_VALUE), limit });
    return [...rows].map((row) => plainBytes(row.subarray(9)));
  }

  applyEntries(entries: readonly ApplyEntry[]): CommandResult[] {
    this.#checkOpen();
    assert(this.#restoring === undefined, "Cannot apply entries while a snapshot is being restored");
    if (entries.length === 0) return [];
    const reader = {
      getRecord: (key: Uint8Array) => this.#getRecord(key),
      keysAfter: this.#keysAfter.bind(this),
      keyCount: () => this.#meta.keyCount,
    };
    const plan = planBatch(reader, this.#meta, entries);
    const rows = historyRows(plan.events);
    const added = summarize(rows.map((row) => ({ revision: row.revision, bytes: row.value.byteLength })));
    const historyPlan = this.#history.plan(added);
    const db = this.#env.db;
    db.transactionSync(() => {
      for (const { key, record, previous } of plan.writes) {
        if (previous !== undefined && previous.expiresAtMs !== 0) db.removeSync(expiryKey(previous.expiresAtMs, key));
        if (record === undefined) db.removeSync(dataKey(key));
        else putRecord(db, key, record);
      }
      for (const row of rows) db.putSync(row.key, row.value);
      for (const { revision, count } of historyPlan.drop) {
        for (let seq = 0; seq < count; seq++) db.removeSync(historyKey(revision, seq));
      }
      db.putSync(META_KEY, encodeMeta(plan.meta));
    });
    this.#meta = plan.meta;
    this.#history.commit(added, historyPlan);
    return plan.results;
  }

  snapshot(): StoreSnapshot {
    this.#checkOpen();
    const env = this.#env;
    env.ref();
    const transaction = env.db.useReadTransaction();
    const metaBytes = env.db.get(META_KEY, { transaction });
    const meta = metaBytes === undefined ? EMPTY_META : decodeMeta(metaBytes);
    assert(meta.appliedIndex === this.#meta.appliedIndex, "a snapshot's read transaction sees the latest commit");
    const cursor = env.db.getRange({ start: DATA_START, end: DATA_END, transaction })[Symbol.iterator]();
    const records: Iterator<SnapshotRecord> = {
      next: () => {
        const row = cursor.next();
        if (row.done === true) return { done: true, value: undefined };
        return { done: false, value: { key: userKey(row.value.key), record: decodeRecord(row.value.value) } };
      },
    };
    const snapshot = new ChunkedSnapshot(meta, records, this.#chunkSizeBytes, () => {
      // Cursor before transaction: LMDB must not see a transaction end under an open cursor.
      cursor.return?.();
      transaction.done();
      this.#snapshots.delete(snapshot);
      env.unref();
    });
    this.#snapshots.add(snapshot);
    return snapshot;
  }

  async restore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    this.#checkOpen();
    assert(this.#restoring === undefined, "Cannot restore: another restore is running");
    const restoring = this.#install(chunks);
    this.#restoring = restoring.catch(() => undefined);
    try {
      await restoring;
    } finally {
      this.#restoring = undefined;
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#restoring;
    for (const snapshot of [...this.#snapshots]) snapshot.release();
    this.#env.unref();
    await Promise.all([...this.#envs].map((env) => env.closed()));
  }

  /** Fills a fresh environment from the image, then makes it live with one rename (env-dir.ts). */
  async #install(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    for (const env of this.#envs) if (env.isClosed) this.#envs.delete(env);
    this.#generation++;
    const name = envName(this.#generation);
    await fs.promises.rm(path.join(this.#dir, name), { recursive: true, force: true });
    const staging = LmdbEnv.open(this.#dir, name, { syncCommits: this.#syncCommits });
    this.#envs.add(staging);
    let meta: StoreMeta;
    try {
      meta = await fillEnvironment(staging.db, chunks, this.#restoreBatchSizeBytes);
      if (this.#closed) throw new ShoalError("UNAVAILABLE", "Cannot restore snapshot: the store was closed");
      writeCurrent(this.#dir, name); // The commit point: from here on a reopen finds the new state.
    } catch (error) {
      staging.retire();
      throw error;
    }
    const old = this.#env;
    this.#env = staging;
    this.#meta = meta;
    this.#history.reset(meta.revision);
    old.retire();
  }

  /** Stored keys after `after` in order (expired ones included): for KEYS/SCAN/FLUSHALL inside apply. */
  #keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    const rows = this.#env.db.getKeys({
      start: after === undefined ? DATA_START : dataKey(storableAfter(after)),
      end: DATA_END,
      exclusiveStart: after !== undefined,
      limit,
    });
    return [...rows].map((row) => userKey(row as Uint8Array));
  }

  #getRecord(key: Uint8Array): StoredRecord | undefined {
    if (!isStorableKey(key)) return undefined; // never stored; and LMDB may throw on it
    const bytes = this.#env.db.getBinary(dataKey(key));
    return bytes === undefined ? undefined : decodeRecord(bytes);
  }

  #checkOpen(): void {
    assert(!this.#closed, "The store is closed");
  }
}

async function fillEnvironment(
  db: LmdbDatabase,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  batchSizeBytes: number,
): Promise<StoreMeta> {
  let meta: StoreMeta | undefined;
  let batch: SnapshotRecord[] = [];
  let batchBytes = 0;
  for await (const item of parseSnapshot(chunks)) {
    if (item.kind === "header") {
      meta = item.meta;
      continue;
    }
    batch.push(item);
    batchBytes += item.key.byteLength + item.record.value.byteLength;
    if (batchBytes >= batchSizeBytes) {
      writeRecords(db, batch, undefined);
      batch = [];
      batchBytes = 0;
      await nextMacrotask(); // one bounded synchronous transaction per event-loop turn
    }
  }
  assert(meta !== undefined, "a parsed snapshot has a header");
  // The meta goes in last: the environment is not live until CURRENT names it, so this order is only tidy.
  writeRecords(db, batch, meta);
  return meta;
}

function writeRecords(db: LmdbDatabase, records: readonly SnapshotRecord[], meta: StoreMeta | undefined): void {
  db.transactionSync(() => {
    for (const { key, record } of records) putRecord(db, key, record);
    if (meta !== undefined) db.putSync(META_KEY, encodeMeta(meta));
  });
}

function putRecord(db: LmdbDatabase, key: Uint8Array, record: StoredRecord): void {
  db.putSync(dataKey(key), encodeRecord(record));
  if (record.expiresAtMs !== 0) db.putSync(expiryKey(record.expiresAtMs, key), EMPTY_VALUE);
}

function readMeta(db: LmdbDatabase): StoreMeta {
  const bytes = db.getBinary(META_KEY);
  return bytes === undefined ? EMPTY_META : decodeMeta(bytes);
}

export function dataKey(key: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(key.byteLength + 1);
  bytes[0] = DATA_PREFIX;
  bytes.set(key, 1);
  return bytes;
}

/** Orders by expiry, then key: the u64 is big-endian so bytewise order is numeric order. */
function expiryKey(expiresAtMs: number, key: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(9 + key.byteLength);
  bytes[0] = EXPIRY_PREFIX;
  bytes.writeUInt32BE(Math.floor(expiresAtMs / 2 ** 32), 1);
  bytes.writeUInt32BE(expiresAtMs % 2 ** 32, 5);
  bytes.set(key, 9);
  return bytes;
}

/** Orders by revision, then by the event's place in its revision. */
function historyKey(revision: number, seq: number): Buffer {
  const bytes = Buffer.allocUnsafe(13);
  bytes[0] = HISTORY_PREFIX;
  bytes.writeUInt32BE(Math.floor(revision / 2 ** 32), 1);
  bytes.writeUInt32BE(revision % 2 ** 32, 5);
  bytes.writeUInt32BE(seq, 9);
  return bytes;
}

function historyRevision(key: Uint8Array): number {
  assert(key[0] === HISTORY_PREFIX && key.length === 13, "a history row's key is prefix, revision and seq");
  const view = new DataView(key.buffer, key.byteOffset, key.byteLength);
  return view.getUint32(1) * 2 ** 32 + view.getUint32(5);
}

function historyRows(events: readonly HistoryEvent[]): { revision: number; key: Buffer; value: Uint8Array }[] {
  let seq = 0;
  return events.map((event, i) => {
    seq = i > 0 && (events[i - 1] as HistoryEvent).revision === event.revision ? seq + 1 : 0;
    return { revision: event.revision, key: historyKey(event.revision, seq), value: encodeEvent(event) };
  });
}

/** The held revisions, read once when the store opens (bounded by the window). */
function readHistorySummaries(db: LmdbDatabase): RevisionSummary[] {
  const rows = db.getRange({ start: HISTORY_START, end: HISTORY_END });
  return summarize([...rows].map(({ key, value }) => ({ revision: historyRevision(key), bytes: value.byteLength })));
}

export function userKey(stored: Uint8Array): Uint8Array {
  assert(stored[0] === DATA_PREFIX, "a data row's key starts with the data prefix");
  return plainBytes(stored.subarray(1));
}
