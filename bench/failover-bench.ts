/**
 * Failover benchmark: a real 3-node cluster (child processes, loopback TCP, WAL + LMDB on disk) under a closed-loop
 * write load — RESP and HTTP clients on every node — while the current leader is repeatedly killed (kill -9, then
 * restarted) or paused (SIGSTOP, then SIGCONT). For each fault it prints the longest gap between two successful
 * writes that any client connected to another node saw until the node came back (the failover; the gap while it
 * rejoins is printed apart), the time from the fault to the first successful write
 * issued after it, and the errors those clients got (with the slowest: fail-fast shows here), then the medians.
 * Clients connected to the faulted node itself are stuck while it is down or paused; they are not counted.
 * A figure, not an assertion. Reproduce with the command it prints:
 *
 *   npm run bench:failover -- [--faults 5] [--kinds kill,pause] [--clients 2] [--outage-ms 3000]
 *                             [--settle-ms 2000] [--steady-ms 10000] [--node-args="--tick-ms 50 --election-ticks 10"]
 *                             [--data-dir DIR]
 *
 * It first runs the load for --steady-ms without faults and counts elections: a too-short election timeout shows
 * up there as needless elections.
 */

import { Agent, request } from "node:http";
import { RespClient } from "../test/chaos/resp-client.js";
import { ProcessCluster, sleep } from "../test/support/process-cluster.js";
import { benchArgs } from "./bench-args.js";

const { values } = benchArgs(
  {
    faults: { type: "string", default: "5" },
    kinds: { type: "string", default: "kill,pause" },
    clients: { type: "string", default: "2" },
    "outage-ms": { type: "string", default: "3000" },
    "settle-ms": { type: "string", default: "2000" },
    "steady-ms": { type: "string", default: "10000" },
    "node-args": { type: "string", default: "" },
    "data-dir": { type: "string" },
  },
  "npm run bench:failover -- [--faults 5] [--kinds kill,pause] [--clients 2] [--outage-ms 3000]",
);
const faultsPerKind = Number(values.faults);
const kinds = values.kinds.split(",").filter((kind): kind is FaultKind => kind === "kill" || kind === "pause");
const clientsPerProtocol = Number(values.clients);
const outageMs = Number(values["outage-ms"]);
const settleMs = Number(values["settle-ms"]);
const steadyMs = Number(values["steady-ms"]);
const nodeArgs = values["node-args"].split(" ").filter((arg) => arg !== "");
const NODES = [1, 2, 3];
const VALUE = "v".repeat(100);
const REQUEST_TIMEOUT_MS = 15_000;
/** After the faulted node is back, how long writes are watched before the fault's figures are taken. */
const RECOVERY_MS = 2_000;

type FaultKind = "kill" | "pause";

interface Attempt {
  readonly startMs: number;
  readonly endMs: number;
  /** undefined: the write succeeded; otherwise what failed (an error reply's first word, an HTTP status...). */
  readonly error: string | undefined;
}

interface WriteClient {
  readonly node: number;
  readonly label: string;
  readonly attempts: Attempt[];
  /** One write; resolves with undefined on success or a short description of the failure. */
  readonly write: (key: string) => Promise<string | undefined>;
}

function respClient(cluster: ProcessCluster, node: number, i: number): WriteClient {
  const client = new RespClient(node, cluster.respPort(node), REQUEST_TIMEOUT_MS);
  return {
    node,
    label: `node ${node} resp#${i}`,
    attempts: [],
    write: async (key) => {
      try {
        const reply = await client.command(["SET", key, VALUE]);
        if (reply.type === "simple" && reply.value === "OK") return undefined;
        return reply.type === "error" ? `-${reply.message.split(" ")[0]}` : `unexpected ${reply.type}`;
      } catch (error) {
        return `resp: ${(error as Error).message}`;
      }
    },
  };
}

