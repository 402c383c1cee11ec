/**
 * @module The one contract every `StateMachineStore` honours (with the real command semantics), run against each implementation
 * (`memory-store.test.ts`, `lmdb/lmdb-store.test.ts`). Not a test file itself: it exports the suite.
 */

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Packr } from "msgpackr";
import type { Command, CommandResult } from "../../src/commands/command.js";
import { COMMAND_FORMAT_V1, encodeCommand } from "../../src/commands/command-codec.js";
import { COMMAND_LIMITS } from "../../src/commands/limits.js";
import type { Reply } from "../../src/commands/redis/reply.js";
import { encodeUnchecked } from "../../src/commands/testing/unchecked-entry.js";
import { AssertionError } from "../../src/lib/assert.js";
import { EMPTY_BYTES } from "../../src/lib/bytes.js";
import { ShoalError } from "../../src/lib/errors.js";
import type { CommandStore } from "../../src/node/command-store.js";
import { applyCommands, bytes, entriesFor, stateBytes, text } from "../../src/node/testing/command-store-helpers.js";
import { hashSlot } from "../../src/slots/hash-slot.js";
import type { HistoryEvent, HistoryOptions } from "../../src/store/history.js";
import type { ReclaimOptions } from "../../src/store/reclaimer.js";
import { collectionRowCases } from "./collection-rows.contract.js";

export interface StoreFactoryOptions extends HistoryOptions, ReclaimOptions {
  readonly snapshotChunkSizeBytes?: number;
}

/** Creates a fresh, empty store. The suite closes every store it creates. */
export type StoreFactory = (options?: StoreFactoryOptions) => CommandStore;

export { applyCommands, bytes, entriesFor, stateBytes, text };

export async function collect(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of chunks) out.push(chunk.slice());
  return out;
}

const put = (key: string, value: string, nowMs = 0, extra: Partial<Command> = {}): Command =>
  ({ op: "put", key: bytes(key), value: bytes(value), nowMs, ...extra }) as Command;

/** Fills a store with a mix of state: plain keys, a TTL, a binary and an empty key, a deleted key. */
function fill(store: CommandStore, count: number): void {
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) commands.push(put(`key-${String(i).padStart(4, "0")}`, `value-${i}`.repeat(3), 10));
  commands.push(put("ttl", "x", 10, { ttlMs: 1000 }));
  commands.push({ op: "put", key: new Uint8Array([0, 255, 7]), value: new Uint8Array([1, 0, 2]), nowMs: 10 });
  commands.push({ op: "put", key: EMPTY_BYTES, value: bytes("empty key"), nowMs: 10 });
  commands.push({ op: "delete", key: bytes("key-0001"), nowMs: 10 });
  applyCommands(store, ...commands);
}

export type WithStore = (
  test: (store: CommandStore) => Promise<void> | void,
  options?: StoreFactoryOptions,
) => Promise<void>;

export function runStoreContract(name: string, factory: StoreFactory): void {
  const withStore: WithStore = async (test, options) => {
    const store = factory(options);
    try {
      await test(store);
    } finally {
      await store.close();
    }
  };
  describe(`${name}: StateMachineStore contract`, () => {
    describe("applying commands", () => commandCases(withStore));
    describe("the applied index and reads", () => logAndReadCases(withStore));
    describe("snapshots", () => snapshotCases(withStore, factory));
    describe("the watch history", () => historyCases(withStore));
    describe("redis entries", () => redisCases(withStore));
    describe("keys over the key limit", () => longKeyCases(withStore));
    describe("collection rows", () => collectionRowCases(withStore));
    describe("keys by hash slot", () => slotCases(withStore, factory));
  });
}

/** A redis entry's replies, as `kind:value` text (enough to compare the two stores with the expected answers). */
export function redisReplies(store: CommandStore, nowMs: number, ...lines: string[]): string[] {
  return redisArgvReplies(
    store,
    nowMs,
    lines.map((line) => line.split(" ").map(bytes)),
  );
}

/** `redisReplies` for commands given as arguments (binary or large ones). */
export function redisArgvReplies(store: CommandStore, nowMs: number, argvs: readonly Uint8Array[][]): string[] {
  const [result] = applyCommands(store, { op: "redis", nowMs, argvs });
  assert.ok(result !== undefined && result.kind === "redis");
  const show = (reply: Reply): string => {
    switch (reply.kind) {
      case "bulk":
        return text(reply.value) ?? "";
      case "integer":
        return String(reply.value);
      case "array":
        return `[${reply.items.map(show).join(",")}]`;
      case "map":
        return `{${reply.entries.map(([k, v]) => `${show(k)}=${show(v)}`).join(",")}}`;
      case "simple":
        return reply.value;
      case "error":
        return `${reply.code} ${reply.message}`;
      default:
        return reply.kind;
    }
  };
  return result.replies.map(show);
}

