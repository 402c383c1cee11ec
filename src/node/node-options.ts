/**
 * @module A node's configuration: what `shoal start` flags and the embedded API set, with defaults.
 */
import type { Logger } from "pino";
import type { RaftConfig } from "../raft/config.js";
import type { NodeId } from "../raft/types.js";
import type { MemoryLimitSettings } from "./eviction/eviction-policy.js";

export type FsyncPolicy = "always" | "batch" | "never";

export interface MemberAddress {
  /** host:port of the node-to-node transport. */
  readonly peer: string;
  /** host:port of the HTTP API, when known. */
  readonly http: string;
  /** host:port of the Redis (RESP) server, when this member runs one (what CLUSTER SLOTS names). */
  readonly resp?: string;
}

export interface NodeOptions {
  readonly id: NodeId;
  readonly dataDir: string;
  /** Every member, this node included. */
  readonly members: ReadonlyMap<NodeId, MemberAddress>;
  readonly fsync: FsyncPolicy;
  readonly fsyncBatchIntervalMs: number;
  /** One Raft tick. The election timeout is electionTimeoutTicks ticks (randomized up to twice that). */
  readonly tickMs: number;
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly snapshotThresholdEntries: number;
  readonly snapshotRetainEntries: number;
  /** How long a client request may wait for a leader, a commit or a read confirmation. */
  readonly requestTimeoutMs: number;
  readonly expiryScanIntervalMs: number;
  readonly expiryKeysPerScanMax: number;
  /** The watch history's window (store/history.ts): recent revisions and bytes kept for watches to replay. */
  readonly watchHistoryRevisionsMax?: number;
  readonly watchHistoryBytesMax?: number;
  /** Bounds of each watch (node/watch-hub.ts); defaults in `watchHubDefaults`. */
  readonly watchBufferEventsMax?: number;
  readonly watchBufferBytesMax?: number;
  readonly watchersMax?: number;
  /** `/readyz` tolerates the applied index trailing the known commit index by this many entries: under load
   * the apply of a just-committed batch is always a moment behind, and readiness must not flap with it. */
  readonly readyApplyLagEntriesMax?: number;
  readonly raft?: Partial<Omit<RaftConfig, "id" | "groupId">>;
  /** Shards: Raft groups, each owning a range of hash slots (slots/slot-map.ts) and replicated on every member;
   * default 1. Fixed when the cluster is bootstrapped (identity.ts). */
  readonly shards?: number;
  /** Replicas per shard (slots/placement.ts): with fewer than the members, each node holds only some shards.
   * Default: the data directory's own, or for a new cluster placement's default (defaultReplicationFactor). */
  readonly replicas?: number;
  /** A member's peer address to join the cluster through (`shoal start --join`): `members` then lists only this
   * node, and the rest comes from that member's answer (join-request.ts). */
  readonly join?: string;
  /** Where the peer transport listens; defaults to this node's own entry in `members`. A chaos harness sets it
   * to put a fault-injecting proxy between the advertised address and the real one. */
  readonly peerListen?: string;
  /** Cache mode's maxmemory and eviction policy (node/eviction/); default: no limit. */
  readonly memoryLimit?: MemoryLimitSettings;
  /** Deliberately unsafe behaviour, for proving the chaos checkers catch violations. Never in production. */
  readonly unsafe?: { readonly staleReads?: boolean };
  readonly randomSeed?: number;
  /** Tells apart new clusters with the same member ids (identity.ts, deriveClusterId); default "shoal". Used
   * only when the data directory is new. */
  readonly clusterName?: string;
  /** Told what a start that waits is waiting for (a new member waits for every other member to answer). */
  readonly onStartupProgress?: (message: string) => void;
  readonly logger: Logger;
  readonly onFatal: (error: Error) => void;
  /** Called once this node was removed from the cluster (`shoal node remove`) and the meta group no longer counts
   * it: it holds nothing and serves no one; the process stops it. */
  readonly onRemoved?: () => void;
}

export const nodeDefaults = {
  fsync: "always" as FsyncPolicy,
  fsyncBatchIntervalMs: 2,
  // 50 ms ticks and a 6-tick election timeout (randomized to 300-600 ms): a paused or cut-off leader is replaced in
  // about 0.4 s (npm run bench:failover: median longest write gap 421 ms), while the longest stall one client
  // request can cause — applying a 16 MiB value, ~250-300 ms of LMDB work on this VM — stays under the shortest
  // timeout (npm run bench:stall: 0 elections; with 5 ticks it cost 1-2 elections and the write an UNCERTAIN).
  // 10 ticks made every pause of the leader cost 0.5-1 s. A crashed leader is replaced sooner still: its followers
  // see its port refuse connections and do not wait for the timeout (RaftHost.leaderGone).
  tickMs: 50,
  electionTimeoutTicks: 6,
  heartbeatIntervalTicks: 1,
  snapshotThresholdEntries: 10_000,
  snapshotRetainEntries: 1_000,
  requestTimeoutMs: 5_000,
  expiryScanIntervalMs: 100,
  expiryKeysPerScanMax: 256,
  watchHistoryRevisionsMax: 10_000,
  watchHistoryBytesMax: 64 * 1024 * 1024,
  readyApplyLagEntriesMax: 1000,
  clusterName: "shoal",
};
