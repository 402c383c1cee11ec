/**
 * @module The cluster map: the members, which shard owns which slots, and which members hold each shard, under an
 * epoch that grows with every change. The meta group (Raft group 0, on every member) records it
 * (node/cluster-map-keeper.ts); the first one is what every node computes from its identity — the slot map
 * (slot-map.ts) and placement (placement.ts) — and changes to it (slot and replica moves, members joining and
 * leaving: issue 13) go through the meta group. Pure: its JSON form and the checks on it.
 */
import { memberOfReplica, replicaIdOf } from "../lib/replica-id.js";
import type { Placement } from "./placement.js";
import { SlotMap, type SlotRange } from "./slot-map.js";

/** A member's id (raft/types.ts's NodeId; slots/ is below raft/ and imports nothing). */
type NodeId = number;

export interface ShardLayout {
  readonly id: number;
  readonly slots: readonly SlotRange[];
  /** The members that should hold it: its Raft group's voters once every move of it is done (placement's seat
   * order at epoch 1; a moved replica takes the seat of the one it replaces). */
  readonly replicas: readonly NodeId[];
  /** Members being moved off it: they keep their replica until its group no longer counts them
   * (node/replica-mover.ts), then the map drops them here and they delete it. Absent when none. */
  readonly leaving?: readonly NodeId[];
  /** The members that took the leaving members' seats, in the same order (absent when none leave). */
  readonly arriving?: readonly NodeId[];
  /** The replica ids (lib/replica-id.ts) of replicas moved off it. A member that takes the shard back gets the
   * next incarnation's id, because a Raft group must not take back a server id whose earlier replica it removed —
   * a stale member that never learnt of the removal could count the new, empty replica's vote (CockroachDB gives
   * each replica a fresh id for the same reason). Absent when none. */
  readonly retired?: readonly NodeId[];
  /** The member that should lead it, when the rebalancer chose one (slots/rebalance-plan.ts); absent: placement's
   * choice while that member holds it, else the replica in its seat (cluster-layout.ts preferredLeaderOf). */
  readonly leader?: NodeId;
  /** For a shard added after the cluster was created (a split: withShardSplit), the voters its Raft group was
   * created with (placement knows only the first shards'). */
  readonly origin?: readonly NodeId[];
  /** Set when the shard is being merged into another: its slots move away, then the map drops it
   * (withShardRemoved). */
  readonly retiring?: boolean;
}

/** Where a member that joined after the cluster was created listens (the first members know each other from
 * their --peers). */
export interface JoinedAddress {
  readonly peer: string;
  readonly http: string;
}

export interface ClusterMap {
  /** 1 for the map a cluster is created with; each change records the next. */
  readonly epoch: number;
  /** Every member, ascending. */
  readonly members: readonly NodeId[];
  readonly shards: readonly ShardLayout[];
  /** The addresses of the members that joined, by id (absent while none has). */
  readonly joined?: Readonly<Record<string, JoinedAddress>>;
  /** Members being drained to be removed (`shoal node remove`): the rebalancer moves every replica off them, then
   * records them removed. Absent while none is. */
  readonly draining?: readonly NodeId[];
  /** Members removed from the cluster: their ids are never given again (withMemberJoined). */
  readonly removed?: readonly NodeId[];
  /** Whether the rebalancer is paused (drains still run: slots/rebalance-plan.ts). */
  readonly rebalancePaused?: boolean;
  /** The highest shard id ever given: a shard merged away never gives its id to a new one (a member still holding
   * the old group's files must not take them for the new group's). Absent: the highest id in `shards`. */
  readonly lastShardId?: number;
  /** Slots being moved between shards, in the order they were asked for (node/slot-mover.ts moves them one at a
   * time); a slot stays its `from` shard's in `shards` until its move is done. Absent while none is. */
  readonly migrations?: readonly SlotMigration[];
}

/** A slot moving from shard `from` to shard `to`, recorded at map epoch `epoch` (the move's identity: its steps
 * carry it, store/slot-states.ts). */
export interface SlotMigration {
  readonly slot: number;
  readonly from: number;
  readonly to: number;
  readonly epoch: number;
}