function httpClient(cluster: ProcessCluster, node: number, i: number): WriteClient {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const base = cluster.url(node);
  return {
    node,
    label: `node ${node} http#${i}`,
    attempts: [],
    write: (key) =>
      new Promise((done) => {
        const req = request(`${base}/v1/kv/${key}`, { method: "PUT", agent, timeout: REQUEST_TIMEOUT_MS }, (res) => {
          let body = "";
          res.on("data", (chunk: Buffer) => {
            body += chunk.toString();
          });
          res.on("end", () => {
            if (res.statusCode === 200) done(undefined);
            else done(`http ${res.statusCode} ${(JSON.parse(body || "{}") as { code?: string }).code ?? ""}`.trim());
          });
        });
        req.on("timeout", () => req.destroy(new Error("timeout")));
        req.on("error", (error: NodeJS.ErrnoException) => done(`http: ${error.code ?? error.message}`));
        req.end(VALUE);
      }),
  };
}

/** Each client writes in a closed loop until `running.stop` is set; a refused connection waits a little. */
async function drive(client: WriteClient, running: { stop: boolean }): Promise<void> {
  for (let n = 0; !running.stop; n++) {
    const startMs = performance.now();
    const error = await client.write(`${client.label.replace(/\W+/g, "-")}-${n % 1000}`);
    const endMs = performance.now();
    client.attempts.push({ startMs, endMs, error });
    if (error !== undefined && endMs - startMs < 5) await sleep(20);
  }
}

interface FaultFigures {
  readonly kind: FaultKind;
  readonly leader: number;
  /** Longest gap between successful writes, worst client on the other nodes (ms), and that client. */
  readonly gapMs: number;
  readonly gapClient: string;
  /** The same once the faulted node is back (restarted or resumed) and rejoins, until the figures are taken. */
  readonly rejoinGapMs: number;
  /** From the fault to the first successful write that started after it. */
  readonly resumedMs: number;
  /** From the fault to another node naming a new leader (polled every 10 ms). */
  readonly electedMs: number;
  readonly errors: Map<string, { count: number; slowestMs: number }>;
}

/** The longest time any client of the other nodes went without a successful write within [fromMs, toMs], counted
 * from its last success before `fromMs`; a client still waiting at `toMs` counts until then. */
function longestGap(
  clients: readonly WriteClient[],
  faulted: number,
  fromMs: number,
  toMs: number,
): { gapMs: number; client: string } {
  let worst = { gapMs: 0, client: "" };
  for (const client of clients) {
    if (client.node === faulted) continue;
    const successes = client.attempts.filter((a) => a.error === undefined && a.endMs <= toMs);
    let previous = successes.filter((a) => a.endMs <= fromMs).at(-1)?.endMs ?? fromMs;
    for (const success of successes) {
      if (success.endMs <= fromMs) continue;
      if (success.endMs - previous > worst.gapMs) worst = { gapMs: success.endMs - previous, client: client.label };
      previous = success.endMs;
    }
    if (toMs - previous > worst.gapMs) worst = { gapMs: toMs - previous, client: `${client.label} (never resumed)` };
  }
  return worst;
}

function figures(
  kind: FaultKind,
  leader: number,
  clients: readonly WriteClient[],
  times: { faultMs: number; electedMs: number; recoverMs: number; endMs: number },
): FaultFigures {
  const { faultMs, recoverMs, endMs } = times;
  const failover = longestGap(clients, leader, faultMs, recoverMs);
  let resumedMs = Number.POSITIVE_INFINITY;
  const errors = new Map<string, { count: number; slowestMs: number }>();
  for (const client of clients) {
    if (client.node === leader) continue;
    for (const attempt of client.attempts) {
      if (attempt.error === undefined && attempt.startMs >= faultMs && attempt.endMs <= recoverMs) {
        resumedMs = Math.min(resumedMs, attempt.endMs - faultMs);
      }
      if (attempt.error === undefined || attempt.endMs <= faultMs || attempt.startMs > endMs) continue;
      const entry = errors.get(attempt.error) ?? { count: 0, slowestMs: 0 };
      entry.count++;
      entry.slowestMs = Math.max(entry.slowestMs, attempt.endMs - attempt.startMs);
      errors.set(attempt.error, entry);
    }
  }
  return {
    kind,
    leader,
    gapMs: failover.gapMs,
    gapClient: failover.client,
    rejoinGapMs: longestGap(clients, leader, recoverMs, endMs).gapMs,
    resumedMs,
    electedMs: times.electedMs - faultMs,
    errors,
  };
}

