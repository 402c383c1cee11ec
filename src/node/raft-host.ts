/**
 * @module The host loop of one Raft group: timer ticks and peer messages go into the pure core, and each Ready
 * comes out in the order its contract requires — persist (WAL, fsync) → send → apply (LMDB) → advance. Client
 * proposals wait here until their entry is applied; linearizable reads wait until the ReadIndex is applied.
 *
 * Where data becomes durable: a Ready's entries and hard state are durable when `wal.save` resolves (fsync per
 * the node's policy), which happens before any vote or acknowledgement of that Ready is sent — so none is ever
 * forgotten by a crash. A leader's own AppendEntries go out before its write (raft/ready-order.ts says why). Applied state is durable when `store.applyEntries` returns (one LMDB transaction
 * holding the data and the applied index). A client is answered only after its entry is applied.
 */

import type { CommandResult } from "../commands/command.js";
import type { Clock, TimerHandle } from "../io/clock.js";
import type { Logger } from "../io/logger.js";
import { AssertionError, assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { memberOfReplica } from "../lib/replica-id.js";
import type { MemoryStorage } from "../raft/memory-storage.js";
import type { RawNode } from "../raft/raw-node.js";
import { splitMessagesByDurability } from "../raft/ready-order.js";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  type Message,
  NO_NODE,
  type NodeId,
  type ProposalResult,
  type Ready,
  type Role,
  type Snapshot,
} from "../raft/types.js";
import type { StateMachineStore, StoreSnapshot } from "../store/state-machine-store.js";
import { entryRecordBytes, HARD_STATE_RECORD_BYTES } from "../wal/record-encoder.js";
import type { PeerNetwork, RaftLogWriter, SnapshotFiles } from "./ports.js";

export interface RaftHostOptions {
  readonly raw: RawNode;
  readonly storage: MemoryStorage;
  readonly wal: RaftLogWriter;
  readonly store: StateMachineStore;
  readonly network: Pick<PeerNetwork, "send" | "onMessage">;
  readonly snapshots: SnapshotFiles;
  /** Every timer, yield and reading of time goes through it (the simulator passes its virtual clock). */
  readonly clock: Clock;
  readonly tickMs: number;
  /** Node-level liveness of a member (node-liveness.ts), for waking a quiet group whose leader's node (or, on a
   * quiet leader, whose majority) went silent. Needed with RaftConfig.quiesce. */
  readonly peerLive?: (id: NodeId) => boolean;
  /** Take a snapshot and compact the log after this many applied entries — and once the entries applied since the
   * last snapshot add up to half the state's size (see #snapshotDue). */
  readonly snapshotThresholdEntries: number;
  /** Entries kept behind a snapshot so briefly lagging followers catch up from the log. */
  readonly snapshotRetainEntries: number;
  /** Byte bounds on the log held in memory (default SNAPSHOT_LOG_BYTES, SNAPSHOT_RETAIN_BYTES_MAX; tests lower them). */
  readonly snapshotLogBytes?: number;
  readonly snapshotRetainBytesMax?: number;
  readonly proposalTimeoutMs: number;
  /** Once this node loses leadership, how long its waiting proposals may still be settled by the log (applied,
   * or overtaken by a later term) before they fail with UNKNOWN_OUTCOME; about two election timeouts. */
  readonly lostLeadershipGraceMs: number;
  readonly readTimeoutMs: number;
  /** Entry bytes applied in one synchronous step before the event loop gets a turn (at least one entry). */
  readonly applySliceBytesMax?: number;
  /** When the leader's process is gone, the followers campaign one after another in id order, this far apart
   * (see leaderGone): longer than one PreVote round trip and than the spread of the followers' redials. */
  readonly campaignStaggerMs: number;
  /** Called when an invariant breaks: the node must stop (the real node exits the process). */
  readonly onFatal: (error: Error) => void;
  /** Called after each Ready is handled (metrics, the leader's expiry scan). */
  readonly onReady?: (ready: Ready) => void;
  /** Called synchronously right after the store applied entries or installed a snapshot (the watch hub reads
   * the new revisions' events here, before anything else can run). */
  readonly onApplied?: () => void;
  /** Called when the leader this node knows, or its term, changes (the node fails requests it forwarded to a
   * former leader and wakes requests waiting for a leader). */
  readonly onLeadershipChange?: (leaderId: NodeId, term: number) => void;
  /** Told why leadership moves: this node campaigning (how long since it last heard from the leader) or
   * stepping down as leader. */
  readonly logger?: Logger;
  readonly metrics?: HostMetrics;
  /** UNSAFE: mutation switches for the simulator's mutation tests (sim/README.md); never set in production. */
  readonly unsafe?: RaftHostUnsafe;
}

/** Each switches one safety mechanism of the host loop off, so the simulator can prove its checkers notice. */
export interface RaftHostUnsafe {
  /** Send every message of a Ready (votes, append acknowledgements) before its entries and hard state are
   * durable, instead of only the leader's own AppendEntries (raft/ready-order.ts). */
  readonly sendBeforePersist?: boolean;
  /** Serve linearizable reads from the local state at once, without a ReadIndex round (thesis 6.4). */
  readonly readsWithoutBarrier?: boolean;
}

