/**
 * Differential property test: random command sequences (valid and invalid, in random batches, with reads,
 * snapshots taken under later writes, and restores) applied to a MemoryStore and an LmdbStore must give equal
 * results, equal reads and byte-identical final state. fast-check prints the seed and the shrunk
 * counterexample on failure; replay with SHOAL_SEED=<seed>.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { Packr } from "msgpackr";
import type { Command, Compare, TxnOp } from "../../../src/commands/command.js";
import { COMMAND_FORMAT_V1 } from "../../../src/commands/command-codec.js";
import { EMPTY_BYTES } from "../../../src/lib/bytes.js";
import { type CommandStore, memoryCommandStore, openLmdbCommandStore } from "../../../src/node/command-store.js";
import type { ApplyEntry, StoreSnapshot } from "../../../src/store/state-machine-store.js";
import { stateBytes } from "../store.contract.js";

const KEYS = [[], [0x61], [0x61, 0x00], [0x61, 0x62], [0x62], [0xff], [0xff, 0xff]].map((k) => new Uint8Array(k));
const key = fc.constantFrom(...KEYS);
// Now and then a value around 64 KiB, where the LMDB store starts reading a record's value only when a command
// uses it (lmdb-store.ts #getRecord).
const value = fc.oneof(
  { weight: 12, arbitrary: fc.uint8Array({ maxLength: 6 }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 255 }), fc.constantFrom(65_497, 65_500, 65_536, 70_000))
      .map(([byte, length]) => new Uint8Array(length).fill(byte)),
  },
);
const time = fc.integer({ min: 0, max: 1000 });

const expiry = fc.oneof(
  fc.constant({}),
  fc.record({ ttlMs: fc.integer({ min: 1, max: 300 }) }),
  fc.record({ expiresAtMs: fc.integer({ min: 1, max: 1200 }) }),
  fc.constant({ keepTtl: true }),
);
const condition = fc.oneof(
  { weight: 3, arbitrary: fc.constant({}) },
  fc.constant({ ifAbsent: true }),
  fc.constant({ ifPresent: true }),
  fc.record({ ifModRevision: fc.integer({ min: 0, max: 12 }) }),
);
const put = fc
  .tuple(key, value, time, expiry, condition)
  .map(([k, v, nowMs, e, c]): Command => ({ op: "put", key: k, value: v, nowMs, ...e, ...c }));
const del = fc.tuple(key, time).map(([k, nowMs]): Command => ({ op: "delete", key: k, nowMs }));
const expire = fc
  .tuple(fc.array(key, { maxLength: 5 }), time)
  .map(([keys, nowMs]): Command => ({ op: "expire", keys, nowMs }));
const compare: fc.Arbitrary<Compare> = fc.oneof(
  fc.record({ key, target: fc.constant("value" as const), op: fc.constantFrom("==", "!=", "<", ">"), value }),
  fc.record({
    key,
    target: fc.constantFrom("version", "createRevision", "modRevision"),
    op: fc.constantFrom("==", "!=", "<", ">"),
    value: fc.integer({ min: 0, max: 10 }),
  }),
);
const txnOp: fc.Arbitrary<TxnOp> = fc.oneof(
  fc.tuple(key, value, expiry).map(([k, v, e]): TxnOp => ({ op: "put", key: k, value: v, ...e })),
  fc.record({ op: fc.constant("delete" as const), key }),
  fc.record({ op: fc.constant("get" as const), key }),
);
const txn = fc
  .tuple(
    time,
    fc.array(compare, { maxLength: 3 }),
    fc.array(txnOp, { maxLength: 4 }),
    fc.array(txnOp, { maxLength: 3 }),
  )
  .map(([nowMs, compares, success, failure]): Command => ({ op: "txn", nowMs, compares, success, failure }));

// Encoded WITHOUT validation, so invalid combinations reach apply and must be rejected alike by both stores.
const packOptions = { useRecords: false, skipValues: [undefined] };
const packr = new Packr(packOptions);
const entryData = fc.oneof(
  {
    weight: 12,
    arbitrary: fc.oneof(put, put, del, expire, txn).map((c) => new Uint8Array([COMMAND_FORMAT_V1, ...packr.pack(c)])),
  },
  { weight: 1, arbitrary: fc.constant(EMPTY_BYTES) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 6 }) },
);

type Step =
  | { readonly kind: "apply"; readonly data: Uint8Array[]; readonly offLoop: boolean }
  | { readonly kind: "get"; readonly key: Uint8Array; readonly nowMs: number }
  | {
      readonly kind: "range";
      readonly prefix: Uint8Array;
      readonly after: Uint8Array | undefined;
      readonly limit: number;
      readonly nowMs: number;
    }
  | { readonly kind: "expired"; readonly nowMs: number; readonly limit: number }
  | { readonly kind: "snapshot" }
  | { readonly kind: "rewind" };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(fc.array(entryData, { minLength: 1, maxLength: 8 }), fc.boolean())
      .map(([data, offLoop]) => ({ kind: "apply" as const, data, offLoop })),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("get" as const), key, nowMs: time }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("range" as const),
      prefix: fc.constantFrom(...KEYS.slice(0, 2), KEYS[5] as Uint8Array),
      after: fc.option(key, { nil: undefined }),
      limit: fc.integer({ min: 1, max: 5 }),
      nowMs: time,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("expired" as const), nowMs: time, limit: fc.integer({ min: 1, max: 4 }) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: "snapshot" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "rewind" as const }) },
);

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-lmdb-differential-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let runCount = 0;

async function collect(snapshot: StoreSnapshot): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const chunk of snapshot.chunks()) out.push(chunk.slice());
  return out;
}

function assertSameMeta(memory: CommandStore, lmdb: CommandStore): void {
  assert.deepStrictEqual(
    [lmdb.appliedIndex(), lmdb.revision(), lmdb.clockMs(), lmdb.stats(), lmdb.historyStats()],
    [memory.appliedIndex(), memory.revision(), memory.clockMs(), memory.stats(), memory.historyStats()],
  );
  // The watch history holds every revision of its window, identically in both.
  const from = memory.historyStats().compactedRevision + 1;
  const events = memory.events(from, memory.revision());
  assert.deepStrictEqual(lmdb.events(from, lmdb.revision()), events);
  assert.equal(new Set(events.map((event) => event.revision)).size, memory.revision() - from + 1);
}

function lmdbOffLoop(lmdb: CommandStore, entries: ApplyEntry[]): Promise<unknown[]> {
  assert.ok(lmdb.applyEntriesOffLoop !== undefined, "the LMDB store applies off the loop");
  return lmdb.applyEntriesOffLoop(entries);
}

async function runSteps(steps: readonly Step[]): Promise<void> {
  // A small history window, so compaction runs often.
  const memory = memoryCommandStore({ snapshotChunkSizeBytes: 50, historyRevisionsMax: 6, historyBytesMax: 400 });
  // Sync mode does not change semantics; skipping fsync keeps hundreds of runs fast.
  const lmdb = openLmdbCommandStore(path.join(root, `run-${++runCount}`), {
    snapshotChunkSizeBytes: 50,
    syncCommits: false,
    historyRevisionsMax: 6,
    historyBytesMax: 400,
  });
  let pending: { snapshot: StoreSnapshot; state: Buffer } | undefined;
  try {
    for (const s of steps) {
      if (s.kind === "apply") {
        const entries: ApplyEntry[] = s.data.map((data, i) => ({ index: memory.appliedIndex() + 1 + i, data }));
        // Half the batches go through the off-loop path (lmdb-js's write thread commits them): same results.
        const results = s.offLoop ? await lmdbOffLoop(lmdb, entries) : lmdb.applyEntries(entries);
        assert.deepStrictEqual(results, memory.applyEntries(entries));
      } else if (s.kind === "get") {
        assert.deepStrictEqual(lmdb.get(s.key, s.nowMs), memory.get(s.key, s.nowMs));
      } else if (s.kind === "range") {
        assert.deepStrictEqual(
          lmdb.range(s.prefix, s.after, s.limit, s.nowMs),
          memory.range(s.prefix, s.after, s.limit, s.nowMs),
        );
      } else if (s.kind === "expired") {
        assert.deepStrictEqual(lmdb.expiredKeys(s.nowMs, s.limit), memory.expiredKeys(s.nowMs, s.limit));
      } else if (s.kind === "snapshot") {
        pending?.snapshot.release();
        // Read later, after more writes: it must still show this point in time (the memory store's image).
        pending = { snapshot: lmdb.snapshot(), state: await stateBytes(memory) };
      } else if (pending !== undefined) {
        const image = await collect(pending.snapshot);
        assert.deepStrictEqual(Buffer.concat(image), pending.state);
        pending = undefined;
        await memory.restore(image);
        await lmdb.restore(image);
      }
      assertSameMeta(memory, lmdb);
    }
    assert.deepStrictEqual(await stateBytes(lmdb), await stateBytes(memory));
  } finally {
    pending?.snapshot.release();
    await memory.close();
    await lmdb.close();
  }
}

describe("MemoryStore and LmdbStore agree", () => {
  it("on random command sequences, reads, snapshots and restores", async () => {
    const seed = process.env.SHOAL_SEED === undefined ? undefined : Number(process.env.SHOAL_SEED);
    await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 40 }), runSteps), {
      numRuns: 200,
      ...(seed === undefined ? {} : { seed }),
    });
  });
});
