/**
 * @module The Raft core's data types: log entries, hard state, snapshots, membership and the messages nodes
 * exchange. Every message names its Raft group, because one Shoal node hosts many groups (one per shard, plus
 * the meta group). These types are plain data: the transport encodes them (msgpack) and the WAL persists entries
 * and hard state; nothing here does I/O.
 */

/** A member of a Raft group. Positive integers; `NO_NODE` (0) means "none" (no vote, no known leader). */
export type NodeId = number;
export const NO_NODE: NodeId = 0;

/** A Raft group: one per shard, plus the meta group. */
export type GroupId = number;

/** `normal` entries carry client commands (an empty one is a new leader's no-op); `confChange` entries carry an
 * encoded `ConfChange` that takes effect when applied (etcd's rule, with one pending change at a time). */
export type EntryType = "normal" | "confChange";

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
}

/** What must be on stable storage before a node answers a vote or an append (Raft paper, Figure 2). */
export interface HardState {
  readonly term: number;
  /** Who this node voted for in `term`, or NO_NODE. */
  readonly vote: NodeId;
  /** Persisted so a restart re-applies nothing it applied already; a lower bound, it may lag. */
  readonly commit: number;
}

/** The voters and learners of a group. Learners receive the log but neither vote nor count for commits. */
export interface ConfState {
  readonly voters: readonly NodeId[];
  readonly learners: readonly NodeId[];
}

export interface SnapshotMetadata {
  /** The last log index the snapshot covers, and that entry's term. */
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}

export interface Snapshot {
  readonly metadata: SnapshotMetadata;
  /** The state machine's serialized state at `metadata.index` (opaque to Raft). */
  readonly data: Uint8Array;
}

/** One membership change at a time (Raft thesis, section 4.1: single-server changes). */
export interface ConfChange {
  readonly type: "addVoter" | "addLearner" | "removeNode";
  readonly nodeId: NodeId;
  /** Opaque to Raft; the host keeps e.g. the new member's addresses here. */
  readonly context?: string;
}

/** A linearizable read may be served once the state machine has applied `index` (ReadIndex, thesis 6.4). */
export interface ReadState {
  readonly index: number;
  readonly context: string;
}

export type Role = "follower" | "preCandidate" | "candidate" | "leader";

interface MessageHeader {
  readonly groupId: GroupId;
  readonly from: NodeId;
  readonly to: NodeId;
  /** The sender's term; 0 only for local messages that carry no term. */
  readonly term: number;
}

/** Leader → follower: entries following (prevLogIndex, prevLogTerm). Empty `entries` still advance commit. */
export interface AppendEntriesMessage extends MessageHeader {
  readonly type: "appendEntries";
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
}

/** Follower → leader. On success `index` is the follower's new match index. On rejection `index` echoes the
 * rejected prevLogIndex and (hintIndex, hintTerm) let the leader skip a whole conflicting term at once
 * (thesis 5.3's fast backtracking, etcd's findConflictByTerm). */
