import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { Prng } from "../lib/prng.js";
import { encodeSnapshotPayload } from "./payload-codec.js";
import { ENTRY_DATA_PART_BYTES_MIN, entryPartBytes, entryRecordBytes, RecordEncoder } from "./record-encoder.js";
import { FrameCursor, findValidFrame, RECORD_HEADER_BYTES, RecordType, readU32 } from "./record-frame.js";

function oneEntryRecord(data: Uint8Array): Uint8Array {
  const entry = { term: 7, index: 42, type: "normal" as const, data };
  const encoder = new RecordEncoder(entryRecordBytes(entry) - entryPartBytes([entry]));
  encoder.appendEntry(entry);
  return Buffer.concat(encoder.finish());
}

describe("record frame", () => {
  it("writes a big entry's data as a part of its own, framed exactly as if it were copied in", () => {
    for (const size of [ENTRY_DATA_PART_BYTES_MIN - 1, ENTRY_DATA_PART_BYTES_MIN, ENTRY_DATA_PART_BYTES_MIN + 1]) {
      const big = { term: 3, index: 9, type: "normal" as const, data: new Uint8Array(size).fill(size % 251) };
      const small = { term: 3, index: 10, type: "normal" as const, data: Uint8Array.of(5) };
      const entries = [small, big, small, big];
      const total = entries.reduce((sum, e) => sum + entryRecordBytes(e), 0);
      const encoder = new RecordEncoder(total - entryPartBytes(entries));
      for (const entry of entries) encoder.appendEntry(entry);
      const parts = encoder.finish();
      const inline = size < ENTRY_DATA_PART_BYTES_MIN;
      assert.equal(parts.length, inline ? 1 : 4, `${size} bytes: [small + head, data, small + head, data]`);
      if (!inline) assert.equal(parts[1], big.data, "the entry's own bytes, not a copy");
      const bytes = Buffer.concat(parts);
      assert.equal(bytes.length, total);
      const cursor = new FrameCursor();
      const indexes: number[] = [];
      for (let offset = 0; offset < bytes.length; offset = cursor.end) {
        assert.equal(cursor.read(bytes, offset), undefined, `the record at ${offset} reads back`);
        indexes.push(Number(bytes.readBigUInt64LE(cursor.payloadStart + 8)));
      }
      assert.deepEqual(indexes, [10, 9, 10, 9]);
    }
  });

  it("lays a record out as [length u32][type u8][crc32c over type+payload][payload]", () => {
    const bytes = oneEntryRecord(Uint8Array.of(1, 2, 3));
    const lengthBytes = readU32(bytes, 0);
    assert.equal(lengthBytes, bytes.length - RECORD_HEADER_BYTES);
    assert.equal(bytes[4], RecordType.entry);
    const typeAndPayload = Buffer.concat([bytes.subarray(4, 5), bytes.subarray(RECORD_HEADER_BYTES)]);
    assert.equal(readU32(bytes, 5), crc32c(typeAndPayload));
    const cursor = new FrameCursor();
    assert.equal(cursor.read(bytes, 0), undefined);
    assert.equal(cursor.end, bytes.length);
  });

  it("detects every single-byte change anywhere in a record", () => {
    const prng = new Prng(11);
    const bytes = oneEntryRecord(Uint8Array.from({ length: 64 }, () => prng.int(256)));
    const cursor = new FrameCursor();
    for (let offset = 0; offset < bytes.length; offset++) {
      for (const flip of [0x01, 0x80, 0xff, 1 + prng.int(255)]) {
        const copy = Uint8Array.from(bytes);
        copy[offset] = (copy[offset] as number) ^ flip;
        assert.notEqual(cursor.read(copy, 0), undefined, `flip ${flip} at offset ${offset} went unnoticed`);
      }
    }
  });

  it("reports an incomplete record for every proper prefix", () => {
    const bytes = oneEntryRecord(Uint8Array.of(9, 9, 9, 9));
    const cursor = new FrameCursor();
    for (let length = 0; length < bytes.length; length++) {
      assert.equal(cursor.read(bytes.subarray(0, length), 0), "incomplete record");
    }
  });

  it("never parses zero-filled bytes as a record", () => {
    const zeros = new Uint8Array(4096);
    assert.equal(new FrameCursor().read(zeros, 0), "unknown record type");
    assert.equal(findValidFrame(zeros, 0), -1);
  });

  it("finds the next valid frame after a damaged one", () => {
    const first = oneEntryRecord(Uint8Array.of(1));
    const second = oneEntryRecord(Uint8Array.of(2));
    const both = Buffer.concat([first, second]);
    both[RECORD_HEADER_BYTES + 3] ^= 0x10;
    assert.equal(new FrameCursor().read(both, 0), "checksum mismatch");
    assert.equal(findValidFrame(both, 0), first.length);
  });

  it("encodes several record types into one verified buffer", () => {
    const snapshot = encodeSnapshotPayload({ index: 5, term: 2, confState: { voters: [1], learners: [] } }, true);
    const entry = { term: 2, index: 6, type: "confChange" as const, data: new Uint8Array(0) };
    const encoder = new RecordEncoder(RECORD_HEADER_BYTES + snapshot.length + entryRecordBytes(entry) + 33);
    encoder.appendSnapshot(snapshot);
    encoder.appendEntry(entry);
    encoder.appendHardState({ term: 2, vote: 1, commit: 6 });
    const bytes = Buffer.concat(encoder.finish());
    const cursor = new FrameCursor();
    const types: number[] = [];
    for (let offset = 0; offset < bytes.length; offset = cursor.end) {
      assert.equal(cursor.read(bytes, offset), undefined);
      types.push(cursor.type);
    }
    assert.deepEqual(types, [RecordType.snapshot, RecordType.entry, RecordType.hardState]);
  });

  it("refuses to finish a buffer whose size was miscomputed", () => {
    const encoder = new RecordEncoder(100);
    encoder.appendHardState({ term: 1, vote: 0, commit: 0 });
    assert.throws(() => encoder.finish(), /size was miscomputed/);
  });
});
