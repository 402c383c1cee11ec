/**
 * A tiny throughput probe for LmdbStore.applyEntries: entries per second for batches of 1 and 64 puts of
 * 100-byte values, with and without fsync per batch. Encoding is done up front, so this measures apply
 * (decode, plan, one LMDB transaction per batch). Run: node dist/src/store/lmdb/apply-bench.js [seconds]
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeCommand } from "../src/commands/command-codec.js";
import { openLmdbCommandStore } from "../src/node/command-store.js";
import type { ApplyEntry } from "../src/store/state-machine-store.js";

const secondsPerCase = Number(process.argv[2] ?? 2);
const value = new Uint8Array(100).fill(7);

function measure(batchSize: number, syncCommits: boolean): number {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-apply-bench-"));
  const store = openLmdbCommandStore(dir, { syncCommits });
  const key = (i: number): Uint8Array => new TextEncoder().encode(`bench-key-${i}`);
  const batches: Uint8Array[][] = [];
  for (let b = 0; b < 64; b++) {
    batches.push(
      Array.from({ length: batchSize }, (_, i) =>
        encodeCommand({ op: "put", key: key(b * batchSize + i), value, nowMs: 1 }),
      ),
    );
  }
  const deadline = performance.now() + secondsPerCase * 1000;
  const started = performance.now();
  let applied = 0;
  for (let b = 0; performance.now() < deadline; b++) {
    const first = store.appliedIndex() + 1;
    const entries: ApplyEntry[] = (batches[b % batches.length] as Uint8Array[]).map((data, i) => ({
      index: first + i,
      data,
    }));
    store.applyEntries(entries);
    applied += entries.length;
  }
  const perSecond = applied / ((performance.now() - started) / 1000);
  void store.close().then(() => fs.rmSync(dir, { recursive: true, force: true }));
  return perSecond;
}

for (const syncCommits of [true, false]) {
  for (const batchSize of [1, 64]) {
    const perSecond = measure(batchSize, syncCommits);
    const mode = syncCommits ? "fsync per batch" : "noSync        ";
    console.log(
      `${mode}  batch ${String(batchSize).padStart(2)}: ${Math.round(perSecond).toLocaleString("en")} entries/s`,
    );
  }
}
