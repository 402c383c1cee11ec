/**
 * Hashes past the compact thresholds (128 fields, 64-byte fields and values), stored one row per field: when
 * they convert, that every command answers as for a compact hash (order aside), HSCAN's cursor guarantees,
 * HRANDFIELD over rows, and 1 MiB fields. Run through the pure path (log entries on a MapStateMachine).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EMPTY_BYTES, keyId } from "../../../lib/bytes.js";
import { Prng } from "../../../lib/prng.js";
import { collectionOf, collectionRowBytes, encodeCollectionHeader, isTableEncoded } from "../../../store/collection.js";
import { WriteSet } from "../../../store/write-set.js";
import { encodeHash, hashRowKey, rowPosition } from "../../keyspace/hash-value.js";
import { StoredHash } from "../../keyspace/stored-hash.js";
import { MapStateMachine } from "../../testing/map-state-machine.js";
import type { Reply } from "../reply.js";
import { b, type Line, TestRedis } from "./test-harness.js";

const textDecoder = new TextDecoder();

function fieldName(i: number): string {
  return `field:${String(i).padStart(5, "0")}`;
}

/** HSET `key` with fields `from`..`from + count - 1` (value = the number), in one command. */
function fill(redis: TestRedis, key: string, count: number, from = 0): void {
  const pairs = Array.from({ length: count }, (_, i) => [fieldName(from + i), String(from + i)]).flat();
  const reply = redis.reply(["HSET", key, ...pairs]);
  assert.equal(reply.kind, "integer");
}

function isTable(redis: TestRedis, key: string): boolean {
  const record = redis.sm.records.get(keyId(b(key)));
  assert.ok(record !== undefined, `${key} exists`);
  return isTableEncoded(record.value);
}

/** The bulk strings of an array reply (nested arrays flattened), as text. */
function texts(reply: Reply): string[] {
  if (reply.kind === "bulk") return [textDecoder.decode(reply.value)];
  if (reply.kind === "array") return reply.items.flatMap(texts);
  if (reply.kind === "pairs") return reply.pairs.flatMap(([x, y]) => [...texts(x), ...texts(y)]);
  if (reply.kind === "map") return reply.entries.flatMap(([x, y]) => [...texts(x), ...texts(y)]);
  throw new Error(`unexpected reply ${reply.kind}`);
}

/** HSCAN's reply as [cursor, fields]. */
function scanStep(redis: TestRedis, line: Line): [string, string[]] {
  const reply = redis.reply(line);
  assert.equal(reply.kind, "array");
  assert.ok(reply.kind === "array");
  const [cursor, items] = reply.items;
  assert.ok(cursor?.kind === "bulk" && items !== undefined);
  const flat = texts(items);
  return [textDecoder.decode(cursor.value), flat.filter((_, i) => i % 2 === 0)];
}

