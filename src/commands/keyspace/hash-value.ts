/**
 * @module A hash's stored forms. Like Redis, a hash has two encodings:
 *
 * - compact (Redis's listpack): the whole hash in its record's value, fields in insertion order (an update
 *   keeps a field in place, a delete closes the gap), so HGETALL answers in redis-server's order. Kept while the
 *   hash has at most HASH_COMPACT_FIELDS_MAX fields and no field or value is longer than
 *   HASH_COMPACT_VALUE_BYTES_MAX bytes (Redis's hash-max-listpack-entries / hash-max-listpack-value defaults).
 *
 *     count u32 | (fieldLength u32 | field | valueLength u32 | value) * count
 *
 * - table (Redis's hashtable): the record holds a collection header (store/collection.ts) and each field is
 *   in a row keyed by the 8-byte big-endian xxHash64 of the field, seeded per hash, so any field size works while
 *   store keys stay short. A row holds the fields sharing that hash (almost always one) in the compact layout
 *   above, so a write costs O(1) rows whatever the hash's size. Fields are then in row-key order: an order that
 *   differs per hash and from redis-server's hashtable order, as Redis's does between versions.
 *
 * A hash converts to table once a threshold is crossed and never back, as in Redis.
 */
import { xxh64 } from "@node-rs/xxhash";
import { keyFromId, keyId } from "../../lib/bytes.js";
import { ShoalError } from "../../lib/errors.js";
import { isTableEncoded } from "../../store/collection.js";

/** Field id (latin1 of the field bytes, see bytes.ts) → value, in insertion order. */
export type HashFields = Map<string, Uint8Array>;

/** Redis's hash-max-listpack-entries default. */
export const HASH_COMPACT_FIELDS_MAX = 128;
/** Redis's hash-max-listpack-value default. */
export const HASH_COMPACT_VALUE_BYTES_MAX = 64;

export function encodeHash(fields: HashFields): Uint8Array {
  let size = 4;
  for (const [id, value] of fields) size += 8 + id.length + value.byteLength;
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, fields.size);
  let at = 4;
  for (const [id, value] of fields) {
    view.setUint32(at, id.length);
    bytes.set(keyFromId(id), at + 4);
    at += 4 + id.length;
    view.setUint32(at, value.byteLength);
    bytes.set(value, at + 4);
    at += 4 + value.byteLength;
  }
  return bytes;
}

/** Decodes a compact hash (or a table row's fields); values are views into `bytes`. Throws INTERNAL on bytes
 * that are not one, a table-encoded hash's header included (read those through the keyspace). */
export function decodeHash(bytes: Uint8Array): HashFields {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why = "malformed"): never => {
    throw new ShoalError("INTERNAL", `Cannot decode hash value: ${why}`);
  };
  if (isTableEncoded(bytes)) fail("it is table-encoded (its fields are rows)");
  if (bytes.byteLength < 4) fail();
  const count = view.getUint32(0);
  const fields: HashFields = new Map();
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) fail();
    const fieldLength = view.getUint32(at);
    if (at + 4 + fieldLength + 4 > bytes.byteLength) fail();
    const id = keyId(bytes.subarray(at + 4, at + 4 + fieldLength));
    at += 4 + fieldLength;
    const valueLength = view.getUint32(at);
    if (at + 4 + valueLength > bytes.byteLength) fail();
    fields.set(id, bytes.subarray(at + 4, at + 4 + valueLength));
    at += 4 + valueLength;
  }
  if (at !== bytes.byteLength) fail();
  return fields;
}

/** Whether a field and value may stay in a compact hash. */
export function fitsCompact(field: Uint8Array, value: Uint8Array): boolean {
  return field.byteLength <= HASH_COMPACT_VALUE_BYTES_MAX && value.byteLength <= HASH_COMPACT_VALUE_BYTES_MAX;
}

/** A table-encoded hash's row key for `field`: xxHash64 (maintained, native, ~0.2 µs) seeded per hash, so which
 * fields share a row differs from hash to hash. */
export function hashRowKey(seed: bigint, field: Uint8Array): Uint8Array {
  const rowKey = new Uint8Array(8);
  new DataView(rowKey.buffer).setBigUint64(0, xxh64(field, seed));
  return rowKey;
}

/** A row key as the unsigned 64-bit position HSCAN's cursor names. */
export function rowPosition(rowKey: Uint8Array): bigint {
  return new DataView(rowKey.buffer, rowKey.byteOffset, rowKey.byteLength).getBigUint64(0);
}

/** The row key at a position (the inverse of rowPosition). */
export function positionRowKey(position: bigint): Uint8Array {
  const rowKey = new Uint8Array(8);
  new DataView(rowKey.buffer).setBigUint64(0, position);
  return rowKey;
}
