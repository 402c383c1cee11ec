/**
 * @module The Raft state machine (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm",
 * and Ongaro's thesis). Pure and synchronous: time is `tick()`, randomness is injected, input is `step()`, and
 * every effect is queued for the host (messages, entries to persist, entries to apply). `RawNode` wraps it with
 * the Ready/advance protocol.
 */
import { assert, unreachable } from "../lib/assert.js";
import type { Random } from "../lib/prng.js";
import { decodeConfChange, encodeConfChange } from "./conf-change.js";
import type { RaftConfig } from "./config.js";
import { acknowledgedEntriesLost, committedEntryDiverged } from "./data-loss.js";
import { Progress } from "./progress.js";
import { hasQuorum, quorumMatchIndex, tallyVotes } from "./quorum.js";
import { RaftLog } from "./raft-log.js";
import { ReadOnlyQueue } from "./read-only.js";
import { entrySizeBytes, type RaftStorage } from "./storage.js";
import {
  type AppendEntriesMessage,
  type AppendEntriesResponseMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type EntryType,
  type HeartbeatMessage,
  type HeartbeatResponseMessage,
  type InstallSnapshotMessage,
  type InstallSnapshotResponseMessage,
  type Message,
  NO_NODE,
  type NodeId,
  type ProposalResult,
  type ReadState,
  type RequestVoteMessage,
  type RequestVoteResponseMessage,
  type Role,
  type Snapshot,
  type SnapshotMetadata,
} from "./types.js";

const EMPTY = new Uint8Array(0);

type OutgoingMessage = Message extends infer M ? (M extends Message ? Omit<M, "groupId" | "from"> : never) : never;

interface IncomingSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly totalBytes: number;
  /** The image, filled chunk by chunk: copying each chunk as it comes keeps every step small (one copy of a
   * whole big image at the end would stall the host's event loop). */
  readonly data: Uint8Array;
  received: number;
}

export class Raft {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly log: RaftLog;
  readonly #random: Random;

  // Invariant: term never decreases; vote is for `term` only.
  term = 0;
  vote: NodeId = NO_NODE;
  role: Role = "follower";
  leaderId: NodeId = NO_NODE;

  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  /** The log index of the membership currently in force (snapshot or conf-change entry). */
  confIndex = 0;
  /** Leader only: every member's progress, this node's included. */
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  /** Outgoing messages and confirmed reads, drained by the next Ready. */
  messages: Message[] = [];
  readStates: ReadState[] = [];

  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Quiet while idle (RaftConfig.quiesce): a leader sends no heartbeats, a follower's election timer stands. */
  quiesced = false;
  randomizedElectionTimeout = 0;
  leadTransferee: NodeId = NO_NODE;
  /** A conf change may be proposed only once the log is applied past this index (one change at a time). */
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  /** Entries were appended on the leader and not yet broadcast: batched into one append per follower. */
  broadcastPending = false;
  readonly readOnly = new ReadOnlyQueue();
  /** ReadIndex requests that arrived before this leader committed an entry of its own term (thesis 6.4). */
  #readsAwaitingCommit: { context: string; from: NodeId }[] = [];
  #incomingSnapshot: IncomingSnapshot | undefined;

  constructor(config: RaftConfig, storage: RaftStorage, random: Random, bootstrap?: ConfState) {
    this.id = config.id;
    this.config = config;
    this.#random = random;
    this.log = new RaftLog(storage);
    const { hardState, confState } = storage.initialState();
    const empty = confState.voters.length === 0 && confState.learners.length === 0;
    this.#setConfState(empty && bootstrap !== undefined ? bootstrap : confState, storage.firstIndex() - 1);
    this.term = hardState.term;
    this.vote = hardState.vote;
    const commit = Math.max(hardState.commit, this.log.committed);
    assert(commit <= this.log.lastIndex(), `Persisted commit ${commit} is past the last index ${this.log.lastIndex()}`);
    this.log.commitTo(commit);
    this.becomeFollower(this.term, NO_NODE);
  }

  // ---- Time ----

  tick(): void {
    if (this.quiesced) return; // nothing to send, no leader to miss: the host wakes us (unquiesce)
    if (this.role === "leader") this.#tickLeader();
    else this.#tickElection();
  }

