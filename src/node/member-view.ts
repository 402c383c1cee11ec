/**
 * @module A Raft group's status with member ids in place of replica ids (lib/replica-id.ts), for everything that
 * shows or routes by member: /v1/cluster, INFO, CLUSTER replies, readiness, metrics. The replica mover and the
 * leader balancer read the raw status: they act on replica ids.
 */
import { memberOfReplica } from "../lib/replica-id.js";
import type { RaftStatus } from "../raft/raw-node.js";
import type { NodeId } from "../raft/types.js";

const byMember = (ids: readonly NodeId[]): NodeId[] => ids.map(memberOfReplica);

function keyedByMember(map: ReadonlyMap<NodeId, number>): ReadonlyMap<NodeId, number> {
  for (const id of map.keys())
    if (memberOfReplica(id) !== id) return new Map([...map].map(([k, v]) => [memberOfReplica(k), v]));
  return map;
}

/** `status` as members see it; the same object when every id is a member id already (the common case). */
export function memberView(status: RaftStatus): RaftStatus {
  const { voters, learners } = status.confState;
  const ids = [status.id, status.leaderId, status.vote, ...voters, ...learners];
  if (ids.every((id) => memberOfReplica(id) === id)) return status;
  return {
    ...status,
    id: memberOfReplica(status.id),
    leaderId: memberOfReplica(status.leaderId),
    vote: memberOfReplica(status.vote),
    confState: { voters: byMember(voters), learners: byMember(learners) },
    matchIndex: keyedByMember(status.matchIndex),
    claimedIndex: keyedByMember(status.claimedIndex),
  };
}