/** Every stored key grouped by slot, from a full listing: what the slot index must answer. */
function slotsOf(store: CommandStore): Map<number, string[]> {
  const bySlot = new Map<number, string[]>();
  for (const kv of store.range(EMPTY_BYTES, undefined, 100_000, 0)) {
    const slot = hashSlot(kv.key);
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), text(kv.key) ?? ""].sort());
  }
  return bySlot;
}

function assertSlotIndex(store: CommandStore, expected: Map<number, string[]>, probe: readonly number[]): void {
  for (const slot of new Set([...expected.keys(), ...probe])) {
    const keys = expected.get(slot) ?? [];
    assert.equal(store.countKeysInSlot(slot), keys.length, `keys in slot ${slot}`);
    assert.deepEqual(store.keysInSlot(slot, 1000).map(text), keys, `the keys of slot ${slot}`);
    if (keys.length > 1) assert.deepEqual(store.keysInSlot(slot, 1).map(text), keys.slice(0, 1));
  }
}

function slotCases(withStore: WithStore, factory: StoreFactory): void {
  it("counts and lists the keys of a slot through writes, deletes, renames, a flush and a restore", () =>
    withStore(async (store) => {
      // {t} tags put several keys in one slot; foo is slot 12182 as in Redis Cluster.
      redisReplies(store, 1000, "MSET {t}a 1 {t}b 2 {t}c 3 foo 1 bar 2", "HSET {t}h f v", "SET gone x");
      redisReplies(store, 1000, "DEL gone {t}b", "RENAME bar {t}bar", "SET {t}a again");
      const expected = slotsOf(store);
      assert.deepEqual(expected.get(hashSlot(bytes("{t}"))), ["{t}a", "{t}bar", "{t}c", "{t}h"]);
      assert.deepEqual(expected.get(12182), ["foo"]);
      assertSlotIndex(store, expected, [0, 16383, hashSlot(bytes("bar")), hashSlot(bytes("gone"))]);
      assert.deepEqual(store.keysInSlot(hashSlot(bytes("{t}")), 0), []);

      const copy = factory();
      try {
        await copy.restore(store.snapshot().chunks());
        assertSlotIndex(copy, expected, [hashSlot(bytes("gone"))]);
      } finally {
        await copy.close();
      }

      redisReplies(store, 1000, "SET before 1", "FLUSHALL", "SET {t}new 1");
      assertSlotIndex(store, slotsOf(store), [hashSlot(bytes("foo")), hashSlot(bytes("before"))]);
      assert.equal(store.countKeysInSlot(hashSlot(bytes("{t}"))), 1);
    }));
}