export interface AppendEntriesResponseMessage extends MessageHeader {
  readonly type: "appendEntriesResponse";
  readonly reject: boolean;
  readonly index: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/** Candidate → voters. With `preVote` the term is the one the candidate *would* campaign in (thesis 9.6); the
 * receiver changes no state. `leadershipTransfer` lets a TimeoutNow-triggered campaign bypass the leader lease. */
export interface RequestVoteMessage extends MessageHeader {
  readonly type: "requestVote";
  readonly preVote: boolean;
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly leadershipTransfer: boolean;
}

export interface RequestVoteResponseMessage extends MessageHeader {
  readonly type: "requestVoteResponse";
  readonly preVote: boolean;
  readonly granted: boolean;
}

/** Leader → follower: keeps followers' election timers quiet, advances commit up to what the follower has,
 * and confirms leadership for ReadIndex when it carries a `readContext`. `quiesce`: the leader's last heartbeat
 * before it goes quiet (RaftConfig.quiesce). */
export interface HeartbeatMessage extends MessageHeader {
  readonly type: "heartbeat";
  readonly commit: number;
  readonly readContext: string;
  readonly quiesce: boolean;
}

export interface HeartbeatResponseMessage extends MessageHeader {
  readonly type: "heartbeatResponse";
  readonly readContext: string;
}

/** Leader → follower: one chunk of a snapshot (Raft paper, Figure 13). */
export interface InstallSnapshotMessage extends MessageHeader {
  readonly type: "installSnapshot";
  readonly metadata: SnapshotMetadata;
  readonly offset: number;
  readonly totalBytes: number;
  readonly chunk: Uint8Array;
}

/** Follower → leader: how many bytes of the snapshot at `snapshotIndex` it holds (`done` once installed).
 * A follower that lost its partial copy answers a smaller `offset` and the leader resumes from there. */
export interface InstallSnapshotResponseMessage extends MessageHeader {
  readonly type: "installSnapshotResponse";
  readonly snapshotIndex: number;
  readonly offset: number;
  readonly done: boolean;
}

/** Leader → transfer target: campaign now (thesis 3.10). */
export interface TimeoutNowMessage extends MessageHeader {
  readonly type: "timeoutNow";
}

/** Follower → leader: a forwarded ReadIndex request. */
export interface ReadIndexMessage extends MessageHeader {
  readonly type: "readIndex";
  readonly readContext: string;
}

/** Leader → follower: the answer to a forwarded ReadIndex (`index` 0 when it was refused). */
export interface ReadIndexResponseMessage extends MessageHeader {
  readonly type: "readIndexResponse";
  readonly readContext: string;
  readonly index: number;
}

export type Message =
  | AppendEntriesMessage
  | AppendEntriesResponseMessage
  | RequestVoteMessage
  | RequestVoteResponseMessage
  | HeartbeatMessage
  | HeartbeatResponseMessage
  | InstallSnapshotMessage
  | InstallSnapshotResponseMessage
  | TimeoutNowMessage
  | ReadIndexMessage
  | ReadIndexResponseMessage;

export type MessageType = Message["type"];

/** Role and leader, reported in a Ready when they change (volatile: not persisted). */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId;
}

/**
 * One batch of work for the host, returned by `RawNode.ready()` and handed back with `RawNode.advance()`.
 *
 * The host MUST handle it in this order (etcd's contract; the paper's "respond after persisting"):
 * 1. If `snapshot` is set, persist it and restore the state machine from it.
 * 2. Persist `entries` (an entry whose index already exists replaces that entry and every later one) and
 *    `hardState` — fsync when `mustSync` is true. This must finish BEFORE step 3: a vote or an acknowledged
 *    append that is sent but not on disk can be forgotten by a crash, and Raft's safety argument breaks.
 * 3. Send `messages`.
 * 4. Apply `committedEntries` in order, then serve `readStates` whose index has been applied.
 * 5. Call `advance(ready)`.
 *
 * The arrays are owned by the host after `ready()` returns; Raft keeps no reference to them.
 * `step()`, `tick()` and `propose()` may be called while a Ready is being handled (between `ready()` and
 * `advance()`); their effects appear in the next Ready.
 *
 * After a restart, `committedEntries` start right after the compacted prefix of the log (at or below the last
 * snapshot), so they may include entries the host
 * applied before the crash (Raft re-applies membership changes from there): the host skips those by comparing
 * with its own applied index, which it keeps atomically with its state (LMDB).
 */
export interface Ready {
  readonly softState: SoftState | undefined;
  readonly hardState: HardState | undefined;
  readonly snapshot: Snapshot | undefined;
  readonly entries: readonly Entry[];
  readonly messages: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  /** True when `entries` or the term/vote changed, so the write must be fsynced before sending. */
  readonly mustSync: boolean;
}

/** Why a proposal was refused. The host maps these to retryable client errors. */
export type ProposalRefusal =
  | "notLeader"
  | "leadershipTransferring"
  | "confChangePending"
  | "invalidConfChange"
  | "tooLarge"
  | "overloaded";

export type ProposalResult =
  | { readonly accepted: true; readonly index: number; readonly term: number }
  | { readonly accepted: false; readonly reason: ProposalRefusal; readonly leaderId: NodeId };
