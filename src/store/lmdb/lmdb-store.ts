/**
 * @module The LMDB `StateMachineStore` of a real node: the only importer of lmdb (through lmdb-env.ts).
 *
 * Layout, in one LMDB database with binary keys:
 *   0x00 'm'                              -> StoreMeta (applied index, revision, clock, counts)  store-meta.ts
 *   0x01 <key bytes>                      -> the key's record                                    record-codec.ts
 *   0x02 <expiresAtMs u64 BE> <key bytes> -> empty: the expiry index, one row per key with a TTL
 *   0x03 <revision u64 BE> <seq u32 BE>   -> one watch-history event (store/history.ts), seq 0.. per revision
 *   0x04 <collectionId u64 BE> <row key>  -> one row of a table-encoded collection (store/collection.ts)
 *   0x05 <collectionId u64 BE>            -> empty: the reclaim queue, one row per dropped collection
 * The namespace byte leaves room for more kinds of rows and makes the empty Redis key storable (LMDB refuses
 * zero-length keys). The expiry index is derived data: written in the same transaction as the records, left
 * out of snapshots and rebuilt on restore. The history is written in the same transaction as the records it
 * describes (so it never misses or invents a change across a crash), compacted in that transaction too, left
 * out of snapshots, and empty after a restore. Collection rows are replicated state, written in the same
 * transaction as their header record, and travel in snapshots after their owner. The reclaim queue is local
 * housekeeping: a collection is queued in the transaction that drops its owner, and the reclaimer deletes its
 * rows in bounded transactions of their own, dequeuing it with its last rows (so a crash only repeats a step).
 *
 * Durability: `applyEntries` writes a batch's records AND its applied index in one `transactionSync`, so after
 * any crash the data is exactly that of the entries up to the stored applied index: nothing re-applied, nothing
 * skipped. With `syncCommits` (the default) that transaction is fsynced before `applyEntries` returns, so an
 * applied index the node has seen is never lost, and the WAL may be compacted up to it. With `syncCommits: false`
 * (LMDB noSync, for fsync=never cache mode) a machine crash may roll the store back to an older applied index
 * (still consistent if the file system keeps write order, which LMDB needs); recovery then re-applies the
 * entries after it from the WAL, so the host must never compact the WAL past the store's durable applied index.
 * A process crash (SIGKILL) loses no commit in either mode: committed pages are in the OS page cache. One exception
 * without syncCommits: a FLUSHALL's new environment is live at once but named by CURRENT a few milliseconds later,
 * off the event loop (#makeCurrent; a snapshot install waits for it); a SIGKILL in between reopens the environment
 * before it — whole, at its own applied index — and recovery re-applies the rest from the WAL or restores the
 * snapshot.
 */
import fs from "node:fs";
import path from "node:path";
import { setImmediate as nextMacrotask } from "node:timers/promises";
import { assert } from "../../lib/assert.js";
import { keyId, plainBytes } from "../../lib/bytes.js";
import { ShoalError } from "../../lib/errors.js";
import { runSteps, runStepsInSlices, type Steps } from "../../lib/steps.js";
import { hashSlot, SLOT_COUNT } from "../../slots/hash-slot.js";
import { type BatchPlan, planBatchSteps } from "../batch-plan.js";
import { ChunkedSnapshot } from "../chunked-snapshot.js";
import { collectionOf } from "../collection.js";
import type { EntryApplier } from "../entry-applier.js";
import {
  compactedError,
  decodeEvent,
  encodeEvent,
  eventRecordBytes,
  type HistoryEvent,
  type HistoryOptions,
  HistoryWindow,
  type RevisionSummary,
  summarize,
} from "../history.js";
import { isStorableKey, prefixEnd, rangeStartAfter, storableAfter } from "../key-range.js";
import { BackgroundReclaimer, RECLAIM_ROWS_PER_STEP_DEFAULT, type ReclaimOptions } from "../reclaimer.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue, VALUE_BYTES, valueBytes } from "../record.js";
import {
  type DeferredCopy,
  decodeRecord,
  decodeRecordCopy,
  decodeRecordHeader,
  encodeRecord,
  RECORD_HEADER_BYTES,
  type RecordHeader,
} from "../record-codec.js";
import type { SlotStates } from "../slot-states.js";
import { parseSnapshot, SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT, type SnapshotEntry } from "../snapshot-format.js";
import type {
  ApplyEntry,
  HistoryStats,
  ReclaimStats,
  StateMachineStore,
  StoreSnapshot,
  StoreStats,
} from "../state-machine-store.js";
import { decodeMeta, EMPTY_META, encodeMeta, type StoreMeta } from "../store-meta.js";
import type { CollectionRow } from "../write-set.js";
import { startEnvCloser } from "./env-closer.js";
import { envGeneration, envName, readCurrent, removeStale, writeCurrent, writeCurrentDeferred } from "./env-dir.js";
import { startEnvWriter, writeRowsOffThread } from "./env-writer.js";
import { type LmdbDatabase, LmdbEnv } from "./lmdb-env.js";
import { PackedRowsBuilder } from "./packed-rows.js";

type Transaction = ReturnType<LmdbDatabase["useReadTransaction"]>;

export interface LmdbStoreOptions<R> extends HistoryOptions, ReclaimOptions {
  /** What an entry means (a node's: the command layer's `applyEntryData`). */
  readonly applier: EntryApplier<R>;
  /** Upper bound of each snapshot chunk. */
  readonly snapshotChunkSizeBytes?: number;
  /** Fsync every applied batch before returning (default true). See the module comment before turning it off. */
  readonly syncCommits?: boolean;
  /** Record bytes per LMDB transaction while restoring: bounds each synchronous step (default 1 MiB). */
  readonly restoreBatchSizeBytes?: number;
  /** A commit on the event loop that takes this long (default SLOW_COMMIT_MS) makes the store write off the loop
   * for a while (`writesSlowly`). */
  readonly slowCommitMs?: number;
}

