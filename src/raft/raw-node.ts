/**
 * @module The Raft core's public face: the Ready/advance protocol over the `Raft` state machine (etcd's
 * RawNode). Pure and synchronous; the host drives it and does all I/O (see `Ready` for the order).
 */
import { assert } from "../lib/assert.js";
import type { Random } from "../lib/prng.js";
import type { RaftConfig } from "./config.js";
import { hasQuorum } from "./quorum.js";
import { Raft } from "./raft.js";
import type { RaftStorage } from "./storage.js";
import {
  type ConfChange,
  type ConfState,
  type HardState,
  type Message,
  NO_NODE,
  type NodeId,
  type ProposalResult,
  type Ready,
  type Role,
  type SoftState,
} from "./types.js";

export interface RaftStatus {
  readonly id: NodeId;
  readonly groupId: number;
  readonly role: Role;
  readonly leaderId: NodeId;
  readonly term: number;
  readonly vote: NodeId;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  /** Leader only: each member's match index (what it is known to hold). */
  readonly matchIndex: ReadonlyMap<NodeId, number>;
  /** Leader only: members whose last answer claimed an index past our log (they hold entries we lack, so they
   * cannot be caught up; see DataLossError). */
  readonly claimedIndex: ReadonlyMap<NodeId, number>;
  /** The group is quiet (RaftConfig.quiesce): no heartbeats from a leader, no election timer on a follower. */
  readonly quiesced: boolean;
}

/**
 * Use:
 *   const node = new RawNode(config, storage, random, { voters: [1, 2, 3], learners: [] });
 *   every tick: node.tick();   on a message: node.step(message);
 *   while (node.hasReady()) { const rd = node.ready(); ...persist, send, apply (see Ready)...; node.advance(rd); }
 * `bootstrap` gives the initial membership when storage holds none; a restarted node reads it from storage.
 */
export class RawNode {
  readonly #raft: Raft;
  #previousSoftState: SoftState;
  #previousHardState: HardState;
  /** The Ready handed out and not yet advanced; at most one at a time. */
  #outstanding: Ready | undefined;
  /** The term in the hard state the host last made durable (see takeEarlyMessages). */
  #durableTerm: number;

  constructor(config: RaftConfig, storage: RaftStorage, random: Random, bootstrap?: ConfState) {
    this.#raft = new Raft(config, storage, random, bootstrap);
    this.#previousSoftState = this.#softState();
    this.#previousHardState = storage.initialState().hardState;
    this.#durableTerm = this.#previousHardState.term;
  }

  tick(): void {
    this.#raft.tick();
  }

  step(message: Message): void {
    this.#raft.step(message);
  }

  propose(data: Uint8Array): ProposalResult {
    return this.#raft.propose(data);
  }

  proposeConfChange(change: ConfChange): ProposalResult {
    return this.#raft.proposeConfChange(change);
  }

  /** Requests a linearizable read; its ReadState (with the same context) arrives in a later Ready once
   * leadership is confirmed. Returns false when no leader is known (the host fails the read with a retryable
   * error). A read may also be lost when leadership changes: the host times reads out. */
  readIndex(context: string): boolean {
    return this.#raft.readIndex(context);
  }

  transferLeader(target: NodeId): void {
    this.#raft.transferLeader(target);
  }

  /** The leader is known to be gone (its process refuses connections): forget it, so that pre-votes are granted
   * at once instead of after the leader's lease (see Raft.forgetLeader). A follower only; no campaign of its own. */
  forgetLeader(): void {
    this.#raft.forgetLeader();
  }

