/**
 * @module `shoal start`: runs one node in this process until SIGINT/SIGTERM.
 */

import { accessSync, constants, existsSync, mkdirSync, openSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { isMemberId, MEMBER_ID_MAX } from "../lib/replica-id.js";
import { MemberStartError, startMember } from "../member/start-member.js";
import { type FsyncPolicy, type MemberAddress, nodeDefaults } from "../node/node-options.js";
import { DataLossError } from "../raft/data-loss.js";
import { REPLICATION_FACTOR_MAX } from "../slots/placement.js";
import { CACHE_FLAGS, CACHE_HELP, cacheChoice } from "./cache-flags.js";
import { CliError } from "./cli-error.js";
import { choiceFlag, integerFlag, parseFlags } from "./parse-flags.js";

const HELP = `Usage: shoal start --id N --data-dir DIR --peers ID=HOST:PORT,... [options]
       shoal start --id N --data-dir DIR --peer HOST:PORT --join HOST:PORT [options]

  --id N                 this node's id (a positive integer listed in --peers; with --join, one the cluster
                         never used)
  --data-dir DIR         where the WAL, snapshots and LMDB state live
  --peers LIST           every member's peer address, e.g. 1=127.0.0.1:7101,2=127.0.0.1:7102 (the members a
                         cluster is created with)
  --join HOST:PORT       join a running cluster through this member's peer address: the node becomes a member
                         and the rebalancer gives it its share of replicas; restart it with the same command
  --peer HOST:PORT       with --join: this node's own peer address
  --http-host HOST       HTTP API host (default 127.0.0.1)
  --http-port PORT       HTTP API port (default 8000 + id); also serves the dashboard at /
  --resp-host HOST       Redis protocol (RESP) host (default 127.0.0.1)
  --resp-port PORT       Redis protocol port (default 7000 + id; 0 picks a free one)
  --requirepass PASS     clients must AUTH with this password (Redis's requirepass)
  --proto-max-bulk-len N largest RESP bulk argument in bytes (default and most 512 MiB, as Redis)
  --maxclients N         RESP connections beyond this are refused (default 10000)
  --write-runs-in-flight N  a RESP connection's pipelined write runs sent on before the first is answered
                         (default 1; up to 64): more is faster, but a write in flight during a leader change
                         or slot move answers TRYAGAIN instead of being retried for the client
  --cluster-redirects    Redis Cluster's strict mode: a member that does not lead answers -MOVED (and a
                         multi-key command over several slots -CROSSSLOT) instead of forwarding
  --shards N             Raft groups (1-256) the 16384 hash slots are split over (default 1; fixed when the
                         cluster is created; every member must be started with the same N)
  --replicas R           members holding each shard (default 3, or more when fewer shards would leave a member
                         without one; at most the member count; fixed when the cluster is created): with fewer
                         than the members, each node stores only some shards
  --fsync POLICY         always | batch | never (default always; never in cache mode)
${CACHE_HELP}  --tick-ms MS           Raft tick (default ${nodeDefaults.tickMs})
  --election-ticks N     election timeout in ticks (default ${nodeDefaults.electionTimeoutTicks})
  --snapshot-entries N   snapshot and compact the log every N applied entries (default ${nodeDefaults.snapshotThresholdEntries})
  --snapshot-retain N    entries kept behind a snapshot (default ${nodeDefaults.snapshotRetainEntries})
  --log-level LEVEL      fatal | error | warn | info | debug (default info)
  --log-file FILE        log here instead of stderr
  --peer-listen H:P      listen for peers here instead of this node's --peers address (behind a proxy)
  --cluster-name NAME    tells apart new clusters with the same member ids (default shoal; read only when
                         the data directory is new, see docs/operations.md)
  --unsafe WHAT          deliberately unsafe mode for chaos tests: stale-reads (reads skip ReadIndex)
`;

/** Each shard is a Raft group with its own WAL, LMDB environment and timers on every member (until the shared
 * WAL, docs/architecture.md): a node of hundreds would spend its file descriptors and fsyncs on them. */
const SHARDS_PER_NODE_MAX = 256;

const FLAGS = {
  id: { type: "string" },
  "data-dir": { type: "string" },
  peers: { type: "string" },
  "http-host": { type: "string" },
  "http-port": { type: "string" },
  fsync: { type: "string" },
  shards: { type: "string" },
  replicas: { type: "string" },
  "tick-ms": { type: "string" },
  "election-ticks": { type: "string" },
  "snapshot-entries": { type: "string" },
  "snapshot-retain": { type: "string" },
  "log-level": { type: "string" },
  "log-file": { type: "string" },
  "peer-listen": { type: "string" },
  peer: { type: "string" },
  join: { type: "string" },
  "cluster-name": { type: "string" },
  unsafe: { type: "string" },
  "resp-host": { type: "string" },
  "resp-port": { type: "string" },
  requirepass: { type: "string" },
  "proto-max-bulk-len": { type: "string" },
  maxclients: { type: "string" },
  "write-runs-in-flight": { type: "string" },
  "cluster-redirects": { type: "boolean" },
  ...CACHE_FLAGS,
  help: { type: "boolean", short: "h" },
} as const;

export async function runStart(argv: string[]): Promise<number> {
  const flags = parseFlags(argv, FLAGS);
  if (flags.help === true) {
    process.stdout.write(HELP);
    return 0;
  }
  const id = integerFlag(flags, "id", 0, 1, MEMBER_ID_MAX);
  if (id === 0) throw new CliError("Missing --id (try: shoal start --help)");
  const dataDir = requireString(flags, "data-dir");
  const httpHost = typeof flags["http-host"] === "string" ? flags["http-host"] : "127.0.0.1";
  const httpPort = integerFlag(flags, "http-port", 8000 + id, 0, 65535);
  const join = typeof flags.join === "string" ? peerAddress(flags.join, "--join") : undefined;
  if (join === undefined && flags.peer !== undefined) {
    throw new CliError("--peer is this node's address for --join; a cluster's first members take --peers");
  }
  const members = join === undefined ? parsePeers(requireString(flags, "peers")) : joiningMember(flags, id);
  if (!members.has(id)) throw new CliError(`--peers does not list this node's id ${id}`);
  if (join !== undefined) members.set(id, { peer: members.get(id)?.peer ?? "", http: `${httpHost}:${httpPort}` });
  // Every flag is read before the node starts: a bad one must fail fast, not leave a started node behind.
  const respHost = typeof flags["resp-host"] === "string" ? flags["resp-host"] : "127.0.0.1";
  const respPort = integerFlag(flags, "resp-port", 7000 + id, 0, 65535);
  const requirePass = typeof flags.requirepass === "string" ? flags.requirepass : undefined;
  const bulkLengthBytesMax = integerFlag(flags, "proto-max-bulk-len", 512 * 1024 * 1024, 1024, 512 * 1024 * 1024);
  const clientsMax = integerFlag(flags, "maxclients", 10_000, 1, 1_000_000);
  const writeRunsInFlightMax = integerFlag(flags, "write-runs-in-flight", 1, 1, 64);
  const cache = cacheChoice(flags);
  checkDataDir(dataDir);
  const clusterName = typeof flags["cluster-name"] === "string" ? flags["cluster-name"] : nodeDefaults.clusterName;
  const logger = makeLogger(flags);
  // A node removed from the cluster (shoal node remove) stops like on SIGTERM, exit 0.
  let stopRemoved: (() => void) | undefined;
  let removedEarly = false;
  const removed = (): void => {
    if (stopRemoved === undefined) removedEarly = true;
    else stopRemoved();
  };
  const member = await startMember({
    http: { host: httpHost, port: httpPort },
    resp: {
      host: respHost,
      port: respPort,
      bulkLengthBytesMax,
      clientsMax,
      writeRunsInFlightMax,
      ...(requirePass === undefined ? {} : { requirePass }),
      ...(flags["cluster-redirects"] === true ? { clusterRedirects: true } : {}),
    },
    node: {
      ...nodeDefaults,
      id,
      dataDir: resolve(dataDir),
      members,
      ...(join === undefined ? {} : { join }),
      fsync: choiceFlag<FsyncPolicy>(flags, "fsync", ["always", "batch", "never"], cache.fsyncDefault),
      memoryLimit: cache.memoryLimit,
      shards: integerFlag(flags, "shards", 1, 1, SHARDS_PER_NODE_MAX),
      ...(flags.replicas === undefined
        ? {}
        : { replicas: integerFlag(flags, "replicas", 0, 1, Math.min(members.size, REPLICATION_FACTOR_MAX)) }),
      tickMs: integerFlag(flags, "tick-ms", nodeDefaults.tickMs, 1, 10_000),
      electionTimeoutTicks: integerFlag(flags, "election-ticks", nodeDefaults.electionTimeoutTicks, 2, 10_000),
      snapshotThresholdEntries: integerFlag(flags, "snapshot-entries", nodeDefaults.snapshotThresholdEntries, 1),
      snapshotRetainEntries: integerFlag(flags, "snapshot-retain", nodeDefaults.snapshotRetainEntries, 0),
      ...(typeof flags["peer-listen"] === "string" ? { peerListen: flags["peer-listen"] } : {}),
      ...(choiceFlag(flags, "unsafe", ["none", "stale-reads"], "none") === "stale-reads"
        ? { unsafe: { staleReads: true } }
        : {}),
      clusterName,
      logger,
      onRemoved: () => {
        process.stdout.write(`node ${id} was removed from the cluster; stopping\n`);
        removed();
      },
      onFatal: (error) => {
        const what = error instanceof DataLossError ? "Data loss detected" : "Invariant violated";
        logger.fatal({ err: error }, `${what}; stopping the node`);
        process.stderr.write(`shoal: node ${id} stopped: ${error.message}\n`);
        process.exit(70);
      },
    },
  }).catch((error: unknown) => {
    if (error instanceof MemberStartError) throw new CliError(error.message, 1);
    throw error;
  });
  const { maxmemoryBytes, policy } = cache.memoryLimit;
  const limit = maxmemoryBytes === 0 ? "" : ` maxmemory ${maxmemoryBytes} ${policy}`;
  process.stdout.write(
    `node ${id} ready: http://${member.http} redis://${member.resp} peer ${members.get(id)?.peer} mode ${cache.mode}${limit}\n`,
  );
  await new Promise<void>((done) => {
    const shutdown = () => done();
    process.once("SIGINT", shutdown);
    process.once("SIGTERM", shutdown);
    stopRemoved = shutdown;
    if (removedEarly) shutdown();
  });
  await member.stop();
  return 0;
}

function requireString(flags: Record<string, unknown>, name: string): string {
  const value = flags[name];
  if (typeof value !== "string" || value.length === 0)
    throw new CliError(`Missing --${name} (try: shoal start --help)`);
  return value;
}

/** Parses `1=host:port,2=host:port`. */
/** `--peer` for a node started with `--join` (which takes the cluster's members, shards and replicas). */
function joiningMember(flags: Record<string, unknown>, id: number): Map<number, MemberAddress> {
  if (flags.peers !== undefined)
    throw new CliError("--join and --peers exclude each other: a joining node learns the members");
  for (const name of ["shards", "replicas"]) {
    if (flags[name] !== undefined)
      throw new CliError(`--${name} is the cluster's: a node started with --join takes it`);
  }
  if (typeof flags.peer !== "string") throw new CliError("--join needs --peer HOST:PORT, this node's own peer address");
  return new Map([[id, { peer: peerAddress(flags.peer, "--peer"), http: "" }]]);
}

/** A HOST:PORT flag value. */
function peerAddress(value: string, flag: string): string {
  const match = /^([^:,=\s]+):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[2]);
  if (match === null || port < 1 || port > 65535)
    throw new CliError(`Cannot parse ${flag} "${value}": expected HOST:PORT`);
  return `${match[1]}:${port}`;
}

