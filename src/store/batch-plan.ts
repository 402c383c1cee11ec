/**
 * @module Applying a batch of entries in memory first: the commands' mutations (records and collection rows),
 * the results and the new meta, computed over an overlay of the store's current state. A store then writes the
 * plan in one atomic step, so a batch is all-or-nothing whatever happens midway (an assertion, a disk error).
 */
import { assert } from "../lib/assert.js";
import { EMPTY_BYTES, keyId } from "../lib/bytes.js";
import { runSteps, type Steps } from "../lib/steps.js";
import { collectionOf } from "./collection.js";
import type { ApplyState, EntryApplier } from "./entry-applier.js";
import type { HistoryEvent } from "./history.js";
import { isStorableKey } from "./key-range.js";
import { type StoredRecord, valueBytes } from "./record.js";
import type { ApplyEntry } from "./state-machine-store.js";
import type { StoreMeta } from "./store-meta.js";
import { type CollectionRow, type KeyspaceReader, type Mutation, type RowMutation, WriteSet } from "./write-set.js";

/** A key's final state after the batch, and its state before (for secondary indexes such as expiry). */
export interface BatchWrite extends Mutation {
  readonly previous: StoredRecord | undefined;
}

/** A BatchWrite while the batch is planned: its record moves on with each write of the key, and where its event
 * sits in the batch's history. */
interface KeyWrite extends BatchWrite {
  record: StoredRecord | undefined;
  /** Index in the batch's events of the key's event in revision `eventRevision` (-1: none yet). */
  eventAt: number;
  eventRevision: number;
}

export interface BatchPlan<R> {
  /** One per key the batch touched, in the order of each key's final write. */
  readonly writes: readonly BatchWrite[];
  /** One per collection row the batch touched (its final state), rows of `reclaims` left out. */
  readonly rows: readonly RowMutation[];
  /** Collections that existed before the batch and that no record owns after it (their key was deleted,
   * overwritten or expired): the store queues them for its reclaimer. Their rows stay, unreachable. */
  readonly reclaims: readonly number[];
  readonly results: R[];
  /**
   * The batch emptied the keyspace (FLUSHALL) before `writes` and `rows`: the store drops its whole state —
   * records, rows, the reclaim queue, the expiry index and the watch history — in one step (O(1), never key by
   * key), then writes the plan. `events` then starts with the flush, and `writes` carry no `previous`.
   */
  readonly flushed: boolean;
  readonly meta: StoreMeta;
  /** The watch history's events for the batch, in revision order (one per key a changing command wrote). */
  readonly events: readonly HistoryEvent[];
}

export function planBatch<R>(
  applier: EntryApplier<R>,
  base: KeyspaceReader,
  meta: StoreMeta,
  entries: readonly ApplyEntry[],
): BatchPlan<R> {
  return runSteps(planBatchSteps(applier, base, meta, entries));
}

