/**
 * @module `shoal cluster --nodes N`: a local cluster of N node processes on loopback (what `npm start` runs).
 * Each node is a child process running `shoal start`, logging to <data-dir>/<id>/node.log; Ctrl-C stops all.
 * The cluster is announced as up once a leader is elected; if none is within --leader-wait, each node's view
 * is printed instead (and the announcement follows if a leader comes later).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { formatIds, holdsState, readIdentity, sameIds } from "../node/identity.js";
import { CACHE_FLAG_NAMES, CACHE_FLAGS, cacheChoice } from "./cache-flags.js";
import { CliError } from "./cli-error.js";
import { awaitLeader, describeNodes, type ElectedLeader } from "./leader-wait.js";
import { integerFlag, numberFlag, parseFlags } from "./parse-flags.js";

const HELP = `Usage: shoal cluster [--nodes 3] [--data-dir ./data] [options]

  --nodes N            how many nodes (1-9, default 3)
  --data-dir DIR       parent of each node's data directory (default ./data)
  --peer-port-base P   node i listens for peers on P + i - 1 (default 7101)
  --http-port-base P   node i serves HTTP on P + i - 1 (default 8001)
  --resp-port-base P   node i speaks the Redis protocol on P + i - 1 (default 7001)
  --fsync POLICY       always | batch | never (default always; never in cache mode)
  --mode MODE          store | cache; with --maxmemory SIZE, --maxmemory-policy P, --maxmemory-samples N
                       passed to every node (see shoal start --help)
  --shards N           hash-slot shards, each a Raft group, their leaders spread over the nodes (1-256;
                       default 3 for a new cluster, an existing one keeps its own)
  --replicas R         nodes holding each shard (default 3, or more when fewer shards would leave a node
                       without one; at most --nodes; fixed when the cluster is created)
  --tick-ms MS         each node's Raft tick (shoal start's default when absent)
  --election-ticks N   each node's election timeout in ticks (shoal start's default when absent)
  --leader-wait S      say what is wrong if no leader is elected within S seconds (default 20)

Every node serves the live dashboard at its HTTP address (http://127.0.0.1:8001/ by default);
shoal status, get, put, del, watch and bench talk to these nodes.
`;

/** Shards of a new local cluster: one per node of the default 3, so each node leads one (issue 12). */
const DEFAULT_LOCAL_SHARDS = 3;

/** Elections take 0.5-1 s with the default timing; this long without a leader means something is wrong. */
const LEADER_WAIT_S = 20;

