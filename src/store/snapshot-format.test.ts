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
