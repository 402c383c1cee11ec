/**
 * Replica move benchmark (issue 13): how long moving a shard's replica to a new member takes for --mb megabytes of
 * data, and what clients feel meanwhile. A real 4-node cluster (child processes, 2 shards of 3 replicas: one member
 * holds no replica of shard 1) is loaded with --mb MB of --value-bytes values in shard 1; a closed-loop client
 * (--clients in flight, small GET/SET pairs on shard 1's keys, through a member that is neither side of the move)
 * measures latency idle for --probe-seconds, then while a follower's replica of shard 1 moves to the member
 * without one (POST /v1/admin/shards/1/move), until the shard lists no member leaving.
 *
 * Prints the move's duration and rate, the client's p50/p99 idle and during the move (and their ratio), and the
 * elections on shard 1 meanwhile. Goals (issue 13): 1 GB in under 30 s, p99 during the move under 2× idle.
 * With --split, shard 1 is split instead (POST /v1/admin/shards/1/split): about half of its keys' slots move to a
 * new shard (freeze, copy, hand-off, drop in batches: node/slot-mover.ts), timed until no slot moves; the client's
 * keys are shard 1's, so about half of its writes meet slots being moved.
 * A figure, not an assertion.
 *
 *   npm run bench:move -- [--mb 1024] [--value-bytes 65536] [--clients 8] [--probe-seconds 5] [--split]
 */
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import { hashSlot } from "../src/slots/hash-slot.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { ProcessCluster, sleep } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const USAGE = "npm run bench:move -- [--mb 1024] [--value-bytes 65536] [--clients 8] [--probe-seconds 5] [--split]";
const { values } = benchArgs(
  {
    mb: { type: "string", default: "1024" },
    "value-bytes": { type: "string", default: "65536" },
    clients: { type: "string", default: "8" },
    "probe-seconds": { type: "string", default: "5" },
    split: { type: "boolean", default: false },
  },
  USAGE,
);
const megabytes = positive("mb");
const valueBytes = positive("value-bytes");
const clients = positive("clients");
const probeSeconds = positive("probe-seconds");
const split = values.split === true;

function positive(name: "mb" | "value-bytes" | "clients" | "probe-seconds"): number {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < 1) {
    process.stderr.write(`bench: --${name} must be a positive integer (usage: ${USAGE})\n`);
    process.exit(2);
  }
  return value;
}

interface ShardView {
  readonly id: number;
  readonly replicas: number[];
  readonly leaving: number[];
  readonly leader: number;
}

/** After the load, the idle latency waits until the nodes rest: their CPU time over SETTLE_WINDOW_MS under
 * SETTLE_CPU_SHARE of the window (all nodes together), twice in a row — the replicas apply, snapshot and compact
 * behind a load for a while (a gigabyte's snapshot for tens of seconds), and an idle figure taken meanwhile is not
 * idle. At least SETTLE_MIN_MS, at most SETTLE_MAX_MS. */
const SETTLE_WINDOW_MS = 2_000;
const SETTLE_CPU_SHARE = 0.15;
const SETTLE_MIN_MS = 5_000;
const SETTLE_MAX_MS = 180_000;

/** The nodes' CPU seconds so far, summed (prom-client's process_cpu_seconds_total); NaN when one does not answer. */
async function cpuSeconds(cluster: ProcessCluster): Promise<number> {
  const each = await Promise.all(
    [1, 2, 3, 4].map(async (node) => {
      const text = await (await fetch(`${cluster.url(node)}/metrics`)).text();
      return Number(/^process_cpu_seconds_total(?:\{[^}]*\})? (\S+)/m.exec(text)?.[1] ?? Number.NaN);
    }),
  );
  return each.reduce((sum, seconds) => sum + seconds, 0);
}

/** Dirty and writeback page-cache bytes (Linux's /proc/meminfo); 0 where there is none. A load of a gigabyte leaves
 * gigabytes for the kernel to write back for half a minute and more, and every fsync meanwhile waits behind it. */
function dirtyBytes(): number {
  try {
    const text = readFileSync("/proc/meminfo", "utf8");
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0);
    return (kb("Dirty") + kb("Writeback")) * 1024;
  } catch {
    return 0;
  }
}
const SETTLE_DIRTY_BYTES_MAX = 256 * 1024 * 1024;

