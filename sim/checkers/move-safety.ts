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
  /** The leader's disk (its log's terms). */
  readonly leaderDisk: MemoryStorage;
  /** Any member's disk, by id. */
  readonly diskOf: (id: NodeId) => MemoryStorage;
  /** How far behind the commit index a member may be and count as caught up (the mover's rule). */
  readonly slack: number;
}

/** Throws a moveSafety violation when `change` breaks the rule above. */
export function checkMoveStep(change: ConfChange, view: MoveSafetyView): void {
  const { status, slack } = view;
  const position = status.commitIndex - slack;
  const holds = (id: NodeId): boolean => {
    if (id === status.id || position <= 0) return true;
    const disk = view.diskOf(id);
    if (disk.lastIndex() < position) return false;
    if (position < disk.firstIndex()) return true; // inside its snapshot: committed entries only
    const leaderTerm = view.leaderDisk.term(position);
    return leaderTerm === undefined || disk.term(position) === leaderTerm;
  };
  const { voters } = status.confState;
  if (change.type === "addVoter" && !holds(change.nodeId)) {
    const disk = view.diskOf(change.nodeId);
    throw new SimViolation(
      "moveSafety",
      `node ${status.id} promotes node ${change.nodeId}, whose log ends at ${disk.lastIndex()}, while the commit ` +
        `index is ${status.commitIndex} (slack ${slack})`,
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