function redisCases(withStore: WithStore): void {
  it("list, scan and flush the stored keys inside apply (the store's own key listing), hashes included", () =>
    withStore((store) => {
      assert.deepEqual(redisReplies(store, 1000, "SET b 2", "SET a 1", "HSET h f v", "SET t x PX 100", "SET c 3"), [
        "OK",
        "OK",
        "1",
        "OK",
        "OK",
      ]);
      // At 1200 t has expired (still stored until the leader's expire entry): listings leave it out.
      assert.deepEqual(redisReplies(store, 1200, "KEYS *", "DEL a", "KEYS *", "SCAN 0 COUNT 100", "DBSIZE", "TYPE h"), [
        "[a,b,c,h]",
        "1",
        "[b,c,h]",
        "[0,[b,c,h]]",
        "4", // DBSIZE counts t until the leader's expire entry removes it, as Redis does

        "hash",
      ]);
      assert.equal(store.get(bytes("h"), 1200)?.type, "hash");
      assert.deepEqual(redisReplies(store, 1300, "FLUSHALL", "DBSIZE", "SET n 1", "SET n 2", "DBSIZE", "KEYS *"), [
        "OK",
        "0",
        "OK",
        "OK",
        "1",
        "[n]",
      ]);
      assert.deepEqual(
        store.range(EMPTY_BYTES, undefined, 10, 1300).map((kv) => text(kv.key)),
        ["n"],
      );
    }));

  it("FLUSHALL drops the whole state at once: keys, expiry index and history restart at its revision", () =>
    withStore(async (store) => {
      redisReplies(store, 1000, "SET a 1", "SET ttl x PX 50", "HSET h f v");
      // One batch: a write before the flush is gone with it, a write after it stays.
      const results = store.applyEntries(
        entriesFor(store, [
          { op: "redis", nowMs: 1000, argvs: [["SET", "before", "1"].map(bytes)] },
          { op: "redis", nowMs: 1000, argvs: [["FLUSHALL"].map(bytes)] },
          { op: "redis", nowMs: 1000, argvs: [["SET", "after", "2", "PX", "5000"].map(bytes)] },
        ]),
      );
      const flushRevision = (results[1] as CommandResult).revision;
      assert.deepEqual(redisReplies(store, 1000, "KEYS *", "DBSIZE"), ["[after]", "1"]);
      assert.deepEqual(store.stats(), { keyCount: 1, sizeBytes: "after".length + 1 });
      assert.deepEqual(store.expiredKeys(1_000_000, 10).map(text), ["after"], "the flushed TTL is gone from the index");
      assert.equal(store.historyStats().compactedRevision, flushRevision - 1);
      assert.deepEqual(eventRows(store.events(flushRevision, store.revision())), [
        [flushRevision, "flush", "", undefined],
        [flushRevision + 1, "put", "after", "2"],
      ]);
      assert.throws(() => store.events(flushRevision - 1, store.revision()), /COMPACTED|compacted/);
      // A flush of an empty keyspace changes nothing.
      redisReplies(store, 1000, "DEL after");
      const revision = store.revision();
      assert.deepEqual(redisReplies(store, 1000, "FLUSHALL"), ["OK"]);
      assert.equal(store.revision(), revision);
    }));

  it("pages through more keys than one listing page (1,024) without losing or repeating one", () =>
    withStore((store) => {
      const keys = Array.from({ length: 1030 }, (_, i) => `k${String(i).padStart(4, "0")}`);
      applyCommands(store, { op: "redis", nowMs: 1, argvs: [["MSET", ...keys.flatMap((k) => [k, "v"])].map(bytes)] });
      assert.deepEqual(redisReplies(store, 2, "DBSIZE", "DEL k0000 k1029", "DBSIZE"), ["1030", "2", "1028"]);
    }));

  it("keeps a hash's type and fields through a snapshot", () =>
    withStore(async (source) => {
      redisReplies(source, 1000, "HSET h f1 v1 f2 v2", "SET s x");
      const chunks = await collect(source.snapshot().chunks());
      await withStore(async (target) => {
        await target.restore(chunks);
        assert.deepEqual(redisReplies(target, 2000, "HGETALL h", "TYPE s", "GET h"), [
          "{f1=v1,f2=v2}",
          "string",
          "WRONG_TYPE Operation against a key holding the wrong kind of value",
        ]);
      });
    }));
}