const FLAGS = {
  nodes: { type: "string" },
  "data-dir": { type: "string" },
  "peer-port-base": { type: "string" },
  "http-port-base": { type: "string" },
  "resp-port-base": { type: "string" },
  fsync: { type: "string" },
  ...CACHE_FLAGS,
  "tick-ms": { type: "string" },
  "election-ticks": { type: "string" },
  shards: { type: "string" },
  replicas: { type: "string" },
  "leader-wait": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export async function runCluster(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const count = integerFlag(flags, "nodes", 3, 1, 9);
  const dataDir = resolve(typeof flags["data-dir"] === "string" ? flags["data-dir"] : "data");
  const peerBase = integerFlag(flags, "peer-port-base", 7101, 1, 65500);
  const httpBase = integerFlag(flags, "http-port-base", 8001, 1, 65500);
  const respBase = integerFlag(flags, "resp-port-base", 7001, 1, 65500);
  // Passed through to every node when given (shoal start checks them; an existing cluster keeps its replica
  // count when none is given); raise the timing on a slow machine.
  const timing = ["fsync", "tick-ms", "election-ticks", "replicas", ...CACHE_FLAG_NAMES].flatMap((name) => {
    const value = flags[name];
    return typeof value === "string" ? [`--${name}`, value] : [];
  });
  const leaderWaitMs = numberFlag(flags, "leader-wait", LEADER_WAIT_S, 0.1, 3600) * 1000;
  cacheChoice(flags); // a bad --mode or --maxmemory* fails here, in one line, before any node starts
  const ids = Array.from({ length: count }, (_, i) => i + 1);
  const recorded = existingCluster(dataDir, ids);
  const existing = recorded?.members;
  // A new local cluster is sharded, so its leaders (and the work) spread over the nodes; an existing one keeps the
  // count it was created with (shoal start refuses another). A given --shards is passed on as is, to be checked.
  const shards = typeof flags.shards === "string" ? flags.shards : String(recorded?.shardCount ?? DEFAULT_LOCAL_SHARDS);
  const peers = ids.map((id) => `${id}=127.0.0.1:${peerBase + id - 1}`).join(",");
  // A new cluster gets a name of its own, so its id differs from any other local cluster's (node/identity.ts).
  const clusterName = existing === undefined ? `local-${randomBytes(6).toString("hex")}` : undefined;
  const main = fileURLToPath(new URL("./main.js", import.meta.url));
  const children = new Map<number, ChildProcess>();
  let stopping = false;
  const ready = ids.map((id) => {
    const nodeDir = join(dataDir, String(id));
    try {
      mkdirSync(nodeDir, { recursive: true });
    } catch (error) {
      throw new CliError(`Cannot use data directory ${nodeDir}: ${(error as Error).message}`, 1);
    }
    const args = [
      main,
      "start",
      "--id",
      String(id),
      "--data-dir",
      nodeDir,
      "--peers",
      peers,
      "--http-port",
      String(httpBase + id - 1),
      "--resp-port",
      String(respBase + id - 1),
      ...timing,
      "--shards",
      shards,
      "--log-file",
      join(nodeDir, "node.log"),
      ...(clusterName === undefined ? [] : ["--cluster-name", clusterName]),
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"] });
    children.set(id, child);
    child.on("exit", (code, signal) => {
      children.delete(id);
      if (!stopping) process.stdout.write(`node ${id} exited (${signal ?? code})\n`);
    });
    return new Promise<string>((done, fail) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on("line", (line) => (line.includes("ready") ? done(line) : process.stdout.write(`${line}\n`)));
      child.on("exit", (code) => fail(new CliError(`node ${id} failed to start (exit ${code})`, 1)));
    });
  });
  const stopAll = async (): Promise<void> => {
    stopping = true;
    const exits = [...children.values()].map((child) => new Promise((done) => child.once("exit", done)));
    for (const child of children.values()) child.kill("SIGTERM");
    await Promise.all(exits);
  };
  // A new cluster starts only once every member is up (node/bootstrap.ts), so one failure fails it. An existing
  // one keeps running with a majority: a member that refuses to start (it lost its data, say) must not take the
  // others down with it; its own error line is above.
  const outcomes = await Promise.allSettled(existing === undefined ? [Promise.all(ready)] : ready);
  const failed = ids.filter((_, i) => outcomes[existing === undefined ? 0 : i]?.status === "rejected");
  if (failed.length > 0 && (existing === undefined || ids.length - failed.length <= ids.length / 2)) {
    await stopAll();
    const first = outcomes.find((outcome) => outcome.status === "rejected") as PromiseRejectedResult;
    throw first.reason;
  }
  for (const id of failed) process.stdout.write(`node ${id} did not start; the others run without it\n`);
  const httpUrls = new Map(ids.map((id) => [id, `http://127.0.0.1:${httpBase + id - 1}`] as const));
  const announce = async ({ leader, term }: ElectedLeader): Promise<void> => {
    // With shards, leadership moves once more as they spread: the lines below name where it settled.
    const settled = shards === "1" ? undefined : await settledShards(httpUrls.get(leader) as string, count);
    const shardLines = settled?.lines ?? [];
    // The shards as the cluster has them now (split or merged since it was created).
    const what = settled === undefined ? `node ${leader} leads (term ${term})` : `${settled.count || shards} shards`;
    process.stdout.write(`Shoal cluster of ${count} node(s) is up, ${what}; data in ${dataDir}:\n`);
    for (const id of ids) {
      process.stdout.write(
        `  node ${id}: redis://127.0.0.1:${respBase + id - 1}  http://127.0.0.1:${httpBase + id - 1}  (peer 127.0.0.1:${peerBase + id - 1})\n`,
      );
    }
    for (const line of shardLines) process.stdout.write(`  ${line}\n`);
    process.stdout.write(
      `Dashboard: http://127.0.0.1:${httpBase}/\n` +
        `Try: redis-cli -p ${respBase} set greeting hello && redis-cli -p ${respBase + 1} get greeting\n` +
        `  or: curl -X PUT --data hello http://127.0.0.1:${httpBase}/v1/kv/greeting\n` +
        "Ctrl-C stops the cluster.\n",
    );
  };
  const waited = await awaitLeader(httpUrls, leaderWaitMs);
  if ("leader" in waited) {
    await announce(waited);
  } else {
    process.stdout.write(
      `No leader elected within ${leaderWaitMs / 1000} s; the nodes keep running (Ctrl-C stops them). Each says:\n` +
        describeNodes(waited.reports)
          .map((line) => `  ${line}\n`)
          .join("") +
        `Their logs: ${join(dataDir, "<id>", "node.log")}\n`,
    );
    void awaitLeader(httpUrls, Number.POSITIVE_INFINITY, () => stopping).then((later) => {
      if ("leader" in later && !stopping) return announce(later);
    });
  }
  await new Promise<void>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
  await stopAll();
  process.stdout.write("Cluster stopped.\n");
  return 0;
}

interface ShardView {
  readonly id: number;
  readonly slots: readonly (readonly [number, number])[];
  readonly leader: number;
}

/** How long the announcement waits for the shards' leaders to spread (each hand-over takes a heartbeat or two). */
const SHARDS_SETTLE_MS = 5000;

/** One line per shard — its slots and leader — once every shard has a leader and they sit on as many nodes as
 * they can (node/leader-balancer.ts), or as they are after SHARDS_SETTLE_MS. */
async function settledShards(
  url: string,
  nodeCount: number,
): Promise<{ readonly lines: string[]; readonly count: number }> {
  const deadline = Date.now() + SHARDS_SETTLE_MS;
  let views: readonly ShardView[] = [];
  for (;;) {
    try {
      const response = await fetch(`${url}/v1/cluster`);
      views = ((await response.json()) as { shards?: ShardView[] }).shards ?? views;
    } catch {
      // The node is busy starting; the next poll asks again.
    }
    const leaders = new Set(views.map((view) => view.leader));
    const spread = leaders.size === Math.min(views.length, nodeCount) && !leaders.has(0);
    if ((views.length > 0 && spread) || Date.now() >= deadline) break;
    await new Promise((wake) => setTimeout(wake, 100));
  }
  if (views.length > SHARD_LINES_MAX) {
    // Hundreds of lines would bury the addresses: how many shards each node leads says whether they spread.
    const led = new Map<number, number>();
    for (const view of views) led.set(view.leader, (led.get(view.leader) ?? 0) + 1);
    const counts = [...led]
      .sort(([a], [b]) => a - b)
      .map(([id, n]) => (id === 0 ? `${n} not elected yet` : `node ${id} leads ${n}`));
    return { lines: [`shards: ${counts.join(", ")} (shoal status lists each)`], count: views.length };
  }
  const lines = views.map(
    (view) =>
      `shard ${view.id}: slots ${view.slots.map(([first, last]) => `${first}-${last}`).join(",")}, ` +
      `leader ${view.leader === 0 ? "not elected yet" : `node ${view.leader}`}`,
  );
  return { lines, count: views.length };
}

/** More shards than this are summed up in one line when the cluster is announced. */
const SHARD_LINES_MAX = 8;

/** The members and shard count recorded in the node directories (undefined when none has an identity or any
 * data: a new cluster; data without an identity predates shards: one). Fails when the members are not `ids`:
 * `--nodes 4` over a 3-node directory would leave every node waiting. */
function existingCluster(
  dataDir: string,
  ids: readonly number[],
): { readonly members: readonly number[]; readonly shardCount: number } | undefined {
  let members: readonly number[] | undefined;
  let shardCount = 1;
  let holdsData = false;
  for (const id of ids) {
    const nodeDir = join(dataDir, String(id));
    if (!existsSync(nodeDir)) continue;
    holdsData ||= holdsState(nodeDir);
    const identity = readIdentity(nodeDir);
    if (identity === undefined) continue;
    members = identity.memberIds;
    shardCount = identity.shardCount;
    if (!sameIds(identity.memberIds, ids)) {
      throw new CliError(
        `${dataDir} holds a cluster of ${identity.memberIds.length} members (${formatIds(identity.memberIds)}; ` +
          `cluster ${identity.clusterId}): start it with --nodes ${identity.memberIds.length}, or use another ` +
          "--data-dir (to add members to a running cluster, start them with shoal start --join)",
        1,
      );
    }
  }
  const found = members ?? (holdsData ? ids : undefined);
  return found === undefined ? undefined : { members: found, shardCount };
}
