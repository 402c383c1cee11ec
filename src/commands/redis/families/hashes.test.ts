/**
 * The hash commands against redis-server 7.0.15's answers (each expectation was checked with redis-cli on a
 * listpack-encoded hash). Replies are rendered as the test harness renders them (errors with their prefix,
 * maps as {field: value}); a few raw replies are compared whole where the reply's kind matters.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { keyId } from "../../../lib/bytes.js";
import { Prng } from "../../../lib/prng.js";
import { encodeHash } from "../../keyspace/hash-value.js";
import { MapStateMachine } from "../../testing/map-state-machine.js";
import { executeCommands } from "../execute.js";
import { array, bulk, NULL, type Reply } from "../reply.js";
import { DATA_COMMAND_TABLE } from "../table.js";
import { RANDOM_FIELDS_WITH_REPEATS_MAX } from "./hashes.js";
import { b, type Line, NOT_INT, session, TestRedis, toArgv, WRONGTYPE } from "./test-harness.js";

/** Read-only steps: the commands run without a write set, so a handler that writes would assert. */
function readSession(redis: TestRedis, steps: readonly (readonly [Line, string])[]): void {
  for (const [line, expected] of steps) assert.equal(redis.read(line), expected, `${line}`);
}

/** A hash `h` with fields a..e = 1..5 and a string `s`. */
function fiveFields(): TestRedis {
  const redis = new TestRedis();
  session(redis, [
    ["HSET h a 1 b 2 c 3 d 4 e 5", "(integer) 5"],
    ["SET s v", "OK"],
  ]);
  return redis;
}

function record(redis: TestRedis, key: string) {
  return redis.sm.records.get(keyId(b(key)));
}

describe("hash command table", () => {
  // redis-server 7.0.15: COMMAND INFO <name> (arity, flags, first/last/step).
  const expected: readonly [string, number, string][] = [
    ["hset", -4, "write denyoom fast"],
    ["hget", 3, "readonly fast"],
    ["hmget", -3, "readonly fast"],
    ["hmset", -4, "write denyoom fast"],
    ["hdel", -3, "write fast"],
    ["hgetall", 2, "readonly"],
    ["hkeys", 2, "readonly"],
    ["hvals", 2, "readonly"],
    ["hlen", 2, "readonly fast"],
    ["hexists", 3, "readonly fast"],
    ["hstrlen", 3, "readonly fast"],
    ["hincrby", 4, "write denyoom fast"],
    ["hincrbyfloat", 4, "write denyoom fast"],
    ["hsetnx", 4, "write denyoom fast"],
    ["hrandfield", -2, "readonly"],
    ["hscan", -3, "readonly"],
  ];

  it("describes every hash command like COMMAND INFO", () => {
    for (const [name, arity, flags] of expected) {
      const spec = DATA_COMMAND_TABLE.find(name.toUpperCase());
      assert.ok(spec, name);
      assert.equal(spec.name, name);
      assert.equal(spec.arity, arity, name);
      assert.equal(spec.flags.join(" "), flags, name);
      assert.deepEqual(spec.keys, { first: 1, last: 1, step: 1 }, name);
      assert.equal(spec.group, "hash", name);
      assert.ok(spec.handler, name);
    }
  });

  it("answers arity errors from the table", () => {
    session(new TestRedis(), [
      ["HSET h a", "ERR wrong number of arguments for 'hset' command"],
      ["hget h", "ERR wrong number of arguments for 'hget' command"],
      ["HGET h a b", "ERR wrong number of arguments for 'hget' command"],
      ["HRANDFIELD", "ERR wrong number of arguments for 'hrandfield' command"],
      ["HSCAN h", "ERR wrong number of arguments for 'hscan' command"],
      ["HINCRBY h a", "ERR wrong number of arguments for 'hincrby' command"],
    ]);
  });
});