describe("hash encodings", () => {
  it("stay compact up to 128 fields, in insertion order, and convert at the 129th", () => {
    const redis = new TestRedis();
    const order = Array.from({ length: 128 }, (_, i) => fieldName((i * 37) % 128)); // not sorted
    assert.equal(redis.run(["HSET", "h", ...order.flatMap((f) => [f, "v"])]), "(integer) 128");
    assert.equal(isTable(redis, "h"), false);
    assert.deepEqual(texts(redis.reply("HKEYS h")), order);
    assert.equal(redis.run("HSET h extra v"), "(integer) 1");
    assert.equal(isTable(redis, "h"), true);
    const keys = texts(redis.reply("HKEYS h"));
    assert.deepEqual([...keys].sort(), [...order, "extra"].sort());
    // The table's order is its rows' order: the fields' seeded hashes, ascending.
    const header = collectionOf(redis.sm.records.get(keyId(b("h"))));
    assert.ok(header !== undefined);
    const positions = keys.map((f) => rowPosition(hashRowKey(header.seed, b(f))));
    assert.deepEqual(
      positions,
      [...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)),
    );
    assert.equal(redis.run("HLEN h"), "(integer) 129");
    // Like Redis, a hash never converts back, however small it gets.
    assert.equal(redis.run(["HDEL", "h", ...keys.slice(1)]), "(integer) 128");
    assert.equal(isTable(redis, "h"), true);
    assert.deepEqual(texts(redis.reply("HGETALL h")), [keys[0], "v"]);
  });

  it("convert for a field or a value longer than 64 bytes, not at 64", () => {
    const redis = new TestRedis();
    const at = "x".repeat(64);
    const over = "x".repeat(65);
    for (const [key, field, value, table] of [
      ["f64", at, "v", false],
      ["v64", "f", at, false],
      ["f65", over, "v", true],
      ["v65", "f", over, true],
    ] as const) {
      redis.run(["HSET", key, "a", "1"]);
      redis.run(["HSET", key, field, value]);
      assert.equal(isTable(redis, key), table, key);
      assert.deepEqual(texts(redis.reply(["HMGET", key, "a", field])), ["1", value], key);
    }
    redis.run("HSET n a 1");
    redis.run(["HSETNX", "n", "b", over]);
    redis.run(["HINCRBYFLOAT", "n", "a", "0.1"]); // short result: stays as is
    assert.equal(isTable(redis, "n"), true);
    assert.equal(redis.run("HGET n a"), '"1.1"');
  });

  it("answer every command on a table hash as on a compact one (a differential over random commands)", () => {
    const field = fc.constantFrom("a", "b", "c", "d", "", "x".repeat(10));
    const value = fc.oneof(fc.constantFrom("0", "1", "-7", "2.5", "x"), fc.integer().map(String));
    const command = fc.oneof(
      fc.tuple(fc.constantFrom("HSET", "HSETNX"), field, value).map(([n, f, v]) => [n, f, v]),
      fc.tuple(fc.constant("HDEL"), field, field).map(([n, f, g]) => [n, f, g]),
      fc.tuple(fc.constantFrom("HGET", "HEXISTS", "HSTRLEN"), field).map(([n, f]) => [n, f]),
      fc.tuple(fc.constant("HINCRBY"), field, fc.integer({ min: -5, max: 5 })).map(([n, f, i]) => [n, f, String(i)]),
      fc.tuple(fc.constant("HINCRBYFLOAT"), field, fc.constantFrom("0.5", "-1", "1e3")).map(([n, f, i]) => [n, f, i]),
      fc.tuple(fc.constant("HMGET"), field, field).map(([n, f, g]) => [n, f, g]),
      fc.constant(["HLEN"]),
    );
    fc.assert(
      fc.property(fc.array(command, { maxLength: 40 }), (commands) => {
        const redis = new TestRedis();
        // The same fields in both; "t" converted by a long value that is then removed.
        redis.run("HSET t a 1");
        redis.run(["HSET", "t", "big", "y".repeat(65)]);
        redis.run("HDEL t big");
        redis.run("HSET c a 1");
        assert.equal(isTable(redis, "t"), true);
        for (const [name, ...args] of commands) {
          const compact = redis.run([name as string, "c", ...args]);
          const table = redis.run([name as string, "t", ...args]);
          assert.equal(table, compact, `${name} ${args.join(" ")}`);
        }
        const sortedPairs = (key: string): string[] => {
          const flat = texts(redis.reply(["HGETALL", key]));
          const pairs = flat.filter((_, i) => i % 2 === 0).map((f, i) => `${f}=${flat[2 * i + 1]}`);
          return pairs.sort();
        };
        assert.deepEqual(sortedPairs("t"), sortedPairs("c"));
      }),
      { numRuns: 200 },
    );
  });

  it("are made alike on every replica (the collection id from the counter, the seed from the entry)", () => {
    const replica = (): MapStateMachine => {
      const redis = new TestRedis();
      fill(redis, "a", 200);
      fill(redis, "b", 300);
      redis.run("DEL a");
      fill(redis, "a", 150);
      return redis.sm;
    };
    const [one, two] = [replica(), replica()];
    assert.deepEqual([...one.records], [...two.records]);
    assert.deepEqual(
      [...one.rows].map(([id, rows]) => [id, [...rows.values]]),
      [...two.rows].map(([id, rows]) => [id, [...rows.values]]),
    );
    assert.deepEqual(
      ["a", "b"].map((key) => collectionOf(one.records.get(keyId(b(key))))?.collectionId),
      [3, 2],
      "ids are never reused",
    );
    assert.notEqual(
      collectionOf(one.records.get(keyId(b("a"))))?.seed,
      collectionOf(one.records.get(keyId(b("b"))))?.seed,
    );
  });
});

