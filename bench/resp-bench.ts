/**
 * RESP benchmark: redis-benchmark (SET and GET, 50 clients, 100-byte values, -P 1 and -P 16) against a 1-node
 * Shoal, a 3-node Shoal (through the leader's RESP port), redis-server with `appendonly yes appendfsync always`
 * and redis-server without persistence — all started here on free loopback ports in temporary directories and
 * stopped at the end. Prints ops/s per target and the ratios Shoal/redis. A figure, not an assertion.
 *
 *   npm run bench:resp -- [--requests N] [--seconds S] [--runs K] [--targets shoal-1,shoal-3,shoal-1-cache,redis-always,redis-none]
 *   npm run bench:resp -- --cluster [--runs K]   (issue 12: sharded Shoal vs a Redis Cluster)
 *
 * --cluster compares the sharded 3-node Shoal (3 and 9 shards, `redis-benchmark --cluster`, the shards' leaders
 * spread over the nodes) with the single-group 3-node Shoal (through its leader) and with a 3-master Redis
 * Cluster started here (`redis-cli --cluster create`), appendfsync always and without persistence.
 *
 * --requests N: requests per redis-benchmark run; without it each target is calibrated with a short run so
 * that one run of its slower test (SET or GET) takes about --seconds (default 10). --runs K: the median of K.
 * Shoal nodes run with their defaults (fsync always), the like-for-like comparison is redis appendfsync always.
 */

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { RawConnection } from "../test/redis-diff/raw-connection.js";
import { respPing, startRedisServer } from "../test/redis-diff/redis-server.js";
import { ProcessCluster } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const REDIS_BENCHMARK = "/usr/bin/redis-benchmark";
const REDIS_CLI = "/usr/bin/redis-cli";
const PIPELINES = [1, 16] as const;
const TESTS = ["SET", "GET"] as const;
const CLIENTS = 50;
const VALUE_BYTES = 100;
const CALIBRATION_REQUESTS = 5_000;
const REQUESTS_MIN = 1_000;
const REQUESTS_MAX = 20_000_000;

const TARGETS = {
  "shoal-1": "Shoal, 1 node",
  "shoal-3": "Shoal, 3 nodes (leader)",
  "shoal-1-cache": "Shoal, 1 node, --mode cache",
  "redis-always": "redis, appendfsync always",
  "redis-none": "redis, no persistence",
  "shoal-3x3": "Shoal, 3 nodes, 3 shards (--cluster)",
  "shoal-3x9": "Shoal, 3 nodes, 9 shards (--cluster)",
  "redis-cluster-always": "Redis Cluster, 3 masters, appendfsync always",
  "redis-cluster-none": "Redis Cluster, 3 masters, no persistence",
} as const;
type TargetId = keyof typeof TARGETS;
/** Targets redis-benchmark drives with --cluster (it learns the slots with CLUSTER SLOTS). */
const CLUSTER_TARGETS: readonly TargetId[] = ["shoal-3x3", "shoal-3x9", "redis-cluster-always", "redis-cluster-none"];
const DEFAULT_TARGETS = ["shoal-1", "shoal-3", "shoal-1-cache", "redis-always", "redis-none"];
const CLUSTER_RUN_TARGETS = ["shoal-3", "shoal-3x3", "shoal-3x9", "redis-cluster-always", "redis-cluster-none"];

const { values } = benchArgs(
  {
    requests: { type: "string" },
    seconds: { type: "string", default: "10" },
    runs: { type: "string", default: "1" },
    cluster: { type: "boolean", default: false },
    targets: { type: "string" },
  },
  "npm run bench:resp -- [--requests N] [--seconds S] [--runs K] [--targets shoal-1,shoal-3,shoal-1-cache,redis-always,redis-none] | --cluster [--runs K]",
);
values.targets ??= (values.cluster ? CLUSTER_RUN_TARGETS : DEFAULT_TARGETS).join(",");
const fixedRequests = values.requests === undefined ? undefined : Number(values.requests);
const seconds = Number(values.seconds);
const runs = Number(values.runs);
const targetIds = values.targets.split(",").filter((id): id is TargetId => id in TARGETS);

type Test = (typeof TESTS)[number];
type Pipeline = (typeof PIPELINES)[number];
type Cell = `${Test} P${Pipeline}`;
const CELLS: Cell[] = PIPELINES.flatMap((p) => TESTS.map((t): Cell => `${t} P${p}`));

