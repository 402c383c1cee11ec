/**
 * @module The store contract's cases for collection rows (table-encoded values, store/collection.ts), run by
 * `runStoreContract` against every store: rows written in the same step as their header, counted in the size,
 * carried by snapshots, and reclaimed in bounded steps after their key is dropped. Not a test file itself.
 */
import assert from "node:assert/strict";
import { it } from "node:test";
import { encodeUnchecked } from "../../src/commands/testing/unchecked-entry.js";
import { EMPTY_BYTES } from "../../src/lib/bytes.js";
import type { CommandStore } from "../../src/node/command-store.js";
import { type CollectionHeader, collectionOf, collectionRowBytes, isTableEncoded } from "../../src/store/collection.js";
import type { CollectionRow } from "../../src/store/write-set.js";
import {
  applyCommands,
  bytes,
  collect,
  entriesFor,
  redisArgvReplies,
  redisReplies,
  stateBytes,
  type WithStore,
} from "./store.contract.js";

const NOW = 1000;
const MANUAL = { reclaim: "manual" } as const;

/** `HSET key f0000 0 f0001 1 …` with `count` fields (past 128 it is table-encoded). */
function hset(key: string, count: number, from = 0): string {
  const pairs = Array.from({ length: count }, (_, i) => `f${String(from + i).padStart(4, "0")} ${from + i}`);
  return `HSET ${key} ${pairs.join(" ")}`;
}

function headerOf(store: CommandStore, key: string): CollectionHeader {
  const header = collectionOf(store.get(bytes(key), NOW));
  assert.ok(header !== undefined, `${key} is a table-encoded value`);
  return header;
}

function allRows(store: CommandStore, collectionId: number): CollectionRow[] {
  const out: CollectionRow[] = [];
  for (let page = store.rowsAfter(collectionId, undefined, 100); page.length > 0; ) {
    out.push(...page);
    page = store.rowsAfter(collectionId, (page[page.length - 1] as CollectionRow).rowKey, 100);
  }
  return out;
}

/** The size the store should report, recomputed from what it holds: keys, values and every live row. */
function recountedSizeBytes(store: CommandStore): number {
  let size = 0;
  for (const kv of store.range(EMPTY_BYTES, undefined, 1_000_000, NOW)) {
    size += kv.key.byteLength + kv.value.byteLength;
    const header = collectionOf(kv);
    if (header === undefined) continue;
    const rows = allRows(store, header.collectionId);
    const rowBytes = rows.reduce((sum, row) => sum + collectionRowBytes(row.rowKey, row.value), 0);
    assert.equal(header.rowBytes, rowBytes, "a header counts its rows' bytes exactly");
    size += rowBytes;
  }
  return size;
}

/** Runs reclaim steps of `rowsMax` until idle; answers the rows each step deleted. */
function reclaimAll(store: CommandStore, rowsMax: number): number[] {
  const steps: number[] = [];
  while (store.reclaimStats().pendingCollections > 0) {
    steps.push(store.reclaimStep(rowsMax));
    assert.ok(steps.length < 10_000, "the reclaimer makes progress");
  }
  return steps;
}

