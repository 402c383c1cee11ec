/**
 * A probe for the cost of applying one big entry (issue 10: a 16 MiB value must not hold the event loop long
 * enough to cost an election): encode, then apply, a put of a `--mib` MiB value several times, printing each
 * step's milliseconds. Run: node dist/bench/big-apply-probe.js [mib] [rounds] [preloaded keys] [sync|offloop]
 * `offloop` applies through applyEntriesOffLoop (what the host does for a batch of 1 MiB or more) and prints how
 * long the call held the event loop beside how long the commit took.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { encodeCommand } from "../src/commands/command-codec.js";
import { openLmdbCommandStore } from "../src/node/command-store.js";

const mib = Number(process.argv[2] ?? 16);
const rounds = Number(process.argv[3] ?? 5);
const preload = Number(process.argv[4] ?? 0);
const offLoop = process.argv[5] === "offloop";
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-big-apply-"));
const store = openLmdbCommandStore(dir, { syncCommits: false });
const value = new Uint8Array(mib * 1024 * 1024 - 1024).fill(0x61);
// A store already holding `preload` small keys (argument 3), as the stall bench's is.
const small = new Uint8Array(100).fill(0x62);
for (let at = 0; at < preload; at += 1000) {
  const first = store.appliedIndex() + 1;
  store.applyEntries(
    Array.from({ length: 1000 }, (_, i) => ({
      index: first + i,
      data: encodeCommand({ op: "put", key: new TextEncoder().encode(`key:${at + i}`), value: small, nowMs: 1 }),
    })),
  );
}
for (let round = 0; round < rounds; round++) {
  const started = performance.now();
  const data = encodeCommand({ op: "put", key: new TextEncoder().encode(`big-${round % 2}`), value, nowMs: 1 });
  const encoded = performance.now();
  const batch = [{ index: store.appliedIndex() + 1, data }];
  if (offLoop) {
    const pending = store.applyEntriesOffLoop(batch);
    const returned = performance.now();
    await pending;
    const applied = performance.now();
    console.log(
      `round ${round}: encode ${(encoded - started).toFixed(1)} ms, apply held the loop ${(returned - encoded).toFixed(1)} ms, committed after ${(applied - encoded).toFixed(1)} ms`,
    );
  } else {
    store.applyEntries(batch);
    const applied = performance.now();
    console.log(
      `round ${round}: encode ${(encoded - started).toFixed(1)} ms, apply ${(applied - encoded).toFixed(1)} ms`,
    );
  }
}
await store.close();
fs.rmSync(dir, { recursive: true, force: true });
