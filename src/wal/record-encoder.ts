/**
 * @module Encodes the records of one save into one buffer, written with one write. Sizes are computed first so
 * the buffer is allocated once and every payload is written in place.
 */
import { assert } from "../lib/assert.js";
import type { Entry, HardState } from "../raft/types.js";
import { ENTRY_FIXED_BYTES, HARD_STATE_BYTES, writeEntryPayload, writeHardStatePayload } from "./payload-codec.js";
import {
  FrameCursor,
  RECORD_HEADER_BYTES,
  RecordType,
  type RecordTypeCode,
  recordChecksum,
  writeU32,
} from "./record-frame.js";

export const HARD_STATE_RECORD_BYTES = RECORD_HEADER_BYTES + HARD_STATE_BYTES;

export function entryRecordBytes(entry: Entry): number {
  return RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + entry.data.byteLength;
}

export function snapshotRecordBytes(payload: Uint8Array): number {
  return RECORD_HEADER_BYTES + payload.byteLength;
}

/** Shared by every `finish()`: verification is synchronous, so one cursor serves all saves. */
const verifyCursor = new FrameCursor();

export class RecordEncoder {
  readonly #bytes: Uint8Array;
  #offsetBytes = 0;
  #recordCount = 0;

  constructor(sizeBytes: number) {
    // Not zero-filled: finish() asserts that every byte was written.
    this.#bytes = Buffer.allocUnsafe(sizeBytes);
  }

  appendEntry(entry: Entry): void {
    const start = this.#offsetBytes;
    this.#seal(start, RecordType.entry, writeEntryPayload(this.#bytes, start + RECORD_HEADER_BYTES, entry));
  }

  appendHardState(hardState: HardState): void {
    const start = this.#offsetBytes;
    this.#seal(start, RecordType.hardState, writeHardStatePayload(this.#bytes, start + RECORD_HEADER_BYTES, hardState));
  }

  /** `payload` comes from `encodeSnapshotPayload` (encoded once, reused for segment headers). */
  appendSnapshot(payload: Uint8Array): void {
    const start = this.#offsetBytes;
    this.#bytes.set(payload, start + RECORD_HEADER_BYTES);
    this.#seal(start, RecordType.snapshot, start + RECORD_HEADER_BYTES + payload.byteLength);
  }

  /** The encoded records, re-verified frame by frame (the checksum is checked on write and again on read). */
  finish(): Uint8Array {
    const bytes = this.#bytes;
    assert(this.#offsetBytes === bytes.byteLength, "Cannot finish a save buffer: its size was miscomputed");
    const cursor = verifyCursor;
    let offset = 0;
    let count = 0;
    while (offset < bytes.byteLength) {
      const problem = cursor.read(bytes, offset);
      assert(problem === undefined, `Cannot verify an encoded record at offset ${offset}: ${problem}`);
      offset = cursor.end;
      count++;
    }
    assert(count === this.#recordCount, "Cannot verify a save buffer: the record count differs");
    return bytes;
  }

  #seal(start: number, type: RecordTypeCode, end: number): void {
    const payloadStart = start + RECORD_HEADER_BYTES;
    assert(end > payloadStart, "Cannot encode an empty record");
    assert(end <= this.#bytes.byteLength, "Cannot encode a record past the end of the save buffer");
    writeU32(this.#bytes, start, end - payloadStart);
    this.#bytes[start + 4] = type;
    writeU32(this.#bytes, start + 5, recordChecksum(type, this.#bytes, payloadStart, end));
    this.#offsetBytes = end;
    this.#recordCount++;
  }
}