function commandCases(withStore: WithStore): void {
  it("starts empty", () =>
    withStore((store) => {
      assert.equal(store.appliedIndex(), 0);
      assert.equal(store.revision(), 0);
      assert.deepEqual(store.stats(), { keyCount: 0, sizeBytes: 0 });
      assert.equal(store.get(bytes("k"), 0), undefined);
      assert.deepEqual(store.range(EMPTY_BYTES, undefined, 10, 0), []);
    }));

  it("counts revisions and versions through puts and deletes", () =>
    withStore((store) => {
      const results = applyCommands(
        store,
        put("a", "1"),
        put("a", "22"),
        put("b", "3"),
        { op: "delete", key: bytes("a"), nowMs: 0 },
        { op: "delete", key: bytes("a"), nowMs: 0 },
        put("a", "4"),
      );
      assert.deepEqual(
        results.map((r) => [r.kind, r.revision]),
        [
          ["put", 1],
          ["put", 2],
          ["put", 3],
          ["delete", 4],
          ["delete", 4],
          ["put", 5],
        ],
      );
      const deleted = results[3];
      assert.ok(deleted?.kind === "delete");
      assert.equal(text(deleted.prev?.value), "22");
      assert.equal(deleted.prev?.version, 2);
      assert.equal(store.appliedIndex(), 6);
      assert.equal(store.revision(), 5);
      const a = store.get(bytes("a"), 0);
      assert.deepEqual(a, {
        key: bytes("a"),
        type: "string",
        value: bytes("4"),
        createRevision: 5,
        modRevision: 5,
        version: 1,
        expiresAtMs: 0,
      });
      assert.equal(Object.getPrototypeOf(a?.value), Uint8Array.prototype, "values are plain Uint8Arrays");
      assert.deepEqual(store.stats(), { keyCount: 2, sizeBytes: 4 });
    }));

  it("hides a key from the moment it expires, before the expire entry", () =>
    withStore((store) => {
      applyCommands(store, put("t", "v", 1000, { ttlMs: 500 }), put("p", "v", 1000));
      assert.equal(store.get(bytes("t"), 1499)?.expiresAtMs, 1500);
      assert.equal(store.get(bytes("t"), 1500), undefined);
      assert.deepEqual(
        store.range(EMPTY_BYTES, undefined, 10, 1500).map((kv) => text(kv.key)),
        ["p"],
      );
      assert.equal(store.stats().keyCount, 2, "still stored until the leader's expire entry");
      assert.equal(store.expiringKeyCount(), 1, "only t carries an expiry");
      // Reads never run behind the replicated clock, whatever time the reader passes.
      applyCommands(store, "noop", put("q", "v", 2000));
      assert.equal(store.clockMs(), 2000);
      assert.equal(store.get(bytes("t"), 0), undefined);
    }));

  it("applies expire deterministically from the time in the entry", () =>
    withStore((store) => {
      applyCommands(store, put("a", "v", 0, { ttlMs: 100 }), put("b", "v", 0, { ttlMs: 200 }), put("c", "v", 0));
      const keys = [bytes("a"), bytes("b"), bytes("c"), bytes("zzz")];
      const [early, first, second] = applyCommands(
        store,
        { op: "expire", keys, nowMs: 99 },
        { op: "expire", keys, nowMs: 150 },
        { op: "expire", keys, nowMs: 1000 },
      );
      assert.deepEqual(early, { kind: "expire", revision: 3, expiredCount: 0 });
      assert.deepEqual(first, { kind: "expire", revision: 4, expiredCount: 1 });
      assert.deepEqual(second, { kind: "expire", revision: 5, expiredCount: 1 });
      assert.deepEqual(store.stats(), { keyCount: 1, sizeBytes: 2 });
    }));

  it("lists expired keys earliest first, from an index kept in step with every write", () =>
    withStore(async (source) => {
      applyCommands(
        source,
        put("late", "v", 0, { expiresAtMs: 300 }),
        put("b", "v", 0, { expiresAtMs: 100 }),
        put("a", "v", 0, { expiresAtMs: 100 }),
        put("none", "v", 0),
        put("moved", "v", 0, { expiresAtMs: 50 }),
        put("moved", "v", 0, { expiresAtMs: 200 }),
        put("cleared", "v", 0, { ttlMs: 10 }),
        put("cleared", "v", 0),
        put("gone", "v", 0, { ttlMs: 10 }),
        { op: "delete", key: bytes("gone"), nowMs: 0 },
      );
      const names = (store: CommandStore, nowMs: number, limit = 10): (string | undefined)[] =>
        store.expiredKeys(nowMs, limit).map((key) => text(key));
      assert.deepEqual(names(source, 99), []);
      assert.deepEqual(names(source, 100), ["a", "b"]);
      assert.deepEqual(names(source, 1000), ["a", "b", "moved", "late"]);
      assert.deepEqual(names(source, 1000, 3), ["a", "b", "moved"]);
      // The index survives a snapshot round trip (it is rebuilt on restore) and follows expire entries.
      await withStore(async (target) => {
        await target.restore(await collect(source.snapshot().chunks()));
        assert.deepEqual(names(target, 1000), ["a", "b", "moved", "late"]);
        applyCommands(target, { op: "expire", keys: target.expiredKeys(200, 10), nowMs: 200 });
        assert.deepEqual(names(target, 1000), ["late"]);
        assert.equal(target.stats().keyCount, 3);
      });
    }));

  it("answers conflict for failed compare-and-swap and changes nothing", () =>
    withStore(async (store) => {
      applyCommands(store, put("k", "1"));
      const before = await stateBytes(store);
      const [nx, stale] = applyCommands(
        store,
        put("k", "2", 0, { ifAbsent: true }),
        put("k", "2", 0, { ifModRevision: 9 }),
      );
      assert.equal(nx?.kind, "conflict");
      assert.ok(stale?.kind === "conflict");
      assert.equal(stale.current?.modRevision, 1);
      assert.equal(stale.revision, 1);
      const [ok] = applyCommands(store, put("k", "3", 0, { ifModRevision: 1 }));
      assert.deepEqual([ok?.kind, ok?.revision], ["put", 2]);
      assert.notDeepEqual(await stateBytes(store), before);
    }));

  it("applies a txn all-or-nothing at one revision", () =>
    withStore((store) => {
      applyCommands(store, put("a", "1"), put("b", "1"));
      const txn = (expected: string): Command => ({
        op: "txn",
        nowMs: 0,
        compares: [{ key: bytes("a"), target: "value", op: "==", value: bytes(expected) }],
        success: [
          { op: "put", key: bytes("a"), value: bytes("2") },
          { op: "delete", key: bytes("b") },
          { op: "put", key: bytes("c"), value: bytes("3") },
        ],
        failure: [{ op: "get", key: bytes("a") }],
      });
      const [failed, succeeded] = applyCommands(store, txn("nope"), txn("1"));
      assert.ok(failed?.kind === "txn" && succeeded?.kind === "txn");
      assert.deepEqual([failed.succeeded, failed.revision], [false, 2]);
      assert.deepEqual([succeeded.succeeded, succeeded.revision], [true, 3]);
      assert.deepEqual(
        store.range(EMPTY_BYTES, undefined, 10, 0).map((kv) => [text(kv.key), kv.modRevision]),
        [
          ["a", 3],
          ["c", 3],
        ],
      );
      // An invalid txn (over a limit) is rejected whole, identically on every replica.
      const tooMany = Array.from({ length: 200 }, (_, i) => ({ op: "get", key: bytes(`k${i}`) }) as const);
      const body = new Packr({ useRecords: false }).pack({
        op: "txn",
        nowMs: 0,
        compares: [],
        success: tooMany,
        failure: [],
      });
      const data = new Uint8Array([COMMAND_FORMAT_V1, ...body]);
      const [rejected] = store.applyEntries([{ index: store.appliedIndex() + 1, data }]);
      assert.equal(rejected?.kind, "error");
      assert.equal(store.revision(), 3);
    }));
}