describe("HSCAN on a table hash", () => {
  it("returns every field present throughout exactly once, with COUNT 1 to 1000, while fields come and go", () => {
    for (const count of [1, 2, 7, 10, 100, 999, 1000]) {
      const redis = new TestRedis();
      fill(redis, "h", 1500);
      const seen = new Map<string, number>();
      let cursor = "0";
      let calls = 0;
      let added = 0;
      do {
        const [next, fields] = scanStep(redis, ["HSCAN", "h", cursor, "COUNT", String(count)]);
        for (const f of fields) seen.set(f, (seen.get(f) ?? 0) + 1);
        cursor = next;
        calls++;
        // Between calls (every call for larger counts): add new fields, delete fields 1000.. (the fields present
        // throughout are 0..999).
        if (calls % Math.ceil(20 / count) === 0) {
          redis.run(["HSET", "h", `new:${added}`, "x", `new:${added + 1}`, "y"]);
          added += 2;
          redis.run(["HDEL", "h", fieldName(1000 + (calls % 500))]);
        }
      } while (cursor !== "0" && calls < 10_000);
      assert.equal(cursor, "0", `COUNT ${count}: the scan ends`);
      for (let i = 0; i < 1000; i++) assert.equal(seen.get(fieldName(i)), 1, `COUNT ${count}: ${fieldName(i)}`);
      for (const [f, times] of seen) assert.equal(times, 1, `COUNT ${count}: ${f} returned twice`);
      assert.ok(calls <= Math.ceil((1500 + added) / count) + 1, `COUNT ${count}: ${calls} calls`);
      if (count >= 10) assert.ok(calls >= Math.floor(1500 / count) - 1, `COUNT ${count} pages: ${calls} calls`);
    }
  });

  it("answers the same pages on every replica, from a cursor any of them issued, and filters by MATCH", () => {
    const replica = (): TestRedis => {
      const redis = new TestRedis();
      fill(redis, "h", 300);
      return redis;
    };
    const [one, two] = [replica(), replica()];
    const [cursor, page] = scanStep(one, "HSCAN h 0 COUNT 50");
    assert.notEqual(cursor, "0");
    assert.equal(page.length, 50);
    assert.deepEqual(scanStep(two, "HSCAN h 0 COUNT 50"), [cursor, page]);
    assert.deepEqual(
      scanStep(two, ["HSCAN", "h", cursor, "COUNT", "50"]),
      scanStep(one, ["HSCAN", "h", cursor, "COUNT", "50"]),
    );
    const [done, matched] = scanStep(one, "HSCAN h 0 MATCH field:0000* COUNT 1000");
    assert.equal(done, "0");
    assert.deepEqual(
      matched.sort(),
      Array.from({ length: 10 }, (_, i) => fieldName(i)),
    );
    // Any cursor Redis accepts is accepted: the largest position ends the scan.
    assert.deepEqual(scanStep(one, "HSCAN h 18446744073709551615"), ["0", []]);
    assert.equal(one.run("HSCAN h 18446744073709551616"), "ERR invalid cursor");
  });
});

describe("HRANDFIELD on a table hash", () => {
  function big(size: number): TestRedis {
    const redis = new TestRedis();
    fill(redis, "h", size);
    assert.equal(isTable(redis, "h"), true);
    return redis;
  }

  it("draws distinct fields for a positive count and the whole hash for one at or above its size", () => {
    const redis = big(1000);
    const all = new Set(texts(redis.reply("HKEYS h")));
    for (let seed = 0; seed < 20; seed++) {
      redis.seed = seed;
      for (const count of [1, 5, 300, 334, 999]) {
        const drawn = JSON.parse(redis.read(`HRANDFIELD h ${count}`)) as string[];
        assert.equal(drawn.length, count);
        assert.equal(new Set(drawn).size, count, "distinct");
        assert.ok(drawn.every((f) => all.has(f)));
      }
      const pairs = JSON.parse(redis.read("HRANDFIELD h 3 WITHVALUES")) as string[];
      for (let i = 0; i < pairs.length; i += 2) assert.equal(pairs[i], fieldName(Number(pairs[i + 1])));
    }
    assert.deepEqual(JSON.parse(redis.read("HRANDFIELD h 1000")), texts(redis.reply("HKEYS h")));
  });

  it("draws with repeats for a negative count, one at a time or from the whole hash", () => {
    const redis = big(1000);
    for (const count of [10, 62, 63, 5000]) {
      const drawn = JSON.parse(redis.read(`HRANDFIELD h -${count} WITHVALUES`)) as string[];
      assert.equal(drawn.length, 2 * count);
      for (let i = 0; i < drawn.length; i += 2) assert.equal(drawn[i], fieldName(Number(drawn[i + 1])));
    }
    const replica = big(1000);
    assert.equal(replica.read("HRANDFIELD h -20"), redis.read("HRANDFIELD h -20"), "deterministic for a seed");
  });

  it("reaches every field and draws them nearly uniformly", () => {
    const size = 500;
    const redis = big(size);
    const counts = new Map<string, number>();
    const draws = 40 * size;
    for (let seed = 0; seed < draws; seed++) {
      redis.seed = seed;
      const drawn = JSON.parse(redis.read("HRANDFIELD h")) as string;
      counts.set(drawn, (counts.get(drawn) ?? 0) + 1);
    }
    assert.equal(counts.size, size, "every field is drawn");
    const most = Math.max(...counts.values());
    assert.ok(most < 4 * (draws / size), `the most drawn field came ${most} times, 40 expected`);
  });
});

