/**
 * @module The writes one command makes, layered over the state it reads. Multi-key commands (txn, expire, a
 * Redis batch) read through it, so a later op sees an earlier op's write before anything reaches storage.
 * Write sets stack: a Redis command runs in a child write set that is merged into its parent only when the
 * command succeeds, so a command that fails midway leaves nothing behind. The same holds for the rows of
 * table-encoded collections (store/collection.ts) and for the collection ids a command allocates.
 */
import { assert } from "../lib/assert.js";
import { keyFromId, keyId } from "../lib/bytes.js";
import { firstIndexAbove, SortedIdMap } from "../lib/sorted-ids.js";
import { runSteps, type Steps } from "../lib/steps.js";
import type { StoredRecord } from "./record.js";

/** Read access to the state a command applies against. Returns the stored record even when it has expired:
 * visibility is decided by command semantics (`isLive`), not by storage. The record is read-only. */
export interface RecordReader {
  /** `id` is `keyId(key)` when the caller has it already: a big MSET passes each key through four readers (issue 10),
   * and each would otherwise make the same string again. */
  getRecord(key: Uint8Array, id?: string): StoredRecord | undefined;
}

/** One row of a table-encoded collection. */
export interface CollectionRow {
  readonly rowKey: Uint8Array;
  readonly value: Uint8Array;
}

/** Read access to the rows of table-encoded collections. A row is reachable only through the header of the
 * record that owns its collection, so a reader never filters out rows of dropped collections awaiting reclaim. */
export interface RowReader {
  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined;
  /** The collection's rows whose row keys sort strictly after `after` (from the first when undefined), in
   * bytewise order, at most `limit` (a positive integer) of them. */
  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[];
}

/** Rows a command may write: what the keyspace's table encodings use. */
export interface CollectionRows extends RowReader {
  putRow(collectionId: number, rowKey: Uint8Array, value: Uint8Array): void;
  deleteRow(collectionId: number, rowKey: Uint8Array): void;
  /** A collection id never used before on any replica (the replicated counter, advanced). */
  allocateCollectionId(): number;
}

const MERGE_STEP_ITEMS = 256;

/** Row keys are short (a hash's is 8 bytes); the bound keeps a store key (prefix, id, row key) within LMDB's. */
export const ROW_KEY_SIZE_BYTES_MAX = 1024;

/** A reader that can also list keys in order (KEYS, SCAN, FLUSHALL need it) and read collection rows. */
export interface KeyspaceReader extends RecordReader, RowReader {
  /** Stored keys (expired ones included) sorting strictly after `after` (from the first key when undefined), in
   * bytewise order, at most `limit` (a positive integer) of them. */
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[];
  /** How many keys are stored, expired ones not yet removed included (Redis's DBSIZE counts those too). O(1). */
  keyCount(): number;
}

/** One key's new state: a record to store, or `undefined` to delete the key. `id` is `keyId(key)`, made once when
 * the write is made, for every map the write passes through on its way to the store. */
export interface Mutation {
  readonly key: Uint8Array;
  readonly id: string;
  readonly record: StoredRecord | undefined;
}

/** One row's new state: a value to store, or `undefined` to delete the row. */
export interface RowMutation {
  readonly collectionId: number;
  readonly rowKey: Uint8Array;
  readonly value: Uint8Array | undefined;
}

/** A reader over nothing: for semantics that never touch a key, and for tests. */
export const EMPTY_KEYSPACE: KeyspaceReader = {
  getRecord: () => undefined,
  keysAfter: () => [],
  keyCount: () => 0,
  getRow: () => undefined,
  rowsAfter: () => [],
};

export class WriteSet implements KeyspaceReader, CollectionRows {
  #base: RecordReader;
  /** True once `clear` ran: the base is gone and `mutations`/`rowMutations` hold only later writes. */
  #cleared = false;
  /** False for a set whose record writes are read back but not listed in `mutations` (see `unlisted`). */
  #listsMutations = true;
  #pending = new Map<string, StoredRecord | undefined>();
  /** In the order made; a key written twice appears twice and the later entry wins. */
  #mutations: Mutation[] = [];
  /** By collection id: each pending row write (undefined deletes the row). */
  #pendingRows = new Map<number, SortedIdMap<Uint8Array | undefined>>();
  /** In the order made, like `mutations`. */
  #rowMutations: RowMutation[] = [];
  /** The next collection id to hand out; undefined when this set may not allocate (no counter was given). */
  #nextCollectionId: number | undefined;