describe("HSET and HMSET", () => {
  it("count new fields; an update keeps the field's place; HDEL closes the gap; re-adding appends", () => {
    session(new TestRedis(), [
      ["HSET h a 1 b 2 c 3", "(integer) 3"],
      ["HSET h b 20 d 4", "(integer) 1"],
      ["HGETALL h", '{"a": "1", "b": "20", "c": "3", "d": "4"}'],
      ["HDEL h a", "(integer) 1"],
      ["HSET h a 9", "(integer) 1"],
      ["HGETALL h", '{"b": "20", "c": "3", "d": "4", "a": "9"}'],
      ["HMSET h a 1", "OK"],
      ["HGETALL h", '{"b": "20", "c": "3", "d": "4", "a": "1"}'],
    ]);
  });

  it("take the last value of a field given twice, and count it once", () => {
    session(new TestRedis(), [
      ["HSET h a 1 a 2", "(integer) 1"],
      ["HGET h a", '"2"'],
      ["HDEL h a a", "(integer) 1"],
      ["EXISTS h", "(integer) 0"],
    ]);
  });

  it("refuse a field without a value by the command's lower-case name, before the type check", () => {
    session(fiveFields(), [
      ["HSET h a 1 b", "ERR wrong number of arguments for 'hset' command"],
      ["hmset h a 1 b", "ERR wrong number of arguments for 'hmset' command"],
      ["HSET s a 1 b", "ERR wrong number of arguments for 'hset' command"],
      ["HSET s a 1", WRONGTYPE],
      ["HMSET s a 1", WRONGTYPE],
      ["HGET h a", '"1"'],
    ]);
  });

  it("store empty and binary fields and values", () => {
    const redis = new TestRedis();
    const binary = new Uint8Array([0, 255, 10, 13, 0]);
    assert.deepEqual(redis.reply(["HSET", "h", "", "", binary, binary]), { kind: "integer", value: 2 });
    session(redis, [
      [["HGET", "h", ""], '""'],
      [["HSTRLEN", "h", ""], "(integer) 0"],
      [["HEXISTS", "h", ""], "(integer) 1"],
      ["HLEN h", "(integer) 2"],
    ]);
    assert.deepEqual(redis.reply(["HGET", "h", binary]), bulk(binary));
    assert.deepEqual(redis.reply(["HKEYS", "h"]), array([bulk(""), bulk(binary)]));
  });

  it("keep the key's TTL (as do HDEL, HINCRBY, HINCRBYFLOAT and HSETNX); the hash expires whole", () => {
    const redis = new TestRedis();
    redis.nowMs = 1000;
    redis.sm.records.set(keyId(b("h")), {
      type: "hash",
      value: encodeHash(new Map([[keyId(b("f")), b("1")]])),
      createRevision: 1,
      modRevision: 1,
      version: 1,
      expiresAtMs: 5000,
    });
    session(redis, [
      ["HSET h g 2", "(integer) 1"],
      ["HDEL h g", "(integer) 1"],
      ["HINCRBY h f 1", "(integer) 2"],
      ["HINCRBYFLOAT h f 0.5", '"2.5"'],
      ["HSETNX h n x", "(integer) 1"],
    ]);
    assert.equal(record(redis, "h")?.expiresAtMs, 5000);
    assert.equal(record(redis, "h")?.version, 6);
    redis.nowMs = 5000;
    session(redis, [
      ["HGETALL h", "{}"],
      ["HLEN h", "(integer) 0"],
      ["HSET h f 1", "(integer) 1"],
    ]);
    assert.equal(record(redis, "h")?.expiresAtMs, 0);
  });
});

