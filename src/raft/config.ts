/**
 * @module Raft configuration: raw values with their defaults, validated once when a node starts.
 */
import type { GroupId, NodeId } from "./types.js";

export interface RaftConfig {
  readonly id: NodeId;
  readonly groupId: GroupId;
  /** Ticks without hearing from a leader before campaigning; the real timeout is drawn in
   * [electionTimeoutTicks, 2 * electionTimeoutTicks) so that candidates rarely collide (paper, section 5.2). */
  readonly electionTimeoutTicks: number;
  /** Ticks between a leader's heartbeats; must be well below the election timeout. */
  readonly heartbeatIntervalTicks: number;
  /** PreVote (thesis 9.6): a node only raises its term once a majority says it could win. */
  readonly preVote: boolean;
  /** CheckQuorum (thesis 6.2): a leader that has not heard from a majority for an election timeout steps down,
   * and voters ignore vote requests while they hear from a live leader. */
  readonly checkQuorum: boolean;
  /** `safe`: ReadIndex confirmed by a heartbeat round. `leaseBased`: the leader answers from its lease; this
   * assumes clocks drift less than the election timeout between nodes (thesis 6.4.1) and needs checkQuorum. */
  readonly readOnlyOption: "safe" | "leaseBased";
  /** Bound on the entry bytes in one AppendEntries message. */
  readonly messageBytesMax: number;
  /** Bound on AppendEntries messages in flight to one follower (pipelining window). */
  readonly inflightMessagesMax: number;
  /** Bound on entry bytes in flight to one follower. */
  readonly inflightBytesMax: number;
  /** Bound on entry bytes proposed but not yet committed; proposals beyond it are refused (backpressure). */
  readonly uncommittedBytesMax: number;
  /** A single proposal larger than this is refused. The host proposes only entries its own checks let through
   * (a Shoal node: COMMAND_LIMITS.entrySizeBytesMax, which it asserts fits under this). */
  readonly proposalBytesMax: number;
  /** Size of one InstallSnapshot chunk. */
  readonly snapshotChunkBytesMax: number;
  /** Snapshot chunks in flight to one follower. */
  readonly snapshotChunksInflightMax: number;
  /** Entries per Ready handed to the host for applying (bounds one apply step of the event loop). */
  readonly committedEntriesPerReadyMax: number;
  /**
   * Idle groups go quiet (CockroachDB's quiescence): a leader whose followers hold its whole log, with nothing in
   * flight, sends one last heartbeat marked `quiesce` and then no more; its followers stop their election timers
   * until the leader speaks again. Only for a host that learns when a leader's node goes silent by other means
   * (a node-level liveness ping) and then calls `unquiesce` — without one, a quiesced follower would never notice
   * its leader's death. Incompatible with lease-based reads, whose lease heartbeats renew.
   */
  readonly quiesce: boolean;
  /** Test-only switches that break a safety mechanism, so the simulator's checkers can be proven. */
  readonly unsafe: UnsafeRaftOptions;
}

export interface UnsafeRaftOptions {
  /** Count replicas to commit entries of earlier terms (violates the paper's section 5.4.2 rule). */
  readonly commitPriorTermEntries?: boolean;
  /** Grant votes without comparing logs (violates the election restriction, section 5.4.1). */
  readonly grantVoteWithoutLogCheck?: boolean;
  /** Accept AppendEntries without checking prevLogIndex/prevLogTerm (violates Log Matching). */
  readonly skipAppendConsistencyCheck?: boolean;
}

export const defaultRaftConfig: Omit<RaftConfig, "id" | "groupId"> = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  readOnlyOption: "safe",
  messageBytesMax: 1024 * 1024,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 * 1024 * 1024,
  uncommittedBytesMax: 64 * 1024 * 1024,
  // One maximal 16 MiB value plus room for its key, the command around it and its encoding.
  proposalBytesMax: 17 * 1024 * 1024,
  snapshotChunkBytesMax: 1024 * 1024,
  snapshotChunksInflightMax: 4,
  committedEntriesPerReadyMax: 4096,
  quiesce: false,
  unsafe: {},
};

/** Fills defaults and checks the relations between values; throws RangeError on a bad configuration. */
export function resolveRaftConfig(config: Partial<RaftConfig> & Pick<RaftConfig, "id" | "groupId">): RaftConfig {
  const resolved: RaftConfig = { ...defaultRaftConfig, ...config };
  if (!(Number.isSafeInteger(resolved.id) && resolved.id > 0)) throw new RangeError("Raft node id must be positive");
  if (resolved.heartbeatIntervalTicks < 1) throw new RangeError("Heartbeat interval must be at least one tick");
  if (resolved.electionTimeoutTicks <= resolved.heartbeatIntervalTicks) {
    throw new RangeError("Election timeout must be longer than the heartbeat interval");
  }
  if (resolved.readOnlyOption === "leaseBased" && !resolved.checkQuorum) {
    throw new RangeError("Lease-based reads need checkQuorum");
  }
  if (resolved.readOnlyOption === "leaseBased" && resolved.quiesce) {
    throw new RangeError("Lease-based reads need heartbeats: they cannot be combined with quiescence");
  }
  if (resolved.inflightMessagesMax < 1) throw new RangeError("Inflight message bound must be at least one");
  if (resolved.snapshotChunkBytesMax < 1) throw new RangeError("Snapshot chunk size must be positive");
  // A proposal of the largest size must be accepted when nothing else is waiting to commit.
  if (resolved.uncommittedBytesMax < resolved.proposalBytesMax) {
    throw new RangeError("The uncommitted bound must hold at least one proposal of the largest size");
  }
  return resolved;
}
