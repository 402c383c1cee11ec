/**
 * @module The layout a node runs: which members hold each shard, as the newest cluster map it has learnt says
 * (slots/cluster-map.ts). It starts as the map every node computes from its identity (epoch 1: the slot map and
 * placement) and follows the maps the meta group records after it (replica moves, issue 13); a node never goes
 * back to an older epoch. Pure: the node opens and closes replicas from what it says.
 */
import { type ClusterMap, initialClusterMap, replicaIdIn, type ShardLayout } from "./cluster-map.js";
import type { Placement } from "./placement.js";
import { SlotMap } from "./slot-map.js";

type NodeId = number;

/** The meta group's id (node/cluster-map-keeper.ts): on every member, holding the map itself. */
const META_GROUP = 0;

export class ClusterLayout {
  readonly #placement: Placement;
  #map: ClusterMap;
  #byId = new Map<number, ShardLayout>();
  #slotMap: SlotMap;

  constructor(slotMap: SlotMap, placement: Placement) {
    this.#placement = placement;
    this.#map = initialClusterMap(slotMap, placement);
    this.#slotMap = slotMap;
    this.#index();
  }

  /** Which shard owns each slot now: a slot being moved is its source's until the move is done. */
  get slotMap(): SlotMap {
    return this.#slotMap;
  }

  get map(): ClusterMap {
    return this.#map;
  }

  get epoch(): number {
    return this.#map.epoch;
  }

  get shardCount(): number {
    return this.#map.shards.length;
  }

  /** Follows `map` if it is newer than the one run now; returns whether it did. */
  adopt(map: ClusterMap): boolean {
    if (map.epoch <= this.#map.epoch) return false;
    if (JSON.stringify(map.shards.map((s) => s.slots)) !== JSON.stringify(this.#map.shards.map((s) => s.slots))) {
      this.#slotMap = SlotMap.fromRanges(map.shards);
    }
    this.#map = map;
    this.#index();
    return true;
  }

  /** The members that should hold shard `id` (its voters once its moves are done). */
  replicasOf(id: number): readonly NodeId[] {
    return this.#shard(id).replicas;
  }

  /** The members being moved off shard `id` (they still hold a replica until the move is done). */
  leavingOf(id: number): readonly NodeId[] {
    return id === META_GROUP ? [] : (this.#shard(id).leaving ?? []);
  }

  /** The Raft id of `member`'s replica of group `groupId` (lib/replica-id.ts): the member id in the meta group
   * (a removed member never comes back) and in a shard it holds for the first time. */
  replicaIdOf(groupId: number, member: NodeId): NodeId {
    return groupId === META_GROUP ? member : replicaIdIn(this.#shard(groupId), member);
  }

  /** The Raft ids group `groupId` should count as voters: shard `groupId`'s replicas', or every member's for the
   * meta group. */
  votersOf(groupId: number): readonly NodeId[] {
    if (groupId === META_GROUP) return this.#map.members;
    const shard = this.#shard(groupId);
    return shard.replicas.map((member) => replicaIdIn(shard, member));
  }

  /** The Raft ids of the replicas being moved off group `groupId`. */
  leavingReplicasOf(groupId: number): readonly NodeId[] {
    if (groupId === META_GROUP) return [];
    const shard = this.#shard(groupId);
    return (shard.leaving ?? []).map((member) => replicaIdIn(shard, member));
  }

  /** Every member, ascending. */
  get members(): readonly NodeId[] {
    return this.#map.members;
  }

  /** The shards `member` runs a replica of: those it holds or is still leaving, ascending. */
  shardsOf(member: NodeId): number[] {
    return this.#map.shards
      .filter((shard) => shard.replicas.includes(member) || shard.leaving?.includes(member) === true)
      .map((shard) => shard.id)
      .sort((a, b) => a - b);
  }

  /** The member that should lead shard `id`: placement's choice while it still holds the shard, else the replica
   * that took its seat. */
  preferredLeader(id: number): NodeId {
    return preferredLeaderOf(this.#shard(id), this.#placement);
  }

  /** The Raft id of shard `id`'s preferred leader's replica (what the leader balancer hands leadership to). */
  preferredLeaderReplica(id: number): NodeId {
    const shard = this.#shard(id);
    return replicaIdIn(shard, preferredLeaderOf(shard, this.#placement));
  }

  /** `preferredLeader` for shards of any map (the rebalancer plans over maps it has not recorded yet). */
  get leaderOf(): (shard: ShardLayout) => NodeId {
    return (shard) => preferredLeaderOf(shard, this.#placement);
  }

  /** The voters shard `id`'s Raft group was created with: placement's for the cluster's first shards, the map's
   * `origin` for one split off later. */
  createdVoters(id: number): NodeId[] {
    const origin = this.#byId.get(id)?.origin;
    return [...(origin ?? this.#placement.replicasOf(id))].sort((a, b) => a - b);
  }

  /** The voters a replica of shard `id` opened empty starts from: the shard's voters at creation except `self`,
   * with `self` a learner. Replaying the group's log from its first entry turns that into the group's membership
   * today (each conf change sets one member's role), and a snapshot replaces it whole; a member that starts as a
   * learner never campaigns or votes before the group's own entries say it may. */
  joiningMembership(id: number, self: NodeId): { voters: NodeId[]; learners: NodeId[] } {
    const voters = this.createdVoters(id).filter((member) => member !== self);
    return { voters, learners: [this.replicaIdOf(id, self)] };
  }

  /** Whether `member`'s replica of shard `id` is the one the group was created with as a voter (at its creation,
   * and never moved off since). */
  createdWith(id: number, member: NodeId): boolean {
    return this.createdVoters(id).includes(member) && this.replicaIdOf(id, member) === member;
  }

  #shard(id: number): ShardLayout {
    const shard = this.#byId.get(id);
    if (shard === undefined) throw new RangeError(`No shard ${id}`);
    return shard;
  }

  #index(): void {
    this.#byId = new Map(this.#map.shards.map((shard) => [shard.id, shard]));
  }
}

/** The member that should lead `shard`: the one the rebalancer chose (the map's `leader`), else placement's choice
 * while it still holds the shard, else the replica that took its seat. */
export function preferredLeaderOf(shard: ShardLayout, placement: Placement): NodeId {
  const { replicas } = shard;
  if (shard.leader !== undefined && replicas.includes(shard.leader)) return shard.leader;
  // A shard split off after the cluster was created: placement knows nothing of it.
  if (shard.origin !== undefined || shard.id > placement.shardCount) return replicas[0] as NodeId;
  const placed = placement.preferredLeader(shard.id);
  if (replicas.includes(placed)) return placed;
  const seat = placement.replicasOf(shard.id).indexOf(placed);
  return replicas[seat] ?? (replicas[0] as NodeId);
}
