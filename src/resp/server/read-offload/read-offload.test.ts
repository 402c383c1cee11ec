/**
 * The read workers answer exactly what the event loop would, byte for byte, in RESP2 and RESP3; they see every
 * commit made before the call, follow the store to a new environment after a restore, and report failures as
 * error replies rather than crashing.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import type { Command, CommandResult } from "../../../commands/command.js";
import { executeCommands } from "../../../commands/redis/execute.js";
import { ScanCursorTable } from "../../../commands/redis/scan-cursor-table.js";
import { Prng } from "../../../lib/prng.js";
import { openLmdbCommandStore } from "../../../node/command-store.js";
import { applyCommands, bytes, stateBytes } from "../../../node/testing/command-store-helpers.js";
import { hashSlot } from "../../../slots/hash-slot.js";
import { SlotMap } from "../../../slots/slot-map.js";
import type { LmdbStore } from "../../../store/lmdb/lmdb-store.js";
import type { RespVersion } from "../../resp-value.js";
import { RespWriter } from "../../resp-writer.js";
import { writeReply } from "../error-reply.js";
import { ReadOffload, worthOffloading } from "./read-offload.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-read-offload-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

const argv = (line: string): Uint8Array[] => line.split(" ").map(bytes);

function redis(...lines: string[]): Command {
  return { op: "redis", nowMs: 1_000, argvs: lines.map(argv) };
}

/** What the event loop would write for `argvs` over the same store. */
function inline(store: LmdbStore<CommandResult>, argvs: Uint8Array[][], protocol: RespVersion): Buffer[] {
  const reader = {
    getRecord: (key: Uint8Array) => {
      const kv = store.get(key, 0);
      return kv;
    },
    keysAfter: (after: Uint8Array | undefined, limit: number) =>
      store.range(new Uint8Array(0), after, limit, 0).map((kv) => kv.key),
    keyCount: () => store.stats().keyCount,
    getRow: (collectionId: number, rowKey: Uint8Array) => store.getRow(collectionId, rowKey),
    rowsAfter: (collectionId: number, after: Uint8Array | undefined, limit: number) =>
      store.rowsAfter(collectionId, after, limit),
  };
  const replies = executeCommands(reader, undefined, argvs, {
    nowMs: 0,
    revision: store.revision(),
    random: new Prng(1),
    cursors: new ScanCursorTable(),
  });
  return replies.map((reply) => {
    const writer = new RespWriter(protocol);
    writeReply(writer, reply);
    return Buffer.from(writer.flush());
  });
}

