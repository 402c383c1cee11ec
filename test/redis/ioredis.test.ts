/**
 * End-to-end: ioredis against a real 3-node Shoal cluster (child processes, one RESP port per node). Every
 * command family of issue #4, a 10,000-command pipeline, MULTI/EXEC atomicity and WATCH conflicts, expiry,
 * pub/sub across nodes, linearizable reads across nodes, and Redis's exact error texts.
 * ioredis 6 connects with HELLO 3 (RESP3, replies mapped back to RESP2 shapes); one test repeats a command mix
 * over `protocol: 2` and expects identical replies.
 * SHOAL_REDIS_TARGET=redis-server runs the same tests against a real redis-server (see target.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { Redis } from "ioredis";
import { assertReplyError, connectIoredis, disconnectAll } from "./ioredis-client.js";
import { eventually, missingPrerequisite, NODE_IDS, type RedisTarget, startTarget } from "./target.js";

const WRONGTYPE = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_AN_INTEGER = "ERR value is not an integer or out of range";

describe("ioredis against a 3-node cluster", { timeout: 240_000, skip: missingPrerequisite() }, () => {
  let target: RedisTarget;
  /** One client per node: node(1), node(2), node(3). */
  let clients: Redis[] = [];
  const node = (id: number): Redis => clients[id - 1] as Redis;

  before(async () => {
    target = await startTarget();
    clients = NODE_IDS.map((id) => connectIoredis(target.port(id)));
    await Promise.all(clients.map((client) => client.ping()));
  });
  after(async () => {
    disconnectAll(clients);
    await target?.stop();
  });

  describe("strings", () => {
    test("SET and GET, with NX, XX and GET", async () => {
      const c = node(1);
      assert.equal(await c.set("s:plain", "v1"), "OK");
      assert.equal(await c.get("s:plain"), "v1");
      assert.equal(await c.get("s:missing"), null);
      assert.equal(await c.set("s:plain", "v2", "NX"), null);
      assert.equal(await c.set("s:fresh", "f", "NX"), "OK");
      assert.equal(await c.set("s:absent", "x", "XX"), null);
      assert.equal(await c.exists("s:absent"), 0);
      assert.equal(await c.set("s:plain", "v3", "XX"), "OK");
      assert.equal(await c.set("s:plain", "v4", "GET"), "v3");
      assert.equal(await c.set("s:never", "n", "GET"), null);
      assert.equal(await c.get("s:plain"), "v4");
      assert.equal(await c.get("s:never"), "n");
      await assertReplyError(c.call("SET", "s:plain", "v", "NX", "XX"), "ERR syntax error");
    });

    test("SET with EX, PX and KEEPTTL; SETEX, PSETEX, SETNX", async () => {
      const c = node(2);
      assert.equal(await c.set("s:ex", "v", "EX", 100), "OK");
      assertBetween(await c.ttl("s:ex"), 99, 100);
      assert.equal(await c.set("s:ex", "w", "KEEPTTL"), "OK");
      assertBetween(await c.ttl("s:ex"), 98, 100);
      assert.equal(await c.get("s:ex"), "w");
      assert.equal(await c.set("s:ex", "x"), "OK");
      assert.equal(await c.ttl("s:ex"), -1, "a plain SET clears the TTL");
      assert.equal(await c.set("s:px", "v", "PX", 50_000), "OK");
      assertBetween(await c.pttl("s:px"), 40_000, 50_000);
      assert.equal(await c.setex("s:setex", 60, "a"), "OK");
      assertBetween(await c.ttl("s:setex"), 59, 60);
      assert.equal(await c.psetex("s:psetex", 60_000, "b"), "OK");
      assertBetween(await c.pttl("s:psetex"), 50_000, 60_000);
      assert.equal(await c.setnx("s:setnx", "1"), 1);
      assert.equal(await c.setnx("s:setnx", "2"), 0);
      assert.equal(await c.get("s:setnx"), "1");
      await assertReplyError(c.call("SET", "s:ex", "v", "EX", "0"), "ERR invalid expire time in 'set' command");
      await assertReplyError(c.call("SET", "s:ex", "v", "EX", "ten"), NOT_AN_INTEGER);
    });

    test("MGET, MSET, MSETNX", async () => {
      const c = node(3);
      assert.equal(await c.mset("m:a", "1", "m:b", "2"), "OK");
      assert.deepEqual(await c.mget("m:a", "m:b", "m:none"), ["1", "2", null]);
      assert.equal(await c.msetnx("m:a", "x", "m:c", "y"), 0);
      assert.equal(await c.exists("m:c"), 0, "MSETNX sets nothing when one key exists");
      assert.equal(await c.msetnx("m:c", "3", "m:d", "4"), 1);
      assert.deepEqual(await c.mget("m:a", "m:b", "m:c", "m:d"), ["1", "2", "3", "4"]);
      await assertReplyError(c.call("MSET", "m:a", "1", "m:b"), "ERR wrong number of arguments for 'mset' command");
    });

    test("INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT", async () => {
      const c = node(1);
      assert.equal(await c.incr("n:counter"), 1);
      assert.equal(await c.incrby("n:counter", 10), 11);
      assert.equal(await c.decr("n:counter"), 10);
      assert.equal(await c.decrby("n:counter", 3), 7);
      assert.equal(await c.incrby("n:counter", -10), -3);
      assert.equal(await c.get("n:counter"), "-3");
      assert.equal(await c.set("n:float", "10.50"), "OK");
      assert.equal(await c.incrbyfloat("n:float", 0.1), "10.6");
      assert.equal(await c.incrbyfloat("n:float", -5), "5.6");
      assert.equal(await c.set("n:float", "5.0e3"), "OK");
      assert.equal(await c.call("INCRBYFLOAT", "n:float", "2.0e2"), "5200");
      assert.equal(await c.set("n:max", "9223372036854775807"), "OK");
      await assertReplyError(c.incr("n:max"), "ERR increment or decrement would overflow");
      assert.equal(await c.set("n:text", "abc"), "OK");
      await assertReplyError(c.incr("n:text"), NOT_AN_INTEGER);
      await assertReplyError(c.incrbyfloat("n:text", 1), "ERR value is not a valid float");
    });

    test("APPEND, STRLEN, GETRANGE, SETRANGE (binary safe)", async () => {
      const c = node(2);
      assert.equal(await c.append("r:s", "Hello"), 5);
      assert.equal(await c.append("r:s", " World"), 11);
      assert.equal(await c.strlen("r:s"), 11);
      assert.equal(await c.strlen("r:none"), 0);
      assert.equal(await c.getrange("r:s", 0, 4), "Hello");
      assert.equal(await c.getrange("r:s", -5, -1), "World");
      assert.equal(await c.getrange("r:s", 0, -1), "Hello World");
      assert.equal(await c.getrange("r:s", 6, 100), "World");
      assert.equal(await c.getrange("r:s", 5, 2), "");
      assert.equal(await c.setrange("r:s", 6, "Redis"), 11);
      assert.equal(await c.get("r:s"), "Hello Redis");
      assert.equal(await c.setrange("r:pad", 5, "x"), 6);
      assert.deepEqual(await c.getBuffer("r:pad"), Buffer.from([0, 0, 0, 0, 0, 0x78]));
      const everyByte = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      assert.equal(await c.set("r:bytes", everyByte), "OK");
      assert.deepEqual(await node(3).getBuffer("r:bytes"), everyByte);
      assert.equal(await c.append("r:bytes", Buffer.from([0, 255])), 258);
      await assertReplyError(c.setrange("r:s", -1, "x"), "ERR offset is out of range");
    });

    test("GETEX, GETDEL, GETSET", async () => {
      const c = node(3);
      assert.equal(await c.set("g:k", "v"), "OK");
      assert.equal(await c.getex("g:k", "EX", 50), "v");
      assertBetween(await c.ttl("g:k"), 49, 50);
      assert.equal(await c.getex("g:k", "PERSIST"), "v");
      assert.equal(await c.ttl("g:k"), -1);
      assert.equal(await c.getex("g:none"), null);
      assert.equal(await c.getdel("g:k"), "v");
      assert.equal(await c.exists("g:k"), 0);
      assert.equal(await c.getdel("g:k"), null);
      assert.equal(await c.getset("g:s", "first"), null);
      assert.equal(await c.getset("g:s", "second"), "first");
      assert.equal(await c.get("g:s"), "second");
    });
  });

  describe("keys", () => {
    test("DEL, UNLINK, EXISTS, TYPE", async () => {
      const c = node(1);
      await c.mset("k:a", "1", "k:b", "2", "k:c", "3");
      await c.hset("k:h", "f", "v");
      assert.equal(await c.exists("k:a", "k:a", "k:none", "k:h"), 3, "EXISTS counts repeats");
      assert.equal(await c.type("k:a"), "string");
      assert.equal(await c.type("k:h"), "hash");
      assert.equal(await c.type("k:none"), "none");
      assert.equal(await c.del("k:a", "k:b", "k:none"), 2);
      assert.equal(await c.unlink("k:c", "k:h"), 2);
      assert.equal(await c.exists("k:a", "k:b", "k:c", "k:h"), 0);
    });

    test("RENAME and RENAMENX keep the value and the TTL", async () => {
      const c = node(2);
      await c.set("rn:src", "v", "EX", 100);
      assert.equal(await c.rename("rn:src", "rn:dst"), "OK");
      assert.equal(await c.exists("rn:src"), 0);
      assert.equal(await c.get("rn:dst"), "v");
      assertBetween(await c.ttl("rn:dst"), 98, 100);
      await assertReplyError(c.rename("rn:src", "rn:other"), "ERR no such key");
      await c.set("rn:taken", "t");
      assert.equal(await c.renamenx("rn:dst", "rn:taken"), 0);
      assert.equal(await c.renamenx("rn:dst", "rn:free"), 1);
      assert.deepEqual(await c.mget("rn:dst", "rn:taken", "rn:free"), [null, "t", "v"]);
    });

    test("EXPIRE, PEXPIRE, TTL, PTTL, EXPIRETIME, PEXPIRETIME, PERSIST and the NX/XX/GT/LT options", async () => {
      const c = node(3);
      await c.set("e:k", "v");
      assert.equal(await c.ttl("e:k"), -1);
      assert.equal(await c.ttl("e:none"), -2);
      assert.equal(await c.pttl("e:none"), -2);
      assert.equal(await c.expiretime("e:k"), -1);
      assert.equal(await c.expiretime("e:none"), -2);
      assert.equal(await c.expire("e:none", 10), 0);
      assert.equal(await c.call("EXPIRE", "e:k", "100", "XX"), 0, "XX: no TTL yet");
      assert.equal(await c.expire("e:k", 100), 1);
      assertBetween(await c.ttl("e:k"), 99, 100);
      assertBetween(await c.pttl("e:k"), 95_000, 100_000);
      assert.equal(await c.call("EXPIRE", "e:k", "200", "NX"), 0, "NX: already has a TTL");
      assert.equal(await c.call("EXPIRE", "e:k", "50", "GT"), 0);
      assert.equal(await c.call("EXPIRE", "e:k", "50", "LT"), 1);
      assertBetween(await c.ttl("e:k"), 49, 50);
      assert.equal(await c.call("PEXPIRE", "e:k", "90000", "GT"), 1);
      assertBetween(await c.ttl("e:k"), 89, 90);
      assert.equal(await c.persist("e:k"), 1);
      assert.equal(await c.persist("e:k"), 0);
      assert.equal(await c.ttl("e:k"), -1);
      const at = Math.floor(Date.now() / 1000) + 1000;
      assert.equal(await c.expireat("e:k", at), 1);
      assert.equal(await c.expiretime("e:k"), at);
      assert.equal(await c.pexpiretime("e:k"), at * 1000);
      assert.equal(await c.pexpireat("e:k", at * 1000 + 123), 1);
      assert.equal(await c.pexpiretime("e:k"), at * 1000 + 123);
      assert.equal(await c.expire("e:k", -1), 1, "a past expiry deletes the key");
      assert.equal(await c.exists("e:k"), 0);
      await assertReplyError(
        c.call("EXPIRE", "e:k", "10", "NX", "XX"),
        "ERR NX and XX, GT or LT options at the same time are not compatible",
      );
    });

    test("KEYS with glob patterns", async () => {
      const c = node(1);
      await c.mset("ks:a", "1", "ks:b", "2", "ks:ab", "3", "ks:c1", "4", "other:ks", "5");
      assert.deepEqual((await c.keys("ks:*")).sort(), ["ks:a", "ks:ab", "ks:b", "ks:c1"]);
      assert.deepEqual((await c.keys("ks:?")).sort(), ["ks:a", "ks:b"]);
      assert.deepEqual((await c.keys("ks:[ab]*")).sort(), ["ks:a", "ks:ab", "ks:b"]);
      assert.deepEqual(await c.keys("nothing:*"), []);
    });

    test("SCAN through scanStream returns every matching key, with MATCH, COUNT and TYPE", async () => {
      const c = node(2);
      const expected = Array.from({ length: 250 }, (_, i) => `scan:${i}`);
      const pipeline = c.pipeline();
      for (const key of expected) pipeline.set(key, "v");
      for (let i = 0; i < 7; i++) pipeline.hset(`scan:h${i}`, "f", "v");
      pipeline.set("unscanned", "v");
      await pipeline.exec();
      const strings = await collectScan(c.scanStream({ match: "scan:*", count: 25, type: "string" }));
      assert.deepEqual([...strings].sort(), [...expected].sort());
      const hashes = await collectScan(c.scanStream({ match: "scan:*", count: 10, type: "hash" }));
      assert.deepEqual([...hashes].sort(), [
        "scan:h0",
        "scan:h1",
        "scan:h2",
        "scan:h3",
        "scan:h4",
        "scan:h5",
        "scan:h6",
      ]);
      const all = await collectScan(node(3).scanStream({ count: 1000 }));
      assert.ok(all.has("unscanned") && all.has("scan:0") && all.has("scan:h6"));
      await assertReplyError(c.call("SCAN", "notacursor"), "ERR invalid cursor");
    });

    test("DBSIZE counts keys as they come and go", async () => {
      const c = node(3);
      const before = await c.dbsize();
      await c.mset("db:1", "a", "db:2", "b", "db:3", "c");
      assert.equal(await c.dbsize(), before + 3);
      assert.equal(await node(1).dbsize(), before + 3);
      await c.del("db:1", "db:2", "db:3");
      assert.equal(await c.dbsize(), before);
    });
  });

  describe("hashes", () => {
    test("HSET, HGET, HMGET, HGETALL, HDEL, HLEN, HEXISTS, HKEYS, HVALS, HSTRLEN, HSETNX, HMSET", async () => {
      const c = node(1);
      assert.equal(await c.hset("h:user", "name", "Ada", "lang", "en"), 2);
      assert.equal(await c.hset("h:user", "lang", "fr", "born", "1815"), 1);
      assert.equal(await c.hget("h:user", "name"), "Ada");
      assert.equal(await c.hget("h:user", "none"), null);
      assert.equal(await c.hget("h:nokey", "name"), null);
      assert.deepEqual(await c.hmget("h:user", "name", "none", "lang"), ["Ada", null, "fr"]);
      assert.deepEqual(await node(2).hgetall("h:user"), { name: "Ada", lang: "fr", born: "1815" });
      assert.deepEqual(await c.hgetall("h:nokey"), {});
      assert.equal(await c.hlen("h:user"), 3);
      assert.equal(await c.hexists("h:user", "born"), 1);
      assert.equal(await c.hexists("h:user", "died"), 0);
      assert.deepEqual((await c.hkeys("h:user")).sort(), ["born", "lang", "name"]);
      assert.deepEqual((await c.hvals("h:user")).sort(), ["1815", "Ada", "fr"]);
      assert.equal(await c.hstrlen("h:user", "born"), 4);
      assert.equal(await c.hsetnx("h:user", "name", "Bob"), 0);
      assert.equal(await c.hsetnx("h:user", "title", "Countess"), 1);
      assert.equal(await c.call("HMSET", "h:user", "a", "1", "b", "2"), "OK");
      assert.equal(await c.hdel("h:user", "a", "b", "none"), 2);
      assert.equal(await c.hlen("h:user"), 4);
      assert.equal(await c.hdel("h:user", "name", "lang", "born", "title"), 4);
      assert.equal(await c.exists("h:user"), 0, "a hash with no fields is deleted");
      await assertReplyError(c.call("HSET", "h:user", "f"), "ERR wrong number of arguments for 'hset' command");
    });

    test("HINCRBY and HINCRBYFLOAT", async () => {
      const c = node(2);
      assert.equal(await c.hincrby("h:n", "i", 5), 5);
      assert.equal(await c.hincrby("h:n", "i", -7), -2);
      assert.equal(await c.hincrbyfloat("h:n", "f", 10.5), "10.5");
      assert.equal(await c.hincrbyfloat("h:n", "f", 0.1), "10.6");
      assert.equal(await c.hset("h:n", "big", "5.0e3"), 1);
      assert.equal(await c.call("HINCRBYFLOAT", "h:n", "big", "2.0e2"), "5200");
      assert.equal(await c.hset("h:n", "t", "text"), 1);
      await assertReplyError(c.hincrby("h:n", "t", 1), "ERR hash value is not an integer");
      await assertReplyError(c.hincrbyfloat("h:n", "t", 1), "ERR hash value is not a float");
    });

    test("HSCAN through hscanStream returns every field of a large hash, HRANDFIELD picks fields", async () => {
      const c = node(3);
      const fields = new Map(Array.from({ length: 300 }, (_, i) => [`f${i}`, `v${i}`]));
      assert.equal(await c.hset("h:big", fields), 300);
      const seen = new Map<string, string>();
      for await (const chunk of c.hscanStream("h:big", { count: 20 })) {
        const flat = chunk as string[];
        for (let i = 0; i < flat.length; i += 2) seen.set(flat[i] as string, flat[i + 1] as string);
      }
      assert.deepEqual(seen, fields);
      const matched = await collectHscanFields(c, "h:big", "f1?");
      assert.deepEqual([...matched].sort(), Array.from({ length: 10 }, (_, i) => `f1${i}`).sort());
      const one = (await c.hrandfield("h:big")) as string;
      assert.ok(fields.has(one));
      const two = (await c.hrandfield("h:big", 2)) as string[];
      assert.equal(new Set(two).size, 2);
      const repeats = (await c.hrandfield("h:big", -5)) as string[];
      assert.equal(repeats.length, 5);
      const withValues = (await c.hrandfield("h:big", 3, "WITHVALUES")) as string[];
      assert.equal(withValues.length, 6);
      for (let i = 0; i < 6; i += 2) assert.equal(withValues[i + 1], fields.get(withValues[i] as string));
      assert.equal(await c.hrandfield("h:none"), null);
    });
  });

  test("a pipeline of 10,000 commands answers every one, in order", async () => {
    const c = node(2);
    const pipeline = c.pipeline();
    const expected: unknown[] = [];
    let counter = 0;
    for (let i = 0; i < 10_000; i++) {
      if (i % 3 === 0) {
        pipeline.incr("pipe:counter");
        expected.push(++counter);
      } else if (i % 3 === 1) {
        pipeline.set(`pipe:${i}`, `value-${i}`);
        expected.push("OK");
      } else {
        pipeline.get(`pipe:${i - 1}`);
        expected.push(`value-${i - 1}`);
      }
    }
    const results = await pipeline.exec();
    assert.ok(results !== null);
    assert.equal(results.length, 10_000);
    results.forEach(([error, value], i) => {
      assert.equal(error, null, `command ${i}`);
      assert.equal(value, expected[i], `command ${i}`);
    });
    assert.equal(await node(3).get("pipe:counter"), String(counter));
  });

  test("writes sent while earlier ones are in flight apply and answer in the order sent, on every node", async () => {
    // Each APPEND goes out a millisecond after the one before, without waiting for its reply: the node gets it
    // while earlier runs are in flight (a follower forwards them to the leader). Order shows twice: each reply is
    // the length after exactly the appends before it, and the value lists the tokens in the order sent.
    const count = 200;
    await Promise.all(
      NODE_IDS.map(async (id) => {
        const c = node(id);
        const key = `order:${id}`;
        const tokens = Array.from({ length: count }, (_, i) => `${i},`);
        const replies: Promise<number>[] = [];
        for (const token of tokens) {
          replies.push(c.append(key, token));
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
        const lengths = await Promise.all(replies);
        let length = 0;
        lengths.forEach((reply, i) => {
          length += (tokens[i] as string).length;
          assert.equal(reply, length, `node ${id}: APPEND ${i} answered the length after the appends before it`);
        });
        assert.equal(await c.get(key), tokens.join(""), `node ${id}: the appends applied in the order sent`);
      }),
    );
  });

  describe("transactions", () => {
    test("MULTI/EXEC runs the queued commands and returns their replies", async () => {
      const c = node(1);
      const results = await c.multi().set("tx:k", "1").incr("tx:k").get("tx:k").hset("tx:h", "f", "v").exec();
      assert.deepEqual(results, [
        [null, "OK"],
        [null, 2],
        [null, "2"],
        [null, 1],
      ]);
    });

    test("a runtime error inside EXEC fails only its command; a queueing error aborts with EXECABORT", async () => {
      const c = node(2);
      await c.set("tx:str", "text");
      const results = await c.multi().incr("tx:str").set("tx:after", "yes").exec();
      assert.ok(results !== null);
      assert.equal(errorMessage(results[0]), NOT_AN_INTEGER);
      assert.deepEqual(results[1], [null, "OK"]);
      assert.equal(await c.get("tx:after"), "yes");
      const aborted = c.multi().set("tx:never", "x").call("GET").exec();
      await assertReplyError(aborted, "EXECABORT Transaction discarded because of previous errors.");
      assert.equal(await c.exists("tx:never"), 0);
    });

    test("DISCARD drops the queue; EXEC and DISCARD without MULTI are errors", async () => {
      const c = node(3);
      assert.equal(await c.call("MULTI"), "OK");
      assert.equal(await c.call("SET", "tx:discarded", "x"), "QUEUED");
      assert.equal(await c.call("DISCARD"), "OK");
      assert.equal(await c.exists("tx:discarded"), 0);
      await assertReplyError(c.call("EXEC"), "ERR EXEC without MULTI");
      await assertReplyError(c.call("DISCARD"), "ERR DISCARD without MULTI");
    });

    test("no reader on any node sees half of a transaction", async () => {
      const writer = node(1);
      await writer.mset("tx:x", "0", "tx:y", "0");
      let done = false;
      let reads = 0;
      const readers = [node(2), node(3)].map(async (reader) => {
        while (!done) {
          const [x, y] = await reader.mget("tx:x", "tx:y");
          assert.equal(x, y, "a reader saw one half of an EXEC");
          reads++;
        }
      });
      try {
        for (let i = 1; i <= 150; i++) {
          const results = await writer.multi().incr("tx:x").incr("tx:y").exec();
          assert.deepEqual(results, [
            [null, i],
            [null, i],
          ]);
        }
      } finally {
        done = true;
        await Promise.all(readers);
      }
      assert.ok(reads > 0);
      assert.deepEqual(await node(3).mget("tx:x", "tx:y"), ["150", "150"]);
    });

    test("WATCH: a write from another client on another node makes EXEC return null", async () => {
      const watcher = node(1);
      const other = node(3);
      await watcher.set("w:balance", "100");
      assert.equal(await watcher.watch("w:balance"), "OK");
      assert.equal(await watcher.get("w:balance"), "100");
      assert.equal(await other.set("w:balance", "50"), "OK");
      assert.equal(await watcher.multi().set("w:balance", "90").exec(), null);
      assert.equal(await watcher.get("w:balance"), "50");
      // Without a conflicting write the same transaction commits (EXEC also ends the earlier WATCH).
      assert.equal(await watcher.watch("w:balance"), "OK");
      assert.deepEqual(await watcher.multi().set("w:balance", "40").exec(), [[null, "OK"]]);
      assert.equal(await other.get("w:balance"), "40");
      // UNWATCH forgets the watch: a later write does not abort.
      assert.equal(await watcher.watch("w:balance"), "OK");
      assert.equal(await watcher.unwatch(), "OK");
      await other.set("w:balance", "30");
      assert.deepEqual(await watcher.multi().incrby("w:balance", 5).exec(), [[null, 35]]);
    });

    test("WATCH of a missing key aborts when another client creates it", async () => {
      const watcher = node(2);
      assert.equal(await watcher.watch("w:created"), "OK");
      await node(1).set("w:created", "x");
      assert.equal(await watcher.multi().set("w:created", "y").exec(), null);
      assert.equal(await watcher.get("w:created"), "x");
    });

    test("WATCH of a missing key aborts when another client creates and deletes it again", async () => {
      const watcher = node(2);
      assert.equal(await watcher.watch("w:flicker"), "OK");
      await node(1).set("w:flicker", "x");
      await node(3).del("w:flicker");
      assert.equal(await watcher.multi().set("w:flicker", "y").exec(), null);
      assert.equal(await watcher.exists("w:flicker"), 0);
    });
  });

  test("a key set with PX 200 is gone soon after, on every node", async () => {
    const c = node(1);
    assert.equal(await c.set("exp:short", "v", "PX", 200), "OK");
    assert.equal(await c.set("exp:long", "v", "EX", 1000), "OK");
    await eventually("exp:short to expire", async () => (await c.get("exp:short")) === null);
    for (const id of NODE_IDS) {
      assert.equal(await node(id).exists("exp:short"), 0, `node ${id}`);
      assert.equal(await node(id).ttl("exp:short"), -2, `node ${id}`);
      assert.equal(await node(id).get("exp:long"), "v", `node ${id}`);
    }
    assert.deepEqual(await c.keys("exp:*"), ["exp:long"]);
  });

  test("errors come back as ReplyError with Redis's text, and the connection carries on", async () => {
    const c = node(2);
    await c.hset("err:hash", "f", "v");
    await c.set("err:string", "v");
    await assertReplyError(c.get("err:hash"), WRONGTYPE);
    await assertReplyError(c.hget("err:string", "f"), WRONGTYPE);
    await assertReplyError(c.append("err:hash", "x"), WRONGTYPE);
    await assertReplyError(c.call("GET"), "ERR wrong number of arguments for 'get' command");
    await assertReplyError(c.call("GET", "a", "b"), "ERR wrong number of arguments for 'get' command");
    await assertReplyError(
      c.call("NOSUCHCOMMAND", "a", "b"),
      "ERR unknown command 'NOSUCHCOMMAND', with args beginning with: 'a' 'b' ",
    );
    await assertReplyError(
      c.call("AUTH", "secret"),
      "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
    assert.equal(await c.get("err:string"), "v");
    const results = await c.pipeline().get("err:hash").get("err:string").exec();
    assert.ok(results !== null);
    assert.equal(errorMessage(results[0]), WRONGTYPE);
    assert.deepEqual(results[1], [null, "v"]);
  });

  test("pub/sub: a subscriber on node 1 receives what PUBLISH sent on node 3", async () => {
    const subscriber = connectIoredis(target.port(1));
    try {
      const messages: string[] = [];
      subscriber.on("message", (channel: string, message: string) => messages.push(`${channel}:${message}`));
      subscriber.on("pmessage", (pattern: string, channel: string, message: string) =>
        messages.push(`${pattern}|${channel}:${message}`),
      );
      assert.equal(await subscriber.subscribe("news", "sports"), 2);
      assert.equal(await subscriber.psubscribe("ev.*"), 3);
      const publisher = node(3);
      assert.equal(await publisher.publish("news", "hello"), 1);
      assert.equal(await publisher.publish("ev.login", "ada"), 1);
      assert.equal(await publisher.publish("nobody", "x"), 0);
      assert.equal(await publisher.publish("sports", "goal"), 1);
      await eventually("three messages", async () => messages.length >= 3);
      assert.deepEqual(messages, ["news:hello", "ev.*|ev.login:ada", "sports:goal"]);

      assert.deepEqual(await node(2).pubsub("NUMSUB", "news", "sports", "nobody"), [
        "news",
        1,
        "sports",
        1,
        "nobody",
        0,
      ]);
      assert.deepEqual(((await node(3).pubsub("CHANNELS")) as string[]).sort(), ["news", "sports"]);
      assert.deepEqual(await node(3).pubsub("CHANNELS", "n*"), ["news"]);
      assert.equal(await node(2).pubsub("NUMPAT"), 1);

      assert.equal(await subscriber.unsubscribe("news"), 2);
      assert.equal(await subscriber.punsubscribe("ev.*"), 1);
      assert.deepEqual(await node(3).pubsub("NUMSUB", "news"), ["news", 0]);
      assert.equal(await publisher.publish("news", "unheard"), 0);
      assert.equal(await publisher.publish("ev.logout", "unheard"), 0);
      assert.equal(await publisher.publish("sports", "final"), 1);
      await eventually("the fourth message", async () => messages.length >= 4);
      assert.deepEqual(messages.slice(3), ["sports:final"]);
    } finally {
      subscriber.disconnect();
    }
  });

  test("pub/sub: one PUBLISH reaches subscribers on all three nodes (the one on node 2 over RESP2)", async () => {
    const subscribers = NODE_IDS.map((id) => connectIoredis(target.port(id), { protocol: id === 2 ? 2 : 3 }));
    try {
      const received = NODE_IDS.map(() => [] as string[]);
      subscribers.forEach((s, i) => {
        s.on("message", (_channel: string, message: string) => received[i]?.push(message));
      });
      await Promise.all(subscribers.map((s) => s.subscribe("everyone")));
      assert.equal(await node(2).publish("everyone", "m1"), 3);
      assert.equal(await node(1).publish("everyone", "m2"), 3);
      await eventually("every subscriber to get both messages", async () => received.every((r) => r.length >= 2));
      assert.deepEqual(received, [
        ["m1", "m2"],
        ["m1", "m2"],
        ["m1", "m2"],
      ]);
    } finally {
      disconnectAll(subscribers);
    }
  });

  test("a RESP2 client (protocol: 2) gets the same replies as the RESP3 one", async () => {
    const resp2 = connectIoredis(target.port(3), { protocol: 2 });
    try {
      const run = async (c: Redis, p: string): Promise<unknown[]> => {
        const results = await c
          .pipeline()
          .set(`${p}:s`, "1.5")
          .incrbyfloat(`${p}:s`, "2")
          .get(`${p}:missing`)
          .hset(`${p}:h`, "a", "1", "b", "2")
          .hgetall(`${p}:h`)
          .call("HRANDFIELD", `${p}:h`, "-1", "WITHVALUES")
          .hrandfield(`${p}:missing`, 3)
          .mget(`${p}:s`, `${p}:missing`)
          .ttl(`${p}:s`)
          .exists(`${p}:s`, `${p}:h`)
          .get(`${p}:h`)
          .exec();
        return (results ?? []).map(([error, value]) => (error === null ? value : error.message));
      };
      const expected = ["OK", "3.5", null, 2, { a: "1", b: "2" }, "HRANDFIELD", [], ["3.5", null], -1, 2, WRONGTYPE];
      for (const [label, c] of [
        ["resp3", node(3)],
        ["resp2", resp2],
      ] as const) {
        const replies = await run(c, `proto:${label}`);
        // RESP3 nests WITHVALUES pairs ([[field, value]]), RESP2 flattens them; ioredis's `call` keeps the shape.
        const reply = replies[5] as unknown[];
        const nested = label === "resp3";
        const pair = nested ? reply[0] : reply;
        assert.equal(nested ? reply.length : 1, 1, `${label}: ${JSON.stringify(reply)}`);
        assert.ok(
          JSON.stringify(pair) === '["a","1"]' || JSON.stringify(pair) === '["b","2"]',
          `${label}: HRANDFIELD -1 WITHVALUES: ${JSON.stringify(reply)}`,
        );
        replies[5] = "HRANDFIELD";
        assert.deepEqual(replies, expected, label);
      }
    } finally {
      resp2.disconnect();
    }
  });

  test("reads are linearizable across nodes: a GET on another node sees the SET as soon as it returns", async () => {
    for (let i = 0; i < 60; i++) {
      const writer = node((i % 3) + 1);
      const reader = node(((i + 1) % 3) + 1);
      assert.equal(await writer.set("lin:key", `v${i}`), "OK");
      assert.equal(await reader.get("lin:key"), `v${i}`, `round ${i}`);
      assert.equal(await writer.incr("lin:counter"), i + 1);
      assert.equal(await node(((i + 2) % 3) + 1).get("lin:counter"), String(i + 1), `round ${i}`);
    }
  });
});

function assertBetween(actual: number, low: number, high: number): void {
  assert.ok(actual >= low && actual <= high, `${actual} is not within [${low}, ${high}]`);
}

async function collectScan(stream: AsyncIterable<unknown>): Promise<Set<string>> {
  const keys = new Set<string>();
  for await (const chunk of stream) for (const key of chunk as string[]) keys.add(key);
  return keys;
}

async function collectHscanFields(client: Redis, key: string, match: string): Promise<Set<string>> {
  const fields = new Set<string>();
  for await (const chunk of client.hscanStream(key, { match, count: 50 })) {
    const flat = chunk as string[];
    for (let i = 0; i < flat.length; i += 2) fields.add(flat[i] as string);
  }
  return fields;
}

/** The error text of one [error, reply] entry of a pipeline's or EXEC's results. */
function errorMessage(entry: [Error | null, unknown] | undefined): string {
  assert.ok(entry?.[0] instanceof Error, `expected an error, got ${String(entry)}`);
  return entry[0].message;
}
