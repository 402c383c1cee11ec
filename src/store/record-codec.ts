/**
 * @module The stored form of a record (LMDB values, snapshot records): a fixed header, then the value bytes.
 *
 *   format u8 (1) | type u8 (1 = string, 2 = hash) | createRevision f64 | modRevision f64 | version f64 | expiresAtMs f64 | value
 *
 * Integers are stored as float64: exact below 2^53, and revisions and times never get near that.
 */
import { plainBytes } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import type { StoredRecord, ValueType } from "./record.js";

const RECORD_FORMAT_V1 = 1;
const HEADER_SIZE_BYTES = 2 + 4 * 8;
const TYPE_CODES: Readonly<Record<ValueType, number>> = { string: 1, hash: 2 };
const TYPES_BY_CODE: ReadonlyMap<number, ValueType> = new Map([
  [1, "string"],
  [2, "hash"],
]);

export function encodeRecord(record: StoredRecord): Uint8Array {
  const bytes = new Uint8Array(encodedRecordBytes(record));
  encodeRecordInto(bytes, 0, record);
  return bytes;
}

/** The bytes `encodeRecord` produces for `record`. */
export function encodedRecordBytes(record: StoredRecord): number {
  return HEADER_SIZE_BYTES + record.value.byteLength;
}

/** Writes `encodeRecord(record)` into `target` at `offset` (which has room: encodedRecordBytes), without an
 * intermediate buffer: snapshots encode every record of the store. */
/** A copy of a big value into its encoding, left for the caller to make (in slices, off the hot turn). */
export interface DeferredCopy {
  readonly target: Uint8Array;
  readonly offset: number;
  readonly source: Uint8Array;
}

/** Values at least this big are left to a DeferredCopy when the caller collects them. */
export const DEFERRED_COPY_BYTES_MIN = 1024 * 1024;

export function encodeRecordInto(
  target: Uint8Array,
  offset: number,
  record: StoredRecord,
  deferred?: DeferredCopy[],
): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, HEADER_SIZE_BYTES);
  view.setUint8(0, RECORD_FORMAT_V1);
  view.setUint8(1, TYPE_CODES[record.type]);
  view.setFloat64(2, record.createRevision);
  view.setFloat64(10, record.modRevision);
  view.setFloat64(18, record.version);
  view.setFloat64(26, record.expiresAtMs);
  const value = record.value;
  if (deferred !== undefined && value.byteLength >= DEFERRED_COPY_BYTES_MIN) {
    deferred.push({ target, offset: offset + HEADER_SIZE_BYTES, source: value });
  } else target.set(value, offset + HEADER_SIZE_BYTES);
}

/**
 * Decodes a stored record. The value is a view into `bytes` (no copy): pass bytes the record may keep.
 * Throws BAD_REQUEST when the bytes are not a valid record (a corrupt snapshot; in LMDB, a bug).
 */
export function decodeRecord(bytes: Uint8Array): StoredRecord {
  return { ...decodeRecordHeader(bytes), value: plainBytes(bytes.subarray(HEADER_SIZE_BYTES)) };
}

/** A record without its value. */
export type RecordHeader = Omit<StoredRecord, "value">;

/** Decodes the header of a stored record (`bytes` may be its first RECORD_HEADER_BYTES only); nothing of `bytes`
 * is kept. Throws like decodeRecord. */
export function decodeRecordHeader(bytes: Uint8Array): RecordHeader {
  const fail = (why: string): never => {
    throw new ShoalError("BAD_REQUEST", `Cannot decode record: ${why}`);
  };
  if (bytes.length < HEADER_SIZE_BYTES) fail("shorter than its header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE_BYTES);
  if (view.getUint8(0) !== RECORD_FORMAT_V1) fail(`unknown format ${view.getUint8(0)}`);
  const type = TYPES_BY_CODE.get(view.getUint8(1)) ?? fail(`unknown type ${view.getUint8(1)}`);
  const header: RecordHeader = {
    type,
    createRevision: view.getFloat64(2),
    modRevision: view.getFloat64(10),
    version: view.getFloat64(18),
    expiresAtMs: view.getFloat64(26),
  };
  const integers = [header.createRevision, header.modRevision, header.version, header.expiresAtMs];
  if (!integers.every((n) => Number.isSafeInteger(n) && n >= 0)) fail("a field is not a non-negative integer");
  if (header.createRevision < 1 || header.createRevision > header.modRevision) fail("revisions out of order");
  if (header.version < 1) fail("version below 1");
  return header;
}

/** The size of a record's header: its value starts here. */
export const RECORD_HEADER_BYTES = HEADER_SIZE_BYTES;
