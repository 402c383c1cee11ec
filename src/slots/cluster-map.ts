/**
 * @module The cluster map: the members, which shard owns which slots, and which members hold each shard, under an
 * epoch that grows with every change. The meta group (Raft group 0, on every member) records it
 * (node/cluster-map-keeper.ts); the first one is what every node computes from its identity — the slot map
 * (slot-map.ts) and placement (placement.ts) — and changes to it (slot and replica moves, members joining and
 * leaving: issue 13) go through the meta group. Pure: its JSON form and the checks on it.
 */
import { SLOT_COUNT } from "./hash-slot.js";
import type { Placement } from "./placement.js";
import type { SlotMap, SlotRange } from "./slot-map.js";

/** A member's id (raft/types.ts's NodeId; slots/ is below raft/ and imports nothing). */
type NodeId = number;

export interface ShardLayout {
  readonly id: number;
  readonly slots: readonly SlotRange[];
  /** The members holding it, in placement's seat order. */
  readonly replicas: readonly NodeId[];
}

export interface ClusterMap {
  /** 1 for the map a cluster is created with; each change records the next. */
  readonly epoch: number;
  /** Every member, ascending. */
  readonly members: readonly NodeId[];
  readonly shards: readonly ShardLayout[];
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
  const owner = new Int32Array(SLOT_COUNT).fill(-1);
  for (const shard of map.shards as Partial<ShardLayout>[]) {
    if (
      !isId(shard.id) ||
      !Array.isArray(shard.replicas) ||
      shard.replicas.length === 0 ||
      !shard.replicas.every((id) => map.members?.includes(id)) ||
      !Array.isArray(shard.slots)
    ) {
      throw new RangeError(`The cluster map's shard ${String(shard.id)} is malformed`);
    }
    for (const range of shard.slots) {
      const { from, to } = range as Partial<SlotRange>;
      if (!Number.isInteger(from) || !Number.isInteger(to) || (from as number) < 0 || (to as number) >= SLOT_COUNT) {
        throw new RangeError(`The cluster map's shard ${shard.id} has a bad slot range`);
      }
      for (let slot = from as number; slot <= (to as number); slot++) {
        if (owner[slot] !== -1) throw new RangeError(`Slot ${slot} has two owners in the cluster map`);
        owner[slot] = shard.id;
      }
    }
  }
  const unowned = owner.indexOf(-1);
  if (unowned !== -1) throw new RangeError(`Slot ${unowned} has no owner in the cluster map`);
  return map as ClusterMap;
}