interface TargetResult {
  readonly label: string;
  /** Median ops/s per cell; absent cells could not be measured. */
  readonly opsPerSecond: Partial<Record<Cell, number>>;
  readonly requests: Partial<Record<Pipeline, number>>;
  readonly note?: string;
}

interface Started {
  readonly port: number;
  stop(): Promise<void>;
}

/** Starts a target; undefined with a reason when it cannot serve RESP (yet). */
async function startTarget(id: TargetId): Promise<Started | string> {
  switch (id) {
    case "redis-always":
      return startRedisServer(["--appendonly", "yes", "--appendfsync", "always"]);
    case "redis-none":
      return startRedisServer();
    case "redis-cluster-always":
      return startRedisCluster(["--appendonly", "yes", "--appendfsync", "always"]);
    case "redis-cluster-none":
      return startRedisCluster([]);
    case "shoal-3x3":
    case "shoal-3x9": {
      const shards = id === "shoal-3x3" ? 3 : 9;
      const cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", String(shards)] });
      await cluster.waitForLeader();
      if (!(await shardLeadersSpread(cluster, shards))) {
        await cluster.stop();
        return "the shards' leaders did not spread over the nodes";
      }
      return { port: cluster.respPort(1), stop: () => cluster.stop() };
    }
    case "shoal-1":
    case "shoal-1-cache":
    case "shoal-3": {
      // Cache mode as a user starts it (fsync never, allkeys-lru, maxmemory a quarter of the machine: the
      // benchmark's keys never reach it, so this measures the cost of the mode, not of evicting).
      const extraArgs = id === "shoal-1-cache" ? ["--mode", "cache"] : [];
      const cluster = await ProcessCluster.start({ nodes: id === "shoal-3" ? 3 : 1, extraArgs });
      const leader = await cluster.waitForLeader();
      const port = cluster.respPort(leader);
      if (!(await waitForPong(port))) {
        await cluster.stop();
        return "the node does not answer on its --resp-port";
      }
      return { port, stop: () => cluster.stop() };
    }
  }
}

/** True once every shard has a leader and they sit on all 3 nodes (node/leader-balancer.ts), within 30 s. */
async function shardLeadersSpread(cluster: ProcessCluster, shards: number): Promise<boolean> {
  for (let attempt = 0; attempt < 300; attempt++) {
    const view = (await cluster.cluster(1)) as unknown as { shards?: { leader: number }[] };
    const leaders = (view.shards ?? []).map((shard) => shard.leader);
    if (leaders.length === shards && !leaders.includes(0) && new Set(leaders).size === 3) return true;
    await new Promise((done) => setTimeout(done, 100));
  }
  return false;
}

/** Three cluster-enabled redis-servers made one Redis Cluster of 3 masters by `redis-cli --cluster create`. */
async function startRedisCluster(extraArgs: readonly string[]): Promise<Started> {
  const servers = await Promise.all(
    [0, 1, 2].map(() => startRedisServer(["--cluster-enabled", "yes", "--cluster-node-timeout", "5000", ...extraArgs])),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((server) => server.stop()));
  };
  const created = await run(REDIS_CLI, [
    "--cluster",
    "create",
    ...servers.map((server) => `127.0.0.1:${server.port}`),
    "--cluster-yes",
  ]);
  if (created.code !== 0) {
    await stop();
    throw new Error(`redis-cli --cluster create failed: ${created.output.trim().split("\n").pop()}`);
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const states = await Promise.all(
      servers.map(async (server) => (await run(REDIS_CLI, ["-p", String(server.port), "cluster", "info"])).output),
    );
    if (states.every((state) => state.includes("cluster_state:ok"))) {
      return { port: (servers[0] as { port: number }).port, stop };
    }
    await new Promise((done) => setTimeout(done, 100));
  }
  await stop();
  throw new Error("the Redis Cluster did not reach cluster_state:ok");
}

function run(command: string, args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("exit", (code) => done({ code, output }));
  });
}

async function waitForPong(port: number): Promise<boolean> {
  for (let attempt = 0; attempt < 50; attempt++) {
    if (await respPing(port)) return true;
    await new Promise((done) => setTimeout(done, 100));
  }
  return false;
}

