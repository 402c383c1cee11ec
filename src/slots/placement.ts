/**
 * @module Which members hold a replica of each shard (issue 12: placement with R < N). A shard's Raft group has R
 * voters; with N members and R < N each node holds only some shards, so a cluster of five stores each key three
 * times, not five, and two nodes down take out only the shards that had both of them.
 *
 * Today's placement is computed the same way on every node from the member ids, the shard count and R alone
 * (members agree without a round of agreement, like the slot map). Deal the sorted members round-robin into S·R
 * seats: shard s gets seats (s − 1)·R … s·R − 1, so every member holds ⌊S·R/N⌋ or ⌈S·R/N⌉ replicas and no shard
 * holds a member twice (R ≤ N). Each shard then prefers as leader the one of its replicas that leads the fewest
 * shards so far (in shard order; ties to the earlier seat), which keeps leadership within one too — the property
 * test checks both. Moving replicas
 * (issue 13) will record placement in the meta group under an epoch; this module's shape is what the node asks
 * of it either way. Pure: numbers in, numbers out.
 */

/** A member's id (raft/types.ts's NodeId; slots/ is below raft/ and imports nothing). */
type NodeId = number;

/** Replicas per shard when none is asked for (capped by the member count): a majority survives one failure. */
export const REPLICATION_FACTOR_DEFAULT = 3;
/** A Raft group larger than this only slows every write; Redis and etcd clusters stop short of it too. */
export const REPLICATION_FACTOR_MAX = 7;

export class Placement {
  /** Every member, ascending. */
  readonly memberIds: readonly NodeId[];
  readonly shardCount: number;
  /** Voters per shard (≤ the member count). */
  readonly replicationFactor: number;
  /** Each shard's replicas in seat order, and its preferred leader, by shard − 1 (computed once: routing asks
   * them on every request). */
  readonly #replicas: (readonly NodeId[])[] = [];
  readonly #leaders: NodeId[] = [];

  constructor(memberIds: readonly NodeId[], shardCount: number, replicationFactor: number) {
    if (memberIds.length === 0) throw new RangeError("A cluster has at least one member");
    if (!Number.isSafeInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > memberIds.length) {
      throw new RangeError(
        `A shard has 1 to ${memberIds.length} replicas on ${memberIds.length} members, not ${replicationFactor}`,
      );
    }
    this.memberIds = [...memberIds].sort((a, b) => a - b);
    this.shardCount = shardCount;
    this.replicationFactor = replicationFactor;
    const n = this.memberIds.length;
    const led = new Map<NodeId, number>(this.memberIds.map((id) => [id, 0]));
    for (let shard = 1; shard <= shardCount; shard++) {
      const first = (shard - 1) * replicationFactor;
      const replicas = Array.from({ length: replicationFactor }, (_, i) => this.memberIds[(first + i) % n] as NodeId);
      // The replica leading the fewest shards so far, the earlier seat on a tie.
      let leader = replicas[0] as NodeId;
      for (const id of replicas) if ((led.get(id) ?? 0) < (led.get(leader) ?? 0)) leader = id;
      led.set(leader, (led.get(leader) ?? 0) + 1);
      this.#replicas.push(replicas);
      this.#leaders.push(leader);
    }
  }

  /** The members holding shard `shard` (1-based), in seat order. */
  replicasOf(shard: number): readonly NodeId[] {
    const replicas = this.#replicas[shard - 1];
    if (replicas === undefined) throw new RangeError(`No shard ${shard}`);
    return replicas;
  }

  /** The member that should lead `shard` when it is up and caught up. */
  preferredLeader(shard: number): NodeId {
    const leader = this.#leaders[shard - 1];
    if (leader === undefined) throw new RangeError(`No shard ${shard}`);
    return leader;
  }

  /** The shards `member` holds a replica of, ascending. */
  shardsOf(member: NodeId): number[] {
    const shards: number[] = [];
    for (let shard = 1; shard <= this.shardCount; shard++) {
      if (this.replicasOf(shard).includes(member)) shards.push(shard);
    }
    return shards;
  }
}

/** Why this placement cannot run — a member left without any shard could neither answer for itself nor tell
 * its status — or undefined when it can. */
export function placementProblem(
  memberIds: readonly NodeId[],
  shardCount: number,
  replicationFactor: number,
): string | undefined {
  const placement = new Placement(memberIds, shardCount, replicationFactor);
  const idle = placement.memberIds.filter((id) => placement.shardsOf(id).length === 0);
  if (idle.length === 0) return undefined;
  return (
    `${shardCount} shard(s) of ${replicationFactor} replica(s) leave members ${idle.join(", ")} of ` +
    `${placement.memberIds.length} without a shard: use at least ` +
    `${Math.ceil(placement.memberIds.length / replicationFactor)} shards, or more replicas`
  );
}

/** The replication factor a cluster of `memberCount` members and `shardCount` shards gets when none is asked for:
 * 3 (capped by the members), or more where fewer would leave a member without any shard (one shard on five
 * members is held by all five, as before placement). */
export function defaultReplicationFactor(memberCount: number, shardCount: number): number {
  return Math.min(memberCount, Math.max(REPLICATION_FACTOR_DEFAULT, Math.ceil(memberCount / shardCount)));
}
