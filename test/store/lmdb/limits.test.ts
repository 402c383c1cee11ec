/**
 * Property test of "no client input can stop a node", at the store: random sequences of commands — structured
 * (put, delete, txn, expire) and Redis (SET, MSET, APPEND, SETRANGE, HSET, RENAME, …, with WATCHed keys) — with
 * key, value and argument sizes from 0 B to 20 MiB, weighted around every boundary (511, 512, 1,978, 4,095, 4,096,
 * 64 KiB, the key, value and entry limits ± 1), plus malformed entries, go through the real apply path of the
 * real LMDB store (and of the MemoryStore beside it). Each entry is encoded the way a proposer does (validated,
 * and then refused before proposing when over a bound) or without validation (as a buggy or older proposer
 * could have logged it). Checked: apply never throws; both stores give equal results and end in byte-identical
 * states; a refused entry changes nothing; a validated entry never meets a bound apply could have checked
 * before it was proposed; and every stored key and value is within its bound. fast-check prints the seed and the
 * shrunk counterexample on failure; replay with SHOAL_SEED=<seed>.
 */
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import type { CommandResult } from "../../../src/commands/command.js";
import { encodeCommand } from "../../../src/commands/command-codec.js";
import { COMMAND_LIMITS } from "../../../src/commands/limits.js";
import { encodeUnchecked } from "../../../src/commands/testing/unchecked-entry.js";
import { EMPTY_BYTES } from "../../../src/lib/bytes.js";
import { ShoalError } from "../../../src/lib/errors.js";
import { type CommandStore, memoryCommandStore, openLmdbCommandStore } from "../../../src/node/command-store.js";
import { recordSizeBytes } from "../../../src/store/batch-plan.js";
import { stateBytes } from "../store.contract.js";

const MiB = 1024 * 1024;
const { keySizeBytesMax, valueSizeBytesMax, entrySizeBytesMax } = COMMAND_LIMITS;
const enc = (text: string): Uint8Array => new TextEncoder().encode(text);

/** Sizes around every boundary a key, value or argument can meet, and then some. */
const boundarySize = fc.constantFrom(
  511,
  512,
  keySizeBytesMax - 1,
  keySizeBytesMax,
  keySizeBytesMax + 1,
  1977,
  1978,
  1979,
  4095,
  4096,
  4097,
  64 * 1024 - 1,
  64 * 1024,
  64 * 1024 + 1,
);
const bigSize = fc.constantFrom(
  valueSizeBytesMax - 1,
  valueSizeBytesMax,
  valueSizeBytesMax + 1,
  entrySizeBytesMax - 1,
  entrySizeBytesMax,
  entrySizeBytesMax + 1,
  20 * MiB,
);
const size = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 0, max: 8 }) },
  { weight: 6, arbitrary: boundarySize },
  { weight: 1, arbitrary: bigSize },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 20 * MiB }) },
);
/** Few distinct contents, so keys collide and commands meet each other's writes. */
const fill = fc.constantFrom(0x61, 0x62, 0xff);

/** Buffers are shared by size and fill: a sequence may hold many 16 MiB arguments without holding many copies. */
const buffers = new Map<string, Uint8Array>();
function buffer(length: number, byte: number): Uint8Array {
  const id = `${length}:${byte}`;
  let bytes = buffers.get(id);
  if (bytes === undefined) {
    bytes = new Uint8Array(length).fill(byte);
    if (length > 1024 * 1024) buffers.set(id, bytes);
  }
  return bytes;
}

const sized = (sizes: fc.Arbitrary<number>): fc.Arbitrary<Uint8Array> =>
  fc.tuple(sizes, fill).map(([length, byte]) => buffer(length, byte));
const smallKey = fc.constantFrom(enc("a"), enc("b"), enc("h"), EMPTY_BYTES);
const key = fc.oneof({ weight: 3, arbitrary: smallKey }, { weight: 2, arbitrary: sized(size) });
const value = fc.oneof({ weight: 2, arbitrary: fc.constant(enc("1")) }, { weight: 3, arbitrary: sized(size) });
const number = fc.constantFrom(
  "0",
  "1",
  "-1",
  "1.5",
  String(valueSizeBytesMax - 1),
  String(valueSizeBytesMax),
  "9007199254740993",
  "1e308",
);

