import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { compareBytes } from "../lib/bytes.js";
import { mergedKeyspaceReader } from "./merged-keyspace-reader.js";
import type { StoredRecord } from "./record.js";
import type { KeyspaceReader } from "./write-set.js";

/** A reader over `keys` (any order), each key's record naming it in its value. */
function readerOf(keys: readonly Uint8Array[]): KeyspaceReader {
  const sorted = [...keys].sort(compareBytes);
  const record = (key: Uint8Array): StoredRecord => ({
    type: "string",
    value: key,
    createRevision: 1,
    modRevision: 1,
    version: 1,
    expiresAtMs: 0,
  });
  return {
    getRecord: (key) => (sorted.some((k) => compareBytes(k, key) === 0) ? record(key) : undefined),
    keysAfter: (after, limit) =>
      sorted.filter((k) => after === undefined || compareBytes(k, after) > 0).slice(0, limit),
    keyCount: () => sorted.length,
    getRow: () => undefined,
    rowsAfter: () => [],
  };
}

test("reads several shards as one keyspace: keys in bytewise order, counts summed, records from their shard", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.uint8Array({ minLength: 1, maxLength: 4 }), {
        selector: (k) => Buffer.from(k).toString("hex"),
        maxLength: 60,
      }),
      fc.integer({ min: 1, max: 5 }),
      fc.option(fc.uint8Array({ maxLength: 3 }), { nil: undefined }),
      fc.integer({ min: 1, max: 70 }),
      (keys, shardCount, after, limit) => {
        const shardOf = (key: Uint8Array): number => ((key[0] as number) * 7 + key.length) % shardCount;
        const shards = Array.from({ length: shardCount }, (_, s) => readerOf(keys.filter((k) => shardOf(k) === s)));
        const merged = mergedKeyspaceReader(shards, shardOf);
        const whole = readerOf(keys);
        assert.deepEqual(merged.keysAfter(after, limit), whole.keysAfter(after, limit));
        assert.equal(merged.keyCount(), keys.length);
        for (const key of keys.slice(0, 5)) assert.deepEqual(merged.getRecord(key)?.value, key);
      },
    ),
    { numRuns: 300 },
  );
});

test("refuses to read a collection's rows (a command reading rows is routed by its key)", () => {
  const merged = mergedKeyspaceReader([readerOf([]), readerOf([])], () => 0);
  assert.throws(() => merged.getRow(1, new Uint8Array(1)), /read through the shard that owns its key/);
  assert.throws(() => merged.rowsAfter(1, undefined, 1), /read through the shard that owns its key/);
});
