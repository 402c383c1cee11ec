/**
 * @module Getting a client's write into the log from any member, and a read barrier from any member: the leader
 * proposes its own writes, a follower forwards them to the leader it knows, and both retry only what certainly did
 * not apply (no leader yet, leadership moved, the entry was dropped) within the request timeout.
 */
import type { Logger } from "pino";
import type { CommandResult } from "../commands/command.js";
import { ShoalError } from "../lib/errors.js";
import type { RaftStatus } from "../raft/raw-node.js";
import { NO_NODE, type NodeId } from "../raft/types.js";
import { type PeerRequest, peerRequest } from "./peer-rpc.js";

/** What forwarding needs of the Raft host: its view of the group, and proposing and confirming reads locally. */
export interface LocalLog {
  status(): Pick<RaftStatus, "role" | "leaderId">;
  propose(data: Uint8Array): Promise<CommandResult>;
  readBarrier(): Promise<void>;
}

/** Asks another member (the peer transport's request, abandonable while still queued; `ordered`: the ordered
 * requests to one member arrive in the order they were made). */
export type AskPeer = (
  to: NodeId,
  request: PeerRequest,
  timeoutMs: number,
  abandon?: AbortSignal,
  ordered?: boolean,
) => Promise<unknown>;

/** A write this node forwarded to the leader it knew; abandoned when another leader becomes known. */
interface Forward {
  readonly leaderId: NodeId;
  readonly abandon: AbortController;
  /** The abandon scheduled once another leader became known (see leadershipMoved). */
  timer?: NodeJS.Timeout;
}

/** How long a write forwarded to a leader that lost leadership may still be answered by it before it is abandoned
 * (UNKNOWN_OUTCOME): a deposed leader that is alive settles its waiting proposals as soon as it hears the new
 * leader's log — applied with their term, or dropped (retried) — which a leadership transfer (the rebalancer, a
 * node joining or leaving) makes the common case; only a leader paused or cut off runs out this grace. */
const DEPOSED_LEADER_GRACE_MS = 1_500;

/** How often writes waiting for a leader look whether one is known (the first retry's pause was 10 ms). */
const LEADER_POLL_MS = 10;

export class LeaderForwarding {
  readonly #log: LocalLog;
  readonly #ask: AskPeer;
  readonly #requestTimeoutMs: number;
  readonly #logger: Logger;
  /** Writes forwarded to a leader and not answered yet (see #forwardProposal). */
  readonly #forwards = new Set<Forward>();
  /** Writes waiting for a leader to be known, oldest first (#leaderKnown). */
  readonly #leaderWaiters: (() => void)[] = [];
  #leaderPoll: NodeJS.Timeout | undefined;
  /** Retries sleeping until their next attempt; woken early when a leader becomes known. */
  readonly #retrySleepers = new Set<() => void>();

  constructor(options: { log: LocalLog; ask: AskPeer; requestTimeoutMs: number; logger: Logger }) {
    this.#log = options.log;
    this.#ask = options.ask;
    this.#requestTimeoutMs = options.requestTimeoutMs;
    this.#logger = options.logger;
  }

  /** Replicates an encoded command through the leader (forwarding from a follower) and returns its result. A
   * failure that certainly did not apply is retried while `mayResend` allows: once a later write of the same
   * client was sent, a retry could apply this one after it (write-order.ts), so the error is answered instead. */
  submit(data: Uint8Array, mayResend?: () => boolean): Promise<CommandResult> {
    const deadlineMs = Date.now() + this.#requestTimeoutMs;
    return this.#withRetry(() => this.#proposeAnywhere(data, deadlineMs), mayResend);
  }

  /** Waits until this node's state reflects every write acknowledged before the call (ReadIndex). */
  readBarrier(): Promise<void> {
    return this.#withRetry(() => this.#log.readBarrier());
  }

