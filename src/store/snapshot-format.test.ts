import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EMPTY_BYTES } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { collectionRowBytes, encodeCollectionHeader } from "./collection.js";
import type { StoredRecord } from "./record.js";
import { parseSnapshot, type SnapshotEntry, type SnapshotItem, snapshotChunks } from "./snapshot-format.js";
import { EMPTY_META, type StoreMeta } from "./store-meta.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);

/** A hash record owning collection `collectionId` whose rows hold `rowBytes` bytes. */
function owner(collectionId: number, rowBytes: number): StoredRecord {
  const value = encodeCollectionHeader({ collectionId, size: 2, rowBytes, seed: 7n, extra: EMPTY_BYTES });
  return { type: "hash", value, createRevision: 1, modRevision: 1, version: 1, expiresAtMs: 0 };
}

const rowA = { kind: "row", collectionId: 1, rowKey: b("aaaaaaaa"), value: b("first") } as const;
const rowB = { kind: "row", collectionId: 1, rowKey: b("bbbbbbbb"), value: b("second") } as const;
const ROW_BYTES = collectionRowBytes(rowA.rowKey, rowA.value) + collectionRowBytes(rowB.rowKey, rowB.value);

/** An image of `entries` whose meta adds up (so only the rows can be wrong). */
function image(entries: readonly SnapshotEntry[], nextCollectionId = 2): Uint8Array[] {
  let sizeBytes = 0;
  let keyCount = 0;
  for (const entry of entries) {
    if (entry.kind !== "record") continue;
    keyCount++;
    sizeBytes += entry.key.byteLength + entry.record.value.byteLength + ROW_BYTES;
  }
  const meta: StoreMeta = { ...EMPTY_META, appliedIndex: 3, revision: 1, keyCount, sizeBytes, nextCollectionId };
  return [...snapshotChunks(meta, entries, 64)];
}

async function parse(chunks: Uint8Array[]): Promise<SnapshotItem[]> {
  const items: SnapshotItem[] = [];
  for await (const item of parseSnapshot(chunks)) items.push(item);
  return items;
}

async function refused(chunks: Uint8Array[], why: RegExp): Promise<void> {
  await assert.rejects(parse(chunks), (error: unknown) => {
    assert.ok(error instanceof ShoalError);
    assert.equal(error.code, "BAD_REQUEST");
    assert.match(error.message, why);
    return true;
  });
}

describe("snapshot image: collection rows", () => {
  const record = { kind: "record", key: b("h"), record: owner(1, ROW_BYTES) } as const;

  it("writes values around the size where they go unjoined, and a big value one chunk per pull", async () => {
    const record = (bytes: number, fill: number): StoredRecord => ({
      type: "string",
      value: new Uint8Array(bytes).fill(fill),
      createRevision: 1,
      modRevision: 2,
      version: 3,
      expiresAtMs: 0,
    });
    const sizes = [0, 64 * 1024 - 1, 64 * 1024, 64 * 1024 + 1, 1024 * 1024 + 3];
    const entries: SnapshotEntry[] = sizes.map((size, i) => ({
      kind: "record",
      key: b(`k${i}`),
      record: record(size, i + 1),
    }));
    const sizeBytes = sizes.reduce((sum, size, i) => sum + size + b(`k${i}`).byteLength, 0);
    const meta: StoreMeta = { ...EMPTY_META, appliedIndex: 3, revision: 2, keyCount: sizes.length, sizeBytes };
    const chunkBytes = 4096;
    const pulled: Uint8Array[] = [];
    const chunks = snapshotChunks(meta, entries, chunkBytes);
    // Lazily: the first pull hands out one full chunk, long before the 1 MiB value was copied.
    const first = chunks.next();
    assert.equal(first.done, false);
    pulled.push(first.value as Uint8Array);
    pulled.push(...chunks);
    assert.ok(
      pulled.slice(0, -1).every((chunk) => chunk.byteLength === chunkBytes),
      "every chunk but the last is full",
    );
    const items = await parse(pulled);
    const records = items.filter((item) => item.kind === "record");
    assert.deepEqual(
      records.map((item) =>
        item.kind === "record" ? [item.record.value.byteLength, item.record.value[0], item.record.version] : [],
      ),
      sizes.map((size, i) => [size, size === 0 ? undefined : i + 1, 3]),
    );
  });

  it("carries each table-encoded record's rows right after it", async () => {
    const items = await parse(image([record, rowA, rowB]));
    assert.deepEqual(
      items.map((item) => item.kind),
      ["header", "record", "row", "row"],
    );
    assert.deepEqual(items[3], rowB);
  });

  it("refuses rows that are missing, out of order, foreign or orphaned, and ids at or past the counter", async () => {
    await refused(image([record, rowA]), /holds \d+ row bytes, its header says/);
    await refused(image([record, rowB, rowA]), /rows out of order/);
    await refused(image([record, rowA, { ...rowB, collectionId: 2 }]), /does not follow its owner/);
    await refused(image([rowA, record, rowB]), /does not follow its owner/);
    await refused(image([record, rowA, rowB], 1), /not below the counter/);
  });
});
