/**
 * Collection rows benchmark: what one hash command costs in apply as the hash grows. For hashes of 1k, 10k, 100k
 * and 1M fields it builds the hash by HSETs of 1,000 fields (timed: linear, not quadratic), then times HSET (a
 * new field), HGET and HDEL of single fields, each its own Raft entry with real encoded commands, applied 100
 * entries per `LmdbStore.applyEntries` call as the node batches them, and prints the cost per command: flat
 * when a write touches O(1) rows. Then it times `DEL` of the whole hash in apply (one entry: O(1), the rows are
 * left to the reclaimer) and the reclaimer's steps that delete the rows afterwards.
 *
 *   npm run bench:collections [-- --fsync] [-- --sizes 1000,10000]
 *
 * By default the store does not fsync (LMDB noSync): an fsync per applied batch costs the same whatever the
 * hash's size and would only add disk noise; `--fsync` measures with the node's default durability. Costs are
 * CPU time (user + system) of this process, which a busy shared machine inflates far less than wall time; a
 * SET of a string key through the same path is printed as the floor every command pays (decode, plan, commit).
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { CommandResult } from "../src/commands/command.js";
import { encodeCommand } from "../src/commands/command-codec.js";
import { Prng } from "../src/lib/prng.js";
import { openLmdbCommandStore } from "../src/node/command-store.js";
import type { LmdbStore } from "../src/store/lmdb/lmdb-store.js";
import { RECLAIM_ROWS_PER_STEP_DEFAULT } from "../src/store/reclaimer.js";
import type { ApplyEntry } from "../src/store/state-machine-store.js";

const args = process.argv.slice(2);
const syncCommits = args.includes("--fsync");
const sizesArg = args[args.indexOf("--sizes") + 1];
const SIZES =
  args.includes("--sizes") && sizesArg !== undefined ? sizesArg.split(",").map(Number) : [1e3, 1e4, 1e5, 1e6];
const OPS = 2000;
/** Each command kind runs in this many rounds of OPS / ROUNDS; the cheapest round counts (the least disturbed by
 * other processes on a shared machine). */
const ROUNDS = 5;
const ENTRIES_PER_APPLY = 100;
const BUILD_FIELDS_PER_HSET = 1000;
const BUILD_HSETS_PER_ENTRY = 10;

const encoder = new TextEncoder();
const KEY = encoder.encode("h");
const field = (i: number): Uint8Array => encoder.encode(`field:${i}`);
const value = (i: number): Uint8Array => encoder.encode(`value-${i}`);

/** CPU milliseconds (user + system) this process has used. */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

/** Applies each argv list as one entry, `perApply` entries per applyEntries call; answers CPU ms taken. */
function applyEach(
  store: LmdbStore<CommandResult>,
  entries: readonly (readonly Uint8Array[][])[],
  perApply = ENTRIES_PER_APPLY,
): number {
  const encoded = entries.map((argvs) => encodeCommand({ op: "redis", nowMs: 1, argvs: argvs as Uint8Array[][] }));
  const started = cpuMs();
  for (let at = 0; at < encoded.length; at += perApply) {
    const first = store.appliedIndex() + 1;
    const batch: ApplyEntry[] = encoded.slice(at, at + perApply).map((data, i) => ({ index: first + i, data }));
    for (const result of store.applyEntries(batch)) {
      if (result.kind !== "redis" || result.replies.some((reply) => reply.kind === "error")) {
        throw new Error(`unexpected result ${JSON.stringify(result)}`);
      }
    }
  }
  return cpuMs() - started;
}

/** The CPU µs per command of the cheapest of ROUNDS rounds over `entries`. */
function perCommandUs(store: LmdbStore<CommandResult>, entries: readonly (readonly Uint8Array[][])[]): number {
  const roundSize = Math.ceil(entries.length / ROUNDS);
  let best = Number.POSITIVE_INFINITY;
  for (let at = 0; at < entries.length; at += roundSize) {
    const round = entries.slice(at, at + roundSize);
    best = Math.min(best, (applyEach(store, round) * 1000) / round.length);
  }
  return best;
}

