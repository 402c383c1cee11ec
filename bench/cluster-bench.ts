/**
 * Cluster benchmark: a real 3-node cluster (child processes, loopback TCP, WAL + LMDB on disk) driven over HTTP.
 * Prints writes/s with p50/p99 latency for fsync=always and fsync=never, and linearizable reads/s.
 * A figure, not an assertion. Reproduce with: npm run bench:cluster -- [--seconds 5] [--concurrency 64]
 */

import { Agent, request } from "node:http";
import { ProcessCluster } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const { values } = benchArgs(
  { seconds: { type: "string", default: "5" }, concurrency: { type: "string", default: "64" } },
  "npm run bench:cluster -- [--seconds 5] [--concurrency 64]",
);
const seconds = Number(values.seconds);
const concurrency = Number(values.concurrency);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
const value = "x".repeat(100);

interface Result {
  readonly operations: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
}

async function load(url: string, method: "PUT" | "GET", keySpace: number): Promise<Result> {
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  let counter = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const key = `bench-${counter++ % keySpace}`;
        const begin = performance.now();
        const status = await send(`${url}/v1/kv/${key}`, method);
        if (status === 200) latencies.push(performance.now() - begin);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return {
    operations: latencies.length,
    perSecond: latencies.length / elapsed,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    errors,
  };
}

/** One HTTP request over the keep-alive agent; resolves with the status (0 on a connection error). */
function send(url: string, method: "PUT" | "GET"): Promise<number> {
  return new Promise((done) => {
    const req = request(url, { method, agent }, (response) => {
      response.resume();
      response.on("end", () => done(response.statusCode ?? 0));
    });
    req.on("error", () => done(0));
    req.end(method === "PUT" ? value : undefined);
  });
}

function line(label: string, result: Result): string {
  return `${label.padEnd(34)} ${result.perSecond.toFixed(0).padStart(8)} ops/s   p50 ${result.p50Ms.toFixed(2).padStart(7)} ms   p99 ${result.p99Ms.toFixed(2).padStart(7)} ms   errors ${result.errors}`;
}

async function run(fsync: "always" | "never"): Promise<string[]> {
  const cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--fsync", fsync] });
  try {
    const leader = await cluster.waitForLeader();
    const follower = leader === 1 ? 2 : 1;
    const lines = [line(`writes via leader, fsync=${fsync}`, await load(cluster.url(leader), "PUT", 100_000))];
    lines.push(line(`writes via follower, fsync=${fsync}`, await load(cluster.url(follower), "PUT", 100_000)));
    if (fsync === "always") {
      lines.push(line("linearizable reads via leader", await load(cluster.url(leader), "GET", 1000)));
      lines.push(line("linearizable reads via follower", await load(cluster.url(follower), "GET", 1000)));
    }
    return lines;
  } finally {
    await cluster.stop();
  }
}

const output = [...(await run("always")), ...(await run("never"))];
console.log(
  `3-node Shoal cluster on loopback, HTTP, ${concurrency} concurrent clients, 100-byte values, ${seconds} s each`,
);
for (const row of output) console.log(row);
console.log(`Reproduce: npm run bench:cluster -- --seconds ${seconds} --concurrency ${concurrency}`);
agent.destroy();