/** The map a cluster starts with: its slot map and placement at epoch 1. */
export function initialClusterMap(slotMap: SlotMap, placement: Placement): ClusterMap {
  return {
    epoch: 1,
    members: [...placement.memberIds],
    shards: slotMap.shards().map((id) => ({ id, slots: slotMap.rangesOf(id), replicas: placement.replicasOf(id) })),
  };
}

/** Whether two maps place the same slots on the same replicas (their epochs aside). */
export function sameLayout(a: ClusterMap, b: ClusterMap): boolean {
  return JSON.stringify({ ...a, epoch: 0 }) === JSON.stringify({ ...b, epoch: 0 });
}

export function encodeClusterMap(map: ClusterMap): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(map));
}

/** Whether `ids` is absent or a list of member ids that each pass `test`. */
function optionalIds(ids: unknown, test: (id: NodeId) => boolean): boolean {
  if (ids === undefined) return true;
  return Array.isArray(ids) && ids.every((id) => Number.isSafeInteger(id) && id >= 1 && test(id));
}

/** A recorded map, checked: every slot owned by exactly one shard, every replica a member, no shard without
 * one. Throws a RangeError saying what is wrong otherwise. */
export function parseClusterMap(bytes: Uint8Array): ClusterMap {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new RangeError("The cluster map is not JSON");
  }
  const map = value as Partial<ClusterMap> | null;
  const isId = (id: unknown): id is NodeId => Number.isSafeInteger(id) && (id as number) >= 1;
  if (
    map === null ||
    typeof map !== "object" ||
    !Number.isSafeInteger(map.epoch) ||
    (map.epoch as number) < 1 ||
    !Array.isArray(map.members) ||
    !map.members.every(isId) ||
    !Array.isArray(map.shards)
  ) {
    throw new RangeError("The cluster map lacks an epoch, members or shards");
  }
  if (
    !optionalIds(map.draining, (id) => map.members?.includes(id) === true) ||
    !optionalIds(map.removed, (id) => map.members?.includes(id) !== true) ||
    !(map.rebalancePaused === undefined || typeof map.rebalancePaused === "boolean")
  ) {
    throw new RangeError("The cluster map's draining, removed or paused members are malformed");
  }
  for (const [id, address] of Object.entries(map.joined ?? {})) {
    const { peer, http } = (address ?? {}) as Partial<JoinedAddress>;
    if (!map.members.includes(Number(id)) || typeof peer !== "string" || typeof http !== "string") {
      throw new RangeError(`The cluster map's address of joined member ${id} is malformed`);
    }
  }
  for (const shard of map.shards as Partial<ShardLayout>[]) {
    if (
      !isId(shard.id) ||
      !Array.isArray(shard.replicas) ||
      shard.replicas.length === 0 ||
      !shard.replicas.every((id) => map.members?.includes(id)) ||
      new Set(shard.replicas).size !== shard.replicas.length ||
      !optionalIds(shard.leaving, (id) => !shard.replicas?.includes(id)) ||
      !optionalIds(shard.retired, () => true) ||
      !optionalIds(shard.arriving, (id) => shard.replicas?.includes(id) === true) ||
      !(shard.leader === undefined || shard.replicas.includes(shard.leader)) ||
      !optionalIds(shard.origin, () => true) ||
      !(shard.retiring === undefined || shard.retiring === true) ||
      !Array.isArray(shard.slots)
    ) {
      throw new RangeError(`The cluster map's shard ${String(shard.id)} is malformed`);
    }
  }
  // Every slot owned by exactly one shard, each range well formed (the table the node routes by: slot-map.ts).
  let slotMap: SlotMap;
  try {
    slotMap = SlotMap.fromRanges(map.shards as ShardLayout[]);
  } catch (error) {
    throw new RangeError(`The cluster map's slots are wrong: ${(error as Error).message}`);
  }
  if (map.migrations !== undefined) {
    const seen = new Set<number>();
    const wellFormed =
      Array.isArray(map.migrations) &&
      map.migrations.every((m: Partial<SlotMigration> | null) => {
        const ok =
          m !== null &&
          typeof m === "object" &&
          Number.isInteger(m.slot) &&
          !seen.has(m.slot as number) &&
          (m.slot as number) >= 0 &&
          (m.slot as number) < 16384 &&
          slotMap.shardOf(m.slot as number) === m.from &&
          map.shards?.some((shard) => shard.id === m.to) === true &&
          m.to !== m.from &&
          Number.isSafeInteger(m.epoch) &&
          (m.epoch as number) >= 1 &&
          (m.epoch as number) <= (map.epoch as number);
        if (ok) seen.add(m.slot as number);
        return ok;
      });
    if (!wellFormed) throw new RangeError("The cluster map's slot migrations are malformed");
  }
  return map as ClusterMap;
}

