/**
 * @module Moving one replica of a Raft group from one member to another, online, one server at a time (Raft
 * thesis §4.1): add the new member as a learner → let it catch up (log, or the chunked snapshot the host streams)
 * → promote it to voter → hand leadership away if the leaving member leads (thesis §3.10) → remove the leaving
 * member. Each change is a single-server change, which the thesis proves safe on its own (any two majorities of
 * consecutive configurations overlap), so Shoal needs no joint consensus; etcd took the same path for years.
 *
 * What keeps a shard available through the move is when each step is taken, and that is `nextMoveStep`'s alone
 * (pure: the simulator and tests drive it from any status):
 * - a learner is promoted only once it holds the log up to the leader's commit index (less MOVE_CATCH_UP_SLACK
 *   entries): a voter that must first fetch a whole snapshot would count toward the quorum while it cannot vote
 *   for anything recent, and one more failure would stall the shard;
 * - a voter is removed only if the voters left still hold a caught-up majority, so the change itself commits and
 *   the group keeps a quorum of up-to-date replicas afterwards;
 * - the leader never removes itself: it transfers leadership to the new voter first.
 * The driver (`driveReplicaMove`) takes the step the current status asks for, waits, and looks again, so a move
 * interrupted by a crash or a leader change is resumed by whoever leads next from the membership Raft holds.
 */
import type { ConfChange, ConfState, NodeId } from "../raft/types.js";

/** A member counts as caught up when it holds the log to within this many entries of the commit index: under
 * steady writes the leader's commit index moves on while an append is in flight. */
export const MOVE_CATCH_UP_SLACK = 256;

/** What the planner reads of the leader's status (RawNode.status()). */
export interface MoveStatus {
  readonly id: NodeId;
  readonly role: string;
  readonly commitIndex: number;
  readonly confState: ConfState;
  readonly matchIndex: ReadonlyMap<NodeId, number>;
}

export interface ReplicaMove {
  /** The member that gives up its replica (NO_NODE, 0, when the group only gains one). */
  readonly from: NodeId;
  /** The member that gains a replica (0 when the group only loses one). */
  readonly to: NodeId;
}

export type MoveStep =
  | { readonly kind: "confChange"; readonly change: ConfChange }
  | { readonly kind: "transferLeader"; readonly target: NodeId }
  /** Nothing to do now: the learner is catching up, or too few voters are caught up to remove one. */
  | { readonly kind: "wait"; readonly reason: string }
  | { readonly kind: "notLeader" }
  | { readonly kind: "done" };

/** How far behind a member may be and count as caught up, and — for the simulator's mutation tests only — safety
 * checks switched off (sim/mutation.ts proves a checker notices each). */
export interface MoveRules {
  readonly catchUpSlack: number;
  readonly unsafe?: {
    /** Promote a learner at once, caught up or not. */
    readonly promoteBeforeCatchUp?: boolean;
    /** Remove a voter whatever the voters left hold. */
    readonly removeIntoMinority?: boolean;
  };
}

const DEFAULT_RULES: MoveRules = { catchUpSlack: MOVE_CATCH_UP_SLACK };

/** The next step of `move` given the leader's `status` (see the module comment for the rules). */
export function nextMoveStep(status: MoveStatus, move: ReplicaMove, rules: MoveRules = DEFAULT_RULES): MoveStep {
  if (status.role !== "leader") return { kind: "notLeader" };
  const { voters, learners } = status.confState;
  // A member that has acknowledged nothing yet (match 0: paused, unreachable, still opening) is not caught up,
  // however young the log: on a group of fewer entries than the slack it would otherwise count at once.
  const caughtUp = (id: NodeId): boolean => {
    if (id === status.id) return true;
    const match = status.matchIndex.get(id) ?? 0;
    return match > 0 && match >= status.commitIndex - rules.catchUpSlack;
  };
  if (move.to !== 0 && !voters.includes(move.to)) {
    if (!learners.includes(move.to)) return { kind: "confChange", change: { type: "addLearner", nodeId: move.to } };
    if (!caughtUp(move.to) && rules.unsafe?.promoteBeforeCatchUp !== true) {
      return { kind: "wait", reason: `member ${move.to} is catching up` };
    }
    return { kind: "confChange", change: { type: "addVoter", nodeId: move.to } };
  }
  if (move.from === 0 || (!voters.includes(move.from) && !learners.includes(move.from))) return { kind: "done" };
  if (learners.includes(move.from)) return { kind: "confChange", change: { type: "removeNode", nodeId: move.from } };
  const remaining = voters.filter((id) => id !== move.from);
  if (remaining.length === 0) return { kind: "wait", reason: "the group would have no voter left" };
  if (move.from === status.id) {
    const target = remaining.find(caughtUp);
    return target === undefined
      ? { kind: "wait", reason: "no other voter is caught up to take the leadership" }
      : { kind: "transferLeader", target };
  }
  const upToDate = remaining.filter(caughtUp).length;
  if (upToDate <= remaining.length / 2 && rules.unsafe?.removeIntoMinority !== true) {
    return { kind: "wait", reason: `only ${upToDate} of the ${remaining.length} voters left would be caught up` };
  }
  return { kind: "confChange", change: { type: "removeNode", nodeId: move.from } };
}
