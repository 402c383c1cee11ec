/**
 * @module Move safety (issue 13): the replica mover (src/node/replica-move.ts, driven here by SimAdmin) never
 * promotes a learner that does not hold the log, and never removes a voter unless the voters left hold a
 * caught-up majority — so no step leaves a group with fewer than a majority of caught-up voters.
 *
 * Checked when the mover proposes a change, against what the members' disks actually hold (the simulator sees
 * every disk), not against the leader's match indexes the mover decided from: a member "holds the log" when its
 * disk reaches `commitIndex - slack` with the leader's term there (or has it inside its snapshot, which holds
 * committed entries only).
 */

import type { MemoryStorage } from "../../src/raft/memory-storage.js";
import type { RaftStatus } from "../../src/raft/raw-node.js";
import type { ConfChange, NodeId } from "../../src/raft/types.js";
import { SimViolation } from "./violation.js";

export interface MoveSafetyView {
  /** The leader's status when it proposes the change. */
  readonly status: RaftStatus;
  /** Whether member `id` holds the log through `index` as the leader does (the checker's own view of the disks). */
  readonly holdsThrough: (id: NodeId, index: number) => boolean;
  /** How far behind the commit index a member may be and count as caught up (the mover's rule). */
  readonly slack: number;
}

/** `MoveSafetyView.holdsThrough` from the members' MemoryStorage disks (the core tier). */
export function holdsOnDisks(
  leaderDisk: MemoryStorage,
  diskOf: (id: NodeId) => MemoryStorage,
): (id: NodeId, index: number) => boolean {
  return (id, index) => {
    const disk = diskOf(id);
    if (disk.lastIndex() < index) return false;
    if (index < disk.firstIndex()) return true; // inside its snapshot: committed entries only
    const leaderTerm = leaderDisk.term(index);
    return leaderTerm === undefined || disk.term(index) === leaderTerm;
  };
}

/** Throws a moveSafety violation when `change` breaks the rule above. */
export function checkMoveStep(change: ConfChange, view: MoveSafetyView): void {
  const { status, slack } = view;
  const position = status.commitIndex - slack;
  const holds = (id: NodeId): boolean => id === status.id || position <= 0 || view.holdsThrough(id, position);
  const { voters } = status.confState;
  if (change.type === "addVoter" && !holds(change.nodeId)) {
    throw new SimViolation(
      "moveSafety",
      `node ${status.id} promotes node ${change.nodeId}, which does not hold the log through index ${position} ` +
        `(commit index ${status.commitIndex}, slack ${slack})`,
    );
  }
  if (change.type === "removeNode" && voters.includes(change.nodeId)) {
    const remaining = voters.filter((id) => id !== change.nodeId);
    const caughtUp = remaining.filter(holds);
    if (caughtUp.length * 2 <= remaining.length) {
      throw new SimViolation(
        "moveSafety",
        `node ${status.id} removes voter ${change.nodeId}, leaving ${caughtUp.length} caught-up of ` +
          `${remaining.length} voters (${remaining.join(",")}) at commit index ${status.commitIndex}`,
      );
    }
  }
}