  /** `nextCollectionId` is the replicated counter (ApplyState) for a root write set; a child takes its parent's. */
  constructor(base: RecordReader, nextCollectionId?: number) {
    this.#base = base;
    this.#nextCollectionId = nextCollectionId ?? (base instanceof WriteSet ? base.#nextCollectionId : undefined);
  }

  /** A write set whose record writes are read back but never listed in `mutations`: the batch plan's overlay,
   * which keeps each key's final write itself — one object per key less for a 100,000-key MSET (issue 10). */
  static unlisted(base: RecordReader): WriteSet {
    const set = new WriteSet(base);
    set.#listsMutations = false;
    return set;
  }

  /**
   * FLUSHALL: every key and row is gone — the base's and this set's pending ones — and later writes start from an
   * empty keyspace. O(1): nothing is listed or deleted key by key; whoever applies the set drops the base whole
   * (BatchPlan.flushed: the LMDB store swaps in a fresh environment).
   */
  clear(): void {
    this.#base = EMPTY_KEYSPACE;
    this.#cleared = true;
    this.#pending.clear();
    this.#mutations.length = 0;
    this.#pendingRows.clear();
    this.#rowMutations.length = 0;
  }

  /** The record writes, in the order made; a key written twice appears twice and the later entry wins. */
  get mutations(): readonly Mutation[] {
    return this.#mutations;
  }

  /** The row writes, in the order made, like `mutations`. */
  get rowMutations(): readonly RowMutation[] {
    return this.#rowMutations;
  }

  /** True when `clear` ran on this set (its mutations then apply to an empty keyspace). */
  get cleared(): boolean {
    return this.#cleared;
  }

  /** The counter after this set's allocations (what the command's outcome carries on). */
  nextCollectionId(): number {
    assert(this.#nextCollectionId !== undefined, "this write set was given no collection counter");
    return this.#nextCollectionId;
  }

  allocateCollectionId(): number {
    const id = this.nextCollectionId();
    this.#nextCollectionId = id + 1;
    return id;
  }

  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined {
    const pending = this.#pendingRows.get(collectionId);
    const id = keyId(rowKey);
    if (pending?.values.has(id) === true) return pending.values.get(id);
    return this.#rowBase().getRow(collectionId, rowKey);
  }

  putRow(collectionId: number, rowKey: Uint8Array, value: Uint8Array): void {
    this.#setRow(collectionId, rowKey, value);
  }

  deleteRow(collectionId: number, rowKey: Uint8Array): void {
    this.#setRow(collectionId, rowKey, undefined);
  }

  /** The base's rows merged with this set's pending row writes (deleted rows left out, new rows added). */
  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[] {
    const base = this.#rowBase();
    const pending = this.#pendingRows.get(collectionId);
    if (pending === undefined) return base.rowsAfter(collectionId, after, limit);
    const ids = pending.sortedIds();
    let at = after === undefined ? 0 : firstIndexAbove(ids, keyId(after));
    const out: CollectionRow[] = [];
    const takePending = (): void => {
      const id = ids[at++] as string;
      const value = pending.values.get(id);
      if (value !== undefined) out.push({ rowKey: keyFromId(id), value });
    };
    let cursor = after;
    for (;;) {
      const page = base.rowsAfter(collectionId, cursor, limit);
      for (const row of page) {
        const id = keyId(row.rowKey);
        while (at < ids.length && (ids[at] as string) < id && out.length < limit) takePending();
        if (out.length >= limit) return out;
        if (ids[at] === id) takePending();
        else out.push(row);
        if (out.length >= limit) return out;
      }
      if (page.length < limit) break;
      cursor = (page[page.length - 1] as CollectionRow).rowKey;
    }
    while (at < ids.length && out.length < limit) takePending();
    return out;
  }

  #setRow(collectionId: number, rowKey: Uint8Array, value: Uint8Array | undefined): void {
    assert(rowKey.byteLength <= ROW_KEY_SIZE_BYTES_MAX, "a row key is within its bound");
    let pending = this.#pendingRows.get(collectionId);
    if (pending === undefined) {
      pending = new SortedIdMap();
      this.#pendingRows.set(collectionId, pending);
    }
    pending.set(keyId(rowKey), value);
    this.#rowMutations.push({ collectionId, rowKey, value });
  }