/** What the host reports as it works (node-metrics.ts turns it into Prometheus series). */
export interface HostMetrics {
  /** One `wal.save`: how long until durable (fsync per policy) and the record bytes it wrote. */
  walSaved(seconds: number, bytes: number): void;
  /** The leader this node knows changed (to another node or to none). */
  leaderChanged(): void;
}

interface ProposalWaiter {
  readonly term: number;
  readonly resolve: (result: CommandResult) => void;
  readonly reject: (error: ShoalError) => void;
  timer: TimerHandle | undefined;
  /** clock.now() at which the proposal fails if the log has not settled it. */
  deadlineMs: number;
}

/** A slice of at least this many bytes is applied with the store's applyEntriesOffLoop when it has one. */
const APPLY_OFF_LOOP_BYTES_MIN = 1024 * 1024;
/** An entry this big may carry thousands of commands or keys (an MSET of 5,000 keys held a leader ~400 ms and cost
 * an election, issue 10): its slice goes to applyEntriesOffLoop, which plans it over several event-loop turns. */
const APPLY_STEPPED_ENTRY_BYTES_MIN = 8 * 1024;
/** See RaftHostOptions.applySliceBytesMax. */
const APPLY_SLICE_BYTES_MAX_DEFAULT = 256 * 1024;
/** Entries applied in one synchronous step at most. */
const APPLY_SLICE_ENTRIES_MAX = 1024;
/**
 * What one apply slice should take. A slice holds as many bytes of entries as the measured cost per byte allows
 * (#applyMsPerByte, learned from every slice applied on the loop: a slowdown counts at once, a speed-up by halves),
 * at least one entry and at most applySliceBytesMax and APPLY_SLICE_ENTRIES_MAX. A count of entries alone would not
 * do: one entry may carry a pipeline of 100 SETs (~60 µs each here, more with a just-restarted node's cold code) —
 * 82 such entries held a catching-up follower's loop 339 ms, 1,024 small ones 430 ms (issue 10).
 */
const APPLY_SLICE_TARGET_MS = 10;
/** The least cost per byte assumed (a slice of at most 40 KB): after cheap entries, a slice of costly ones (a
 * pipeline of SETs is ~1.3 µs per byte here) must not start from a budget of hundreds of kilobytes. */
const APPLY_MS_PER_BYTE_MIN = 0.00025;
/** The cost per byte assumed before the first slice is measured: a just-started process runs the apply path cold
 * (interpreted, ~50x its warm cost), so its first slice is about one entry and the estimate comes down from there
 * by halves — a restarted follower catching up held its loop ~100 ms on the first 40 KB slice (issue 10). */
const APPLY_MS_PER_BYTE_COLD = 0.01;
/** What an entry costs to apply beyond its bytes, counted as bytes (an empty entry still decodes and commits). */
const APPLY_ENTRY_OVERHEAD_BYTES = 64;
/**
 * A snapshot serializes the whole state, so taking one every N entries would cost O(state) per N writes — on a big
 * store more than the writes themselves. Like Redis's auto-aof-rewrite-percentage, a snapshot is also due only
 * once the log since the last one is this fraction of the state's size: the cost per write stays O(1).
 */
const SNAPSHOT_LOG_TO_STATE_RATIO = 0.5;
/**
 * The log is held in memory until a snapshot compacts it, so an entry count alone does not bound it: 10,000 entries
 * of 4 MiB (pipelined SETs of 64 KiB values) are 40 GiB. A snapshot is also due once this many bytes were applied
 * since the last one (still only when the ratio above holds: on a big state, the log may reach half its size), and
 * the entries kept behind a snapshot for lagging followers stop at SNAPSHOT_RETAIN_BYTES_MAX (a follower further
 * behind is sent the snapshot).
 */
const SNAPSHOT_LOG_BYTES = 64 * 1024 * 1024;
const SNAPSHOT_RETAIN_BYTES_MAX = 64 * 1024 * 1024;
/** Bytes copied per event-loop turn while a snapshot image is assembled. */
const SNAPSHOT_COPY_SLICE_BYTES = 8 * 1024 * 1024;

interface ReadWaiter {
  index: number | undefined;
  readonly resolve: () => void;
  readonly reject: (error: ShoalError) => void;
  readonly timer: TimerHandle;
}

export class RaftHost {
  readonly #options: RaftHostOptions;
  readonly #raw: RawNode;
  readonly #clock: Clock;
  #ticker: TimerHandle | undefined;
  #processing = false;
  #stopped = false;
  #idle: Promise<void> = Promise.resolve();
  #proposals = new Map<number, ProposalWaiter>();
  #reads = new Map<string, ReadWaiter>();
  #readSequence = 0;
  #campaignTimer: TimerHandle | undefined;
  /** When a message from the known leader last arrived (clock time), for the campaign log line. */
  #heardFromLeaderMs = 0;
  /** The ReadIndex request readers of this event-loop turn will share; issued at the next turn. */
  #nextBarrier: Promise<void> | undefined;
  #lastSnapshotIndex: number;
  #leaderId: NodeId;
  #term: number;
  #role: Role;
  /** The term of the last entry applied here: a proposal of an earlier term waiting further on can never commit. */
  #appliedTerm = 0;
  /**
   * Committed entries this node holds durably, waiting to be applied, in log order from #applyHead. Raft already
   * counts them applied (they were handed over before `advance`); the store catches up in bounded slices, each one
   * LMDB transaction, with the event loop free between them — so a long run of big entries never holds up the
   * Ready loop, and with it heartbeats and votes (issue 10). Linearizable reads and proposals wait on the store's
   * applied index, not Raft's, so nothing is answered before it is applied.
   */
  #applyQueue: Entry[] = [];
  #applyHead = 0;
  /** True while a drain of #applyQueue runs (#applyDrain is its promise). */
  #draining = false;
  #applyDrain: Promise<void> = Promise.resolve();
  /** A snapshot being assembled in the background, if any. */
  #snapshotTask: Promise<void> | undefined;
  /** Entry bytes applied since the last snapshot (for #snapshotDue). */
  #appliedBytesSinceSnapshot = 0;
  /** See APPLY_SLICE_TARGET_MS: the apply cost per byte of entry data. */
  #applyMsPerByte = APPLY_MS_PER_BYTE_COLD;
  /** Counters for metrics and status. */
  readonly counters = {
    proposals: 0,
    proposalFailures: 0,
    applied: 0,
    /** Snapshot bytes sent to members catching up (a moved replica's learner, a follower left behind). */
    snapshotBytesSent: 0,
  };