/**
 * The map after moving shard `shardId`'s replica from member `from` to member `to` (the next epoch): `to` takes
 * `from`'s seat among the replicas and `from` is listed as leaving until the move is done. Throws a RangeError
 * saying why when the move makes no sense: an unknown shard or member, `from` not holding it, `to` already
 * holding it, or a move of that shard still in progress (one at a time per shard, so no step of one can cost the
 * group its majority while another runs).
 */
export function withReplicaMoved(map: ClusterMap, shardId: number, from: NodeId, to: NodeId): ClusterMap {
  const shard = map.shards.find((each) => each.id === shardId);
  if (shard === undefined) throw new RangeError(`There is no shard ${shardId}`);
  if (!map.members.includes(to)) throw new RangeError(`Node ${to} is not a member`);
  if (!shard.replicas.includes(from)) throw new RangeError(`Node ${from} holds no replica of shard ${shardId}`);
  if (shard.replicas.includes(to)) throw new RangeError(`Node ${to} already holds a replica of shard ${shardId}`);
  const leaving = shard.leaving ?? [];
  // While a move runs, only its reverse may start (the replica back from the member it went to, to the member
  // still leaving): the way out of a move whose new member cannot catch up.
  const reverse = leaving.length === 1 && leaving[0] === to && shard.arriving?.[0] === from;
  if (leaving.length > 0 && !reverse) {
    throw new RangeError(`Shard ${shardId} is still moving a replica off node ${leaving.join(", ")}`);
  }
  if (map.draining?.includes(to) === true) throw new RangeError(`Node ${to} is being removed`);
  const moved: ShardLayout = {
    ...shard,
    replicas: shard.replicas.map((id) => (id === from ? to : id)),
    leaving: [from],
    arriving: [to],
    // The member taking the seat takes the leadership the rebalancer gave the one leaving.
    ...(shard.leader === from ? { leader: to } : {}),
  };
  return { ...map, epoch: map.epoch + 1, shards: map.shards.map((each) => (each.id === shardId ? moved : each)) };
}

/** The Raft id of `member`'s replica of `shard`: its incarnation counts the replicas it had there before. */
export function replicaIdIn(shard: ShardLayout, member: NodeId): NodeId {
  let incarnation = 0;
  for (const id of shard.retired ?? []) if (memberOfReplica(id) === member) incarnation++;
  return replicaIdOf(member, incarnation);
}

/** The map once shard `shardId`'s group no longer counts `member` (a leaving replica): the next epoch. Throws a
 * RangeError when `member` is not leaving it. */
export function withReplicaLeft(map: ClusterMap, shardId: number, member: NodeId): ClusterMap {
  // Refused when already recorded (another leader of the shard got there first): a move is finished once.
  const leavingShard = map.shards.find((shard) => shard.id === shardId);
  if (leavingShard?.leaving?.includes(member) !== true) {
    throw new RangeError(`Node ${member} is not leaving shard ${shardId}`);
  }
  const shards = map.shards.map((shard) => {
    if (shard.id !== shardId || shard.leaving?.includes(member) !== true) return shard;
    const { leaving, arriving, ...rest } = shard;
    const at = leaving.indexOf(member);
    const retired = [...(shard.retired ?? []), replicaIdIn(shard, member)];
    const still = leaving.filter((_, i) => i !== at);
    if (still.length === 0) return { ...rest, retired };
    return { ...rest, leaving: still, arriving: (arriving ?? []).filter((_, i) => i !== at), retired };
  });
  return { ...map, epoch: map.epoch + 1, shards };
}