/** Polls the other nodes' /readyz until one of them names a new leader; resolves with that time. */
async function newLeaderKnown(cluster: ProcessCluster, oldLeader: number, deadlineMs: number): Promise<number> {
  const others = NODES.filter((node) => node !== oldLeader);
  while (performance.now() < deadlineMs) {
    for (const node of others) {
      try {
        const response = await fetch(`${cluster.url(node)}/readyz`, { signal: AbortSignal.timeout(500) });
        const { leader } = (await response.json()) as { leader: number };
        if (leader !== 0 && leader !== oldLeader) return performance.now();
      } catch {
        // a slow answer: ask again
      }
    }
    await sleep(10);
  }
  return Number.POSITIVE_INFINITY;
}

/** The highest term any live node reports (each election raises it by one; PreVote rounds do not). */
async function highestTerm(cluster: ProcessCluster): Promise<number> {
  const terms = await Promise.all(
    NODES.map((node) =>
      fetch(`${cluster.url(node)}/readyz`, { signal: AbortSignal.timeout(10_000) })
        .then(async (response) => ((await response.json()) as { term: number }).term)
        .catch(() => 0),
    ),
  );
  const term = Math.max(...terms);
  if (term === 0) throw new Error("No node answered /readyz");
  return term;
}

interface Stalls {
  readonly over100: number;
  readonly over250: number;
  readonly loopMaxMs: number;
}

/**
 * What can silence a node: WAL saves slower than 100 and 250 ms (a follower's answers wait for its save) and the
 * longest event-loop delay, from each node's /metrics. The save counts are totals since the node started; the
 * event-loop maximum is since the previous scrape (prom-client resets it), so scrape once before a phase.
 */
async function stalls(cluster: ProcessCluster): Promise<Stalls[]> {
  return Promise.all(
    NODES.map(async (node) => {
      const text = await fetch(`${cluster.url(node)}/metrics`, { signal: AbortSignal.timeout(10_000) })
        .then((response) => response.text())
        .catch(() => "");
      // Prometheus text: `name{labels} value`; the labels (node, le) may come in any order.
      const sample = (name: string, label = "") => {
        const line = text
          .split("\n")
          .find((l) => (l.startsWith(`${name}{`) || l.startsWith(`${name} `)) && l.includes(label));
        return Number(line?.slice(line.lastIndexOf(" ") + 1) ?? Number.NaN);
      };
      const saves = sample("shoal_wal_save_duration_seconds_count");
      const over = (le: string) => saves - sample("shoal_wal_save_duration_seconds_bucket", `le="${le}"`);
      return {
        over100: over("0.1"),
        over250: over("0.25"),
        loopMaxMs: sample("nodejs_eventloop_lag_max_seconds") * 1000,
      };
    }),
  );
}

function describeStalls(before: readonly Stalls[], after: readonly Stalls[]): string {
  return NODES.map((node, i) => {
    const [was, now] = [before[i] as Stalls, after[i] as Stalls];
    return (
      `node ${node}: ${now.over100 - was.over100} WAL saves > 100 ms, ${now.over250 - was.over250} > 250 ms, ` +
      `event-loop delay max ${now.loopMaxMs.toFixed(0)} ms`
    );
  }).join("; ");
}

/** Kills or pauses `leader`, and after the outage restarts or resumes it; resolves with the time it did so. */
async function injectFault(cluster: ProcessCluster, kind: FaultKind, leader: number): Promise<number> {
  if (kind === "kill") {
    await cluster.kill(leader);
    await sleep(outageMs);
    const recoverMs = performance.now();
    await cluster.startNode(leader);
    return recoverMs;
  }
  cluster.signal(leader, "SIGSTOP");
  await sleep(outageMs);
  cluster.signal(leader, "SIGCONT");
  return performance.now();
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[middle] as number)
    : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function describe(result: FaultFigures, n: number): string {
  const errors = [...result.errors]
    .map(([what, { count, slowestMs }]) => `${what} ×${count} (slowest ${slowestMs.toFixed(0)} ms)`)
    .join(", ");
  return (
    `  fault ${n}: leader ${result.leader}   longest write gap ${result.gapMs.toFixed(0).padStart(5)} ms ` +
    `(${result.gapClient})   new leader after ${result.electedMs.toFixed(0)} ms, ` +
    `first new write ok after ${result.resumedMs.toFixed(0)} ms; ` +
    `when it ${result.kind === "kill" ? "restarted" : "resumed"}: longest gap ${result.rejoinGapMs.toFixed(0)} ms` +
    (errors === "" ? "" : `   errors: ${errors}`)
  );
}