  #rowBase(): RowReader {
    const base = this.#base as Partial<RowReader>;
    if (typeof base.getRow !== "function" || typeof base.rowsAfter !== "function") {
      throw new Error("collection rows need a RowReader base");
    }
    return this.#base as RecordReader & RowReader;
  }

  getRecord(key: Uint8Array, id = keyId(key)): StoredRecord | undefined {
    const pending = this.#pending.get(id);
    if (pending !== undefined || this.#pending.has(id)) return pending;
    return this.#base.getRecord(key, id);
  }

  /** `id` as in RecordReader.getRecord. */
  put(key: Uint8Array, record: StoredRecord, id = keyId(key)): void {
    this.#pending.set(id, record);
    if (this.#listsMutations) this.#mutations.push({ key, id, record });
  }

  delete(key: Uint8Array, id = keyId(key)): void {
    this.#pending.set(id, undefined);
    if (this.#listsMutations) this.#mutations.push({ key, id, record: undefined });
  }

  /** The base's stored key count adjusted by the pending writes (the base must be a KeyspaceReader). Computed
   * when asked (O(pending writes)), so writes pay nothing for it. */
  keyCount(): number {
    const base = this.#base as Partial<KeyspaceReader>;
    if (typeof base.keyCount !== "function") throw new Error("keyCount needs a KeyspaceReader base");
    let count = base.keyCount.call(this.#base);
    for (const [id, record] of this.#pending) {
      const stored = this.#base.getRecord(keyFromId(id)) !== undefined;
      count += (record !== undefined ? 1 : 0) - (stored ? 1 : 0);
    }
    return count;
  }

  /** Replays `child`'s mutations here (a child write set whose command succeeded), row writes and collection
   * allocations included. */
  merge(child: WriteSet): void {
    runSteps(this.mergeSteps(child));
  }

  /** merge as steps: a pause point every MERGE_STEP_ITEMS writes (a chunked MSET's write set holds all its keys). */
  *mergeSteps(child: WriteSet): Steps<void> {
    if (child.#cleared) this.clear();
    if (this.#pending.size === 0 && this.#pendingRows.size === 0 && this.#listsMutations && child.#listsMutations) {
      // Nothing written here yet (the first or only command of an entry): the child's writes become this set's
      // whole, in O(1), instead of one more map entry and one more object per key (a 100,000-key MSET, issue 10).
      // The child is left empty; it is not used after a merge.
      [this.#pending, child.#pending] = [child.#pending, this.#pending];
      [this.#mutations, child.#mutations] = [child.#mutations, this.#mutations];
      [this.#pendingRows, child.#pendingRows] = [child.#pendingRows, this.#pendingRows];
      [this.#rowMutations, child.#rowMutations] = [child.#rowMutations, this.#rowMutations];
    } else {
      let done = 0;
      for (const { key, id, record } of child.#mutations) {
        if (++done % MERGE_STEP_ITEMS === 0) yield;
        if (record === undefined) this.delete(key, id);
        else this.put(key, record, id);
      }
      for (const { collectionId, rowKey, value } of child.#rowMutations) {
        if (++done % MERGE_STEP_ITEMS === 0) yield;
        this.#setRow(collectionId, rowKey, value);
      }
    }
    if (child.#nextCollectionId !== undefined) {
      assert(
        this.#nextCollectionId !== undefined && child.#nextCollectionId >= this.#nextCollectionId,
        "a child write set allocates after its parent",
      );
      this.#nextCollectionId = child.#nextCollectionId;
    }
  }

  /** The base's keys merged with this set's pending writes (deleted keys left out, new keys added). The base
   * must be a KeyspaceReader; asking a write set over a plain RecordReader for keys is a bug. */
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[] {
    const base = this.#base as Partial<KeyspaceReader>;
    if (typeof base.keysAfter !== "function") throw new Error("keysAfter needs a KeyspaceReader base");
    const afterId = after === undefined ? undefined : keyId(after);
    const added = [...this.#pending]
      .filter(([id, record]) => record !== undefined && (afterId === undefined || id > afterId))
      .map(([id]) => id)
      .sort();
    const out: Uint8Array[] = [];
    let cursor = after;
    let addedAt = 0;
    for (;;) {
      const page = base.keysAfter.call(this.#base, cursor, limit);
      const pageEnd = page.length < limit ? undefined : page[page.length - 1];
      for (const key of page) {
        const id = keyId(key);
        while (addedAt < added.length && (added[addedAt] as string) < id)
          out.push(keyFromId(added[addedAt++] as string));
        if (addedAt < added.length && added[addedAt] === id) addedAt++;
        if (!this.#pending.has(id) || this.#pending.get(id) !== undefined) out.push(key);
        if (out.length >= limit) return out.slice(0, limit);
      }
      if (pageEnd === undefined) break;
      cursor = pageEnd;
    }
    while (addedAt < added.length && out.length < limit) out.push(keyFromId(added[addedAt++] as string));
    return out.slice(0, limit);
  }
}
