/**
 * The store's bounds on the RESP front end (a TestBackend: entries are validated like the node's, then applied):
 * an over-long key in any position, reads included, and oversized values are refused per command before anything
 * is proposed, inside MULTI and WATCH too; a pipelined run never grows past one entry; CONFIG GET reports them.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { COMMAND_LIMITS } from "../../commands/limits.js";
import { RespServer } from "./resp-server.js";
import { RawClient, show } from "./testing/raw-client.js";
import { TestBackend } from "./testing/test-backend.js";

const { keySizeBytesMax, valueSizeBytesMax, entrySizeBytesMax } = COMMAND_LIMITS;
const KEY_ERROR = `-ERR key is longer than ${keySizeBytesMax} bytes (shoal-key-max-bytes)`;
const VALUE_ERROR = `-ERR value is longer than ${valueSizeBytesMax} bytes (shoal-value-max-bytes)`;
const ENTRY_ERROR = `-ERR request is larger than ${entrySizeBytesMax} bytes, the replicated entry limit (shoal-entry-max-bytes)`;
const MiB = 1024 * 1024;

const key = (length: number): Buffer => Buffer.alloc(length, 0x6b);

describe("RespServer: the store's bounds", () => {
  let server: RespServer;
  let backend: TestBackend;
  let client: RawClient;
  before(async () => {
    backend = new TestBackend();
    server = await RespServer.start({ host: "127.0.0.1", port: 0, backend });
    client = await RawClient.connect(server.port);
  });
  after(async () => {
    client.close();
    await server.close();
  });

  const run = async (...commands: (string | Uint8Array)[][]): Promise<string[]> => {
    client.send(...commands);
    return (await client.read(commands.length, 30_000)).map((reply) => show(reply).slice(0, 200));
  };

  it("refuses an over-long key in any key position, reads included, and runs the rest of the pipeline", async () => {
    const entriesBefore = backend.entries.length;
    const replies = await run(
      ["SET", key(keySizeBytesMax), "v"],
      ["SET", key(keySizeBytesMax + 1), "v"],
      ["GET", key(4096)],
      ["MSET", "a", "1", key(1979), "2"],
      ["DEL", "a", key(70_000)],
      ["RENAME", "a", key(keySizeBytesMax + 1)],
      ["EXISTS", key(512), key(4096)],
      ["STRLEN", key(keySizeBytesMax)],
    );
    assert.deepEqual(replies, ["+OK", KEY_ERROR, KEY_ERROR, KEY_ERROR, KEY_ERROR, KEY_ERROR, KEY_ERROR, ":1"]);
    for (const entry of backend.entries.slice(entriesBefore)) {
      assert.ok(!entry.some((argv) => argv.some((arg) => arg.byteLength > keySizeBytesMax)), "nothing long proposed");
    }
  });

  it("refuses an over-long key at MULTI's queue time (EXECABORT) and at WATCH", async () => {
    assert.deepEqual(await run(["MULTI"], ["SET", key(2000), "v"], ["SET", "ok", "v"], ["EXEC"]), [
      "+OK",
      KEY_ERROR,
      "+QUEUED",
      "-EXECABORT Transaction discarded because of previous errors.",
    ]);
    assert.deepEqual(await run(["WATCH", "w", key(4096)], ["MULTI"], ["GET", key(4096)], ["DISCARD"]), [
      KEY_ERROR,
      "+OK",
      KEY_ERROR,
      "+OK",
    ]);
  });

  it("stores a value of exactly the value limit and refuses one byte more, given or computed", async () => {
    const limit = Buffer.alloc(valueSizeBytesMax, 0x61);
    const over = Buffer.alloc(valueSizeBytesMax + 1, 0x61);
    assert.deepEqual(await run(["SET", "big", limit], ["STRLEN", "big"]), ["+OK", `:${valueSizeBytesMax}`]);
    assert.deepEqual(
      await run(
        ["SET", "over", over],
        ["HSET", "h", "f", over],
        ["APPEND", "big", "x"],
        ["SETRANGE", "big", String(valueSizeBytesMax), "x"],
        ["SETRANGE", "fresh", String(valueSizeBytesMax - 1), "x"],
        ["STRLEN", "big"],
        ["EXISTS", "over", "h"],
      ),
      [VALUE_ERROR, VALUE_ERROR, VALUE_ERROR, VALUE_ERROR, `:${valueSizeBytesMax}`, `:${valueSizeBytesMax}`, ":0"],
    );
  });

  it("ends a pipelined run of writes before it outgrows one entry, and refuses a single command that would", async () => {
    const entriesBefore = backend.entries.length;
    const three = Buffer.alloc(3 * MiB);
    const sixteen = Buffer.alloc(16 * MiB);
    const half = Buffer.alloc(9 * MiB);
    // A slow first read keeps the connection busy until every later command has arrived and been parsed, so the
    // run after it could take them all.
    backend.delayMs = 1000;
    try {
      assert.deepEqual(
        await run(
          ["GET", "r-none"],
          ["SET", "r1", three],
          ["SET", "r2", sixteen],
          ["GET", "r-none"],
          ["MSET", "m1", half, "m2", half],
        ),
        ["(nil)", "+OK", "+OK", "(nil)", ENTRY_ERROR],
      );
    } finally {
      backend.delayMs = 0;
    }
    // SET r1 alone: the 16 MiB SET would not fit beside it (the run stops, though under RUN_BYTES_MAX); the GET
    // is a read of its own; the MSET never reached the log.
    assert.deepEqual(
      backend.entries.slice(entriesBefore).map((entry) => entry.map((argv) => argv[1]?.toString())),
      [["r1"], ["r2"]],
    );
  });

  it("refuses a MULTI block that would outgrow one entry at queue time", async () => {
    const fifteen = Buffer.alloc(15 * MiB);
    const two = Buffer.alloc(2 * MiB);
    assert.deepEqual(await run(["MULTI"], ["SET", "x1", fifteen], ["SET", "x2", two], ["EXEC"]), [
      "+OK",
      "+QUEUED",
      ENTRY_ERROR,
      "-EXECABORT Transaction discarded because of previous errors.",
    ]);
  });

  it("reports the bounds in CONFIG GET", async () => {
    assert.deepEqual(await run(["CONFIG", "GET", "shoal-*"]), [
      `[$shoal-key-max-bytes, $${keySizeBytesMax}, $shoal-value-max-bytes, $${valueSizeBytesMax}, $shoal-entry-max-bytes, $${entrySizeBytesMax}]`,
    ]);
  });
});
