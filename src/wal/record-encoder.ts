/**
 * @module Encodes the records of one save into one buffer, written with one write. Sizes are computed first so
 * the buffer is allocated once and every payload is written in place.
 */

import { crc32c } from "@node-rs/crc32";
import { assert } from "../lib/assert.js";
import type { Entry, HardState } from "../raft/types.js";
import {
  ENTRY_FIXED_BYTES,
  HARD_STATE_BYTES,
  writeEntryFixed,
  writeEntryPayload,
  writeHardStatePayload,
} from "./payload-codec.js";
import {
  FrameCursor,
  RECORD_HEADER_BYTES,
  RecordType,
  type RecordTypeCode,
  readU32,
  recordChecksum,
  writeU32,
} from "./record-frame.js";

export const HARD_STATE_RECORD_BYTES = RECORD_HEADER_BYTES + HARD_STATE_BYTES;

export function entryRecordBytes(entry: Entry): number {
  return RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES + entry.data.byteLength;
}

/**
 * An entry's data of at least this many bytes is not copied into the save buffer: it is written as its own part,
 * straight from the entry's bytes (the file write copies it in libuv's thread pool). Copying a 16 MiB value into a
 * fresh buffer held the event loop for ~40-80 ms on every member (issue 10).
 */
export const ENTRY_DATA_PART_BYTES_MIN = 64 * 1024;

function dataIsPart(entry: Entry): boolean {
  return entry.data.byteLength >= ENTRY_DATA_PART_BYTES_MIN;
}

/** The bytes of `entries`' records that are written from the entries' own data, not from the save buffer. */
export function entryPartBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (const entry of entries) if (dataIsPart(entry)) bytes += entry.data.byteLength;
  return bytes;
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

  /** The save's bytes in write order: runs of the buffer and, between them, big entries' data (finish()). */
  readonly #parts: Uint8Array[] = [];
  /** Where the buffer's current run starts. */
  #runStart = 0;
  /** Records whose payload ends in a part of its own: where each starts in the buffer, and its data. */
  readonly #partRecords: { readonly start: number; readonly data: Uint8Array }[] = [];

  /** `sizeBytes`: the records' bytes less entryPartBytes of their entries. */
  constructor(sizeBytes: number) {
    // Not zero-filled: finish() asserts that every byte was written.
    this.#bytes = Buffer.allocUnsafe(sizeBytes);
  }

  appendEntry(entry: Entry): void {
    const start = this.#offsetBytes;
    if (!dataIsPart(entry)) {
      this.#seal(start, RecordType.entry, writeEntryPayload(this.#bytes, start + RECORD_HEADER_BYTES, entry));
      return;
    }
    const bytes = this.#bytes;
    const payloadStart = start + RECORD_HEADER_BYTES;
    const fixedEnd = writeEntryFixed(bytes, payloadStart, entry);
    assert(fixedEnd <= bytes.byteLength, "Cannot encode a record past the end of the save buffer");
    writeU32(bytes, start, ENTRY_FIXED_BYTES + entry.data.byteLength);
    bytes[start + 4] = RecordType.entry;
    // The payload's checksum runs on from its fixed fields into the data (crc32c takes the state so far).
    writeU32(bytes, start + 5, crc32c(entry.data, recordChecksum(RecordType.entry, bytes, payloadStart, fixedEnd)));
    this.#parts.push(bytes.subarray(this.#runStart, fixedEnd), entry.data);
    this.#partRecords.push({ start, data: entry.data });
    this.#runStart = fixedEnd;
    this.#offsetBytes = fixedEnd;
    this.#recordCount++;
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

  /** The encoded records in write order, re-verified frame by frame (the checksum is checked on write and again
   * on read): one buffer, or runs of it with big entries' data between them (written one after the other). */
  finish(): readonly Uint8Array[] {
    const bytes = this.#bytes;
    assert(this.#offsetBytes === bytes.byteLength, "Cannot finish a save buffer: its size was miscomputed");
    const cursor = verifyCursor;
    let offset = 0;
    let count = 0;
    let nextPart = 0;
    while (offset < bytes.byteLength) {
      const part = this.#partRecords[nextPart];
      if (part !== undefined && part.start === offset) {
        offset = verifyPartRecord(bytes, offset, part.data);
        nextPart++;
      } else {
        const problem = cursor.read(bytes, offset);
        assert(problem === undefined, `Cannot verify an encoded record at offset ${offset}: ${problem}`);
        offset = cursor.end;
      }
      count++;
    }
    assert(count === this.#recordCount, "Cannot verify a save buffer: the record count differs");
    assert(nextPart === this.#partRecords.length, "Cannot verify a save buffer: a part was not found");
    if (this.#parts.length === 0) return [bytes];
    return [...this.#parts, bytes.subarray(this.#runStart)].filter((part) => part.byteLength > 0);
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

/** Checks the framing of an entry record whose data is a part of its own; returns where the buffer's next record
 * starts. Its checksum is not computed a second time over megabytes of data: the record frame tests check it. */
function verifyPartRecord(bytes: Uint8Array, start: number, data: Uint8Array): number {
  assert(readU32(bytes, start) === ENTRY_FIXED_BYTES + data.byteLength, "Cannot verify a part record's length");
  assert(bytes[start + 4] === RecordType.entry, "Cannot verify a part record's type");
  return start + RECORD_HEADER_BYTES + ENTRY_FIXED_BYTES;
}
