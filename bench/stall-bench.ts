/**
 * Stall benchmark: does any client command, or a big snapshot, stall a node's event loop long enough to cost an
 * election? A real 3-node cluster (child processes, WAL + LMDB on disk) is loaded with --keys keys of
 * --value-bytes bytes (and a hash of --hash-fields fields), then each phase runs while every node's event-loop
 * delay (prom-client's monitorEventLoopDelay figures, reset at each scrape) and Raft term are sampled once a second.
 * The delay printed is how late the loop ran the monitor's 10 ms timer: Node's histogram holds whole intervals
 * between firings (an idle loop reads 10 ms), so the bench subtracts the timer's period from max and p99, for the
 * nodes and the control alike.
 * Prints, per phase: how long it took, the elections it caused (term increments), and the worst event-loop delay
 * (max and the worst one-second p99) on any node, beside an idle control process's (ControlProcess: the delay the
 * machine itself adds when its cores are busy). A figure, not an assertion. The goal (issue 10): 0 elections and
 * p99 event-loop delay under a tenth of the election timeout (30 ms with the defaults: 6 ticks of 50 ms).
 *
 *   npm run bench:stall -- [--keys 1000000] [--value-bytes 100] [--hash-fields 1000000] [--phases all]
 *                          [--mset-keys 100000] [--repeat 1]
 *
 * --repeat R runs each phase that leaves the state unchanged (keys, hgetall, mget, bigvalue, bigmset) R times and
 * prints the median of the repeats' figures (the "med" line), the form to quote on this shared machine.
 *
 * Phases (comma separated, in this order): load, keys, hgetall, mget, bigvalue, bigmset, snapshot, delhash, flushall.
 * bigmset is one MSET of --mset-keys keys: one entry, applied atomically.
 */

import { spawn } from "node:child_process";
import { Redis } from "ioredis";
import { EVENT_LOOP_MONITOR_RESOLUTION_MS } from "../src/node/node-metrics.js";
import { nodeDefaults } from "../src/node/node-options.js";
import { ProcessCluster, sleep } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const PHASES = ["load", "keys", "hgetall", "mget", "bigvalue", "bigmset", "snapshot", "delhash", "flushall"] as const;
type Phase = (typeof PHASES)[number];

const { values } = benchArgs(
  {
    keys: { type: "string", default: "1000000" },
    "value-bytes": { type: "string", default: "100" },
    "hash-fields": { type: "string", default: "1000000" },
    phases: { type: "string", default: "all" },
    "tick-ms": { type: "string", default: String(nodeDefaults.tickMs) },
    "mset-keys": { type: "string", default: "100000" },
    "mset-repeat": { type: "string", default: "1" },
    repeat: { type: "string", default: "1" },
    "election-ticks": { type: "string", default: String(nodeDefaults.electionTimeoutTicks) },
    "data-dir": { type: "string" },
  },
  "npm run bench:stall -- [--keys 1000000] [--value-bytes 100] [--hash-fields 1000000] [--phases all] [--mset-keys 100000] [--repeat 1] [--data-dir DIR (kept, with the nodes' logs)]",
);
const keyCount = Number(values.keys);
const valueBytes = Number(values["value-bytes"]);
const hashFields = Number(values["hash-fields"]);
const phases = new Set<Phase>(
  values.phases === "all"
    ? PHASES
    : (values.phases.split(",").filter((p) => (PHASES as readonly string[]).includes(p)) as Phase[]),
);
phases.add("load");
const electionTimeoutMs = Number(values["tick-ms"]) * Number(values["election-ticks"]);

interface Sample {
  readonly node: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly term: number;
  readonly leaderChanges: number;
}

/** Scrapes every live node once a second; the figures of a scrape cover the second before it. */
class LoopMonitor {
  readonly samples: Sample[] = [];
  #running = true;
  readonly #done: Promise<void>;

  constructor(cluster: ProcessCluster) {
    this.#done = this.#run(cluster);
  }