describe("HGET, HMGET, HEXISTS, HSTRLEN, HLEN", () => {
  it("read fields, and answer for missing fields and keys like Redis", () => {
    readSession(fiveFields(), [
      ["HGET h a", '"1"'],
      ["HGET h nope", "(nil)"],
      ["HGET nokey a", "(nil)"],
      ["HMGET h a nope b", '["1", (nil), "2"]'],
      ["HMGET nokey a b", "[(nil), (nil)]"],
      ["HEXISTS h a", "(integer) 1"],
      ["HEXISTS h q", "(integer) 0"],
      ["HEXISTS nokey q", "(integer) 0"],
      ["HSTRLEN h a", "(integer) 1"],
      ["HSTRLEN h nope", "(integer) 0"],
      ["HSTRLEN nokey a", "(integer) 0"],
      ["HLEN h", "(integer) 5"],
      ["HLEN nokey", "(integer) 0"],
    ]);
  });

  it("answer WRONGTYPE for a string key", () => {
    readSession(fiveFields(), [
      ["HGET s a", WRONGTYPE],
      ["HMGET s a", WRONGTYPE],
      ["HEXISTS s a", WRONGTYPE],
      ["HSTRLEN s a", WRONGTYPE],
      ["HLEN s", WRONGTYPE],
      ["HGETALL s", WRONGTYPE],
      ["HKEYS s", WRONGTYPE],
      ["HVALS s", WRONGTYPE],
      ["HRANDFIELD s", WRONGTYPE],
      ["HSCAN s 0", WRONGTYPE],
    ]);
  });
});

describe("HGETALL, HKEYS, HVALS", () => {
  it("answer a map (RESP3 %, RESP2 flat) and arrays in field order", () => {
    const redis = fiveFields();
    session(redis, [["HSET h b 20", "(integer) 0"]]);
    assert.deepEqual(redis.reply("HGETALL h"), {
      kind: "map",
      entries: [
        [bulk("a"), bulk("1")],
        [bulk("b"), bulk("20")],
        [bulk("c"), bulk("3")],
        [bulk("d"), bulk("4")],
        [bulk("e"), bulk("5")],
      ],
    });
    assert.deepEqual(redis.reply("HGETALL nokey"), { kind: "map", entries: [] });
    readSession(redis, [
      ["HKEYS h", '["a", "b", "c", "d", "e"]'],
      ["HVALS h", '["1", "20", "3", "4", "5"]'],
      ["HKEYS nokey", "[]"],
      ["HVALS nokey", "[]"],
    ]);
  });
});

describe("HDEL", () => {
  it("counts deleted fields, deletes the key with its last field, and answers WRONGTYPE", () => {
    session(fiveFields(), [
      ["HDEL h nope", "(integer) 0"],
      ["HDEL nokey a", "(integer) 0"],
      ["HDEL h c", "(integer) 1"],
      ["HKEYS h", '["a", "b", "d", "e"]'],
      ["HDEL h a b d e zz", "(integer) 4"],
      ["EXISTS h", "(integer) 0"],
      ["HDEL s a", WRONGTYPE],
    ]);
  });

  it("writes nothing when nothing was deleted (WATCH sees no change)", () => {
    const redis = fiveFields();
    const before = record(redis, "h");
    session(redis, [["HDEL h nope other", "(integer) 0"]]);
    assert.equal(record(redis, "h"), before);
  });
});

