/**
 * @module The options of a chaos run and their command-line form (`npm run chaos -- --help`).
 */
import { parseArgs } from "node:util";
import { FAULT_KINDS, type FaultKind } from "./nemesis.js";

/** The faults a run injects unless --nemesis says otherwise. */
const DEFAULT_FAULTS: readonly FaultKind[] = ["kill", "pause", "partition"];

import { PARTITION_SHAPES, type PartitionShape } from "./partitions.js";

export const WORKLOADS = ["register", "set", "bank", "redis-register"] as const;
export type WorkloadName = (typeof WORKLOADS)[number];

export interface ChaosOptions {
  readonly workload: WorkloadName;
  readonly nemesis: readonly FaultKind[];
  readonly shapes: readonly PartitionShape[];
  readonly timeS: number;
  readonly nodes: number;
  readonly clients: number;
  readonly seed: number;
  readonly unsafe: string | undefined;
  /** Where this run's history, logs and summary go. */
  readonly resultsDir: string;
  readonly keepData: boolean;
  readonly opTimeoutMs: number;
  readonly faultMs: readonly [number, number];
  readonly quietMs: readonly [number, number];
  readonly keys: number;
  readonly opsPerKey: number;
  readonly readShare: number | undefined;
  readonly faultsAtOnce: number;
  readonly nodeArgs: readonly string[];
  /** Hash-slot shards of the cluster (each a Raft group on its placed nodes); keys spread over all of them. */
  readonly shards: number;
}

export const HELP = `Usage: npm run chaos -- [options]

Runs a workload against a real Shoal cluster (5 nodes by default) on loopback while a nemesis injects faults,
then checks the history. The last line is the verdict: "linearizable: true|false" (register, redis-register), "lost: N" (set),
"total conserved: true|false" (bank); the exit code is 0 only when the run is valid.

  --workload NAME      register | set | bank | redis-register (default register); redis-register is the
                       register through the Redis protocol: SET, GET, WATCH/MULTI/EXEC as the CAS
  --nemesis LIST       comma-separated: kill,pause,partition,membership, or none (default kill,pause,partition);
                       membership moves replicas between nodes (needs more nodes than replicas: --shards 3)
                       and, on 2 shards or more, slots between shards (ranges of slots, often the workload's
                       keys' own; now and then a split, or a merge back)
  --partitions LIST    partition shapes to draw from: ${PARTITION_SHAPES.join(",")} (default all)
  --time S             seconds of faults and client load (default 60)
  --nodes N            cluster size (default 5)
  --clients N          concurrent clients, bound round-robin to the nodes (default 10)
  --seed N             seeds the nemesis and the clients (default: random, printed)
  --unsafe WHAT        start the nodes with --unsafe WHAT, e.g. stale-reads (reads skip ReadIndex)
  --results-dir DIR    where to write (default chaos-results/<timestamp>)
  --keep-data          keep the nodes' data directories even when the run is valid
  --op-timeout-ms MS   a client gives up on a request after this long: indeterminate (default 3000)
  --fault-ms MIN,MAX   how long each fault lasts (default 2000,6000)
  --quiet-ms MIN,MAX   quiet time between faults (default 1000,3000)
  --faults-at-once N   overlapping faults: N independent nemesis loops (default 1)
  --keys N             register: key slots in use at once; set: set keys (default 5)
  --ops-per-key N      register: operations before a slot moves to a fresh key (default 200)
  --read-share X       chance an operation is a read (default register and redis-register 0.5, set 0.1,
                       bank 0.3)
  --shards N           hash-slot shards (default 1), each a Raft group on 3 of the nodes by default (more when
                       fewer shards would leave a node without one; --node-arg=--replicas=R to choose); the
                       workloads' keys spread over every shard (bank's accounts share a {hash tag})
  --node-arg ARG       one more flag for every node's "shoal start" (repeatable), e.g. --node-arg=--fsync=batch
`;

export class OptionsError extends Error {}