  async #run(cluster: ProcessCluster): Promise<void> {
    while (this.#running) {
      await Promise.all(
        [...cluster.nodes.values()]
          .filter((node) => node.child !== undefined)
          .map(async (node) => {
            const sample = await scrape(node.httpUrl, node.id);
            if (sample !== undefined) this.samples.push(sample);
          }),
      );
      await sleep(1000);
    }
  }

  /** Samples taken from now on until the returned function is called. */
  window(): () => Sample[] {
    const from = this.samples.length;
    return () => this.samples.slice(from);
  }

  /** One scrape of every live node now (a stalled node's scrape waits until it answers). */
  async scrapeAll(cluster: ProcessCluster): Promise<Sample[]> {
    const taken = await Promise.all(
      [...cluster.nodes.values()]
        .filter((node) => node.child !== undefined)
        .map((node) => scrape(node.httpUrl, node.id)),
    );
    const samples = taken.filter((sample): sample is Sample => sample !== undefined);
    this.samples.push(...samples);
    return samples;
  }

  async stop(): Promise<void> {
    this.#running = false;
    await this.#done;
  }
}

/** A monitorEventLoopDelay figure (an interval between firings of its timer) as a delay: how late the timer ran. */
function delayMs(intervalMs: number): number {
  return Math.max(0, intervalMs - EVENT_LOOP_MONITOR_RESOLUTION_MS);
}

async function scrape(url: string, node: number): Promise<Sample | undefined> {
  try {
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(900_000) });
    const text = await response.text();
    const metric = (name: string): number => {
      const match = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, "m").exec(text);
      return match === null ? Number.NaN : Number(match[1]);
    };
    return {
      node,
      maxMs: delayMs(metric("nodejs_eventloop_lag_max_seconds") * 1000),
      p99Ms: delayMs(metric("nodejs_eventloop_lag_p99_seconds") * 1000),
      term: metric("shoal_raft_term"),
      leaderChanges: metric("shoal_raft_leader_changes_total"),
    };
  } catch {
    return undefined;
  }
}

/**
 * A control: a process that does nothing but measure its own event-loop delay, the way prom-client measures the
 * nodes' (monitorEventLoopDelay, 10 ms resolution). On a machine whose cores are all busy (3 nodes, their LMDB write
 * threads and this client on 2 cores here) a runnable process waits for a core, and that wait shows up as event-loop
 * delay although no code held the loop. The control's figure for a phase is that floor: a node's delay well above
 * it is the node's own; one near it is the machine's.
 */
class ControlProcess {
  readonly samples: { readonly at: number; readonly maxMs: number; readonly p99Ms: number }[] = [];
  readonly #child = spawn(
    process.execPath,
    [
      "-e",
      `const h = require("node:perf_hooks").monitorEventLoopDelay({ resolution: ${EVENT_LOOP_MONITOR_RESOLUTION_MS} }); h.enable();
       setInterval(() => { console.log(JSON.stringify([h.max / 1e6, h.percentile(99) / 1e6])); h.reset(); }, 1000);`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );

  constructor() {
    let buffered = "";
    this.#child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const text of lines) {
        const [maxMs, p99Ms] = JSON.parse(text) as [number, number];
        this.samples.push({ at: performance.now(), maxMs: delayMs(maxMs), p99Ms: delayMs(p99Ms) });
      }
    });
  }

  /** The worst max and p99 of the seconds that ended in [fromMs, toMs] (performance.now() times). */
  worst(fromMs: number, toMs: number): { maxMs: number; p99Ms: number } {
    const inside = this.samples.filter((s) => s.at >= fromMs && s.at <= toMs + 1000);
    return {
      maxMs: Math.max(0, ...inside.map((s) => s.maxMs)),
      p99Ms: Math.max(0, ...inside.map((s) => s.p99Ms)),
    };
  }

  stop(): void {
    this.#child.kill();
  }
}