describe("HINCRBY", () => {
  it("adds in int64 exactly and refuses overflow either way", () => {
    session(new TestRedis(), [
      ["HSET h i 5 big 9223372036854775807 neg -9223372036854775808", "(integer) 3"],
      ["HINCRBY h i 10", "(integer) 15"],
      ["HINCRBY h i -20", "(integer) -5"],
      ["HINCRBY h big 1", "ERR increment or decrement would overflow"],
      ["HINCRBY h big 0", "(integer) 9223372036854775807"],
      ["HINCRBY h neg -1", "ERR increment or decrement would overflow"],
      ["HINCRBY h neg 0", "(integer) -9223372036854775808"],
      ["HINCRBY h new -9223372036854775808", "(integer) -9223372036854775808"],
      ["HINCRBY h new -1", "ERR increment or decrement would overflow"],
      ["HINCRBY h up 9223372036854775806", "(integer) 9223372036854775806"],
      ["HINCRBY h up 1", "(integer) 9223372036854775807"],
      ["HINCRBY h up 1", "ERR increment or decrement would overflow"],
      ["HINCRBY h neg 9223372036854775807", "(integer) -1"],
      ["HGET h up", '"9223372036854775807"'],
      ["HKEYS h", '["i", "big", "neg", "new", "up"]'],
    ]);
  });

  it("answers bigints beyond 2^53 exactly", () => {
    const redis = new TestRedis();
    assert.deepEqual(redis.reply("HINCRBY h f 9007199254740993"), { kind: "integer", value: 9007199254740993n });
  });

  it("refuses hash values that are not strict integers, and bad increments before the type check", () => {
    const redis = new TestRedis();
    session(redis, [
      [["HSET", "h", "f", "1.5", "s", "abc", "z", "007", "sp", " 1", "e", "", "pl", "+1", "m0", "-0"], "(integer) 7"],
      ["SET s v", "OK"],
    ]);
    const version = record(redis, "h")?.version;
    session(redis, [
      ["HINCRBY h f 1", "ERR hash value is not an integer"],
      ["HINCRBY h s 1", "ERR hash value is not an integer"],
      ["HINCRBY h z 1", "ERR hash value is not an integer"],
      ["HINCRBY h sp 1", "ERR hash value is not an integer"],
      ["HINCRBY h e 1", "ERR hash value is not an integer"],
      ["HINCRBY h pl 1", "ERR hash value is not an integer"],
      ["HINCRBY h m0 1", "ERR hash value is not an integer"],
      ["HINCRBY h new 1x", NOT_INT],
      ["HINCRBY h new 9223372036854775808", NOT_INT],
      [["HINCRBY", "h", "new", " 1"], NOT_INT],
      ["HINCRBY h new +1", NOT_INT],
      ["HINCRBY h new 01", NOT_INT],
      ["HINCRBY s x 1", WRONGTYPE],
      ["HINCRBY s f abc", NOT_INT],
      ["HINCRBY nokey f abc", NOT_INT],
      ["EXISTS nokey", "(integer) 0"],
      ["HEXISTS h new", "(integer) 0"],
    ]);
    assert.equal(record(redis, "h")?.version, version, "no failed HINCRBY wrote");
  });
});

describe("HINCRBYFLOAT", () => {
  it("adds and prints like Redis, storing what it prints", () => {
    session(new TestRedis(), [
      [
        ["HSET", "h", "f", "1.5", "hex", "0x10", "exp", "1e3", "dot", ".5", "trail", "1.", "pl", "+2", "i", "5"],
        "(integer) 7",
      ],
      ["HINCRBYFLOAT h f 1", '"2.5"'],
      ["HINCRBYFLOAT h f -2.5", '"0"'],
      ["HINCRBYFLOAT h hex 1", '"17"'],
      ["HGET h hex", '"17"'],
      ["HINCRBYFLOAT h exp 1", '"1001"'],
      ["HINCRBYFLOAT h dot 1", '"1.5"'],
      ["HINCRBYFLOAT h trail 1", '"2"'],
      ["HINCRBYFLOAT h pl 1", '"3"'],
      ["HINCRBYFLOAT h i 0.25", '"5.25"'],
      ["HINCRBYFLOAT h n2 1e20", '"100000000000000000000"'],
      ["HINCRBYFLOAT h n3 1e-20", '"0"'],
      ["HINCRBYFLOAT h n4 3", '"3"'],
      ["HINCRBYFLOAT h n4 -3", '"0"'],
      ["HINCRBYFLOAT h n5 -0.0", '"0"'],
      ["HINCRBYFLOAT h n6 5.0e3", '"5000"'],
      ["HINCRBYFLOAT h n7 2.5e-3", '"0.0025"'],
      ["HINCRBYFLOAT h n8 -7.25", '"-7.25"'],
      ["HINCRBYFLOAT h n9 123456789.125", '"123456789.125"'],
      ["HINCRBYFLOAT h big 9223372036854775807", '"9223372036854775808"'],
      [
        "HKEYS h",
        '["f", "hex", "exp", "dot", "trail", "pl", "i", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "big"]',
      ],
    ]);
  });

  // Redis computes in long double and answers "5.1"; a double printed to 17 places would show its noise.
  it("prints 5 + 0.1 as 5.1", () => {
    session(new TestRedis(), [
      ["HSET h i 5", "(integer) 1"],
      ["HINCRBYFLOAT h i 0.1", '"5.1"'],
    ]);
  });

  it("refuses bad increments and hash values with Redis's errors, in Redis's order", () => {
    const redis = new TestRedis();
    session(redis, [
      [["HSET", "h", "s", "abc", "sp", " 1", "e", "", "inf", "inf", "nan", "nan", "ws", "1 "], "(integer) 6"],
      ["SET s v", "OK"],
    ]);
    const version = record(redis, "h")?.version;
    session(redis, [
      ["HINCRBYFLOAT h s 1", "ERR hash value is not a float"],
      ["HINCRBYFLOAT h sp 1", "ERR hash value is not a float"],
      ["HINCRBYFLOAT h e 1", "ERR hash value is not a float"],
      ["HINCRBYFLOAT h nan 1", "ERR hash value is not a float"],
      ["HINCRBYFLOAT h ws 1", "ERR hash value is not a float"],
      ["HINCRBYFLOAT h inf 1", "ERR increment would produce NaN or Infinity"],
      ["HINCRBYFLOAT h new inf", "ERR value is NaN or Infinity"],
      ["HINCRBYFLOAT h new -inf", "ERR value is NaN or Infinity"],
      ["HINCRBYFLOAT h new nan", "ERR value is not a valid float"],
      ["HINCRBYFLOAT h new abc", "ERR value is not a valid float"],
      [["HINCRBYFLOAT", "h", "new", " 1"], "ERR value is not a valid float"],
      ["HINCRBYFLOAT s x 1", WRONGTYPE],
      ["HINCRBYFLOAT s x abc", "ERR value is not a valid float"],
      ["HINCRBYFLOAT s x inf", "ERR value is NaN or Infinity"],
      ["HINCRBYFLOAT nokey x nan", "ERR value is not a valid float"],
      ["EXISTS nokey", "(integer) 0"],
    ]);
    assert.equal(record(redis, "h")?.version, version, "no failed HINCRBYFLOAT wrote");
  });

  // Deliberate difference (long double vs double): Redis's long double holds 1.7e308 + 1.7e308; a double
  // overflows to Infinity, so we refuse the sum Redis stores.
  it("refuses a sum that overflows a double", () => {
    session(new TestRedis(), [
      ["HINCRBYFLOAT h f 1.7e308", `"${BigInt(1.7e308)}"`],
      ["HINCRBYFLOAT h f 1.7e308", "ERR increment would produce NaN or Infinity"],
    ]);
  });
});