export function parseChaosOptions(argv: readonly string[], now = new Date()): ChaosOptions | "help" {
  const { values } = parseArgs({
    args: [...argv],
    strict: true,
    options: {
      workload: { type: "string" },
      nemesis: { type: "string" },
      partitions: { type: "string" },
      time: { type: "string" },
      nodes: { type: "string" },
      clients: { type: "string" },
      seed: { type: "string" },
      unsafe: { type: "string" },
      "results-dir": { type: "string" },
      "keep-data": { type: "boolean" },
      "op-timeout-ms": { type: "string" },
      "fault-ms": { type: "string" },
      "quiet-ms": { type: "string" },
      "faults-at-once": { type: "string" },
      keys: { type: "string" },
      "ops-per-key": { type: "string" },
      "read-share": { type: "string" },
      "node-arg": { type: "string", multiple: true },
      shards: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help === true) return "help";
  const workload = (values.workload ?? "register") as WorkloadName;
  if (!WORKLOADS.includes(workload))
    throw new OptionsError(`Unknown --workload "${workload}": expected ${WORKLOADS.join(", ")}`);
  const nemesis = list(values.nemesis ?? DEFAULT_FAULTS.join(","), "--nemesis", FAULT_KINDS, ["none"]) as FaultKind[];
  const shapes = list(
    values.partitions ?? PARTITION_SHAPES.join(","),
    "--partitions",
    PARTITION_SHAPES,
    [],
  ) as PartitionShape[];
  if (shapes.length === 0) throw new OptionsError("--partitions needs at least one shape");
  const stamp = now.toISOString().replace(/[:.]/g, "-");
  const readShare = values["read-share"] === undefined ? undefined : Number(values["read-share"]);
  if (readShare !== undefined && !(readShare >= 0 && readShare <= 1))
    throw new OptionsError("--read-share must be between 0 and 1");
  return {
    workload,
    nemesis,
    shapes,
    timeS: number(values.time, "--time", 60, 1, 86_400),
    nodes: number(values.nodes, "--nodes", 5, 1, 15),
    clients: number(values.clients, "--clients", 10, 1, 1000),
    seed: number(values.seed, "--seed", Math.floor(Math.random() * 2 ** 31), 0, 2 ** 32 - 1),
    unsafe: values.unsafe,
    resultsDir: values["results-dir"] ?? `chaos-results/${stamp}`,
    keepData: values["keep-data"] === true,
    opTimeoutMs: number(values["op-timeout-ms"], "--op-timeout-ms", 3000, 100, 600_000),
    faultMs: range(values["fault-ms"], "--fault-ms", [2000, 6000]),
    quietMs: range(values["quiet-ms"], "--quiet-ms", [1000, 3000]),
    keys: number(values.keys, "--keys", 5, 1, 1000),
    opsPerKey: number(values["ops-per-key"], "--ops-per-key", 200, 1, 1_000_000),
    readShare,
    faultsAtOnce: number(values["faults-at-once"], "--faults-at-once", 1, 1, 15),
    nodeArgs: values["node-arg"] ?? [],
    shards: number(values.shards, "--shards", 1, 1, 64),
  };
}

/** The command that replays a run's choices (the timing of real processes is not replayable). */
export function replayCommand(options: ChaosOptions): string {
  const parts = [
    "npm run chaos --",
    `--workload ${options.workload}`,
    `--nemesis ${options.nemesis.join(",") || "none"}`,
    `--time ${options.timeS}`,
    `--nodes ${options.nodes}`,
    `--clients ${options.clients}`,
    `--seed ${options.seed}`,
  ];
  if (options.shapes.length !== PARTITION_SHAPES.length) parts.push(`--partitions ${options.shapes.join(",")}`);
  if (options.unsafe !== undefined) parts.push(`--unsafe ${options.unsafe}`);
  if (options.opTimeoutMs !== 3000) parts.push(`--op-timeout-ms ${options.opTimeoutMs}`);
  if (options.faultMs[0] !== 2000 || options.faultMs[1] !== 6000) parts.push(`--fault-ms ${options.faultMs.join(",")}`);
  if (options.quietMs[0] !== 1000 || options.quietMs[1] !== 3000) parts.push(`--quiet-ms ${options.quietMs.join(",")}`);
  if (options.keys !== 5) parts.push(`--keys ${options.keys}`);
  if (options.opsPerKey !== 200) parts.push(`--ops-per-key ${options.opsPerKey}`);
  if (options.readShare !== undefined) parts.push(`--read-share ${options.readShare}`);
  if (options.faultsAtOnce !== 1) parts.push(`--faults-at-once ${options.faultsAtOnce}`);
  if (options.shards !== 1) parts.push(`--shards ${options.shards}`);
  for (const arg of options.nodeArgs) parts.push(`--node-arg=${arg}`);
  return parts.join(" ");
}

function list(raw: string, flag: string, allowed: readonly string[], empty: readonly string[]): string[] {
  if (empty.includes(raw.trim())) return [];
  const items = raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  for (const item of items) {
    if (!allowed.includes(item))
      throw new OptionsError(`Unknown ${flag} item "${item}": expected ${allowed.join(", ")}`);
  }
  return [...new Set(items)];
}

function number(raw: string | undefined, flag: string, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (raw.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionsError(`${flag} must be an integer from ${min} to ${max}, not "${raw}"`);
  }
  return value;
}

function range(raw: string | undefined, flag: string, fallback: [number, number]): [number, number] {
  if (raw === undefined) return fallback;
  const parts = raw.split(",").map(Number);
  if (parts.length !== 2 || parts.some((p) => !Number.isInteger(p) || p < 0) || parts[0]! > parts[1]!) {
    throw new OptionsError(`${flag} must be MIN,MAX in milliseconds, not "${raw}"`);
  }
  return [parts[0]!, parts[1]!];
}