interface PhaseResult {
  readonly phase: string;
  readonly seconds: number;
  readonly elections: number;
  readonly leaderChanges: number;
  readonly worstNode: number;
  readonly maxMs: number;
  readonly p99Ms: number;
  readonly control: { readonly maxMs: number; readonly p99Ms: number };
  readonly note: string;
}

interface Counters {
  readonly term: number;
  /** Per node: its leader changes (a restarted node starts again from 0). */
  readonly leaderChanges: ReadonlyMap<number, number>;
}

function counters(samples: readonly Sample[]): Counters {
  const leaderChanges = new Map<number, number>();
  for (const s of samples) if (Number.isFinite(s.leaderChanges)) leaderChanges.set(s.node, s.leaderChanges);
  return { term: Math.max(0, ...samples.map((s) => s.term).filter(Number.isFinite)), leaderChanges };
}

function summarize(
  phase: string,
  seconds: number,
  samples: Sample[],
  before: Counters,
  control: PhaseResult["control"],
  note: string,
): PhaseResult {
  const after = counters(samples);
  let leaderChanges = 0;
  for (const [node, count] of after.leaderChanges) {
    const was = before.leaderChanges.get(node) ?? 0;
    leaderChanges += count >= was ? count - was : count;
  }
  let worst: Sample | undefined;
  for (const s of samples) if (Number.isFinite(s.maxMs) && (worst === undefined || s.maxMs > worst.maxMs)) worst = s;
  return {
    phase,
    seconds,
    elections: Math.max(0, after.term - before.term),
    leaderChanges,
    worstNode: worst?.node ?? 0,
    maxMs: worst?.maxMs ?? 0,
    p99Ms: Math.max(0, ...samples.map((s) => s.p99Ms).filter(Number.isFinite)),
    control,
    note,
  };
}

/** Waits until every live node answers and has applied what the leader committed: the phase's work is done
 * everywhere (a FLUSHALL is applied on every replica after its reply). */
async function settle(cluster: ProcessCluster): Promise<void> {
  const deadline = Date.now() + 900_000;
  while (Date.now() < deadline) {
    const live = [...cluster.nodes.values()].filter((node) => node.child !== undefined);
    const statuses = await Promise.all(
      live.map((node) =>
        fetch(`${node.httpUrl}/v1/cluster`, { signal: AbortSignal.timeout(2000) })
          .then((r) => r.json() as Promise<{ leader: number; commitIndex: number; appliedIndex: number }>)
          .catch(() => undefined),
      ),
    );
    if (statuses.every((s) => s !== undefined && s.leader !== 0)) {
      const commit = Math.max(...statuses.map((s) => s?.commitIndex ?? 0));
      if (statuses.every((s) => (s?.appliedIndex ?? 0) >= commit - 5)) return;
    }
    await sleep(250);
  }
}

async function load(redis: Redis): Promise<void> {
  const value = "v".repeat(valueBytes);
  const perCommand = 1000;
  const inFlight = 16;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < keyCount) {
      const start = next;
      next += perCommand;
      const args: string[] = [];
      for (let i = start; i < Math.min(start + perCommand, keyCount); i++) args.push(`key:${i}`, value);
      await redis.mset(args);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  if (hashFields > 0) {
    let field = 0;
    const hashWorker = async (): Promise<void> => {
      while (field < hashFields) {
        const start = field;
        field += perCommand;
        const args: string[] = [];
        for (let i = start; i < Math.min(start + perCommand, hashFields); i++) args.push(`field:${i}`, "x");
        await redis.hset("bighash", args);
      }
    };
    await Promise.all(Array.from({ length: 4 }, hashWorker));
  }
}

