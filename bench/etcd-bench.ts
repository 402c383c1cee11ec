/**
 * Shoal against etcd (issue 14): ONE closed-loop harness — `--concurrency` requests in flight (default 64), spread
 * over every endpoint of the cluster, 100-byte values — drives a 3-node Shoal over RESP (SET, then GET: durable
 * writes with fsync always, linearizable reads, Shoal's defaults) and a 3-member etcd over its gRPC KV API (Put,
 * then Range, linearizable: etcd's defaults), both started here on loopback ports in temporary directories and
 * stopped at the end. Prints puts/s and gets/s with p50/p99 latency per run, the medians of --runs, and the ratio
 * Shoal/etcd. A figure, not an assertion.
 *
 *   npm run bench:etcd -- [--seconds 5] [--runs 3] [--concurrency 64] [--keys 10000] [--connections 1] [--targets shoal,etcd] [--write-runs-in-flight 16]
 *
 * etcd is looked up on PATH (Debian: `apt-get install etcd-server`); without it only Shoal runs and the ratio is
 * not printed. Each client keeps --connections connections per endpoint (ioredis for Shoal, gRPC channels for
 * etcd) and spreads the requests in flight over them. One ioredis connection pipelines its requests, and Shoal
 * answers a connection's pipelined writes one entry (run) at a time, in order, as Redis does; gRPC runs each
 * request on its own stream — so with one connection per endpoint a follower's forwarding round trip limits
 * Shoal's puts, and more connections lift that.
 */

import { spawn, spawnSync } from "node:child_process";
import { accessSync, constants, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Redis } from "ioredis";
import { freePort } from "../test/support/free-port.js";
import { ProcessCluster } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const USAGE =
  "npm run bench:etcd -- [--seconds 5] [--runs 3] [--concurrency 64] [--keys 10000] [--connections 1] [--targets shoal,etcd] [--write-runs-in-flight 16]";
const { values } = benchArgs(
  {
    seconds: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    concurrency: { type: "string", default: "64" },
    keys: { type: "string", default: "10000" },
    connections: { type: "string", default: "1" },
    "value-bytes": { type: "string", default: "100" },
    targets: { type: "string", default: "shoal,etcd" },
    "write-runs-in-flight": { type: "string", default: "16" },
  },
  USAGE,
);
const seconds = positive("seconds");
const runs = positive("runs");
const concurrency = positive("concurrency");
const keySpace = positive("keys");
const connectionsPerEndpoint = positive("connections");
const value = Buffer.alloc(positive("value-bytes"), "x");
const targets = values.targets.split(",");
const runsInFlight = positive("write-runs-in-flight");

function positive(name: keyof typeof values): number {
  const parsed = Number(values[name]);
  if (!Number.isSafeInteger(parsed) || parsed <= 0) {
    process.stderr.write(`bench: --${name} must be a positive integer, not "${values[name]}" (usage: ${USAGE})\n`);
    process.exit(2);
  }
  return parsed;
}

/** One cluster's client: a put and a get of one key, through endpoint `endpoint` (0-based, of `endpoints`). */
interface KvClient {
  readonly endpoints: number;
  put(endpoint: number, key: string): Promise<void>;
  get(endpoint: number, key: string): Promise<void>;
  close(): void;
}

interface PhaseResult {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

/** Keeps `concurrency` operations in flight for `seconds`, each on the next key and the next endpoint in turn. */
async function closedLoop(client: KvClient, op: "put" | "get"): Promise<PhaseResult> {
  const latencies: number[] = [];
  let errors = 0;
  let counter = 0;
  let firstError: string | undefined;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const n = counter++;
        const key = `bench-${n % keySpace}`;
        const begin = performance.now();
        try {
          await client[op](n % client.endpoints, key);
          latencies.push(performance.now() - begin);
        } catch (error) {
          errors++;
          firstError ??= (error as Error).message;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  if (firstError !== undefined) process.stderr.write(`  ${errors} ${op} error(s), the first: ${firstError}\n`);
  latencies.sort((a, b) => a - b);
  const at = (q: number): number => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { perSecond: latencies.length / elapsed, p50Ms: at(0.5), p99Ms: at(0.99), errors };
}

/** Writes every key once (so the get phase reads existing 100-byte values), `concurrency` at a time. */
async function preload(client: KvClient): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let n = next++; n < keySpace; n = next++) await client.put(n % client.endpoints, `bench-${n}`);
    }),
  );
}

// --- Shoal ----------------------------------------------------------------------------------------------------