  /** Hands `messages` to the network, counting the snapshot bytes among them. */
  #send(messages: readonly Message[]): void {
    for (const message of messages) {
      if (message.type === "installSnapshot") this.counters.snapshotBytesSent += message.chunk.length;
    }
    this.#options.network.send(messages);
  }

  constructor(options: RaftHostOptions) {
    this.#options = options;
    this.#raw = options.raw;
    this.#clock = options.clock;
    this.#lastSnapshotIndex = options.storage.snapshot().metadata.index;
    const status = options.raw.status();
    this.#leaderId = status.leaderId;
    this.#term = status.term;
    this.#role = status.role;
  }

  get raw(): RawNode {
    return this.#raw;
  }

  start(): void {
    this.#options.network.onMessage((message) => {
      if (this.#stopped) return;
      if (message.from === this.#leaderId) this.#heardFromLeaderMs = this.#clock.now();
      this.#guard(() => this.#raw.step(message));
      this.#sendEarlyMessages();
      this.schedule();
    });
    this.#ticker = this.#clock.setInterval(() => {
      this.#guard(() => this.#raw.tick());
      this.#wakeIfSilent();
      this.#sendEarlyMessages();
      this.schedule();
    }, this.#options.tickMs);
    this.schedule();
  }

  /**
   * A quiet group has no heartbeats to miss: a follower whose leader's node went silent, or a leader that can no
   * longer hear a majority, wakes (Raft.unquiesce) and then behaves as any group — the follower's election timer
   * runs, the leader's CheckQuorum judges it within an election timeout.
   */
  #wakeIfSilent(): void {
    const live = this.#options.peerLive;
    if (live !== undefined && this.#raw.quietButSilent(live)) this.#guard(() => this.#raw.unquiesce());
  }

  /** A Ready still in hand (a slow fsync) would hold a leader's heartbeats and a follower's answers to them back
   * until it is done, and a disk stall longer than the election timeout would then depose a healthy leader: those
   * go now (RawNode.takeEarlyMessages says why that is safe). */
  #sendEarlyMessages(): void {
    if (this.#processing) this.#send(this.#raw.takeEarlyMessages());
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#clock.clearInterval(this.#ticker);
    this.#clock.clearTimeout(this.#campaignTimer);
    await this.#idle;
    await this.#applyDrain;
    await this.#snapshotTask;
    // A proposal still waiting is in this node's log: it may yet commit under another leader, so its outcome is
    // unknown (never UNAVAILABLE, which a forwarding member would retry: applied twice). A read changes nothing.
    const unknown = new ShoalError(
      "UNKNOWN_OUTCOME",
      "The node stopped (shut down, or its replica moved away) before the write was applied; it may or may not be",
    );
    for (const waiter of this.#proposals.values()) this.#settleProposal(waiter, unknown);
    const stopping = new ShoalError("UNAVAILABLE", "Node is shutting down");
    for (const waiter of this.#reads.values()) this.#settleRead(waiter, stopping);
    this.#proposals.clear();
    this.#reads.clear();
  }

  /** Proposes an encoded command; resolves with its result once applied here. Throws NOT_LEADER (with the
   * leader's id) on a follower, UNAVAILABLE when refused for now, TIMEOUT when the outcome is unknown. */
  propose(data: Uint8Array): Promise<CommandResult> {
    if (this.#stopped) return Promise.reject(new ShoalError("UNAVAILABLE", "Node is shutting down"));
    return this.#awaitApplied(this.#raw.propose(data));
  }

  /** Proposes a membership change (one server at a time, thesis §4.1; it takes effect when applied); resolves once
   * applied here. Throws as `propose` does, and BAD_REQUEST when Raft refuses the change (another one is pending,
   * or it would remove the last voter). */
  async proposeConfChange(change: ConfChange): Promise<void> {
    if (this.#stopped) throw new ShoalError("UNAVAILABLE", "Node is shutting down");
    await this.#awaitApplied(this.#raw.proposeConfChange(change));
  }

  /** Waits for an accepted proposal's entry to be applied here (rejects at once for a refused one). */
  #awaitApplied(result: ProposalResult): Promise<CommandResult> {
    this.counters.proposals++;
    if (!result.accepted) {
      this.counters.proposalFailures++;
      return Promise.reject(refusalError(result));
    }
    this.schedule();
    const { index, term } = result;
    return new Promise<CommandResult>((resolve, reject) => {
      const waiter: ProposalWaiter = { term, resolve, reject, timer: undefined, deadlineMs: 0 };
      this.#proposals.set(index, waiter);
      this.#failProposalAfter(
        index,
        waiter,
        this.#options.proposalTimeoutMs,
        () => new ShoalError("TIMEOUT", `Proposal at index ${index} timed out; it may or may not apply`),
      );
    });
  }

  /** (Re)arms a waiting proposal's timer: after `delayMs` it fails with `error()` unless the log settled it. The
   * error is made only then: capturing a stack trace for every proposal cost ~2 % of a loaded leader's CPU. */
  #failProposalAfter(index: number, waiter: ProposalWaiter, delayMs: number, error: () => ShoalError): void {
    this.#clock.clearTimeout(waiter.timer);
    waiter.deadlineMs = this.#clock.now() + delayMs;
    waiter.timer = this.#clock.setTimeout(() => {
      if (this.#proposals.get(index) !== waiter) return;
      this.#proposals.delete(index);
      this.#settleProposal(waiter, error());
    }, delayMs);
  }

  /** Hands leadership to `target` once it holds the whole log (thesis §3.10); a no-op unless this node leads. */
  transferLeader(target: NodeId): void {
    if (this.#stopped) return;
    this.#guard(() => this.#raw.transferLeader(target));
    this.schedule();
  }

  /**
   * The transport reports that `peerId` refuses connections: its process is gone (a crash, kill -9, a stop), not
   * merely paused or cut off — those keep their connections or time out instead. If it is this node's leader,
   * waiting out the election timeout would only add to the outage: the follower forgets it (Raft.forgetLeader,
   * so it grants pre-votes at once) and campaigns. Every follower sees the same refusal within a redial's jitter
   * and does the same, so to avoid a split vote they go in turn: the voters other than the dead leader, in id
   * order, the first after `campaignStaggerMs` (by then the others forgot the leader too, or they would ignore
   * its PreVote) and each next one that much later; a campaign is skipped if a leader became known or the term
   * moved meanwhile. A follower whose log is behind loses its PreVote harmlessly and the next one wins. Safety
   * does not depend on any of this (it is PreVote and an ordinary election); a wrong report costs at most a
   * PreVote round that the members still hearing from the leader ignore.
   */
  leaderGone(peerId: NodeId): void {
    if (this.#stopped) return;
    const status = this.#raw.status();
    // `peerId` is a member; the leader's id is its replica's (lib/replica-id.ts).
    if (status.role !== "follower" || memberOfReplica(status.leaderId) !== peerId) return;
    this.#guard(() => this.#raw.forgetLeader()); // wakes a quiet follower too (Raft.forgetLeader)
    this.schedule();
    if (this.#raw.status().leaderId !== NO_NODE) return; // refused: lease-based reads keep the lease
    const turn = status.confState.voters
      .filter((id) => memberOfReplica(id) !== peerId)
      .sort((a, b) => a - b)
      .indexOf(status.id);
    if (turn < 0) return; // a learner does not campaign
    this.#clock.clearTimeout(this.#campaignTimer);
    this.#campaignTimer = this.#clock.setTimeout(
      () => {
        const now = this.#raw.status();
        if (this.#stopped || now.leaderId !== NO_NODE || now.term !== status.term || now.role === "leader") return;
        this.#guard(() => this.#raw.campaign());
        this.schedule();
      },
      (turn + 1) * this.#options.campaignStaggerMs,
    );
  }

  /** Resolves once this node's state machine reflects every write acknowledged before the call (ReadIndex,
   * thesis 6.4). Throws UNAVAILABLE when no leader is known, TIMEOUT when leadership is not confirmed in time. */
  readBarrier(): Promise<void> {
    if (this.#stopped) return Promise.reject(new ShoalError("UNAVAILABLE", "Node is shutting down"));
    if (this.#options.unsafe?.readsWithoutBarrier === true) return Promise.resolve();
    // Readers arriving in the same event-loop turn share one ReadIndex round (one heartbeat broadcast instead
    // of one per read). Still linearizable: the shared request is issued after every one of them arrived, so
    // its index covers every write acknowledged before any of them was called (Raft thesis §6.4).
    if (this.#nextBarrier === undefined) {
      const barrier = new Promise<void>((resolve, reject) => {
        this.#clock.setImmediate(() => {
          this.#nextBarrier = undefined;
          this.#issueReadIndex().then(resolve, reject);
        });
      });
      this.#nextBarrier = barrier;
    }
    return this.#nextBarrier;
  }

  #issueReadIndex(): Promise<void> {
    if (this.#stopped) return Promise.reject(new ShoalError("UNAVAILABLE", "Node is shutting down"));
    const context = `${this.#raw.status().id}:${++this.#readSequence}`;
    if (!this.#raw.readIndex(context)) {
      return Promise.reject(new ShoalError("UNAVAILABLE", "No leader is known; cannot serve a linearizable read"));
    }
    this.schedule();
    return new Promise<void>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        this.#reads.delete(context);
        reject(new ShoalError("TIMEOUT", "Read could not be confirmed by a quorum in time"));
      }, this.#options.readTimeoutMs);
      this.#reads.set(context, { index: undefined, resolve, reject, timer });
    });
  }

  /** Runs the Ready loop soon (coalesced: one loop at a time). */
  schedule(): void {
    if (this.#processing || this.#stopped) return;
    if (!this.#raw.hasReady()) return;
    this.#processing = true;
    this.#idle = new Promise((done) => this.#clock.setImmediate(() => void this.#process().finally(done)));
  }

  async #process(): Promise<void> {
    try {
      while (!this.#stopped && this.#raw.hasReady()) {
        const ready = this.#raw.ready();
        await this.#handleReady(ready);
        this.#guard(() => this.#raw.advance(ready));
        this.#options.onReady?.(ready);
        this.#maybeSnapshot();
      }
    } catch (error) {
      this.#fatal(error);
    } finally {
      this.#processing = false;
    }
    this.schedule();
  }

  async #handleReady(ready: Ready): Promise<void> {
    const leaderId = ready.softState?.leaderId ?? this.#leaderId;
    const term = ready.hardState?.term ?? this.#term;
    const leadershipMoved = leaderId !== this.#leaderId || term !== this.#term;
    if (leaderId !== this.#leaderId) this.#options.metrics?.leaderChanged();
    if (this.#role === "leader" && ready.softState !== undefined && ready.softState.role !== "leader") {
      this.#options.logger?.warn(
        { group: this.#raw.status().groupId, term, newTerm: ready.hardState?.term, leader: leaderId },
        "Stepped down as leader",
      );
      this.#lostLeadership();
    }
    const campaigning = ready.softState?.role === "preCandidate" || ready.softState?.role === "candidate";
    if (campaigning && this.#role !== ready.softState?.role && this.#role === "follower") {
      // Why a follower stops following: the election timeout passed without a message from the leader (a stalled
      // or cut-off leader, or its heartbeats queued behind something), or the leader was reported gone.
      this.#options.logger?.warn(
        {
          group: this.#raw.status().groupId,
          term,
          leader: this.#leaderId,
          silentMs: Math.round(this.#clock.now() - this.#heardFromLeaderMs),
        },
        "Campaigning: no word from the leader",
      );
    }
    this.#leaderId = leaderId;
    this.#term = term;
    this.#role = ready.softState?.role ?? this.#role;
    if (ready.snapshot !== undefined) await this.#installSnapshot(ready.snapshot);
    const { storage, wal } = this.#options;
    const { beforePersist, afterPersist } = splitMessagesByDurability(ready, storage.hardState());
    const sendEarly = this.#options.unsafe?.sendBeforePersist === true;
    this.#send(sendEarly ? ready.messages : beforePersist);
    // Committed entries this node already holds durably are applied (and answered) now, not after the fsync of
    // this Ready's new entries: under load that halves a write's latency (one fsync instead of two). Committed
    // entries are never truncated, and these are on this node's disk, so a crash cannot leave the store ahead of
    // the log. Entries that arrive in this same Ready are applied only once persisted, below.
    const durableLastIndex = storage.lastIndex();
    const splitAt = ready.committedEntries.findIndex((entry) => entry.index > durableLastIndex);
    const applyNow = splitAt < 0 ? ready.committedEntries : ready.committedEntries.slice(0, splitAt);
    const applyAfterPersist = splitAt < 0 ? [] : ready.committedEntries.slice(splitAt);
    this.#enqueueApply(applyNow);
    if (ready.entries.length > 0 || (ready.hardState !== undefined && ready.mustSync)) {
      // Durability point for the Raft log: no vote or acknowledgement is sent before this resolves.
      const started = this.#clock.now();
      await wal.save({ hardState: ready.hardState ?? storage.hardState(), entries: ready.entries });
      this.#options.metrics?.walSaved((this.#clock.now() - started) / 1000, walSaveBytes(ready));
    }
    storage.append(ready.entries);
    // A commit-only change is not fsynced: the commit index is a lower bound that Raft re-learns after a crash.
    if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
    if (!sendEarly) this.#send(afterPersist);
    this.#enqueueApply(applyAfterPersist);
    for (const readState of ready.readStates) {
      const waiter = this.#reads.get(readState.context);
      if (waiter !== undefined) waiter.index = readState.index;
    }
    if (leadershipMoved) this.#retryUnconfirmedReads();
    this.#serveReads();
    if (leadershipMoved) this.#options.onLeadershipChange?.(leaderId, term);
  }

  /**
   * A ReadIndex request not yet confirmed when the leader or term changes will never be: the leader it went to
   * dropped it when its term ended (or is gone). Reads change nothing, so it fails as UNAVAILABLE (retryable)
   * and the caller asks again — the new leader when one is known. A read already confirmed keeps its index: the
   * leader confirmed its leadership after the read arrived, so serving at that index stays linearizable.
   */
  #retryUnconfirmedReads(): void {
    const moved = new ShoalError("UNAVAILABLE", "Leadership moved before the read was confirmed; retry");
    for (const [context, waiter] of this.#reads) {
      if (waiter.index !== undefined) continue;
      this.#reads.delete(context);
      this.#settleRead(waiter, moved);
    }
  }

  /**
   * This node stopped being leader. Its waiting proposals are in its log at its old term and may still commit
   * (a follower that holds them can win the next election and commit them with its first entry, §5.4.2), so
   * none can be failed as "not applied" yet. The log settles them as soon as this node learns the new leader's
   * log: applied with their term (the result), or overtaken by an entry of a later term (PROPOSAL_DROPPED,
   * retryable; see #apply). A node cut off from the majority learns nothing, so each proposal gets at most
   * `lostLeadershipGraceMs` more before it fails with UNKNOWN_OUTCOME instead of waiting out its full timeout.
   */
  #lostLeadership(): void {
    const graceMs = this.#options.lostLeadershipGraceMs;
    const nowMs = this.#clock.now();
    for (const [index, waiter] of this.#proposals) {
      if (waiter.deadlineMs - nowMs <= graceMs) continue;
      const unknown = (): ShoalError =>
        new ShoalError(
          "UNKNOWN_OUTCOME",
          `This node lost leadership before the write at index ${index} was known to commit; it may or may not be applied`,
        );
      this.#failProposalAfter(index, waiter, graceMs, unknown);
    }
  }

  /** Queues committed entries (durable here) for applying; the first slice runs at once when none is queued. */
  #enqueueApply(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    for (const entry of entries) this.#applyQueue.push(entry);
    if (this.#draining) return;
    // The flag goes up before the call: a drain that applies everything synchronously lowers it again before
    // the call even returns.
    this.#draining = true;
    this.#applyDrain = this.#drainApplyQueue();
  }

  /** Applies the queue in slices: one bounded synchronous step, then a macrotask for timers and sockets. */
  async #drainApplyQueue(): Promise<void> {
    const bytesMax = this.#options.applySliceBytesMax ?? APPLY_SLICE_BYTES_MAX_DEFAULT;
    try {
      for (;;) {
        if (this.#stopped) return;
        const slice = this.#takeApplySlice(bytesMax);
        if (slice.length === 0) return;
        const startedMs = this.#clock.now();
        const applied = await this.#apply(slice);
        if (applied.length > 0) this.#learnApplyCost(applied, this.#clock.now() - startedMs);
        this.#serveReads();
        if (this.#applyHead === this.#applyQueue.length) return;
        await this.#clock.nextTurn();
      }
    } catch (error) {
      this.#fatal(error);
    } finally {
      this.#draining = false;
    }
    this.#maybeSnapshot();
  }

  /** See APPLY_SLICE_TARGET_MS. `applied`: the entries this slice applied on the loop (none when it skipped
   * entries applied before a restart, or applied off the loop, whose time is mostly waiting). */
  #learnApplyCost(applied: readonly Entry[], elapsedMs: number): void {
    let bytes = 0;
    for (const entry of applied) bytes += entry.data.byteLength + APPLY_ENTRY_OVERHEAD_BYTES;
    const latest = elapsedMs / bytes;
    this.#applyMsPerByte = Math.max(APPLY_MS_PER_BYTE_MIN, latest, (this.#applyMsPerByte + latest) / 2);
  }

  /** The next entries to apply: at least one, then while within the bytes the measured cost allows
   * (APPLY_SLICE_TARGET_MS, at most `bytesLimit`) and APPLY_SLICE_ENTRIES_MAX. */
  #takeApplySlice(bytesLimit: number): Entry[] {
    const bytesMax = Math.min(bytesLimit, APPLY_SLICE_TARGET_MS / Math.max(this.#applyMsPerByte, 1e-9));
    const entriesMax = APPLY_SLICE_ENTRIES_MAX;
    const queue = this.#applyQueue;
    const slice: Entry[] = [];
    let bytes = 0;
    while (this.#applyHead < queue.length && (slice.length === 0 || slice.length < entriesMax)) {
      const entry = queue[this.#applyHead] as Entry;
      const stepped = entry.data.byteLength >= APPLY_STEPPED_ENTRY_BYTES_MIN;
      // A big entry is a slice of its own: its apply is spread over turns, but its write is one LMDB transaction,
      // so twenty 1,000-key MSETs in one slice would hand lmdb-js 40,000 rows in one turn.
      if (slice.length > 0 && (stepped || bytes + entry.data.byteLength + APPLY_ENTRY_OVERHEAD_BYTES > bytesMax)) break;
      slice.push(entry);
      bytes += entry.data.byteLength + APPLY_ENTRY_OVERHEAD_BYTES;
      this.#applyHead++;
      if (stepped) break;
    }
    if (this.#applyHead === queue.length) {
      this.#applyQueue = [];
      this.#applyHead = 0;
    } else if (this.#applyHead > 4096) {
      this.#applyQueue = queue.slice(this.#applyHead);
      this.#applyHead = 0;
    }
    return slice;
  }

  /** Resolves once every queued entry is applied (a snapshot install replaces the state: it waits for this). */
  async #applyIdle(): Promise<void> {
    while (this.#draining) await this.#applyDrain;
  }

  /** Applies `entries` (those not applied yet); returns the ones it applied on the event loop. */
  async #apply(entries: readonly Entry[]): Promise<readonly Entry[]> {
    const { store } = this.#options;
    // After a restart Raft re-delivers entries since its snapshot; the store already holds those up to its
    // applied index (kept in the same LMDB transaction as the data), so they are skipped, never re-applied.
    const fresh = entries.filter((entry) => entry.index > store.appliedIndex());
    if (fresh.length === 0) return [];
    const batch = fresh.map((e) => ({
      index: e.index,
      data: e.data,
      type: e.type,
      repliesWanted: this.#proposals.has(e.index),
    }));
    let bytes = 0;
    for (const entry of fresh) bytes += entry.data.byteLength;
    // A batch with a big value is copied into the store off the event loop (issue 10: a 16 MiB value held the
    // loop for ~300-400 ms and could cost an election); the drain waits for it, so slices still apply in order.
    // So is every batch while the store's writes on the loop are slow (a disk under pressure).
    const big =
      store.writesSlowly === true ||
      bytes >= APPLY_OFF_LOOP_BYTES_MIN ||
      fresh.some((e) => e.data.byteLength >= APPLY_STEPPED_ENTRY_BYTES_MIN);
    const applyOffLoop = big ? store.applyEntriesOffLoop?.bind(store) : undefined;
    const offLoop = applyOffLoop !== undefined;
    const results = applyOffLoop !== undefined ? await applyOffLoop(batch) : store.applyEntries(batch);
    if (this.#stopped) return [];
    assert(results.length === fresh.length, "The store must answer one result per applied entry");
    this.counters.applied += fresh.length;
    for (const entry of fresh) this.#appliedBytesSinceSnapshot += entry.data.byteLength;
    this.#options.onApplied?.();
    fresh.forEach((entry, i) => {
      const waiter = this.#proposals.get(entry.index);
      if (waiter === undefined) return;
      this.#proposals.delete(entry.index);
      if (waiter.term === entry.term) this.#settleProposal(waiter, results[i] as CommandResult);
      else
        this.#settleProposal(
          waiter,
          new ShoalError("PROPOSAL_DROPPED", "Leadership changed; the write was not applied"),
        );
    });
    const last = fresh[fresh.length - 1] as Entry;
    this.#dropProposalsOvertaken(last.term);
    return offLoop ? [] : fresh;
  }

  /**
   * Entry terms never decrease along a log (leaders append only entries of their own term, and Log Matching,
   * §5.3), so once an entry of term T is committed, every later index commits with a term >= T: a proposal of an
   * earlier term waiting at a later index can never commit (§5.4). It fails now as PROPOSAL_DROPPED (retryable)
   * instead of when the new leader's log reaches its index. Runs only when the applied term grows.
   */
  #dropProposalsOvertaken(appliedTerm: number): void {
    if (appliedTerm <= this.#appliedTerm) return;
    this.#appliedTerm = appliedTerm;
    for (const [index, waiter] of this.#proposals) {
      if (waiter.term >= appliedTerm) continue;
      this.#proposals.delete(index);
      this.#settleProposal(
        waiter,
        new ShoalError("PROPOSAL_DROPPED", "Leadership changed before the write committed; it was not applied"),
      );
    }
  }

  #serveReads(): void {
    if (this.#reads.size === 0) return;
    const applied = this.#options.store.appliedIndex();
    for (const [context, waiter] of this.#reads) {
      if (waiter.index === undefined || waiter.index > applied) continue;
      this.#reads.delete(context);
      this.#settleRead(waiter, undefined);
    }
  }

  /** A snapshot from the leader: durable file first, then the store swaps atomically, then the WAL marker. A
   * crash between steps leaves either the old state or a store ahead of the log, which Raft repairs. */
  async #installSnapshot(snapshot: Snapshot): Promise<void> {
    const { snapshots, store, storage, wal } = this.#options;
    // Entries still queued predate the snapshot (Raft sends one only past a follower's log): apply them first
    // rather than restore under a running apply; a snapshot of our own being assembled is superseded.
    await this.#applyIdle();
    await this.#snapshotTask;
    await snapshots.save(snapshot);
    await store.restore([snapshot.data]);
    this.#options.onApplied?.();
    storage.applySnapshot(snapshot);
    await wal.save({ entries: [], snapshot: snapshot.metadata });
    await snapshots.prune(snapshot.metadata.index);
    this.#lastSnapshotIndex = snapshot.metadata.index;
    this.#appliedBytesSinceSnapshot = 0;
    // A snapshot does not say which entries it holds: a proposal it covers may or may not be in it.
    const unknown = new ShoalError("UNKNOWN_OUTCOME", "A snapshot replaced the log; the write's outcome is unknown");
    for (const [index, waiter] of this.#proposals) {
      if (index > snapshot.metadata.index) continue;
      this.#proposals.delete(index);
      this.#settleProposal(waiter, unknown);
    }
    this.#dropProposalsOvertaken(snapshot.metadata.term);
  }

  /**
   * Log compaction (paper section 7): when due, snapshot the store at its applied index in the background — the
   * image is assembled and written to its file a slice per event-loop turn while the Ready loop goes on — then
   * drop the log behind it. Taken only while nothing waits to be applied, so the store's applied index is Raft's
   * and the membership recorded with it (Raft's, now) is the one at that index.
   */
  #maybeSnapshot(): void {
    if (this.#snapshotTask !== undefined || this.#draining || this.#stopped) return;
    const { store, storage } = this.#options;
    const applied = store.appliedIndex();
    if (!this.#snapshotDue(applied)) return;
    const status = this.#raw.status();
    if (applied !== status.appliedIndex || applied > storage.lastIndex()) return; // Raft is still replaying
    const image = store.snapshot();
    assert(image.appliedIndex === applied, "A store snapshot must be taken at the applied index");
    this.#snapshotTask = this.#writeSnapshot(image, status.confState)
      .catch((error: unknown) => this.#fatal(error))
      .finally(() => {
        this.#snapshotTask = undefined;
      });
  }

  #snapshotDue(applied: number): boolean {
    const manyEntries = applied - this.#lastSnapshotIndex >= this.#options.snapshotThresholdEntries;
    const logBytes = this.#options.snapshotLogBytes ?? SNAPSHOT_LOG_BYTES;
    if (!manyEntries && this.#appliedBytesSinceSnapshot < logBytes) return false;
    return this.#appliedBytesSinceSnapshot >= this.#options.store.stats().sizeBytes * SNAPSHOT_LOG_TO_STATE_RATIO;
  }

  async #writeSnapshot(image: StoreSnapshot, confState: ConfState): Promise<void> {
    const { storage, snapshots, wal, snapshotRetainEntries } = this.#options;
    const index = image.appliedIndex;
    let data: Uint8Array | undefined;
    try {
      data = await assembleImage(image, this.#clock, () => this.#stopped);
    } finally {
      image.release();
    }
    // A snapshot installed from the leader meanwhile is newer: ours is of no use then.
    if (data === undefined || this.#stopped || index <= storage.snapshot().metadata.index) return;
    const appliedBytesAtImage = this.#appliedBytesSinceSnapshot;
    const snapshot = storage.createSnapshot(index, confState, data);
    await snapshots.save(snapshot);
    if (this.#stopped) return;
    await wal.save({ entries: [], snapshot: snapshot.metadata });
    await snapshots.prune(index);
    this.#lastSnapshotIndex = Math.max(this.#lastSnapshotIndex, index);
    this.#appliedBytesSinceSnapshot = Math.max(0, this.#appliedBytesSinceSnapshot - appliedBytesAtImage);
    const retainBytesMax = this.#options.snapshotRetainBytesMax ?? SNAPSHOT_RETAIN_BYTES_MAX;
    const compactTo = retainedFrom(storage, index, snapshotRetainEntries, retainBytesMax) - 1;
    if (compactTo >= storage.firstIndex() && compactTo <= storage.snapshot().metadata.index) {
      storage.compact(compactTo);
      await wal.compact(compactTo);
    }
  }

  #settleProposal(waiter: ProposalWaiter, outcome: CommandResult | ShoalError): void {
    this.#clock.clearTimeout(waiter.timer);
    if (outcome instanceof ShoalError) {
      this.counters.proposalFailures++;
      waiter.reject(outcome);
    } else {
      waiter.resolve(outcome);
    }
  }

  #settleRead(waiter: ReadWaiter, error: ShoalError | undefined): void {
    this.#clock.clearTimeout(waiter.timer);
    if (error === undefined) waiter.resolve();
    else waiter.reject(error);
  }

  #guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      this.#fatal(error);
    }
  }

  #fatal(error: unknown): void {
    const failure = error instanceof Error ? error : new AssertionError(String(error));
    this.#stopped = true;
    this.#clock.clearInterval(this.#ticker);
    this.#options.onFatal(failure);
  }
}