export function collectionRowCases(withStore: WithStore): void {
  it("keeps a hash past 128 fields as one row per field, reads and writes single fields, counts the rows' bytes", () =>
    withStore((store) => {
      assert.deepEqual(redisReplies(store, NOW, hset("small", 128), hset("h", 200)), ["128", "200"]);
      assert.equal(collectionOf(store.get(bytes("small"), NOW)), undefined, "128 fields stay compact");
      const header = headerOf(store, "h");
      assert.equal(header.size, 200);
      assert.equal(allRows(store, header.collectionId).length, 200);
      assert.ok((store.get(bytes("h"), NOW)?.value.byteLength ?? 0) < 64, "the record holds only a header");
      assert.deepEqual(
        redisReplies(store, NOW, "HGET h f0123", "HLEN h", "HEXISTS h f0199", "HEXISTS h nope", "HSTRLEN h f0150"),
        ["123", "200", "1", "0", "3"],
      );
      assert.deepEqual(redisReplies(store, NOW, "HINCRBY h f0007 5", "HDEL h f0000 f0001 nope", "HSETNX h f0002 x"), [
        "12",
        "2",
        "0",
      ]);
      assert.equal(headerOf(store, "h").size, 198);
      assert.deepEqual(store.stats(), { keyCount: 2, sizeBytes: recountedSizeBytes(store) });
      assert.equal(headerOf(store, "h").collectionId, header.collectionId, "a write keeps the collection");
    }, MANUAL));

  it("round-trips rows through a snapshot in bounded chunks, and both stores carry on alike", () =>
    withStore(
      async (source) => {
        redisReplies(source, NOW, hset("big", 150), hset("other", 140), "HSET small a 1", "SET s x");
        const chunks = await collect(source.snapshot().chunks());
        assert.ok(chunks.every((chunk) => chunk.length <= 100));
        await withStore(
          async (target) => {
            redisReplies(target, NOW, hset("stale", 300));
            await target.restore(chunks);
            assert.deepEqual(await stateBytes(target), await stateBytes(source));
            assert.deepEqual(target.stats(), source.stats());
            assert.deepEqual(target.reclaimStats().pendingCollections, 0, "the old state is gone whole");
            const read = ["HGETALL big", "HGETALL other", "HGETALL small", "HLEN big"];
            assert.deepEqual(redisReplies(target, NOW, ...read), redisReplies(source, NOW, ...read));
            // The collection counter travels in the image: a new table hash takes the same id on both.
            const more = [hset("new", 130), "HDEL big f0003", "HSET other f0001 changed"];
            assert.deepEqual(redisReplies(target, NOW, ...more), redisReplies(source, NOW, ...more));
            assert.deepEqual(await stateBytes(target), await stateBytes(source));
            assert.equal(target.stats().sizeBytes, recountedSizeBytes(target));
          },
          { snapshotChunkSizeBytes: 100 },
        );
      },
      { snapshotChunkSizeBytes: 100 },
    ));

  const everyField = Array.from({ length: 300 }, (_, i) => `f${String(i).padStart(4, "0")}`).join(" ");
  const drops: readonly (readonly [how: string, lines: readonly string[], typeAfter: string, keepAfter: string])[] = [
    ["DEL", ["DEL h"], "none", "1"],
    ["UNLINK", ["UNLINK h"], "none", "1"],
    ["SET over it", ["SET h string"], "string", "1"],
    ["RENAME over it", ["SET src v", "RENAME src h"], "string", "1"],
    ["HDEL of every field", [`HDEL h ${everyField}`], "none", "1"],
  ];
  for (const [how, lines, typeAfter, keepAfter] of drops) {
    it(`drops a table hash by ${how} at once, then reclaims its rows in bounded steps`, () =>
      withStore((store) => {
        redisReplies(store, NOW, hset("h", 300), "SET keep 1");
        const { collectionId } = headerOf(store, "h");
        redisReplies(store, NOW, ...lines);
        assert.deepEqual(redisReplies(store, NOW, "TYPE h", "GET keep"), [typeAfter, keepAfter]);
        assert.equal(store.stats().sizeBytes, recountedSizeBytes(store), "the rows no longer count");
        assert.equal(store.reclaimStats().pendingCollections, 1);
        const rowsBefore = allRows(store, collectionId).length;
        // Even HDEL of the last fields leaves them: the batch drops the collection, so its row writes are skipped.
        assert.equal(rowsBefore, 300, "deleting the key leaves the rows to the reclaimer");
        const reclaimedBefore = store.reclaimStats().reclaimedRows;
        const steps = reclaimAll(store, 64);
        assert.ok(steps.every((rows) => rows <= 64));
        assert.equal(store.reclaimStats().reclaimedRows - reclaimedBefore, rowsBefore);
        assert.deepEqual(allRows(store, collectionId), []);
        assert.equal(store.reclaimStep(64), 0, "an idle reclaimer deletes nothing");
      }, MANUAL));
  }

  it("drops a table hash by FLUSHALL with everything else at once: no row is left to reclaim", () =>
    withStore((store) => {
      redisReplies(store, NOW, hset("h", 300), "SET keep 1");
      const { collectionId } = headerOf(store, "h");
      redisReplies(store, NOW, "FLUSHALL");
      assert.deepEqual(redisReplies(store, NOW, "TYPE h", "GET keep", "DBSIZE"), ["none", "null", "0"]);
      assert.deepEqual(store.stats(), { keyCount: 0, sizeBytes: 0 });
      assert.deepEqual(store.reclaimStats().pendingCollections, 0);
      assert.deepEqual(allRows(store, collectionId), []);
      redisReplies(store, NOW, hset("next", 200));
      assert.ok(headerOf(store, "next").collectionId > collectionId, "collection ids are never reused");
    }, MANUAL));

  it("writes nothing for a table hash made and dropped within one batch", () =>
    withStore((store) => {
      redisReplies(store, NOW, hset("h", 200), "HSET h extra 1", "DEL h");
      assert.deepEqual(allRows(store, 1), []);
      assert.deepEqual(store.reclaimStats(), { pendingCollections: 0, reclaimedRows: 0 });
      assert.deepEqual(store.stats(), { keyCount: 0, sizeBytes: 0 });
      redisReplies(store, NOW, hset("next", 200));
      assert.equal(headerOf(store, "next").collectionId, 2, "the id stays taken: ids are never reused");
    }, MANUAL));

  it("drops a table hash by its expiry (the leader's expire entry) and reclaims it", () =>
    withStore((store) => {
      redisReplies(store, NOW, hset("h", 200), "PEXPIRE h 100");
      const { collectionId } = headerOf(store, "h");
      applyCommands(store, { op: "expire", keys: store.expiredKeys(NOW + 100, 10), nowMs: NOW + 100 });
      assert.deepEqual(store.stats(), { keyCount: 0, sizeBytes: 0 });
      assert.equal(store.reclaimStats().pendingCollections, 1);
      reclaimAll(store, 1000);
      assert.deepEqual(allRows(store, collectionId), []);
    }, MANUAL));

  it("moves a table hash by RENAME with its rows (O(1)), reclaiming only what it replaced", () =>
    withStore((store) => {
      redisReplies(store, NOW, hset("a", 200), hset("b", 150));
      const a = headerOf(store, "a");
      const b = headerOf(store, "b");
      assert.deepEqual(redisReplies(store, NOW, "RENAME a b", "HLEN b", "HGET b f0199", "EXISTS a"), [
        "OK",
        "200",
        "199",
        "0",
      ]);
      assert.equal(headerOf(store, "b").collectionId, a.collectionId);
      assert.equal(store.reclaimStats().pendingCollections, 1, "b's old rows are dropped");
      reclaimAll(store, 1000);
      assert.equal(allRows(store, a.collectionId).length, 200);
      assert.deepEqual(allRows(store, b.collectionId), []);
      // Renamed there and back within one entry: still owned, nothing to reclaim.
      redisReplies(store, NOW, "RENAME b c", "RENAME c b");
      assert.equal(store.reclaimStats().pendingCollections, 0);
      assert.equal(store.stats().sizeBytes, recountedSizeBytes(store));
    }, MANUAL));

  it("keeps nothing of a command that fails after writing rows, nor of a batch that fails", () =>
    withStore(async (store) => {
      const longKey = new Uint8Array(2000).fill(0x6b);
      const before = await stateBytes(store);
      // Proposers refuse such a key; an entry that carries one anyway (written by an older or faulty proposer)
      // is refused at apply, and refused whole: no collection id taken, no row written.
      const [entry] = entriesFor(store, ["noop"]);
      const data = encodeUnchecked({
        op: "redis",
        nowMs: NOW,
        argvs: [[bytes("HSET"), longKey, bytes("f"), new Uint8Array(100)]],
      });
      const [result] = store.applyEntries([{ index: entry?.index ?? 0, data }]);
      assert.ok(result?.kind === "redis" || result?.kind === "error");
      const failed = result.kind === "redis" ? result.replies[0] : result;
      assert.ok(failed !== undefined && "code" in failed && failed.code === "TOO_LARGE");
      assert.deepEqual(allRows(store, 1), []);
      redisReplies(store, NOW, hset("h", 130));
      assert.equal(headerOf(store, "h").collectionId, 1, "the failed command's collection id was never taken");
      const state = await stateBytes(store);
      const good = entriesFor(store, [{ op: "redis", nowMs: NOW, argvs: [hset("h", 100, 500).split(" ").map(bytes)] }]);
      const gap = { index: (good[0]?.index ?? 0) + 2, data: good[0]?.data ?? EMPTY_BYTES };
      assert.throws(() => store.applyEntries([...good, gap]));
      assert.deepEqual(await stateBytes(store), state, "a failed batch leaves no row");
      assert.equal(allRows(store, 1).length, 130);
      assert.notDeepEqual(state, before);
    }, MANUAL));

  it("leaves the rows of dropped collections out of snapshots", () =>
    withStore(async (source) => {
      redisReplies(source, NOW, hset("gone", 200), hset("kept", 200));
      redisReplies(source, NOW, "DEL gone");
      const gone = 1;
      assert.equal(source.reclaimStats().pendingCollections, 1);
      assert.equal(allRows(source, gone).length, 200, "not reclaimed yet");
      const chunks = await collect(source.snapshot().chunks());
      await withStore(async (target) => {
        await target.restore(chunks);
        assert.deepEqual(allRows(target, gone), []);
        assert.equal(target.reclaimStats().pendingCollections, 0);
        assert.deepEqual(await stateBytes(target), await stateBytes(source));
      });
    }, MANUAL));

  it("reclaims in the background by itself, one bounded step per event-loop turn", () =>
    withStore(
      async (store) => {
        redisReplies(store, NOW, hset("h", 400));
        const { collectionId } = headerOf(store, "h");
        redisReplies(store, NOW, "DEL h");
        let turns = 0;
        while (store.reclaimStats().pendingCollections > 0) {
          await new Promise((resolve) => setImmediate(resolve));
          turns++;
          assert.ok(turns < 1000, "the background reclaimer finishes");
        }
        assert.ok(turns >= 400 / 16, `one step of 16 rows per turn, not all at once (${turns} turns)`);
        assert.deepEqual(allRows(store, collectionId), []);
        assert.equal(store.reclaimStats().reclaimedRows, 400);
      },
      { reclaim: "background", reclaimRowsPerStep: 16 },
    ));

  it("records a write to a table hash as a put of the key's header, not of its fields", () =>
    withStore((store) => {
      redisReplies(store, NOW, hset("h", 500));
      redisReplies(store, NOW, "HSET h f0001 changed");
      const [event] = store.events(store.revision(), store.revision());
      assert.equal(event?.type, "put");
      assert.ok(event?.record !== undefined && isTableEncoded(event.record.value));
      assert.ok(event.record.value.byteLength < 64);
      assert.equal(collectionOf(event.record)?.size, 500);
    }, MANUAL));

  it("stores fields and values of 1 MiB in rows", () =>
    withStore(async (store) => {
      const field = new Uint8Array(1024 * 1024).fill(0x66);
      const value = new Uint8Array(1024 * 1024).fill(0x76);
      assert.deepEqual(
        redisArgvReplies(store, NOW, [[bytes("HSET"), bytes("h"), field, value, bytes("x"), bytes("1")]]),
        ["2"],
      );
      const [got, length, exists] = redisArgvReplies(store, NOW, [
        [bytes("HGET"), bytes("h"), field],
        [bytes("HSTRLEN"), bytes("h"), field],
        [bytes("HEXISTS"), bytes("h"), field],
      ]);
      assert.equal(got, "v".repeat(1024 * 1024));
      assert.deepEqual([length, exists], [String(1024 * 1024), "1"]);
      assert.equal(store.stats().sizeBytes, recountedSizeBytes(store));
      assert.ok(store.stats().sizeBytes > 2 * 1024 * 1024);
      await withStore(async (target) => {
        await target.restore(await collect(store.snapshot().chunks()));
        assert.deepEqual(redisArgvReplies(target, NOW, [[bytes("HSTRLEN"), bytes("h"), field]]), [String(1024 * 1024)]);
      });
      assert.deepEqual(
        redisArgvReplies(store, NOW, [
          [bytes("HDEL"), bytes("h"), field],
          [bytes("HLEN"), bytes("h")],
        ]),
        ["1", "1"],
      );
      assert.equal(store.stats().sizeBytes, recountedSizeBytes(store));
    }, MANUAL));
}
