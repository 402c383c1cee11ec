import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import type { Command } from "../../../src/commands/command.js";
import { memoryCommandStore, openLmdbCommandStore } from "../../../src/node/command-store.js";
import { collectionOf } from "../../../src/store/collection.js";
import { BIG_VALUE_BYTES_MIN } from "../../../src/store/lmdb/lmdb-store.js";
import {
  applyCommands,
  bytes,
  entriesFor,
  redisReplies,
  runStoreContract,
  stateBytes,
  text,
} from "../store.contract.js";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-lmdb-contract-"));
let storeCount = 0;
after(() => fs.rmSync(root, { recursive: true, force: true }));

runStoreContract("LmdbStore", (options) => openLmdbCommandStore(path.join(root, `store-${++storeCount}`), options));

describe("LmdbStore on disk", () => {
  it("reopens with the state, applied index, clock and expiry index it closed with", async () => {
    const dir = path.join(root, "reopen");
    const store = openLmdbCommandStore(dir);
    applyCommands(store, { op: "put", key: bytes("a"), value: bytes("1"), nowMs: 70, ttlMs: 30 }, "noop");
    const before = await stateBytes(store);
    await store.close();
    const reopened = openLmdbCommandStore(dir);
    try {
      assert.deepEqual([reopened.appliedIndex(), reopened.revision(), reopened.clockMs()], [2, 1, 70]);
      assert.deepEqual(await stateBytes(reopened), before);
      assert.deepEqual(reopened.expiredKeys(100, 5), [bytes("a")]);
    } finally {
      await reopened.close();
    }
  });

  it("keeps a restored state across reopen, after failed restores and while old snapshots close", async () => {
    const dir = path.join(root, "restore-reopen");
    const source = memoryCommandStore();
    applyCommands(source, { op: "put", key: bytes("restored"), value: bytes("yes"), nowMs: 1 });
    const image = await stateBytes(source);
    const store = openLmdbCommandStore(dir);
    applyCommands(store, { op: "put", key: bytes("old"), value: bytes("1"), nowMs: 1 });
    const reading = store.snapshot(); // pins the first environment while it is replaced
    for (let i = 0; i < 3; i++) await assert.rejects(store.restore([image.subarray(0, image.length - 1)]));
    await store.restore([image]);
    await store.restore([image]); // the second install retires the first restored environment right away
    reading.release();
    await store.close();
    const reopened = openLmdbCommandStore(dir);
    try {
      assert.equal(text(reopened.get(bytes("restored"), 0)?.value), "yes");
      assert.equal(reopened.get(bytes("old"), 0), undefined);
      assert.deepEqual(await stateBytes(reopened), await stateBytes(source));
      assert.equal(fs.readdirSync(dir).filter((name) => name.startsWith("env-")).length, 1);
    } finally {
      await reopened.close();
    }
  });
});

describe("LmdbStore applying big values off the event loop", () => {
  it("commits what the synchronous path commits: values copied in slices, results, history and state", async () => {
    const offLoop = openLmdbCommandStore(path.join(root, "off-loop"), { syncCommits: false });
    const reference = memoryCommandStore();
    try {
      // Around the slice (1 MiB) and the lazy-read (64 KiB) boundaries, overwritten, read back, GETSET and deleted.
      const sizes = [1024 * 1024 - 1, 1024 * 1024, 3 * 1024 * 1024 + 5, 64 * 1024];
      const commands = sizes.flatMap((size, i) => {
        const value = new Uint8Array(size).map((_, at) => (at * 7 + i) & 0xff);
        return [
          { op: "put" as const, key: bytes("big"), value, nowMs: 1 },
          { op: "redis" as const, nowMs: 1, argvs: [[bytes("GETSET"), bytes("big"), value.subarray(1)]] },
        ];
      });
      commands.push({ op: "delete" as const, key: bytes("big"), nowMs: 2 } as never);
      for (const command of commands) {
        const entries = entriesFor(reference, [command]);
        assert.ok(offLoop.applyEntriesOffLoop !== undefined);
        const results = await offLoop.applyEntriesOffLoop(entries);
        assert.deepStrictEqual(results, reference.applyEntries(entries));
        assert.deepStrictEqual(offLoop.events(1, offLoop.revision()), reference.events(1, reference.revision()));
      }
      assert.deepEqual(await stateBytes(offLoop), await stateBytes(reference));
    } finally {
      await offLoop.close();
    }
  });
});

