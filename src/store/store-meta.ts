/**
 * @module The scalars a store persists beside its keys, in the same atomic write as the data they describe.
 */
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";

export interface StoreMeta {
  /** Invariant: only ever advances by applying the next entry, or jumps by restoring a snapshot. */
  readonly appliedIndex: number;
  readonly revision: number;
  readonly clockMs: number;
  readonly keyCount: number;
  readonly sizeBytes: number;
}

export const EMPTY_META: StoreMeta = { appliedIndex: 0, revision: 0, clockMs: 0, keyCount: 0, sizeBytes: 0 };

const META_FORMAT_V1 = 1;
const FIELDS = ["appliedIndex", "revision", "clockMs", "keyCount", "sizeBytes"] as const;
const META_SIZE_BYTES = 1 + 8 * FIELDS.length;

export function encodeMeta(meta: StoreMeta): Uint8Array {
  const bytes = new Uint8Array(META_SIZE_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, META_FORMAT_V1);
  FIELDS.forEach((field, i) => {
    assert(Number.isSafeInteger(meta[field]) && meta[field] >= 0, `meta.${field} is a non-negative integer`);
    view.setFloat64(1 + 8 * i, meta[field]);
  });
  return bytes;
}

/** Throws BAD_REQUEST for bytes that are not an encoded meta (a corrupt snapshot); the caller adds context. */
export function decodeMeta(bytes: Uint8Array): StoreMeta {
  if (bytes.length !== META_SIZE_BYTES || bytes[0] !== META_FORMAT_V1) {
    throw new ShoalError("BAD_REQUEST", "Cannot decode store meta: wrong size or format");
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const values = FIELDS.map((_, i) => view.getFloat64(1 + 8 * i));
  if (!values.every((value) => Number.isSafeInteger(value) && value >= 0)) {
    throw new ShoalError("BAD_REQUEST", "Cannot decode store meta: a field is not a non-negative integer");
  }
  const [appliedIndex, revision, clockMs, keyCount, sizeBytes] = values as [number, number, number, number, number];
  return { appliedIndex, revision, clockMs, keyCount, sizeBytes };
}
