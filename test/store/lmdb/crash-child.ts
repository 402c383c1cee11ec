/**
 * A child process for the LMDB crash test (crash.test.ts), which kills it with SIGKILL at a random moment.
 *
 *   node crash-child.js apply <dir> <seed>     applies crashWorkloadCommand entries in random batches, forever
 *   node crash-child.js restore <dir> <image> <pauseAtChunk|-1> <delayMs>
 *                                              restores the image, pausing forever at a chunk (-1: never)
 *
 * It reports progress on stdout, one line per event, so the parent knows when to kill.
 */
import fs from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { encodeCommand } from "../../../src/commands/command-codec.js";
import { Prng } from "../../../src/lib/prng.js";
import { openLmdbCommandStore } from "../../../src/node/command-store.js";
import { BIG_EVERY, crashWorkloadCommand } from "./crash-workload.js";

function say(line: string): void {
  fs.writeSync(1, `${line}\n`);
}

async function applyForever(dir: string, seed: number): Promise<void> {
  const store = openLmdbCommandStore(dir);
  const random = new Prng(seed);
  say(`ready ${store.appliedIndex()}`);
  for (;;) {
    const first = store.appliedIndex() + 1;
    const count = random.between(1, 64);
    const entries = Array.from({ length: count }, (_, i) => ({
      index: first + i,
      data: encodeCommand(crashWorkloadCommand(first + i)),
    }));
    const big = entries.some((entry) => entry.index % BIG_EVERY === 0);
    if (big && store.applyEntriesOffLoop !== undefined) await store.applyEntriesOffLoop(entries);
    else store.applyEntries(entries);
    say(`applied ${store.appliedIndex()}`);
    if (random.chance(0.1)) await sleep(1);
  }
}

async function restore(dir: string, imagePath: string, pauseAtChunk: number, delayMs: number): Promise<void> {
  const store = openLmdbCommandStore(dir);
  const image = fs.readFileSync(imagePath);
  const chunkSizeBytes = 4096;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let offset = 0, n = 0; offset < image.length; offset += chunkSizeBytes, n++) {
      if (n === pauseAtChunk) {
        say("paused");
        setInterval(() => undefined, 1000); // keep the process alive until it is killed
        await new Promise(() => undefined);
      }
      if (delayMs > 0) await sleep(delayMs);
      yield image.subarray(offset, offset + chunkSizeBytes);
    }
  }
  say("restoring");
  await store.restore(chunks());
  say(`restored ${store.appliedIndex()}`);
  await store.close();
}

const [mode, dir, ...rest] = process.argv.slice(2);
if (mode === "apply" && dir !== undefined) {
  await applyForever(dir, Number(rest[0] ?? 1));
} else if (mode === "restore" && dir !== undefined && rest[0] !== undefined) {
  await restore(dir, rest[0], Number(rest[1] ?? -1), Number(rest[2] ?? 0));
} else {
  console.error("usage: crash-child.js apply <dir> <seed> | restore <dir> <image> <pauseAtChunk> <delayMs>");
  process.exit(2);
}