/** The first entry to keep behind a snapshot at `index`: at most `retainEntries` entries, and no more than
 * `bytesMax` bytes of them (one entry is kept when it is bigger alone). */
function retainedFrom(storage: MemoryStorage, index: number, retainEntries: number, bytesMax: number): number {
  const first = Math.max(storage.firstIndex(), index - retainEntries + 1);
  if (first > index) return index + 1;
  const kept = storage.entries(first, index + 1, Number.POSITIVE_INFINITY);
  let bytes = 0;
  for (let i = kept.length - 1; i >= 0; i--) {
    bytes += (kept[i] as Entry).data.byteLength;
    if (bytes > bytesMax && i < kept.length - 1) return first + i + 1;
  }
  return first;
}

/** The image's chunks copied into one buffer (the Raft storage keeps a snapshot as one), a slice per event-loop
 * turn: a big state is hundreds of megabytes, and one synchronous copy of it would stall heartbeats. */
async function assembleImage(
  image: StoreSnapshot,
  clock: Clock,
  abandoned: () => boolean,
): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of image.chunks()) {
    if (abandoned()) return undefined;
    chunks.push(chunk);
    total += chunk.byteLength;
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const data = new Uint8Array(total);
  let at = 0;
  let sinceYield = 0;
  for (const chunk of chunks) {
    data.set(chunk, at);
    at += chunk.byteLength;
    sinceYield += chunk.byteLength;
    if (sinceYield >= SNAPSHOT_COPY_SLICE_BYTES) {
      sinceYield = 0;
      await clock.nextTurn();
    }
  }
  return data;
}

/** The record bytes one save appends (entries and hard state), as the WAL frames them. */
function walSaveBytes(ready: Ready): number {
  let bytes = HARD_STATE_RECORD_BYTES;
  for (const entry of ready.entries) bytes += entryRecordBytes(entry);
  return bytes;
}

function refusalError(result: Extract<ProposalResult, { accepted: false }>): ShoalError {
  switch (result.reason) {
    case "notLeader":
      return new ShoalError("NOT_LEADER", "This node is not the leader", { leaderId: result.leaderId });
    case "tooLarge":
      return new ShoalError("TOO_LARGE", "The request is larger than the proposal limit");
    case "overloaded":
      return new ShoalError("UNAVAILABLE", "Too many uncommitted writes; retry shortly");
    case "leadershipTransferring":
      return new ShoalError("UNAVAILABLE", "Leadership is being transferred; retry shortly");
    case "confChangePending":
    case "invalidConfChange":
      return new ShoalError("BAD_REQUEST", `Membership change refused: ${result.reason}`);
  }
}