function benchmarkArgs(port: number, requests: number, pipeline: number, cluster = false): string[] {
  const n = String(requests);
  const common = ["-h", "127.0.0.1", "-p", String(port), "-t", "set,get", "-c", String(CLIENTS)];
  return [
    ...common,
    "-d",
    String(VALUE_BYTES),
    "-n",
    n,
    "-P",
    String(pipeline),
    "--csv",
    ...(cluster ? ["--cluster"] : []),
  ];
}

/** One redis-benchmark run: ops/s per test. Killed if it runs far past its expected time (it hangs on refusal). */
function runBenchmark(
  port: number,
  requests: number,
  pipeline: number,
  timeoutMs: number,
  cluster: boolean,
): Promise<Map<Test, number>> {
  return new Promise((done, fail) => {
    const child = spawn(REDIS_BENCHMARK, benchmarkArgs(port, requests, pipeline, cluster), {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const rates = new Map<Test, number>();
      // --csv: a header, then one line per test: "SET","52356.02","0.621",...
      for (const line of stdout.split("\n")) {
        const match = /^"(SET|GET)","([0-9.]+)"/.exec(line);
        if (match) rates.set(match[1] as Test, Number(match[2]));
      }
      if (code === 0 && rates.size === TESTS.length) done(rates);
      else fail(new Error(`redis-benchmark exited with ${code ?? signal}: ${stderr.trim() || stdout.trim()}`));
    });
  });
}

/** The key redis-benchmark's SET and GET use without -r. */
const BENCH_KEY = "key:__rand_int__";

/** The header line of GET's reply to the benchmark key, e.g. "$100" (following a Redis Cluster's -MOVED once). */
async function storedValue(port: number): Promise<string> {
  const connection = await RawConnection.open({ label: "check", host: "127.0.0.1", port });
  let header: string;
  try {
    const reply = await connection.command(["GET", BENCH_KEY]);
    header = reply.toString("latin1", 0, reply.indexOf("\r\n"));
  } finally {
    connection.close();
  }
  const moved = /^-MOVED \d+ [\d.]+:(\d+)$/.exec(header);
  return moved === null ? header : storedValue(Number(moved[1]));
}

/** storedValue for `redis-benchmark --cluster`, whose keys carry a hash tag per master (`key:{06S}:__rand_int__`):
 * one of them found by SCAN on the first node, its length read with redis-cli -c (which follows -MOVED). */