describe("HSETNX", () => {
  it("sets only a missing field, writing nothing otherwise", () => {
    const redis = fiveFields();
    const before = record(redis, "h");
    session(redis, [["HSETNX h a x", "(integer) 0"]]);
    assert.equal(record(redis, "h"), before);
    session(redis, [
      [["HSETNX", "h", "zz", ""], "(integer) 1"],
      ["HKEYS h", '["a", "b", "c", "d", "e", "zz"]'],
      ["HSETNX new f v", "(integer) 1"],
      ["HGETALL new", '{"f": "v"}'],
      ["HSETNX s f v", WRONGTYPE],
    ]);
  });
});

describe("HRANDFIELD", () => {
  it("validates the count and WITHVALUES in Redis's order", () => {
    readSession(fiveFields(), [
      ["HRANDFIELD h 1 foo", "ERR syntax error"],
      ["HRANDFIELD h 1 withvalues x", "ERR syntax error"],
      ["HRANDFIELD h x", NOT_INT],
      ["HRANDFIELD h 9223372036854775808", NOT_INT],
      [
        "HRANDFIELD h -9223372036854775808",
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
      ],
      ["HRANDFIELD h -4611686018427387904 withvalues", "ERR value is out of range"],
      ["HRANDFIELD h 4611686018427387904 withvalues", "ERR value is out of range"],
      ["HRANDFIELD s x", NOT_INT],
      ["HRANDFIELD nokey x", NOT_INT],
      ["HRANDFIELD nokey 1 foo", "ERR syntax error"],
      ["HRANDFIELD s 1 foo", "ERR syntax error"],
      ["HRANDFIELD s 1", WRONGTYPE],
      ["HRANDFIELD s 0", WRONGTYPE],
    ]);
  });

  it("answers nil or an empty array for a missing key, and an empty array for count 0", () => {
    readSession(fiveFields(), [
      ["HRANDFIELD nokey", "(nil)"],
      ["HRANDFIELD nokey 3", "[]"],
      ["HRANDFIELD nokey 0", "[]"],
      ["HRANDFIELD nokey -3 withvalues", "[]"],
      ["HRANDFIELD h 0", "[]"],
      ["HRANDFIELD h 0 withvalues", "[]"],
    ]);
  });

  it("answers the whole hash in order for a count at or above its size", () => {
    readSession(fiveFields(), [
      ["HRANDFIELD h 5", '["a", "b", "c", "d", "e"]'],
      ["HRANDFIELD h 9223372036854775807", '["a", "b", "c", "d", "e"]'],
      ["HRANDFIELD h 10 WithValues", '["a", "1", "b", "2", "c", "3", "d", "4", "e", "5"]'],
    ]);
  });

  it("draws distinct fields (in hash order) for a smaller count, repeats for a negative one", () => {
    const redis = fiveFields();
    const fields = ["a", "b", "c", "d", "e"];
    for (let seed = 0; seed < 50; seed++) {
      redis.seed = seed;
      const one = redis.read("HRANDFIELD h");
      assert.ok(
        fields.some((f) => one === `"${f}"`),
        one,
      );
      const three = JSON.parse(redis.read("HRANDFIELD h 3")) as string[];
      assert.equal(three.length, 3);
      assert.equal(new Set(three).size, 3);
      assert.deepEqual(three, [...three].sort(), "hash order");
      const pairs = JSON.parse(redis.read("HRANDFIELD h 2 withvalues")) as string[];
      assert.equal(pairs.length, 4);
      assert.equal(pairs[1], String(fields.indexOf(pairs[0] as string) + 1));
      assert.equal(pairs[3], String(fields.indexOf(pairs[2] as string) + 1));
      const repeats = JSON.parse(redis.read("HRANDFIELD h -8")) as string[];
      assert.equal(repeats.length, 8);
      assert.ok(repeats.every((f) => fields.includes(f)));
      const repeatPairs = JSON.parse(redis.read("HRANDFIELD h -3 withvalues")) as string[];
      assert.equal(repeatPairs.length, 6);
    }
  });

  it("is deterministic for a seed and covers every field across seeds", () => {
    const redis = fiveFields();
    const seen = new Set<string>();
    for (let seed = 0; seed < 200; seed++) {
      redis.seed = seed;
      const first = redis.read("HRANDFIELD h -20 withvalues");
      assert.equal(redis.read("HRANDFIELD h -20 withvalues"), first);
      for (const f of JSON.parse(redis.read("HRANDFIELD h 2")) as string[]) seen.add(f);
    }
    assert.equal(seen.size, 5);
    // The same entry (same revision and time) draws the same on every replica.
    const replica = (): Reply[] => {
      const sm = new MapStateMachine();
      sm.apply({ op: "redis", nowMs: 1, argvs: [toArgv("HSET h a 1 b 2 c 3 d 4 e 5")] });
      const result = sm.apply({ op: "redis", nowMs: 2, argvs: [toArgv("HRANDFIELD h -10"), toArgv("HRANDFIELD h 2")] });
      assert.equal(result.kind, "redis");
      return result.kind === "redis" ? [...result.replies] : [];
    };
    assert.deepEqual(replica(), replica());
  });

  it("draws uniformly enough", () => {
    const redis = fiveFields();
    redis.seed = 42;
    const counts = new Map<string, number>();
    for (const f of JSON.parse(redis.read("HRANDFIELD h -5000")) as string[]) counts.set(f, (counts.get(f) ?? 0) + 1);
    for (const f of ["a", "b", "c", "d", "e"]) {
      const n = counts.get(f) ?? 0;
      assert.ok(n > 850 && n < 1150, `${f}: ${n}`);
    }
  });

  // Deliberate difference: redis-server 7.0.15 tries to build any negative count's reply (and dies of it).
  it("refuses more draws with repeats than a reply may hold", () => {
    readSession(fiveFields(), [
      [
        `HRANDFIELD h -${RANDOM_FIELDS_WITH_REPEATS_MAX + 1}`,
        `ERR value is out of range, Shoal draws at most ${RANDOM_FIELDS_WITH_REPEATS_MAX} fields with repeats`,
      ],
      [
        "HRANDFIELD h -9223372036854775807",
        `ERR value is out of range, Shoal draws at most 1048576 fields with repeats`,
      ],
    ]);
  });

  it("answers a single field as a bulk string, and nil through the raw reply", () => {
    const redis = new TestRedis();
    session(redis, [["HSET h only 1", "(integer) 1"]]);
    const [one, none] = executeCommands(redis.sm, undefined, [toArgv("HRANDFIELD h"), toArgv("HRANDFIELD x")], {
      nowMs: redis.nowMs,
      revision: 1,
      random: new Prng(1),
      cursors: redis.cursors,
    });
    assert.deepEqual(one, bulk("only"));
    assert.deepEqual(none, NULL);
  });
});