/** The map with `slots` set to move to shard `to` (the next epoch; slots already there are left out). Throws a
 * RangeError when `to` is no shard, a slot is already moving, or a shard would be left without a slot (a shard
 * with no slot is a merge: not built yet). Returns `map` itself when there is nothing to move. */
export function withSlotsMigrating(map: ClusterMap, slots: readonly number[], to: number): ClusterMap {
  const target = map.shards.find((shard) => shard.id === to);
  if (target === undefined) throw new RangeError(`There is no shard ${to}`);
  if (target.retiring === true) throw new RangeError(`Shard ${to} is being merged away`);
  const slotMap = SlotMap.fromRanges(map.shards);
  const moving = new Set((map.migrations ?? []).map((m) => m.slot));
  const added: SlotMigration[] = [];
  for (const slot of new Set(slots)) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= 16384) throw new RangeError(`There is no slot ${slot}`);
    if (moving.has(slot)) throw new RangeError(`Slot ${slot} is already moving`);
    const from = slotMap.shardOf(slot);
    if (from !== to) added.push({ slot, from, to, epoch: map.epoch + 1 });
  }
  if (added.length === 0) return map;
  // Every shard keeps a slot once every move (those asked before included) is done.
  const after = new Uint16Array(16384);
  for (let slot = 0; slot < 16384; slot++) after[slot] = slotMap.shardOf(slot);
  for (const m of [...(map.migrations ?? []), ...added]) after[m.slot] = m.to;
  for (const shard of map.shards) {
    // A shard with no slot yet (just split off) or being merged away may have none; no other may lose its last.
    const hadSlots = slotMap.rangesOf(shard.id).length > 0;
    if (hadSlots && shard.retiring !== true && !after.includes(shard.id)) {
      throw new RangeError(`Shard ${shard.id} would be left without a slot (merge it instead)`);
    }
  }
  return { ...map, epoch: map.epoch + 1, migrations: [...(map.migrations ?? []), ...added] };
}

/** The map once the moves of `slots` are done: each slot is its destination's (the next epoch). Throws a RangeError
 * when one is not moving (another driver recorded it first). */
export function withSlotsMoved(map: ClusterMap, slots: readonly number[]): ClusterMap {
  const slotMap = SlotMap.fromRanges(map.shards);
  const table = new Uint16Array(16384);
  for (let each = 0; each < 16384; each++) table[each] = slotMap.shardOf(each);
  const done = new Set(slots);
  for (const slot of done) {
    const migration = map.migrations?.find((m) => m.slot === slot);
    if (migration === undefined) throw new RangeError(`Slot ${slot} is not moving`);
    table[slot] = migration.to;
  }
  const moved = new SlotMap(map.shards.length, table);
  const migrations = (map.migrations ?? []).filter((m) => !done.has(m.slot));
  const { migrations: _, ...rest } = map;
  return {
    ...rest,
    epoch: map.epoch + 1,
    shards: map.shards.map((shard) => ({ ...shard, slots: moved.rangesOf(shard.id) })),
    ...(migrations.length > 0 ? { migrations } : {}),
  };
}

/** The highest shard id the map ever gave. */
function lastShardIdOf(map: ClusterMap): number {
  return Math.max(map.lastShardId ?? 0, ...map.shards.map((shard) => shard.id));
}

/** The first `count` of `sorted`'s slots to move so the moved part holds about half of the keys (`keysOf`), or
 * half of the slots when every slot counts 0. */
function upperHalf(sorted: readonly number[], keysOf: (slot: number) => number): number[] {
  const counts = sorted.map(keysOf);
  const total = counts.reduce((sum, n) => sum + n, 0);
  if (total === 0) return sorted.slice(Math.ceil(sorted.length / 2));
  let below = 0;
  let cut = 0;
  while (cut < sorted.length - 1 && below + (counts[cut] as number) <= total / 2) below += counts[cut++] as number;
  return sorted.slice(Math.max(cut, 1));
}

/**
 * Splits shard `id` in two (the next epoch): a new shard (the next unused id) is created on the same members, led
 * by another of them where it can, and the upper part of `id`'s slots — about half of its keys by `keysOf` —
 * moves to it (slot moves, as withSlotsMigrating records them). Throws a RangeError for an unknown shard, one
 * with fewer than two slots, or one with slots moving.
 */
