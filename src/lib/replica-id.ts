/**
 * @module A replica's Raft id, distinct from its member's id once the member holds a shard a second time.
 *
 * A Raft group must never take back a server id whose earlier replica it removed: the new replica starts with an
 * empty log and no memory of its votes, and a stale member that never learnt of the removal could count its vote
 * or its acknowledgements (CockroachDB gives every replica a fresh id for this reason; etcd never reuses a member
 * id). So a member's replica of a shard gets id `member + incarnation × MEMBER_ID_LIMIT`, the incarnation counting
 * the times the member left that shard before (slots/cluster-map.ts `retired`). The first incarnation's id is the
 * member id itself, so groups created before replica ids existed keep theirs.
 *
 * Messages travel to a replica id's member (`memberOfReplica`); the replica drops one addressed to another
 * incarnation (raft.ts drops a message whose `to` is not its id).
 */

/** Replica ids of one member are congruent modulo this. */
export const MEMBER_ID_LIMIT = 0x100000;

/** The largest member id (below MEMBER_ID_LIMIT, so a replica id's member is its remainder): `shoal start --id`,
 * `--peers`, the embedded API and a join all refuse more. */
export const MEMBER_ID_MAX = 1_000_000;

/** Whether `id` can be a member's id. */
export function isMemberId(id: unknown): id is number {
  return Number.isSafeInteger(id) && (id as number) >= 1 && (id as number) <= MEMBER_ID_MAX;
}

/** The Raft id of `member`'s replica in its `incarnation` (0 for the first). */
export function replicaIdOf(member: number, incarnation: number): number {
  return member + incarnation * MEMBER_ID_LIMIT;
}

/** The member a replica id belongs to (the id itself for a member id, and for NO_NODE). */
export function memberOfReplica(replicaId: number): number {
  return replicaId % MEMBER_ID_LIMIT;
}
