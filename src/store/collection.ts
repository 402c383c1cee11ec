/**
 * @module Collections whose elements live in rows of their own ("table" encoding), for any aggregate type: a
 * hash today, sets, sorted sets and lists later. The key's record keeps only a small header (this module); the
 * elements are rows of the store's collection-row keyspace, keyed by (collection id, row key), where each type
 * chooses its row keys (a hash: a seeded 64-bit hash of the field). So a write to one element touches one row
 * and the header, whatever the collection's size, and deleting the key drops the header and leaves the rows to
 * a background reclaimer (store/reclaimer.ts).
 *
 * A table-encoded value starts with TABLE_MARKER, which no compact encoding may start with (a compact hash
 * starts with its big-endian u32 count, far below 0xff000000), so the store can tell, for any record, whether it
 * owns rows without knowing the type's encodings:
 *
 *   0xff | format u8 (1) | collectionId f64 | size f64 | rowBytes f64 | seed u64 BE | extra (the type's own)
 *
 * Invariant: a collection id belongs to at most one record, for ever: ids come from a replicated counter and
 * are never reused, RENAME moves the header whole, and nothing copies a header.
 */
import { ShoalError } from "../lib/errors.js";
import type { StoredRecord } from "./record.js";

export const TABLE_MARKER = 0xff;
const HEADER_FORMAT_V1 = 1;
const HEADER_SIZE_BYTES = 2 + 3 * 8 + 8;

export interface CollectionHeader {
  /** The rows' collection id (>= 1), from the replicated counter `ApplyState.nextCollectionId`. */
  readonly collectionId: number;
  /** Elements (a hash's fields): what HLEN answers, O(1). */
  readonly size: number;
  /** The sum of `collectionRowBytes` over the collection's rows: what the rows add to StoreStats.sizeBytes,
   * kept here so deleting the key accounts for them in O(1). */
  readonly rowBytes: number;
  /** The type's row-key seed (a hash's field-hash seed), an unsigned 64-bit integer. */
  readonly seed: bigint;
  /** Type-specific state the store does not read (a list's head and tail, say); empty for hashes. */
  readonly extra: Uint8Array;
}

export function encodeCollectionHeader(header: CollectionHeader): Uint8Array {
  const bytes = new Uint8Array(HEADER_SIZE_BYTES + header.extra.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, TABLE_MARKER);
  view.setUint8(1, HEADER_FORMAT_V1);
  view.setFloat64(2, header.collectionId);
  view.setFloat64(10, header.size);
  view.setFloat64(18, header.rowBytes);
  view.setBigUint64(26, header.seed);
  bytes.set(header.extra, HEADER_SIZE_BYTES);
  return bytes;
}

/** True when a collection value (not a string) is table-encoded. */
export function isTableEncoded(value: Uint8Array): boolean {
  return value.byteLength > 0 && value[0] === TABLE_MARKER;
}

/** Decodes a table-encoded value's header; `extra` is a view into `value`. Throws BAD_REQUEST on malformed bytes
 * (a corrupt snapshot; in a store, a bug). */
export function decodeCollectionHeader(value: Uint8Array): CollectionHeader {
  const fail = (why: string): never => {
    throw new ShoalError("BAD_REQUEST", `Cannot decode collection header: ${why}`);
  };
  if (value.byteLength < HEADER_SIZE_BYTES || value[0] !== TABLE_MARKER) fail("not a table-encoded value");
  const view = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (view.getUint8(1) !== HEADER_FORMAT_V1) fail(`unknown format ${view.getUint8(1)}`);
  const header: CollectionHeader = {
    collectionId: view.getFloat64(2),
    size: view.getFloat64(10),
    rowBytes: view.getFloat64(18),
    seed: view.getBigUint64(26),
    extra: value.subarray(HEADER_SIZE_BYTES),
  };
  const counts = [header.collectionId, header.size, header.rowBytes];
  if (!counts.every((n) => Number.isSafeInteger(n) && n >= 0)) fail("a count is not a non-negative integer");
  if (header.collectionId < 1) fail("collection id below 1");
  return header;
}

/** The header of the rows `record` owns, or undefined when it owns none (a string, a compact value). */
export function collectionOf(record: StoredRecord | undefined): CollectionHeader | undefined {
  if (record === undefined || record.type === "string" || !isTableEncoded(record.value)) return undefined;
  return decodeCollectionHeader(record.value);
}

/** What one row counts toward its header's `rowBytes` (and so toward StoreStats.sizeBytes). */
export function collectionRowBytes(rowKey: Uint8Array, value: Uint8Array): number {
  return rowKey.byteLength + value.byteLength;
}