/** planBatch as steps: pauses where the applier does and after each entry (see EntryApplier). */
export function* planBatchSteps<R>(
  applier: EntryApplier<R>,
  base: KeyspaceReader,
  meta: StoreMeta,
  entries: readonly ApplyEntry[],
): Steps<BatchPlan<R>> {
  const reader = new BaseRecordCache(base);
  const overlay = WriteSet.unlisted(reader);
  const results: R[] = [];
  /** The watch history's events; a slot emptied (undefined) when a later write of the same key in the same
   * revision replaced its event (the event goes where the key's final write is). */
  const events: (HistoryEvent | undefined)[] = [];
  let eventsReplaced = false;
  /** Each key the batch wrote, by key id, in the order of each key's final write: what `writes` becomes. One
   * object per key, made at its first write and updated by later ones (a 100,000-key MSET's working set lives
   * across many turns, so each object per key is garbage the old generation collects — issue 10). */
  const touched = new Map<string, KeyWrite>();
  /** Collections whose owning record was overwritten or deleted during the batch (RENAME may re-own one). */
  const released = new Set<number>();
  let state: ApplyState = {
    revision: meta.revision,
    clockMs: meta.clockMs,
    nextCollectionId: meta.nextCollectionId,
    slots: meta.slots,
  };
  let { appliedIndex, keyCount, sizeBytes } = meta;
  let flushed = false;
  for (const entry of entries) {
    assert(entry.index > appliedIndex, `Cannot apply entry ${entry.index}: already applied up to ${appliedIndex}`);
    assert(entry.index === appliedIndex + 1, `Cannot apply entry ${entry.index}: entry ${appliedIndex + 1} is next`);
    // A membership change is the host's to apply: the applier sees it as a no-op entry (empty data).
    const data = entry.type === "confChange" ? EMPTY_BYTES : entry.data;
    const outcome = yield* applier(overlay, data, state, entry.repliesWanted ?? true);
    const revision = outcome.state.revision;
    if (outcome.flushed) {
      // Everything before the FLUSHALL, stored or planned in this batch, is gone. The history restarts at it.
      // Nothing stored before the batch survives: no later write replaces a stored record (`previous` comes from
      // the overlay, whose base is empty now).
      overlay.clear();
      touched.clear();
      keyCount = 0;
      sizeBytes = 0;
      released.clear();
      events.length = 0;
      eventsReplaced = false;
      events.push({ revision, type: "flush", key: EMPTY_BYTES, record: undefined });
      flushed = true;
    }
    let done = 0;
    for (const mutation of outcome.mutations) {
      if (++done % STEP_ITEMS === 0) yield;
      const { key, id, record } = mutation;
      // Apply refuses every over-long key before it writes (the keyspace checks sizes): one here is a bug in those
      // checks and must stop the node before a store sees it (LMDB would throw midway through the batch).
      assert(isStorableKey(key), "apply never writes a key over the key limit");
      let write = touched.get(id);
      const before = write === undefined ? overlay.getRecord(key, id) : write.record;
      keyCount += (record === undefined ? 0 : 1) - (before === undefined ? 0 : 1);
      sizeBytes += recordSizeBytes(key, record) - recordSizeBytes(key, before);
      const owned = collectionOf(before)?.collectionId;
      if (owned !== undefined) released.add(owned);
      if (record === undefined) overlay.delete(key, id);
      else overlay.put(key, record, id);
      if (write === undefined) {
        write = { key, id, record, previous: before, eventAt: -1, eventRevision: -1 };
      } else {
        write.record = record;
        touched.delete(id); // re-inserted below: the map keeps the order of each key's final write
      }
      touched.set(id, write);
      // One event per key a command wrote, at its final write (a txn branch writes a key at most once; an expire
      // entry or an MSET may name a key twice).
      if (write.eventRevision === revision) {
        events[write.eventAt] = undefined;
        eventsReplaced = true;
      }
      write.eventRevision = revision;
      write.eventAt = events.length;
      const type = record !== undefined ? "put" : outcome.expiredKeys ? "expire" : "delete";
      events.push({ revision, type, key, record });
    }
    for (const { collectionId, rowKey, value } of outcome.rowMutations) {
      if (++done % STEP_ITEMS === 0) yield;
      if (value === undefined) overlay.deleteRow(collectionId, rowKey);
      else overlay.putRow(collectionId, rowKey, value);
    }
    assert(revision >= state.revision, "the revision never decreases");
    const changed = outcome.mutations.length > 0 || outcome.flushed;
    assert(changed === revision > state.revision, "a revision bump is a change");
    assert(outcome.state.clockMs >= state.clockMs, "the replicated clock never runs backwards");
    assert(outcome.state.nextCollectionId >= state.nextCollectionId, "collection ids are never reused");
    state = outcome.state;
    appliedIndex = entry.index;
    results.push(outcome.result);
    yield;
  }
  assert(keyCount >= 0, "the key count stays non-negative");
  assert(sizeBytes >= 0, "the size stays non-negative");
  const newMeta: StoreMeta = {
    appliedIndex,
    revision: state.revision,
    clockMs: state.clockMs,
    keyCount,
    sizeBytes,
    nextCollectionId: state.nextCollectionId,
    slots: state.slots ?? meta.slots,
  };
  const writes: BatchWrite[] = [...touched.values()];
  const dropped = droppedCollections(released, writes);
  const rows = (yield* lastWritePerRow(overlay.rowMutations)).filter((row) => !dropped.has(row.collectionId));
  // A collection made and dropped within the batch never reached the store: nothing to reclaim. After a flush the
  // store drops every older collection whole.
  const reclaims = flushed ? [] : [...dropped].filter((id) => id < meta.nextCollectionId).sort((a, b) => a - b);
  const history = eventsReplaced ? events.filter((event) => event !== undefined) : (events as HistoryEvent[]);
  return { writes, rows, reclaims, results, flushed, meta: newMeta, events: history };
}