describe("read offload", () => {
  let store: LmdbStore<CommandResult>;
  const offload = new ReadOffload(2);
  before(() => {
    store = openLmdbCommandStore(path.join(root, "a"));
    const mset = ["MSET"];
    for (let i = 0; i < 2000; i++) mset.push(`key:${i}`, `value-${i}`);
    applyCommands(store, redis(mset.join(" "), "HSET h f1 v1 f2 v2 f3 v3", "SET s hello"));
  });
  after(async () => {
    await offload.close();
    await store.close();
  });

  it("routes only reads whose cost follows the data, and never cursor commands", () => {
    assert.equal(worthOffloading([argv("GET a")]), false);
    assert.equal(worthOffloading([argv("GET a"), argv("KEYS *")]), true);
    assert.equal(worthOffloading([argv("HGETALL h")]), true);
    assert.equal(worthOffloading([["MGET", ...Array.from({ length: 300 }, (_, i) => `k${i}`)].map(bytes)]), true);
    assert.equal(worthOffloading([argv("KEYS *"), argv("SCAN 0")]), false);
    assert.equal(worthOffloading([argv("KEYS *"), argv("NOSUCHCOMMAND x")]), false);
    // A read of a key the store says holds a big value goes too; other keys of fast commands stay.
    const big = (key: Uint8Array) => new TextDecoder().decode(key) === "huge";
    assert.equal(worthOffloading([argv("GET huge")], big), true);
    assert.equal(worthOffloading([argv("GET a")], big), false);
    assert.equal(worthOffloading([argv("MGET a huge")], big), true);
    assert.equal(worthOffloading([argv("STRLEN huge")], big), true);
    assert.equal(worthOffloading([argv("GET huge"), argv("SCAN 0")], big), false);
  });

  for (const protocol of [2, 3] as const) {
    it(`answers byte for byte what the event loop would (RESP${protocol})`, async () => {
      const argvs = [
        argv("KEYS key:1*"),
        argv("HGETALL h"),
        ["MGET", ...Array.from({ length: 400 }, (_, i) => `key:${i * 7}`)].map(bytes),
        argv("GET s"),
        argv("HGETALL s"), // WRONGTYPE: an error reply, not a failure
        argv("DBSIZE"),
      ];
      const lent = store.lendEnvironment();
      try {
        const got = await offload.run([lent.path], argvs, 0, protocol);
        const want = inline(store, argvs, protocol);
        assert.equal(got.length, want.length);
        for (const [i, reply] of got.entries()) assert.deepEqual(Buffer.from(reply), want[i], `reply ${i}`);
      } finally {
        lent.release();
      }
    });
  }

  it("sees every commit made before the call", async () => {
    for (let round = 0; round < 20; round++) {
      applyCommands(store, redis(`SET fresh:${round} ${round}`));
      const lent = store.lendEnvironment();
      try {
        const [reply] = await offload.run([lent.path], [argv(`KEYS fresh:${round}`)], 0, 2);
        assert.equal(
          Buffer.from(reply as Uint8Array).toString(),
          `*1\r\n$${`fresh:${round}`.length}\r\nfresh:${round}\r\n`,
        );
      } finally {
        lent.release();
      }
    }
  });

  it("follows the store to the environment a restore installs", async () => {
    const other = openLmdbCommandStore(path.join(root, "b"));
    applyCommands(other, redis("SET only-in-b 1"));
    await store.restore([await stateBytes(other)]);
    await other.close();
    const lent = store.lendEnvironment();
    try {
      const [reply] = await offload.run([lent.path], [argv("KEYS *")], 0, 2);
      assert.equal(Buffer.from(reply as Uint8Array).toString(), "*1\r\n$9\r\nonly-in-b\r\n");
    } finally {
      lent.release();
    }
  });

  it("reports a failure as an error, and the next request still runs", async () => {
    await assert.rejects(
      offload.run([path.join(root, "no-such-environment")], [argv("KEYS *")], 0, 2),
      (error: Error) => error.message.startsWith("internal error"),
    );
    const lent = store.lendEnvironment();
    try {
      const [reply] = await offload.run([lent.path], [argv("DBSIZE")], 0, 2);
      assert.match(Buffer.from(reply as Uint8Array).toString(), /^:\d+\r\n$/);
    } finally {
      lent.release();
    }
  });
});

describe("read offload over several shards", () => {
  it("reads every shard's environment as one keyspace, as one store holding all the keys answers", async () => {
    const shardCount = 3;
    const map = new SlotMap(shardCount);
    const shards = Array.from({ length: shardCount }, (_, i) => openLmdbCommandStore(path.join(root, `shard-${i}`)));
    const whole = openLmdbCommandStore(path.join(root, "whole"));
    const offload = new ReadOffload(1, () => map.table());
    try {
      const keys = Array.from({ length: 500 }, (_, i) => `k:${i}`);
      for (const key of keys) {
        const shard = shards[map.shardOf(hashSlot(bytes(key))) - 1];
        assert.ok(shard !== undefined);
        applyCommands(shard, redis(`SET ${key} v-${key}`));
        applyCommands(whole, redis(`SET ${key} v-${key}`));
      }
      assert.ok(
        shards.every((shard) => shard.stats().keyCount > 100),
        "the keys spread over every shard",
      );
      const argvs = [argv("KEYS *"), argv("KEYS k:1*"), argv("DBSIZE"), argv("EXISTS k:1 k:2 nope")];
      const lent = shards.map((shard) => shard.lendEnvironment());
      const got = await offload.run(
        lent.map((l) => l.path),
        argvs,
        0,
        2,
      );
      for (const l of lent) l.release();
      assert.deepEqual(
        got.map((b) => Buffer.from(b).toString()),
        inline(whole, argvs, 2).map((b) => b.toString()),
      );
    } finally {
      await offload.close();
      for (const shard of shards) await shard.close();
      await whole.close();
    }
  });
});