/** Redis argvs (commands are picked by name; arity and syntax errors are part of what apply must survive). */
const redisArgv: fc.Arbitrary<Uint8Array[]> = fc.oneof(
  fc.tuple(key, value).map(([k, v]) => [enc("SET"), k, v]),
  fc.tuple(key, value, number).map(([k, v, ms]) => [enc("SET"), k, v, enc("PX"), enc(ms), enc("GET")]),
  fc.tuple(key).map(([k]) => [enc("GET"), k]),
  fc.tuple(key, value, key, value).map(([k1, v1, k2, v2]) => [enc("MSET"), k1, v1, k2, v2]),
  fc.tuple(key, value).map(([k, v]) => [enc("APPEND"), k, v]),
  fc.tuple(key, number, value).map(([k, offset, v]) => [enc("SETRANGE"), k, enc(offset), v]),
  fc.tuple(key, value, value).map(([k, f, v]) => [enc("HSET"), k, f, v]),
  fc.tuple(key, value).map(([k, f]) => [enc("HGET"), k, f]),
  fc.tuple(key, number).map(([k, n]) => [enc("INCRBYFLOAT"), k, enc(n)]),
  fc.tuple(key, key).map(([k1, k2]) => [enc("RENAME"), k1, k2]),
  fc.tuple(key, key).map(([k1, k2]) => [enc("DEL"), k1, k2]),
  fc.tuple(key, key).map(([k1, k2]) => [enc("EXISTS"), k1, k2]),
  fc.tuple(key, number).map(([k, seconds]) => [enc("EXPIRE"), k, enc(seconds)]),
  fc.tuple(key, number, number).map(([k, start, end]) => [enc("GETRANGE"), k, enc(start), enc(end)]),
  fc.tuple(value).map(([v]) => [enc("KEYS"), v]),
  fc.tuple(sized(size)).map(([name]) => [name, enc("x")]),
);

const command: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.tuple(key, value).map(([k, v]) => ({ op: "put", key: k, value: v, nowMs: 1 })) },
  { weight: 1, arbitrary: key.map((k) => ({ op: "delete", key: k, nowMs: 1 })) },
  { weight: 1, arbitrary: fc.array(key, { maxLength: 3 }).map((keys) => ({ op: "expire", keys, nowMs: 5_000_000 })) },
  {
    weight: 1,
    arbitrary: fc.tuple(key, value, key).map(([k, v, g]) => ({
      op: "txn",
      nowMs: 1,
      compares: [{ key: g, target: "value", op: "==", value: v }],
      success: [{ op: "put", key: k, value: v }],
      failure: [{ op: "get", key: g }],
    })),
  },
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.array(redisArgv, { minLength: 1, maxLength: 4 }), fc.array(key, { maxLength: 2 }))
      .map(([argvs, watched]) => ({
        op: "redis",
        nowMs: 1,
        argvs,
        ...(watched.length === 0 ? {} : { watches: watched.map((k) => ({ key: k, modRevision: 0 })) }),
      })),
  },
);

type EntryPlan =
  | { readonly kind: "validated" | "unchecked"; readonly command: unknown }
  | { readonly kind: "raw"; readonly data: Uint8Array }
  | { readonly kind: "read"; readonly key: Uint8Array; readonly after: Uint8Array };

const entryPlan: fc.Arbitrary<EntryPlan> = fc.oneof(
  { weight: 6, arbitrary: command.map((c) => ({ kind: "validated" as const, command: c })) },
  { weight: 6, arbitrary: command.map((c) => ({ kind: "unchecked" as const, command: c })) },
  {
    weight: 1,
    arbitrary: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((data) => ({ kind: "raw" as const, data })),
  },
  // The store's own reads (HTTP GET and ranges, WATCH, reads served outside the log) with any key.
  { weight: 2, arbitrary: fc.tuple(key, key).map(([k, a]) => ({ kind: "read" as const, key: k, after: a })) },
);

/** Bounds a proposer checks before proposing: apply must never meet one in a validated entry. */
const CHECKED_BEFORE_PROPOSING = /shoal-key-max-bytes|shoal-entry-max-bytes/;

function limitMessages(result: CommandResult): string[] {
  if (result.kind === "error") return [result.message];
  if (result.kind !== "redis") return [];
  return result.replies.flatMap((reply) => (reply.kind === "error" ? [reply.message] : []));
}