function logAndReadCases(withStore: WithStore): void {
  it("asserts that entries continue the log exactly, and applies nothing of a bad batch", () =>
    withStore(async (store) => {
      applyCommands(store, put("a", "1"), "noop");
      const before = await stateBytes(store);
      const again = { index: 2, data: encodeCommand(put("x", "1")) };
      assert.throws(() => store.applyEntries([again]), AssertionError);
      const gap = { index: 4, data: encodeCommand(put("x", "1")) };
      assert.throws(() => store.applyEntries([gap]), AssertionError);
      const good = { index: 3, data: encodeCommand(put("x", "1")) };
      assert.throws(() => store.applyEntries([good, { ...good, data: encodeCommand(put("y", "1")) }]), AssertionError);
      assert.deepEqual(await stateBytes(store), before, "a failed batch leaves no trace");
      assert.equal(store.appliedIndex(), 2);
      const [noop, conf, bad] = store.applyEntries([
        { index: 3, data: EMPTY_BYTES },
        { index: 4, data: new Uint8Array([1, 2, 3]), type: "confChange" },
        { index: 5, data: new Uint8Array([1, 0xc1]) },
      ]);
      assert.deepEqual([noop?.kind, conf?.kind, bad?.kind], ["noop", "noop", "error"]);
      assert.equal(store.appliedIndex(), 5);
      assert.equal(store.revision(), 1);
    }));

  it("scans ranges in byte order with prefix, after and limit", () =>
    withStore((store) => {
      const keys = [[0xff], [0x61, 0x00], [0x61], [0x61, 0xff], [0x62], [], [0x61, 0x62]];
      applyCommands(
        store,
        ...keys.map((k): Command => ({ op: "put", key: new Uint8Array(k), value: bytes("v"), nowMs: 0 })),
      );
      const scan = (prefix: number[], after: number[] | undefined, limit: number): number[][] =>
        store
          .range(new Uint8Array(prefix), after === undefined ? undefined : new Uint8Array(after), limit, 0)
          .map((kv) => [...kv.key]);
      assert.deepEqual(scan([], undefined, 100), [
        [],
        [0x61],
        [0x61, 0x00],
        [0x61, 0x62],
        [0x61, 0xff],
        [0x62],
        [0xff],
      ]);
      assert.deepEqual(scan([0x61], undefined, 100), [[0x61], [0x61, 0x00], [0x61, 0x62], [0x61, 0xff]]);
      assert.deepEqual(scan([0x61], [0x61, 0x00], 2), [
        [0x61, 0x62],
        [0x61, 0xff],
      ]);
      assert.deepEqual(scan([0x61], [0x00], 1), [[0x61]]);
      assert.deepEqual(scan([0x61], [0x62], 5), []);
      assert.deepEqual(scan([0xff], undefined, 5), [[0xff]]);
      assert.deepEqual(scan([], [0x62], 5), [[0xff]]);
    }));
}

