/**
 * @module What a data directory knows about the cluster it belongs to, on disk next to the WAL:
 *
 * - `identity.json`, written once when the node bootstraps: the cluster id, this node's id and the members the
 *   cluster was created with. A node whose directory holds another node's or another cluster's identity refuses
 *   to start; one whose directory has none is new (see bootstrap.ts for when it may start).
 * - `members-seen.json`: the members this node has received a Raft message from, ever. A member only sends
 *   Raft messages once it has an identity of its own, so a member that asks to bootstrap with an empty
 *   directory although a peer has heard from it before has lost its data (it may have voted and acknowledged
 *   entries it no longer has) and must not start as that member.
 *
 * Both are small JSON files replaced atomically: written to a temporary file, fsynced, renamed over the old one,
 * and the directory fsynced, so a crash leaves the old file or the new one, never a torn one.
 */
import { createHash } from "node:crypto";
import { closeSync, existsSync, fsyncSync, openSync, readdirSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import type { MemberAddress } from "./node-options.js";

export const IDENTITY_FILE_NAME = "identity.json";
export const MEMBERS_SEEN_FILE_NAME = "members-seen.json";
const FORMAT = 1;

export interface ClusterIdentity {
  readonly clusterId: string;
  readonly nodeId: NodeId;
  /** The voters the cluster was bootstrapped with, ascending. */
  readonly memberIds: readonly NodeId[];
  /** When this directory joined the cluster (ISO 8601); for people reading the file. */
  readonly createdAt: string;
  /** The shards (Raft groups by hash slot) the cluster was bootstrapped with; 1 in a file written before shards. */
  readonly shardCount: number;
  /** Replicas per shard (slots/placement.ts); the member count in a file written before placement, when every
   * member held every shard. */
  readonly replicationFactor: number;
}

/**
 * The id of a cluster bootstrapped with these members, derived, not drawn: every member computes the same one
 * without talking to the others (etcd derives its cluster id from the initial members and
 * `--initial-cluster-token` the same way). `name` tells apart clusters with the same member ids
 * (`--cluster-name`; `shoal cluster` picks a random one for each new local cluster). Addresses are left out:
 * behind proxies or NAT, members may know each other under different ones.
 */
export function deriveClusterId(
  memberIds: readonly NodeId[],
  name: string,
  shardCount = 1,
  replicationFactor = memberIds.length,
): string {
  const members = [...memberIds].sort((a, b) => a - b).join(",");
  // The shard count and placement are part of what members must agree on: nodes started with different ones are
  // different clusters to each other (peer-checks.ts reports and ignores them). One shard on every member hashes
  // as before shards and placement existed.
  const shards = shardCount === 1 ? "" : `\nshards ${shardCount}`;
  const replicas = replicationFactor === memberIds.length ? "" : `\nreplicas ${replicationFactor}`;
  return createHash("sha256")
    .update(`shoal-cluster\n${name}\n${members}${shards}${replicas}`)
    .digest("hex")
    .slice(0, 16);
}

/** The directory's identity, or undefined when it has none; throws when the file exists but cannot be read. */
export function readIdentity(dataDir: string): ClusterIdentity | undefined {
  const value = readJson(join(dataDir, IDENTITY_FILE_NAME));
  if (value === undefined) return undefined;
  const record = value as Partial<ClusterIdentity> & { format?: unknown };
  const ids = record.memberIds;
  const shardCount = record.shardCount ?? 1;
  const replicationFactor = record.replicationFactor ?? (Array.isArray(ids) ? ids.length : 0);
  if (
    record.format !== FORMAT ||
    typeof record.clusterId !== "string" ||
    !isNodeId(record.nodeId) ||
    !Array.isArray(ids) ||
    !ids.every(isNodeId) ||
    typeof record.createdAt !== "string" ||
    !Number.isSafeInteger(shardCount) ||
    shardCount < 1 ||
    !Number.isSafeInteger(replicationFactor) ||
    replicationFactor < 1 ||
    replicationFactor > ids.length
  ) {
    throw new ShoalError("INTERNAL", `Cannot read ${join(dataDir, IDENTITY_FILE_NAME)}: not a Shoal identity file`);
  }
  return {
    clusterId: record.clusterId,
    nodeId: record.nodeId,
    memberIds: [...ids].sort((a, b) => a - b),
    createdAt: record.createdAt,
    shardCount,
    replicationFactor,
  };
}

export function writeIdentity(dataDir: string, identity: ClusterIdentity): void {
  writeJsonAtomically(dataDir, IDENTITY_FILE_NAME, { format: FORMAT, ...identity });
}

/** True when the directory holds Raft or state-machine data (a WAL, snapshots, LMDB). */
export function holdsState(dataDir: string): boolean {
  return ["wal", "snapshots", "state"].some((name) => {
    const path = join(dataDir, name);
    return existsSync(path) && readdirSync(path).length > 0;
  });
}

/** The members this node has heard from (see the module comment), kept on disk. */
export class MembersSeen {
  readonly #dataDir: string;
  readonly #ids: Set<NodeId>;

  private constructor(dataDir: string, ids: Iterable<NodeId>) {
    this.#dataDir = dataDir;
    this.#ids = new Set(ids);
  }

  static load(dataDir: string): MembersSeen {
    const path = join(dataDir, MEMBERS_SEEN_FILE_NAME);
    const value = readJson(path) as { format?: unknown; nodeIds?: unknown } | undefined;
    if (value === undefined) return new MembersSeen(dataDir, []);
    if (value.format !== FORMAT || !Array.isArray(value.nodeIds) || !value.nodeIds.every(isNodeId)) {
      throw new ShoalError("INTERNAL", `Cannot read ${path}: not a Shoal members-seen file`);
    }
    return new MembersSeen(dataDir, value.nodeIds);
  }

  has(id: NodeId): boolean {
    return this.#ids.has(id);
  }

  /** Records `id` durably before returning (once per member, ever: a synchronous write is fine). The caller
   * must do this before it acts on the member's first message. */
  add(id: NodeId): void {
    if (this.#ids.has(id)) return;
    const ids = [...this.#ids, id].sort((a, b) => a - b);
    writeJsonAtomically(this.#dataDir, MEMBERS_SEEN_FILE_NAME, { format: FORMAT, nodeIds: ids });
    this.#ids.add(id);
  }
}

const KNOWN_MEMBERS_FILE_NAME = "known-members.json";

/** Records the members' addresses a node that joined (`--join`) knows, so it restarts even when the member it
 * joins through does not answer (join-cluster.ts). */
export function writeKnownMembers(dataDir: string, members: ReadonlyMap<NodeId, MemberAddress>): void {
  const list = [...members].map(([id, address]) => ({ id, peer: address.peer, http: address.http }));
  writeJsonAtomically(dataDir, KNOWN_MEMBERS_FILE_NAME, { format: FORMAT, members: list });
}

/** The addresses `writeKnownMembers` recorded; undefined when there are none. */
export function readKnownMembers(dataDir: string): Map<NodeId, MemberAddress> | undefined {
  const path = join(dataDir, KNOWN_MEMBERS_FILE_NAME);
  const value = readJson(path) as { format?: unknown; members?: unknown } | undefined;
  if (value === undefined) return undefined;
  const members = value.members as { id?: unknown; peer?: unknown; http?: unknown }[] | undefined;
  if (
    value.format !== FORMAT ||
    !Array.isArray(members) ||
    !members.every((m) => isNodeId(m?.id) && typeof m.peer === "string" && typeof m.http === "string")
  ) {
    throw new ShoalError("INTERNAL", `Cannot read ${path}: not a Shoal known-members file`);
  }
  return new Map(members.map((m) => [m.id as NodeId, { peer: m.peer as string, http: m.http as string }]));
}

function readJson(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ShoalError("INTERNAL", `Cannot read ${path}: not valid JSON`);
  }
}

function writeJsonAtomically(dataDir: string, name: string, value: unknown): void {
  writeFileDurably(dataDir, name, `${JSON.stringify(value, null, 2)}\n`);
}

/** Replaces `dir/name` with `text` so a crash leaves the old file or the new one, never a part, and the new one
 * survives a power loss once this returns: temp file + fsync + rename + directory fsync. */
export function writeFileDurably(dir: string, name: string, text: string): void {
  const path = join(dir, name);
  const temporary = `${path}.tmp`;
  const fd = openSync(temporary, "w");
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
  const directory = openSync(dir, "r");
  try {
    fsyncSync(directory);
  } finally {
    closeSync(directory);
  }
}

function isNodeId(value: unknown): value is NodeId {
  return typeof value === "number" && Number.isSafeInteger(value) && value > 0;
}

/** "1, 2, 3". */
export function formatIds(ids: readonly NodeId[]): string {
  return [...ids].sort((a, b) => a - b).join(", ");
}

export function sameIds(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return formatIds(a) === formatIds(b);
}
