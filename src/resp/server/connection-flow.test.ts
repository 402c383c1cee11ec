import assert from "node:assert/strict";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Prng } from "../../lib/prng.js";
import type { RespValue } from "../resp-value.js";
import { PENDING_REQUESTS_MAX, PUBSUB_OUTPUT_BYTES_MAX } from "./connection.js";
import { RespServer } from "./resp-server.js";
import { encodeCommand, RawClient, show } from "./testing/raw-client.js";
import { TestBackend } from "./testing/test-backend.js";

describe("RespServer: connection flow", () => {
  let server: RespServer;
  let backend: TestBackend;
  before(async () => {
    backend = new TestBackend();
    server = await RespServer.start({
      host: "127.0.0.1",
      port: 0,
      backend,
      limits: { bulkLengthBytesMax: 1024 * 1024 },
      writeRunsInFlightMax: 16,
    });
  });
  after(() => server.close());

  it("answers a pipeline of 10,000 commands in order, with write runs bounded to one entry per ~1000", async () => {
    const client = await RawClient.connect(server.port);
    const before = backend.entries.length;
    const commands: string[][] = [];
    for (let i = 0; i < 10_000; i++) {
      commands.push(i % 3 === 2 ? ["GET", `p${i - 1}`] : ["SET", `p${i}`, `v${i}`]);
    }
    client.sendRaw(Buffer.concat(commands.map(encodeCommand)));
    const replies = (await client.read(10_000, 20_000)).map(show);
    for (const [i, reply] of replies.entries()) assert.equal(reply, i % 3 === 2 ? `$v${i - 1}` : "+OK", `reply ${i}`);
    for (const entry of backend.entries.slice(before)) assert.ok(entry.length <= PENDING_REQUESTS_MAX);
    client.close();
  });

  it("answers requests of tens of thousands of arguments, parsed over several turns, whole and in order", async () => {
    const client = await RawClient.connect(server.port);
    const keys = Array.from({ length: 30_000 }, (_, i) => `many:${i}`);
    client.send(["MSET", ...keys.flatMap((key, i) => [key, `v${i}`])], ["MGET", ...keys, "many:absent"], ["PING"]);
    const [mset, mget, ping] = await client.read(3, 20_000);
    assert.equal(show(mset as RespValue), "+OK");
    assert.equal(show(mget as RespValue), `[${keys.map((_, i) => `$v${i}`).join(", ")}, (nil)]`);
    assert.equal(show(ping as RespValue), "+PONG");
    client.close();
  });

  it("a protocol error answers Redis's text after the earlier requests' replies, then closes", async () => {
    const client = await RawClient.connect(server.port);
    client.sendRaw("PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$x\r\nPING\r\n");
    assert.deepEqual((await client.read(3)).map(show), ["+PONG", "(nil)", "-ERR Protocol error: invalid bulk length"]);
    assert.equal(await client.waitClosed(), true);
    const big = await RawClient.connect(server.port);
    big.sendRaw(`*2\r\n$3\r\nGET\r\n$${2 * 1024 * 1024}\r\n`);
    assert.equal(show(await big.readOne()), "-ERR Protocol error: invalid bulk length");
    assert.equal(await big.waitClosed(), true);
    const quote = await RawClient.connect(server.port);
    quote.sendRaw('SET "a b\r\n');
    assert.equal(show(await quote.readOne()), "-ERR Protocol error: unbalanced quotes in request");
    assert.equal(await quote.waitClosed(), true);
  });

  it("hands a write run to the node while earlier runs are in flight, and answers in request order", async () => {
    backend.placesRuns = true; // the backend answers the runs in flight newest first
    backend.delayMs = 40;
    backend.runsInFlightMax = 0;
    const ordersBefore = backend.orders.length;
    const entriesBefore = backend.entries.length;
    try {
      const client = await RawClient.connect(server.port);
      // Ten INCRs a few milliseconds apart: each arrives while the earlier ones wait, so each is a run of its own.
      for (let i = 0; i < 10; i++) {
        client.send(["INCR", "pipelined"]);
        await new Promise((resolve) => setTimeout(resolve, 4));
      }
      client.send(["SET", "pipelined-big", "x".repeat(100)], ["GET", "pipelined"]);
      await new Promise((resolve) => setTimeout(resolve, 4));
      client.send(["INCR", "pipelined"]); // arrives while the run with the GET is in flight
      const replies = (await client.read(13, 10_000)).map((reply) => show(reply as RespValue));
      const expected = [...Array.from({ length: 10 }, (_, i) => `:${i + 1}`), "+OK", "$10", ":11"];
      assert.deepEqual(replies, expected);
      assert.ok(backend.runsInFlightMax >= 3, `at most ${backend.runsInFlightMax} run(s) were in flight at once`);
      // Every run handed over while an earlier one waited made that one unsendable again (write-order.ts).
      const orders = backend.orders.slice(ordersBefore);
      assert.ok(orders.length >= 3);
      assert.ok(orders.slice(0, 3).every((order) => order.laterSent && order.placed));
      // The run holding a read (SET, GET) is answered before the next run goes: one run's read replies at a time.
      const entries = backend.entries.slice(entriesBefore); // one per placed run, in the orders' order
      const withRead = entries.findIndex((entry) =>
        entry.some((argv) => Buffer.from(argv[0] ?? []).toString() === "GET"),
      );
      assert.ok(withRead >= 0 && withRead < orders.length - 1, "the run with a GET is followed by another");
      assert.equal(
        orders[withRead]?.laterSent,
        false,
        "nothing was handed over while the run with a GET was in flight",
      );
      client.close();
    } finally {
      backend.placesRuns = false;
      backend.delayMs = 0;
    }
  });

  it("QUIT answers OK and closes; requests after it are not run; a half-closed client still gets its replies", async () => {
    const client = await RawClient.connect(server.port);
    client.send(["SET", "quit-k", "1"], ["QUIT"], ["SET", "quit-k", "2"]);
    assert.deepEqual((await client.read(2)).map(show), ["+OK", "+OK"]);
    assert.equal(await client.waitClosed(), true);
    const reader = await RawClient.connect(server.port);
    backend.delayMs = 20;
    reader.send(["GET", "quit-k"], ["SET", "x", "y"], ["GET", "x"]);
    reader.socket.end();
    assert.deepEqual((await reader.read(3)).map(show), ["$1", "+OK", "$y"]);
    backend.delayMs = 0;
    assert.equal(await reader.waitClosed(), true);
  });

  it("a client that never reads stops being read: the server processes a bounded number of requests", async () => {
    const writer = await RawClient.connect(server.port);
    const value = "v".repeat(100 * 1024);
    assert.equal(show(await writer.call("SET", "big", value)), "+OK");
    writer.close();
    const before = backend.readBatches.reduce((sum, batch) => sum + batch.size, 0);
    const socket = connect(server.port, "127.0.0.1");
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.pause(); // never read: the server's writes back up
    const request = encodeCommand(["GET", "big"]);
    const total = 5000; // 500 MB of replies if the server kept answering
    let written = 0;
    const pump = (): void => {
      while (written < total) {
        written++;
        if (!socket.write(request)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    pump();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const processed = backend.readBatches.reduce((sum, batch) => sum + batch.size, 0) - before;
    // Bounded by the socket buffers (kernel + Node's) plus one queue of requests, not by what the client sent.
    assert.ok(processed < 2 * PENDING_REQUESTS_MAX, `processed ${processed} GETs for a client that reads nothing`);
    const memory = process.memoryUsage();
    assert.ok(memory.rss < 1024 * 1024 * 1024, `rss ${memory.rss}`);
    // Reading again lets everything through, in order.
    let bytes = 0;
    const expected = total * Buffer.byteLength(`$${value.length}\r\n${value}\r\n`);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${bytes} of ${expected} bytes`)), 60_000);
      socket.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        if (bytes >= expected) {
          clearTimeout(timer);
          resolve();
        }
      });
      socket.resume();
    });
    assert.equal(bytes, expected);
    socket.destroy();
  });

  it("every close path frees the client, though the client never closes its side", async () => {
    const before = { connections: server.connectionCount, sockets: server.socketCount };
    const held: Socket[] = [];
    const halfOpen = async (): Promise<Socket> => {
      const socket = connect({ port: server.port, host: "127.0.0.1", allowHalfOpen: true });
      socket.on("error", () => undefined);
      await new Promise((resolve) => socket.once("connect", resolve));
      held.push(socket);
      return socket;
    };
    (await halfOpen()).write(encodeCommand(["QUIT"]));
    (await halfOpen()).write("*1\r\n$x\r\n"); // a protocol error
    (await halfOpen()).end(encodeCommand(["PING"])); // the client's own half-close
    // A subscriber that reads nothing, pushed past the pub/sub output limit (Redis drops it).
    const subscriber = await halfOpen();
    subscriber.pause();
    subscriber.write(encodeCommand(["SUBSCRIBE", "flood"]));
    const publisher = await RawClient.connect(server.port);
    await waitFor(() => server.connectionCount === before.connections + 5);
    const message = "m".repeat(1024 * 1024);
    for (let i = 0; i * message.length <= PUBSUB_OUTPUT_BYTES_MAX + 8 * message.length; i++) {
      await publisher.call("PUBLISH", "flood", message);
    }
    publisher.close();
    await waitFor(() => server.connectionCount === before.connections && server.socketCount === before.sockets);
    assert.deepEqual({ connections: server.connectionCount, sockets: server.socketCount }, before);
    for (const socket of held) socket.destroy();
  });

  it("a connection refused past maxclients is closed, though the client never closes its side", async () => {
    const small = await RespServer.start({ host: "127.0.0.1", port: 0, backend: new TestBackend(), clientsMax: 1 });
    try {
      const admitted = await RawClient.connect(small.port);
      assert.equal(show(await admitted.call("PING")), "+PONG");
      const refused = connect({ port: small.port, host: "127.0.0.1", allowHalfOpen: true });
      refused.on("error", () => undefined);
      let received = "";
      refused.on("data", (chunk: Buffer) => {
        received += chunk.toString();
      });
      await waitFor(() => received !== "");
      assert.equal(received, "-ERR max number of clients reached\r\n");
      await waitFor(() => small.socketCount === 1);
      assert.equal(small.socketCount, 1);
      refused.destroy();
      admitted.close();
    } finally {
      await small.close();
    }
  });

  it("random bytes in random chunks never crash the server; each connection answers or closes in time", async () => {
    const random = new Prng(20240604);
    const alphabet = Buffer.from("*$\r\n0123456789-+:abcSETGET \"'\\x", "latin1");
    for (let round = 0; round < 60; round++) {
      const client = await RawClient.connect(server.port);
      const length = 1 + random.int(4000);
      const bytes = Buffer.alloc(length);
      for (let i = 0; i < length; i++) {
        bytes[i] = random.next() < 0.7 ? (alphabet[random.int(alphabet.length)] as number) : random.int(256);
      }
      for (let at = 0; at < length; ) {
        const size = 1 + random.int(64);
        client.sendRaw(bytes.subarray(at, at + size));
        at += size;
      }
      client.socket.end(); // nothing more: the server must finish and close
      assert.equal(await client.waitClosed(5000), true, `round ${round} did not close`);
    }
    const probe = await RawClient.connect(server.port);
    assert.equal(show(await probe.call("PING")), "+PONG");
    probe.close();
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
}
