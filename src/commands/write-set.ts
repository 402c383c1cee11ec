/**
 * @module The writes one command makes, layered over the state it reads. Multi-key commands (txn, expire) read
 * through it, so a later op sees an earlier op's write before anything reaches storage.
 */
import { keyId } from "./bytes.js";
import type { StoredRecord } from "./record.js";

/** Read access to the state a command applies against. Returns the stored record even when it has expired:
 * visibility is decided by command semantics (`isLive`), not by storage. The record is read-only. */
export interface RecordReader {
  getRecord(key: Uint8Array): StoredRecord | undefined;
}

/** One key's new state: a record to store, or `undefined` to delete the key. */
export interface Mutation {
  readonly key: Uint8Array;
  readonly record: StoredRecord | undefined;
}

export class WriteSet implements RecordReader {
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
}
