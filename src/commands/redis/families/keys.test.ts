/**
 * The generic key commands against redis-server 7.0.15's answers (each checked with redis-cli), over the pure
 * path. The clock starts at 1,000,000 ms; tests move it forward to watch keys expire.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyId } from "../../../lib/bytes.js";
import { Prng } from "../../../lib/prng.js";
import { COMMAND_LIMITS } from "../../limits.js";
import { executeCommands } from "../execute.js";
import type { Reply } from "../reply.js";
import { ScanCursorTable } from "../scan-cursor-table.js";
import { keyCommands } from "./keys.js";
import { b, type Line, NOT_INT, render, session, TestRedis, toArgv, withHash } from "./test-harness.js";

describe("DEL, UNLINK, EXISTS, TYPE", () => {
  it("count keys as Redis does (EXISTS counts repeats, DEL does not)", () => {
    session(withHash(), [
      ["MSET a 1 b 2 c 3", "OK"],
      ["EXISTS a a nosuch h", "(integer) 3"],
      ["TYPE a", "string"],
      ["TYPE h", "hash"],
      ["TYPE nosuch", "none"],
      ["DEL a a nosuch h", "(integer) 2"],
      ["UNLINK b c b", "(integer) 2"],
      ["EXISTS a b c h", "(integer) 0"],
      ["DEL a", "(integer) 0"],
    ]);
  });
});

describe("RENAME, RENAMENX", () => {
  it("move the value and its TTL, replacing (RENAME) or keeping (RENAMENX) the target", () => {
    session(withHash(), [
      ["RENAME nosuch x", "ERR no such key"],
      ["RENAMENX nosuch x", "ERR no such key"],
      ["RENAME nosuch nosuch", "ERR no such key"],
      ["SET a 1", "OK"],
      ["RENAME a a", "OK"],
      ["RENAMENX a a", "(integer) 0"],
      ["EXPIRE a 100", "(integer) 1"],
      ["RENAME a b", "OK"],
      ["EXISTS a", "(integer) 0"],
      ["GET b", '"1"'],
      ["TTL b", "(integer) 100"],
      ["RENAME b h", "OK"],
      ["TYPE h", "string"],
      ["TTL h", "(integer) 100"],
      ["SET c 3", "OK"],
      ["RENAMENX c h", "(integer) 0"],
      ["RENAMENX c d", "(integer) 1"],
      ["GET d", '"3"'],
      ["EXISTS c", "(integer) 0"],
    ]);
  });

  it("move hashes too", () => {
    session(withHash(), [
      ["RENAME h h2", "OK"],
      ["TYPE h2", "hash"],
      ["GET h2", "WRONGTYPE Operation against a key holding the wrong kind of value"],
    ]);
  });
});

describe("EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT", () => {
  it("check options, then the time, then the key", () => {
    session(new TestRedis(), [
      ["EXPIRE k 10 nx xx", "ERR NX and XX, GT or LT options at the same time are not compatible"],
      ["EXPIRE k 10 Nx Lt", "ERR NX and XX, GT or LT options at the same time are not compatible"],
      ["EXPIRE k 10 nx gt", "ERR NX and XX, GT or LT options at the same time are not compatible"],
      ["EXPIRE k 10 gt lt", "ERR GT and LT options at the same time are not compatible"],
      ["EXPIRE k 10 foo", "ERR Unsupported option foo"],
      ["EXPIRE k abc foo", "ERR Unsupported option foo"],
      ["EXPIRE k abc", NOT_INT],
      ["EXPIRE k 9223372036854775807", "ERR invalid expire time in 'expire' command"],
      ["EXPIRE k 9223372036854775", "ERR invalid expire time in 'expire' command"],
      ["EXPIRE k -9223372036854775808", "ERR invalid expire time in 'expire' command"],
      ["PEXPIRE k 9223372036854775807", "ERR invalid expire time in 'pexpire' command"],
      ["EXPIREAT k 9223372036854775807", "ERR invalid expire time in 'expireat' command"],
      ["EXPIREAT k -9223372036854776", "ERR invalid expire time in 'expireat' command"],
      ["EXPIRE nosuch 10", "(integer) 0"],
      ["PEXPIREAT nosuch 9223372036854775807", "(integer) 0"],
    ]);
  });

  it("set relative and absolute expiries, and keys vanish when they pass", () => {
    const redis = new TestRedis();
    session(redis, [
      ["SET a v", "OK"],
      ["SET b v", "OK"],
      ["SET c v", "OK"],
      ["SET d v", "OK"],
      ["EXPIRE a 10", "(integer) 1"],
      ["PEXPIRE b 1499", "(integer) 1"],
      ["EXPIREAT c 1002", "(integer) 1"],
      ["PEXPIREAT d 1000600", "(integer) 1"],
      ["TTL a", "(integer) 10"],
      ["PTTL a", "(integer) 10000"],
      ["EXPIRETIME a", "(integer) 1010"],
      ["PEXPIRETIME a", "(integer) 1010000"],
      ["TTL b", "(integer) 1"], // 1499 ms rounds to 1 s, as (ttl + 500) / 1000
      ["TTL c", "(integer) 2"],
      ["PTTL d", "(integer) 600"],
      ["TTL d", "(integer) 1"], // 600 ms rounds up
      ["EXPIRETIME d", "(integer) 1001"],
      ["PEXPIREAT e 9223372036854775807", "(integer) 0"],
      ["SET e v", "OK"],
      ["EXPIREAT e 9223372036854775", "(integer) 1"],
    ]);
    redis.nowMs = 1_001_499;
    session(redis, [
      ["EXISTS b", "(integer) 0"],
      ["TTL b", "(integer) -2"],
      ["PTTL b", "(integer) -2"],
      ["EXPIRETIME b", "(integer) -2"],
      ["EXISTS d", "(integer) 0"],
      ["PTTL c", "(integer) 501"],
      ["EXISTS a c", "(integer) 2"],
    ]);
  });

  it("delete the key for a time at or before now, and answer 1", () => {
    session(new TestRedis(), [
      ["SET a v", "OK"],
      ["EXPIRE a 0", "(integer) 1"],
      ["EXISTS a", "(integer) 0"],
      ["SET a v", "OK"],
      ["PEXPIREAT a 1000000", "(integer) 1"],
      ["EXISTS a", "(integer) 0"],
      ["SET a v", "OK"],
      ["EXPIREAT a -9223372036854775", "(integer) 1"],
      ["EXISTS a", "(integer) 0"],
      ["SET a v", "OK"],
      ["PEXPIREAT a -9223372036854775808", "(integer) 1"],
      ["EXISTS a", "(integer) 0"],
      ["SET a v", "OK"],
      ["PEXPIRE a 1", "(integer) 1"],
      ["EXISTS a", "(integer) 1"],
    ]);
  });

  it("honour NX, XX, GT and LT (no expiry counts as infinite)", () => {
    session(new TestRedis(), [
      ["SET k v", "OK"],
      ["EXPIRE k 100 XX", "(integer) 0"],
      ["EXPIRE k 100 GT", "(integer) 0"],
      ["EXPIRE k -5 GT", "(integer) 0"],
      ["TTL k", "(integer) -1"],
      ["EXPIRE k 100 LT", "(integer) 1"],
      ["TTL k", "(integer) 100"],
      ["EXPIRE k 10 NX", "(integer) 0"],
      ["EXPIRE k 100 LT", "(integer) 0"],
      ["EXPIRE k 50 GT", "(integer) 0"],
      ["EXPIRE k 200 GT", "(integer) 1"],
      ["EXPIRE k 300 LT", "(integer) 0"],
      ["EXPIRE k 150 XX LT", "(integer) 1"],
      ["TTL k", "(integer) 150"],
      ["PERSIST k", "(integer) 1"],
      ["PEXPIRE k 100 NX", "(integer) 1"],
      ["PTTL k", "(integer) 100"],
      ["EXPIRE k -5 LT", "(integer) 1"],
      ["EXISTS k", "(integer) 0"],
    ]);
  });

  it("work on hashes", () => {
    session(withHash(), [
      ["EXPIRE h 10", "(integer) 1"],
      ["TTL h", "(integer) 10"],
      ["PERSIST h", "(integer) 1"],
      ["TTL h", "(integer) -1"],
    ]);
  });
});

describe("TTL family and PERSIST", () => {
  it("answer -2 for a missing key and -1 without expiry", () => {
    session(new TestRedis(), [
      ["TTL nosuch", "(integer) -2"],
      ["PTTL nosuch", "(integer) -2"],
      ["EXPIRETIME nosuch", "(integer) -2"],
      ["PEXPIRETIME nosuch", "(integer) -2"],
      ["SET k v", "OK"],
      ["TTL k", "(integer) -1"],
      ["PTTL k", "(integer) -1"],
      ["EXPIRETIME k", "(integer) -1"],
      ["PEXPIRETIME k", "(integer) -1"],
      ["PERSIST nosuch", "(integer) 0"],
      ["PERSIST k", "(integer) 0"],
      ["SET k v PXAT 4000000400", "OK"],
      ["EXPIRETIME k", "(integer) 4000000"],
      ["SET k v PXAT 4000000600", "OK"],
      ["EXPIRETIME k", "(integer) 4000001"],
      ["PEXPIRETIME k", "(integer) 4000000600"],
      ["PERSIST k", "(integer) 1"],
      ["PERSIST k", "(integer) 0"],
      ["PTTL k", "(integer) -1"],
    ]);
  });
});

describe("KEYS, RANDOMKEY, DBSIZE", () => {
  it("list live keys in bytewise order, matching the glob", () => {
    const redis = withHash();
    session(redis, [
      ["KEYS *", '["h"]'],
      ["MSET hello 1 hallo 2 b 3 a 4 ab 5", "OK"],
      ["SET gone v PX 10", "OK"],
      ["KEYS *", '["a", "ab", "b", "gone", "h", "hallo", "hello"]'],
      ["KEYS h?llo", '["hallo", "hello"]'],
      ["KEYS h[^e]*", '["hallo"]'],
      ["KEYS a*", '["a", "ab"]'],
      ["KEYS nomatch*", "[]"],
      ["DBSIZE", "(integer) 7"],
    ]);
    redis.nowMs += 10;
    // Like Redis, DBSIZE still counts a key past its TTL until expiry removes it; listings leave it out at once.
    session(redis, [
      ["KEYS *", '["a", "ab", "b", "h", "hallo", "hello"]'],
      ["DBSIZE", "(integer) 7"],
    ]);
    redis.sm.apply({ op: "expire", keys: [b("gone")], nowMs: redis.nowMs });
    session(redis, [["DBSIZE", "(integer) 6"]]);
  });

  it("list the empty key for a lone * only, as Redis's special case does", () => {
    session(new TestRedis(), [
      [["SET", "", "v"], "OK"],
      ["SET a v", "OK"],
      ["KEYS *", '["", "a"]'],
      ["KEYS **", '["a"]'],
      ["SCAN 0 MATCH *", '["0", ["", "a"]]'],
      ["SCAN 0 MATCH **", '["0", ["a"]]'],
    ]);
  });

  it("draw a random live key from the context's random source", () => {
    const redis = new TestRedis();
    assert.equal(redis.read("RANDOMKEY"), "(nil)");
    session(redis, [["MSET a 1 b 2 c 3", "OK"]]);
    const seen = new Set<string>();
    for (let seed = 0; seed < 40; seed++) {
      redis.seed = seed;
      seen.add(redis.read("RANDOMKEY"));
    }
    assert.deepEqual([...seen].sort(), ['"a"', '"b"', '"c"']);
    redis.seed = 3;
    assert.equal(redis.read("RANDOMKEY"), redis.read("RANDOMKEY"));
  });
});

describe("FLUSHDB, FLUSHALL", () => {
  it("delete every key, accepting ASYNC or SYNC", () => {
    const redis = withHash();
    session(redis, [
      ["MSET a 1 b 2", "OK"],
      ["FLUSHDB foo", "ERR syntax error"],
      ["FLUSHDB async sync", "ERR syntax error"],
      ["FLUSHALL ASYNC ASYNC", "ERR syntax error"],
      ["DBSIZE", "(integer) 3"],
      ["FLUSHDB", "OK"],
      ["DBSIZE", "(integer) 0"],
      ["MSET a 1 b 2", "OK"],
      ["FLUSHALL SYNC", "OK"],
      ["KEYS *", "[]"],
      ["SET a 1", "OK"],
      ["flushdb async", "OK"],
      ["FLUSHALL", "OK"],
      ["DBSIZE", "(integer) 0"],
    ]);
  });
});

describe("SCAN", () => {
  it("parses the cursor like strtoul and the options like Redis", () => {
    const redis = withHash();
    redis.run("SET a 1");
    const all = '["0", ["a", "h"]]';
    assert.equal(redis.read("SCAN 0"), all);
    assert.equal(redis.read("SCAN +0"), all);
    assert.equal(redis.read("SCAN 00"), all);
    assert.equal(redis.read(["SCAN", ""]), all);
    assert.equal(redis.read("SCAN abc"), "ERR invalid cursor");
    assert.equal(redis.read(["SCAN", " 1"]), "ERR invalid cursor");
    assert.equal(redis.read("SCAN -"), "ERR invalid cursor");
    assert.equal(redis.read("SCAN 18446744073709551616"), "ERR invalid cursor");
    // A number we never issued: Redis would start anywhere; our cursor table refuses it.
    assert.equal(redis.read("SCAN 18446744073709551615"), "ERR invalid cursor");
    assert.equal(redis.read("SCAN -1"), "ERR invalid cursor");
    assert.equal(redis.read("SCAN 0 COUNT 0"), "ERR syntax error");
    assert.equal(redis.read("SCAN 0 COUNT -1"), "ERR syntax error");
    assert.equal(redis.read("SCAN 0 COUNT abc"), NOT_INT);
    assert.equal(redis.read("SCAN 0 foo"), "ERR syntax error");
    assert.equal(redis.read("SCAN 0 MATCH"), "ERR syntax error");
    assert.equal(redis.read("SCAN 0 COUNT 10 TYPE"), "ERR syntax error");
    assert.equal(redis.read("SCAN 0 TYPE nosuchtype"), '["0", []]');
    assert.equal(redis.read("SCAN 0 TYPE string"), '["0", ["a"]]');
    assert.equal(redis.read("SCAN 0 type HASH"), '["0", ["h"]]');
    assert.equal(redis.read("SCAN 0 MATCH h*"), '["0", ["h"]]');
    assert.equal(redis.read("SCAN 0 MATCH * COUNT 9223372036854775807"), all);
  });

  it("examines COUNT keys per call and filters them, resuming where it stopped", () => {
    const redis = new TestRedis();
    redis.run("MSET a 1 b 2 c 3 d 4 e 5");
    assert.equal(redis.read("SCAN 0 COUNT 2 MATCH [bcd]"), '["1", ["b"]]');
    assert.equal(redis.read("SCAN 1 COUNT 2 MATCH [bcd]"), '["2", ["c", "d"]]');
    assert.equal(redis.read("SCAN 2 COUNT 2 MATCH [bcd]"), '["0", []]');
    // A COUNT covering the rest finishes at once: the cursor is 0, not a call answering nothing.
    assert.equal(redis.read("SCAN 0 COUNT 5"), '["0", ["a", "b", "c", "d", "e"]]');
  });

  it("finishes in one call inside a log entry when COUNT covers every key", () => {
    const redis = new TestRedis();
    redis.run("MSET a 1 b 2 c 3");
    assert.equal(redis.run("SCAN 0 COUNT 3"), '["0", ["a", "b", "c"]]');
  });

  it("returns every key present for the whole iteration while others come and go", () => {
    const random = new Prng(42);
    const redis = new TestRedis();
    const name = (): string => `k${random.int(1_000_000).toString(36)}`;
    const stable = new Set<string>();
    const volatile = new Set<string>();
    while (stable.size < 60) stable.add(name());
    while (volatile.size < 40) {
      const candidate = name();
      if (!stable.has(candidate)) volatile.add(candidate);
    }
    redis.run(["MSET", ...[...stable, ...volatile].flatMap((key) => [key, "v"])]);
    const cursors = new ScanCursorTable();
    const seen = new Set<string>();
    let cursor = "0";
    let calls = 0;
    do {
      const [reply] = executeCommands(redis.sm, undefined, [toArgv(`SCAN ${cursor} COUNT 2`)], {
        nowMs: redis.nowMs,
        revision: redis.sm.state.revision,
        random,
        cursors,
      });
      const [next, keys] = scanReply(reply as Reply);
      for (const key of keys) seen.add(key);
      cursor = next;
      calls++;
      // Between calls, add a key and delete a volatile one, anywhere in the order.
      let added = name();
      while (stable.has(added)) added = name();
      volatile.add(added);
      redis.run(`SET ${added} v`);
      const victims = [...volatile];
      const victim = victims[random.int(victims.length)] as string;
      volatile.delete(victim);
      assert.equal(redis.run(`DEL ${victim}`), "(integer) 1");
      assert.ok(calls < 1000, "the scan terminates");
    } while (cursor !== "0");
    for (const key of stable) assert.ok(seen.has(key), `stable key ${key} returned`);
    assert.ok(calls > 30, `scanned in small steps (${calls} calls)`);
  });
});

function scanReply(reply: Reply): [string, string[]] {
  if (reply.kind !== "array") throw new Error(`not a SCAN reply: ${render(reply)}`);
  const [cursor, keys] = reply.items;
  if (cursor?.kind !== "bulk" || keys?.kind !== "array") throw new Error(`not a SCAN reply: ${render(reply)}`);
  const decoder = new TextDecoder();
  return [
    decoder.decode(cursor.value),
    keys.items.map((item) => (item.kind === "bulk" ? decoder.decode(item.value) : "?")),
  ];
}

describe("the key table", () => {
  it("runs every readonly command on the read-only path", () => {
    const redis = withHash();
    redis.run("SET a 1 EX 10");
    const reads: [Line, string][] = [
      ["EXISTS a h x", "(integer) 2"],
      ["TYPE h", "hash"],
      ["TTL a", "(integer) 10"],
      ["PTTL a", "(integer) 10000"],
      ["EXPIRETIME a", "(integer) 1010"],
      ["PEXPIRETIME a", "(integer) 1010000"],
      ["KEYS *", '["a", "h"]'],
      ["SCAN 0", '["0", ["a", "h"]]'],
      ["DBSIZE", "(integer) 2"],
    ];
    for (const [line, expected] of reads) assert.equal(redis.read(line), expected, `${line}`);
    assert.match(redis.read("RANDOMKEY"), /^"(a|h)"$/);
    assert.throws(() => redis.read("DEL a"), /read-only command tried to write/);
  });

  it("flags each command as exactly one of write and readonly", () => {
    const readonly = new Set([
      "exists",
      "type",
      "ttl",
      "pttl",
      "expiretime",
      "pexpiretime",
      "keys",
      "scan",
      "randomkey",
      "dbsize",
    ]);
    for (const spec of keyCommands) {
      const expected = readonly.has(spec.name) ? "readonly" : "write";
      assert.ok(spec.flags.includes(expected), spec.name);
      assert.ok(!spec.flags.includes(expected === "write" ? "readonly" : "write"), spec.name);
    }
    assert.equal(keyCommands.length, 21);
  });

  it("moves a renamed key's revision like any write", () => {
    const redis = new TestRedis();
    redis.run("SET a 1");
    redis.run("RENAME a b");
    assert.equal(redis.sm.records.get(keyId(b("b")))?.modRevision, redis.sm.state.revision);
  });
});

describe("listing inside the log", () => {
  it("lists at most logListedCountMax keys or fields per entry (KEYS or HGETALL in MULTI), any number outside it", () => {
    const redis = new TestRedis();
    const max = COMMAND_LIMITS.logListedCountMax;
    const mset: string[] = ["MSET"];
    for (let i = 0; i < max; i++) mset.push(`k${i}`, "v");
    assert.equal(redis.run(mset), "OK");
    assert.match(redis.run("KEYS *"), /^\[/, "exactly the bound is listed");
    assert.equal(redis.run("SET one-more v"), "OK");
    const refused = redis.run("KEYS *");
    assert.match(refused, /^TOO_LARGE a transaction may list at most 50000 keys or fields .* outside MULTI$/);
    assert.equal(redis.run("DBSIZE"), `(integer) ${max + 1}`, "counting is O(1), not a listing");
    assert.match(redis.read("KEYS k1"), /^\["k1"\]$/, "outside the log there is no bound");
    const hset: string[] = ["HSET", "big"];
    for (let i = 0; i <= max; i++) hset.push(`f${i}`, "v");
    assert.equal(redis.run(hset), `(integer) ${max + 1}`);
    assert.match(redis.run("HGETALL big"), /^TOO_LARGE /);
    assert.match(redis.run("HLEN big"), /^\(integer\) 50001$/);
  });
});
