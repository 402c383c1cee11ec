/**
 * @module What a member says about itself and its peers: `/v1/cluster`'s member info (with the leader's view of
 * replication), `/readyz`'s readiness, and asking a peer for its info. The leader's replication tracker is sampled
 * here, so a follower can ask the leader whether it is caught up.
 */
import type { RaftStatus } from "../raft/raw-node.js";
import { NO_NODE, type NodeId } from "../raft/types.js";
import type { AskPeer } from "./leader-forwarding.js";
import type { NodeOptions } from "./node-options.js";
import { nodeDefaults } from "./node-options.js";
import { peerRequest } from "./peer-rpc.js";
import { type ReplicationState, ReplicationTracker } from "./replication-tracker.js";
import type { SlotLoadReport } from "./slot-load.js";

/** What a peer answers about itself (for /v1/cluster and the dashboard). */
export interface MemberInfo {
  readonly id: NodeId;
  readonly role: string;
  readonly term: number;
  readonly leader: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly peer: string;
  readonly http: string;
  /** host:port of its Redis server, when it runs one. */
  readonly resp?: string;
  /** The leader's view of replication (present when `role` is leader): each member's match index. */
  readonly lastIndex?: number;
  readonly matchIndex?: Readonly<Record<string, number>>;
  /** The leader's judgement of each member (present when `role` is leader; replication-tracker.ts). */
  readonly replication?: Readonly<Record<string, ReplicationState>>;
  /** The cluster this node's data directory belongs to. */
  readonly clusterId?: string;
  /** What this node finds wrong with its peers (peer-checks.ts), one sentence each. */
  readonly problems?: readonly string[];
  /** For each shard this node leads (by shard id), each other replica's lag: the leader's last index minus the
   * replica's match index; a replica not heard from yet is left out (its lag is unknown). */
  readonly shardLag?: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** For each shard this node leads (by shard id), its stored key count: what the rebalancer evens out slots by. */
  readonly shardKeys?: Readonly<Record<string, number>>;
  /** The keys this node routed per second over its last window, per shard and for its hottest slots
   * (slot-load.ts): what the rebalancer evens out slots by next. */
  readonly slotLoad?: SlotLoadReport;
}

/** MemberInfo.shardLag of a node: the shards it leads among `shards` (each its group's Raft status). */
export function shardLagOf(
  shards: readonly { readonly id: number; readonly raft: RaftStatus | undefined }[],
): Record<string, Record<string, number>> {
  const lag: Record<string, Record<string, number>> = {};
  for (const { id, raft } of shards) {
    if (raft?.role !== "leader") continue;
    const replicas: Record<string, number> = {};
    for (const [member, match] of raft.matchIndex) {
      if (member !== raft.id && match > 0) replicas[String(member)] = Math.max(0, raft.lastIndex - match);
    }
    lag[String(id)] = replicas;
  }
  return lag;
}

/** What `/readyz` reports. */
export interface Readiness {
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: string;
  readonly leader: NodeId;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The leader's judgement of this member, when this node follows and the leader answered. */
  readonly replication?: ReplicationState;
}

/** A member this far behind whose match index has not moved for this long is reported stalled. */
const REPLICATION_STALL_MS = 10_000;
/** How often the leader's view of replication is sampled. */
const REPLICATION_SAMPLE_MS = 500;
/** How long `/readyz` on a follower waits for the leader's view of it. */
const READINESS_LEADER_TIMEOUT_MS = 500;

export interface MemberStatusSources {
  readonly options: Pick<NodeOptions, "id" | "members" | "readyApplyLagEntriesMax">;
  raftStatus(): RaftStatus;
  appliedIndex(): number;
  clusterId(): string;
  problems(): readonly string[];
  /** MemberInfo.shardLag (shardLagOf), or undefined on a node of one shard (members' lag already says it). */
  shardLag(): MemberInfo["shardLag"];
  /** MemberInfo.shardKeys, or undefined on a node of one shard. */
  shardKeys?(): MemberInfo["shardKeys"];
  /** MemberInfo.slotLoad, or undefined (one shard, or no window complete yet). */
  slotLoad?(): SlotLoadReport | undefined;
  /** The shards other than the first (whose group `raftStatus` is), each as this node's replica of it stands. */
  otherShards(): readonly ShardReplicaState[];
  ask: AskPeer;
}

/** One shard as this node's replica of it stands, for readiness. */
export interface ShardReplicaState {
  readonly id: number;
  readonly leaderId: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
}

export class MemberStatus {
  readonly #sources: MemberStatusSources;
  readonly #replication: ReplicationTracker;
  readonly #lagMax: number;
  #sampler: NodeJS.Timeout | undefined;
  #httpAddress = "";

  constructor(sources: MemberStatusSources) {
    this.#sources = sources;
    this.#lagMax = sources.options.readyApplyLagEntriesMax ?? nodeDefaults.readyApplyLagEntriesMax;
    this.#replication = new ReplicationTracker({ laggingEntriesMin: this.#lagMax, stallMs: REPLICATION_STALL_MS });
  }

