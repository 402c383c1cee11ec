/**
 * @module Changes to who is a member, and to what the rebalancer may do, as next epochs of the cluster map
 * (cluster-map.ts): a member joins (node/join-request.ts), is drained and removed (`shoal node remove`: the
 * rebalancer moves its replicas away, rebalance-plan.ts), a shard's preferred leader is chosen, the rebalancer is
 * paused. Pure; each throws a RangeError saying why when the change makes no sense (node/cluster-map-keeper.ts
 * answers it as BAD_REQUEST).
 *
 * The rule behind the refusals: a member id is never given twice. Its meta-group replica's Raft id is the member
 * id, and a node with an empty disk under an id that was a member could vote there with a log it lost (issue 10's
 * rule, kept for joins; shards give a returning member a new replica id instead: lib/replica-id.ts).
 */
import { isMemberId, MEMBER_ID_MAX } from "../lib/replica-id.js";
import type { ClusterMap, JoinedAddress } from "./cluster-map.js";

type NodeId = number;

/** The map with member `id` joined at `address`. Refused when `id` is, or ever was, a member. */
export function withMemberJoined(map: ClusterMap, id: NodeId, address: JoinedAddress): ClusterMap {
  if (!isMemberId(id)) throw new RangeError(`A member id is an integer from 1 to ${MEMBER_ID_MAX}, not ${id}`);
  if (map.members.includes(id)) {
    throw new RangeError(
      `Node ${id} is already a member of this cluster: a node that lost its data joins under a new id ` +
        "(remove the old one first)",
    );
  }
  if (map.removed?.includes(id) === true) {
    throw new RangeError(`Node ${id} was a member of this cluster before: join under an id never used in it`);
  }
  return {
    ...map,
    epoch: map.epoch + 1,
    members: [...map.members, id].sort((a, b) => a - b),
    joined: { ...(map.joined ?? {}), [String(id)]: { peer: address.peer, http: address.http } },
  };
}

/** The most replicas any shard has: the fewest members the cluster can run on. */
export function replicationOf(map: ClusterMap): number {
  return Math.max(1, ...map.shards.map((shard) => shard.replicas.length));
}

/** The members not being drained. */
export function activeMembers(map: ClusterMap): NodeId[] {
  return map.members.filter((id) => map.draining?.includes(id) !== true);
}

/** The map with member `id` marked for removal: the rebalancer moves its replicas to the other members, then
 * records it removed. Refused when the others could not hold every shard's replicas. */
export function withMemberDraining(map: ClusterMap, id: NodeId): ClusterMap {
  if (!map.members.includes(id)) throw new RangeError(`Node ${id} is not a member`);
  if (map.draining?.includes(id) === true) return map;
  const left = activeMembers(map).length - 1;
  const replication = replicationOf(map);
  if (left < replication) {
    throw new RangeError(
      `Removing node ${id} would leave ${left} member${left === 1 ? "" : "s"} for shards of ${replication} ` +
        "replicas: add a node first",
    );
  }
  return { ...map, epoch: map.epoch + 1, draining: [...(map.draining ?? []), id].sort((a, b) => a - b) };
}

/** Whether `id` holds, or is still leaving, a replica of some shard. */
export function holdsAnyReplica(map: ClusterMap, id: NodeId): boolean {
  return map.shards.some((shard) => shard.replicas.includes(id) || shard.leaving?.includes(id) === true);
}

/** The map without member `id`, which must hold no replica (drained). Its id is never given again. The meta group
 * then stops counting it (node/replica-mover.ts), and the node stops itself (node/shoal-node.ts). */
export function withMemberRemoved(map: ClusterMap, id: NodeId): ClusterMap {
  if (!map.members.includes(id)) throw new RangeError(`Node ${id} is not a member`);
  if (holdsAnyReplica(map, id)) throw new RangeError(`Node ${id} still holds replicas: drain it first`);
  if (map.members.length === 1) throw new RangeError(`Node ${id} is the last member`);
  const { [String(id)]: _gone, ...joined } = map.joined ?? {};
  const draining = (map.draining ?? []).filter((each) => each !== id);
  const { draining: _draining, joined: _joined, ...rest } = map;
  return {
    ...rest,
    epoch: map.epoch + 1,
    members: map.members.filter((each) => each !== id),
    ...(draining.length === 0 ? {} : { draining }),
    ...(Object.keys(joined).length === 0 ? {} : { joined }),
    removed: [...(map.removed ?? []), id],
  };
}

/** The map with `member` the preferred leader of shard `shardId` (the leader balancer on its replicas then hands
 * leadership to it: node/leader-balancer.ts). */
export function withPreferredLeader(map: ClusterMap, shardId: number, member: NodeId): ClusterMap {
  const shard = map.shards.find((each) => each.id === shardId);
  if (shard === undefined) throw new RangeError(`There is no shard ${shardId}`);
  if (!shard.replicas.includes(member)) throw new RangeError(`Node ${member} holds no replica of shard ${shardId}`);
  return {
    ...map,
    epoch: map.epoch + 1,
    shards: map.shards.map((each) => (each.id === shardId ? { ...each, leader: member } : each)),
  };
}

/** The map with the rebalancer paused or resumed (unchanged, same epoch, when it already is). */
export function withRebalancePaused(map: ClusterMap, paused: boolean): ClusterMap {
  if ((map.rebalancePaused === true) === paused) return map;
  const { rebalancePaused: _was, ...rest } = map;
  return { ...rest, epoch: map.epoch + 1, ...(paused ? { rebalancePaused: true } : {}) };
}