export const META_KEY = Buffer.from([0x00, 0x6d]);
const DATA_PREFIX = 0x01;
export const DATA_START = Buffer.from([DATA_PREFIX]);
export const DATA_END = Buffer.from([DATA_PREFIX + 1]);
const EXPIRY_PREFIX = 0x02;
const EXPIRY_START = Buffer.from([EXPIRY_PREFIX]);
const HISTORY_PREFIX = 0x03;
const HISTORY_END = Buffer.from([HISTORY_PREFIX + 1]);
const ROW_PREFIX = 0x04;
const RECLAIM_PREFIX = 0x05;
/** 0x06 <key> -> empty: the keys whose value is BIG_VALUE_BYTES_MIN or more (derived from the records, written in
 * the same transaction, never in a snapshot), so a read of one can be sent to a read worker (holdsBigValue). */
const BIG_VALUE_PREFIX = 0x06;
const BIG_VALUE_START = Buffer.from([BIG_VALUE_PREFIX]);
const BIG_VALUE_END = Buffer.from([BIG_VALUE_PREFIX + 1]);
/** 0x07 <revision u64> -> count u32 | bytes f64: the summary (RevisionSummary) of each held history revision of more
 * than one event, written and dropped with its events, so opening a store reads at most two small rows per revision
 * (at most historyRevisionsMax) instead of every event of the window — 300,000 events took 1.5 s at start (issue
 * 10). A revision of one event (the common write) has none: its one row says its size, and an extra put and delete
 * per write cost ~5% of a SET's apply. Local like the history: never in a snapshot. */
const HISTORY_SUMMARY_PREFIX = 0x07;
const HISTORY_SUMMARY_START = Buffer.from([HISTORY_SUMMARY_PREFIX]);
const HISTORY_SUMMARY_END = Buffer.from([HISTORY_SUMMARY_PREFIX + 1]);
/** 0x08 <slot u16> <key> -> empty: every stored key under its Redis Cluster hash slot (slots/hash-slot.ts), written
 * and removed with the key's data row, so CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT (and, with issue 13, moving a
 * slot) cost the slot's keys, not the store's. Derived from the records: never in a snapshot, rebuilt on restore. */
const SLOT_PREFIX = 0x08;
/** See BIG_VALUE_PREFIX. */
export const BIG_VALUE_BYTES_MIN = 1024 * 1024;
const RECLAIM_START = Buffer.from([RECLAIM_PREFIX]);
const RECLAIM_END = Buffer.from([RECLAIM_PREFIX + 1]);
const EMPTY_VALUE = new Uint8Array(0);
/** Work applyEntriesOffLoop does in one event-loop turn while it plans a batch (see lib/steps.ts). */
const APPLY_STEP_BUDGET_MS = 5;
/** A planned batch that writes this many rows or more (data, collection and history rows) is written off the event
 * loop (applyEntriesOffLoop, #writeOffLoop): each synchronous put costs ~2-7 µs on the loop here. */
const OFF_LOOP_WRITE_ROWS_MIN = 1024;
/** See `writesSlowly`: a small commit normally takes well under a millisecond here; one of 20 ms means the kernel is
 * throttling this writer (dirty pages of three nodes loading a gigabyte on one disk held one commit 110 ms, issue 10). */
const SLOW_COMMIT_MS = 20;
/** How long the store keeps writing off the loop after a slow commit before it tries the loop again. */
const SLOW_COMMIT_HOLD_MS = 5_000;
/** Bytes of a big value copied per event-loop turn (applyEntriesOffLoop). */
const COPY_SLICE_BYTES = 1024 * 1024;
/** See #adaptReclaimRows. */
const RECLAIM_STEP_TARGET_MS = 5;
const RECLAIM_ROWS_PER_STEP_MIN = 64;
/** A stored record at least this big is read with its value left in LMDB until a command uses it (#getRecord). */
const LAZY_VALUE_BYTES_MIN = 64 * 1024;
/** Collections one reclaim step looks at, at most (each may have no rows left). */
const RECLAIM_COLLECTIONS_PER_STEP_MAX = 256;

export class LmdbStore<R> implements StateMachineStore<R> {
  readonly #applier: EntryApplier<R>;
  readonly #dir: string;
  readonly #syncCommits: boolean;
  readonly #chunkSizeBytes: number;
  readonly #restoreBatchSizeBytes: number;
  readonly #reclaimRowsPerStep: number;
  /** Rows the next background reclaim step may delete: within [RECLAIM_ROWS_PER_STEP_MIN, #reclaimRowsPerStep],
   * steered by the measured time of each step (#adaptReclaimRows). */
  #reclaimRows: number;
  readonly #reclaimer: BackgroundReclaimer;
  /** Invariant: the number of rows in the live environment's reclaim queue. */
  #pendingReclaims: number;
  #reclaimedRows = 0;
  #env: LmdbEnv;
  /** The highest environment generation this process has used. A restore always takes a new one: a retired
   * environment may still be closing (and deleting its directory) in the background, so a name is never reused. */
  #generation: number;
  /** A cache of the meta row of #env, updated with every commit. */
  #meta: StoreMeta;
  readonly #history: HistoryWindow;
  #restoring: Promise<void> | undefined;
  /** The keys (as keyId) of BIG_VALUE_PREFIX rows in the live environment, each with its record's header once
   * known: a SET or DEL over a big value needs only the header, and lmdb-js copies the whole value out of the map
   * on any read of its row (a 16 MiB copy into fresh memory held the loop ~60 ms, issue 10). */
  #bigKeys = new Map<string, BigRecordHeader | undefined>();
  /** Moves whenever a write to the store begins: a lazily read value must be read before it moves. */
  #writeEpoch = 0;
  readonly #slowCommitMs: number;
  /** Until when (performance.now()) commits go off the loop after a slow one (see writesSlowly). */
  #writesSlowlyUntilMs = 0;
  /** The meta of a batch being committed off the event loop (applyEntriesOffLoop), until it has. */
  #committing: { readonly meta: StoreMeta; readonly written: Promise<unknown> } | undefined;
  /** An applyEntriesOffLoop in progress (planning or writing), settled or not; undefined otherwise. */
  #applyingOffLoop: Promise<unknown> | undefined;
  /** The last CURRENT write without syncCommits (#makeCurrent), settled or not. */
  #currentWritten: Promise<void> = Promise.resolve();
  #closed = false;
  readonly #snapshots = new Set<ChunkedSnapshot>();
  /** Every environment ever opened that may not be closed yet (retired ones still read by snapshots). */
  readonly #envs = new Set<LmdbEnv>();