async function startShoal(): Promise<{ client: KvClient; stop: () => Promise<void> }> {
  // A connection's write runs in flight together (`--write-runs-in-flight`, default 1): see docs/performance.md.
  const cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--write-runs-in-flight", String(runsInFlight)] });
  await cluster.waitForLeader();
  const connections = [1, 2, 3].flatMap((id) =>
    Array.from(
      { length: connectionsPerEndpoint },
      () => new Redis({ port: cluster.respPort(id), host: "127.0.0.1", maxRetriesPerRequest: 0, lazyConnect: false }),
    ),
  );
  const client: KvClient = {
    endpoints: connections.length,
    put: async (endpoint, key) => {
      const reply = await (connections[endpoint] as Redis).set(key, value);
      if (reply !== "OK") throw new Error(`SET answered ${reply}`);
    },
    get: async (endpoint, key) => {
      const reply = await (connections[endpoint] as Redis).getBuffer(key);
      if (reply === null || reply.byteLength !== value.byteLength) throw new Error(`GET ${key} missed`);
    },
    close: () => {
      for (const connection of connections) connection.disconnect();
    },
  };
  return { client, stop: () => cluster.stop() };
}

// --- etcd -----------------------------------------------------------------------------------------------------

/** The first `etcd` on PATH that this user may run. */
function etcdBinary(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, "etcd");
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

type Unary<Req, Res> = (
  request: Req,
  options: grpc.CallOptions,
  done: (error: Error | null, response?: Res) => void,
) => void;
interface KvStub extends grpc.Client {
  Put: Unary<{ key: Buffer; value: Buffer }, unknown>;
  Range: Unary<{ key: Buffer }, { kvs?: { value: Buffer }[] }>;
}

type KvStubConstructor = new (
  address: string,
  credentials: grpc.ChannelCredentials,
  options: grpc.ChannelOptions,
) => KvStub;

function kvStubConstructor(): KvStubConstructor {
  const protoPath = fileURLToPath(new URL("../../bench/etcd/kv.proto", import.meta.url));
  const definition = protoLoader.loadSync(protoPath, { longs: Number, defaults: false });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as { etcdserverpb: { KV: KvStubConstructor } };
  return loaded.etcdserverpb.KV;
}

function call<Req, Res>(method: Unary<Req, Res>, stub: KvStub, request: Req): Promise<Res | undefined> {
  return new Promise((resolve, reject) => {
    method.call(stub, request, { deadline: Date.now() + 10_000 }, (error, response) =>
      error === null ? resolve(response) : reject(error),
    );
  });
}

async function startEtcd(binary: string): Promise<{ client: KvClient; stop: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "shoal-etcd-bench-"));
  const members = await Promise.all(
    [1, 2, 3].map(async (i) => ({ name: `m${i}`, client: await freePort(), peer: await freePort() })),
  );
  const initialCluster = members.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(",");
  const children = members.map((m) =>
    spawn(
      binary,
      [
        `--name=${m.name}`,
        `--data-dir=${join(dir, m.name)}`,
        `--listen-client-urls=http://127.0.0.1:${m.client}`,
        `--advertise-client-urls=http://127.0.0.1:${m.client}`,
        `--listen-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${m.peer}`,
        `--initial-cluster=${initialCluster}`,
        "--initial-cluster-state=new",
        "--initial-cluster-token=shoal-bench",
        "--log-level=error",
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    ),
  );
  let stderr = "";
  for (const child of children) child.stderr?.on("data", (chunk: Buffer) => (stderr = (stderr + chunk).slice(-4000)));
  const stop = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((done) => {
            if (child.exitCode !== null) return done();
            child.once("exit", () => done());
            child.kill("SIGTERM");
          }),
      ),
    );
    rmSync(dir, { recursive: true, force: true });
  };
  process.once("exit", () => {
    for (const child of children) child.kill("SIGKILL");
  });
  const KV = kvStubConstructor();
  // A channel option that differs per copy keeps grpc-js from sharing one subchannel (connection) among them.
  const stubs = members.flatMap((m) =>
    Array.from(
      { length: connectionsPerEndpoint },
      (_, i) => new KV(`127.0.0.1:${m.client}`, grpc.credentials.createInsecure(), { "bench.connection": i }),
    ),
  );
  const client: KvClient = {
    endpoints: stubs.length,
    put: async (endpoint, key) => {
      const stub = stubs[endpoint] as KvStub;
      await call(stub.Put, stub, { key: Buffer.from(key), value });
    },
    get: async (endpoint, key) => {
      const stub = stubs[endpoint] as KvStub;
      const response = await call(stub.Range, stub, { key: Buffer.from(key) });
      if (response?.kvs?.[0]?.value.byteLength !== value.byteLength) throw new Error(`Range ${key} missed`);
    },
    close: () => {
      for (const stub of stubs) stub.close();
    },
  };
  // Ready once a linearizable write goes through every member (the cluster has a leader and each member a link).
  const readyBy = Date.now() + 30_000;
  for (let endpoint = 0; endpoint < stubs.length; ) {
    try {
      await client.put(endpoint, "bench-ready");
      endpoint++;
    } catch (error) {
      if (Date.now() > readyBy) {
        await stop();
        throw new Error(`etcd did not come up: ${(error as Error).message}\n${stderr}`);
      }
      await new Promise((done) => setTimeout(done, 200));
    }
  }
  return { client, stop };
}

