import assert from "node:assert/strict";
import { createConnection, createServer, type Socket } from "node:net";
import { test } from "node:test";
import { ReadPacer } from "./read-pacer.js";

const CHUNK_BYTES = 64 * 1024; // what Node reads from a socket at most per read

/** Sends `totalBytes` over loopback to a server socket read with `pacer` (or unpaced); returns the most bytes its
 * data handler took in one event-loop turn (turns are told apart by an immediate that re-arms itself). */
async function mostBytesInOneTurn(totalBytes: number, budget: number | undefined): Promise<number> {
  let turn = 0;
  let ticking = true;
  const tick = (): void => {
    turn++;
    if (ticking) setImmediate(tick);
  };
  setImmediate(tick);
  const perTurn = new Map<number, number>();
  let received = 0;
  const done = new Promise<void>((resolve) => {
    const server = createServer((socket: Socket) => {
      const pacer =
        budget === undefined
          ? undefined
          : new ReadPacer(() => {
              if (!socket.destroyed) socket.resume();
            }, budget);
      // Read only once the client has filled the kernel's buffers, so a poll finds far more than one chunk
      // waiting whatever the machine's load (otherwise the unpaced control can see one chunk per turn).
      socket.pause();
      setTimeout(() => socket.resume(), 100);
      socket.on("data", (chunk: Buffer) => {
        perTurn.set(turn, (perTurn.get(turn) ?? 0) + chunk.length);
        received += chunk.length;
        if (pacer?.consumed(chunk.length)) socket.pause();
        if (received === totalBytes) {
          socket.destroy();
          server.close();
          resolve();
        }
      });
    });
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      assert(address !== null && typeof address === "object");
      const client = createConnection(address.port, "127.0.0.1", () => {
        client.end(Buffer.alloc(totalBytes, 1));
      });
      client.on("error", () => {});
    });
  });
  await done;
  ticking = false;
  return Math.max(...perTurn.values());
}

test("a paced socket hands its data handler at most the budget (plus what was already buffered) per turn", async () => {
  const budget = 128 * 1024;
  const most = await mostBytesInOneTurn(16 * 1024 * 1024, budget);
  // The chunk that spends the budget, and at most the readable buffer's worth Node had read before pausing.
  assert.ok(most <= budget + 2 * CHUNK_BYTES, `${most} bytes in one turn with a budget of ${budget}`);
});

test("the same load unpaced takes several chunks in one turn (so the paced bound above is not vacuous)", async () => {
  const most = await mostBytesInOneTurn(16 * 1024 * 1024, undefined);
  assert.ok(most > 128 * 1024 + 2 * CHUNK_BYTES, `unpaced, the most in one turn was only ${most} bytes`);
});

test("parsed arguments spend a turn's budget too, and the next turn restores it", async () => {
  let turns = 0;
  const pacer = new ReadPacer(() => turns++, 1024 * 1024, 100);
  assert.equal(pacer.argsLeft, 100);
  assert.equal(pacer.parsed(60), false);
  assert.equal(pacer.argsLeft, 40);
  assert.equal(pacer.parsed(40), true);
  assert.equal(pacer.exhausted, true);
  assert.equal(pacer.argsLeft, 1, "a request always moves by at least one argument");
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(turns, 1);
  assert.equal(pacer.exhausted, false);
  assert.equal(pacer.argsLeft, 100);
});