// --data-dir keeps the nodes' data and logs (node-<id>.log) there for a look afterwards.
const dataDir = values["data-dir"];
const cluster = await ProcessCluster.start({
  nodes: NODES.length,
  extraArgs: nodeArgs,
  ...(dataDir === undefined ? {} : { dataDir }),
});
const running = { stop: false };
const clients = NODES.flatMap((node) =>
  Array.from({ length: clientsPerProtocol }, (_, i) => [
    respClient(cluster, node, i),
    httpClient(cluster, node, i),
  ]).flat(),
);
const drivers = clients.map((client) => drive(client, running));
const results: FaultFigures[] = [];
try {
  console.log(
    `Failover under load: 3 nodes, ${clientsPerProtocol} RESP + ${clientsPerProtocol} HTTP clients per node ` +
      `writing 100-byte values; node args: ${nodeArgs.length === 0 ? "(defaults)" : nodeArgs.join(" ")}`,
  );
  // Elections without a fault are what a too-short election timeout costs under load: there should be none.
  await cluster.waitForLeader(30_000);
  const steadyTerm = await highestTerm(cluster);
  const stallsBefore = await stalls(cluster);
  await sleep(steadyMs);
  const termAfterSteady = await highestTerm(cluster);
  console.log(`steady load for ${steadyMs} ms: ${termAfterSteady - steadyTerm} elections (should be 0)`);
  console.log(`  ${describeStalls(stallsBefore, await stalls(cluster))}`);
  for (const kind of kinds) {
    console.log(
      kind === "kill"
        ? `kill -9 of the leader, restarted after ${outageMs} ms:`
        : `SIGSTOP of the leader for ${outageMs} ms, then SIGCONT:`,
    );
    for (let n = 1; n <= faultsPerKind; n++) {
      await cluster.waitForLeader(30_000);
      await sleep(settleMs);
      const leader = await cluster.waitForLeader(30_000);
      const faultMs = performance.now();
      const elected = newLeaderKnown(cluster, leader, faultMs + outageMs);
      const recoverMs = await injectFault(cluster, kind, leader);
      await sleep(RECOVERY_MS);
      const times = { faultMs, electedMs: await elected, recoverMs, endMs: performance.now() };
      const result = figures(kind, leader, clients, times);
      results.push(result);
      console.log(describe(result, n));
    }
    const ofKind = results.filter((result) => result.kind === kind);
    console.log(
      `  median over ${ofKind.length} faults: longest write gap ${median(ofKind.map((r) => r.gapMs)).toFixed(0)} ms, ` +
        `new leader after ${median(ofKind.map((r) => r.electedMs)).toFixed(0)} ms, ` +
        `first new write ok after ${median(ofKind.map((r) => r.resumedMs)).toFixed(0)} ms; ` +
        `longest gap when it came back ${median(ofKind.map((r) => r.rejoinGapMs)).toFixed(0)} ms`,
    );
  }
  const elections = (await highestTerm(cluster)) - termAfterSteady;
  console.log(`elections during the faults: ${elections} for ${results.length} faults (one each is the minimum)`);
} finally {
  running.stop = true;
  await cluster.stop();
  await Promise.race([Promise.all(drivers), sleep(REQUEST_TIMEOUT_MS)]);
}
const nodeArgsFlag = nodeArgs.length === 0 ? "" : ` --node-args="${nodeArgs.join(" ")}"`;
console.log(
  `Reproduce: npm run bench:failover -- --faults ${faultsPerKind} --kinds ${kinds.join(",")} ` +
    `--clients ${clientsPerProtocol} --outage-ms ${outageMs} --settle-ms ${settleMs} --steady-ms ${steadyMs}` +
    nodeArgsFlag,
);
process.exit(0);