/** Records read from the base while a batch is planned: a command reads a key, and the plan reads it again for the
 * key count, the size and the write's `previous` ("before") — each an LMDB read and decode, once a third of the
 * apply cost of an MSET (issue 10). The base does not change while a batch is planned. Bounded, so a
 * command that reads many keys (KEYS inside MULTI) does not pin them all: past BASE_CACHE_KEYS_MAX it reads
 * through. */
class BaseRecordCache implements KeyspaceReader {
  readonly #base: KeyspaceReader;
  readonly #records = new Map<string, StoredRecord | undefined>();

  constructor(base: KeyspaceReader) {
    this.#base = base;
  }

  getRecord(key: Uint8Array, id = keyId(key)): StoredRecord | undefined {
    const cached = this.#records.get(id);
    if (cached !== undefined || this.#records.has(id)) return cached;
    const record = this.#base.getRecord(key, id);
    if (this.#records.size < BASE_CACHE_KEYS_MAX) this.#records.set(id, record);
    return record;
  }

  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    return this.#base.keysAfter(after, limit);
  }

  keyCount(): number {
    return this.#base.keyCount();
  }

  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
    return this.#base.getRow(collectionId, rowKey);
  }

  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
    return this.#base.rowsAfter(collectionId, after, limit);
  }
}

const BASE_CACHE_KEYS_MAX = 65_536;

/** Items (mutations, events) a planning loop handles between pause points. */
const STEP_ITEMS = 256;

/** The released collections no record owns after the batch. A collection belongs to at most one record
 * (store/collection.ts), so only the records the batch wrote can own a released one. */
function droppedCollections(released: ReadonlySet<number>, writes: readonly BatchWrite[]): Set<number> {
  // Nothing released, nothing dropped — and no look at 100,000 records of a big MSET (33 ms on the loop).
  if (released.size === 0) return new Set();
  const dropped = new Set(released);
  for (const { record } of writes) {
    const owned = collectionOf(record)?.collectionId;
    if (owned !== undefined) dropped.delete(owned);
  }
  return dropped;
}

function* lastWritePerRow(mutations: readonly RowMutation[]): Steps<RowMutation[]> {
  const last = new Map<string, RowMutation>();
  let done = 0;
  for (const mutation of mutations) {
    if (++done % STEP_ITEMS === 0) yield;
    last.set(`${mutation.collectionId}:${keyId(mutation.rowKey)}`, mutation);
  }
  return [...last.values()];
}

/** What `StoreStats.sizeBytes` counts for one key: its key and value, and the rows its collection owns. */
export function recordSizeBytes(key: Uint8Array, record: StoredRecord | undefined): number {
  if (record === undefined) return 0;
  return key.byteLength + valueBytes(record) + (collectionOf(record)?.rowBytes ?? 0);
}
