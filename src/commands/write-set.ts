/**
 * @module The writes one command makes, layered over the state it reads. Multi-key commands (txn, expire, a
 * Redis batch) read through it, so a later op sees an earlier op's write before anything reaches storage.
 * Write sets stack: a Redis command runs in a child write set that is merged into its parent only when the
 * command succeeds, so a command that fails midway leaves nothing behind.
 */
import { keyFromId, keyId } from "./bytes.js";
import type { StoredRecord } from "./record.js";

/** Read access to the state a command applies against. Returns the stored record even when it has expired:
 * visibility is decided by command semantics (`isLive`), not by storage. The record is read-only. */
export interface RecordReader {
  getRecord(key: Uint8Array): StoredRecord | undefined;
}

/** A reader that can also list keys in order (KEYS, SCAN, FLUSHALL need it). */
export interface KeyspaceReader extends RecordReader {
  /** Stored keys (expired ones included) sorting strictly after `after` (from the first key when undefined), in
   * bytewise order, at most `limit` (a positive integer) of them. */
  keysAfter(after: Uint8Array | undefined, limit: number): Uint8Array[];
  /** How many keys are stored, expired ones not yet removed included (Redis's DBSIZE counts those too). O(1). */
  keyCount(): number;
}

/** One key's new state: a record to store, or `undefined` to delete the key. */
export interface Mutation {
  readonly key: Uint8Array;
  readonly record: StoredRecord | undefined;
}

/** A reader over nothing: for semantics that never touch a key, and for tests. */
export const EMPTY_KEYSPACE: KeyspaceReader = { getRecord: () => undefined, keysAfter: () => [], keyCount: () => 0 };

export class WriteSet implements KeyspaceReader {
  readonly #base: RecordReader;
  readonly #pending = new Map<string, StoredRecord | undefined>();
  /** In the order made; a key written twice appears twice and the later entry wins. */
  readonly mutations: Mutation[] = [];

  constructor(base: RecordReader) {
    this.#base = base;
  }

  getRecord(key: Uint8Array): StoredRecord | undefined {
    const id = keyId(key);
    if (this.#pending.has(id)) return this.#pending.get(id);
    return this.#base.getRecord(key);
  }

  put(key: Uint8Array, record: StoredRecord): void {
    this.#pending.set(keyId(key), record);
    this.mutations.push({ key, record });
  }

  delete(key: Uint8Array): void {
    this.#pending.set(keyId(key), undefined);
    this.mutations.push({ key, record: undefined });
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

  /** Replays `child`'s mutations here (a child write set whose command succeeded). */
  merge(child: WriteSet): void {
    for (const { key, record } of child.mutations) {
      if (record === undefined) this.delete(key);
      else this.put(key, record);
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