describe("LmdbStore committing big batches on its writer thread", () => {
  for (const syncCommits of [false, true]) {
    it(`commits what the synchronous path commits, visible to reads at once and after a reopen (syncCommits ${syncCommits})`, async () => {
      const dir = path.join(root, `writer-thread-${syncCommits}`);
      let offThread = openLmdbCommandStore(dir, { syncCommits });
      const reference = memoryCommandStore();
      try {
        // Thousands of rows per entry (keys, slot index, expiry and history rows), overwrites, deletes, a hash.
        const mset = (from: number, count: number, value: string): Command => ({
          op: "redis",
          nowMs: 1,
          argvs: [
            [bytes("MSET"), ...Array.from({ length: count }, (_, i) => [bytes(`k${from + i}`), bytes(value)]).flat()],
          ],
        });
        const steps: Command[] = [
          mset(0, 3000, "a"),
          mset(1500, 3000, "b"),
          {
            op: "redis",
            nowMs: 2,
            argvs: [
              [bytes("DEL"), ...Array.from({ length: 2000 }, (_, i) => bytes(`k${i * 2}`))],
              [bytes("SET"), bytes("ttl"), bytes("x"), bytes("PX"), bytes("100000")],
              [
                bytes("HSET"),
                bytes("h"),
                ...Array.from({ length: 600 }, (_, i) => [bytes(`f${i}`), bytes("v")]).flat(),
              ],
            ],
          },
        ];
        for (const command of steps) {
          const entries = entriesFor(reference, [command]);
          assert.ok(offThread.applyEntriesOffLoop !== undefined);
          const results = await offThread.applyEntriesOffLoop(entries);
          assert.deepStrictEqual(results, reference.applyEntries(entries));
          assert.equal(offThread.appliedIndex(), reference.appliedIndex());
          assert.deepEqual(offThread.get(bytes("k4499"), 1)?.value, reference.get(bytes("k4499"), 1)?.value);
          assert.deepStrictEqual(offThread.events(1, offThread.revision()), reference.events(1, reference.revision()));
        }
        assert.deepEqual(await stateBytes(offThread), await stateBytes(reference));
        await offThread.close();
        offThread = openLmdbCommandStore(dir, { syncCommits });
        assert.deepEqual(await stateBytes(offThread), await stateBytes(reference));
        assert.equal(offThread.stats().keyCount, reference.stats().keyCount);
      } finally {
        await offThread.close();
      }
    });
  }
});

describe("LmdbStore after a slow commit on the event loop", () => {
  it("says so for a while, and writes even a one-key batch off the loop meanwhile, as the loop would", async () => {
    // slowCommitMs 0: every commit on the loop counts as slow (the real trigger, a kernel throttling the writer,
    // cannot be staged in a test).
    const slow = openLmdbCommandStore(path.join(root, "slow-commit"), { syncCommits: false, slowCommitMs: 0 });
    const normal = openLmdbCommandStore(path.join(root, "normal-commit"), { syncCommits: false });
    const reference = memoryCommandStore();
    const set = (key: string, value: string): Command => ({
      op: "redis",
      nowMs: 1,
      argvs: [[bytes("SET"), bytes(key), bytes(value)]],
    });
    try {
      const first = entriesFor(reference, [set("a", "1")]);
      reference.applyEntries(first);
      slow.applyEntries(first);
      normal.applyEntries(first);
      assert.equal(slow.writesSlowly, true, "a commit on the loop at or over slowCommitMs");
      assert.equal(normal.writesSlowly, false, "a one-key commit is fast");
      for (const [i, command] of [set("b", "2"), set("a", "3")].entries()) {
        const entries = entriesFor(reference, [command]);
        const expected = reference.applyEntries(entries);
        assert.ok(slow.applyEntriesOffLoop !== undefined);
        assert.deepStrictEqual(await slow.applyEntriesOffLoop(entries), expected, `batch ${i}`);
      }
      assert.equal(slow.writesSlowly, true, "writes off the loop do not reset the hold");
      assert.deepEqual(await stateBytes(slow), await stateBytes(reference));
    } finally {
      await slow.close();
      await normal.close();
    }
  });
});

