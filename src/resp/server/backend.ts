/**
 * @module What the RESP server needs from a node: running data commands through the log or after a read
 * barrier, WATCH's revisions, pub/sub across the cluster, and the figures INFO prints. `node/` implements it
 * (ShoalNode.redisBackend()); tests may implement it over a MapStateMachine. The server owns everything
 * per-connection (MULTI queue, subscriptions, AUTH, RESP version, client name) and nothing else.
 */
import type { WatchedKey } from "../../commands/command.js";
import type { ScanCursors } from "../../commands/redis/command-spec.js";
import type { Reply } from "../../commands/redis/reply.js";
import type { ScanCursorTable } from "../../commands/redis/scan-cursor-table.js";
import type { WriteOrder } from "../../node/write-order.js";
import type { RespVersion } from "../resp-value.js";

/** A WATCHed key as the server keeps it until EXEC: its modRevision then (0: absent), the group's revision when
 * it was read (so EXEC can also notice a key that was created and deleted again in between), and the slot move that
 * brought its slot to that group (0: none; EXEC of an absent key aborts once the slot has moved again). */
export interface WatchTicket extends WatchedKey {
  readonly watchedAtRevision: number;
  readonly slotMove: number;
}

export interface LogOutcome {
  /** True when a WATCHed key had changed: nothing ran (EXEC answers a null array). */
  readonly aborted: boolean;
  /** One reply per command, in order. */
  readonly replies: readonly Reply[];
}

/** A message delivered to a subscriber. `pattern` is set for PSUBSCRIBE deliveries. */
export interface PubSubMessage {
  readonly channel: Uint8Array;
  readonly message: Uint8Array;
  readonly pattern?: Uint8Array;
}

/** One connection's subscriptions as the node's hub sees them. */
export interface Subscriber {
  deliver(message: PubSubMessage): void;
}

export interface PubSub {
  subscribe(subscriber: Subscriber, channel: Uint8Array): void;
  unsubscribe(subscriber: Subscriber, channel: Uint8Array): void;
  psubscribe(subscriber: Subscriber, pattern: Uint8Array): void;
  punsubscribe(subscriber: Subscriber, pattern: Uint8Array): void;
  /** Removes every subscription of `subscriber` (connection closed, RESET). */
  drop(subscriber: Subscriber): void;
  /** Delivers to subscribers on every node; resolves to how many received it (Redis's PUBLISH reply). */
  publish(channel: Uint8Array, message: Uint8Array): Promise<number>;
  /** Channels with at least one subscriber on any node, matching `pattern` when given. */
  channels(pattern: Uint8Array | undefined): Promise<Uint8Array[]>;
  /** Subscriber counts per channel, over every node. */
  numsub(channels: readonly Uint8Array[]): Promise<number[]>;
  /** Pattern subscriptions over every node. */
  numpat(): Promise<number>;
}

/** INFO's raft/replication section and keyspace figures. Plain data, so INFO is formatted in `resp/`. */
export interface NodeFacts {
  readonly nodeId: number;
  readonly role: string;
  readonly leaderId: number;
  /** The leader's host (from its peer address); "" while no leader is known. */
  readonly leaderHost: string;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The last index of this node's log. */
  readonly lastIndex: number;
  readonly memberCount: number;
  /** Stored keys (including expired ones not yet removed) and those with an expiry. */
  readonly keyCount: number;
  readonly expiresCount: number;
  readonly revision: number;
  readonly fsync: string;
}

/** Cache mode's settings and figures (INFO memory/stats, CONFIG GET/SET of maxmemory & co.). */
export interface MemoryFigures {
  /** The data counted against maxmemory (node/eviction/memory-estimate.ts): INFO's used_memory. */
  readonly usedBytes: number;
  readonly maxmemoryBytes: number;
  readonly policy: string;
  readonly samples: number;
  readonly evictedKeys: number;
}

/** The CONFIG parameters this port sets, Redis's names. */
export const MEMORY_PARAMETERS = ["maxmemory", "maxmemory-policy", "maxmemory-samples"] as const;
export type MemoryParameter = (typeof MEMORY_PARAMETERS)[number];

export interface MemoryPort {
  figures(): MemoryFigures;
  /** CONFIG SET of some of MEMORY_PARAMETERS, all or none: throws BAD_REQUEST naming a bad value. */
  set(changes: readonly (readonly [MemoryParameter, string])[]): void;
}