// --- the run --------------------------------------------------------------------------------------------------

interface RunResult {
  readonly put: PhaseResult;
  readonly get: PhaseResult;
}

async function measure(start: () => Promise<{ client: KvClient; stop: () => Promise<void> }>): Promise<RunResult> {
  const { client, stop } = await start();
  try {
    await preload(client);
    const put = await closedLoop(client, "put");
    const get = await closedLoop(client, "get");
    return { put, get };
  } finally {
    client.close();
    await stop();
  }
}

function median(numbers: readonly number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function row(label: string, result: RunResult): string {
  const cell = (p: PhaseResult): string =>
    `${Math.round(p.perSecond).toString().padStart(8)} ${p.p50Ms.toFixed(1).padStart(6)} ${p.p99Ms.toFixed(1).padStart(6)}${p.errors > 0 ? ` (${p.errors} err)` : ""}`;
  return `${label.padEnd(24)} ${cell(result.put)}   ${cell(result.get)}`;
}

const starters: Record<string, (() => Promise<{ client: KvClient; stop: () => Promise<void> }>) | undefined> = {
  shoal: startShoal,
};
const etcd = etcdBinary();
if (targets.includes("etcd")) {
  if (etcd === undefined)
    process.stdout.write("etcd not found on PATH (Debian: apt-get install etcd-server): Shoal only\n");
  else starters.etcd = () => startEtcd(etcd);
}
const version = etcd === undefined ? "" : spawnSync(etcd, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0];
process.stdout.write(
  `closed loop: ${concurrency} in flight over 3 endpoints x ${connectionsPerEndpoint} connection(s), ${value.byteLength}-byte values, ${keySpace} keys, ${seconds} s per phase, ${runs} run(s)${version ? `; ${version}` : ""}\n`,
);
process.stdout.write(
  `${"target".padEnd(24)} ${"puts/s".padStart(8)} ${"p50ms".padStart(6)} ${"p99ms".padStart(6)}   ${"gets/s".padStart(8)} ${"p50ms".padStart(6)} ${"p99ms".padStart(6)}\n`,
);
const medians = new Map<string, RunResult>();
for (const target of targets) {
  const start = starters[target];
  if (start === undefined) continue;
  const results: RunResult[] = [];
  for (let run = 1; run <= runs; run++) {
    const result = await measure(start);
    results.push(result);
    process.stdout.write(`${row(`${target} run ${run}`, result)}\n`);
  }
  const phase = (pick: (r: RunResult) => PhaseResult): PhaseResult => ({
    perSecond: median(results.map((r) => pick(r).perSecond)),
    p50Ms: median(results.map((r) => pick(r).p50Ms)),
    p99Ms: median(results.map((r) => pick(r).p99Ms)),
    errors: results.reduce((sum, r) => sum + pick(r).errors, 0),
  });
  const result = { put: phase((r) => r.put), get: phase((r) => r.get) };
  medians.set(target, result);
  process.stdout.write(`${row(`${target} median`, result)}\n`);
}
const shoal = medians.get("shoal");
const reference = medians.get("etcd");
if (shoal !== undefined && reference !== undefined) {
  process.stdout.write(
    `ratio Shoal/etcd: puts ${(shoal.put.perSecond / reference.put.perSecond).toFixed(2)}x, gets ${(shoal.get.perSecond / reference.get.perSecond).toFixed(2)}x (goal >= 1.5x)\n`,
  );
}
process.stdout.write(
  `reproduce: npm run bench:etcd -- --seconds ${seconds} --runs ${runs} --concurrency ${concurrency} --connections ${connectionsPerEndpoint}\n`,
);
process.exit(0);