describe("LmdbStore's writer thread lets go", () => {
  it("of an environment it wrote once the store closes it: nothing of it stays mapped", {
    skip: !fs.existsSync("/proc/self/maps"),
  }, async () => {
    const store = openLmdbCommandStore(path.join(root, "writer-release"), { syncCommits: false });
    const lent = store.lendEnvironment();
    const envPath = lent.path;
    lent.release();
    const mset: Command = {
      op: "redis",
      nowMs: 1,
      argvs: [[bytes("MSET"), ...Array.from({ length: 2000 }, (_, i) => [bytes(`k${i}`), bytes("v")]).flat()]],
    };
    assert.ok(store.applyEntriesOffLoop !== undefined);
    await store.applyEntriesOffLoop(entriesFor(store, [mset]));
    const mapped = () => fs.readFileSync("/proc/self/maps", "utf8").includes(path.join(envPath, "data.mdb"));
    assert.ok(mapped(), "the environment is mapped while open");
    await store.close();
    assert.equal(mapped(), false, "closed on every thread");
  });
});

describe("LmdbStore's index of big values", () => {
  it("knows which keys hold 1 MiB or more, across overwrites, deletes, reopen, restore and FLUSHALL", async () => {
    const dir = path.join(root, "big-index");
    const at = BIG_VALUE_BYTES_MIN;
    const put = (key: string, size: number) => ({
      op: "put" as const,
      key: bytes(key),
      value: new Uint8Array(size),
      nowMs: 1,
    });
    let store = openLmdbCommandStore(dir, { syncCommits: false });
    const holds = (key: string) => store.holdsBigValue(bytes(key));
    try {
      applyCommands(store, put("edge", at - 1), put("big", at), put("gone", at + 1), put("shrinks", at));
      assert.deepEqual([holds("edge"), holds("big"), holds("gone"), holds("shrinks")], [false, true, true, true]);
      applyCommands(store, { op: "delete", key: bytes("gone"), nowMs: 2 }, put("shrinks", 3));
      assert.ok(store.applyEntriesOffLoop !== undefined);
      await store.applyEntriesOffLoop(entriesFor(store, [put("offloop", at)]));
      assert.deepEqual([holds("big"), holds("gone"), holds("shrinks"), holds("offloop")], [true, false, false, true]);
      await store.close();
      store = openLmdbCommandStore(dir, { syncCommits: false });
      assert.deepEqual([holds("big"), holds("gone"), holds("shrinks"), holds("offloop")], [true, false, false, true]);
      // A restored image brings its own big values (the index is derived, never in the image).
      const source = memoryCommandStore();
      applyCommands(source, put("restored", at), put("small", 10));
      await store.restore([await stateBytes(source)]);
      assert.deepEqual([holds("big"), holds("restored"), holds("small")], [false, true, false]);
      applyCommands(store, {
        op: "redis",
        nowMs: 3,
        argvs: [[bytes("FLUSHALL")], [bytes("SET"), bytes("after"), new Uint8Array(at)]],
      });
      assert.deepEqual([holds("restored"), holds("after")], [false, true]);
    } finally {
      await store.close();
    }
  });
});