function build(store: LmdbStore<CommandResult>, size: number): number {
  const entries: Uint8Array[][][] = [];
  for (let from = 0; from < size; from += BUILD_FIELDS_PER_HSET * BUILD_HSETS_PER_ENTRY) {
    const entry: Uint8Array[][] = [];
    for (
      let h = from;
      h < Math.min(size, from + BUILD_FIELDS_PER_HSET * BUILD_HSETS_PER_ENTRY);
      h += BUILD_FIELDS_PER_HSET
    ) {
      const argv: Uint8Array[] = [encoder.encode("HSET"), KEY];
      for (let i = h; i < Math.min(size, h + BUILD_FIELDS_PER_HSET); i++) argv.push(field(i), value(i));
      entry.push(argv);
    }
    entries.push(entry);
  }
  return applyEach(store, entries, 1); // each entry (10,000 fields) its own batch
}

interface Row {
  readonly size: number;
  readonly buildUsPerField: number;
  readonly setUs: number;
  readonly hsetUs: number;
  readonly hgetUs: number;
  readonly hdelUs: number;
  readonly delMs: number;
  readonly reclaimSteps: number;
  readonly reclaimStepMedianMs: number;
  readonly reclaimStepMaxMs: number;
  readonly reclaimTotalMs: number;
}

function measure(size: number): Row {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-collections-bench-"));
  const store = openLmdbCommandStore(dir, { syncCommits, reclaim: "manual" });
  try {
    const buildMs = build(store, size);
    const random = new Prng(size);
    const one = (name: string, ...rest: Uint8Array[]): Uint8Array[][] => [[encoder.encode(name), KEY, ...rest]];
    const set = Array.from({ length: OPS }, (_, i) => [[encoder.encode("SET"), field(i), value(i)]]);
    const hset = Array.from({ length: OPS }, (_, i) => one("HSET", field(size + i), value(i)));
    const hget = Array.from({ length: OPS }, () => one("HGET", field(random.int(size))));
    const hdel = Array.from({ length: OPS }, (_, i) => one("HDEL", field(Math.floor((i * size) / OPS))));
    const setUs = perCommandUs(store, set);
    const hsetUs = perCommandUs(store, hset);
    const hgetUs = perCommandUs(store, hget);
    const hdelUs = perCommandUs(store, hdel);
    const delMs = applyEach(store, [one("DEL")]);
    const stepsMs: number[] = [];
    while (store.reclaimStats().pendingCollections > 0) {
      const started = cpuMs();
      store.reclaimStep(RECLAIM_ROWS_PER_STEP_DEFAULT);
      stepsMs.push(cpuMs() - started);
    }
    const reclaimTotalMs = stepsMs.reduce((sum, ms) => sum + ms, 0);
    return {
      size,
      buildUsPerField: (buildMs * 1000) / size,
      setUs,
      hsetUs,
      hgetUs,
      hdelUs,
      delMs,
      reclaimSteps: stepsMs.length,
      reclaimStepMedianMs: [...stepsMs].sort((x, y) => x - y)[Math.floor(stepsMs.length / 2)] ?? 0,
      reclaimStepMaxMs: Math.max(...stepsMs),
      reclaimTotalMs,
    };
  } finally {
    void store.close().then(() => fs.rmSync(dir, { recursive: true, force: true }));
  }
}

const fixed = (n: number, digits: number, width: number): string => n.toFixed(digits).padStart(width);
console.log(
  `Hash commands through LmdbStore.applyEntries (${syncCommits ? "fsync per batch" : "noSync"}, ${ENTRIES_PER_APPLY} ` +
    `entries of one command per batch, ${OPS} commands each), CPU time per command; reclaim steps of ` +
    `${RECLAIM_ROWS_PER_STEP_DEFAULT} rows.`,
);
console.log(
  "   fields | build µs/field | SET µs (floor) | HSET µs | HGET µs | HDEL µs | DEL in apply ms | reclaim steps | step median ms | step max ms | reclaim total ms",
);
measure(1000); // warm up: the first hash would pay for the JIT
for (const size of SIZES) {
  const row = measure(size);
  console.log(
    [
      String(row.size).padStart(9),
      fixed(row.buildUsPerField, 1, 14),
      fixed(row.setUs, 1, 14),
      fixed(row.hsetUs, 1, 7),
      fixed(row.hgetUs, 1, 7),
      fixed(row.hdelUs, 1, 7),
      fixed(row.delMs, 2, 15),
      String(row.reclaimSteps).padStart(13),
      fixed(row.reclaimStepMedianMs, 2, 14),
      fixed(row.reclaimStepMaxMs, 2, 11),
      fixed(row.reclaimTotalMs, 0, 16),
    ].join(" | "),
  );
}
