/**
 * @module INFO and CONFIG GET: the text and parameters clients and tools probe, built from the node's facts and
 * the server's counters. INFO's layout is Redis's (`# Section` headers, `field:value` lines, CRLF, a blank line
 * between sections); the fields are the ones with a meaning in Shoal, plus a `# Raft` section of our own.
 */

import { COMMAND_LIMITS, LIMIT_PARAMETERS } from "../../commands/limits.js";
import { globMatch } from "../../commands/redis/glob.js";
import type { MemoryFigures, NodeFacts } from "./backend.js";
import type { CommandLatency } from "./command-latency.js";

/** What the server itself counts (INFO clients/stats, CONFIG GET). */
export interface ServerFigures {
  readonly port: number;
  readonly startedAtMs: number;
  readonly connectedClients: number;
  readonly clientsMax: number;
  readonly totalConnections: number;
  readonly totalCommands: number;
  readonly rejectedConnections: number;
  readonly bulkLengthBytesMax: number;
  readonly requirePass: boolean;
  /** How long commands took (for /metrics; INFO does not print it). */
  readonly commandLatency: CommandLatency;
}

export const REDIS_VERSION = "7.0.15";

type Section = readonly (readonly [string, string | number])[];

const DEFAULT_SECTIONS = [
  "server",
  "clients",
  "memory",
  "persistence",
  "stats",
  "replication",
  "cpu",
  "raft",
  "keyspace",
];

/** A node without cache mode's port: no limit, nothing counted. */
const NO_MEMORY: MemoryFigures = { usedBytes: 0, maxmemoryBytes: 0, policy: "noeviction", samples: 5, evictedKeys: 0 };

function sections(
  facts: NodeFacts,
  figures: ServerFigures,
  cache: MemoryFigures | undefined,
  nowMs: number,
): Record<string, Section> {
  const memory = process.memoryUsage();
  const limits = cache ?? NO_MEMORY;
  // used_memory is what maxmemory is compared with (the data, estimated: docs/redis-compat.md "Cache mode"), as in
  // Redis; without cache mode's port, the V8 heap.
  const used = cache === undefined ? memory.heapUsed : cache.usedBytes;
  const cpu = process.cpuUsage();
  const uptimeSeconds = Math.floor((nowMs - figures.startedAtMs) / 1000);
  return {
    server: [
      ["redis_version", REDIS_VERSION],
      ["redis_mode", "standalone"],
      ["shoal_node_id", facts.nodeId],
      ["os", `${process.platform} ${process.arch}`],
      ["arch_bits", 64],
      ["multiplexing_api", "node"],
      ["process_id", process.pid],
      ["tcp_port", figures.port],
      ["server_time_usec", nowMs * 1000],
      ["uptime_in_seconds", uptimeSeconds],
      ["uptime_in_days", Math.floor(uptimeSeconds / 86400)],
      ["executable", process.argv[1] ?? ""],
    ],
    clients: [
      ["connected_clients", figures.connectedClients],
      ["maxclients", figures.clientsMax],
      ["blocked_clients", 0],
    ],
    memory: [
      ["used_memory", used],
      ["used_memory_human", human(used)],
      ["used_memory_rss", memory.rss],
      ["used_memory_rss_human", human(memory.rss)],
      ["used_memory_dataset", used],
      ["shoal_heap_used", memory.heapUsed],
      ["maxmemory", limits.maxmemoryBytes],
      ["maxmemory_human", human(limits.maxmemoryBytes)],
      ["maxmemory_policy", limits.policy],
    ],
    persistence: [
      ["loading", 0],
      ["aof_enabled", 0],
      ["shoal_fsync", facts.fsync],
    ],
    stats: [
      ["total_connections_received", figures.totalConnections],
      ["total_commands_processed", figures.totalCommands],
      ["rejected_connections", figures.rejectedConnections],
      ["evicted_keys", limits.evictedKeys],
    ],
    replication: replication(facts),
    cpu: [
      ["used_cpu_sys", (cpu.system / 1e6).toFixed(6)],
      ["used_cpu_user", (cpu.user / 1e6).toFixed(6)],
    ],
    raft: [
      ["raft_node_id", facts.nodeId],
      ["raft_role", facts.role],
      ["raft_leader_id", facts.leaderId],
      ["raft_term", facts.term],
      ["raft_commit_index", facts.commitIndex],
      ["raft_applied_index", facts.appliedIndex],
      ["raft_members", facts.memberCount],
      ["raft_revision", facts.revision],
    ],
    // Redis prints db0 only when it holds keys; avg_ttl is not tracked.
    keyspace: facts.keyCount > 0 ? [["db0", `keys=${facts.keyCount},expires=${facts.expiresCount},avg_ttl=0`]] : [],
  };
}

