/**
 * @module The shapes the HTTP API answers, as the client sees them. Kept structural (no imports from the server
 * side) so the client can be lifted into any program that speaks to Shoal over HTTP.
 */

/** A key's current value and revisions, from `GET /v1/kv/{key}`. */
export interface KeyValue {
  readonly key: string;
  readonly value: Uint8Array;
  readonly modRevision: number;
  readonly createRevision: number;
  readonly version: number;
  /** Wall-clock expiry on the leader's replicated clock; absent when the key has no TTL. */
  readonly expiresAtMs?: number;
}

export interface PutOptions {
  /** Expire the key this many seconds after the write. */
  readonly ttlSeconds?: number;
  /** Compare-and-swap: write only if the key's mod revision is this (0: only if absent). */
  readonly ifModRevision?: number;
  /** Write only if the key does not exist. */
  readonly ifAbsent?: boolean;
}

export interface MemberStatus {
  readonly id: number;
  /** "leader" | "follower" | "candidate" | "preCandidate" | "unreachable". */
  readonly role: string;
  readonly peer: string;
  /** host:port of the member's HTTP API; may be empty when no one has heard from it yet. */
  readonly http: string;
  readonly reachable: boolean;
  readonly term?: number;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Entries the member is behind the leader's last index (the leader's view; absent when no leader answered). */
  readonly lag?: number;
  /** The leader's judgement: "caught-up" | "catching-up" | "stalled" | "diverged" (absent as `lag`). */
  readonly replication?: string;
}

/** `GET /v1/cluster`: the answering node's Raft status and every member as it reported itself. */
export interface ClusterStatus {
  readonly id: number;
  /** 0 when the answering node knows no leader. */
  readonly leader: number;
  readonly term: number;
  readonly role: string;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  /** The answering node's store revision (the last write it applied). */
  readonly revision?: number;
  /** The cluster the answering node's data directory belongs to. */
  readonly clusterId?: string;
  /** What the members find wrong with their peers (another cluster, other members, a wrong address). */
  readonly problems?: readonly string[];
  readonly members: readonly MemberStatus[];
  /** The shards (one of every slot until sharding arrives). */
  readonly shards?: readonly ShardStatus[];
  /** The cluster map's epoch in the meta group; 0 until recorded. */
  readonly mapEpoch?: number;
  /** Hash slots moving between shards, counted per source and destination, in the order asked (absent when none). */
  readonly slotMoves?: readonly SlotMoveCount[];
}

/** `slots` hash slots moving from shard `from` to shard `to`. */
export interface SlotMoveCount {
  readonly from: number;
  readonly to: number;
  readonly slots: number;
}

export interface ShardStatus {
  readonly id: number;
  /** Slot ranges, [first, last] each. */
  readonly slots: readonly (readonly [number, number])[];
  /** 0 when no leader is known. */
  readonly leader: number;
  readonly replicas: readonly number[];
  /** The cluster map's epoch (the meta group's version of slots and replicas); 0 until recorded. */
  readonly epoch: number;
  /** The shard's Raft term on the answering node; 0 when it holds no replica of the shard. */
  readonly term?: number;
}

export type {
  AdminNodesView as AdminNodes,
  AdminNodeView as AdminNode,
  AdminRebalanceView as AdminRebalance,
} from "../http/admin-member-routes.js";
/** `GET /v1/admin/shards` and one of its shards: the wire contract, defined once beside the route (type-only: no
 * server code reaches the client). */
export type { AdminShardsView as AdminShards, AdminShardView as AdminShard } from "../http/admin-routes.js";

/** `GET /v1/admin/slots` (and the answer to `POST /v1/admin/slots/move`): the slots moving between shards. */
export type { AdminSlotsView as AdminSlots } from "../http/admin-slot-routes.js";

export type TxnCompare =
  | { readonly key: string; readonly target: "value"; readonly op: "==" | "!=" | "<" | ">"; readonly value: string }
  | {
      readonly key: string;
      readonly target: "version" | "createRevision" | "modRevision";
      readonly op: "==" | "!=" | "<" | ">";
      readonly value: number;
    };

export type TxnOp =
  | { readonly op: "put"; readonly key: string; readonly value: string; readonly ttl?: number }
  | { readonly op: "delete"; readonly key: string }
  | { readonly op: "get"; readonly key: string };

/** `POST /v1/txn`: if every compare holds, `success` runs, else `failure`; one replicated entry either way. */
export interface TxnRequest {
  readonly compare?: readonly TxnCompare[];
  readonly success?: readonly TxnOp[];
  readonly failure?: readonly TxnOp[];
}

/** A hash's fields and their values, as the HTTP API shows a hash written over RESP. */
export type HashFieldsJson = Readonly<Record<string, string>>;

/** A key in a txn response: a string has `value`, a hash has `hash` instead (or `hashFieldCount` when it is too
 * big to show whole). */
export interface TxnKeyValue {
  readonly key: string;
  readonly value?: string;
  readonly hash?: HashFieldsJson;
  readonly hashFieldCount?: number;
  readonly createRevision: number;
  readonly modRevision: number;
  readonly version: number;
  readonly expiresAtMs?: number;
}

export interface TxnResponse {
  readonly succeeded: boolean;
  readonly revision: number;
  readonly responses: readonly (
    | { readonly op: "get"; readonly kv: TxnKeyValue | null }
    | { readonly op: "put" | "delete"; readonly prev: TxnKeyValue | null }
  )[];
}

/** One change seen by a watch. Events arrive in revision order; one revision may carry several (a txn). */
export interface WatchEvent {
  /** `flush`: FLUSHALL deleted every key at this revision (its `key` is empty, whatever the watch's prefix). */
  readonly type: "put" | "delete" | "flush";
  readonly key: string;
  /** The new value for a put of a string; absent for a delete. */
  readonly value?: string;
  /** The new fields for a put of a hash (written over RESP), instead of `value`. */
  readonly hash?: HashFieldsJson;
  /** For a put of a hash too big to show whole (more than 128 fields or 64-byte ones): its field count. */
  readonly hashFieldCount?: number;
  /** The revision, numbered per shard: on a watch over several shards, `shard` says whose. */
  readonly revision: number;
  /** The shard of the key, when the watch spans several shards (absent on one). */
  readonly shard?: number;
}

export interface WatchOptions {
  /** Only keys starting with this (default: every key). */
  readonly prefix?: string;
  /** Replay from this revision (inclusive); default: only changes after the watch starts. */
  readonly fromRevision?: number;
  /** Stops the watch; the iterator then ends without an error. */
  readonly signal?: AbortSignal;
  /** Reconnect when the stream is silent this long (default 45000: three of Shoal's 15 s heartbeats). */
  readonly idleTimeoutMs?: number;
  /** Told when the stream broke and the watch is about to resume from `revision` (0: from now) — over several
   * shards, from `cursor` (per shard, the last revision delivered whole) and `revision` is 0. */
  readonly onReconnect?: (revision: number, reason: string, cursor?: string) => void;
}
