/**
 * @module The JSON of `GET /v1/cluster`: this node's Raft status and every member's role, as each member reports
 * it (a member that does not answer in time is shown as unreachable). Replication lag is the leader's view
 * (its last index minus the member's match index): the leader's own status when this node leads, otherwise
 * what the leader reported when asked for its info, so every node shows the same lag column.
 *
 * Field names are stable (the CLI's `shoal status`, the dashboard and tests read them): id, leader, term, role,
 * commitIndex, appliedIndex, lastIndex, revision, clusterId, problems, members[{id, role, peer, http,
 * reachable, term?, commitIndex?, appliedIndex?, lag?, replication?}], shards[{id, slots: [[first, last]…], leader,
 * replicas, epoch, lag?: {memberId: entries behind}}] (a shard's lag as its leader reports it; absent on one shard,
 * where the members' lag says it), slotMoves?: [{from, to, slots}] (hash slots moving between shards, counted per
 * source and destination; absent when none). `replication` is the leader's judgement
 * of the member (node/replication-tracker.ts): a lag figure cannot tell catching up from never catching up.
 * `problems` lists what this node and every member that answered find wrong with their peers (a peer of
 * another cluster, other members, a wrong address; node/peer-checks.ts), one sentence each.
 */
import type { MemberInfo, ShoalNode } from "../node/shoal-node.js";
import type { SlotMigration } from "../slots/cluster-map.js";

const PEER_INFO_TIMEOUT_MS = 500;

/** One member in `GET /v1/cluster` (the wire contract; the HTTP client reads the same type). */
export interface ClusterMemberView {
  readonly id: number;
  /** "leader" | "follower" | "candidate" | "preCandidate" | "unreachable". */
  readonly role: string;
  readonly peer: string;
  readonly http: string;
  readonly reachable: boolean;
  readonly term?: number;
  readonly commitIndex?: number;
  readonly appliedIndex?: number;
  /** Leader's view: entries the member is behind the leader's last index. */
  readonly lag?: number;
  /** Leader's view: "caught-up" | "catching-up" | "stalled" | "diverged". */
  readonly replication?: string;
}

export async function clusterView(node: ShoalNode): Promise<Record<string, unknown>> {
  const status = node.raftStatus();
  const infos = await node.memberInfos(PEER_INFO_TIMEOUT_MS);
  const self = infos.get(status.id) ?? node.memberInfo();
  const ids = [...infos.keys()];
  const leaderInfo = [...infos.values()].find((info) => info?.role === "leader" && info.matchIndex !== undefined);
  const members: ClusterMemberView[] = ids.map((id) => {
    const address = node.options.members.get(id) ?? { peer: "", http: "" };
    const info = infos.get(id);
    const lag = { ...lagOf(leaderInfo, id), ...replicationOf(leaderInfo, id) };
    if (info === undefined) {
      return { id, role: "unreachable", peer: address.peer, http: address.http, reachable: false, ...lag };
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
      ...lag,
    };
  });
  return {
    id: status.id,
    leader: status.leaderId,
    term: status.term,
    role: status.role,
    commitIndex: status.commitIndex,
    appliedIndex: self.appliedIndex,
    lastIndex: status.lastIndex,
    revision: node.store.revision(),
    clusterId: node.identity.clusterId,
    problems: problemsOf(infos, status.id),
    members,
    // The cluster map's epoch in the meta group (0 until recorded): the version of every shard's slots and replicas.
    mapEpoch: node.mapEpoch,
    // Each shard as this node sees it: its leader and other replicas, its slots at the map's epoch, and its
    // group's term (0 for a shard this node holds no replica of).
    // `lag`: the shard leader's view of each other replica (from its member info), when it answered.
    shards: node.shardStatuses().map(({ id, slots, replicaIds, leavingIds, leaderId, term }) => ({
      id,
      slots: slots.map(({ from, to }) => [from, to]),
      leader: leaderId,
      replicas: replicaIds.filter((replica) => replica !== leaderId).sort((a, b) => a - b),
      ...(leavingIds.length === 0 ? {} : { leaving: leavingIds }),
      epoch: node.mapEpoch,
      term,
      ...shardLagView(leaderId === status.id ? self : infos.get(leaderId), id),
    })),
    ...slotMovesView(node.layout.map.migrations ?? []),
  };
}

/** The slots moving between shards (the cluster map this node follows), counted per source and destination in the
 * order they were asked for; nothing when none is. */
export function slotMovesView(migrations: readonly SlotMigration[]): {
  slotMoves?: { from: number; to: number; slots: number }[];
} {
  const counts = new Map<string, { from: number; to: number; slots: number }>();
  for (const { from, to } of migrations) {
    const key = `${from}>${to}`;
    const count = counts.get(key);
    if (count === undefined) counts.set(key, { from, to, slots: 1 });
    else count.slots++;
  }
  return counts.size === 0 ? {} : { slotMoves: [...counts.values()] };
}

function shardLagView(leader: MemberInfo | undefined, shard: number): { lag?: Readonly<Record<string, number>> } {
  const lag = leader?.shardLag?.[String(shard)];
  return lag === undefined ? {} : { lag };
}

function replicationOf(leader: MemberInfo | undefined, id: number): { replication?: string } {
  const replication = leader?.replication?.[String(id)];
  return replication === undefined ? {} : { replication };
}

/** This node's findings, then each other member's, prefixed with who found them. */
function problemsOf(infos: ReadonlyMap<number, MemberInfo | undefined>, self: number): string[] {
  const problems: string[] = [];
  for (const [id, info] of infos) {
    for (const problem of info?.problems ?? []) problems.push(id === self ? problem : `Node ${id} reports: ${problem}`);
  }
  return problems;
}

function lagOf(leader: MemberInfo | undefined, id: number): { lag?: number } {
  const match = leader?.matchIndex?.[String(id)];
  if (leader?.lastIndex === undefined || match === undefined) return {};
  return { lag: Math.max(0, leader.lastIndex - match) };
}