describe("HSCAN", () => {
  function scanFixture(): TestRedis {
    const redis = new TestRedis();
    session(redis, [
      ["HSET h2 foo 1 bar 2 fab 3", "(integer) 3"],
      ["HSET g foo 1 fao 2 fbo 3 bar 4 f*x 5", "(integer) 5"],
      ["SET s v", "OK"],
    ]);
    return redis;
  }

  it("answers every matching field with cursor 0, whatever cursor and COUNT", () => {
    readSession(scanFixture(), [
      ["HSCAN h2 0", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 99 MATCH f*", '["0", ["foo", "1", "fab", "3"]]'],
      ["HSCAN h2 0 match f* count 1", '["0", ["foo", "1", "fab", "3"]]'],
      ["HSCAN h2 -1", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 +1", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 01", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 18446744073709551615", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      [["HSCAN", "h2", ""], '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 0 COUNT 9223372036854775807", '["0", ["foo", "1", "bar", "2", "fab", "3"]]'],
      ["HSCAN h2 0 match * match b*", '["0", ["bar", "2"]]'],
      ["HSCAN g 0 match f[ao]o", '["0", ["foo", "1", "fao", "2"]]'],
      ["HSCAN g 0 match f\\*x", '["0", ["f*x", "5"]]'],
      ["HSCAN g 0 match *o COUNT 1", '["0", ["foo", "1", "fao", "2", "fbo", "3"]]'],
      ["HSCAN g 0 MATCH *", '["0", ["foo", "1", "fao", "2", "fbo", "3", "bar", "4", "f*x", "5"]]'],
      ["HSCAN g 0 MATCH nothing", '["0", []]'],
    ]);
  });

  it("rejects invalid cursors and options like Redis, reading options only for an existing hash", () => {
    readSession(scanFixture(), [
      ["HSCAN h2 0 COUNT 0", "ERR syntax error"],
      ["HSCAN h2 0 COUNT -1", "ERR syntax error"],
      ["HSCAN h2 0 COUNT x", NOT_INT],
      ["HSCAN h2 0 COUNT 9223372036854775808", NOT_INT],
      ["HSCAN h2 0 COUNT", "ERR syntax error"],
      ["HSCAN h2 0 MATCH", "ERR syntax error"],
      ["HSCAN h2 0 foo bar", "ERR syntax error"],
      ["HSCAN h2 0 COUNT 0 MATCH x", "ERR syntax error"],
      ["HSCAN h2 0 TYPE string", "ERR syntax error"],
      ["HSCAN h2 abc", "ERR invalid cursor"],
      [["HSCAN", "h2", " 1"], "ERR invalid cursor"],
      [["HSCAN", "h2", "1 "], "ERR invalid cursor"],
      ["HSCAN h2 18446744073709551616", "ERR invalid cursor"],
      ["HSCAN h2 -", "ERR invalid cursor"],
      ["HSCAN nokey 0 COUNT 0", '["0", []]'],
      ["HSCAN nokey 0 NOVALUES", '["0", []]'],
      ["HSCAN nokey x", "ERR invalid cursor"],
      ["HSCAN s 0 COUNT 0", WRONGTYPE],
      ["HSCAN s x", "ERR invalid cursor"],
    ]);
  });
});

describe("hashes against a Map model (property)", () => {
  type Op =
    | { readonly op: "hset"; readonly pairs: readonly (readonly [string, string])[] }
    | { readonly op: "hdel"; readonly fields: readonly string[] }
    | { readonly op: "hincrby"; readonly field: string; readonly by: bigint };

  const field = fc.constantFrom("a", "b", "c", "d", "e", "f", "", "\u00e9", "x y");
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({
      op: fc.constant("hset" as const),
      pairs: fc.array(fc.tuple(field, fc.oneof(fc.string({ maxLength: 4 }), fc.bigInt().map(String))), {
        minLength: 1,
        maxLength: 4,
      }),
    }),
    fc.record({ op: fc.constant("hdel" as const), fields: fc.array(field, { minLength: 1, maxLength: 3 }) }),
    fc.record({
      op: fc.constant("hincrby" as const),
      field,
      by: fc.oneof(fc.bigInt({ min: -10n, max: 10n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n })),
    }),
  );

  /** The model: an insertion-ordered Map with Redis's rules spelled out directly, and whether the hash has left
   * the compact encoding (a value over 64 bytes; it never returns), after which its order is the store's own. */
  interface Model {
    readonly fields: Map<string, string>;
    table: boolean;
  }

  function applyModel(model: Model, step: Op): string {
    switch (step.op) {
      case "hset": {
        let added = 0;
        for (const [f, v] of step.pairs) {
          if (!model.fields.has(f)) added++;
          model.fields.set(f, v);
          if (new TextEncoder().encode(v).byteLength > 64) model.table = true;
        }
        return `(integer) ${added}`;
      }
      case "hdel": {
        let deleted = 0;
        for (const f of step.fields) if (model.fields.delete(f)) deleted++;
        if (model.fields.size === 0) model.table = false; // the key is gone; a new one starts compact
        return `(integer) ${deleted}`;
      }
      case "hincrby": {
        const current = model.fields.get(step.field) ?? "0";
        if (!/^(0|-?[1-9][0-9]*)$/.test(current) || BigInt(current) < -(2n ** 63n) || BigInt(current) >= 2n ** 63n) {
          return "ERR hash value is not an integer";
        }
        const sum = BigInt(current) + step.by;
        if (sum < -(2n ** 63n) || sum >= 2n ** 63n) return "ERR increment or decrement would overflow";
        model.fields.set(step.field, String(sum));
        return `(integer) ${sum}`;
      }
    }
  }

  function toLine(step: Op): Line {
    switch (step.op) {
      case "hset":
        return ["HSET", "h", ...step.pairs.flat()];
      case "hdel":
        return ["HDEL", "h", ...step.fields];
      case "hincrby":
        return ["HINCRBY", "h", step.field, String(step.by)];
    }
  }

  it("HGETALL answers the model's fields, in the model's order while compact, after every step", () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 30 }), (steps) => {
        const redis = new TestRedis();
        const model: Model = { fields: new Map(), table: false };
        for (const step of steps) {
          assert.equal(
            redis.run(toLine(step)),
            applyModel(model, step),
            JSON.stringify(step, (_, v) => (typeof v === "bigint" ? String(v) : v)),
          );
          const reply = redis.reply("HGETALL h");
          assert.ok(reply.kind === "map");
          const expected = [...model.fields].map(([f, v]) => [bulk(f), bulk(v)] as const);
          const byField = (a: readonly [Reply, Reply], z: readonly [Reply, Reply]): number =>
            JSON.stringify(a[0]) < JSON.stringify(z[0]) ? -1 : 1;
          if (model.table) assert.deepEqual([...reply.entries].sort(byField), expected.sort(byField));
          else assert.deepEqual(reply.entries, expected);
          assert.equal(redis.run("EXISTS h"), `(integer) ${model.fields.size > 0 ? 1 : 0}`);
          assert.equal(redis.run("HLEN h"), `(integer) ${model.fields.size}`);
        }
      }),
      { numRuns: 300 },
    );
  });
});
