/**
 * Crash tests for LmdbStore: a child process (crash-child.ts) is killed with SIGKILL while applying entries or
 * while installing a snapshot, and the reopened store must hold exactly the state of its applied index (nothing
 * re-applied, nothing skipped), or, for a restore, exactly the old or exactly the new state.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { Command } from "../../../src/commands/command.js";
import { encodeCommand } from "../../../src/commands/command-codec.js";
import { Prng } from "../../../src/lib/prng.js";
import { type CommandStore, memoryCommandStore, openLmdbCommandStore } from "../../../src/node/command-store.js";
import { applyCommands, bytes, stateBytes } from "../store.contract.js";
import { BIG_EVERY, crashWorkloadCommand } from "./crash-workload.js";

const CHILD = fileURLToPath(new URL("./crash-child.js", import.meta.url));
const SEED = Number(process.env.SHOAL_SEED ?? Date.now() % 1_000_000);
const root = fs.mkdtempSync(path.join(os.tmpdir(), "shoal-lmdb-crash-"));
after(() => fs.rmSync(root, { recursive: true, force: true }));

interface Child {
  readonly process: ChildProcess;
  /** Resolves with the first line (from now on) that matches, or rejects when the child exits first. */
  waitFor(pattern: RegExp): Promise<RegExpExecArray>;
  readonly lines: string[];
  kill(): Promise<void>;
}

function startChild(args: string[]): Child {
  const child = spawn(process.execPath, [CHILD, ...args], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (m: RegExpExecArray) => void; reject: (e: Error) => void }[] = [];
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    lines.push(line);
    for (const waiter of [...waiters]) {
      const match = waiter.pattern.exec(line);
      if (match === null) continue;
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve(match);
    }
  });
  child.once("exit", (code, signal) => {
    for (const waiter of waiters) waiter.reject(new Error(`child exited (${code ?? signal}) before ${waiter.pattern}`));
  });
  return {
    process: child,
    lines,
    waitFor: (pattern) => new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject })),
    kill: async () => {
      child.kill("SIGKILL");
      await exited;
    },
  };
}

/** The state a store reaches by applying the crash workload up to `appliedIndex`, built in memory. */
async function expectedState(appliedIndex: number): Promise<Buffer> {
  const memory = memoryCommandStore();
  for (let first = 1; first <= appliedIndex; first += 500) {
    const last = Math.min(appliedIndex, first + 499);
    const entries = [];
    for (let i = first; i <= last; i++) entries.push({ index: i, data: encodeCommand(crashWorkloadCommand(i)) });
    memory.applyEntries(entries);
  }
  const state = await stateBytes(memory);
  await memory.close();
  return state;
}

async function withLmdb<T>(dir: string, use: (store: CommandStore) => Promise<T>): Promise<T> {
  const store = openLmdbCommandStore(dir);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}

/** A snapshot image of `count` keys named `<prefix><i>` with 100-byte values, and the state it installs. */
async function makeImage(prefix: string, count: number): Promise<{ file: string; state: Buffer }> {
  const memory = memoryCommandStore();
  const commands: Command[] = [];
  for (let i = 0; i < count; i++) {
    commands.push({ op: "put", key: bytes(`${prefix}${i}`), value: new Uint8Array(100).fill(i % 251), nowMs: 5 });
  }
  applyCommands(memory, ...commands);
  const state = await stateBytes(memory);
  await memory.close();
  const file = path.join(root, `image-${prefix}.bin`);
  fs.writeFileSync(file, state);
  return { file, state };
}