describe("LmdbStore writes over big values", () => {
  it("see the header a write left (cached) or the row holds (after reopen), exactly as a memory store does", async () => {
    const dir = path.join(root, "big-headers");
    const at = BIG_VALUE_BYTES_MIN;
    const big = (fill: number) => new Uint8Array(at).fill(fill);
    const steps: Command[][] = [
      [
        {
          op: "redis",
          nowMs: 1,
          argvs: [
            [bytes("SET"), bytes("b"), big(1)],
            [bytes("SET"), bytes("c"), big(2)],
          ],
        },
      ],
      [{ op: "redis", nowMs: 2, argvs: [[bytes("SET"), bytes("b"), big(3), bytes("PX"), bytes("100000")]] }],
      [], // reopen: the headers are read from the rows once
      [
        {
          op: "redis",
          nowMs: 3,
          argvs: [
            [bytes("SET"), bytes("b"), big(4), bytes("KEEPTTL")],
            [bytes("APPEND"), bytes("c"), bytes("x")],
          ],
        },
      ],
      [
        {
          op: "redis",
          nowMs: 4,
          argvs: [
            [bytes("SET"), bytes("c"), big(5), bytes("GET")],
            [bytes("DEL"), bytes("b")],
          ],
        },
      ],
      [
        {
          op: "redis",
          nowMs: 5,
          argvs: [
            [bytes("SET"), bytes("b"), big(6), bytes("NX")],
            [bytes("GETDEL"), bytes("c")],
          ],
        },
      ],
    ];
    const memory = memoryCommandStore();
    let store = openLmdbCommandStore(dir, { syncCommits: false });
    try {
      for (const commands of steps) {
        if (commands.length === 0) {
          await store.close();
          store = openLmdbCommandStore(dir, { syncCommits: false });
          continue;
        }
        assert.deepEqual(applyCommands(store, ...commands), applyCommands(memory, ...commands));
        assert.deepEqual(await stateBytes(store), await stateBytes(memory));
      }
    } finally {
      await store.close();
    }
  });
});

describe("LmdbStore FLUSHALL on disk", () => {
  for (const syncCommits of [true, false]) {
    // Without syncCommits (the node's setting) CURRENT is made durable off the event loop, and the retired
    // environment's files wait for it (env-dir.ts writeCurrentDeferred).
    it(`swaps in a fresh environment: the flushed state is gone after a reopen, a reader keeps its old one (syncCommits ${syncCommits})`, async () => {
      const dir = path.join(root, `flush-reopen-${syncCommits}`);
      const store = openLmdbCommandStore(dir, { syncCommits });
      const mset = ["MSET"];
      for (let i = 0; i < 5000; i++) mset.push(`k${i}`, "v");
      redisReplies(store, 1, mset.join(" "), "SET ttl x PX 100000");
      const reading = store.snapshot(); // pins the environment the flush retires
      assert.deepEqual(redisReplies(store, 2, "FLUSHALL", "SET after 1", "DBSIZE"), ["OK", "OK", "1"]);
      const image = await stateBytes(store);
      const chunks: Uint8Array[] = [];
      for await (const chunk of reading.chunks()) chunks.push(chunk);
      const old = memoryCommandStore();
      await old.restore(chunks);
      assert.equal(old.stats().keyCount, 5001, "a snapshot taken before the flush still reads the old state");
      await old.close();
      await store.close();
      assert.equal(
        fs.readdirSync(dir).filter((name) => name.startsWith("env-")).length,
        1,
        "closing deleted the old one",
      );
      assert.equal(
        fs.readFileSync(path.join(dir, "CURRENT"), "utf8").trim(),
        fs.readdirSync(dir).find((n) => n.startsWith("env-")),
      );
      const reopened = openLmdbCommandStore(dir, { syncCommits });
      try {
        assert.deepEqual(await stateBytes(reopened), image);
        assert.deepEqual(redisReplies(reopened, 3, "DBSIZE", "GET k1", "GET after"), ["1", "null", "1"]);
        assert.deepEqual(reopened.expiredKeys(10_000_000, 10), []);
        assert.equal(fs.readdirSync(dir).filter((name) => name.startsWith("env-")).length, 1, "the old one is deleted");
      } finally {
        await reopened.close();
      }
    });
  }
});

