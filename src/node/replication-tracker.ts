/**
 * @module ReplicationTracker: the leader's judgement of each member's replication, which `/v1/cluster`,
 * `shoal status`, the dashboard and a follower's own `/readyz` report. A lag figure alone cannot tell a member
 * that is catching up from one that never will: this tracker remembers when each member's match index last
 * moved.
 *
 * - `caught-up`: at most `laggingEntriesMin` entries behind the leader's last index.
 * - `catching-up`: further behind, and its match index moved within the last `stallMs`.
 * - `stalled`: further behind, and it has not moved for `stallMs` (down, partitioned, or not accepting what
 *   the leader sends).
 * - `diverged`: it claimed entries past the leader's log (Raft status `claimedIndex`): it holds data the
 *   cluster lost and can never be caught up.
 */
import type { RaftStatus } from "../raft/raw-node.js";
import type { NodeId } from "../raft/types.js";

export type ReplicationState = "caught-up" | "catching-up" | "stalled" | "diverged";

export interface ReplicationTrackerOptions {
  readonly laggingEntriesMin: number;
  readonly stallMs: number;
}

export class ReplicationTracker {
  readonly #options: ReplicationTrackerOptions;
  /** The term the samples belong to: a new leadership starts over. */
  #term = 0;
  readonly #samples = new Map<NodeId, { match: number; movedAtMs: number }>();

  constructor(options: ReplicationTrackerOptions) {
    this.#options = options;
  }

  /** Records the leader's view now; call it often (every few hundred ms) and before reading states. */
  observe(status: RaftStatus, nowMs: number): void {
    if (status.role !== "leader") {
      this.#samples.clear();
      return;
    }
    if (status.term !== this.#term) {
      this.#term = status.term;
      this.#samples.clear();
    }
    for (const [id, match] of status.matchIndex) {
      const sample = this.#samples.get(id);
      if (sample === undefined || match > sample.match) this.#samples.set(id, { match, movedAtMs: nowMs });
    }
  }

  /** Each member's state in the leader's view (empty when this node does not lead). */
  states(status: RaftStatus, nowMs: number): Map<NodeId, ReplicationState> {
    this.observe(status, nowMs);
    const states = new Map<NodeId, ReplicationState>();
    for (const [id, sample] of this.#samples) {
      const lag = status.lastIndex - sample.match;
      if (status.claimedIndex.has(id)) states.set(id, "diverged");
      else if (id === status.id || lag <= this.#options.laggingEntriesMin) states.set(id, "caught-up");
      else if (nowMs - sample.movedAtMs < this.#options.stallMs) states.set(id, "catching-up");
      else states.set(id, "stalled");
    }
    return states;
  }
}
