/**
 * @module What the state machine keeps per key. The record is storage-neutral: `store/` decides how it is laid
 * out on disk, and command handlers only ever see this shape.
 */

/** The kind of value a key holds. Lists and streams will join this union; an operation against the wrong kind
 * answers WRONG_TYPE. A hash's fields are encoded into `value` by the keyspace (the command layer's keyspace/hash-value.ts). */
export type ValueType = "string" | "hash";

/** One key's state. Revisions are the group's revision counter (etcd's `mod_revision`), never log indexes. */
export interface StoredRecord {
  readonly type: ValueType;
  readonly value: Uint8Array;
  /** The revision of the write that created the key (after it was last absent). */
  readonly createRevision: number;
  /** The revision of the key's last write. Invariant: createRevision <= modRevision. */
  readonly modRevision: number;
  /** Writes since creation: 1 after the creating write. Invariant: version >= 1. */
  readonly version: number;
  /** Absolute expiry on the replicated clock, or 0 for none. */
  readonly expiresAtMs: number;
}

/** Set (not enumerable) on a record whose value a store reads only when used (lmdb-store.ts): its length, so
 * sizing the record does not read it. */
export const VALUE_BYTES: unique symbol = Symbol("valueBytes");

/** The length of `record.value`, without reading a lazily read value. */
export function valueBytes(record: StoredRecord): number {
  return (record as { readonly [VALUE_BYTES]?: number })[VALUE_BYTES] ?? record.value.byteLength;
}

/** A record together with its key: what reads and results hand out. */
export interface KeyValue extends StoredRecord {
  readonly key: Uint8Array;
}

/**
 * True when `record` is visible at `nowMs`. A key whose expiry has passed is absent for every read and every
 * compare even before the leader's `expire` entry has removed it, so a read never returns an expired key.
 */
export function isLive(record: StoredRecord, nowMs: number): boolean {
  return record.expiresAtMs === 0 || record.expiresAtMs > nowMs;
}

export function toKeyValue(key: Uint8Array, record: StoredRecord): KeyValue {
  return {
    key,
    type: record.type,
    value: record.value,
    createRevision: record.createRevision,
    modRevision: record.modRevision,
    version: record.version,
    expiresAtMs: record.expiresAtMs,
  };
}