export function parsePeers(list: string): Map<number, MemberAddress> {
  const members = new Map<number, MemberAddress>();
  for (const item of list.split(",")) {
    const match = /^(\d+)=([^:,=\s]+):(\d{1,5})$/.exec(item.trim());
    if (match === null) throw new CliError(`Cannot parse peer "${item}": expected ID=HOST:PORT`);
    const id = Number(match[1]);
    const port = Number(match[3]);
    if (!isMemberId(id) || port < 1 || port > 65535) {
      throw new CliError(`Cannot parse peer "${item}": id (1-${MEMBER_ID_MAX}) or port out of range`);
    }
    if (members.has(id)) throw new CliError(`Peer id ${id} is listed twice`);
    members.set(id, { peer: `${match[2]}:${port}`, http: "" });
  }
  return members;
}

function checkDataDir(dataDir: string): void {
  try {
    makeDirectories(resolve(dataDir));
    accessSync(dataDir, constants.W_OK | constants.R_OK);
    const probe = join(dataDir, ".shoal-write-test");
    writeFileSync(probe, "");
    rmSync(probe);
  } catch (error) {
    throw new CliError(
      `Cannot use data directory ${dataDir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      1,
    );
  }
}

/** mkdir -p one level at a time: Node's recursive mkdirSync spins forever under /proc. */
function makeDirectories(path: string): void {
  if (existsSync(path)) {
    if (!statSync(path).isDirectory()) throw Object.assign(new Error("not a directory"), { code: "ENOTDIR" });
    return;
  }
  const parent = dirname(path);
  if (parent !== path) makeDirectories(parent);
  mkdirSync(path);
}

function makeLogger(flags: Record<string, unknown>): Logger {
  const level = choiceFlag(flags, "log-level", ["fatal", "error", "warn", "info", "debug"], "info");
  const file = flags["log-file"];
  if (typeof file === "string") return pino({ level }, pino.destination({ fd: openSync(file, "a") }));
  return pino({ level }, pino.destination(2));
}