export function withShardSplit(map: ClusterMap, id: number, keysOf: (slot: number) => number = () => 0): ClusterMap {
  const shard = map.shards.find((each) => each.id === id);
  if (shard === undefined) throw new RangeError(`There is no shard ${id}`);
  if (shard.retiring === true) throw new RangeError(`Shard ${id} is being merged away`);
  if ((map.migrations ?? []).some((m) => m.from === id || m.to === id)) {
    throw new RangeError(`Shard ${id} has slots moving; split it once they are done`);
  }
  const owned = SlotMap.fromRanges(map.shards)
    .rangesOf(id)
    .flatMap(({ from, to }) => Array.from({ length: to - from + 1 }, (_, i) => from + i));
  if (owned.length < 2) throw new RangeError(`Shard ${id} has ${owned.length} slot: nothing to split`);
  if (map.shards.length >= 1024) throw new RangeError("A cluster has at most 1024 shards");
  const newId = lastShardIdOf(map) + 1;
  const replicas = [...shard.replicas];
  const leader = replicas.find((member) => member !== shard.leader && member !== replicas[0]) ?? replicas[0];
  const added: ShardLayout = {
    id: newId,
    slots: [],
    replicas,
    origin: replicas,
    ...(leader === undefined ? {} : { leader }),
  };
  const withShard: ClusterMap = { ...map, lastShardId: newId, shards: [...map.shards, added] };
  return { ...withSlotsMigrating(withShard, upperHalf(owned, keysOf), newId), epoch: map.epoch + 1 };
}

/** Merges shard `id` into shard `into` (the next epoch): `id` is marked retiring and every slot of it moves to
 * `into`; once it holds none, the slot mover records its removal (withShardRemoved). */
export function withShardMerged(map: ClusterMap, id: number, into: number): ClusterMap {
  const shard = map.shards.find((each) => each.id === id);
  if (shard === undefined) throw new RangeError(`There is no shard ${id}`);
  if (id === into) throw new RangeError("A shard cannot be merged into itself");
  if (shard.retiring === true) throw new RangeError(`Shard ${id} is already being merged away`);
  if ((map.migrations ?? []).some((m) => m.to === id)) {
    throw new RangeError(`Slots are moving to shard ${id}; merge it once they are done`);
  }
  const retiring: ClusterMap = {
    ...map,
    shards: map.shards.map((each) => (each.id === id ? { ...each, retiring: true } : each)),
  };
  const moving = new Set((map.migrations ?? []).map((m) => m.slot));
  const slots = SlotMap.fromRanges(map.shards)
    .rangesOf(id)
    .flatMap(({ from, to }) => Array.from({ length: to - from + 1 }, (_, i) => from + i))
    .filter((slot) => !moving.has(slot));
  const next = withSlotsMigrating(retiring, slots, into);
  return { ...next, epoch: map.epoch + 1 };
}

/** The map without shard `id` (the next epoch): it must be retiring, own no slot and have none moving. Its
 * members then delete their replicas. */
export function withShardRemoved(map: ClusterMap, id: number): ClusterMap {
  const shard = map.shards.find((each) => each.id === id);
  if (shard === undefined) throw new RangeError(`There is no shard ${id}`);
  if (shard.retiring !== true) throw new RangeError(`Shard ${id} is not being merged away`);
  if (SlotMap.fromRanges(map.shards).rangesOf(id).length > 0 || (map.migrations ?? []).some((m) => m.from === id)) {
    throw new RangeError(`Shard ${id} still holds slots`);
  }
  return {
    ...map,
    epoch: map.epoch + 1,
    lastShardId: lastShardIdOf(map),
    shards: map.shards.filter((each) => each.id !== id),
  };
}

/** A shard being merged away that holds no slot and has none moving (withShardRemoved may drop it), if any. */
export function emptyRetiringShard(map: ClusterMap): number | undefined {
  const retiring = map.shards.filter((shard) => shard.retiring === true);
  if (retiring.length === 0) return undefined;
  const slotMap = SlotMap.fromRanges(map.shards);
  return retiring.find(
    (shard) => slotMap.rangesOf(shard.id).length === 0 && !(map.migrations ?? []).some((m) => m.from === shard.id),
  )?.id;
}
