import assert from "node:assert/strict";
import { test } from "node:test";
import { executeCommands } from "../commands/redis/execute.js";
import type { Reply } from "../commands/redis/reply.js";
import { ScanCursorTable } from "../commands/redis/scan-cursor-table.js";
import { compareBytes } from "../lib/bytes.js";
import { Prng } from "../lib/prng.js";
import type { KeyspaceReader } from "../store/write-set.js";
import { decodePosition, encodePosition, KEYS_PAGE_KEYS, keylessReadOverShards } from "./keyless-reads.js";
import type { KeylessAnswer, ShardAccess } from "./shard-access.js";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const argv = (...words: string[]) => words.map((word) => encoder.encode(word));

/** A shard holding string keys `names`, answering keyless reads the way LocalShard does (the real SCAN handler). */
function shard(names: readonly string[]): ShardAccess {
  const keys = names.map((name) => encoder.encode(name)).sort(compareBytes);
  const reader: KeyspaceReader = {
    getRecord: (key) =>
      keys.some((k) => compareBytes(k, key) === 0)
        ? { type: "string", value: key, createRevision: 1, modRevision: 1, version: 1, expiresAtMs: 0 }
        : undefined,
    keysAfter: (after, limit) =>
      keys.filter((key) => after === undefined || compareBytes(key, after) > 0).slice(0, limit),
    keyCount: () => keys.length,
    getRow: () => undefined,
    rowsAfter: () => [],
  };
  return {
    keylessRead: async (command, _stale, scanAfter): Promise<KeylessAnswer> => {
      let scanNext: Uint8Array | undefined;
      const [reply] = executeCommands(reader, undefined, [command], {
        nowMs: 0,
        revision: 1,
        random: new Prng(1),
        cursors: {
          resume: (cursor) => (cursor === 0n ? undefined : scanAfter),
          issue: (last) => {
            scanNext = last;
            return 1n;
          },
        },
      });
      return { reply: reply as Reply, scanNext };
    },
  } as ShardAccess;
}

const texts = (reply: Reply): string[] =>
  reply.kind === "array" ? reply.items.map((item) => (item.kind === "bulk" ? decoder.decode(item.value) : "?")) : [];

test("SCAN over shards returns every key exactly once, shard after shard, whatever COUNT", async () => {
  const shards = [shard(["b", "d", "f"]), shard([]), shard(["a", "c", "e", "g", "h"])];
  for (const count of [1, 2, 3, 10]) {
    const table = new ScanCursorTable();
    const seen: string[] = [];
    let cursor = "0";
    let calls = 0;
    do {
      const reply = await keylessReadOverShards(argv("SCAN", cursor, "COUNT", String(count)), shards, false, table);
      assert.equal(reply.kind, "array");
      const [next, page] = (reply as { readonly items: readonly Reply[] }).items as [Reply, Reply];
      cursor = next.kind === "bulk" ? decoder.decode(next.value) : "?";
      seen.push(...texts(page));
      assert.ok(++calls < 50);
    } while (cursor !== "0");
    assert.deepEqual(seen.sort(), ["a", "b", "c", "d", "e", "f", "g", "h"], `COUNT ${count}`);
  }
});

test("KEYS lists shard after shard (bytewise within each), DBSIZE sums, a bad option answers the shards' error", async () => {
  const shards = [shard(["b", "d"]), shard(["a", "c"])];
  const table = new ScanCursorTable();
  assert.deepEqual(texts(await keylessReadOverShards(argv("KEYS", "*"), shards, false, table)), ["b", "d", "a", "c"]);
  const arity = await keylessReadOverShards(argv("KEYS", "*", "extra"), shards, false, table);
  assert.equal(arity.kind, "error");
  assert.deepEqual(await keylessReadOverShards(argv("DBSIZE"), shards, false, table), { kind: "integer", value: 4 });
  const bad = await keylessReadOverShards(argv("SCAN", "0", "COUNT", "zero"), shards, false, table);
  assert.equal(bad.kind, "error");
  const random = await keylessReadOverShards(argv("RANDOMKEY"), shards, false, table);
  assert.ok(random.kind === "bulk" && ["a", "b", "c", "d"].includes(decoder.decode(random.value)));
});

test("a SCAN position names its shard and key; one beyond the shards is an invalid cursor", () => {
  assert.deepEqual(decodePosition(encodePosition(300, encoder.encode("k")), 301), {
    index: 300,
    after: encoder.encode("k"),
  });
  assert.deepEqual(decodePosition(encodePosition(2, undefined), 3), { index: 2, after: undefined });
  assert.deepEqual(decodePosition(undefined, 3), { index: 0, after: undefined });
  assert.throws(() => decodePosition(encodePosition(3, undefined), 3), /invalid cursor/);
});

test("KEYS lists a shard page by page (no call examines more than a page), every key once, in order", async () => {
  const many = Array.from({ length: 2 * KEYS_PAGE_KEYS + 7 }, (_, i) => `k${String(i).padStart(6, "0")}`);
  const big = shard(many);
  let calls = 0;
  const counted: ShardAccess = {
    ...big,
    keylessRead: (command, stale, after) => {
      calls++;
      return big.keylessRead(command, stale, after);
    },
  } as ShardAccess;
  const table = new ScanCursorTable();
  const listed = texts(await keylessReadOverShards(argv("KEYS", "*"), [counted, shard(["a"])], false, table));
  assert.deepEqual(listed, [...many, "a"]);
  assert.equal(calls, 3, "three pages of the big shard");
  assert.deepEqual(texts(await keylessReadOverShards(argv("KEYS", "k00000?"), [big], false, table)), many.slice(0, 10));
  for (let i = 0; i < 5; i++) {
    const random = await keylessReadOverShards(argv("RANDOMKEY"), [big, shard([])], false, table);
    assert.ok(random.kind === "bulk" && many.includes(decoder.decode(random.value)));
  }
  assert.deepEqual(await keylessReadOverShards(argv("RANDOMKEY"), [shard([])], false, table), { kind: "null" });
});

test("SCAN over shards examines at most a page of a shard per call, whatever COUNT a client asks", async () => {
  const many = Array.from({ length: KEYS_PAGE_KEYS + 5 }, (_, i) => `k${String(i).padStart(6, "0")}`);
  const table = new ScanCursorTable();
  const first = await keylessReadOverShards(argv("SCAN", "0", "COUNT", "100000000"), [shard(many)], false, table);
  const [cursor, page] = (first as { readonly items: readonly Reply[] }).items as [Reply, Reply];
  assert.equal(texts(page).length, KEYS_PAGE_KEYS);
  assert.ok(cursor.kind === "bulk" && decoder.decode(cursor.value) !== "0", "more to come");
  const bad = await keylessReadOverShards(argv("SCAN", "0", "COUNT", "x"), [shard(many)], false, table);
  assert.equal(bad.kind, "error");
});
