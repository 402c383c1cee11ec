/**
 * Snapshot files round-trip at every size class of msgpack's bin header, are written in slices without changing
 * the format (a file `pack` would write reads back the same), and a flipped byte is refused.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import { crc32c } from "@node-rs/crc32";
import { pack } from "msgpackr";
import type { Snapshot } from "../raft/types.js";
import { SnapshotFileStore } from "./snapshot-file.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-snapshot-file-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

function snapshotOf(size: number, index: number): Snapshot {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (i * 31 + 7) & 0xff;
  return { metadata: { index, term: 3, confState: { voters: [1, 2, 3], learners: [] } }, data };
}

describe("snapshot files", () => {
  it("keeps the older file until prune (the WAL may still name it after a crash)", async () => {
    const files = new SnapshotFileStore(path.join(root, "prune"));
    await files.save(snapshotOf(16, 10));
    await files.save(snapshotOf(16, 20));
    assert.ok((await files.load(10)) !== undefined, "the older snapshot survives a newer save");
    await files.prune(20);
    assert.equal(await files.load(10), undefined);
    assert.ok((await files.load(20)) !== undefined);
  });

  it("round-trip at every bin header size and across write slices", async () => {
    const files = new SnapshotFileStore(path.join(root, "sizes"));
    for (const size of [0, 1, 255, 256, 65_535, 65_536, 4 * 1024 * 1024 + 3, 9_000_001]) {
      const snapshot = snapshotOf(size, 10 + size);
      await files.save(snapshot);
      const loaded = await files.load(10 + size);
      assert.ok(loaded !== undefined);
      assert.deepEqual(loaded.metadata, snapshot.metadata);
      assert.ok(Buffer.from(loaded.data).equals(Buffer.from(snapshot.data)), `data of ${size} bytes`);
    }
  });

  it("reads a file in the format pack() writes whole", async () => {
    const dir = path.join(root, "legacy");
    fs.mkdirSync(dir);
    const snapshot = snapshotOf(70_000, 42);
    const body = pack({ metadata: snapshot.metadata, data: snapshot.data });
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(crc32c(body) >>> 0);
    fs.writeFileSync(path.join(dir, "snapshot-0000000000000042.bin"), Buffer.concat([body, checksum]));
    const loaded = await new SnapshotFileStore(dir).load(42);
    assert.ok(loaded !== undefined && Buffer.from(loaded.data).equals(Buffer.from(snapshot.data)));
  });

  it("refuses a file with a flipped byte", async () => {
    const dir = path.join(root, "corrupt");
    const files = new SnapshotFileStore(dir);
    await files.save(snapshotOf(100_000, 7));
    const file = path.join(dir, "snapshot-0000000000000007.bin");
    const bytes = fs.readFileSync(file);
    bytes[50_000] = (bytes[50_000] as number) ^ 0x01;
    fs.writeFileSync(file, bytes);
    await assert.rejects(files.load(7), /checksum mismatch/);
  });

  it("refuses a big file with a flipped byte in its last checksum slice, pausing between slices", async () => {
    const dir = path.join(root, "corrupt-late");
    let pauses = 0;
    const files = new SnapshotFileStore(dir, undefined, async () => {
      pauses++;
    });
    await files.save(snapshotOf(9_000_001, 8));
    const file = path.join(dir, "snapshot-0000000000000008.bin");
    assert.ok((await files.load(8)) !== undefined);
    assert.equal(pauses, 2, "a 9 MB image is checksummed in three 4 MiB slices");
    const bytes = fs.readFileSync(file);
    bytes[8_900_000] = (bytes[8_900_000] as number) ^ 0x01;
    fs.writeFileSync(file, bytes);
    await assert.rejects(files.load(8), /checksum mismatch/);
  });
});
