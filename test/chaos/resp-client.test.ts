/**
 * The chaos RESP client: reply decoding, and the guard that keeps MULTI … EXEC on the connection that holds the
 * WATCH (a reconnect in between would run the SET unconditionally and make a CAS look successful).
 */
import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { after, describe, test } from "node:test";
import { decodeReply, RespClient, RespFailure } from "./resp-client.js";

describe("decodeReply", () => {
  test("decodes simple, error, integer, bulk, nil and nested arrays", () => {
    assert.deepEqual(decodeReply(Buffer.from("+OK\r\n")), { type: "simple", value: "OK" });
    assert.deepEqual(decodeReply(Buffer.from("-TRYAGAIN No leader\r\n")), {
      type: "error",
      message: "TRYAGAIN No leader",
    });
    assert.deepEqual(decodeReply(Buffer.from(":-3\r\n")), { type: "integer", value: -3 });
    assert.deepEqual(decodeReply(Buffer.from("$3\r\n1.2\r\n")), { type: "bulk", value: "1.2" });
    assert.deepEqual(decodeReply(Buffer.from("$-1\r\n")), { type: "bulk", value: null });
    assert.deepEqual(decodeReply(Buffer.from("*-1\r\n")), { type: "array", items: null });
    assert.deepEqual(decodeReply(Buffer.from("*2\r\n+OK\r\n*1\r\n$0\r\n\r\n")), {
      type: "array",
      items: [
        { type: "simple", value: "OK" },
        { type: "array", items: [{ type: "bulk", value: "" }] },
      ],
    });
  });
});

describe("RespClient", () => {
  const sockets: Socket[] = [];
  let received = "";
  const server: Server = createServer((socket) => {
    sockets.push(socket);
    socket.on("data", (chunk: Buffer) => {
      received += chunk.toString();
      // One +OK per command (each multibulk starts with '*').
      const commands = chunk.toString().match(/^\*/gm)?.length ?? 0;
      socket.write("+OK\r\n".repeat(commands));
    });
  });
  const listening = new Promise<number>((done) =>
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      done(typeof address === "object" && address !== null ? address.port : 0);
    }),
  );
  after(() => {
    for (const socket of sockets) socket.destroy();
    server.close();
  });

  test("pipelines replies in order and refuses a session's commands once its connection is gone", async () => {
    const client = new RespClient(1, await listening, 2000);
    assert.deepEqual(await client.command(["WATCH", "k"]), { type: "simple", value: "OK" });
    const session = client.session;
    assert.equal(typeof session, "number");
    const replies = await client.pipeline([["MULTI"], ["SET", "k", "v"], ["EXEC"]], session);
    assert.equal(replies.length, 3);
    // The server drops the connection: the WATCH went with it.
    sockets.at(-1)?.destroy();
    await new Promise((done) => setTimeout(done, 50));
    received = "";
    await assert.rejects(
      client.pipeline([["MULTI"], ["SET", "k", "w"], ["EXEC"]], session),
      (error: unknown) => error instanceof RespFailure && error.definite,
    );
    assert.equal(received, "", "nothing may be sent on a new connection");
    // Without a session the client reconnects.
    assert.deepEqual(await client.command(["GET", "k"]), { type: "simple", value: "OK" });
    client.close();
  });

  test("a refused connection is a definite failure; a missing reply is not", async () => {
    const port = await listening;
    const refused = new RespClient(1, 1, 500);
    await assert.rejects(
      refused.command(["GET", "k"]),
      (error: unknown) => error instanceof RespFailure && error.definite,
    );
    const silent = createServer(() => undefined);
    await new Promise<void>((done) => silent.listen(0, "127.0.0.1", done));
    const address = silent.address();
    const mute = new RespClient(2, typeof address === "object" && address !== null ? address.port : port, 200);
    await assert.rejects(
      mute.command(["SET", "k", "v"]),
      (error: unknown) => error instanceof RespFailure && !error.definite && error.message === "timeout",
    );
    mute.close();
    silent.close();
  });
});
