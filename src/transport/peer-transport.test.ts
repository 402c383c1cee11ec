import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import { setImmediate as nextTurn } from "node:timers/promises";
import { ShoalError } from "../lib/errors.js";
import type { AppendEntriesMessage, Message } from "../raft/types.js";
import { encodeEnvelope } from "./envelope.js";
import { encodeFrames } from "./frame-codec.js";
import {
  addressOf,
  appendEntries,
  capturingLogger,
  collect,
  heartbeat,
  snapshotChunk,
  startMesh,
  startTransport,
  stopAll,
  waitFor,
} from "./loopback-kit.js";
import type { PeerTransport } from "./peer-transport.js";

/** Every transport a test starts is stopped, even when the test fails, so no socket outlives the run. */
const started: PeerTransport[] = [];
after(() => stopAll(started));

function track<T extends PeerTransport | PeerTransport[]>(value: T): T {
  if (Array.isArray(value)) started.push(...value);
  else started.push(value);
  return value;
}

/** A loopback port with nothing listening on it (bound once, then released). */
async function deadAddress(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `127.0.0.1:${address.port}`;
}

function hasCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => error instanceof ShoalError && error.code === code;
}

describe("PeerTransport messaging", () => {
  it("three transports exchange messages with their bytes intact", async () => {
    const mesh = track(await startMesh(3));
    const inboxes = mesh.map(collect);
    for (const sender of mesh) {
      const messages: Message[] = mesh
        .filter((other) => other !== sender)
        .map((other) =>
          appendEntries(sender.selfId, other.selfId, 10 + sender.selfId, new Uint8Array([sender.selfId, 0, 255])),
        );
      sender.send(messages);
    }
    await waitFor("every node to receive two messages", () => inboxes.every((inbox) => inbox.length === 2));
    for (const [index, inbox] of inboxes.entries()) {
      const selfId = index + 1;
      const senders = inbox.map((message) => message.from).sort();
      assert.deepEqual(
        senders,
        [1, 2, 3].filter((id) => id !== selfId),
      );
      for (const message of inbox) {
        assert.equal(message.to, selfId);
        assert.equal(message.type, "appendEntries");
        const data = (message as AppendEntriesMessage).entries[0]!.data;
        assert.ok(data instanceof Uint8Array);
        assert.deepEqual([...data], [message.from, 0, 255]);
      }
    }
    const stats = mesh[0]!.stats();
    assert.equal(stats.peers["2"]!.messagesSent, 1);
    assert.equal(stats.peers["2"]!.messagesReceived, 1);
    assert.ok(stats.peers["2"]!.connected);
    await stopAll(mesh);
  });

  it("preserves the order of messages to each peer within a channel: appends among appends, heartbeats among heartbeats", async () => {
    const [a, b] = track(await startMesh(2));
    const inbox = collect(b!);
    const total = 20_000;
    for (let index = 1; index <= total; index += 500) {
      const batch: Message[] = [];
      for (let i = index; i < index + 500; i++) {
        batch.push(i % 7 === 0 ? heartbeat(1, 2, i) : appendEntries(1, 2, i, new Uint8Array(64)));
      }
      a!.send(batch);
      await nextTurn();
    }
    await waitFor("all messages", () => inbox.length === total);
    const sequence = (type: Message["type"]): number[] =>
      inbox
        .filter((message) => message.type === type)
        .map((message) =>
          message.type === "heartbeat"
            ? message.commit
            : message.type === "appendEntries"
              ? message.entries[0]!.index
              : -1,
        );
    const expected = (heartbeats: boolean): number[] =>
      Array.from({ length: total }, (_, i) => i + 1).filter((i) => (i % 7 === 0) === heartbeats);
    assert.deepEqual(sequence("appendEntries"), expected(false));
    assert.deepEqual(sequence("heartbeat"), expected(true));
    assert.equal(a!.stats().peers["2"]!.drops, 0);
    await stopAll([a!, b!]);
  });

  it("never queues a heartbeat behind a big append: the append travels on the data channel", async () => {
    const [a, b] = track(await startMesh(2));
    const inbox = collect(b!);
    // A 16 MiB entry takes the receiver at least 16 event-loop turns to read (1 MiB per turn, io/node/read-pacer.ts);
    // on one shared connection the heartbeat sent after it arrived after it, whatever the machine (issue 10).
    a!.send([appendEntries(1, 2, 1, new Uint8Array(16 * 1024 * 1024)), heartbeat(1, 2, 7)]);
    await waitFor("both messages", () => inbox.length === 2);
    assert.deepEqual(
      inbox.map((message) => message.type),
      ["heartbeat", "appendEntries"],
    );
    assert.equal(b!.stats().inboundConnections, 2, "one connection per channel from the peer");
    await stopAll([a!, b!]);
  });

  it("delivers large payloads, written frame by frame without a copy, intact and in order with small ones", async () => {
    const [a, b] = track(await startMesh(2));
    const inbox = collect(b!);
    const sizes = [10, 3 * 1024 * 1024, 7, 600 * 1024, 1, 2 * 1024 * 1024 + 3];
    const payloads = sizes.map((size, i) => {
      const bytes = new Uint8Array(size);
      for (let j = 0; j < size; j += 4093) bytes[j] = (i * 31 + j) & 0xff;
      return bytes;
    });
    a!.send(payloads.slice(0, 3).map((data, i) => appendEntries(1, 2, i + 1, data)));
    a!.send(payloads.slice(3).map((data, i) => appendEntries(1, 2, i + 4, data)));
    await waitFor("every message", () => inbox.length === sizes.length);
    for (const [i, message] of inbox.entries()) {
      const entry = (message as AppendEntriesMessage).entries[0]!;
      assert.equal(entry.index, i + 1);
      assert.ok(Buffer.from(entry.data).equals(Buffer.from(payloads[i]!)), `payload ${i} intact`);
    }
    await stopAll([a!, b!]);
  });

  it("lets heartbeats overtake a backlog of snapshot chunks", async () => {
    const [a, b] = track(await startMesh(2));
    const inbox = collect(b!);
    a!.send([heartbeat(1, 2, 0)]);
    await waitFor("the connection", () => inbox.length === 1);
    const chunk = new Uint8Array(1 << 20);
    a!.send(Array.from({ length: 16 }, (_, i) => snapshotChunk(1, 2, i << 20, chunk)));
    await nextTurn();
    a!.send([heartbeat(1, 2, 1)]);
    await waitFor("all chunks and the heartbeat", () => inbox.length === 18, 10_000);
    const position = inbox.findIndex((message) => message.type === "heartbeat" && message.commit === 1);
    assert.ok(position < 5, `heartbeat arrived at position ${position}, behind most of the snapshot`);
    await stopAll([a!, b!]);
  });

  it("reconnects to a peer that restarts and delivers what was queued meanwhile", async () => {
    const a = track(await startTransport(1));
    let b = track(await startTransport(2));
    const port = b.listenAddress.port;
    a.setPeer(2, addressOf(b));
    let inbox = collect(b);
    a.send([heartbeat(1, 2, 1)]);
    await waitFor("first delivery", () => inbox.length === 1);
    await b.stop();
    await waitFor("the link to notice", () => !a.stats().peers["2"]!.connected);
    a.send([heartbeat(1, 2, 2)]); // queued while the peer is down
    b = track(await startTransport(2, { listenPort: port }));
    inbox = collect(b);
    await waitFor("delivery after the restart", () => inbox.length === 1);
    a.send([heartbeat(1, 2, 3)]);
    await waitFor("the next message", () => inbox.length === 2);
    assert.deepEqual(
      inbox.map((message) => (message.type === "heartbeat" ? message.commit : -1)),
      [2, 3],
    );
    const stats = a.stats().peers["2"]!;
    assert.ok(stats.reconnects >= 1);
    assert.ok(stats.connectFailures >= 1);
    await stopAll([a, b]);
  });

  it("redials at once when a peer's address changes", async () => {
    const a = track(await startTransport(1));
    const b1 = track(await startTransport(2));
    a.setPeer(2, addressOf(b1));
    await waitFor("connected", () => a.stats().peers["2"]!.connected);
    const b2 = track(await startTransport(2));
    const inbox = collect(b2);
    a.setPeer(2, addressOf(b2));
    a.send([heartbeat(1, 2, 5)]);
    await waitFor("delivery at the new address", () => inbox.length === 1);
    await stopAll([a, b1, b2]);
  });

  it("keeps queues within their bounds while a peer is down", async () => {
    const a = track(
      await startTransport(1, {
        peers: new Map([[2, await deadAddress()]]),
        frameBytesMax: 4096,
        queueCountMax: 100,
        queueBytesMax: 16_384,
        bulkQueueCountMax: 4,
        bulkQueueBytesMax: 8192,
      }),
    );
    const heapBeforeBytes = process.memoryUsage().heapUsed;
    let sent = 0;
    for (let round = 0; round < 100; round++) {
      const batch: Message[] = [];
      for (let i = 0; i < 500; i++) batch.push(appendEntries(1, 2, ++sent, new Uint8Array(100)));
      batch.push(snapshotChunk(1, 2, round, new Uint8Array(2000)));
      a.send(batch);
      sent++;
      await nextTurn();
    }
    const stats = a.stats().peers["2"]!;
    assert.ok(stats.queuedCount <= 104, `queued ${stats.queuedCount}`);
    assert.ok(stats.queuedBytes <= 16_384 + 8192, `queued ${stats.queuedBytes} bytes`);
    assert.equal(stats.drops + stats.queuedCount, sent);
    assert.equal(stats.messagesSent, 0);
    // 50,000 messages went through; what is retained is only the bounded queue (generous slack for GC timing).
    assert.ok(process.memoryUsage().heapUsed - heapBeforeBytes < 32 * 1024 * 1024);
    await a.stop();
  });

  it("drops messages for unknown peers and counts them", async () => {
    const a = track(await startTransport(1));
    a.send([heartbeat(1, 9, 1)]);
    assert.equal(a.stats().unroutableDrops, 1);
    await a.stop();
  });
});

