/**
 * @module The framing of one WAL record:
 *
 *   [length u32 LE][type u8][crc32c u32 LE][payload: `length` bytes]
 *
 * `length` counts the payload only; the checksum covers the type byte and the payload (CRC-32C, Castagnoli).
 * The length itself is not checksummed: a corrupted length makes the checksum fail (a different span is
 * hashed) or points past the end of the file, which recovery tells apart from a torn write by looking for
 * valid records after it (see `segment-replay.ts`).
 *
 * Type 0 is never written, so a zero-filled region (a file extended but never written, as a crash can
 * leave it) never parses as a record.
 */
import { crc32c } from "@node-rs/crc32";

export const RECORD_HEADER_BYTES = 9;
/** The length field is a u32: the one hard bound on a record's payload. */
export const RECORD_PAYLOAD_BYTES_MAX = 0xffff_ffff;

export const RecordType = {
  /** A Raft log entry; a later entry at the same index replaces it and every later one. */
  entry: 1,
  /** Raft's hard state (term, vote, commit); the last one wins. */
  hardState: 2,
  /** A snapshot marker: the log now starts after the snapshot's index. */
  snapshot: 3,
} as const;

export type RecordTypeCode = (typeof RecordType)[keyof typeof RecordType];

/** The CRC state after hashing just the type byte, so the payload is hashed in one native call. */
const CRC_AFTER_TYPE: readonly number[] = [0, 1, 2, 3].map((type) => crc32c(Uint8Array.of(type)));

export function isRecordType(type: number): type is RecordTypeCode {
  return type === RecordType.entry || type === RecordType.hardState || type === RecordType.snapshot;
}

/** The checksum of a record of `type` whose payload is `bytes[payloadStart, payloadEnd)`. */
export function recordChecksum(
  type: RecordTypeCode,
  bytes: Uint8Array,
  payloadStart: number,
  payloadEnd: number,
): number {
  return crc32c(bytes.subarray(payloadStart, payloadEnd), CRC_AFTER_TYPE[type] as number);
}

export function readU32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] as number) | ((bytes[offset + 1] as number) << 8) | ((bytes[offset + 2] as number) << 16)) +
    (bytes[offset + 3] as number) * 0x1000000
  );
}

export function writeU32(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value & 0xff;
  bytes[offset + 1] = (value >>> 8) & 0xff;
  bytes[offset + 2] = (value >>> 16) & 0xff;
  bytes[offset + 3] = (value >>> 24) & 0xff;
}

/** Why the bytes at an offset are not a valid record. */
export type FrameProblem = "incomplete record" | "empty record" | "unknown record type" | "checksum mismatch";

/**
 * Reads frames without allocating: `read` fills the fields for a valid frame. One cursor is reused for a
 * whole segment (or a whole save buffer when the writer re-verifies what it encoded).
 */
export class FrameCursor {
  type: RecordTypeCode = RecordType.entry;
  payloadStart = 0;
  /** The offset just past the payload: where the next record starts. */
  end = 0;
  readonly #verifyChecksum: boolean;

  /** `verifyChecksum` is false only under a simulator mutation (wal-options.ts WalUnsafe.skipChecksum). */
  constructor(verifyChecksum = true) {
    this.#verifyChecksum = verifyChecksum;
  }

  /** Reads the frame at `offset` of `bytes[0, limit)`; undefined when it is valid, else what is wrong. */
  read(bytes: Uint8Array, offset: number, limit = bytes.byteLength): FrameProblem | undefined {
    if (offset + RECORD_HEADER_BYTES > limit) return "incomplete record";
    const lengthBytes = readU32(bytes, offset);
    const type = bytes[offset + 4] as number;
    if (!isRecordType(type)) return "unknown record type";
    if (lengthBytes === 0) return "empty record";
    const payloadStart = offset + RECORD_HEADER_BYTES;
    const end = payloadStart + lengthBytes;
    if (end > limit) return "incomplete record";
    if (this.#verifyChecksum && readU32(bytes, offset + 5) !== recordChecksum(type, bytes, payloadStart, end)) {
      return "checksum mismatch";
    }
    this.type = type;
    this.payloadStart = payloadStart;
    this.end = end;
    return undefined;
  }
}

/** The first offset after `from` where a valid frame starts, or -1. Used only on a bad record in the last
 * segment, to tell a torn tail (nothing valid follows) from corruption in the middle of the log. */
export function findValidFrame(bytes: Uint8Array, from: number): number {
  const cursor = new FrameCursor();
  for (let offset = from + 1; offset + RECORD_HEADER_BYTES <= bytes.byteLength; offset++) {
    // Cheap rejections first: most offsets fail on the type byte before any checksum is computed.
    if (!isRecordType(bytes[offset + 4] as number)) continue;
    if (cursor.read(bytes, offset) === undefined) return offset;
  }
  return -1;
}
