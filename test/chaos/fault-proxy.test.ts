/**
 * The fault proxy over real sockets (a blocked direction is a blackhole, the other keeps flowing, a change
 * resets the pair's connections), and the partition shapes.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { after, before, describe, test } from "node:test";
import { Prng } from "../../src/lib/prng.js";
import { FaultProxy, type Link } from "./fault-proxy.js";
import { makePartition, PARTITION_SHAPES } from "./partitions.js";

/** Node stand-ins: each answers every chunk with "<id>:" + the chunk. */
async function echoServer(id: number): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("data", (chunk: Buffer) => socket.write(`${id}:${chunk.toString()}`));
    socket.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  return { server, port: typeof address === "object" && address !== null ? address.port : 0 };
}

function dial(port: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect({ host: "127.0.0.1", port }, () => done(socket));
    socket.once("error", fail);
  });
}

/** Sends `text` and collects what comes back within `ms`. */
async function exchange(socket: Socket, text: string, ms = 150): Promise<string> {
  let received = "";
  const onData = (chunk: Buffer) => {
    received += chunk.toString();
  };
  socket.on("data", onData);
  socket.write(text);
  await new Promise((done) => setTimeout(done, ms));
  socket.off("data", onData);
  return received;
}

describe("FaultProxy", () => {
  const servers = new Map<number, { server: Server; port: number }>();
  let proxy: FaultProxy;
  before(async () => {
    for (const id of [1, 2, 3]) servers.set(id, await echoServer(id));
    proxy = await FaultProxy.start([1, 2, 3], (id) => servers.get(id)!.port);
  });
  after(async () => {
    await proxy.close();
    for (const { server } of servers.values()) server.close();
  });

  test("forwards both ways on an open link", async () => {
    const socket = await dial(proxy.port(1, 2));
    assert.equal(await exchange(socket, "hello"), "2:hello");
    socket.destroy();
  });

  test("blocking the answer direction delivers the bytes but drops the answers", async () => {
    proxy.setBlocked([[2, 1]]);
    const socket = await dial(proxy.port(1, 2));
    assert.equal(await exchange(socket, "one-way"), "");
    socket.destroy();
    proxy.heal();
  });

  test("blocking the sending direction is a blackhole: the connection stays up, nothing arrives", async () => {
    proxy.setBlocked([[1, 2]]);
    const socket = await dial(proxy.port(1, 2));
    assert.equal(await exchange(socket, "into the void"), "");
    assert.equal(socket.destroyed, false);
    socket.destroy();
    const other = await dial(proxy.port(1, 3));
    assert.equal(await exchange(other, "elsewhere"), "3:elsewhere", "other links are untouched");
    other.destroy();
    proxy.heal();
  });

  test("a change in a pair's state resets its connections, and the redial gets the new rule", async () => {
    const socket = await dial(proxy.port(1, 2));
    assert.equal(await exchange(socket, "before"), "2:before");
    const untouched = await dial(proxy.port(1, 3));
    const closed = once(socket, "close");
    proxy.setBlocked([
      [1, 2],
      [2, 1],
    ]);
    await closed;
    assert.equal(untouched.destroyed, false, "a pair whose state did not change keeps its connections");
    const blocked = await dial(proxy.port(1, 2));
    assert.equal(await exchange(blocked, "during"), "");
    const reset = once(blocked, "close");
    proxy.heal();
    await reset;
    const healed = await dial(proxy.port(1, 2));
    assert.equal(await exchange(healed, "after"), "2:after");
    healed.destroy();
    untouched.destroy();
  });

  test("a dial to a node that is down is closed at once", async () => {
    const down = servers.get(3)!;
    await new Promise<void>((done) => down.server.close(() => done()));
    const socket = await dial(proxy.port(1, 3));
    await once(socket, "close");
    down.server.listen(down.port, "127.0.0.1");
    await once(down.server, "listening");
  });
});

describe("partition shapes", () => {
  const ids = [1, 2, 3, 4, 5];
  const reach = (blocked: readonly Link[], from: number) =>
    ids.filter((to) => to !== from && !blocked.some(([a, b]) => a === from && b === to));

  test("halves cut a minority from a majority, both ways", () => {
    const partition = makePartition("halves", ids, 1, new Prng(1));
    const sizes = ids.map((id) => reach(partition.blocked, id).length + 1).sort();
    assert.deepEqual(sizes, [2, 2, 3, 3, 3]);
  });

  test("isolate-leader cuts the leader from everyone", () => {
    const partition = makePartition("isolate-leader", ids, 4, new Prng(1));
    assert.deepEqual(reach(partition.blocked, 4), []);
    assert.deepEqual(reach(partition.blocked, 1), [2, 3, 5]);
  });

  test("a majorities ring: every node sees exactly two neighbours, no two see the same majority", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const partition = makePartition("ring", ids, 1, new Prng(seed));
      const views = ids.map((id) => [id, ...reach(partition.blocked, id)].sort().join(","));
      for (const view of views) assert.equal(view.split(",").length, 3, `seed ${seed}: ${views.join(" | ")}`);
      assert.equal(new Set(views).size, 5, `seed ${seed}: ${views.join(" | ")}`);
    }
  });

  test("bridge: one node sees everyone, the two sides do not see each other", () => {
    const partition = makePartition("bridge", ids, 1, new Prng(3));
    const counts = ids.map((id) => reach(partition.blocked, id).length).sort();
    assert.deepEqual(counts, [2, 2, 2, 2, 4]);
  });

  test("one-way cuts one direction of the leader's links only", () => {
    const partition = makePartition("one-way", ids, 2, new Prng(5));
    assert.equal(partition.blocked.length, 4);
    const outgoing = partition.blocked.every(([from]) => from === 2);
    const incoming = partition.blocked.every(([, to]) => to === 2);
    assert.ok(outgoing !== incoming);
  });

  test("every shape works for 3 nodes too", () => {
    for (const shape of PARTITION_SHAPES) {
      const partition = makePartition(shape, [1, 2, 3], 1, new Prng(9));
      assert.ok(partition.blocked.length > 0, shape);
    }
  });
});
