/**
 * @module The JSON of `GET /v1/cluster`: this node's Raft status and every member's role, as each member reports
 * it (a member that does not answer in time is shown as unreachable).
 */
import type { ShoalNode } from "../node/shoal-node.js";

const PEER_INFO_TIMEOUT_MS = 500;

export interface ClusterMemberView {
  readonly id: number;
  readonly role: string;
  readonly peer: string;
  readonly http: string;
  readonly reachable: boolean;
  readonly term?: number;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Leader's view: entries the member is behind the leader's last index. */
  readonly lag?: number;
}

export async function clusterView(node: ShoalNode): Promise<Record<string, unknown>> {
  const status = node.raftStatus();
  const self = node.memberInfo();
  const members: ClusterMemberView[] = await Promise.all(
    [...node.options.members.entries()].map(async ([id, address]) => {
      const info = id === status.id ? self : await node.peerInfo(id, PEER_INFO_TIMEOUT_MS);
      const match = status.matchIndex.get(id);
      const lag = status.role === "leader" && match !== undefined ? Math.max(0, status.lastIndex - match) : undefined;
      if (info === undefined) {
        return { id, role: "unreachable", peer: address.peer, http: address.http, reachable: false, lag };
      }
      return {
        id,
        role: info.role,
        peer: info.peer || address.peer,
        http: info.http || address.http,
        reachable: true,
        term: info.term,
        commitIndex: info.commitIndex,
        appliedIndex: info.appliedIndex,
        lag,
      };
    }),
  );
  return {
    id: status.id,
    leader: status.leaderId,
    term: status.term,
    role: status.role,
    commitIndex: status.commitIndex,
    appliedIndex: self.appliedIndex,
    lastIndex: status.lastIndex,
    members,
  };
}
