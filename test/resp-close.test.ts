/**
 * A RESP connection closed by the server (protocol error, QUIT, the client's half-close) really closes: the
 * client sees the close even when it is blocked writing, and the node frees the client and its file descriptor —
 * checked on a real node process over real TCP, by INFO's connected_clients and /proc/<pid>/fd.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { after, before, describe, it } from "node:test";
import { Prng } from "../src/lib/prng.js";
import { RawClient, show } from "../src/resp/server/testing/raw-client.js";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

const CLOSE_TIMEOUT_MS = 10_000;

describe("a connection the server closes is freed", { skip: process.platform !== "linux" && "needs /proc" }, () => {
  let cluster: ProcessCluster;
  let port: number;
  let pid: number;
  let monitor: RawClient;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 1 });
    port = cluster.respPort(1);
    pid = cluster.nodes.get(1)?.child?.pid as number;
    monitor = await RawClient.connect(port);
  });
  after(async () => {
    monitor.close();
    await cluster.stop();
  });

  async function connectedClients(): Promise<number> {
    const reply = await monitor.call("INFO", "clients");
    const text = show(reply);
    const match = /connected_clients:(\d+)/.exec(text);
    assert.ok(match, text);
    return Number(match[1]);
  }

  function openFds(): number {
    return readdirSync(`/proc/${pid}/fd`).length;
  }

  /** Polls until the node is back to `clients` connections and `fds` descriptors; asserts the last figures. */
  async function assertBackTo(clients: number, fds: number): Promise<void> {
    const deadline = Date.now() + 5000;
    let now = { clients: await connectedClients(), fds: openFds() };
    while ((now.clients !== clients || now.fds !== fds) && Date.now() < deadline) {
      await sleep(50);
      now = { clients: await connectedClients(), fds: openFds() };
    }
    assert.deepEqual(now, { clients, fds });
  }

  it("an oversized inline request, a 100 KB garbage stream and a blocked writer all see the close", async () => {
    const clients = await connectedClients();
    const fds = openFds();
    for (let round = 0; round < 3; round++) {
      // An inline request past Redis's 64 KiB limit: the error, then the close.
      const inline = await RawClient.connect(port);
      inline.sendRaw(`SET k ${"a".repeat(100 * 1024)}`);
      assert.equal(show(await inline.readOne()), "-ERR Protocol error: too big inline request");
      assert.equal(await inline.waitClosed(CLOSE_TIMEOUT_MS), true, "inline client not closed");

      // 100 KB of random bytes (a seeded stream; it breaks the protocol somewhere).
      const garbage = await RawClient.connect(port);
      const random = new Prng(1000 + round);
      const bytes = Buffer.alloc(100 * 1024);
      for (let i = 0; i < bytes.length; i++) bytes[i] = random.int(256);
      garbage.sendRaw(bytes);
      assert.equal(await garbage.waitClosed(CLOSE_TIMEOUT_MS), true, "garbage client not closed");

      // A client that keeps writing an endless inline request and never reads: its writes block once the
      // server stops reading, so it learns of the close only if the server really closes.
      assert.equal(await blockedWriterSeesClose(port), true, "blocked writer never saw the close");
    }
    await assertBackTo(clients, fds);
  });

  it("QUIT and a client's half-close free the connection though the client keeps its side open", async () => {
    const clients = await connectedClients();
    const fds = openFds();
    const sockets: Socket[] = [];
    for (let round = 0; round < 3; round++) {
      const quitter = await halfOpenClient(port);
      sockets.push(quitter.socket);
      quitter.socket.write("*1\r\n$4\r\nQUIT\r\n");
      assert.equal(await quitter.ended, true, "QUIT client saw no end");
      assert.equal(quitter.received(), "+OK\r\n");

      const ender = await halfOpenClient(port);
      sockets.push(ender.socket);
      ender.socket.end("*1\r\n$4\r\nPING\r\n");
      assert.equal(await ender.ended, true, "half-closed client saw no end");
      assert.equal(ender.received(), "+PONG\r\n");
    }
    // The clients still hold their sockets: only the server's full close frees its side.
    await assertBackTo(clients, fds);
    for (const socket of sockets) socket.destroy();
  });
});

/** Writes an inline request with no end, honouring backpressure, until the socket closes or errors. */
async function blockedWriterSeesClose(port: number): Promise<boolean> {
  const socket = connect({ host: "127.0.0.1", port });
  await new Promise((done) => socket.once("connect", done));
  socket.pause();
  const chunk = Buffer.alloc(64 * 1024, "x");
  const closed = new Promise<boolean>((done) => {
    socket.once("close", () => done(true));
    socket.on("error", () => undefined);
    setTimeout(() => done(false), CLOSE_TIMEOUT_MS).unref();
  });
  const pump = (): void => {
    while (!socket.destroyed && socket.write(chunk));
    if (!socket.destroyed) socket.once("drain", pump);
  };
  pump();
  const result = await closed;
  socket.destroy();
  return result;
}

/** A client that does not close its own side when the server closes (allowHalfOpen). */
async function halfOpenClient(
  port: number,
): Promise<{ socket: Socket; ended: Promise<boolean>; received: () => string }> {
  const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
  await new Promise((done) => socket.once("connect", done));
  let text = "";
  socket.on("data", (chunk: Buffer) => {
    text += chunk.toString("latin1");
  });
  socket.on("error", () => undefined);
  const ended = new Promise<boolean>((done) => {
    socket.once("end", () => done(true));
    setTimeout(() => done(false), CLOSE_TIMEOUT_MS).unref();
  });
  return { socket, ended, received: () => text };
}