  /** The host learned of a new leader or term: writes forwarded to another node are abandoned (see
   * #forwardProposal) and retries waiting for a leader go now. A leader unknown (an election running) abandons
   * nothing: the old one may still answer. */
  leadershipMoved(leaderId: NodeId, term: number): void {
    if (leaderId === NO_NODE) return;
    this.#logger.info({ leader: leaderId, term }, "Leader known");
    for (const forward of this.#forwards) {
      if (forward.leaderId === leaderId || forward.timer !== undefined) continue;
      const graceMs = Math.min(DEPOSED_LEADER_GRACE_MS, this.#requestTimeoutMs / 2);
      forward.timer = setTimeout(() => forward.abandon.abort(new Error(`node ${leaderId} is the leader now`)), graceMs);
      forward.timer.unref();
    }
    this.#wakeLeaderWaiters();
    for (const wake of this.#retrySleepers) wake();
    this.#retrySleepers.clear();
  }

  /** Proposes here or forwards to the leader. While no leader is known (an election) the write waits in line —
   * never sent yet, so no retry — and the writes waiting go out in the order they came once one is: a client's
   * pipelined writes keep their order through an election instead of failing (write-order.ts). */
  async #proposeAnywhere(data: Uint8Array, deadlineMs: number): Promise<CommandResult> {
    let status = this.#log.status();
    // Writes already in line go first: a leader may be known before they are woken (leadershipMoved comes with
    // the host's next Ready, the poll every LEADER_POLL_MS), and a write arriving then must not overtake them.
    while (this.#leaderWaiters.length > 0 || (status.role !== "leader" && status.leaderId === NO_NODE)) {
      const inLine = this.#leaderKnown(deadlineMs);
      if (status.role === "leader" || status.leaderId !== NO_NODE) this.#wakeLeaderWaiters(); // the line goes, us last
      if (!(await inLine)) throw new ShoalError("UNAVAILABLE", "No leader is known yet");
      status = this.#log.status();
    }
    if (status.role === "leader") return this.#log.propose(data);
    return this.#forwardProposal(status.leaderId, data);
  }

  /** Resolves true once a leader is known, false at the deadline. The waiters are woken together, oldest first:
   * by leadershipMoved, or by a look at the log's status every LEADER_POLL_MS while any waits (a leader lost and
   * found again between two of the host's Readies is never reported as moved). */
  #leaderKnown(deadlineMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(
        () => {
          const at = this.#leaderWaiters.indexOf(wake);
          if (at >= 0) this.#leaderWaiters.splice(at, 1);
          resolve(false);
        },
        Math.max(0, deadlineMs - Date.now()),
      );
      this.#leaderWaiters.push(wake);
      this.#leaderPoll ??= setInterval(() => {
        const status = this.#log.status();
        if (status.role === "leader" || status.leaderId !== NO_NODE) this.#wakeLeaderWaiters();
        else if (this.#leaderWaiters.length === 0) this.#stopLeaderPoll();
      }, LEADER_POLL_MS).unref();
    });
  }

  #wakeLeaderWaiters(): void {
    this.#stopLeaderPoll();
    for (const wake of this.#leaderWaiters.splice(0)) wake();
  }

  #stopLeaderPoll(): void {
    clearInterval(this.#leaderPoll);
    this.#leaderPoll = undefined;
  }

  /**
   * Forwards a write to the leader this node knows and returns the leader's answer. What a failure says about
   * the write — exactly-once depends on it: an entry a leader accepted can still commit after that leader lost
   * leadership (a follower holding it may win the next election and commit it with its first entry, §5.4.2), so
   * only a write that certainly never reached the leader's log may be sent again.
   * - Never written to the connection (the link is down, the queue is full, or it was abandoned while still
   *   queued: the transport withdraws it): UNAVAILABLE — not applied, retried (by #withRetry).
   * - The leader refused it (NOT_LEADER, UNAVAILABLE) or answered that its entry lost to another term's
   *   (PROPOSAL_DROPPED): not applied, retried.
   * - Written, and then this node learned of another leader and the old one did not answer within
   *   DEPOSED_LEADER_GRACE_MS (leadershipMoved abandons it then instead of waiting out requestTimeoutMs — a paused
   *   leader would hold it that long), or the connection dropped (the leader crashed): UNKNOWN_OUTCOME — the old leader may have appended it, and the entry may commit under
   *   the new leader, or the request may still sit unread in a paused leader's socket. Never retried: the
   *   client is told the outcome is unknown.
   * - Written and no answer within requestTimeoutMs: TIMEOUT, likewise unknown, never retried.
   */
  async #forwardProposal(leaderId: NodeId, data: Uint8Array): Promise<CommandResult> {
    const forward: Forward = { leaderId, abandon: new AbortController() };
    this.#forwards.add(forward);
    try {
      const request = peerRequest.propose(data);
      // Ordered: the leader proposes forwarded writes in arrival order, so writes forwarded in order are proposed
      // in order — a client's pipelined runs rely on it (write-order.ts).
      return (await this.#ask(
        leaderId,
        request,
        this.#requestTimeoutMs,
        forward.abandon.signal,
        true,
      )) as CommandResult;
    } catch (error) {
      const abandoned = forward.abandon.signal.aborted;
      if (!(error instanceof ShoalError && error.code === "UNKNOWN_OUTCOME" && abandoned)) throw error;
      const newLeader = this.#log.status().leaderId;
      throw new ShoalError(
        "UNKNOWN_OUTCOME",
        `Leadership moved from node ${leaderId} to node ${newLeader} while the write was in flight; ` +
          "it may or may not have been applied",
        { leaderId: newLeader, formerLeaderId: leaderId },
      );
    } finally {
      clearTimeout(forward.timer);
      this.#forwards.delete(forward);
    }
  }

  async #withRetry<T>(attempt: () => Promise<T>, mayResend?: () => boolean): Promise<T> {
    const deadline = Date.now() + this.#requestTimeoutMs;
    let delayMs = 10;
    for (;;) {
      try {
        return await attempt();
      } catch (error) {
        if (!(error instanceof ShoalError) || !error.retryable || Date.now() + delayMs > deadline) throw error;
        if (mayResend?.() === false) throw error;
        await this.#sleepUntilRetry(delayMs);
        if (mayResend?.() === false) throw error; // a later write was sent while this one waited
      }
      delayMs = Math.min(delayMs * 2, 200);
    }
  }

  /** Waits `delayMs`, or less when a leader becomes known meanwhile (a new leader answers at once). */
  #sleepUntilRetry(delayMs: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#retrySleepers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, delayMs);
      this.#retrySleepers.add(wake);
    });
  }
}
