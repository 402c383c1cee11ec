/**
 * @module A hash's fields inside one record's value. Fields keep their insertion order (an update keeps a field
 * in place, a delete closes the gap) — the order Redis's listpack encoding gives small hashes, so HGETALL answers
 * in the same order as redis-server for them.
 *
 *   count u32 | (fieldLength u32 | field | valueLength u32 | value) * count
 *
 * One record per hash keeps HSET atomic and simple; its cost is O(size of the hash) per write, fine for the
 * small and medium hashes Redis users keep (docs/redis-compat.md names the limit).
 */
import { ShoalError } from "../../lib/errors.js";
import { keyFromId, keyId } from "../bytes.js";

/** Field id (latin1 of the field bytes, see bytes.ts) → value, in insertion order. */
export type HashFields = Map<string, Uint8Array>;

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

/** Decodes a stored hash; values are views into `bytes`. Throws INTERNAL on bytes that are not a hash. */
export function decodeHash(bytes: Uint8Array): HashFields {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (): never => {
    throw new ShoalError("INTERNAL", "Cannot decode hash value: malformed");
  };
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

/**
 * A stored hash's fields and values as bytes, in insertion order: how a hash leaves the Redis layer for the
 * front ends that show it whole (the HTTP API renders it as JSON, http/record-json.ts), so the encoding above
 * stays private to this module. Values are views into `bytes`.
 */
export function hashEntries(bytes: Uint8Array): [field: Uint8Array, value: Uint8Array][] {
  return [...decodeHash(bytes)].map(([id, value]) => [keyFromId(id), value]);
}