function longKeyCases(withStore: WithStore): void {
  it("answers reads of keys longer than it can hold as absent, whatever the length, and never writes one", () =>
    withStore((store) => {
      const limit = COMMAND_LIMITS.keySizeBytesMax;
      const atLimit = new Uint8Array(limit).fill(0x6b);
      const topKey = new Uint8Array(limit).fill(0xff);
      applyCommands(store, put("a", "1"), { op: "put", key: atLimit, value: bytes("k"), nowMs: 0 });
      applyCommands(store, { op: "put", key: topKey, value: bytes("f"), nowMs: 0 });
      const lengths = [limit + 1, 1978, 1979, 4095, 4096, 8000, 70_000];
      for (const length of lengths) {
        const long = new Uint8Array(length).fill(0x6b);
        assert.equal(store.get(long, 0), undefined, `get of ${length} bytes`);
        assert.deepEqual(store.range(long, undefined, 10, 0), [], `range under a ${length}-byte prefix`);
        // After a long key: exactly the stored keys sorting after it (k… at the limit sorts before k… longer).
        const after = store.range(EMPTY_BYTES, long, 10, 0).map((kv) => kv.key.byteLength);
        assert.deepEqual(after, [limit], `range after ${length} bytes of k: only the 0xff key`);
        const afterTop = store.range(EMPTY_BYTES, new Uint8Array(length).fill(0xff), 10, 0);
        assert.deepEqual(afterTop, [], `range after ${length} bytes of 0xff`);
        // Inside apply too: a command reading or writing it fails alike, and nothing is written.
        const [revision, stats] = [store.revision(), store.stats()];
        const [result] = store.applyEntries([
          {
            index: store.appliedIndex() + 1,
            data: encodeUnchecked({ op: "redis", nowMs: 0, argvs: [[bytes("SET"), long, bytes("v")]] }),
          },
        ]);
        assert.equal(result?.kind, "error");
        assert.deepEqual([store.revision(), store.stats()], [revision, stats], "nothing was written");
      }
      assert.equal(text(store.get(atLimit, 0)?.value), "k");
    }));
}

