/**
 * The string commands against redis-server 7.0.15's answers (each expectation was checked with redis-cli).
 * Replies are rendered as redis-cli prints them; errors carry the prefix their code maps to.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { keyId } from "../../../lib/bytes.js";
import { integer } from "../reply.js";
import { stringCommands } from "./strings.js";
import { b, NOT_INT, session, TestRedis, WRONGTYPE, withHash } from "./test-harness.js";

describe("SET", () => {
  it("refuses conflicting or incomplete options with Redis's errors", () => {
    session(new TestRedis(), [
      ["SET k v NX XX", "ERR syntax error"],
      ["SET k v XX NX", "ERR syntax error"],
      ["SET k v EX 10 PX 10", "ERR syntax error"],
      ["SET k v EXAT 10 PXAT 10", "ERR syntax error"],
      ["SET k v EX 10 KEEPTTL", "ERR syntax error"],
      ["SET k v KEEPTTL PX 10", "ERR syntax error"],
      ["SET k v EX", "ERR syntax error"],
      ["SET k v foo", "ERR syntax error"],
      ["SET k v PERSIST", "ERR syntax error"],
      ["SET k v EX 0", "ERR invalid expire time in 'set' command"],
      ["SET k v EX -1", "ERR invalid expire time in 'set' command"],
      ["SET k v PX 0", "ERR invalid expire time in 'set' command"],
      ["SET k v EX abc", NOT_INT],
      ["SET k v EX 9223372036854775807", "ERR invalid expire time in 'set' command"],
      ["SET k v EX 9223372036854775", "ERR invalid expire time in 'set' command"],
      ["SET k v PX 9223372036854775807", "ERR invalid expire time in 'set' command"],
      ["SET k v EXAT 9223372036854775807", "ERR invalid expire time in 'set' command"],
      ["EXISTS k", "(integer) 0"],
    ]);
  });

  it("accepts repeated options (the last expiry wins) in any case", () => {
    const redis = new TestRedis();
    session(redis, [
      ["set k v nx nx", "OK"],
      ["set k v keepttl keepttl", "OK"],
      ["set k v ex 10 ex 20", "OK"],
      ["TTL k", "(integer) 20"],
      ["SET k v Px 1500", "OK"],
      ["PTTL k", "(integer) 1500"],
    ]);
  });

  it("sets with NX, XX and GET, reading the old value before the condition", () => {
    session(new TestRedis(), [
      ["SET k v XX", "(nil)"],
      ["SET k v NX GET", "(nil)"],
      ["SET k v2 NX GET", '"v"'],
      ["SET k v2 NX", "(nil)"],
      ["GET k", '"v"'],
      ["SET k v3 XX GET", '"v"'],
      ["SET k v4 GET GET", '"v3"'],
      ["SET k v5", "OK"],
      ["GET k", '"v5"'],
      ["SET absent v XX GET", "(nil)"],
      ["EXISTS absent", "(integer) 0"],
    ]);
  });

  it("answers WRONGTYPE for GET of a hash, and otherwise replaces any type", () => {
    session(withHash(), [
      ["SET h v GET", WRONGTYPE],
      ["SET h v XX GET", WRONGTYPE],
      ["TYPE h", "hash"],
      ["SET h v NX", "(nil)"],
      ["SET h v", "OK"],
      ["TYPE h", "string"],
    ]);
  });

  it("sets, keeps and clears expiries across time", () => {
    const redis = new TestRedis();
    session(redis, [
      ["SET k v EX 10", "OK"],
      ["SET k v2 KEEPTTL", "OK"],
      ["PTTL k", "(integer) 10000"],
      ["SET k v3", "OK"],
      ["TTL k", "(integer) -1"],
      ["SET k v PXAT 1000500", "OK"],
      ["PEXPIRETIME k", "(integer) 1000500"],
      ["SET k v EXAT 1001", "OK"],
      ["EXPIRETIME k", "(integer) 1001"],
    ]);
    redis.nowMs = 1_001_000;
    session(redis, [
      ["GET k", "(nil)"],
      // An absolute time already past deletes the key; GET still answers the old value.
      ["SET k v", "OK"],
      ["SET k v2 EXAT 1 GET", '"v"'],
      ["EXISTS k", "(integer) 0"],
      ["SET k v PXAT 1001000", "OK"],
      ["EXISTS k", "(integer) 0"],
    ]);
  });

  it("clamps absurd expiries to 2^53-1 ms (a documented difference)", () => {
    session(new TestRedis(), [
      ["SET k v PXAT 9223372036854775807", "OK"],
      ["PEXPIRETIME k", `(integer) ${Number.MAX_SAFE_INTEGER}`],
    ]);
  });
});

describe("SETNX, SETEX, PSETEX, GETSET, GETDEL", () => {
  it("behave like Redis", () => {
    session(withHash(), [
      ["SETNX a 1", "(integer) 1"],
      ["SETNX a 2", "(integer) 0"],
      ["SETNX h 2", "(integer) 0"],
      ["GET a", '"1"'],
      ["SETEX k 0 v", "ERR invalid expire time in 'setex' command"],
      ["SETEX k abc v", NOT_INT],
      ["SETEX k 9223372036854775807 v", "ERR invalid expire time in 'setex' command"],
      ["PSETEX k -5 v", "ERR invalid expire time in 'psetex' command"],
      ["SETEX k 10 v", "OK"],
      ["TTL k", "(integer) 10"],
      ["PSETEX k 2500 v2", "OK"],
      ["PTTL k", "(integer) 2500"],
      ["GET k", '"v2"'],
      ["GETSET k v3", '"v2"'],
      ["TTL k", "(integer) -1"],
      ["GETSET nosuch x", "(nil)"],
      ["GETSET h v", WRONGTYPE],
      ["GETDEL k", '"v3"'],
      ["GETDEL k", "(nil)"],
      ["EXISTS k", "(integer) 0"],
      ["GETDEL h", WRONGTYPE],
      ["GET h", WRONGTYPE],
    ]);
  });
});

describe("GETEX", () => {
  it("checks options, then the key, then the expiry", () => {
    session(withHash(), [
      ["GETEX nosuch ex 0", "(nil)"],
      ["GETEX nosuch ex abc", "(nil)"],
      ["GETEX nosuch foo", "ERR syntax error"],
      ["GETEX h", WRONGTYPE],
      ["SET k v", "OK"],
      ["GETEX k foo", "ERR syntax error"],
      ["GETEX k ex", "ERR syntax error"],
      ["GETEX k persist ex 10", "ERR syntax error"],
      ["GETEX k ex 10 persist", "ERR syntax error"],
      ["GETEX k ex 10 px 10", "ERR syntax error"],
      ["GETEX k nx", "ERR syntax error"],
      ["GETEX k keepttl", "ERR syntax error"],
      ["GETEX k ex 0", "ERR invalid expire time in 'getex' command"],
      ["GETEX k ex abc", NOT_INT],
      ["GETEX k persist persist", '"v"'],
    ]);
  });

  it("sets, removes and applies expiries", () => {
    const redis = new TestRedis();
    session(redis, [
      ["SET k v", "OK"],
      ["GETEX k", '"v"'],
      ["TTL k", "(integer) -1"],
      ["GETEX k EX 100", '"v"'],
      ["TTL k", "(integer) 100"],
      ["GETEX k PX 50", '"v"'],
      ["PTTL k", "(integer) 50"],
      ["GETEX k EXAT 2000", '"v"'],
      ["EXPIRETIME k", "(integer) 2000"],
      ["GETEX k PXAT 1500000", '"v"'],
      ["PEXPIRETIME k", "(integer) 1500000"],
      ["GETEX k PERSIST", '"v"'],
      ["TTL k", "(integer) -1"],
      ["GETEX k PXAT 1", '"v"'],
      ["EXISTS k", "(integer) 0"],
    ]);
  });

  it("does not write when PERSIST finds no expiry (the key's revision stays)", () => {
    const redis = new TestRedis();
    redis.run("SET k v");
    const before = redis.sm.records.get(keyId(b("k")))?.modRevision;
    redis.run("GETEX k PERSIST");
    assert.equal(redis.sm.records.get(keyId(b("k")))?.modRevision, before);
  });
});

describe("MGET, MSET, MSETNX", () => {
  it("behave like Redis", () => {
    session(withHash(), [
      ["MSET a 1 b", "ERR wrong number of arguments for 'mset' command"],
      ["MSETNX a 1 b", "ERR wrong number of arguments for 'msetnx' command"],
      ["MSET a 1 b 2", "OK"],
      ["MGET a h nosuch b", '["1", (nil), (nil), "2"]'],
      ["MSETNX a 1 c 3", "(integer) 0"],
      ["EXISTS c", "(integer) 0"],
      ["MSETNX e 1 h 2", "(integer) 0"],
      ["MSETNX c 3 d 4", "(integer) 1"],
      ["MGET c d", '["3", "4"]'],
      ["MSETNX x 1 x 2", "(integer) 1"],
      ["GET x", '"2"'],
      ["MSET a 9 a 10", "OK"],
      ["GET a", '"10"'],
    ]);
  });

  it("MSET clears expiries", () => {
    session(new TestRedis(), [
      ["SET a 1 EX 100", "OK"],
      ["MSET a 2", "OK"],
      ["TTL a", "(integer) -1"],
    ]);
  });
});

describe("APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE", () => {
  it("APPEND and STRLEN", () => {
    session(withHash(), [
      ["APPEND h x", WRONGTYPE],
      ["STRLEN h", WRONGTYPE],
      ["STRLEN s", "(integer) 0"],
      ["APPEND s abc", "(integer) 3"],
      ["APPEND s def", "(integer) 6"],
      ["STRLEN s", "(integer) 6"],
      ["GET s", '"abcdef"'],
      ["EXPIRE s 100", "(integer) 1"],
      ["APPEND s g", "(integer) 7"],
      ["TTL s", "(integer) 100"],
    ]);
  });

  it("GETRANGE and SUBSTR, negative and out-of-range bounds", () => {
    session(withHash(), [
      ["SET s hello", "OK"],
      ["GETRANGE s 0 -1", '"hello"'],
      ["GETRANGE s -3 -1", '"llo"'],
      ["GETRANGE s -1 -3", '""'],
      ["GETRANGE s 3 1", '""'],
      ["GETRANGE s 10 20", '""'],
      ["GETRANGE s -100 100", '"hello"'],
      ["GETRANGE s 0 0", '"h"'],
      ["GETRANGE s -9223372036854775808 9223372036854775807", '"hello"'],
      ["GETRANGE s 0 abc", NOT_INT],
      ["GETRANGE s 0 9223372036854775808", NOT_INT],
      ["GETRANGE nosuch 0 1", '""'],
      ["GETRANGE h 0 1", WRONGTYPE],
      ["GETRANGE h 0 x", NOT_INT],
      ["SUBSTR s 1 2", '"el"'],
      [["SET", "e", ""], "OK"],
      ["GETRANGE e 0 -1", '""'],
    ]);
  });

  it("SETRANGE pads with zero bytes, keeps the TTL, and refuses bad offsets", () => {
    const redis = withHash();
    session(redis, [
      ["SETRANGE s -1 x", "ERR offset is out of range"],
      ["SETRANGE s abc x", NOT_INT],
      [["SETRANGE", "nosuch", "5", ""], "(integer) 0"],
      ["EXISTS nosuch", "(integer) 0"],
      ["SET s hello", "OK"],
      [["SETRANGE", "s", "100", ""], "(integer) 5"],
      ["SETRANGE s 7 xy", "(integer) 9"],
      ["GET s", JSON.stringify("hello\0\0xy")],
      ["SETRANGE s 1 EL", "(integer) 9"],
      ["GETRANGE s 0 4", '"hELlo"'],
      ["SETRANGE h 0 x", WRONGTYPE],
      ["SETRANGE h -1 x", "ERR offset is out of range"],
      ["SETRANGE s 536870912 x", "TOO_LARGE value is longer than 16777216 bytes (shoal-value-max-bytes)"],
      ["SETRANGE s 9223372036854775807 x", "TOO_LARGE value is longer than 16777216 bytes (shoal-value-max-bytes)"],
      [["SETRANGE", "nosuch", "536870912", ""], "(integer) 0"],
      ["SETRANGE fresh 2 ab", "(integer) 4"],
      ["GET fresh", JSON.stringify("\0\0ab")],
      ["EXPIRE fresh 100", "(integer) 1"],
      ["SETRANGE fresh 0 z", "(integer) 4"],
      ["TTL fresh", "(integer) 100"],
    ]);
  });
});

describe("INCR, DECR, INCRBY, DECRBY", () => {
  it("count in int64 exactly, keeping the TTL", () => {
    session(new TestRedis(), [
      ["INCR n", "(integer) 1"],
      ["INCRBY n 41", "(integer) 42"],
      ["DECR n", "(integer) 41"],
      ["DECRBY n 50", "(integer) -9"],
      ["EXPIRE n 100", "(integer) 1"],
      ["INCR n", "(integer) -8"],
      ["TTL n", "(integer) 100"],
      ["SET big 9223372036854775806", "OK"],
      ["INCR big", "(integer) 9223372036854775807"],
      ["GET big", '"9223372036854775807"'],
      ["INCR big", "ERR increment or decrement would overflow"],
      ["SET small -9223372036854775807", "OK"],
      ["DECR small", "(integer) -9223372036854775808"],
      ["DECR small", "ERR increment or decrement would overflow"],
      ["INCRBY small 9223372036854775807", "(integer) -1"],
      ["DECRBY small -9223372036854775808", "ERR decrement would overflow"],
      ["DECRBY nosuch -9223372036854775808", "ERR decrement would overflow"],
      ["DECRBY nosuch -9223372036854775807", "(integer) 9223372036854775807"],
    ]);
  });

  it("answers big results as exact bigints", () => {
    const redis = new TestRedis();
    redis.run("SET big 9223372036854775806");
    assert.deepEqual(redis.reply("INCR big"), integer(9223372036854775807n));
  });

  it("refuses values and increments that are not int64s", () => {
    session(withHash(), [
      ["INCRBY n abc", NOT_INT],
      ["INCRBY n 9223372036854775808", NOT_INT],
      ["INCRBY n 1.5", NOT_INT],
      ["INCRBY h abc", NOT_INT],
      ["INCR h", WRONGTYPE],
      ["DECRBY h 1", WRONGTYPE],
      [["SET", "s", " 1"], "OK"],
      ["INCR s", NOT_INT],
      ["SET s 01", "OK"],
      ["INCR s", NOT_INT],
      ["SET s +1", "OK"],
      ["INCR s", NOT_INT],
      [["SET", "s", ""], "OK"],
      ["INCR s", NOT_INT],
      ["SET s 9223372036854775808", "OK"],
      ["INCR s", NOT_INT],
      ["GET s", '"9223372036854775808"'],
    ]);
  });
});

describe("INCRBYFLOAT", () => {
  it("adds, prints like Redis and keeps the TTL", () => {
    session(new TestRedis(), [
      ["SET n 5", "OK"],
      ["EXPIRE n 100", "(integer) 1"],
      ["INCRBYFLOAT n 1.5", '"6.5"'],
      ["TTL n", "(integer) 100"],
      ["GET n", '"6.5"'],
      ["INCRBYFLOAT nf 3.0e3", '"3000"'],
      ["INCRBYFLOAT nf2 -0", '"0"'],
      ["INCRBYFLOAT nf4 0x10", '"16"'],
    ]);
  });

  // Redis answers "10.6" (long double, %.17Lf); float-format.ts prints the shortest round-trip double.
  it("prints 10.5 + 0.1 as 10.6", () => {
    session(new TestRedis(), [
      ["SET f 10.50", "OK"],
      ["INCRBYFLOAT f 0.1", '"10.6"'],
    ]);
  });

  it("refuses non-floats, NaN and infinity with Redis's errors, type first", () => {
    session(withHash(), [
      ["INCRBYFLOAT h abc", WRONGTYPE],
      ["INCRBYFLOAT h 1", WRONGTYPE],
      ["INCRBYFLOAT n abc", "ERR value is not a valid float"],
      ["INCRBYFLOAT n inf", "ERR increment would produce NaN or Infinity"],
      ["INCRBYFLOAT n 1e", "ERR value is not a valid float"],
      [["INCRBYFLOAT", "n", " 1"], "ERR value is not a valid float"],
      ["SET f inf", "OK"],
      ["INCRBYFLOAT f 1", "ERR increment would produce NaN or Infinity"],
      [["SET", "e", ""], "OK"],
      ["INCRBYFLOAT e 1", "ERR value is not a valid float"],
      [["SET", "sp", "1 "], "OK"],
      ["INCRBYFLOAT sp 1", "ERR value is not a valid float"],
      ["EXISTS n", "(integer) 0"],
    ]);
  });
});

describe("the string table", () => {
  it("reads without writing: every readonly command runs on the read-only path", () => {
    const redis = withHash();
    redis.run("SET s hello");
    assert.equal(redis.read("GET s"), '"hello"');
    assert.equal(redis.read("GET h"), WRONGTYPE);
    assert.equal(redis.read("MGET s h x"), '["hello", (nil), (nil)]');
    assert.equal(redis.read("STRLEN s"), "(integer) 5");
    assert.equal(redis.read("GETRANGE s 1 2"), '"el"');
    assert.equal(redis.read("SUBSTR s 1 2"), '"el"');
    assert.throws(() => redis.read("SET s x"), /read-only command tried to write/);
  });

  it("flags each command as exactly one of write and readonly", () => {
    const readonly = new Set(["get", "mget", "strlen", "getrange", "substr"]);
    for (const spec of stringCommands) {
      const expected = readonly.has(spec.name) ? "readonly" : "write";
      assert.ok(spec.flags.includes(expected), spec.name);
      assert.ok(!spec.flags.includes(expected === "write" ? "readonly" : "write"), spec.name);
    }
    assert.equal(stringCommands.length, 21);
  });

  it("checks arity through the table", () => {
    session(new TestRedis(), [
      ["GETEX", "ERR wrong number of arguments for 'getex' command"],
      ["SETEX k 10", "ERR wrong number of arguments for 'setex' command"],
      ["MSET a", "ERR wrong number of arguments for 'mset' command"],
    ]);
  });
});