/** Waits until the nodes rest (see SETTLE_WINDOW_MS) and the page cache has written the load back; the time it
 * took in ms. */
async function settle(cluster: ProcessCluster): Promise<number> {
  const start = performance.now();
  await sleep(SETTLE_MIN_MS);
  let quiet = 0;
  let before = await cpuSeconds(cluster);
  while (quiet < 2 && performance.now() - start < SETTLE_MAX_MS) {
    await sleep(SETTLE_WINDOW_MS);
    const now = await cpuSeconds(cluster);
    const resting =
      now - before < (SETTLE_CPU_SHARE * SETTLE_WINDOW_MS) / 1000 && dirtyBytes() < SETTLE_DIRTY_BYTES_MAX;
    quiet = resting ? quiet + 1 : 0;
    before = now;
  }
  return performance.now() - start;
}

const slotMap = new SlotMap(2);
/** Keys of shard 1, `prefix:0`, `prefix:1`, … skipping those of shard 2. */
function shardOneKeys(prefix: string, count: number): string[] {
  const keys: string[] = [];
  for (let i = 0; keys.length < count; i++) {
    const key = `${prefix}:${i}`;
    if (slotMap.shardOf(hashSlot(Buffer.from(key))) === 1) keys.push(key);
  }
  return keys;
}

async function shardOne(cluster: ProcessCluster, node: number): Promise<ShardView> {
  const response = await fetch(`${cluster.url(node)}/v1/admin/shards`);
  const view = (await response.json()) as { shards: ShardView[] };
  return view.shards.find((shard) => shard.id === 1) as ShardView;
}

async function term(cluster: ProcessCluster, node: number): Promise<number> {
  const text = await (await fetch(`${cluster.url(node)}/metrics`)).text();
  return Number(/^shoal_shard_term\{[^}]*shard="1"[^}]*\} (\d+)/m.exec(text)?.[1] ?? Number.NaN);
}

/** Requests that failed during the probes (their latency counts too), and the first error seen. */
const failures = { count: 0, first: "" };

/** Closed-loop GET/SET pairs until `until()` says stop; the latency of each request in ms (a failed request's too:
 * it is counted in `failures`, and the probe goes on). */