  start(): void {
    this.#sampler = setInterval(
      () => this.#replication.observe(this.#sources.raftStatus(), Date.now()),
      REPLICATION_SAMPLE_MS,
    );
    this.#sampler.unref();
  }

  stop(): void {
    if (this.#sampler !== undefined) clearInterval(this.#sampler);
  }

  /** The address this member's HTTP API is bound to (known only once it listens: its port may have been 0). */
  setHttpAddress(address: string): void {
    this.#httpAddress = address;
  }

  memberInfo(): MemberInfo {
    const status = this.#sources.raftStatus();
    const { id, members } = this.#sources.options;
    const self = members.get(id);
    const replication =
      status.role === "leader"
        ? {
            lastIndex: status.lastIndex,
            matchIndex: Object.fromEntries([...status.matchIndex].map(([id, match]) => [String(id), match])),
            replication: Object.fromEntries(
              [...this.#replication.states(status, Date.now())].map(([id, state]) => [String(id), state]),
            ),
          }
        : {};
    return {
      ...replication,
      id: status.id,
      role: status.role,
      term: status.term,
      leader: status.leaderId,
      commitIndex: status.commitIndex,
      appliedIndex: this.#sources.appliedIndex(),
      peer: self?.peer ?? "",
      http: this.#httpAddress || (self?.http ?? ""),
      ...(self?.resp === undefined ? {} : { resp: self.resp }),
      clusterId: this.#sources.clusterId(),
      problems: this.#sources.problems(),
      ...optionalShardLag(this.#sources.shardLag()),
      ...(this.#sources.shardKeys?.() === undefined ? {} : { shardKeys: this.#sources.shardKeys() }),
      ...optionalSlotLoad(this.#sources.slotLoad?.()),
    };
  }

  /** Asks a peer about itself; undefined when it does not answer in time (shown as unreachable). */
  async peerInfo(id: NodeId, timeoutMs: number): Promise<MemberInfo | undefined> {
    try {
      return (await this.#sources.ask(id, peerRequest.info(), timeoutMs)) as MemberInfo;
    } catch {
      return undefined;
    }
  }

  /**
   * Ready to serve: a leader is known, this node has applied (nearly) all it knows to be committed, and — on a
   * follower — the leader finds it caught up. A follower learns the commit index only from the leader, so on
   * its own it cannot tell "caught up" from "the leader sends it nothing" (a member the leader cannot catch
   * up); the leader's replication tracker can, so a follower asks it.
   */
  async readiness(): Promise<Readiness> {
    const status = this.#sources.raftStatus();
    const appliedIndex = this.#sources.appliedIndex();
    const base = { leader: status.leaderId, term: status.term, commitIndex: status.commitIndex, appliedIndex };
    if (status.leaderId === NO_NODE) return { ...base, ready: false, reason: "No leader is known" };
    if (appliedIndex + this.#lagMax < status.commitIndex) {
      return {
        ...base,
        ready: false,
        reason: `Applied index ${appliedIndex} trails the commit index ${status.commitIndex}`,
      };
    }
    // Every other shard this node hosts must have a leader and be applied about as far as it committed, so a
    // balancer never sends traffic to a node one of whose shards cannot serve. (Their leaders' view of this
    // replica is not asked for: one round trip per shard would make /readyz as slow as the shard count.)
    for (const shard of this.#sources.otherShards()) {
      if (shard.leaderId === NO_NODE) return { ...base, ready: false, reason: `Shard ${shard.id} has no leader` };
      if (shard.appliedIndex + this.#lagMax < shard.commitIndex) {
        return {
          ...base,
          ready: false,
          reason: `Shard ${shard.id}: applied index ${shard.appliedIndex} trails the commit index ${shard.commitIndex}`,
        };
      }
    }
    if (status.role === "leader") return { ...base, ready: true };
    const leader = await this.peerInfo(status.leaderId, READINESS_LEADER_TIMEOUT_MS);
    if (leader === undefined) {
      return {
        ...base,
        ready: false,
        reason: `Leader ${status.leaderId} did not answer within ${READINESS_LEADER_TIMEOUT_MS} ms`,
      };
    }
    const replication = leader.replication?.[String(status.id)];
    if (replication === undefined || replication === "caught-up")
      return { ...base, ready: true, ...(replication === undefined ? {} : { replication }) };
    const lag = (leader.lastIndex ?? 0) - (leader.matchIndex?.[String(status.id)] ?? 0);
    return {
      ...base,
      ready: false,
      replication,
      reason: `Leader ${status.leaderId} reports this member ${replication} (${lag} entries behind)`,
    };
  }
}

function optionalShardLag(shardLag: MemberInfo["shardLag"]): Pick<MemberInfo, "shardLag"> {
  return shardLag === undefined ? {} : { shardLag };
}

function optionalSlotLoad(slotLoad: SlotLoadReport | undefined): Pick<MemberInfo, "slotLoad"> {
  return slotLoad === undefined ? {} : { slotLoad };
}