async function storedClusterValue(port: number): Promise<string> {
  const scanned = await run(REDIS_CLI, ["-p", String(port), "--scan", "--pattern", "key:*"]);
  const key = scanned.output.split("\n")[0]?.trim() ?? "";
  if (key === "") return "no key:* found by SCAN";
  const length = (await run(REDIS_CLI, ["-c", "-p", String(port), "STRLEN", key])).output.trim();
  return `$${length}`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

/** Requests for one run of `pipeline`: fixed, or calibrated so the slower test takes about `seconds`. */
async function requestsFor(port: number, pipeline: number, cluster: boolean): Promise<number> {
  if (fixedRequests !== undefined) return fixedRequests;
  const probe = await runBenchmark(port, CALIBRATION_REQUESTS * pipeline, pipeline, 120_000, cluster);
  const slowest = Math.min(...probe.values());
  return Math.max(REQUESTS_MIN, Math.min(REQUESTS_MAX, Math.round((slowest * seconds) / 1000) * 1000));
}

async function measure(id: TargetId): Promise<TargetResult> {
  const label = TARGETS[id];
  process.stderr.write(`${label}: starting\n`);
  const started = await startTarget(id).catch((error: unknown) => `could not start: ${String(error)}`);
  if (typeof started === "string") return { label, opsPerSecond: {}, requests: {}, note: started };
  const opsPerSecond: Partial<Record<Cell, number>> = {};
  const requests: Partial<Record<Pipeline, number>> = {};
  const cluster = CLUSTER_TARGETS.includes(id);
  try {
    for (const pipeline of PIPELINES) {
      const n = await requestsFor(started.port, pipeline, cluster);
      requests[pipeline] = n;
      const samples = new Map<Test, number[]>(TESTS.map((t) => [t, []]));
      for (let run = 0; run < runs; run++) {
        process.stderr.write(`${label}: -P ${pipeline}, ${n} requests, run ${run + 1} of ${runs}\n`);
        // A generous bound: calibration aims at `seconds` per test, slow runs get 10x that plus a minute.
        const rates = await runBenchmark(started.port, n, pipeline, (seconds * 20 + 60) * 1000, cluster);
        for (const test of TESTS) samples.get(test)?.push(rates.get(test) as number);
      }
      for (const test of TESTS) opsPerSecond[`${test} P${pipeline}`] = median(samples.get(test) ?? []);
    }
    // redis-benchmark counts error replies as operations: check that its SETs really stored the value.
    const stored = cluster ? await storedClusterValue(started.port) : await storedValue(started.port);
    if (stored !== `$${VALUE_BYTES}`)
      return { label, opsPerSecond, requests, note: `GET ${BENCH_KEY} answered ${stored}` };
    return { label, opsPerSecond, requests };
  } catch (error) {
    return { label, opsPerSecond, requests, note: error instanceof Error ? error.message : String(error) };
  } finally {
    await started.stop();
  }
}

function formatRate(value: number | undefined): string {
  return (value === undefined ? "n/a" : Math.round(value).toLocaleString("en-US")).padStart(12);
}

function formatRatio(shoal: number | undefined, redis: number | undefined): string {
  return (shoal === undefined || redis === undefined ? "n/a" : `${(shoal / redis).toFixed(3)}x`).padStart(12);
}

if (!existsSync(REDIS_BENCHMARK)) {
  console.error(`${REDIS_BENCHMARK} is missing: install the Debian package redis-tools (.ci/run does).`);
  process.exit(1);
}

const results = new Map<TargetId, TargetResult>();
for (const id of targetIds) results.set(id, await measure(id));

const LABEL_WIDTH = 86;
const header = `${"".padEnd(LABEL_WIDTH)}${CELLS.map((c) => c.padStart(12)).join("")}`;
console.log(
  `redis-benchmark -t set,get -c ${CLIENTS} -d ${VALUE_BYTES}, loopback, ops/s (median of ${runs} run${runs > 1 ? "s" : ""})`,
);
console.log(header);
for (const result of results.values()) {
  console.log(`${result.label.padEnd(LABEL_WIDTH)}${CELLS.map((c) => formatRate(result.opsPerSecond[c])).join("")}`);
}
const shoals = (["shoal-1", "shoal-3", "shoal-1-cache", "shoal-3x3", "shoal-3x9"] as const).filter((id) =>
  results.has(id),
);
const redises = (["redis-always", "redis-none", "redis-cluster-always", "redis-cluster-none"] as const).filter((id) =>
  results.has(id),
);
if (shoals.length > 0 && redises.length > 0) {
  console.log("\nRatio Shoal / redis");
  for (const shoal of shoals) {
    for (const redis of redises) {
      const s = results.get(shoal) as TargetResult;
      const r = results.get(redis) as TargetResult;
      const label = `${s.label} / ${r.label}`;
      console.log(
        `${label.padEnd(LABEL_WIDTH)}${CELLS.map((c) => formatRatio(s.opsPerSecond[c], r.opsPerSecond[c])).join("")}`,
      );
    }
  }
}
const oneGroup = results.get("shoal-3");
const shardedRuns = (["shoal-3x3", "shoal-3x9"] as const).flatMap((id) => results.get(id) ?? []);
if (oneGroup !== undefined && shardedRuns.length > 0) {
  console.log("\nRatio sharded / one group (goal SET >= 2x)");
  for (const sharded of shardedRuns) {
    const label = `${sharded.label} / ${oneGroup.label}`;
    console.log(
      `${label.padEnd(LABEL_WIDTH)}${CELLS.map((c) => formatRatio(sharded.opsPerSecond[c], oneGroup.opsPerSecond[c])).join("")}`,
    );
  }
}
console.log("");
for (const result of results.values()) {
  const perPipeline = PIPELINES.map((p) => `-P ${p}: -n ${result.requests[p] ?? "?"}`).join(", ");
  console.log(`${result.label}: ${perPipeline}${result.note ? `  (not measured: ${result.note})` : ""}`);
}
const requestsFlag = fixedRequests === undefined ? `--seconds ${seconds}` : `--requests ${fixedRequests}`;
console.log(
  `Reproduce: npm run bench:resp -- ${requestsFlag} --runs ${runs}${values.cluster ? " --cluster" : ""} --targets ${targetIds.join(",")}`,
);
console.log(
  `Each cell: ${REDIS_BENCHMARK} ${benchmarkArgs(0, 0, 1).join(" ").replace("-p 0", "-p <port>").replace("-n 0", "-n <N>").replace("-P 1", "-P <1|16>")}`,
);