async function probe(client: Redis, keys: readonly string[], until: () => boolean): Promise<number[]> {
  const latencies: number[] = [];
  const timed = async (request: () => Promise<unknown>): Promise<void> => {
    const start = performance.now();
    try {
      await request();
    } catch (error) {
      failures.count++;
      failures.first ||= `${(error as Error).message} (${new Date().toISOString()})`;
    }
    latencies.push(performance.now() - start);
  };
  await Promise.all(
    Array.from({ length: clients }, async (_, worker) => {
      for (let i = worker; !until(); i += clients) {
        const key = keys[i % keys.length] as string;
        await timed(() => client.set(key, `v${i}`));
        await timed(() => client.get(key));
      }
    }),
  );
  return latencies;
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(): Promise<void> {
  const cluster = await ProcessCluster.start({ nodes: 4, extraArgs: ["--shards", "2", "--replicas", "3"] });
  try {
    let shard = await shardOne(cluster, 1).catch(() => undefined);
    for (let attempt = 0; attempt < 150 && !(shard !== undefined && shard.leader > 0); attempt++) {
      await sleep(200);
      shard = await shardOne(cluster, 1).catch(() => undefined);
    }
    if (shard === undefined || shard.leader === 0) throw new Error("shard 1 elected no leader");
    await cluster.pauseRebalancer(); // the one move measured, nothing the rebalancer would add after it
    const to = [1, 2, 3, 4].find((id) => !shard.replicas.includes(id)) as number;
    const from = shard.replicas.find((id) => id !== shard.leader) as number;
    const via = [1, 2, 3, 4].find((id) => id !== from && id !== to) as number;
    const count = Math.ceil((megabytes * 1024 * 1024) / valueBytes);
    process.stdout.write(
      `move bench: 4 nodes, 2 shards of 3 replicas; loading ${count} values of ${valueBytes} B (${megabytes} MB) ` +
        `into shard 1 through its leader, node ${shard.leader}\n`,
    );
    const loader = new Redis(cluster.respPort(shard.leader), { maxRetriesPerRequest: 5 });
    const value = Buffer.alloc(valueBytes);
    for (let i = 0; i < valueBytes; i++) value[i] = (i * 2654435761) >>> 24;
    const dataKeys = shardOneKeys("data", count);
    const loadStart = performance.now();
    for (let at = 0; at < dataKeys.length; at += 64) {
      const pipeline = loader.pipeline();
      for (const key of dataKeys.slice(at, at + 64)) pipeline.set(key, value);
      await pipeline.exec();
    }
    loader.disconnect();
    process.stdout.write(`loaded in ${((performance.now() - loadStart) / 1000).toFixed(1)} s\n`);
    const settled = await settle(cluster);
    process.stdout.write(
      `the nodes rested after ${(settled / 1000).toFixed(1)} s (page cache left to write back: ${(dirtyBytes() / 1048576).toFixed(0)} MB)\n`,
    );

    const client = new Redis(cluster.respPort(via), { maxRetriesPerRequest: 20 });
    const probeKeys = shardOneKeys("probe", 1000);
    const idleUntil = performance.now() + probeSeconds * 1000;
    const idle = await probe(client, probeKeys, () => performance.now() >= idleUntil);

    const termBefore = await term(cluster, via);
    let moving = true;
    const during = probe(client, probeKeys, () => !moving);
    const moveStart = performance.now();
    process.stdout.write(`moving (from ${new Date().toISOString()})\n`);
    if (split) {
      const response = await fetch(`${cluster.url(via)}/v1/admin/shards/1/split`, { method: "POST" });
      if (response.status !== 202) throw new Error(`split refused: ${response.status} ${await response.text()}`);
      for (;;) {
        const slots = (await (await fetch(`${cluster.url(via)}/v1/admin/slots`)).json()) as { moving: unknown[] };
        if (slots.moving.length === 0) break;
        await sleep(100);
      }
    } else {
      const response = await fetch(`${cluster.url(via)}/v1/admin/shards/1/move`, {
        method: "POST",
        body: JSON.stringify({ from, to }),
      });
      if (response.status !== 202) throw new Error(`move refused: ${response.status} ${await response.text()}`);
      for (;;) {
        const now = await shardOne(cluster, via);
        if (now.leaving.length === 0) break;
        await sleep(100);
      }
    }
    const moveSeconds = (performance.now() - moveStart) / 1000;
    moving = false;
    const busy = await during;
    client.disconnect();
    const elections = (await term(cluster, via)) - termBefore;

    const idleP99 = percentile(idle, 99);
    const busyP99 = percentile(busy, 99);
    process.stdout.write(
      `${[
        split
          ? `split shard 1: about ${(megabytes / 2).toFixed(0)} MB of its slots moved to a new shard in ` +
            `${moveSeconds.toFixed(1)} s (${(megabytes / 2 / moveSeconds).toFixed(0)} MB/s)`
          : `moved shard 1's replica from node ${from} to node ${to}: ${megabytes} MB in ${moveSeconds.toFixed(1)} s ` +
            `(${(megabytes / moveSeconds).toFixed(0)} MB/s; goal: 1 GB in under 30 s)`,
        `client (${clients} in flight, SET+GET through node ${via}): idle p50 ${percentile(idle, 50).toFixed(2)} ms, ` +
          `p99 ${idleP99.toFixed(2)} ms; during the move p50 ${percentile(busy, 50).toFixed(2)} ms, ` +
          `p99 ${busyP99.toFixed(2)} ms — ${(busyP99 / idleP99).toFixed(2)}× idle (goal: under 2×)`,
        `requests that failed: ${failures.count}${failures.count === 0 ? "" : ` (the first: ${failures.first})`}; the slowest took ${Math.max(...idle, ...busy).toFixed(0)} ms`,
        `shard 1 term changes during the move (elections, and the leader balancer handing leadership to the new member if it took the preferred seat): ${elections}`,
        `reproduce: npm run bench:move -- --mb ${megabytes} --value-bytes ${valueBytes} --clients ${clients} ` +
          `--probe-seconds ${probeSeconds}${split ? " --split" : ""}`,
      ].join("\n")}\n`,
    );
  } finally {
    await cluster.stop();
  }
}

await main();