async function main(): Promise<void> {
  const cluster = await ProcessCluster.start({
    nodes: 3,
    dataDir: values["data-dir"],
    extraArgs: ["--tick-ms", values["tick-ms"], "--election-ticks", values["election-ticks"]],
  });
  const monitor = new LoopMonitor(cluster);
  const control = new ControlProcess();
  const results: PhaseResult[] = [];
  try {
    const leader = await cluster.waitForLeader();
    const follower = leader === 1 ? 2 : 1;
    const redis = new Redis(cluster.respPort(leader), { maxRetriesPerRequest: 0, commandTimeout: 600_000 });
    // A phase that leaves the state as it found it runs --repeat times; the machine is noisy, so the summary line
    // gives the median of the repeats' figures (elections summed).
    const repeatable = new Set<Phase>(["keys", "hgetall", "mget", "bigvalue", "bigmset"]);
    const repeats = Math.max(1, Number(values.repeat));
    const run = async (phase: Phase, body: (repeat: number) => Promise<string>): Promise<void> => {
      if (!phases.has(phase)) return;
      const count = repeatable.has(phase) ? repeats : 1;
      const own: PhaseResult[] = [];
      for (let repeat = 0; repeat < count; repeat++) {
        const result = await runOnce(count > 1 ? `${phase}#${repeat + 1}` : phase, () => body(repeat));
        own.push(result);
        process.stdout.write(`${line(result)}\n`);
      }
      const summary = own.length === 1 ? (own[0] as PhaseResult) : medianOf(phase, own);
      if (own.length > 1) process.stdout.write(`${line(summary)}\n`);
      results.push(summary);
    };
    const runOnce = async (phase: string, body: () => Promise<string>): Promise<PhaseResult> => {
      await settle(cluster);
      const before = counters(await monitor.scrapeAll(cluster));
      const end = monitor.window();
      const started = performance.now();
      let note: string;
      try {
        note = await body();
      } catch (error) {
        note = `failed: ${(error as Error).message}`;
      }
      const seconds = (performance.now() - started) / 1000;
      await settle(cluster);
      await monitor.scrapeAll(cluster); // covers the phase's tail on every node, however long a node was stuck
      return summarize(phase, seconds, end(), before, control.worst(started, performance.now()), note);
    };
    process.stdout.write(
      `stall bench: 3 nodes, ${keyCount} keys of ${valueBytes} B, hash of ${hashFields} fields; election timeout ${electionTimeoutMs} ms (goal: 0 elections, p99 < ${electionTimeoutMs / 10} ms)\n`,
    );
    process.stdout.write(`${header()}\n`);
    await run("load", async () => {
      await load(redis);
      return `dbsize ${await redis.dbsize()}`;
    });
    await run("keys", async () => `KEYS * returned ${(await redis.keys("*")).length}`);
    await run("hgetall", async () => {
      if (hashFields === 0) return "skipped (--hash-fields 0)";
      return `HGETALL returned ${Object.keys(await redis.hgetall("bighash")).length} fields`;
    });
    await run("mget", async () => {
      const keys = Array.from({ length: Math.min(keyCount, 100_000) }, (_, i) => `key:${i}`);
      return `MGET of ${keys.length} keys returned ${(await redis.mget(keys)).length}`;
    });
    await run("bigvalue", async () => {
      const big = Buffer.alloc(16 * 1024 * 1024 - 1024, 0x61);
      await redis.set("bigvalue", big);
      const back = await redis.getBuffer("bigvalue");
      return `SET/GET of ${big.length} B (${back?.length === big.length ? "round trip ok" : "MISMATCH"})`;
    });
    await run("bigmset", async (repeat) => {
      const count = Number(values["mset-keys"]);
      const args: string[] = [];
      for (let i = 0; i < count; i++) args.push(`mset:${repeat}:${i}`, "v"); // new keys each repeat
      try {
        // An array, not spread arguments: 2 × 100,000 arguments overflow the call stack of a spread call.
        for (let warm = 1; warm < Number(values["mset-repeat"]); warm++) await redis.mset(args);
        return `MSET of ${count} keys answered ${await redis.mset(args)}`;
      } catch (error) {
        return `MSET of ${count} keys refused: ${(error as Error).message}`;
      }
    });
    await run("snapshot", async () => {
      // A follower misses enough entries that the leader compacts past it, then catches up by snapshot.
      await cluster.kill(follower);
      const writer = new Redis(cluster.respPort(leader), { maxRetriesPerRequest: 0 });
      const entries = 12_000;
      for (let i = 0; i < entries; i += 100) {
        const pipeline = writer.pipeline();
        for (let j = i; j < i + 100; j++) pipeline.set(`snap:${j}`, "x");
        await pipeline.exec();
      }
      writer.disconnect();
      await cluster.startNode(follower);
      // Its first figures cover the process's start (loading modules holds a new process's loop ~0.5 s): read and
      // drop them, so this phase measures the catch-up, not the start.
      await scrape(cluster.url(follower), follower);
      const deadline = Date.now() + 600_000;
      for (;;) {
        const [mine, theirs] = await Promise.all([cluster.cluster(follower), cluster.cluster(leader)]);
        if (mine.appliedIndex >= theirs.commitIndex - 10) break;
        if (Date.now() > deadline) return "follower did not catch up in 10 minutes";
        await sleep(200);
      }
      return `follower ${follower} restarted and caught up after ${entries} writes`;
    });
    await run("delhash", async () => {
      if (hashFields === 0) return "skipped (--hash-fields 0)";
      return `DEL bighash answered ${await redis.del("bighash")}`;
    });
    await run("flushall", async () => `FLUSHALL answered ${await redis.flushall()}; dbsize ${await redis.dbsize()}`);
    redis.disconnect();
  } finally {
    await monitor.stop();
    control.stop();
    await cluster.stop();
  }
  const worst = results.filter((r) => r.phase !== "load");
  const elections = worst.reduce((sum, r) => sum + r.elections, 0);
  const p99 = Math.max(0, ...worst.map((r) => r.p99Ms));
  const controlP99 = Math.max(0, ...worst.map((r) => r.control.p99Ms));
  process.stdout.write(
    `\nall phases after load: ${elections} election(s), worst one-second p99 event-loop delay ${p99.toFixed(0)} ms (goal < ${electionTimeoutMs / 10} ms); an idle control process saw ${controlP99.toFixed(0)} ms at worst\n` +
      `reproduce: npm run bench:stall -- --keys ${keyCount} --value-bytes ${valueBytes} --hash-fields ${hashFields} --mset-keys ${values["mset-keys"]} --repeat ${values.repeat}\n`,
  );
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] as number;
}