/** The entry's data, or undefined when the proposer refuses it (a ShoalError: it never reaches the log). */
function entryData(plan: Exclude<EntryPlan, { kind: "read" }>): Uint8Array | undefined {
  if (plan.kind === "raw") return plan.data;
  if (plan.kind === "unchecked") return encodeUnchecked(plan.command);
  try {
    return encodeCommand(plan.command as Parameters<typeof encodeCommand>[0]);
  } catch (error) {
    if (error instanceof ShoalError) return undefined;
    throw error;
  }
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-lmdb-limits-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));
let runCount = 0;

/** Every stored key and value is within its bound, and the counts agree with what is stored (the rows of a
 * table-encoded value are checked against their header's count by the collection-rows contract). */
function assertStoredWithinBounds(store: CommandStore): void {
  let keys = 0;
  let bytes = 0;
  for (let page = store.range(EMPTY_BYTES, undefined, 100, 0); page.length > 0; ) {
    for (const kv of page) {
      assert.ok(kv.key.byteLength <= keySizeBytesMax, `a stored key of ${kv.key.byteLength} bytes`);
      assert.ok(kv.value.byteLength <= valueSizeBytesMax, `a stored value of ${kv.value.byteLength} bytes`);
      keys++;
      bytes += recordSizeBytes(kv.key, kv); // a table-encoded hash also counts its rows' bytes
    }
    const last = page[page.length - 1]?.key;
    page = page.length < 100 || last === undefined ? [] : store.range(EMPTY_BYTES, last, 100, 0);
  }
  // Commands run at time 1 and reads at 0, so a key is past its expiry only when an entry moved the store's clock
  // on (an unchecked expire carries any time) after a SET … PX: the stats count such a key until the expiry sweep
  // removes it (as Redis's DBSIZE does), the range no longer lists it.
  if (store.expiredKeys(store.clockMs(), 1).length > 0) assert.ok(store.stats().keyCount >= keys);
  else assert.deepEqual(store.stats(), { keyCount: keys, sizeBytes: bytes });
}

async function runEntries(plans: readonly EntryPlan[]): Promise<void> {
  const memory = memoryCommandStore();
  const lmdb = openLmdbCommandStore(path.join(root, `run-${++runCount}`), { syncCommits: false });
  try {
    for (const plan of plans) {
      if (plan.kind === "read") {
        assert.deepStrictEqual(lmdb.get(plan.key, 0), memory.get(plan.key, 0));
        assert.deepStrictEqual(lmdb.range(plan.key, undefined, 3, 0), memory.range(plan.key, undefined, 3, 0));
        assert.deepStrictEqual(lmdb.range(EMPTY_BYTES, plan.after, 3, 0), memory.range(EMPTY_BYTES, plan.after, 3, 0));
        continue;
      }
      const data = entryData(plan);
      if (data === undefined) continue;
      const entry = { index: lmdb.appliedIndex() + 1, data };
      const revision = lmdb.revision();
      const [fromLmdb] = lmdb.applyEntries([entry]);
      const [fromMemory] = memory.applyEntries([entry]);
      assert.ok(fromLmdb !== undefined);
      assert.deepStrictEqual(fromLmdb, fromMemory);
      if (fromLmdb.kind === "error") assert.equal(lmdb.revision(), revision, "a refused entry changes nothing");
      if (plan.kind === "validated") {
        const unchecked = limitMessages(fromLmdb).filter((message) => CHECKED_BEFORE_PROPOSING.test(message));
        assert.deepEqual(unchecked, [], "a bound the proposer checks was met only at apply");
      }
    }
    assertStoredWithinBounds(lmdb);
    assert.deepStrictEqual(await stateBytes(lmdb), await stateBytes(memory));
  } finally {
    await memory.close();
    await lmdb.close();
  }
}

describe("no client input can stop apply (LmdbStore)", () => {
  it("applies random commands with sizes from 0 B to 20 MiB without throwing, within every bound", async () => {
    const seed = process.env.SHOAL_SEED === undefined ? undefined : Number(process.env.SHOAL_SEED);
    await fc.assert(fc.asyncProperty(fc.array(entryPlan, { minLength: 1, maxLength: 8 }), runEntries), {
      numRuns: 30,
      ...(seed === undefined ? {} : { seed }),
    });
  });
});
