/** A leader's RaftStatus (node 1 of voters 1–3, term 2) for tests of what a node reads off its status. */
import type { RaftStatus } from "../../raft/raw-node.js";

export function leaderStatus(
  lastIndex: number,
  match: Record<number, number>,
  claimed: Record<number, number> = {},
): RaftStatus {
  return {
    id: 1,
    groupId: 1,
    role: "leader",
    leaderId: 1,
    term: 2,
    vote: 1,
    commitIndex: lastIndex,
    appliedIndex: lastIndex,
    lastIndex,
    confState: { voters: [1, 2, 3], learners: [] },
    matchIndex: new Map(Object.entries(match).map(([id, m]) => [Number(id), m])),
    claimedIndex: new Map(Object.entries(claimed).map(([id, m]) => [Number(id), m])),
    quiesced: false,
  };
}
