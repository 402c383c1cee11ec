import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Entry } from "../raft/types.js";
import {
  ENTRY_FIXED_BYTES,
  encodeSnapshotPayload,
  readEntryPayload,
  readHardStatePayload,
  readSnapshotPayload,
  readU64,
  writeEntryPayload,
  writeHardStatePayload,
  writeU64,
} from "./payload-codec.js";

describe("payload codec", () => {
  it("round-trips u64 values up to the largest safe integer", () => {
    const bytes = new Uint8Array(8);
    for (const value of [0, 1, 0xffff_ffff, 0x1_0000_0000, 2 ** 40 + 12345, Number.MAX_SAFE_INTEGER]) {
      writeU64(bytes, 0, value);
      assert.equal(readU64(bytes, 0), value);
    }
    bytes.fill(0xff);
    assert.equal(readU64(bytes, 0), -1, "a u64 above 2^53 is reported, not rounded");
  });

  it("round-trips entries of both types, with and without data", () => {
    const entries: Entry[] = [
      { term: 3, index: 9, type: "normal", data: Uint8Array.of(1, 2, 3) },
      { term: 2 ** 33, index: 2 ** 45, type: "confChange", data: new Uint8Array(0) },
    ];
    for (const entry of entries) {
      const bytes = new Uint8Array(ENTRY_FIXED_BYTES + entry.data.length + 4);
      const end = writeEntryPayload(bytes, 2, entry);
      assert.equal(end, 2 + ENTRY_FIXED_BYTES + entry.data.length);
      const decoded = readEntryPayload(bytes, 2, end);
      assert.deepEqual(
        { ...decoded, data: Buffer.from(decoded?.data ?? []) },
        { ...entry, data: Buffer.from(entry.data) },
      );
    }
  });

  it("rejects malformed entries and hard states", () => {
    const bytes = new Uint8Array(ENTRY_FIXED_BYTES);
    bytes[16] = 7;
    assert.equal(readEntryPayload(bytes, 0, bytes.length), undefined, "unknown entry type");
    assert.equal(readEntryPayload(bytes, 0, ENTRY_FIXED_BYTES - 1), undefined, "too short");
    assert.equal(readHardStatePayload(new Uint8Array(23), 0, 23), undefined, "hard state of the wrong size");
  });

  it("round-trips hard states", () => {
    const bytes = new Uint8Array(24);
    writeHardStatePayload(bytes, 0, { term: 5, vote: 2, commit: 2 ** 40 });
    assert.deepEqual(readHardStatePayload(bytes, 0, 24), { term: 5, vote: 2, commit: 2 ** 40 });
  });

  it("round-trips snapshot markers and rejects payloads of the wrong shape", () => {
    const metadata = { index: 100, term: 4, confState: { voters: [1, 2, 3], learners: [4] } };
    const bytes = encodeSnapshotPayload(metadata, false);
    assert.deepEqual(readSnapshotPayload(bytes, 0, bytes.length), { metadata, keep: false });
    assert.equal(readSnapshotPayload(bytes, 0, bytes.length - 1), undefined);
    const wrong = encodeSnapshotPayload({ index: 1, term: 1, confState: { voters: [-1], learners: [] } }, true);
    assert.equal(readSnapshotPayload(wrong, 0, wrong.length), undefined);
  });
});