describe(`LmdbStore survives SIGKILL (seed ${SEED})`, () => {
  it("while applying: the data always matches the applied index", async () => {
    const random = new Prng(SEED);
    const dir = path.join(root, "apply");
    let previous = 0;
    // At least 6 kills, and on until the run has passed three big values (a loaded machine applies fewer per round).
    for (let round = 0; round < 6 || (previous < 3 * BIG_EVERY && round < 40); round++) {
      const child = startChild(["apply", dir, String(SEED + round)]);
      const ready = await child.waitFor(/^ready (\d+)$/);
      assert.equal(Number(ready[1]), previous, "the child starts where the last one died");
      await child.waitFor(/^applied (\d*[1-9]\d*)$/);
      await sleep(random.between(5, 60));
      await child.kill();
      const reported = Math.max(
        ...child.lines
          .map((l) => /^applied (\d+)$/.exec(l)?.[1])
          .map(Number)
          .filter((n) => n > 0),
      );
      await withLmdb(dir, async (store) => {
        const applied = store.appliedIndex();
        assert.ok(applied >= reported, `applied index ${applied} lost an acknowledged batch (up to ${reported})`);
        assert.ok(applied > previous);
        assert.equal(store.get(bytes(`k${applied + 1}`), 0), undefined, "nothing past the applied index");
        assert.deepEqual(await stateBytes(store), await expectedState(applied), `state at applied index ${applied}`);
        previous = applied;
      });
    }
    // Kills landed among batches holding a big value too (written off the event loop by lmdb-js's write thread).
    assert.ok(previous >= 3 * BIG_EVERY, `the run reached big values: applied ${previous}`);
  });

  it("while restoring: the old state survives a crash mid-install", async () => {
    const dir = path.join(root, "restore-paused");
    await withLmdb(dir, async (store) => {
      for (let i = 1; i <= 300; i += 50) {
        store.applyEntries(
          Array.from({ length: 50 }, (_, j) => ({ index: i + j, data: encodeCommand(crashWorkloadCommand(i + j)) })),
        );
      }
    });
    const old = await withLmdb(dir, (store) => stateBytes(store));
    const image = await makeImage("new-", 3000);
    const child = startChild(["restore", dir, image.file, "40", "0"]);
    await child.waitFor(/^paused$/);
    await child.kill();
    assert.ok(
      fs.readdirSync(dir).filter((name) => name.startsWith("env-")).length >= 2,
      "a staging environment was being filled",
    );
    await withLmdb(dir, async (store) => {
      assert.equal(store.appliedIndex(), 300);
      assert.deepEqual(await stateBytes(store), old);
      await store.restore([fs.readFileSync(image.file)]);
      assert.deepEqual(await stateBytes(store), image.state);
    });
    const names = fs.readdirSync(dir).sort();
    assert.equal(names.length, 2, `leftovers were removed: ${names.join(", ")}`);
    assert.equal(names[0], "CURRENT");
  });

  it("while restoring: a kill at any moment leaves exactly the old or the new state", async () => {
    const random = new Prng(SEED + 1000);
    const dir = path.join(root, "restore-random");
    const images = [await makeImage("a-", 2000), await makeImage("b-", 2500)];
    await withLmdb(dir, (store) => store.restore([fs.readFileSync(images[0]?.file as string)]));
    // One undisturbed run measures how long an install takes, so the kills can spread over all of it.
    const timed = startChild(["restore", dir, images[1]?.file as string, "-1", "1"]);
    await timed.waitFor(/^restoring$/);
    const startedMs = performance.now();
    await timed.waitFor(/^restored/);
    const durationMs = performance.now() - startedMs;
    await timed.kill();
    const outcomes = { old: 0, new: 0 };
    for (let round = 0; round < 10; round++) {
      const before = await withLmdb(dir, (store) => stateBytes(store));
      const target = images[round % 2] as { file: string; state: Buffer };
      const child = startChild(["restore", dir, target.file, "-1", "1"]);
      await child.waitFor(/^restoring$/);
      // Half the kills anywhere in the install, half around its commit point (the rename of CURRENT).
      const fraction = round % 2 === 0 ? random.next() * 1.2 : 0.8 + random.next() * 0.4;
      await sleep(Math.round(fraction * durationMs));
      await child.kill();
      const after = await withLmdb(dir, (store) => stateBytes(store));
      if (after.equals(before)) outcomes.old++;
      else {
        assert.deepEqual(after, target.state, "neither the old nor the new state");
        outcomes.new++;
      }
    }
    console.log(`restore kills (install takes ~${Math.round(durationMs)} ms): ${JSON.stringify(outcomes)}`);
  });
});