describe("PeerTransport requests", () => {
  it("answers requests and passes handler errors through with their code", async () => {
    const [a, b] = track(await startMesh(2));
    b!.onRequest(async (from, payload) => {
      const op = (payload as { op: string }).op;
      if (op === "redirect") throw new ShoalError("NOT_LEADER", "ask node 3", { leader: 3 });
      if (op === "crash") throw new Error("handler bug");
      return { from, echo: payload, bytes: Buffer.from([1, 2]) };
    });
    const answer = (await a!.request(2, { op: "get", key: "k" }, 2000)) as { from: number; bytes: Uint8Array };
    assert.equal(answer.from, 1);
    assert.ok(answer.bytes instanceof Uint8Array);
    await assert.rejects(a!.request(2, { op: "redirect" }, 2000), hasCode("NOT_LEADER"));
    await assert.rejects(a!.request(2, { op: "crash" }, 2000), hasCode("INTERNAL"));
    const many = await Promise.all(Array.from({ length: 200 }, (_, i) => a!.request(2, { op: "n", i }, 2000)));
    assert.equal(many.length, 200);
    assert.equal(a!.stats().peers["2"]!.requestsSent, 203);
    await stopAll([a!, b!]);
  });

  it("times out when the handler never answers", async () => {
    const [a, b] = track(await startMesh(2));
    b!.onRequest(() => new Promise(() => {}));
    const startMs = performance.now();
    await assert.rejects(a!.request(2, "hang", 150), hasCode("TIMEOUT"));
    const elapsedMs = performance.now() - startMs;
    assert.ok(elapsedMs >= 140 && elapsedMs < 1000, `took ${elapsedMs} ms`);
    await stopAll([a!, b!]);
  });

  it("fails fast when the connection drops with a request in flight", async () => {
    const [a, b] = track(await startMesh(2));
    b!.onRequest(() => new Promise(() => {}));
    await waitFor("connected", () => a!.stats().peers["2"]!.connected);
    const pending = a!.request(2, "hang", 10_000);
    await waitFor("the request to arrive", () => b!.stats().peers["1"]?.requestsReceived === 1);
    const startMs = performance.now();
    await b!.stop();
    await assert.rejects(pending, hasCode("UNKNOWN_OUTCOME")); // it was delivered: the outcome is unknown
    assert.ok(performance.now() - startMs < 1000);
    await a!.stop();
  });

  it("withdraws an abandoned request that was not written yet: UNAVAILABLE, and the peer never sees it", async () => {
    const [a, b] = track(await startMesh(2));
    let received = 0;
    b!.onRequest(async () => {
      received++;
      return "ran";
    });
    await waitFor("connected", () => a!.stats().peers["2"]!.connected);
    const controller = new AbortController();
    const pending = a!.request(2, "x", 10_000, controller.signal);
    controller.abort(new Error("leadership moved")); // the writer flushes on the next turn: still queued
    await assert.rejects(pending, (error: unknown) => hasCode("UNAVAILABLE")(error) && /not sent/.test(`${error}`));
    assert.equal(await a!.request(2, "after", 2000), "ran"); // the link still works, and carried only this one
    assert.equal(received, 1);
    await assert.rejects(a!.request(2, "y", 2000, controller.signal), hasCode("UNAVAILABLE")); // already aborted
    assert.equal(received, 1);
    await stopAll([a!, b!]);
  });

  it("fails an abandoned request that was written with UNKNOWN_OUTCOME at once, not at its timeout", async () => {
    const [a, b] = track(await startMesh(2));
    b!.onRequest(() => new Promise(() => {}));
    const controller = new AbortController();
    const pending = a!.request(2, "hang", 10_000, controller.signal);
    await waitFor("the request to arrive", () => b!.stats().peers["1"]?.requestsReceived === 1);
    const startMs = performance.now();
    controller.abort(new Error("leadership moved"));
    await assert.rejects(
      pending,
      (error: unknown) => hasCode("UNKNOWN_OUTCOME")(error) && /leadership moved/.test(`${error}`),
    );
    assert.ok(performance.now() - startMs < 1000);
    await stopAll([a!, b!]);
  });

  it("reports a peer whose process is gone (its port refuses connections), not one that is merely silent", async () => {
    const [a, b] = track(await startMesh(2));
    const refused: number[] = [];
    a!.onPeerRefused((peerId) => refused.push(peerId));
    b!.onRequest(() => new Promise(() => {})); // alive but never answering
    await waitFor("connected", () => a!.stats().peers["2"]!.connected);
    void a!.request(2, "hang", 300).catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(refused, []);
    await b!.stop();
    await waitFor("the refused redial", () => refused.length > 0);
    assert.equal(refused[0], 2);
    await a!.stop();
  });

  it("is UNAVAILABLE for unreachable, unknown and handler-less peers", async () => {
    const a = track(await startTransport(1, { peers: new Map([[2, await deadAddress()]]) }));
    const startMs = performance.now();
    await assert.rejects(a.request(2, "x", 5000), hasCode("UNAVAILABLE"));
    await assert.rejects(a.request(2, "x", 5000), hasCode("UNAVAILABLE")); // now fails fast during backoff
    assert.ok(performance.now() - startMs < 1000);
    await assert.rejects(a.request(9, "x", 5000), hasCode("UNAVAILABLE"));
    const c = track(await startTransport(3));
    a.setPeer(3, addressOf(c));
    await assert.rejects(a.request(3, "x", 5000), hasCode("UNAVAILABLE"));
    await assert.rejects(a.request(3, 2n ** 70n, 5000), hasCode("BAD_REQUEST")); // beyond msgpack's integers
    await stopAll([a, c]);
  });

  it("fails pending requests when stopped", async () => {
    const [a, b] = track(await startMesh(2));
    b!.onRequest(() => new Promise(() => {}));
    const pending = a!.request(2, "hang", 10_000);
    await a!.stop();
    await assert.rejects(pending, (error: unknown) => error instanceof ShoalError);
    await b!.stop();
  });
});

