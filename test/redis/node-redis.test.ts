/**
 * End-to-end: node-redis (the `redis` package) against a real 3-node Shoal cluster. node-redis 5+ speaks RESP3 by
 * default: it connects with HELLO 3 (with SETNAME when named) and pipelines CLIENT SETINFO, whose errors it
 * ignores. The suite runs a RESP3 client and a RESP2 client through strings, hashes, MULTI/WATCH and pub/sub.
 * SHOAL_REDIS_TARGET=redis-server runs the same tests against a real redis-server (see target.ts).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, ErrorReply, WatchError } from "redis";
import { eventually, missingPrerequisite, NODE_IDS, type RedisTarget, startTarget } from "./target.js";

type Resp3Client = ReturnType<typeof createResp3>;
type Resp2Client = ReturnType<typeof createResp2>;

function createResp3(port: number, name?: string) {
  return createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP: 3, name });
}

function createResp2(port: number, name?: string) {
  return createClient({ socket: { host: "127.0.0.1", port, reconnectStrategy: false }, RESP: 2, name });
}

async function assertErrorReply(reply: Promise<unknown>, message: string): Promise<void> {
  await assert.rejects(reply, (error: unknown) => {
    assert.ok(error instanceof ErrorReply, `expected an ErrorReply, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

describe("node-redis against a 3-node cluster", { timeout: 180_000, skip: missingPrerequisite() }, () => {
  let target: RedisTarget;
  /** RESP3 clients on nodes 1..3, and one RESP2 client on node 2. */
  let resp3: Resp3Client[] = [];
  let resp2: Resp2Client;
  const node = (id: number): Resp3Client => resp3[id - 1] as Resp3Client;

  before(async () => {
    target = await startTarget();
    resp3 = NODE_IDS.map((id) => createResp3(target.port(id), `nr-node-${id}`));
    resp2 = createResp2(target.port(2), "nr-resp2");
    for (const client of [...resp3, resp2]) client.on("error", () => {});
    await Promise.all([...resp3.map((c) => c.connect()), resp2.connect()]);
  });
  after(async () => {
    for (const client of [...resp3, resp2]) if (client?.isOpen) client.destroy();
    await target?.stop();
  });

  test("connects with HELLO 3 and SETNAME: the server reports protocol 3 and the name", async () => {
    const c = node(1);
    assert.equal(c.isReady, true);
    assert.equal(await c.clientGetName(), "nr-node-1");
    const info = await c.clientInfo();
    assert.equal(info.name, "nr-node-1");
    assert.equal(info.id, await c.clientId());
    assert.equal(info.resp, 3);
    const hello = (await c.sendCommand(["HELLO"])) as Record<string, unknown>;
    assert.equal(hello.proto, 3);
    assert.equal(hello.id, info.id);
    assert.deepEqual(Object.keys(hello), ["server", "version", "proto", "id", "mode", "role", "modules"]);
    assert.equal(await c.ping(), "PONG");
    assert.equal(await c.echo("hi"), "hi");
  });

  test("a RESP2 client names itself with CLIENT SETNAME and sees protocol 2", async () => {
    assert.equal(await resp2.clientGetName(), "nr-resp2");
    const info = await resp2.clientInfo();
    assert.equal(info.resp, 2);
    assert.equal(await resp2.ping(), "PONG");
  });

  test("strings over RESP3 and RESP2", async () => {
    for (const [label, c] of [
      ["resp3", node(3)],
      ["resp2", resp2],
    ] as const) {
      const key = `nr:${label}`;
      assert.equal(await c.set(key, "v"), "OK");
      assert.equal(await c.get(key), "v");
      assert.equal(await c.set(key, "w", { condition: "NX" }), null);
      assert.equal(await c.set(key, "w", { condition: "XX", expiration: { type: "EX", value: 100 } }), "OK");
      const ttl = await c.ttl(key);
      assert.ok(ttl >= 99 && ttl <= 100, `ttl ${ttl}`);
      assert.equal(await c.get(`${key}:missing`), null);
      assert.equal(await c.incr(`${key}:n`), 1);
      assert.equal(await c.incrBy(`${key}:n`, 41), 42);
      assert.equal(await c.incrByFloat(`${key}:n`, 0.5), "42.5");
      assert.equal(await c.append(key, "!"), 2);
      assert.deepEqual(await c.mGet([key, `${key}:missing`, `${key}:n`]), ["w!", null, "42.5"]);
      assert.equal(await c.getDel(key), "w!");
      assert.equal(await c.exists(key), 0);
    }
  });

  test("hashes: HGETALL is an object in both protocols; HRANDFIELD WITHVALUES in both protocols", async () => {
    const c = node(1);
    assert.equal(await c.hSet("nr:h", { name: "Ada", lang: "en", born: "1815" }), 3);
    assert.deepEqual({ ...(await node(2).hGetAll("nr:h")) }, { name: "Ada", lang: "en", born: "1815" });
    assert.deepEqual({ ...(await resp2.hGetAll("nr:h")) }, { name: "Ada", lang: "en", born: "1815" });
    assert.equal(await c.hGet("nr:h", "lang"), "en");
    assert.equal(await c.hIncrBy("nr:h", "born", 1), 1816);
    assert.equal(await c.hDel("nr:h", ["lang", "none"]), 1);
    assert.equal(await c.hLen("nr:h"), 2);
    const fields = new Map<string, string>();
    for await (const entries of c.hScanIterator("nr:h"))
      for (const { field, value } of entries) fields.set(field, value);
    assert.deepEqual(
      fields,
      new Map([
        ["name", "Ada"],
        ["born", "1816"],
      ]),
    );

    const resp3Pairs = (await c.sendCommand(["HRANDFIELD", "nr:h", "2", "WITHVALUES"])) as unknown[];
    assert.deepEqual(
      (resp3Pairs as string[][]).map((pair) => pair.join("=")).sort(),
      ["born=1816", "name=Ada"],
      "RESP3 replies WITHVALUES as [field, value] pairs",
    );
    const flat = (await resp2.sendCommand(["HRANDFIELD", "nr:h", "2", "WITHVALUES"])) as string[];
    assert.equal(flat.length, 4, "RESP2 replies WITHVALUES flat");
    await assertErrorReply(c.get("nr:h"), "WRONGTYPE Operation against a key holding the wrong kind of value");
    await assertErrorReply(c.sendCommand(["HGET", "nr:h"]), "ERR wrong number of arguments for 'hget' command");
  });

  test("MULTI/EXEC returns every reply; WATCH with a conflicting write from another node throws WatchError", async () => {
    const c = node(2);
    assert.deepEqual(await c.multi().set("nr:tx", "1").incr("nr:tx").get("nr:tx").exec(), ["OK", 2, "2"]);
    assert.deepEqual(await resp2.multi().incrBy("nr:tx", 10).get("nr:tx").exec(), [12, "12"]);

    assert.equal(await c.watch("nr:tx"), "OK");
    assert.equal(await node(3).set("nr:tx", "changed"), "OK");
    await assert.rejects(c.multi().set("nr:tx", "mine").exec(), WatchError);
    assert.equal(await c.get("nr:tx"), "changed");

    assert.equal(await c.watch("nr:tx"), "OK");
    assert.deepEqual(await c.multi().set("nr:tx", "mine").exec(), ["OK"]);
    assert.equal(await node(1).get("nr:tx"), "mine");
  });

  test("pub/sub: RESP3 and RESP2 subscribers on nodes 1 and 2 receive PUBLISH from node 3", async () => {
    const subscriber3 = createResp3(target.port(1));
    const subscriber2 = createResp2(target.port(2));
    const clients = [subscriber3, subscriber2];
    for (const client of clients) client.on("error", () => {});
    try {
      await Promise.all(clients.map((client) => client.connect()));
      const got3: string[] = [];
      const got2: string[] = [];
      await subscriber3.subscribe("nr-news", (message, channel) => got3.push(`${channel}:${message}`));
      await subscriber3.pSubscribe("nr-ev.*", (message, channel) => got3.push(`p ${channel}:${message}`));
      await subscriber2.subscribe("nr-news", (message, channel) => got2.push(`${channel}:${message}`));
      // A RESP3 connection keeps answering ordinary commands while subscribed.
      assert.equal(await subscriber3.ping(), "PONG");

      const publisher = node(3);
      assert.equal(await publisher.publish("nr-news", "one"), 2);
      assert.equal(await publisher.publish("nr-ev.login", "ada"), 1);
      assert.equal(await publisher.publish("nr-news", "two"), 2);
      await eventually("both subscribers' messages", async () => got3.length >= 3 && got2.length >= 2);
      assert.deepEqual(got3, ["nr-news:one", "p nr-ev.login:ada", "nr-news:two"]);
      assert.deepEqual(got2, ["nr-news:one", "nr-news:two"]);
      assert.deepEqual(await publisher.pubSubNumSub(["nr-news", "nr-none"]), { "nr-news": 2, "nr-none": 0 });

      await subscriber2.unsubscribe("nr-news");
      assert.equal(await publisher.publish("nr-news", "three"), 1);
      await eventually("the third message", async () => got3.length >= 4);
      assert.deepEqual(got3.slice(3), ["nr-news:three"]);
      assert.deepEqual(got2, ["nr-news:one", "nr-news:two"]);
    } finally {
      for (const client of clients) if (client.isOpen) client.destroy();
    }
  });

  test("SET on one node, GET on the next returns it right after the SET's reply", async () => {
    for (let i = 0; i < 30; i++) {
      assert.equal(await node((i % 3) + 1).set("nr:lin", `v${i}`), "OK");
      assert.equal(await node(((i + 1) % 3) + 1).get("nr:lin"), `v${i}`);
    }
  });
});