  #tickElection(): void {
    this.electionElapsed++;
    if (this.#promotable() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  #tickLeader(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTimeoutTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.#checkQuorumActive()) {
        // Thesis 6.2: a leader that cannot reach a majority steps down so clients look elsewhere.
        this.becomeFollower(this.term, NO_NODE);
        return;
      }
      this.leadTransferee = NO_NODE; // a transfer that did not finish within an election timeout is abandoned
    }
    if (this.heartbeatElapsed >= this.config.heartbeatIntervalTicks) {
      this.heartbeatElapsed = 0;
      const quiesce = this.#canQuiesce();
      this.#broadcastHeartbeat(this.readOnly.lastContext(), quiesce);
      if (quiesce) this.quiesced = true;
    }
  }

  /**
   * Whether this leader may go quiet after this heartbeat: quiescence is on, nothing is in flight (every member
   * holds the whole log, which is committed; no read, transfer or configuration change pending) and every member
   * answered within the last election timeout — so each follower receiving the `quiesce` heartbeat can be
   * told that nothing will follow until something happens.
   */
  #canQuiesce(): boolean {
    if (!this.config.quiesce || this.role !== "leader") return false;
    const last = this.log.lastIndex();
    if (this.log.committed !== last || this.log.term(last) !== this.term) return false;
    if (this.readOnly.size() > 0 || this.#readsAwaitingCommit.length > 0) return false;
    if (this.leadTransferee !== NO_NODE || this.pendingConfIndex > this.log.committed || this.broadcastPending) {
      return false;
    }
    for (const [id, progress] of this.progress) {
      if (id === this.id) continue;
      if (progress.match !== last || !progress.recentActive) return false;
    }
    return true;
  }

  /**
   * Wakes a quiet group. A leader resumes heartbeats at once and gives the members a fresh election timeout to
   * answer before CheckQuorum judges it (none was expected to speak meanwhile); the core calls this itself on any
   * activity (a proposal, a read, a transfer, a message other than a heartbeat's answer), and the host when the
   * leader no longer hears a majority's nodes. A follower is woken only by its host, when node-level liveness
   * says its leader's node has been silent for an election timeout: that is the silence an election timer
   * measures, so the timer resumes as expired — the leader's lease is over, votes are granted, and this member
   * campaigns within its randomized timeout, as if it had been counting all along.
   */
  unquiesce(): void {
    if (!this.quiesced) return;
    this.quiesced = false;
    if (this.role === "leader") {
      // A fresh CheckQuorum window from now, in which only real answers count: marking the members active here
      // would let the next heartbeat find the group idle again and go straight back to sleep — a leader woken
      // because its majority went silent would never step down (found by the quorum-lost CLI test).
      this.electionElapsed = 0;
      this.heartbeatElapsed = this.config.heartbeatIntervalTicks;
      for (const [id, progress] of this.progress) progress.recentActive = id === this.id;
    } else {
      this.electionElapsed = this.config.electionTimeoutTicks;
    }
  }

  #checkQuorumActive(): boolean {
    const self = this.progress.get(this.id);
    if (self !== undefined) self.recentActive = true;
    const active = hasQuorum(this.voters, (id) => this.progress.get(id)?.recentActive === true);
    for (const [id, progress] of this.progress) progress.recentActive = id === this.id;
    return active;
  }

  // ---- Role transitions ----

  #reset(term: number): void {
    if (term !== this.term) {
      assert(term > this.term, `Term moved back from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NO_NODE;
    }
    this.leaderId = NO_NODE;
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.quiesced = false;
    const timeout = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeout = timeout + this.#random.int(timeout);
    this.leadTransferee = NO_NODE;
    this.votes = new Map();
    this.progress = new Map();
    this.readOnly.clear();
    this.#readsAwaitingCommit = [];
    this.broadcastPending = false;
    this.uncommittedBytes = 0;
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.#reset(term);
    this.role = "follower";
    this.leaderId = leaderId;
  }

  #becomePreCandidate(): void {
    assert(this.role !== "leader", "A leader cannot become a pre-candidate");
    // Thesis 9.6: a pre-candidate changes neither its term nor its vote.
    this.votes = new Map();
    this.leaderId = NO_NODE;
    this.role = "preCandidate";
  }

  #becomeCandidate(): void {
    assert(this.role !== "leader", "A leader cannot become a candidate");
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  #becomeLeader(): void {
    assert(this.role === "candidate", `Only a candidate can become leader, not a ${this.role}`);
    this.#reset(this.term);
    this.role = "leader";
    this.leaderId = this.id;
    const lastIndex = this.log.lastIndex();
    for (const id of this.#members()) this.progress.set(id, this.#newProgress(lastIndex + 1));
    const self = this.progress.get(this.id);
    if (self !== undefined) self.match = Math.min(this.log.stableLastIndex(), lastIndex);
    // Any unapplied conf change in the log must apply before another may be proposed.
    this.pendingConfIndex = lastIndex;
    // Section 8: a new leader commits a no-op of its own term, which commits everything before it (5.4.2).
    this.#appendEntry("normal", EMPTY);
  }

  #newProgress(next: number): Progress {
    const progress = new Progress(next);
    progress.recentActive = true;
    return progress;
  }

  #members(): NodeId[] {
    return [...this.voters, ...this.learners];
  }

  #promotable(): boolean {
    return this.voters.has(this.id);
  }

  // ---- Elections ----

  /** Starts an election (PreVote first unless this is a leadership transfer). */
  hup(leadershipTransfer: boolean): void {
    if (this.role === "leader") return;
    this.quiesced = false; // a campaign needs its election timer (a pre-candidate keeps its term: no #reset)
    if (!this.#promotable()) return;
    if (this.#hasUnappliedConfChange()) return; // etcd: the membership it would campaign under may be stale
    this.#campaign(this.config.preVote && !leadershipTransfer ? "preVote" : "vote", leadershipTransfer);
  }

  #hasUnappliedConfChange(): boolean {
    if (this.log.committed <= this.log.applied) return false;
    const entries = this.log.slice(this.log.applied + 1, this.log.committed + 1, Number.MAX_SAFE_INTEGER);
    return entries?.some((entry) => entry.type === "confChange" && entry.index > this.confIndex) === true;
  }

  #campaign(kind: "preVote" | "vote", leadershipTransfer: boolean): void {
    let voteTerm: number;
    if (kind === "preVote") {
      this.#becomePreCandidate();
      voteTerm = this.term + 1;
    } else {
      this.#becomeCandidate();
      voteTerm = this.term;
    }
    this.votes.set(this.id, true);
    if (tallyVotes(this.voters, this.votes) === "won") {
      this.#onElectionWon();
      return;
    }
    const lastLogIndex = this.log.lastIndex();
    const lastLogTerm = this.log.lastTerm();
    for (const id of this.voters) {
      if (id === this.id) continue;
      this.#send({
        type: "requestVote",
        to: id,
        term: voteTerm,
        preVote: kind === "preVote",
        lastLogIndex,
        lastLogTerm,
        leadershipTransfer,
      });
    }
  }

  #onElectionWon(): void {
    if (this.role === "preCandidate") this.#campaign("vote", false);
    else this.#becomeLeader();
  }

  #handleVoteRequest(m: RequestVoteMessage): void {
    // Thesis 9.6: a pre-vote is granted to a higher term even if we voted in ours; nothing is recorded.
    const canVote =
      this.vote === m.from || (this.vote === NO_NODE && this.leaderId === NO_NODE) || (m.preVote && m.term > this.term);
    const upToDate = this.config.unsafe.grantVoteWithoutLogCheck || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    if (canVote && upToDate) {
      this.#send({ type: "requestVoteResponse", to: m.from, term: m.term, preVote: m.preVote, granted: true });
      if (!m.preVote) {
        // The vote reaches stable storage with the next Ready, before this response is sent (Figure 2).
        this.electionElapsed = 0;
        this.vote = m.from;
      }
    } else {
      this.#send({ type: "requestVoteResponse", to: m.from, term: this.term, preVote: m.preVote, granted: false });
    }
  }

  #handleVoteResponse(m: RequestVoteResponseMessage): void {
    if (m.preVote !== (this.role === "preCandidate")) return; // an answer to an earlier campaign
    this.votes.set(m.from, m.granted);
    const outcome = tallyVotes(this.voters, this.votes);
    if (outcome === "won") this.#onElectionWon();
    else if (outcome === "lost") this.becomeFollower(this.term, NO_NODE);
  }

  // ---- Message dispatch ----

  step(m: Message): void {
    assert(m.groupId === this.config.groupId, `Message for group ${m.groupId} reached group ${this.config.groupId}`);
    if (m.to !== this.id) return;
    // A quiet leader wakes for anything but the answers to its own heartbeats: a vote request from a member that
    // restarted and knows no leader, a follower asking for entries.
    if (this.quiesced && this.role === "leader" && m.type !== "heartbeatResponse") this.unquiesce();
    if (m.term > this.term) {
      if (!this.#acceptHigherTerm(m)) return;
    } else if (m.term < this.term) {
      this.#answerStaleTerm(m);
      return;
    }
    if (m.type === "requestVote") {
      this.#handleVoteRequest(m);
      return;
    }
    switch (this.role) {
      case "leader":
        this.#stepLeader(m);
        break;
      case "candidate":
      case "preCandidate":
        this.#stepCandidate(m);
        break;
      case "follower":
        this.#stepFollower(m);
        break;
      default:
        unreachable(this.role);
    }
  }

  /** Handles a message from a higher term. Returns false when the message must be ignored. */
  #acceptHigherTerm(m: Message): boolean {
    if (m.type === "requestVote") {
      // Thesis 4.2.3 / 6.2: while we hear from a live leader, a vote request is from a disruptive server — unless
      // it comes from that leader itself, which therefore no longer leads (it restarted, or stepped down). A quiet
      // group's follower keeps its lease while the leader's node answers liveness pings, so without this a leader
      // that restarted could never be replaced by itself when the follower's vote is needed (the node simulation
      // found it: a group of two voters after a membership change, seed 16).
      const inLease =
        this.config.checkQuorum && this.leaderId !== NO_NODE && this.electionElapsed < this.config.electionTimeoutTicks;
      if (inLease && !m.leadershipTransfer && m.from !== this.leaderId) return false;
      if (m.preVote) return true; // a pre-vote never changes our term
    }
    if (m.type === "requestVoteResponse" && m.preVote && m.granted) return true; // the term we would campaign in
    const fromLeader = m.type === "appendEntries" || m.type === "heartbeat" || m.type === "installSnapshot";
    this.becomeFollower(m.term, fromLeader ? m.from : NO_NODE);
    return true;
  }

  #answerStaleTerm(m: Message): void {
    if ((this.config.checkQuorum || this.config.preVote) && (m.type === "appendEntries" || m.type === "heartbeat")) {
      // A stale leader (e.g. one that was partitioned away) learns our term and steps down; without this, with
      // PreVote a node that was cut off could never win an election against a leader it cannot displace.
      this.#send({
        type: "appendEntriesResponse",
        to: m.from,
        term: this.term,
        reject: true,
        index: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === "requestVote") {
      // Figure 2: answer with our term so a candidate stuck in an old term learns it. Staying silent can livelock
      // when members disagree on membership (found by the simulator: seed 3262 without PreVote).
      this.#send({ type: "requestVoteResponse", to: m.from, term: this.term, preVote: m.preVote, granted: false });
    }
  }

  #stepCandidate(m: Message): void {
    switch (m.type) {
      case "appendEntries":
      case "heartbeat":
      case "installSnapshot":
        // A leader exists in our term (5.2): give up and follow it.
        this.becomeFollower(this.term, m.from);
        this.#stepFollower(m);
        break;
      case "requestVoteResponse":
        this.#handleVoteResponse(m);
        break;
      default:
        break;
    }
  }

  #stepFollower(m: Message): void {
    switch (m.type) {
      case "appendEntries":
        this.#heardFromLeader(m.from);
        this.quiesced = false;
        this.#handleAppend(m);
        break;
      case "heartbeat":
        this.#heardFromLeader(m.from);
        this.#handleHeartbeat(m);
        // Quiet only when the leader says so and this member holds everything it committed (else the leader
        // would not have: a heartbeat overtaken by entries is superseded by them).
        this.quiesced = m.quiesce && this.config.quiesce && m.commit === this.log.lastIndex();
        break;
      case "installSnapshot":
        this.#heardFromLeader(m.from);
        this.quiesced = false;
        this.#handleSnapshotChunk(m);
        break;
      case "timeoutNow":
        this.hup(true); // thesis 3.10: the leader asks us to take over now
        break;
      case "readIndexResponse":
        if (m.index > 0) this.readStates.push({ index: m.index, context: m.readContext });
        break;
      default:
        break;
    }
  }

  /**
   * etcd's ForgetLeader: the host has strong evidence from outside Raft that the leader is gone (its process
   * refuses connections). A follower drops the leader it knew, so it no longer counts as within that leader's
   * lease and grants pre-votes at once (thesis 9.6 with CheckQuorum's lease, 4.2.3): when a majority forgot the
   * leader, a pre-vote succeeds without waiting out the election timeout. It neither campaigns nor changes its
   * term or vote (safety is untouched: one vote per term still holds); hearing from the leader again restores it.
   * Ignored with lease-based reads: a live leader may be serving from its lease, which forgetting would break.
   */
  forgetLeader(): void {
    if (this.role !== "follower" || this.config.readOnlyOption === "leaseBased") return;
    this.leaderId = NO_NODE;
    this.quiesced = false; // no leader to wait for: the election timer runs again
  }

  #heardFromLeader(leaderId: NodeId): void {
    this.electionElapsed = 0;
    this.leaderId = leaderId;
  }

  // ---- Follower: replication ----

  #handleAppend(m: AppendEntriesMessage): void {
    if (m.prevLogIndex < this.log.committed) {
      // etcd: an append below our commit index is usually a stale duplicate, answered with the commit index.
      // But if it contradicts an entry we know is committed, the leader lacks committed data: accepting it
      // later would mean truncating that entry, and answering would claim we match. Stop instead.
      this.#checkAgainstCommitted(m.from, m.prevLogIndex, m.prevLogTerm);
      for (const entry of m.entries) {
        if (entry.index > this.log.committed) break;
        this.#checkAgainstCommitted(m.from, entry.index, entry.term);
      }
      this.#respondAppend(m.from, false, this.log.committed);
      return;
    }
    const lastNewIndex = this.log.maybeAppend(
      m.prevLogIndex,
      m.prevLogTerm,
      m.entries,
      this.config.unsafe.skipAppendConsistencyCheck === true,
    );
    if (lastNewIndex !== undefined) {
      this.log.commitTo(Math.min(m.commit, lastNewIndex));
      this.#respondAppend(m.from, false, lastNewIndex);
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(m.prevLogIndex, this.log.lastIndex()), m.prevLogTerm);
    this.#send({
      type: "appendEntriesResponse",
      to: m.from,
      term: this.term,
      reject: true,
      index: m.prevLogIndex,
      hintIndex: hint.index,
      hintTerm: hint.term,
    });
  }

  /** Throws DataLossError when our committed entry at `index` (if its term is still known: not compacted) has
   * another term than the leader's. Only ever called for indexes at or below our commit index. */
  #checkAgainstCommitted(leader: NodeId, index: number, leaderTerm: number): void {
    const ourTerm = this.log.term(index);
    if (ourTerm !== undefined && ourTerm !== leaderTerm) {
      throw committedEntryDiverged(this.id, leader, index, ourTerm, leaderTerm);
    }
  }

  #respondAppend(to: NodeId, reject: boolean, index: number): void {
    this.#send({ type: "appendEntriesResponse", to, term: this.term, reject, index, hintIndex: 0, hintTerm: 0 });
  }

  #handleHeartbeat(m: HeartbeatMessage): void {
    // The leader sends min(our match, its commit), so every index up to it is in our log and matches: we
    // persisted each entry before acknowledging it and never truncate a matching entry. A commit past our last
    // index therefore proves we lost entries we acknowledged (a wiped or rolled-back disk): the leader would
    // never resend them (it believes we hold them), and our votes cannot be trusted either.
    if (m.commit > this.log.lastIndex()) throw acknowledgedEntriesLost(this.id, m.from, m.commit, this.log.lastIndex());
    this.log.commitTo(m.commit);
    this.#send({ type: "heartbeatResponse", to: m.from, term: this.term, readContext: m.readContext });
  }

  /** Receives one chunk of the leader's snapshot (paper Figure 13). Chunks must arrive in order; the answer
   * always says how many bytes we hold, so the leader resumes from there after a loss. */
  #handleSnapshotChunk(m: InstallSnapshotMessage): void {
    const { metadata } = m;
    if (metadata.index <= this.log.committed) {
      this.#checkAgainstCommitted(m.from, metadata.index, metadata.term);
      this.#respondSnapshot(m.from, metadata.index, m.totalBytes, true);
      return;
    }
    let incoming = this.#incomingSnapshot;
    if (
      incoming === undefined ||
      incoming.metadata.index !== metadata.index ||
      incoming.metadata.term !== metadata.term
    ) {
      if (m.offset !== 0) {
        this.#respondSnapshot(m.from, metadata.index, 0, false);
        return;
      }
      incoming = { metadata, totalBytes: m.totalBytes, data: new Uint8Array(m.totalBytes), received: 0 };
      this.#incomingSnapshot = incoming;
    }
    if (
      m.offset !== incoming.received ||
      m.totalBytes !== incoming.totalBytes ||
      incoming.received + m.chunk.byteLength > incoming.totalBytes
    ) {
      this.#respondSnapshot(m.from, metadata.index, incoming.received, false);
      return;
    }
    incoming.data.set(m.chunk, incoming.received);
    incoming.received += m.chunk.byteLength;
    if (incoming.received < incoming.totalBytes) {
      this.#respondSnapshot(m.from, metadata.index, incoming.received, false);
      return;
    }
    this.#incomingSnapshot = undefined;
    this.#restore({ metadata, data: incoming.data });
    this.#respondSnapshot(m.from, metadata.index, incoming.totalBytes, true);
  }

  #respondSnapshot(to: NodeId, snapshotIndex: number, offset: number, done: boolean): void {
    this.#send({ type: "installSnapshotResponse", to, term: this.term, snapshotIndex, offset, done });
  }

  #restore(snapshot: Snapshot): void {
    const { index, term, confState } = snapshot.metadata;
    if (this.log.matchTerm(index, term)) {
      // Our log already holds the snapshot's last entry: everything up to it is committed (Figure 13, step 6).
      this.log.commitTo(index);
      return;
    }
    this.log.restore(snapshot);
    this.#setConfState(confState, index);
  }

  #setConfState(confState: ConfState, index: number): void {
    this.voters = new Set(confState.voters);
    this.learners = new Set(confState.learners);
    this.confIndex = index;
  }

  // ---- Leader ----

  #stepLeader(m: Message): void {
    switch (m.type) {
      case "appendEntriesResponse":
        this.#handleAppendResponse(m);
        break;
      case "heartbeatResponse":
        this.#handleHeartbeatResponse(m);
        break;
      case "installSnapshotResponse":
        this.#handleSnapshotResponse(m);
        break;
      case "readIndex":
        this.handleReadIndex(m.readContext, m.from);
        break;
      default:
        break;
    }
  }

  #handleAppendResponse(m: AppendEntriesResponseMessage): void {
    const progress = this.progress.get(m.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    if (m.reject) {
      // Thesis 5.3: skip the follower's whole conflicting term instead of one index per round trip.
      const probe = m.hintTerm > 0 ? this.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
      if (progress.maybeDecrementTo(m.index, probe)) {
        if (progress.state === "replicate") progress.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    if (m.index > this.log.lastIndex()) {
      // The follower claims to hold (committed) entries past the end of our log. Only lost data can cause that
      // (we were elected without entries it had committed); the follower detects it in itself and stops, unless
      // its copy is compacted. Counting the claim would let us commit entries it does not have, and sending
      // from past our end is impossible; etcd-raft likewise never panics here. Keep probing it.
      progress.probeSent = false;
      progress.claimedIndex = m.index;
      return;
    }
    progress.claimedIndex = 0;
    const wasProbe = progress.state === "probe";
    if (progress.maybeUpdate(m.index) || (wasProbe && progress.match === m.index)) {
      if (progress.state === "probe") progress.becomeReplicate();
      progress.freeInflightsUpTo(m.index);
      if (this.#maybeCommit()) this.broadcastPending = true;
      else while (this.#sendAppend(m.from, false)) {}
      if (m.from === this.leadTransferee && progress.match === this.log.lastIndex()) this.#sendTimeoutNow(m.from);
    }
  }

  #handleHeartbeatResponse(m: HeartbeatResponseMessage): void {
    const progress = this.progress.get(m.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    progress.probeSent = false;
    if (progress.state === "snapshot" && progress.snapshot !== undefined) {
      // Resend the unacknowledged window: a chunk or its answer may have been lost.
      progress.snapshot.nextOffset = progress.snapshot.ackedOffset;
      this.#sendSnapshotChunks(m.from, progress);
    } else if (progress.match < this.log.lastIndex()) {
      // In replicate state a full window means messages were lost: fall back to probing from the match.
      if (
        progress.state === "replicate" &&
        progress.isPaused(this.config.inflightMessagesMax, this.config.inflightBytesMax)
      ) {
        progress.becomeProbe();
      }
      this.#sendAppend(m.from, true);
    }
    if (m.readContext !== "" && this.config.readOnlyOption === "safe") {
      for (const read of this.readOnly.acknowledge(m.readContext, m.from, this.voters)) {
        this.#respondRead(read.context, read.index, read.from);
      }
    }
  }

  #handleSnapshotResponse(m: InstallSnapshotResponseMessage): void {
    const progress = this.progress.get(m.from);
    if (progress === undefined) return;
    progress.recentActive = true;
    const transfer = progress.snapshot;
    if (m.snapshotIndex > this.log.lastIndex()) return; // not a snapshot of ours: answers another leader's
    if (m.done) {
      if (progress.state === "snapshot" || m.snapshotIndex > progress.match) {
        progress.maybeUpdate(m.snapshotIndex);
        progress.becomeProbe();
        this.#sendAppend(m.from, true);
      }
      return;
    }
    if (progress.state !== "snapshot" || transfer === undefined || transfer.index !== m.snapshotIndex) return;
    if (m.offset < transfer.ackedOffset) {
      // The follower lost its partial copy (it restarted): start over from what it holds.
      transfer.ackedOffset = m.offset;
      transfer.nextOffset = m.offset;
    } else {
      transfer.ackedOffset = m.offset;
      transfer.nextOffset = Math.max(transfer.nextOffset, m.offset);
    }
    this.#sendSnapshotChunks(m.from, progress);
  }

  /** Section 5.4.2: only entries of the current term are committed by counting replicas. */
  #maybeCommit(): boolean {
    const index = quorumMatchIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (index <= this.log.committed) return false;
    if (this.log.term(index) !== this.term && !this.config.unsafe.commitPriorTermEntries) return false;
    this.log.commitTo(index);
    this.#releaseReadsAwaitingCommit();
    return true;
  }

  /** Sends entries from the follower's next index, or a snapshot when they were compacted away. Returns false
   * when nothing was sent (paused, or nothing to send and `sendIfEmpty` is false). */
  #sendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to);
    if (progress === undefined || to === this.id) return false;
    if (progress.isPaused(this.config.inflightMessagesMax, this.config.inflightBytesMax)) return false;
    const prevLogIndex = progress.next - 1;
    // Progress only moves on answers that stay within our log (a claim past our end is set aside in
    // #handleAppendResponse), so the next index is never past our end; if it were, our own logic broke.
    assert(prevLogIndex <= this.log.lastIndex(), `Follower ${to} is ahead of its leader: next ${progress.next}`);
    const prevLogTerm = this.log.term(prevLogIndex);
    const entries = this.log.slice(progress.next, this.log.lastIndex() + 1, this.config.messageBytesMax);
    if (prevLogTerm === undefined || entries === undefined) return this.#sendSnapshot(to, progress);
    if (entries.length === 0 && !sendIfEmpty) return false;
    let bytes = 0;
    for (const entry of entries) bytes += entrySizeBytes(entry);
    this.#send({
      type: "appendEntries",
      to,
      term: this.term,
      prevLogIndex,
      prevLogTerm,
      entries,
      commit: this.log.committed,
    });
    const last = entries[entries.length - 1];
    if (last !== undefined) progress.sentEntries(last.index, bytes);
    else if (progress.state === "probe") progress.probeSent = true;
    return true;
  }

  #sendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive) return false; // do not stream a snapshot to a member that may be down
    const snapshot = this.log.storage.snapshot();
    assert(snapshot.metadata.index > 0, "The log was compacted but no snapshot exists");
    progress.becomeSnapshot(snapshot.metadata.index, snapshot.data);
    this.#sendSnapshotChunks(to, progress);
    return true;
  }

  /** Sends snapshot chunks up to the in-flight window after the last acknowledged byte. */
  #sendSnapshotChunks(to: NodeId, progress: Progress): void {
    const transfer = progress.snapshot;
    if (transfer === undefined) return;
    const snapshot = this.log.storage.snapshot();
    const metadata = snapshot.metadata.index === transfer.index ? snapshot.metadata : undefined;
    if (metadata === undefined) {
      // The host took a newer snapshot meanwhile; restart the transfer with it.
      this.#sendSnapshot(to, progress);
      return;
    }
    const total = transfer.data.byteLength;
    const chunkBytes = this.config.snapshotChunkBytesMax;
    const windowEnd = transfer.ackedOffset + chunkBytes * this.config.snapshotChunksInflightMax;
    do {
      if (transfer.nextOffset >= windowEnd) break;
      if (total > 0 && transfer.nextOffset >= total) break;
      const end = Math.min(total, transfer.nextOffset + chunkBytes);
      this.#send({
        type: "installSnapshot",
        to,
        term: this.term,
        metadata,
        offset: transfer.nextOffset,
        totalBytes: total,
        chunk: transfer.data.subarray(transfer.nextOffset, end),
      });
      transfer.nextOffset = end;
    } while (transfer.nextOffset < total);
  }

  #broadcastAppend(): void {
    for (const id of this.progress.keys()) if (id !== this.id) this.#sendAppend(id, true);
  }

  /** Runs the batched broadcast of entries appended since the last Ready. */
  flushBroadcast(): void {
    if (this.broadcastPending && this.role === "leader") this.#broadcastAppend();
    this.broadcastPending = false;
  }

  #broadcastHeartbeat(readContext: string, quiesce = false): void {
    for (const [id, progress] of this.progress) {
      if (id === this.id) continue;
      // Never tell a follower to commit past what it is known to hold.
      const commit = Math.min(progress.match, this.log.committed);
      this.#send({ type: "heartbeat", to: id, term: this.term, commit, readContext, quiesce });
    }
  }

  #sendTimeoutNow(to: NodeId): void {
    this.#send({ type: "timeoutNow", to, term: this.term });
  }

  // ---- Proposals ----

  propose(data: Uint8Array): ProposalResult {
    const refusal = this.#refuseProposal(data.byteLength);
    if (refusal !== undefined) return refusal;
    const index = this.#appendEntry("normal", data);
    return { accepted: true, index, term: this.term };
  }

  proposeConfChange(change: ConfChange): ProposalResult {
    const data = encodeConfChange(change);
    const refusal = this.#refuseProposal(data.byteLength);
    if (refusal !== undefined) return refusal;
    if (this.pendingConfIndex > this.log.applied) return this.#refusal("confChangePending");
    if (!this.#validConfChange(change)) return this.#refusal("invalidConfChange");
    const index = this.#appendEntry("confChange", data);
    this.pendingConfIndex = index;
    return { accepted: true, index, term: this.term };
  }

  #validConfChange(change: ConfChange): boolean {
    if (!(Number.isSafeInteger(change.nodeId) && change.nodeId > 0)) return false;
    if (change.type === "addLearner" && this.voters.has(change.nodeId)) return false; // no demotion
    if (change.type === "removeNode") {
      const remaining = [...this.voters].filter((id) => id !== change.nodeId);
      if (remaining.length === 0) return false;
    }
    return true;
  }

  #refuseProposal(bytes: number): ProposalResult | undefined {
    if (this.role !== "leader") return this.#refusal("notLeader");
    if (this.leadTransferee !== NO_NODE) return this.#refusal("leadershipTransferring");
    if (bytes > this.config.proposalBytesMax) return this.#refusal("tooLarge");
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.uncommittedBytesMax) {
      return this.#refusal("overloaded");
    }
    return undefined;
  }

  #refusal(reason: Exclude<ProposalResult, { accepted: true }>["reason"]): ProposalResult {
    return { accepted: false, reason, leaderId: this.leaderId };
  }

  #appendEntry(type: EntryType, data: Uint8Array): number {
    this.unquiesce();
    const index = this.log.lastIndex() + 1;
    const entry: Entry = { term: this.term, index, type, data };
    this.log.append([entry]);
    this.uncommittedBytes += entrySizeBytes(entry);
    this.broadcastPending = true;
    return index;
  }

  // ---- Reads ----

  /** ReadIndex (thesis 6.4): serve at the current commit index once leadership is confirmed. */
  handleReadIndex(context: string, from: NodeId): void {
    if (this.role !== "leader") return;
    this.unquiesce();
    if (this.log.term(this.log.committed) !== this.term) {
      // Until it commits an entry of its term, a new leader does not know the latest commit index.
      this.#readsAwaitingCommit.push({ context, from });
      return;
    }
    if (this.voters.size === 1 || this.config.readOnlyOption === "leaseBased") {
      this.#respondRead(context, this.log.committed, from);
      return;
    }
    this.readOnly.add(context, this.log.committed, from, this.id);
    this.#broadcastHeartbeat(context);
  }

  #releaseReadsAwaitingCommit(): void {
    if (this.#readsAwaitingCommit.length === 0 || this.log.term(this.log.committed) !== this.term) return;
    const reads = this.#readsAwaitingCommit;
    this.#readsAwaitingCommit = [];
    for (const read of reads) this.handleReadIndex(read.context, read.from);
  }

  #respondRead(context: string, index: number, from: NodeId): void {
    if (from === this.id) this.readStates.push({ index, context });
    else this.#send({ type: "readIndexResponse", to: from, term: this.term, readContext: context, index });
  }

  /** A local read request: served by the leader, forwarded to it by a follower. False when no leader is known. */
  readIndex(context: string): boolean {
    if (this.role === "leader") {
      this.handleReadIndex(context, this.id);
      return true;
    }
    if (this.leaderId === NO_NODE) return false;
    this.#send({ type: "readIndex", to: this.leaderId, term: this.term, readContext: context });
    return true;
  }

  // ---- Leadership transfer ----

  transferLeader(target: NodeId): void {
    if (this.role !== "leader") return;
    this.unquiesce();
    if (target === this.id || !this.voters.has(target) || target === this.leadTransferee) return;
    this.leadTransferee = target;
    this.electionElapsed = 0;
    const progress = this.progress.get(target);
    if (progress !== undefined && progress.match === this.log.lastIndex()) this.#sendTimeoutNow(target);
    else this.#sendAppend(target, true);
  }

  // ---- Applying and persistence feedback (called by RawNode.advance) ----

  /** A committed entry was applied by the host: membership changes take effect now (etcd's rule). */
  applied(entry: Entry): void {
    if (this.role === "leader") this.uncommittedBytes = Math.max(0, this.uncommittedBytes - entrySizeBytes(entry));
    if (entry.type !== "confChange" || entry.index <= this.confIndex) return;
    this.#applyConfChange(decodeConfChange(entry.data), entry.index);
  }

  #applyConfChange(change: ConfChange, index: number): void {
    const { nodeId } = change;
    switch (change.type) {
      case "addVoter":
        this.learners.delete(nodeId);
        this.voters.add(nodeId);
        break;
      case "addLearner":
        if (!this.voters.has(nodeId)) this.learners.add(nodeId);
        break;
      case "removeNode":
        this.voters.delete(nodeId);
        this.learners.delete(nodeId);
        break;
      default:
        unreachable(change.type);
    }
    this.confIndex = index;
    if (this.role !== "leader") return;
    for (const id of this.#members()) {
      if (!this.progress.has(id)) this.progress.set(id, this.#newProgress(this.log.lastIndex() + 1));
    }
    for (const id of [...this.progress.keys()])
      if (!this.voters.has(id) && !this.learners.has(id)) this.progress.delete(id);
    if (this.leadTransferee === nodeId && change.type === "removeNode") this.leadTransferee = NO_NODE;
    if (!this.voters.has(this.id)) {
      // Thesis 4.2.2: a leader removed from the group steps down once the change is committed.
      this.becomeFollower(this.term, NO_NODE);
      return;
    }
    this.#maybeCommit(); // the quorum may have shrunk
    this.broadcastPending = true; // new members need their first append, others the new commit index
  }

  /** The host persisted entries up to `index`: a leader now counts itself for them. */
  persistedTo(index: number): void {
    if (this.role !== "leader") return;
    const self = this.progress.get(this.id);
    if (self === undefined) return;
    if (self.maybeUpdate(Math.min(index, this.log.stableLastIndex())) && this.#maybeCommit())
      this.broadcastPending = true;
  }

  currentConfState(): ConfState {
    return { voters: [...this.voters].sort((a, b) => a - b), learners: [...this.learners].sort((a, b) => a - b) };
  }

  #send(message: OutgoingMessage): void {
    this.messages.push({ ...message, groupId: this.config.groupId, from: this.id } as Message);
  }
}