/** The cluster as the Redis Cluster commands show it (CLUSTER SLOTS, SHARDS, NODES, INFO, MYID): its shards,
 * each owning slot ranges and led by its Raft group's leader, the group's other members as its replicas. */
export interface ClusterTopology {
  readonly selfId: number;
  /** The cluster's id (identity.ts): node names are derived from it, so they are stable and cluster-unique. */
  readonly clusterId: string;
  /** The first shard's leader, 0 while none is known. */
  readonly leaderId: number;
  readonly term: number;
  readonly members: readonly ClusterMember[];
  /** Every shard in shard order (one owning every slot on a node of a single shard). */
  readonly shards: readonly ClusterShard[];
}

export interface ClusterShard {
  readonly id: number;
  /** Slot ranges, both ends included. */
  readonly slots: readonly { readonly from: number; readonly to: number }[];
  /** The shard's Raft leader as this node knows it, 0 while none is known. */
  readonly leaderId: number;
  /** The members holding the shard (its leader among them). */
  readonly replicaIds: readonly number[];
  /** The shard's Raft term (its configuration epoch here). */
  readonly term: number;
}

export interface ClusterMember {
  readonly id: number;
  /** host:port of its Redis server; undefined when unknown (it did not answer, or it runs none). */
  readonly resp: string | undefined;
  /** host:port of its peer transport (CLUSTER NODES shows it as the cluster bus port). */
  readonly peer: string;
  /** False when it did not answer just now. */
  readonly reachable: boolean;
  readonly appliedIndex: number;
}

export interface RedisBackend {
  /** Replicates `argvs` as one entry (a pipelined run of writes, or an EXEC block with its watches) and resolves
   * with the replies once it is applied. Rejects with a ShoalError (UNAVAILABLE, TIMEOUT…) when it cannot. */
  /** `atomic`: a transaction (EXEC: one entry or none); absent or false: a pipelined run, whose commands a slot
   * move may make the node run one by one. `order`: the run's place among its connection's runs in flight; the
   * backend marks it placed when the next run may be handed over before this one is answered (write-order.ts). */
  runInLog(
    argvs: readonly (readonly Uint8Array[])[],
    watches?: readonly WatchTicket[],
    atomic?: boolean,
    order?: WriteOrder,
  ): Promise<LogOutcome>;
  /** Runs readonly data commands on this node's state: after a ReadIndex barrier, or at once when `stale`. A reply
   * may come back already encoded in `protocol` (kind "encoded": computed on a read worker). */
  runReads(
    argvs: readonly (readonly Uint8Array[])[],
    stale: boolean,
    cursors: ScanCursors,
    protocol: RespVersion,
  ): Promise<Reply[]>;
  /** The keys' watch tokens (current modRevision, 0 when absent), for WATCH: linearizable unless `stale`. */
  watchRevisions(keys: readonly Uint8Array[], stale: boolean): Promise<WatchTicket[]>;
  readonly pubsub: PubSub;
  /** The node's SCAN cursor table, shared by its connections (cursors are valid on every node). */
  readonly cursors: ScanCursorTable;
  facts(): NodeFacts;
  /** Cache mode's maxmemory and eviction (absent: no limit, nothing to set). */
  readonly memory?: MemoryPort;
  /** Releases what the backend holds (its read workers); called once when the server closes. */
  close?(): Promise<void>;
  /** This node's Raft role, cheaply (HELLO reports it on every connection; facts() counts keys). */
  role(): string;
  /** True when this node leads the shard that owns `slot` (strict cluster redirects answer -MOVED otherwise);
   * absent: `role()` decides, as for a single shard. */
  leadsSlot?(slot: number): boolean;
  /** The shard now holding `slot` when this node's replica of its shard has handed it off in a slot move (strict
   * cluster redirects answer -ASK then); undefined otherwise. */
  slotHandedOff?(slot: number): number | undefined;
  /** The members and who leads, for the Redis Cluster commands (may ask the other members). */
  clusterTopology(): Promise<ClusterTopology>;
  /** This node's stored keys in hash slot `slot` (CLUSTER COUNTKEYSINSLOT): local state, like Redis. */
  countKeysInSlot(slot: number): number;
  /** Up to `limit` of them, in bytewise order (CLUSTER GETKEYSINSLOT). */
  keysInSlot(slot: number, limit: number): Uint8Array[];
  /** On a node of several shards, the shard that owns `key` (a run of commands stays within one shard, and a
   * command's keys must share one); absent when the node has a single shard. */
  shardOf?(key: Uint8Array): number;
}
