/**
 * Real client libraries against a RespServer over a test backend: ioredis (pipelines, MULTI/WATCH, pub/sub,
 * AUTH) and node-redis (its connect handshake: HELLO, CLIENT SETINFO).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Redis } from "ioredis";
import { createClient } from "redis";
import { RespServer } from "./resp-server.js";
import { TestBackend } from "./testing/test-backend.js";

function ioredis(port: number, password?: string): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    maxRetriesPerRequest: 1,
    retryStrategy: () => null,
    ...(password === undefined ? {} : { password }),
  });
}

describe("RespServer with ioredis and node-redis", () => {
  let server: RespServer;
  before(async () => {
    server = await RespServer.start({ host: "127.0.0.1", port: 0, backend: new TestBackend(), requirePass: "pw" });
  });
  after(() => server.close());

  it("ioredis: a pipeline of 10,000 commands comes back in order", async () => {
    const client = ioredis(server.port, "pw");
    const pipeline = client.pipeline();
    for (let i = 0; i < 5000; i++) {
      pipeline.set(`k${i}`, `v${i}`);
      pipeline.get(`k${i}`);
    }
    const results = await pipeline.exec();
    assert.ok(results !== null);
    assert.equal(results.length, 10_000);
    for (let i = 0; i < 5000; i++) {
      assert.deepEqual(results[2 * i], [null, "OK"]);
      assert.deepEqual(results[2 * i + 1], [null, `v${i}`]);
    }
    client.disconnect();
  });

  it("ioredis: MULTI/EXEC, and a WATCH conflict makes EXEC answer null", async () => {
    const a = ioredis(server.port, "pw");
    const b = ioredis(server.port, "pw");
    assert.deepEqual(await a.multi().set("t", "1").get("t").exec(), [
      [null, "OK"],
      [null, "1"],
    ]);
    await a.watch("t");
    await b.set("t", "2");
    assert.equal(await a.multi().set("t", "3").exec(), null);
    assert.equal(await a.get("t"), "2");
    a.disconnect();
    b.disconnect();
  });

  it("ioredis: pub/sub with channels and patterns", async () => {
    const sub = ioredis(server.port, "pw");
    const pub = ioredis(server.port, "pw");
    const received: string[] = [];
    const done = new Promise<void>((resolve) => {
      sub.on("message", (channel: string, message: string) => {
        received.push(`${channel}:${message}`);
        if (received.length === 2) resolve();
      });
      sub.on("pmessage", (pattern: string, channel: string, message: string) => {
        received.push(`${pattern}|${channel}:${message}`);
        if (received.length === 2) resolve();
      });
    });
    await sub.subscribe("chat");
    await sub.psubscribe("ch*");
    assert.equal(await pub.publish("chat", "hi"), 2);
    await done;
    assert.deepEqual(received.sort(), ["ch*|chat:hi", "chat:hi"]);
    sub.disconnect();
    pub.disconnect();
  });

  it("ioredis: a wrong password is refused with WRONGPASS", async () => {
    const client = new Redis({
      host: "127.0.0.1",
      port: server.port,
      password: "nope",
      lazyConnect: true,
      retryStrategy: () => null,
    });
    const errors: string[] = [];
    client.on("error", (error: Error) => errors.push(error.message));
    await assert.rejects(client.connect());
    assert.deepEqual(errors, ["WRONGPASS invalid username-password pair or user is disabled."]);
    client.disconnect();
  });

  it("node-redis: connects (HELLO/CLIENT SETINFO handshake), sets, gets, and runs a transaction", async () => {
    const client = createClient({ url: `redis://:pw@127.0.0.1:${server.port}`, RESP: 3 });
    await client.connect();
    assert.equal(await client.set("nr", "1"), "OK");
    assert.equal(await client.get("nr"), "1");
    assert.deepEqual(await client.multi().set("nr", "2").get("nr").exec(), ["OK", "2"]);
    assert.equal(await client.ping(), "PONG");
    await client.close();
  });
});
