/**
 * A short slice of chaos testing on every `npm test`: `npm run chaos` (its compiled entry, as a user runs it)
 * against a real 5-node cluster for each workload under a different fault mix, two of them over 3 shards (one
 * while slots move between shards and replicas between nodes: the membership nemesis), and
 * the unsafe stale-reads mode, which the linearizability checker must catch, through HTTP (over 3 shards) and
 * through RESP (redis-register, one shard). Seeds are random each time (more ground covered over many runs); a failure prints the run's output, including its replay command, and keeps its results directory.
 *
 * CHAOS_SLICE_SECONDS scales the runs (default 15 s each).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("./main.js", import.meta.url));
const SECONDS = Number(process.env.CHAOS_SLICE_SECONDS ?? 15);

interface RunResult {
  readonly code: number | null;
  readonly lastLine: string;
  readonly output: string;
  readonly dir: string;
}

async function chaos(...args: string[]): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "shoal-chaos-"));
  const child = spawn(process.execPath, [MAIN, "--results-dir", dir, "--time", String(SECONDS), ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const code = await new Promise<number | null>((done) => child.once("exit", done));
  const lines = output.trimEnd().split("\n");
  return { code, lastLine: lines[lines.length - 1] ?? "", output, dir };
}

/** Asserts the verdict; keeps the results directory only when the assertion fails. */
function expectVerdict(result: RunResult, lastLine: string, code: number): void {
  const message = `expected "${lastLine}" (exit ${code}); results kept in ${result.dir}\n${result.output}`;
  assert.equal(result.lastLine, lastLine, message);
  assert.equal(result.code, code, message);
  rmSync(result.dir, { recursive: true, force: true });
}

describe("chaos slice (5 nodes, real processes, fault proxy)", { concurrency: 1, timeout: 300_000 }, () => {
  test("register under kill, pause and partition is linearizable", async () => {
    expectVerdict(await chaos("--workload", "register", "--nemesis", "kill,pause,partition"), "linearizable: true", 0);
  });

  test("register over 3 shards (keys in every shard) under kill, pause and partition is linearizable", async () => {
    expectVerdict(
      await chaos("--workload", "register", "--shards", "3", "--keys", "9", "--nemesis", "kill,pause,partition"),
      "linearizable: true",
      0,
    );
  });

  test("set under kill and partition loses no acknowledged add", async () => {
    expectVerdict(await chaos("--workload", "set", "--nemesis", "kill,partition"), "lost: 0", 0);
  });

  test("bank under pause and partition conserves the total", async () => {
    expectVerdict(await chaos("--workload", "bank", "--nemesis", "pause,partition"), "total conserved: true", 0);
  });

  test("redis-register (RESP clients) under kill, pause and partition is linearizable", async () => {
    expectVerdict(
      await chaos("--workload", "redis-register", "--nemesis", "kill,pause,partition"),
      "linearizable: true",
      0,
    );
  });

  test("redis-register over 3 shards while slots move between shards and replicas between nodes (and nodes die) is linearizable", async () => {
    // Two fault loops, kills (of the shards' leaders too) between membership faults; a membership fault moves
    // ranges of slots (most of them the workload's keys' own), now and then splits or merges a shard, and moves
    // replicas, back to back for its second or two, often while a move still runs on another shard.
    const result = await chaos(
      "--workload",
      "redis-register",
      "--shards",
      "3",
      "--keys",
      "9",
      "--nemesis",
      "membership,kill",
      "--quiet-ms",
      "200,800",
      "--fault-ms",
      "1000,2500",
      "--faults-at-once",
      "2",
    );
    // Slots did move (the run's report counts them): the verdict covers writes waiting out a slot's copy.
    const moved = /membership: (\d+) slot moves .*, (\d+) splits .*, (\d+) merges/.exec(result.output);
    assert.ok(moved !== null, `no membership report in the output; results kept in ${result.dir}\n${result.output}`);
    const actions = Number(moved[1]) + Number(moved[2]) + Number(moved[3]);
    assert.ok(actions > 0, `no slot moved; results kept in ${result.dir}\n${result.output}`);
    expectVerdict(result, "linearizable: true", 0);
  });

  /** A run in the unsafe stale-reads mode (reads skip ReadIndex) must be caught by the checker. */
  async function expectStaleReadsCaught(workload: string, ...extra: string[]): Promise<void> {
    // Isolating the leader (or a minority) while its clients keep reading from it gives stale reads at once;
    // even without faults, a follower that applies a little late answers stale values.
    const result = await chaos(
      "--workload",
      workload,
      "--nemesis",
      "partition",
      "--partitions",
      "isolate-leader,halves",
      "--unsafe",
      "stale-reads",
      "--quiet-ms",
      "500,1500",
      ...extra,
    );
    assert.match(result.output, /key r\d+\.\d+: not linearizable/, result.output);
    expectVerdict(result, "linearizable: false", 1);
  }

  test("the unsafe stale-reads mode is caught through RESP GET too: linearizable: false", async () => {
    // Shorter: stale reads show up within the first seconds (a later --time overrides the helper's).
    await expectStaleReadsCaught("redis-register", "--time", String(Math.max(5, Math.round(SECONDS / 2))));
  });

  test("the unsafe stale-reads mode is caught over 3 shards: linearizable: false", async () => {
    await expectStaleReadsCaught("register", "--shards", "3", "--keys", "9");
  });
});
