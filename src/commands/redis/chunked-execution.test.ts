import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { keyId } from "../../lib/bytes.js";
import { Prng } from "../../lib/prng.js";
import { EMPTY_KEYSPACE, WriteSet } from "../../store/write-set.js";
import type { ScanCursors } from "./command-spec.js";
import { executeCommandSteps } from "./execute.js";
import type { Reply } from "./reply.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);
const NO_CURSORS: ScanCursors = {
  resume: () => undefined,
  issue: () => 1n,
};

/** Runs one entry's commands over an empty keyspace; the replies, the final write per key and per row, and how
 * many pause points the run passed. */
function run(argvs: Uint8Array[][], chunkGroups: number) {
  const writes = new WriteSet(EMPTY_KEYSPACE, 1);
  const steps = executeCommandSteps(writes, writes, argvs, {
    nowMs: 1000,
    revision: 1,
    random: () => new Prng(7),
    cursors: NO_CURSORS,
    chunkGroups,
  });
  let pauses = 0;
  let next = steps.next();
  while (next.done !== true) {
    pauses++;
    next = steps.next();
  }
  const replies: Reply[] = next.value;
  const keys = new Map<string, unknown>();
  for (const { key, record } of writes.mutations) keys.set(keyId(key), record);
  const rows = new Map<string, unknown>();
  for (const { collectionId, rowKey, value } of writes.rowMutations)
    rows.set(`${collectionId}:${keyId(rowKey)}`, value);
  return { replies, keys, rows, pauses };
}

const key = fc.constantFrom("a", "b", "c", "d", "e", "h", "g");
const field = fc.constantFrom("f1", "f2", "f3", "f4", "f5", "f6");
const value = fc.constantFrom("1", "2", "x", "");
const command = fc.oneof(
  fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 12 }).map((pairs) => ["MSET", ...pairs.flat()]),
  fc.array(key, { minLength: 1, maxLength: 12 }).map((keys) => ["DEL", ...keys]),
  fc.array(key, { minLength: 1, maxLength: 12 }).map((keys) => ["UNLINK", ...keys]),
  fc.array(key, { minLength: 1, maxLength: 12 }).map((keys) => ["MGET", ...keys]),
  fc
    .tuple(key, fc.array(fc.tuple(field, value), { minLength: 1, maxLength: 12 }))
    .map(([k, pairs]) => ["HSET", k, ...pairs.flat()]),
  fc
    .tuple(key, fc.array(fc.tuple(field, value), { minLength: 1, maxLength: 12 }))
    .map(([k, pairs]) => ["HMSET", k, ...pairs.flat()]),
  fc.tuple(key, fc.array(field, { minLength: 1, maxLength: 12 })).map(([k, fields]) => ["HDEL", k, ...fields]),
  key.map((k) => ["HGETALL", k]),
  key.map((k) => ["GET", k]),
);

describe("commands with many arguments run chunk by chunk (issue 10)", () => {
  it("give the same replies and writes in chunks of any size as in one piece (differential, random entries)", () => {
    fc.assert(
      fc.property(fc.array(command, { minLength: 1, maxLength: 8 }), fc.integer({ min: 1, max: 4 }), (lines, size) => {
        const argvs = lines.map((line) => line.map(b));
        const whole = run(argvs, Number.MAX_SAFE_INTEGER);
        const chunked = run(argvs, size);
        assert.deepEqual(chunked.replies, whole.replies);
        assert.deepEqual(chunked.keys, whole.keys);
        assert.deepEqual(chunked.rows, whole.rows);
      }),
      { numRuns: 400 },
    );
  });

  it("pause between chunks, so a store can spread one big command over event-loop turns", () => {
    const pairs: string[] = [];
    for (let i = 0; i < 2000; i++) pairs.push(`k${i}`, "v");
    const argvs = [["MSET", ...pairs].map(b)];
    const whole = run(argvs, Number.MAX_SAFE_INTEGER);
    const chunked = run(argvs, 100);
    assert.equal(whole.keys.size, 2000);
    assert.deepEqual(chunked.keys, whole.keys);
    assert.ok(chunked.pauses >= 20, `2,000 pairs in chunks of 100 paused ${chunked.pauses} times`);
  });

  it("a chunk that fails leaves nothing of the command behind", () => {
    const argvs = [["SET", "s", "x"].map(b), ["HSET", "s", "f1", "1", "f2", "2", "f3", "3"].map(b)];
    const result = run(argvs, 1);
    assert.equal(result.replies[1]?.kind, "error");
    assert.deepEqual([...result.keys.keys()], ["s"]);
  });
});