describe("table hashes with big fields", () => {
  it("store, read, scan and delete fields and values of 1 MiB", () => {
    const redis = new TestRedis();
    const field = new Uint8Array(1024 * 1024).fill(0x61);
    const value = new Uint8Array(1024 * 1024).fill(0x62);
    assert.equal(redis.run(["HSET", "h", field, value, "small", "1"]), "(integer) 2");
    assert.equal(isTable(redis, "h"), true);
    assert.deepEqual(redis.reply(["HGET", "h", field]), { kind: "bulk", value });
    assert.equal(redis.run(["HSTRLEN", "h", field]), `(integer) ${1024 * 1024}`);
    const [, fields] = scanStep(redis, "HSCAN h 0 COUNT 10");
    assert.deepEqual(
      fields.map((f) => f.length).sort((x, y) => x - y),
      [5, 1024 * 1024],
    );
    assert.equal(redis.run(["HDEL", "h", field]), "(integer) 1");
    assert.equal(redis.run(["HEXISTS", "h", field]), "(integer) 0");
    assert.equal(redis.run("HLEN h"), "(integer) 1");
  });
});

describe("StoredHash rows shared by several fields", () => {
  it("reads, lists and deletes fields whose hashes collide in one row, keeping the byte count", () => {
    // Real 64-bit collisions cannot be found on demand: store b in a's row, where a collision would put it.
    const seed = 99n;
    const rowKey = hashRowKey(seed, b("a"));
    const row = encodeHash(
      new Map([
        [keyId(b("a")), b("1")],
        [keyId(b("b")), b("2")],
      ]),
    );
    const base = new MapStateMachine();
    const writes = new WriteSet(base, 2);
    writes.putRow(1, rowKey, row);
    const header = { collectionId: 1, size: 2, rowBytes: collectionRowBytes(rowKey, row), seed, extra: EMPTY_BYTES };
    let stored: Uint8Array | undefined;
    const hash = new StoredHash(encodeCollectionHeader(header), writes, {
      rows: () => writes,
      writeValue: (value) => {
        stored = value;
      },
      deleteKey: () => {
        stored = undefined;
      },
      newCollection: () => ({ collectionId: 9, seed: 0n }),
    });
    assert.equal(textDecoder.decode(hash.get(b("a"))), "1");
    assert.deepEqual(
      [...hash.entries()].map(({ field }) => textDecoder.decode(field)),
      ["a", "b"],
    );
    assert.equal(hash.scan(0n, 1).entries.length, 2, "one row, both fields");
    assert.equal(hash.delete([b("a")]), 1);
    const rest = writes.getRow(1, rowKey);
    assert.ok(rest !== undefined);
    assert.deepEqual(
      collectionOf({
        type: "hash",
        value: stored ?? EMPTY_BYTES,
        createRevision: 1,
        modRevision: 1,
        version: 1,
        expiresAtMs: 0,
      }),
      {
        ...header,
        size: 1,
        rowBytes: collectionRowBytes(rowKey, rest),
        extra: EMPTY_BYTES,
      },
    );
    assert.equal(textDecoder.decode(hash.randomEntry(new Prng(1)).field), "b");
  });
});
