/**
 * @module The liveness phase's goal. After the faults are healed the cluster must converge within a bounded
 * number of ticks: one leader that every node follows, everything in its log committed, every client write
 * acknowledged, full membership restored, and every node applied up to the commit index with the same state.
 * `convergenceGap` says what is still missing, which is the failure message when the bound runs out.
 */
import type { SimAdmin } from "./admin.js";
import type { SimCluster } from "./cluster.js";
import type { SimWorkload } from "./workload.js";

export function convergenceGap(
  cluster: SimCluster,
  workload: SimWorkload,
  admin: SimAdmin | undefined,
): string | undefined {
  const leader = cluster.leader();
  const status = leader?.status();
  if (leader === undefined || status === undefined) return "no leader";
  if (status.commitIndex < status.lastIndex) {
    return `leader ${leader.id} has uncommitted entries (commit ${status.commitIndex}, last ${status.lastIndex})`;
  }
  if (workload.pendingWrites() > 0) return `${workload.pendingWrites()} client writes not acknowledged`;
  if (admin !== undefined && !admin.settled(status.confState)) {
    return `membership not restored (voters [${status.confState.voters}], learners [${status.confState.learners}])`;
  }
  for (const host of cluster.hosts) {
    const s = host.status();
    if (s === undefined) return `node ${host.id} is down`;
    if (s.leaderId !== leader.id || s.term !== status.term) {
      return `node ${host.id} follows ${s.leaderId} in term ${s.term}, not leader ${leader.id} of term ${status.term}`;
    }
    if (host.machine.appliedIndex !== status.commitIndex) {
      return `node ${host.id} applied ${host.machine.appliedIndex} of commit index ${status.commitIndex}`;
    }
    if (host.machine.hash !== leader.machine.hash) return `node ${host.id} state differs from the leader's`;
  }
  return undefined;
}