describe("PeerTransport against hostile input", () => {
  async function rawSocket(address: string): Promise<Socket> {
    const [host, port] = address.split(":");
    const socket = connect({ host: host!, port: Number(port) });
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    socket.on("error", () => {});
    return socket;
  }

  function closed(socket: Socket): Promise<void> {
    return new Promise((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once("close", () => resolve());
    });
  }

  function hello(from: number, to: number): Buffer {
    return encodeFrames([encodeEnvelope({ k: "hello", v: 1, from, to })]);
  }

  it("closes connections that send garbage, oversized frames or a bad hello, and keeps working", async () => {
    const logger = capturingLogger();
    const b = track(await startTransport(2, { logger, frameBytesMax: 1024, helloTimeoutMs: 200 }));
    const address = addressOf(b);
    const oversized = Buffer.alloc(8);
    oversized.writeUInt32BE(1025);
    const inputs: Buffer[] = [
      Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), // length prefix ~1.2 GB
      oversized, // just over frameBytesMax, body never sent
      Buffer.concat([hello(1, 2), encodeFrames([Buffer.from([0xc1, 0xff, 0x00])])]), // undecodable msgpack
      hello(1, 3), // meant for another node
      encodeFrames([encodeEnvelope({ k: "raft", m: heartbeat(1, 2, 1) })]), // no hello first
      Buffer.concat([hello(1, 2), encodeFrames([encodeEnvelope({ k: "raft", m: heartbeat(5, 2, 1) })])]), // spoofed sender
      Buffer.concat([hello(1, 2), Buffer.from([0, 0, 0, 0])]), // zero-length frame
      Buffer.alloc(0), // says nothing: closed by the hello timeout
    ];
    for (const input of inputs) {
      const socket = await rawSocket(address);
      socket.write(input);
      await closed(socket);
    }
    assert.equal(b.stats().protocolErrors, inputs.length);
    assert.equal(logger.lines.filter((line) => line.level === "error").length, inputs.length);
    const a = track(await startTransport(1));
    a.setPeer(2, address);
    const inbox = collect(b);
    a.send([heartbeat(1, 2, 42)]);
    await waitFor("a healthy peer to still get through", () => inbox.length === 1);
    await stopAll([a, b]);
  });

  it("does not buffer a large frame from a connection that has not said hello", async () => {
    const b = track(await startTransport(2, { helloTimeoutMs: 5000 }));
    const socket = await rawSocket(addressOf(b));
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1 << 20); // legal size, but not before a hello
    const startMs = performance.now();
    socket.write(Buffer.concat([header, Buffer.alloc(64 * 1024)]));
    await closed(socket);
    assert.ok(performance.now() - startMs < 2000, "closed by the pre-hello bound, not the hello timeout");
    assert.equal(b.stats().protocolErrors, 1);
    await b.stop();
  });

  it("survives random byte streams", async () => {
    const b = track(await startTransport(2, { frameBytesMax: 4096, helloTimeoutMs: 100 }));
    let seed = 12345;
    const random = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    for (let run = 0; run < 30; run++) {
      const socket = await rawSocket(addressOf(b));
      const prefix = run % 2 === 0 ? hello(1, 2) : Buffer.alloc(0);
      const noise = Buffer.from(
        Array.from({ length: 1 + Math.floor(random() * 200) }, () => Math.floor(random() * 256)),
      );
      socket.write(Buffer.concat([prefix, noise]));
      socket.end();
      await closed(socket);
    }
    await waitFor("every connection to close", () => b.stats().inboundConnections === 0);
    await b.stop();
  });
});