function medianOf(phase: string, runs: readonly PhaseResult[]): PhaseResult {
  return {
    phase: `${phase} med`,
    seconds: median(runs.map((r) => r.seconds)),
    elections: runs.reduce((sum, r) => sum + r.elections, 0),
    leaderChanges: runs.reduce((sum, r) => sum + r.leaderChanges, 0),
    worstNode: 0,
    maxMs: median(runs.map((r) => r.maxMs)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    control: { maxMs: median(runs.map((r) => r.control.maxMs)), p99Ms: median(runs.map((r) => r.control.p99Ms)) },
    note: `median of ${runs.length} runs (elections summed)`,
  };
}

function header(): string {
  return `${"phase".padEnd(12)} ${"seconds".padStart(8)} ${"elections".padStart(9)} ${"leader chg".padStart(10)} ${"max ms".padStart(8)} ${"on node".padStart(7)} ${"p99 ms".padStart(8)} ${"ctl max".padStart(8)} ${"ctl p99".padStart(8)}  note`;
}

function line(r: PhaseResult): string {
  return `${r.phase.padEnd(12)} ${r.seconds.toFixed(1).padStart(8)} ${String(r.elections).padStart(9)} ${String(r.leaderChanges).padStart(10)} ${r.maxMs.toFixed(0).padStart(8)} ${String(r.worstNode).padStart(7)} ${r.p99Ms.toFixed(0).padStart(8)} ${r.control.maxMs.toFixed(0).padStart(8)} ${r.control.p99Ms.toFixed(0).padStart(8)}  ${r.note}`;
}

await main();