describe("LmdbStore collection rows on disk", () => {
  it("keeps a table hash's rows and the reclaim queue across a reopen, and finishes reclaiming after it", async () => {
    const dir = path.join(root, "rows-reopen");
    const fields = (key: string): string =>
      `HSET ${key} ${Array.from({ length: 300 }, (_, i) => `f${i} ${i}`).join(" ")}`;
    const store = openLmdbCommandStore(dir, { reclaim: "manual" });
    redisReplies(store, 1, fields("kept"), fields("dropped"));
    const dropped = collectionOf(store.get(bytes("dropped"), 1))?.collectionId ?? 0;
    redisReplies(store, 1, "DEL dropped");
    store.reclaimStep(100); // part of it: the collection stays queued
    assert.equal(store.reclaimStats().pendingCollections, 1);
    const before = await stateBytes(store);
    await store.close();
    const reopened = openLmdbCommandStore(dir, { reclaim: "background" });
    try {
      assert.deepEqual(await stateBytes(reopened), before);
      assert.deepEqual(redisReplies(reopened, 2, "HLEN kept", "HGET kept f299"), ["300", "299"]);
      for (let turns = 0; reopened.reclaimStats().pendingCollections > 0; turns++) {
        assert.ok(turns < 100, "the reopened store resumes reclaiming by itself");
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.deepEqual(reopened.rowsAfter(dropped, undefined, 10), []);
      assert.equal(reopened.reclaimStats().reclaimedRows, 200);
    } finally {
      await reopened.close();
    }
  });
});

describe("LmdbStore history on disk", () => {
  it("reopens with the window's exact figures: revisions of one event and of many, after drops", async () => {
    const dir = path.join(root, "history-figures");
    const options = { historyRevisionsMax: 4 };
    const store = openLmdbCommandStore(dir, options);
    // One entry (one revision) per command.
    for (const line of ["SET a 1", "MSET b 22 c 333 d 4444", "SET e 55555", "HSET h f v g w", "DEL b c", "SET a 6"]) {
      redisReplies(store, 1, line);
    }
    const before = store.historyStats();
    await store.close();
    const reopened = openLmdbCommandStore(dir, options);
    try {
      assert.deepEqual(reopened.historyStats(), before);
      // The window keeps dropping whole revisions by the figures it reopened with.
      redisReplies(reopened, 2, "MSET x 1 y 2");
      redisReplies(reopened, 2, "SET z 3");
      const dropped = reopened.historyStats();
      assert.equal(dropped.revisionCount, 4);
      await reopened.close();
      const again = openLmdbCommandStore(dir, options);
      try {
        assert.deepEqual(again.historyStats(), dropped);
      } finally {
        await again.close();
      }
    } finally {
      await reopened.close(); // idempotent
    }
  });

  it("reopens with the watch history and its window", async () => {
    const dir = path.join(root, "history-reopen");
    const store = openLmdbCommandStore(dir, { historyRevisionsMax: 2 });
    applyCommands(
      store,
      ...["a", "b", "c"].map((k) => ({ op: "put" as const, key: bytes(k), value: bytes(k), nowMs: 1 })),
    );
    await store.close();
    const reopened = openLmdbCommandStore(dir, { historyRevisionsMax: 2 });
    try {
      assert.deepEqual(reopened.historyStats().compactedRevision, 1);
      assert.deepEqual(
        reopened.events(2, 3).map((event) => text(event.key)),
        ["b", "c"],
      );
      applyCommands(reopened, { op: "delete", key: bytes("a"), nowMs: 1 });
      assert.equal(reopened.historyStats().compactedRevision, 2);
      assert.deepEqual(
        reopened.events(3, 4).map((event) => [event.type, text(event.key)]),
        [
          ["put", "c"],
          ["delete", "a"],
        ],
      );
    } finally {
      await reopened.close();
    }
  });
});