  private constructor(dir: string, options: LmdbStoreOptions<R>, env: LmdbEnv) {
    this.#applier = options.applier;
    this.#dir = dir;
    this.#syncCommits = options.syncCommits ?? true;
    this.#slowCommitMs = options.slowCommitMs ?? SLOW_COMMIT_MS;
    this.#chunkSizeBytes = options.snapshotChunkSizeBytes ?? SNAPSHOT_CHUNK_SIZE_BYTES_DEFAULT;
    this.#restoreBatchSizeBytes = options.restoreBatchSizeBytes ?? 1024 * 1024;
    this.#env = env;
    this.#generation = envGeneration(env.name);
    this.#envs.add(env);
    this.#meta = readMeta(env.db);
    this.#bigKeys = readBigKeys(env.db);
    indexSlotsIfMissing(env.db, this.#meta.keyCount);
    startEnvCloser(); // FLUSHALL and snapshot installs retire environments: see env-closer.ts
    startEnvWriter(); // big batches commit on it: see env-writer.ts
    this.#history = new HistoryWindow(options, 0);
    const held = readHistorySummaries(env.db, this.#meta.revision);
    this.#history.reset(held.length === 0 ? this.#meta.revision : (held[0] as RevisionSummary).revision - 1, held);
    this.#reclaimRowsPerStep = options.reclaimRowsPerStep ?? RECLAIM_ROWS_PER_STEP_DEFAULT;
    this.#pendingReclaims = env.db.getKeysCount({ start: RECLAIM_START, end: RECLAIM_END });
    this.#reclaimRows = this.#reclaimRowsPerStep;
    this.#reclaimer = new BackgroundReclaimer(options.reclaim ?? "background", () => {
      const started = performance.now();
      const rows = this.reclaimStep(this.#reclaimRows);
      this.#adaptReclaimRows(rows, performance.now() - started);
      return this.#pendingReclaims > 0;
    });
    if (this.#pendingReclaims > 0) this.#reclaimer.wake(); // left over from before a restart
  }

  /** Opens (creating if needed) the store in directory `dir`, discarding leftovers of an interrupted restore. */
  static open<R>(dir: string, options: LmdbStoreOptions<R>): LmdbStore<R> {
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

  slotStates(): SlotStates {
    return this.#meta.slots;
  }

  stats(): StoreStats {
    return { keyCount: this.#meta.keyCount, sizeBytes: this.#meta.sizeBytes };
  }

  countKeysInSlot(slot: number): number {
    this.#checkOpen();
    return this.#env.db.getKeysCount(slotRange(slot));
  }

  keysInSlot(slot: number, limit: number, after?: Uint8Array): Uint8Array[] {
    this.#checkOpen();
    if (limit === 0) return [];
    const range = slotRange(slot);
    // Strictly after `after`: its row under this slot followed by a zero byte is the next row that may exist (under
    // `slot`, not `after`'s own slot: an `after` of another slot, the empty key say, must not reach other slots).
    const start = after === undefined ? range.start : Buffer.concat([range.start, after, Buffer.of(0)]);
    return [...this.#env.db.getKeys({ start, end: range.end, limit })].map((row) => plainBytes(row.subarray(3)));
  }

  keysFromSlot(slot: number, limit: number): Uint8Array[] {
    this.#checkOpen();
    if (limit === 0) return [];
    const rows = this.#env.db.getKeys({ start: slotStart(slot), end: Buffer.from([SLOT_PREFIX + 1]), limit });
    return [...rows].map((row) => plainBytes(row.subarray(3)));
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

  /** True when `key` holds a value of BIG_VALUE_BYTES_MIN or more (expired or not): reading it copies megabytes,
   * so a front end sends the read to a read worker. */
  holdsBigValue(key: Uint8Array): boolean {
    return this.#bigKeys.size > 0 && this.#bigKeys.has(keyId(key));
  }

  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
    this.#checkOpen();
    const bytes = this.#env.db.getBinary(rowStoreKey(collectionId, rowKey));
    return bytes === undefined ? undefined : plainBytes(bytes);
  }

  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
    this.#checkOpen();
    assert(Number.isSafeInteger(limit) && limit > 0, "rowsAfter limit is a positive integer");
    const rows = this.#env.db.getRange({
      start: after === undefined ? rowPrefix(collectionId) : rowStoreKey(collectionId, after),
      end: rowPrefix(collectionId + 1),
      exclusiveStart: after !== undefined,
      limit,
    });
    return [...rows].map(({ key, value }) => ({ rowKey: rowKeyOf(key), value: plainBytes(value) }));
  }

  reclaimStats(): ReclaimStats {
    return { pendingCollections: this.#pendingReclaims, reclaimedRows: this.#reclaimedRows };
  }

  /** A background step should hold the loop about RECLAIM_STEP_TARGET_MS: LMDB deletes cost more on a big, cold
   * or busy environment (a step of 2,048 rows took 2–4 ms on a small store and tens on a 1 M-key one, issue 10), so
   * the next step's rows follow the last step's measured cost per row. */
  #adaptReclaimRows(rows: number, ms: number): void {
    if (rows === 0) return;
    const fitting = Math.floor((RECLAIM_STEP_TARGET_MS * rows) / Math.max(ms, 0.001));
    const next = Math.min(fitting, 2 * this.#reclaimRows); // grow by doubling at most, shrink at once
    this.#reclaimRows = Math.max(
      Math.min(RECLAIM_ROWS_PER_STEP_MIN, this.#reclaimRowsPerStep),
      Math.min(this.#reclaimRowsPerStep, next),
    );
  }

  reclaimStep(rowsMax: number): number {
    this.#checkOpen();
    assert(Number.isSafeInteger(rowsMax) && rowsMax > 0, "reclaimStep's rowsMax is a positive integer");
    if (this.#pendingReclaims === 0) return 0;
    // A synchronous transaction would wait here, on the event loop, for the write thread's commit.
    if (this.#committing !== undefined || this.#applyingOffLoop !== undefined) return 0;
    const db = this.#env.db;
    const outcome = db.transactionSync(() => {
      let deleted = 0;
      let dequeued = 0;
      const queued = [
        ...db.getKeys({ start: RECLAIM_START, end: RECLAIM_END, limit: RECLAIM_COLLECTIONS_PER_STEP_MAX }),
      ];
      for (const queueKey of queued) {
        const collectionId = readU64(queueKey as Uint8Array, 1);
        const budget = rowsMax - deleted;
        const rows = [
          ...db.getKeys({ start: rowPrefix(collectionId), end: rowPrefix(collectionId + 1), limit: budget }),
        ];
        for (const row of rows) db.removeSync(row);
        deleted += rows.length;
        if (rows.length === budget) break; // maybe more rows: the collection stays queued
        db.removeSync(queueKey);
        dequeued++;
      }
      return { deleted, dequeued };
    });
    this.#pendingReclaims -= outcome.dequeued;
    this.#reclaimedRows += outcome.deleted;
    return outcome.deleted;
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

  /**
   * True for SLOW_COMMIT_HOLD_MS after a commit on the event loop took slowCommitMs or more: then every batch should
   * go to applyEntriesOffLoop, which writes even a small one off the loop. Writing off the loop costs ~40 % of a
   * small SET's throughput here (a thread hop per batch), so it is not the rule — only while the disk blocks the
   * loop's writes, which it did for 110 ms at a time under a heavy load (issue 10).
   */
  get writesSlowly(): boolean {
    return performance.now() < this.#writesSlowlyUntilMs;
  }

  applyEntries(entries: readonly ApplyEntry[]): R[] {
    this.#checkCanApply();
    const batch = runSteps(this.#prepareSteps(entries));
    if (batch === undefined) return [];
    if (batch.plan.flushed) return this.#applyFlushed(batch.plan, batch.rows, batch.added);
    return this.#writeOnLoop(batch);
  }

  /**
   * applyEntries spread over event-loop turns, for a slice with a big entry (issue 10). Planning runs the applier's
   * steps (lib/steps.ts) in slices of APPLY_STEP_BUDGET_MS: an MSET of 100,000 keys or a MULTI of 10,000 commands
   * is planned between heartbeats instead of in one turn of hundreds of milliseconds. A big plan is then committed
   * off the event loop in one transaction (#writeOffLoop: by the writer thread, or by lmdb-js's write thread when it
   * holds big values). A small plan is written as applyEntries writes it. Atomic like applyEntries — data, history and the applied index
   * commit together or not at all. Until it settles, reads see the state before the batch (appliedIndex()
   * included), nothing else writes (background reclaim waits), and the caller calls no other writing method (the
   * host applies one slice at a time).
   */
  async applyEntriesOffLoop(entries: readonly ApplyEntry[]): Promise<R[]> {
    this.#checkCanApply();
    const applying = this.#applySliced(entries);
    this.#applyingOffLoop = applying.catch(() => undefined);
    try {
      return await applying;
    } finally {
      this.#applyingOffLoop = undefined;
    }
  }

  async #applySliced(entries: readonly ApplyEntry[]): Promise<R[]> {
    const deferred: DeferredCopy[] = [];
    const batch = await runStepsInSlices(this.#prepareSteps(entries, deferred), APPLY_STEP_BUDGET_MS);
    this.#checkOpen();
    if (batch === undefined) return [];
    if (batch.plan.flushed) {
      for (const { target, offset, source } of deferred) target.set(source, offset);
      return this.#applyFlushed(batch.plan, batch.rows, batch.added);
    }
    const rowCount = batch.plan.writes.length + batch.plan.rows.length + batch.rows.length;
    if (deferred.length === 0 && rowCount < OFF_LOOP_WRITE_ROWS_MIN && !this.writesSlowly) {
      return this.#writeOnLoop(batch);
    }
    const written = this.#writeOffLoop(batch, deferred);
    this.#committing = { meta: batch.plan.meta, written };
    try {
      await written;
    } finally {
      this.#committing = undefined;
    }
    return this.#committed(batch);
  }

  #writeOnLoop(batch: PreparedBatch<R>): R[] {
    const db = this.#env.db;
    this.#writeEpoch++;
    const startedMs = performance.now();
    db.transactionSync(() => writeBatch(syncWriter(db), batch));
    const doneMs = performance.now();
    if (doneMs - startedMs >= this.#slowCommitMs) this.#writesSlowlyUntilMs = doneMs + SLOW_COMMIT_HOLD_MS;
    return this.#committed(batch);
  }

  /** A batch of many rows and no big value: its rows are collected and packed a slice per turn and committed by the
   * writer thread (env-writer.ts). A batch with big values: they are copied into their encodings a slice per turn
   * (a 16 MiB copy into fresh memory held the loop ~50-150 ms here, page faults mostly), then its rows go to
   * lmdb-js's write thread, which takes the values' addresses instead of copying them again on the loop. */
  async #writeOffLoop(batch: PreparedBatch<R>, deferred: readonly DeferredCopy[]): Promise<void> {
    for (const { target, offset, source } of deferred) {
      for (let at = 0; at < source.byteLength; at += COPY_SLICE_BYTES) {
        target.set(source.subarray(at, at + COPY_SLICE_BYTES), offset + at);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
    const env = this.#env;
    if (deferred.length === 0) {
      // No big value: the rows are collected and packed a slice per turn, and the writer thread commits them.
      const packer = new PackedRowsBuilder();
      await runStepsInSlices(writeBatchSteps(packer, batch), APPLY_STEP_BUDGET_MS);
      const packed = await runStepsInSlices(packer.packSteps(), APPLY_STEP_BUDGET_MS);
      this.#checkOpen();
      this.#writeEpoch++;
      await writeRowsOffThread(env.path, !this.#syncCommits, packed);
      // The commit was made by another thread: this thread's cached read snapshot predates it.
      env.db.resetReadTxn();
      return;
    }
    const db = env.db;
    this.#writeEpoch++;
    await db.batch(() => writeBatch(asyncWriter(db), batch));
  }

  #checkCanApply(): void {
    this.#checkOpen();
    assert(this.#restoring === undefined, "Cannot apply entries while a snapshot is being restored");
    assert(this.#committing === undefined, "Cannot apply entries while an earlier batch is being committed");
    assert(this.#applyingOffLoop === undefined, "Cannot apply entries while an earlier batch is being applied");
  }

  /** Plans a batch (pure: the command semantics over the current state) without writing anything. */
  *#prepareSteps(entries: readonly ApplyEntry[], deferred?: DeferredCopy[]): Steps<PreparedBatch<R> | undefined> {
    if (entries.length === 0) return undefined;
    const reader = {
      getRecord: (key: Uint8Array) => this.#getRecord(key),
      keysAfter: this.#keysAfter.bind(this),
      keyCount: () => this.#meta.keyCount,
      getRow: this.getRow.bind(this),
      rowsAfter: this.rowsAfter.bind(this),
    };
    const plan = yield* planBatchSteps(this.#applier, reader, this.#meta, entries);
    const rows = yield* historyRowSteps(plan.events, deferred);
    const added = summarize(rows.map((row) => ({ revision: row.revision, bytes: row.value.byteLength })));
    const historyPlan = plan.flushed ? undefined : this.#history.plan(added);
    return { plan, rows, added, historyPlan };
  }

  /** Once a batch's transaction has committed: the in-memory view follows it. */
  #committed(batch: PreparedBatch<R>): R[] {
    const { plan, added, historyPlan } = batch;
    assert(historyPlan !== undefined, "a batch that is not a flush has a history plan");
    this.#meta = plan.meta;
    for (const { key, record } of plan.writes) {
      if (record !== undefined && isBigValue(record)) this.#bigKeys.set(keyId(key), bigRecordHeader(record));
      else if (this.#bigKeys.size > 0) this.#bigKeys.delete(keyId(key));
    }
    this.#history.commit(added, historyPlan);
    this.#pendingReclaims += plan.reclaims.length;
    if (plan.reclaims.length > 0) this.#reclaimer.wake();
    return plan.results;
  }

  snapshot(): StoreSnapshot {
    this.#checkOpen();
    const env = this.#env;
    env.ref();
    const transaction = env.db.useReadTransaction();
    const metaBytes = env.db.get(META_KEY, { transaction });
    const meta = metaBytes === undefined ? EMPTY_META : decodeMeta(metaBytes);
    // While an off-loop batch commits, the read transaction may already see it (its meta says so, and the image
    // is consistent with that meta either way).
    assert(
      meta.appliedIndex === this.#meta.appliedIndex || meta.appliedIndex === this.#committing?.meta.appliedIndex,
      "a snapshot's read transaction sees the latest commit",
    );
    const entries = snapshotEntries(env.db, transaction);
    const snapshot = new ChunkedSnapshot(meta, entries, this.#chunkSizeBytes, () => {
      // Cursors before transaction: LMDB must not see a transaction end under an open cursor.
      entries.return(undefined);
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
    this.#reclaimer.stop();
    await this.#restoring;
    await this.#applyingOffLoop;
    await this.#committing?.written.catch(() => undefined);
    await this.#currentWritten.catch(() => undefined);
    for (const snapshot of [...this.#snapshots]) snapshot.release();
    this.#env.unref();
    await Promise.all([...this.#envs].map((env) => env.closed()));
  }

  /**
   * FLUSHALL: a fresh environment takes the batch's plan (what follows the flush, and the flush's history event),
   * and one rename makes it live (env-dir.ts) — the commit point a snapshot restore uses, so a crash leaves either
   * the old state or the new one. The old environment, with every record, row, expiry index row, queued reclaim
   * and history event before the flush, is retired whole and its files deleted in the background. O(1) here,
   * whatever the store held, instead of one delete per key inside this transaction.
   */
  #applyFlushed(plan: BatchPlan<R>, rows: HistoryRows, added: RevisionSummary[]): R[] {
    const flush = plan.events[0];
    assert(flush?.type === "flush", "a flushed plan's history starts with the flush");
    assert(plan.reclaims.length === 0, "a flushed plan queues no reclaim: the old environment goes whole");
    this.#writeEpoch++;
    this.#history.reset(flush.revision - 1);
    const historyPlan = this.#history.plan(added);
    const fresh = this.#freshEnvironment();
    try {
      fresh.db.transactionSync(() => {
        for (const { key, record, previous } of plan.writes) {
          assert(previous === undefined, "nothing stored before a flush survives it");
          if (record !== undefined) putRecord(fresh.db, key, record, rows.encodedRecords.get(record));
        }
        for (const { collectionId, rowKey, value } of plan.rows) {
          if (value !== undefined) fresh.db.putSync(rowStoreKey(collectionId, rowKey), value);
        }
        writeHistory(syncWriter(fresh.db), rows, added, historyPlan.drop);
        fresh.db.putSync(META_KEY, encodeMeta(plan.meta));
      });
    } catch (error) {
      fresh.retire();
      throw error;
    }
    const durable = this.#makeCurrent(fresh.name); // The commit point (see #makeCurrent).
    const old = this.#env;
    this.#env = fresh;
    this.#meta = plan.meta;
    this.#bigKeys = readBigKeys(fresh.db);
    this.#history.commit(added, historyPlan);
    this.#pendingReclaims = 0;
    old.retire(durable);
    return plan.results;
  }

  /**
   * Makes environment `name` the live one on disk. With syncCommits the rename is durable before this returns, as
   * every commit is. Without (the node: its WAL is the durable log) the fsyncs run off the event loop, chained so
   * CURRENT is written in order (writeCurrentDeferred); the promise says when the environment it replaces may be
   * deleted; if it fails (the disk did), that environment's files are kept, and the next open removes whichever
   * environment CURRENT does not name.
   */
  #makeCurrent(name: string): Promise<void> {
    if (this.#syncCommits) {
      writeCurrent(this.#dir, name);
      return Promise.resolve();
    }
    const written = this.#currentWritten.then(() => writeCurrentDeferred(this.#dir, name));
    this.#currentWritten = written.catch(() => undefined); // the next write still goes (and fails if the disk does)
    return written;
  }

  /** A new, empty environment under the next generation's name (never a name used before in this process). */
  #freshEnvironment(): LmdbEnv {
    for (const env of this.#envs) if (env.isClosed) this.#envs.delete(env);
    this.#generation++;
    const name = envName(this.#generation);
    fs.rmSync(path.join(this.#dir, name), { recursive: true, force: true });
    const env = LmdbEnv.open(this.#dir, name, { syncCommits: this.#syncCommits });
    this.#envs.add(env);
    return env;
  }

  /** Fills a fresh environment from the image, then makes it live with one rename (env-dir.ts). */
  async #install(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void> {
    const staging = this.#freshEnvironment();
    const name = staging.name;
    let meta: StoreMeta;
    try {
      meta = await fillEnvironment(staging.db, chunks, this.#restoreBatchSizeBytes);
      if (this.#closed) throw new ShoalError("UNAVAILABLE", "Cannot restore snapshot: the store was closed");
      this.#writeEpoch++;
      await this.#makeCurrent(name); // The commit point: from here on a reopen finds the new state.
    } catch (error) {
      staging.retire();
      throw error;
    }
    const old = this.#env;
    this.#env = staging;
    this.#meta = meta;
    this.#bigKeys = readBigKeys(staging.db);
    this.#history.reset(meta.revision);
    this.#pendingReclaims = 0; // the old environment's queue goes with it; an image holds no dropped collection
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
    const db = this.#env.db;
    const storedKey = dataKey(key);
    const id = this.#bigKeys.size > 0 ? keyId(key) : undefined;
    const bigId = id !== undefined && this.#bigKeys.has(id) ? id : undefined;
    const known = bigId === undefined ? undefined : this.#bigKeys.get(bigId);
    if (known !== undefined) return this.#lazyRecord(storedKey, known);
    // lmdb-js's reusable read buffer (or a view of the map): valid until the next read, so nothing of it is kept.
    const fast = db.getBinaryFast(storedKey);
    if (fast === undefined) return undefined;
    const size = fast.length; // lmdb-js sets the length of its reusable buffer to the value's size
    if (size < LAZY_VALUE_BYTES_MIN) return decodeRecordCopy(fast, size);
    const header = {
      ...decodeRecordHeader(fast.subarray(0, RECORD_HEADER_BYTES)),
      valueBytes: size - RECORD_HEADER_BYTES,
    };
    if (bigId !== undefined) this.#bigKeys.set(bigId, header); // read at most once per key and environment
    return this.#lazyRecord(storedKey, header);
  }

  /**
   * A big value (a 16 MiB string) is read only if the command uses it: a SET or DEL over it needs the header
   * alone, and copying the value out cost ~100 ms of the event loop per write (issue 10). The value must be read
   * before the store changes: the records the planner reads live only while it plans the batch.
   */
  #lazyRecord(storedKey: Buffer, big: BigRecordHeader): StoredRecord {
    const db = this.#env.db;
    const { valueBytes: size, ...header } = big;
    const epoch = this.#writeEpoch;
    let value: Uint8Array | undefined;
    Object.defineProperty(header, VALUE_BYTES, { value: size });
    return Object.defineProperty(header, "value", {
      enumerable: true,
      get: (): Uint8Array => {
        if (value !== undefined) return value;
        assert(this.#writeEpoch === epoch, "a big record's value was first read after the store changed");
        const bytes = db.getBinary(storedKey);
        assert(bytes !== undefined, "a record read in this batch is still stored");
        value = plainBytes(bytes.subarray(RECORD_HEADER_BYTES));
        return value;
      },
    }) as StoredRecord;
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
  let batch: SnapshotEntry[] = [];
  let batchBytes = 0;
  for await (const item of parseSnapshot(chunks)) {
    if (item.kind === "header") {
      meta = item.meta;
      continue;
    }
    batch.push(item);
    batchBytes +=
      item.kind === "record"
        ? item.key.byteLength + item.record.value.byteLength
        : item.rowKey.byteLength + item.value.byteLength;
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

function writeRecords(db: LmdbDatabase, entries: readonly SnapshotEntry[], meta: StoreMeta | undefined): void {
  db.transactionSync(() => {
    for (const entry of entries) {
      if (entry.kind === "record") putRecord(db, entry.key, entry.record);
      else db.putSync(rowStoreKey(entry.collectionId, entry.rowKey), entry.value);
    }
    if (meta !== undefined) db.putSync(META_KEY, encodeMeta(meta));
  });
}

/** Every record in key order, each table-encoded one followed by its rows, read in one read transaction. */
function* snapshotEntries(db: LmdbDatabase, transaction: Transaction): Generator<SnapshotEntry, void, undefined> {
  for (const { key, value } of db.getRange({ start: DATA_START, end: DATA_END, transaction })) {
    const record = decodeRecord(value);
    yield { kind: "record", key: userKey(key), record };
    const collection = collectionOf(record);
    if (collection === undefined) continue;
    const { collectionId } = collection;
    const rows = db.getRange({ start: rowPrefix(collectionId), end: rowPrefix(collectionId + 1), transaction });
    for (const row of rows)
      yield { kind: "row", collectionId, rowKey: rowKeyOf(row.key), value: plainBytes(row.value) };
  }
}

/** Stores a record; `encoded` is its encoding when one exists already (inside its history event). */
function putRecord(db: LmdbDatabase, key: Uint8Array, record: StoredRecord, encoded?: Uint8Array): void {
  db.putSync(dataKey(key), encoded ?? encodeRecord(record));
  db.putSync(slotKey(key), EMPTY_VALUE);
  if (record.expiresAtMs !== 0) db.putSync(expiryKey(record.expiresAtMs, key), EMPTY_VALUE);
  if (isBigValue(record)) db.putSync(bigValueKey(key), EMPTY_VALUE);
}

function slotKey(key: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(key.byteLength + 3);
  bytes[0] = SLOT_PREFIX;
  bytes.writeUInt16BE(hashSlot(key), 1);
  bytes.set(key, 3);
  return bytes;
}

function slotStart(slot: number): Buffer {
  const bytes = Buffer.allocUnsafe(3);
  bytes[0] = SLOT_PREFIX;
  bytes.writeUInt16BE(slot, 1);
  return bytes;
}

/** The slot index's range for `slot` (the last slot's end is the next prefix). */
function slotRange(slot: number): { start: Buffer; end: Buffer } {
  return { start: slotStart(slot), end: slot + 1 < SLOT_COUNT ? slotStart(slot + 1) : Buffer.from([SLOT_PREFIX + 1]) };
}

/** A store written before the slot index existed holds keys and no index rows: index them once, at open (one pass
 * over the keys, before the node serves). */
function indexSlotsIfMissing(db: LmdbDatabase, keyCount: number): void {
  if (keyCount === 0) return;
  const indexed = db.getKeys({ start: Buffer.from([SLOT_PREFIX]), end: Buffer.from([SLOT_PREFIX + 1]), limit: 1 });
  for (const _ of indexed) return;
  db.transactionSync(() => {
    for (const key of db.getKeys({ start: DATA_START, end: DATA_END })) db.putSync(slotKey(userKey(key)), EMPTY_VALUE);
  });
}

function isBigValue(record: StoredRecord): boolean {
  return valueBytes(record) >= BIG_VALUE_BYTES_MIN;
}

function bigValueKey(key: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(key.byteLength + 1);
  bytes[0] = BIG_VALUE_PREFIX;
  bytes.set(key, 1);
  return bytes;
}

/** A big value's record without its value: what #getRecord hands a command that may not read the value. */
interface BigRecordHeader extends RecordHeader {
  readonly valueBytes: number;
}

function bigRecordHeader(record: StoredRecord): BigRecordHeader {
  const { type, createRevision, modRevision, version, expiresAtMs } = record;
  return { type, createRevision, modRevision, version, expiresAtMs, valueBytes: valueBytes(record) };
}

/** The big keys of an environment; their headers are read when first needed (#getRecord). */
function readBigKeys(db: LmdbDatabase): Map<string, BigRecordHeader | undefined> {
  const keys = new Map<string, BigRecordHeader | undefined>();
  for (const stored of db.getKeys({ start: BIG_VALUE_START, end: BIG_VALUE_END })) {
    keys.set(keyId((stored as Uint8Array).subarray(1)), undefined);
  }
  return keys;
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

/** A collection's rows, ordered by row key: the id is big-endian so one collection's rows are contiguous. */
export function rowStoreKey(collectionId: number, rowKey: Uint8Array): Buffer {
  const bytes = Buffer.allocUnsafe(9 + rowKey.byteLength);
  writeU64(bytes, ROW_PREFIX, collectionId);
  bytes.set(rowKey, 9);
  return bytes;
}

/** The first key of a collection's rows (and the end of the previous collection's). */
export function rowPrefix(collectionId: number): Buffer {
  return writeU64(Buffer.allocUnsafe(9), ROW_PREFIX, collectionId);
}

export function rowKeyOf(stored: Uint8Array): Uint8Array {
  assert(stored[0] === ROW_PREFIX && stored.length >= 9, "a row's key is prefix, collection id and row key");
  return plainBytes(stored.subarray(9));
}

function reclaimKey(collectionId: number): Buffer {
  return writeU64(Buffer.allocUnsafe(9), RECLAIM_PREFIX, collectionId);
}

/** Writes `prefix` then `value` as a big-endian u64 into the first 9 bytes. */
function writeU64(bytes: Buffer, prefix: number, value: number): Buffer {
  bytes[0] = prefix;
  bytes.writeUInt32BE(Math.floor(value / 2 ** 32), 1);
  bytes.writeUInt32BE(value % 2 ** 32, 5);
  return bytes;
}

function readU64(bytes: Uint8Array, offset: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(offset) * 2 ** 32 + view.getUint32(offset + 4);
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

interface HistoryRows extends Array<{ revision: number; key: Buffer; value: Uint8Array }> {
  /** Each put event's record → its encoding inside the event, which the data row stores too: a big value is
   * encoded once per apply, not once for the row and once for the history (issue 10). */
  encodedRecords: Map<StoredRecord, Uint8Array>;
}

/** A batch's history rows, one per event, with a pause point every STEP_EVENTS events (an MSET of 100,000 keys has
 * as many). */
function* historyRowSteps(events: readonly HistoryEvent[], deferred?: DeferredCopy[]): Steps<HistoryRows> {
  let seq = 0;
  const encodedRecords = new Map<StoredRecord, Uint8Array>();
  const rows: { revision: number; key: Buffer; value: Uint8Array }[] = [];
  for (let i = 0; i < events.length; i++) {
    if (i % STEP_EVENTS === STEP_EVENTS - 1) yield;
    const event = events[i] as HistoryEvent;
    seq = i > 0 && (events[i - 1] as HistoryEvent).revision === event.revision ? seq + 1 : 0;
    const value = encodeEvent(event, deferred);
    const encoded = eventRecordBytes(value);
    if (event.record !== undefined && encoded !== undefined) encodedRecords.set(event.record, encoded);
    rows.push({ revision: event.revision, key: historyKey(event.revision, seq), value });
  }
  return Object.assign(rows, { encodedRecords });
}

const STEP_EVENTS = 256;

/** A batch's history: its events and their revisions' summaries in, the dropped revisions' out. */
function writeHistory(
  writer: RowWriter,
  rows: HistoryRows,
  added: readonly RevisionSummary[],
  drop: readonly RevisionSummary[],
): void {
  runSteps(writeHistorySteps(writer, rows, added, drop));
}

function* writeHistorySteps(
  writer: RowWriter,
  rows: HistoryRows,
  added: readonly RevisionSummary[],
  drop: readonly RevisionSummary[],
): Steps<void> {
  let done = 0;
  for (const row of rows) {
    if (++done % WRITES_PER_STEP === 0) yield;
    writer.put(row.key, row.value);
  }
  for (const summary of added) {
    if (summary.count > 1) writer.put(historySummaryKey(summary.revision), encodeHistorySummary(summary));
  }
  for (const { revision, count } of drop) {
    for (let seq = 0; seq < count; seq++) writer.remove(historyKey(revision, seq));
    if (count > 1) writer.remove(historySummaryKey(revision));
  }
}

function historySummaryKey(revision: number): Buffer {
  return writeU64(Buffer.allocUnsafe(9), HISTORY_SUMMARY_PREFIX, revision);
}

function encodeHistorySummary(summary: RevisionSummary): Buffer {
  const bytes = Buffer.allocUnsafe(12);
  bytes.writeUInt32BE(summary.count, 0);
  bytes.writeDoubleBE(summary.bytes, 4);
  return bytes;
}

/** The first revision at or after `revision` that has events, if any (one seek). */
function nextHistoryRevision(db: LmdbDatabase, revision: number): number | undefined {
  for (const key of db.getKeys({ start: historyKey(revision, 0), end: HISTORY_END, limit: 1 })) {
    return historyRevision(key as Uint8Array);
  }
  return undefined;
}

/** The held revisions, read once when the store opens: revision `lastRevision` back to the first held one. A
 * revision with a summary row takes it; one without has one event, whose row gives its size — unless a second row
 * exists (a store written before summary rows), and then its rows are summed. At most two point reads per revision
 * (and a seek past the revisions an import skipped), never a scan of the window's events. */
function readHistorySummaries(db: LmdbDatabase, lastRevision: number): RevisionSummary[] {
  const summarized = new Map<number, RevisionSummary>();
  for (const { key, value } of db.getRange({ start: HISTORY_SUMMARY_START, end: HISTORY_SUMMARY_END })) {
    const keyView = new DataView(key.buffer, key.byteOffset, key.byteLength);
    const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
    const revision = keyView.getUint32(1) * 2 ** 32 + keyView.getUint32(5);
    summarized.set(revision, { revision, count: view.getUint32(0), bytes: view.getFloat64(4) });
  }
  const first = nextHistoryRevision(db, 0);
  if (first === undefined) return [];
  const held: RevisionSummary[] = [];
  for (let revision = first; revision <= lastRevision; revision++) {
    const known = summarized.get(revision);
    if (known !== undefined) {
      held.push(known);
      continue;
    }
    const only = db.getBinaryFast(historyKey(revision, 0));
    if (only === undefined) {
      // Revisions an import skipped (history.ts) hold no events: one seek to the next held one.
      const next = nextHistoryRevision(db, revision);
      assert(next !== undefined && next <= lastRevision, `held history revision ${revision} has its events`);
      revision = next - 1;
      continue;
    }
    const bytes = only.length; // lmdb-js sets its reusable buffer's length to the value's size
    if (db.getBinaryFast(historyKey(revision, 1)) === undefined) {
      held.push({ revision, count: 1, bytes });
      continue;
    }
    const rows = db.getRange({ start: historyKey(revision, 0), end: historyKey(revision + 1, 0) });
    held.push(...summarize([...rows].map(({ value }) => ({ revision, bytes: value.byteLength }))));
  }
  return held;
}

export function userKey(stored: Uint8Array): Uint8Array {
  assert(stored[0] === DATA_PREFIX, "a data row's key starts with the data prefix");
  return plainBytes(stored.subarray(1));
}

/** A planned batch, ready to be written. */
interface PreparedBatch<R> {
  readonly plan: BatchPlan<R>;
  readonly rows: HistoryRows;
  readonly added: RevisionSummary[];
  /** Undefined for a flush (its history restarts). */
  readonly historyPlan: ReturnType<HistoryWindow["plan"]> | undefined;
}

/** Where a batch's rows go: synchronous writes inside `transactionSync`, or lmdb-js asynchronous writes inside
 * `db.batch` (one transaction, committed by the write thread). */
interface RowWriter {
  put(key: Buffer, value: Uint8Array): void;
  remove(key: Buffer): void;
}

function syncWriter(db: LmdbDatabase): RowWriter {
  return { put: (key, value) => db.putSync(key, value), remove: (key) => db.removeSync(key) };
}

function asyncWriter(db: LmdbDatabase): RowWriter {
  return {
    put: (key, value) => {
      db.put(key, value as Buffer);
    },
    remove: (key) => {
      db.remove(key);
    },
  };
}

/** Every row a batch (not a flush) writes, with the new meta last. */
function writeBatch<R>(writer: RowWriter, batch: PreparedBatch<R>): void {
  runSteps(writeBatchSteps(writer, batch));
}

/** Rows handed to a writer between pauses of writeBatchSteps. */
const WRITES_PER_STEP = 256;

/** writeBatch as steps: a pause every WRITES_PER_STEP keys, rows and history events (for a writer that only
 * collects, so nothing is visible before the batch commits; packed-rows.ts). */
function* writeBatchSteps<R>(writer: RowWriter, batch: PreparedBatch<R>): Steps<void> {
  const { plan, rows, historyPlan } = batch;
  let done = 0;
  for (const { key, record, previous } of plan.writes) {
    if (++done % WRITES_PER_STEP === 0) yield;
    if (previous !== undefined && previous.expiresAtMs !== 0) writer.remove(expiryKey(previous.expiresAtMs, key));
    if (record === undefined) {
      writer.remove(dataKey(key));
      if (previous !== undefined) writer.remove(slotKey(key));
    } else {
      writer.put(dataKey(key), rows.encodedRecords.get(record) ?? encodeRecord(record));
      if (previous === undefined) writer.put(slotKey(key), EMPTY_VALUE);
      if (record.expiresAtMs !== 0) writer.put(expiryKey(record.expiresAtMs, key), EMPTY_VALUE);
    }
    const big = record !== undefined && isBigValue(record);
    if (big) writer.put(bigValueKey(key), EMPTY_VALUE);
    else if (previous !== undefined && isBigValue(previous)) writer.remove(bigValueKey(key));
  }
  for (const { collectionId, rowKey, value } of plan.rows) {
    if (++done % WRITES_PER_STEP === 0) yield;
    if (value === undefined) writer.remove(rowStoreKey(collectionId, rowKey));
    else writer.put(rowStoreKey(collectionId, rowKey), value);
  }
  for (const collectionId of plan.reclaims) writer.put(reclaimKey(collectionId), EMPTY_VALUE);
  yield* writeHistorySteps(writer, rows, batch.added, historyPlan?.drop ?? []);
  writer.put(META_KEY, encodeMeta(plan.meta));
}