function snapshotCases(withStore: WithStore, factory: StoreFactory): void {
  it("round-trips a snapshot through restore, in bounded chunks", () =>
    withStore(
      async (source) => {
        fill(source, 60);
        const snapshot = source.snapshot();
        assert.equal(snapshot.appliedIndex, source.appliedIndex());
        assert.equal(snapshot.revision, source.revision());
        const chunks = await collect(snapshot.chunks());
        assert.ok(chunks.length > 10);
        assert.ok(chunks.every((chunk) => chunk.length <= 100 && chunk.length > 0));
        await withStore(async (target) => {
          applyCommands(target, put("stale", "gone"));
          await target.restore(chunks);
          assert.equal(target.appliedIndex(), source.appliedIndex());
          assert.equal(target.revision(), source.revision());
          assert.equal(target.clockMs(), source.clockMs());
          assert.deepEqual(target.stats(), source.stats());
          assert.equal(target.get(bytes("stale"), 0), undefined);
          assert.deepEqual(target.get(EMPTY_BYTES, 0), source.get(EMPTY_BYTES, 0));
          assert.deepEqual(
            target.range(EMPTY_BYTES, undefined, 1000, 0),
            source.range(EMPTY_BYTES, undefined, 1000, 0),
          );
          assert.deepEqual(await stateBytes(target), await stateBytes(source));
          // The restored store carries on from the snapshot's index.
          applyCommands(target, put("next", "1"));
          assert.equal(target.revision(), source.revision() + 1);
        });
      },
      { snapshotChunkSizeBytes: 100 },
    ));

  it("keeps a snapshot point-in-time while entries are applied and another snapshot is restored", () =>
    withStore(
      async (store) => {
        fill(store, 40);
        const expected = await stateBytes(store);
        const snapshot = store.snapshot();
        const iterator = snapshot.chunks()[Symbol.asyncIterator]();
        const first = await iterator.next();
        assert.equal(first.done, false);
        const parts = [(first.value as Uint8Array).slice()];
        // Change the state under the open snapshot: new entries, then a wholesale restore of other data.
        applyCommands(store, put("key-0002", "changed"), { op: "delete", key: bytes("key-0003"), nowMs: 0 });
        const other = factory({ snapshotChunkSizeBytes: 100 });
        try {
          applyCommands(other, put("other", "state"));
          await store.restore(await collect(other.snapshot().chunks()));
        } finally {
          await other.close();
        }
        assert.equal(text(store.get(bytes("other"), 0)?.value), "state");
        for (let next = await iterator.next(); next.done !== true; next = await iterator.next()) {
          parts.push(next.value.slice());
        }
        assert.deepEqual(Buffer.concat(parts), expected, "the snapshot still reads the state it was taken at");
        await store.restore(parts);
        assert.deepEqual(await stateBytes(store), expected);
      },
      { snapshotChunkSizeBytes: 100 },
    ));

  it("refuses a corrupt or truncated image and keeps the old state", () =>
    withStore(
      async (store) => {
        fill(store, 20);
        const image = Buffer.concat(await collect(store.snapshot().chunks()));
        const before = await stateBytes(store);
        const flipped = Buffer.from(image);
        flipped[200] = (flipped[200] as number) ^ 0x10;
        const variants = [image.subarray(0, image.length - 3), image.subarray(0, 150), flipped, Buffer.alloc(0)];
        for (const variant of variants) {
          await assert.rejects(store.restore([variant]), (error: unknown) => {
            assert.ok(error instanceof ShoalError);
            assert.equal(error.code, "BAD_REQUEST");
            return true;
          });
          assert.deepEqual(await stateBytes(store), before);
        }
        applyCommands(store, put("still", "works"));
        assert.equal(text(store.get(bytes("still"), 0)?.value), "works");
      },
      { snapshotChunkSizeBytes: 64 },
    ));

  it("releases a snapshot that is abandoned or closed", () =>
    withStore(async (store) => {
      fill(store, 5);
      const abandoned = store.snapshot();
      abandoned.release();
      abandoned.release();
      await assert.rejects(collect(abandoned.chunks()), (error: unknown) => {
        assert.ok(error instanceof ShoalError);
        assert.equal(error.code, "UNAVAILABLE");
        return true;
      });
      const broken = store.snapshot();
      for await (const _ of broken.chunks()) break;
      await assert.rejects(collect(broken.chunks()), AssertionError, "chunks() iterates once");
    }));
}

/** Events as [revision, type, key, value] for compact comparisons. */
function eventRows(events: readonly HistoryEvent[]): [number, string, string | undefined, string | undefined][] {
  return events.map((event) => [event.revision, event.type, text(event.key), text(event.record?.value)]);
}

