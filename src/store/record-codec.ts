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
  encodeRecordHeaderInto(target, offset, record);
  const value = record.value;
  if (deferred !== undefined && value.byteLength >= DEFERRED_COPY_BYTES_MIN) {
    deferred.push({ target, offset: offset + HEADER_SIZE_BYTES, source: value });
  } else target.set(value, offset + HEADER_SIZE_BYTES);
}

/** Writes the part of `encodeRecord(record)` before the value (RECORD_HEADER_BYTES) into `target` at `offset`: a
 * snapshot writes a big value's bytes after it without copying them into one buffer first. */
export function encodeRecordHeaderInto(target: Uint8Array, offset: number, record: StoredRecord): void {
  const view = new DataView(target.buffer, target.byteOffset + offset, HEADER_SIZE_BYTES);
  view.setUint8(0, RECORD_FORMAT_V1);
  view.setUint8(1, TYPE_CODES[record.type]);
  view.setFloat64(2, record.createRevision);
  view.setFloat64(10, record.modRevision);
  view.setFloat64(18, record.version);
  view.setFloat64(26, record.expiresAtMs);
}

/**
 * Decodes a stored record. The value is a view into `bytes` (no copy): pass bytes the record may keep.
 * Throws BAD_REQUEST when the bytes are not a valid record (a corrupt snapshot; in LMDB, a bug).
 */
export function decodeRecord(bytes: Uint8Array): StoredRecord {
  return readRecord(bytes, plainBytes(bytes.subarray(HEADER_SIZE_BYTES)));
}

/** A record without its value. */
export type RecordHeader = Omit<StoredRecord, "value">;

/** Decodes the header of a stored record (`bytes` may be its first RECORD_HEADER_BYTES only); nothing of `bytes`
 * is kept. Throws like decodeRecord. */
export function decodeRecordHeader(bytes: Uint8Array): RecordHeader {
  return readRecord(bytes, undefined);
}

/** decodeRecord of the first `size` bytes of `bytes`, with the value COPIED out (`bytes` may be a buffer that the
 * next read reuses, lmdb-js's getBinaryFast): two allocations, the value and the record. */
export function decodeRecordCopy(bytes: Uint8Array, size: number): StoredRecord {
  if (size < HEADER_SIZE_BYTES) throw badRecord("shorter than its header");
  const length = size - HEADER_SIZE_BYTES;
  const value = new Uint8Array(length);
  if (length <= SMALL_COPY_BYTES_MAX) {
    for (let i = 0; i < length; i++) value[i] = bytes[HEADER_SIZE_BYTES + i] as number;
  } else value.set(new Uint8Array(bytes.buffer, bytes.byteOffset + HEADER_SIZE_BYTES, length));
  return readRecord(bytes, value);
}

/** The header of `bytes`, validated, as a record with `value` (or a header alone): one object, no DataView,
 * closure or array per call — every read of a key decodes one (GET's profile, issue 14). */
function readRecord(bytes: Uint8Array, value: Uint8Array): StoredRecord;
function readRecord(bytes: Uint8Array, value: undefined): RecordHeader;
function readRecord(bytes: Uint8Array, value: Uint8Array | undefined): RecordHeader | StoredRecord {
  if (bytes.length < HEADER_SIZE_BYTES) throw badRecord("shorter than its header");
  if (bytes[0] !== RECORD_FORMAT_V1) throw badRecord(`unknown format ${bytes[0]}`);
  const type = bytes[1] === TYPE_CODES.string ? "string" : bytes[1] === TYPE_CODES.hash ? "hash" : undefined;
  if (type === undefined) throw badRecord(`unknown type ${bytes[1]}`);
  const createRevision = float64At(bytes, 2);
  const modRevision = float64At(bytes, 10);
  const version = float64At(bytes, 18);
  const expiresAtMs = float64At(bytes, 26);
  if (!(isCount(createRevision) && isCount(modRevision) && isCount(version) && isCount(expiresAtMs))) {
    throw badRecord("a field is not a non-negative integer");
  }
  if (createRevision < 1 || createRevision > modRevision) throw badRecord("revisions out of order");
  if (version < 1) throw badRecord("version below 1");
  return value === undefined
    ? { type, createRevision, modRevision, version, expiresAtMs }
    : { type, createRevision, modRevision, version, expiresAtMs, value };
}

/** Up to this many bytes a loop copies faster than making a view for `set`. */
const SMALL_COPY_BYTES_MAX = 32;

function isCount(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

function badRecord(why: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `Cannot decode record: ${why}`);
}

/** A scratch for big-endian float64 reads: 8 bytes copied in reverse (this is a little-endian host: checked below). */
const SCRATCH = new Float64Array(1);
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer);
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function float64At(bytes: Uint8Array, offset: number): number {
  if (LITTLE_ENDIAN) {
    for (let i = 0; i < 8; i++) SCRATCH_BYTES[7 - i] = bytes[offset + i] as number;
  } else {
    for (let i = 0; i < 8; i++) SCRATCH_BYTES[i] = bytes[offset + i] as number;
  }
  return SCRATCH[0] as number;
}

/** The size of a record's header: its value starts here. */
export const RECORD_HEADER_BYTES = HEADER_SIZE_BYTES;