  /**
   * Messages generated while the host still handles the outstanding Ready (typically waiting on a slow fsync) that
   * are safe to send now instead of after that Ready: a leader's heartbeats, and any member's heartbeat responses.
   * Neither acknowledges an entry or grants a vote — the two promises that must wait for the disk (paper, Figure 2;
   * etcd raft sends only MsgAppResp and vote responses after the append). A heartbeat carries only the commit index
   * the follower is known to hold (min(match, commit)) and a term made durable before its sender could lead (a
   * candidate persists its term and vote before asking for votes). A heartbeat response states what this member
   * knows now — no higher term seen, so no vote given in one — which is what CheckQuorum and ReadIndex count; it is
   * held back anyway while its term is not yet durable here, so nothing it says can be forgotten by a crash.
   * Without this, a disk stall longer than the election timeout on a majority (kernel writeback can stall every
   * node's fsync at once) silences the followers and the leader steps down by CheckQuorum although every member
   * still hears it (issue 10). Each message is taken once; empty when no Ready is outstanding.
   */
  takeEarlyMessages(): Message[] {
    const raft = this.#raft;
    // Asked on every tick and every message that arrives while a Ready is out: no copy unless one is early.
    if (this.#outstanding === undefined || !raft.messages.some((message) => this.#isEarly(message))) return [];
    const early: Message[] = [];
    const rest: Message[] = [];
    for (const message of raft.messages) (this.#isEarly(message) ? early : rest).push(message);
    raft.messages = rest;
    return early;
  }

  #isEarly(message: Message): boolean {
    return (
      (message.type === "heartbeat" && this.#raft.role === "leader") ||
      (message.type === "heartbeatResponse" && message.term === this.#durableTerm)
    );
  }

  /** Whether the group is quiet (RaftConfig.quiesce); cheaper than `status()` for a check every tick. */
  get quiesced(): boolean {
    return this.#raft.quiesced;
  }

  /** Wakes a quiet group (Raft.unquiesce): the host calls it when the leader's node (for a follower) or a majority
   * of the members (for a leader) went silent by its node-level liveness. */
  unquiesce(): void {
    this.#raft.unquiesce();
  }

  /** Whether this quiet group should wake by `live` (node-level liveness): a follower whose leader is unknown or
   * silent, a leader that hears less than a majority. False when not quiet. Allocates nothing: asked every tick. */
  quietButSilent(live: (id: NodeId) => boolean): boolean {
    const raft = this.#raft;
    if (!raft.quiesced) return false;
    if (raft.role === "leader") return !hasQuorum(raft.voters, live);
    return raft.leaderId === NO_NODE || !live(raft.leaderId);
  }

  /** Starts an election now (PreVote first when enabled). */
  campaign(): void {
    this.#raft.hup(false);
  }

  hasReady(): boolean {
    if (this.#outstanding !== undefined) return false;
    const raft = this.#raft;
    const log = raft.log;
    return (
      raft.messages.length > 0 ||
      raft.readStates.length > 0 ||
      log.unstableSnapshot !== undefined ||
      log.unstableEntries.length > 0 ||
      log.hasNextCommittedEntries() ||
      (raft.broadcastPending && raft.role === "leader") ||
      !sameSoftState(this.#softState(), this.#previousSoftState) ||
      !sameHardState(this.#hardState(), this.#previousHardState)
    );
  }

  ready(): Ready {
    assert(this.#outstanding === undefined, "ready() called again before advance()");
    const raft = this.#raft;
    raft.flushBroadcast();
    const log = raft.log;
    const softState = this.#softState();
    const hardState = this.#hardState();
    const hardChanged = !sameHardState(hardState, this.#previousHardState);
    const entries = log.unstableEntries.slice();
    const committedEntries = log.nextCommittedEntries(
      raft.config.committedEntriesPerReadyMax,
      raft.config.messageBytesMax * 4,
    );
    const last = committedEntries[committedEntries.length - 1];
    if (last !== undefined) log.applying = last.index;
    const ready: Ready = {
      softState: sameSoftState(softState, this.#previousSoftState) ? undefined : softState,
      hardState: hardChanged ? hardState : undefined,
      snapshot: log.unstableSnapshot,
      entries,
      messages: raft.messages,
      committedEntries,
      readStates: raft.readStates,
      mustSync:
        entries.length > 0 ||
        log.unstableSnapshot !== undefined ||
        hardState.term !== this.#previousHardState.term ||
        hardState.vote !== this.#previousHardState.vote,
    };
    raft.messages = [];
    raft.readStates = [];
    this.#previousSoftState = softState;
    this.#previousHardState = hardState;
    this.#outstanding = ready;
    return ready;
  }

  /** The host has persisted, sent and applied everything in `ready` (in that order). */
  advance(ready: Ready): void {
    assert(ready === this.#outstanding, "advance() must be given the Ready last returned by ready()");
    this.#outstanding = undefined;
    if (ready.hardState !== undefined) this.#durableTerm = ready.hardState.term;
    const raft = this.#raft;
    const log = raft.log;
    if (ready.snapshot !== undefined) {
      const index = ready.snapshot.metadata.index;
      log.stableSnapshotTo(index);
      if (index > log.applied) {
        assert(index <= log.applying, "A restored snapshot must be covered by the applying index");
        log.appliedTo(index);
      }
    }
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) log.stableTo(lastEntry.index, lastEntry.term);
    for (const entry of ready.committedEntries) {
      // Invariant: entries are applied in order, each exactly once.
      assert(entry.index === log.applied + 1 || entry.index <= log.applied, "Committed entries skipped an index");
      if (entry.index <= log.applied) continue; // superseded by a snapshot restored meanwhile
      raft.applied(entry);
      log.appliedTo(entry.index);
    }
    raft.persistedTo(log.stableLastIndex());
  }

  status(): RaftStatus {
    const raft = this.#raft;
    const matchIndex = new Map<NodeId, number>();
    const claimedIndex = new Map<NodeId, number>();
    for (const [id, progress] of raft.progress) {
      matchIndex.set(id, progress.match);
      if (progress.claimedIndex > 0) claimedIndex.set(id, progress.claimedIndex);
    }
    return {
      id: raft.id,
      groupId: raft.config.groupId,
      role: raft.role,
      leaderId: raft.leaderId,
      term: raft.term,
      vote: raft.vote,
      commitIndex: raft.log.committed,
      appliedIndex: raft.log.applied,
      lastIndex: raft.log.lastIndex(),
      confState: raft.currentConfState(),
      matchIndex,
      claimedIndex,
      quiesced: raft.quiesced,
    };
  }

  #softState(): SoftState {
    return { role: this.#raft.role, leaderId: this.#raft.leaderId };
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId;
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