function historyCases(withStore: WithStore): void {
  it("records every change in revision order, in the same step as the data", () =>
    withStore((store) => {
      applyCommands(
        store,
        put("a", "1", 0, { ttlMs: 100 }),
        put("b", "2"),
        "noop",
        { op: "delete", key: bytes("missing"), nowMs: 0 },
        {
          op: "txn",
          nowMs: 0,
          compares: [],
          success: [
            { op: "put", key: bytes("c"), value: bytes("3") },
            { op: "delete", key: bytes("b") },
            { op: "get", key: bytes("a") },
          ],
          failure: [],
        },
        put("b", "4", 0, { ifModRevision: 99 }),
        { op: "expire", keys: [bytes("a"), bytes("a"), bytes("c")], nowMs: 500 },
        put("d", "5", 600, { expiresAtMs: 10 }),
      );
      assert.equal(store.revision(), 4);
      assert.deepEqual(eventRows(store.events(1, 100)), [
        [1, "put", "a", "1"],
        [2, "put", "b", "2"],
        [3, "put", "c", "3"],
        [3, "delete", "b", undefined],
        [4, "expire", "a", undefined],
      ]);
      assert.deepEqual(eventRows(store.events(3, 3)), [
        [3, "put", "c", "3"],
        [3, "delete", "b", undefined],
      ]);
      const [first] = store.events(1, 1);
      assert.deepEqual([first?.record?.modRevision, first?.record?.version, first?.record?.expiresAtMs], [1, 1, 100]);
      assert.deepEqual(store.events(5, 9), [], "revisions not yet applied have no events");
      assert.deepEqual(store.historyStats().compactedRevision, 0);
      assert.equal(store.historyStats().revisionCount, 4);
    }));

  it("gives a key one event per revision, where its final write in that revision is", () =>
    withStore((store) => {
      // One batch: an MSET naming x twice, then an entry writing x again and deleting y, then a FLUSHALL and a
      // write after it (the history restarts at the flush).
      applyCommands(
        store,
        { op: "redis", nowMs: 0, argvs: [["MSET", "x", "1", "y", "2", "x", "3", "z", "4"].map(bytes)] },
        { op: "redis", nowMs: 0, argvs: [["SET", "x", "5"].map(bytes), ["DEL", "y"].map(bytes)] },
      );
      assert.deepEqual(eventRows(store.events(1, 100)), [
        [1, "put", "y", "2"],
        [1, "put", "x", "3"],
        [1, "put", "z", "4"],
        [2, "put", "x", "5"],
        [2, "delete", "y", undefined],
      ]);
      assert.deepEqual(store.get(bytes("x"), 0)?.version, 3, "every write of x counts, the MSET's two included");
      applyCommands(
        store,
        { op: "redis", nowMs: 0, argvs: [["SET", "w", "6"].map(bytes)] },
        { op: "redis", nowMs: 0, argvs: [["FLUSHALL"].map(bytes), ["MSET", "w", "7", "w", "8"].map(bytes)] },
      );
      assert.deepEqual(eventRows(store.events(4, 100)), [
        [4, "flush", "", undefined],
        [4, "put", "w", "8"],
      ]);
      assert.equal(store.stats().keyCount, 1);
    }));

  it("keeps a bounded window of whole revisions and names the oldest one when asked for older", () =>
    withStore(
      (store) => {
        for (let i = 1; i <= 5; i++) applyCommands(store, put(`k${i}`, "v"));
        assert.deepEqual(store.historyStats(), {
          compactedRevision: 2,
          revisionCount: 3,
          sizeBytes: store.historyStats().sizeBytes,
        });
        assert.deepEqual(
          eventRows(store.events(3, 5)).map((row) => row[2]),
          ["k3", "k4", "k5"],
        );
        assert.throws(
          () => store.events(2, 5),
          (error: unknown) => {
            assert.ok(error instanceof ShoalError);
            assert.equal(error.code, "COMPACTED");
            assert.equal(error.detail?.oldestRevision, 3);
            assert.match(error.message, /oldest available is 3/);
            return true;
          },
        );
        // One batch larger than the window keeps only its newest revisions.
        applyCommands(store, put("x1", "v"), put("x2", "v"), put("x3", "v"), put("x4", "v"), put("x5", "v"));
        assert.equal(store.historyStats().compactedRevision, 7);
        assert.deepEqual(
          eventRows(store.events(8, 10)).map((row) => row[2]),
          ["x3", "x4", "x5"],
        );
      },
      { historyRevisionsMax: 3 },
    ));

  it("drops the oldest revisions when the history passes its byte bound", () =>
    withStore(
      (store) => {
        applyCommands(store, put("a", "x".repeat(100)), put("b", "x".repeat(100)), put("c", "x".repeat(100)));
        const stats = store.historyStats();
        assert.ok(stats.sizeBytes <= 300 && stats.revisionCount === 2, JSON.stringify(stats));
        assert.equal(stats.compactedRevision, 1);
        applyCommands(store, put("big", "x".repeat(500)));
        assert.deepEqual(store.historyStats(), { compactedRevision: 4, revisionCount: 0, sizeBytes: 0 });
        assert.deepEqual(store.events(5, 10), []);
      },
      { historyBytesMax: 300 },
    ));

  it("starts the history at the snapshot's revision after a restore", () =>
    withStore(async (source) => {
      applyCommands(source, put("a", "1"), put("b", "2"));
      await withStore(async (target) => {
        applyCommands(target, put("old", "1"));
        await target.restore(await collect(source.snapshot().chunks()));
        assert.equal(target.historyStats().compactedRevision, 2);
        assert.throws(() => target.events(2, 2), ShoalError);
        applyCommands(target, put("c", "3"));
        assert.deepEqual(eventRows(target.events(3, 3)), [[3, "put", "c", "3"]]);
      });
    }));
}