/**
 * Redis's replication section for a Raft member (documented in docs/redis-compat.md). The leader is the master;
 * every other member — a follower, or a node that knows no leader while an election runs — is a replica of it,
 * with the fields replica-aware clients and exporters read. Offsets are Raft log indexes (the leader's last
 * index, a replica's applied index), so master and replica offsets compare as Redis's do. What differs from a
 * Redis replica is said in the fields themselves: slave_read_only:0 (a follower takes writes and forwards them
 * to the leader) and master_port:0 (a node knows the leader's peer address, not its RESP port).
 */
function replication(facts: NodeFacts): Section {
  if (facts.role === "leader") {
    return [
      ["role", "master"],
      ["connected_slaves", facts.memberCount - 1],
      ["master_repl_offset", facts.lastIndex],
    ];
  }
  const linked = facts.leaderId !== 0;
  return [
    ["role", "slave"],
    ["master_host", linked ? facts.leaderHost : ""],
    ["master_port", 0],
    ["master_link_status", linked ? "up" : "down"],
    ["master_sync_in_progress", 0],
    ["slave_repl_offset", facts.appliedIndex],
    ["slave_read_only", 0],
    ["connected_slaves", 0],
    ["master_repl_offset", facts.appliedIndex],
  ];
}

/** INFO's text for the requested sections (Redis: none, "default", "all" and "everything" mean all of ours;
 * unknown section names are ignored). */
export function infoText(
  requested: readonly string[],
  facts: NodeFacts,
  figures: ServerFigures,
  cache: MemoryFigures | undefined,
  nowMs: number,
): string {
  const all = sections(facts, figures, cache, nowMs);
  const lowered = requested.map((name) => name.toLowerCase());
  const wantAll =
    lowered.length === 0 || lowered.some((name) => name === "default" || name === "all" || name === "everything");
  const names = wantAll ? DEFAULT_SECTIONS : DEFAULT_SECTIONS.filter((name) => lowered.includes(name));
  return names
    .map((name) => {
      const title = `# ${name[0]?.toUpperCase()}${name.slice(1)}\r\n`;
      return title + (all[name] ?? []).map(([field, value]) => `${field}:${value}\r\n`).join("");
    })
    .join("\r\n");
}

function human(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes}B` : `${value.toFixed(2)}${units[unit]}`;
}

/** The parameters CONFIG GET answers: those clients and tools probe, with values true of Shoal. */
function configParameters(
  figures: ServerFigures,
  cache: MemoryFigures | undefined,
): readonly (readonly [string, string])[] {
  const limits = cache ?? NO_MEMORY;
  return [
    ["maxmemory", String(limits.maxmemoryBytes)],
    ["maxmemory-policy", limits.policy],
    ["maxmemory-samples", String(limits.samples)],
    // Persistence is the Raft log (every write fsynced before it is acknowledged), not RDB/AOF.
    ["save", ""],
    ["appendonly", "no"],
    ["appendfsync", "always"],
    ["databases", "1"],
    ["timeout", "0"],
    ["maxclients", String(figures.clientsMax)],
    ["proto-max-bulk-len", String(figures.bulkLengthBytesMax)],
    // Shoal's own bounds (commands/limits.ts), the same over RESP and HTTP; each error over one names it.
    [LIMIT_PARAMETERS.keySizeBytesMax, String(COMMAND_LIMITS.keySizeBytesMax)],
    [LIMIT_PARAMETERS.valueSizeBytesMax, String(COMMAND_LIMITS.valueSizeBytesMax)],
    [LIMIT_PARAMETERS.entrySizeBytesMax, String(COMMAND_LIMITS.entrySizeBytesMax)],
    ["cluster-enabled", "no"],
    ["port", String(figures.port)],
    ["requirepass", ""], // never reveal the password (Redis shows it; Shoal deliberately does not)
    ["notify-keyspace-events", ""],
    ["client-output-buffer-limit", "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"],
    ["replica-read-only", "yes"],
    ["slave-read-only", "yes"],
    ["tcp-keepalive", "300"],
    ["hz", "10"],
    ["loglevel", "notice"],
    ["lua-time-limit", "5000"],
    ["busy-reply-threshold", "5000"],
    ["io-threads", "1"],
  ];
}

/** CONFIG GET with one or more glob patterns (Redis 7): each matching parameter once, name then value. */
export function configGet(
  patterns: readonly Uint8Array[],
  figures: ServerFigures,
  cache: MemoryFigures | undefined,
): [string, string][] {
  const encoder = new TextEncoder();
  const out: [string, string][] = [];
  for (const [name, value] of configParameters(figures, cache)) {
    const nameBytes = encoder.encode(name);
    if (patterns.some((pattern) => globMatch(pattern, nameBytes, true))) out.push([name, value]);
  }
  return out;
}
