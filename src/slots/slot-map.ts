/**
 * @module Which shard owns each hash slot. A new cluster's map is the even split: S shards own S contiguous
 * ranges within one slot of equal, as redis-cli splits them among masters (evenRange), computed the same way on
 * every node from the shard count alone. Once slots move between shards (issue 13, docs/architecture.md "Moving
 * slots"), the cluster map's per-shard ranges are the table (`SlotMap.fromRanges`); this module's shape — slot to
 * shard, shard to ranges — is what the rest of the node asks of it either way. Pure: numbers in, numbers out.
 */
import { SLOT_COUNT } from "./hash-slot.js";

/** The most shards a cluster may have: each needs at least one slot, and each is a Raft group on every replica. */
export const SHARD_COUNT_MAX = 1024;

/** A run of slots, both ends included (Redis's CLUSTER SLOTS form). */
export interface SlotRange {
  readonly from: number;
  readonly to: number;
}

export class SlotMap {
  readonly shardCount: number;
  /** shard id (1-based) of each slot. */
  readonly #shardOfSlot: Uint16Array;
  /** Every shard id, ascending. */
  readonly #shards: readonly number[];

  /** The even split of the slots over shards 1 … `shardCount` (a new cluster's map). */
  constructor(shardCount: number, table?: Uint16Array) {
    if (!Number.isSafeInteger(shardCount) || shardCount < 1 || shardCount > SHARD_COUNT_MAX) {
      throw new RangeError(`A cluster has 1 to ${SHARD_COUNT_MAX} shards, not ${shardCount}`);
    }
    this.shardCount = shardCount;
    if (table !== undefined) {
      this.#shardOfSlot = table;
      this.#shards = [...new Set(table)].sort((a, b) => a - b);
      return;
    }
    this.#shardOfSlot = new Uint16Array(SLOT_COUNT);
    for (let shard = 1; shard <= shardCount; shard++) {
      const { from, to } = evenRange(shard, shardCount);
      this.#shardOfSlot.fill(shard, from, to + 1);
    }
    this.#shards = Array.from({ length: shardCount }, (_, i) => i + 1);
  }

  /**
   * The map whose shards own `owned` (a cluster map's shards after slot moves: cluster-map.ts). Throws a
   * RangeError unless every slot has exactly one owner. A shard may own none (one just split off, before slots
   * move to it, or one being merged away): it is left out of `shards()`.
   */
  static fromRanges(owned: readonly { readonly id: number; readonly slots: readonly SlotRange[] }[]): SlotMap {
    const table = new Uint16Array(SLOT_COUNT);
    for (const { id, slots } of owned) {
      if (!Number.isSafeInteger(id) || id < 1 || id > 0xffff) throw new RangeError(`No shard id ${id}`);
      for (const { from, to } of slots) {
        if (!Number.isInteger(from) || !Number.isInteger(to) || from < 0 || to >= SLOT_COUNT || from > to) {
          throw new RangeError(`Shard ${id} has a bad slot range ${from}-${to}`);
        }
        for (let slot = from; slot <= to; slot++) {
          if (table[slot] !== 0) throw new RangeError(`Slot ${slot} has two owners`);
          table[slot] = id;
        }
      }
    }
    const unowned = table.indexOf(0);
    if (unowned !== -1) throw new RangeError(`Slot ${unowned} has no owner`);
    return new SlotMap(owned.length, table);
  }

  /** The shard (1 … shardCount) that owns `slot`. */
  shardOf(slot: number): number {
    const shard = this.#shardOfSlot[slot];
    if (shard === undefined || !Number.isInteger(slot)) throw new RangeError(`No slot ${slot}`);
    return shard;
  }

  /** The slots `shard` owns, as ranges in slot order. */
  rangesOf(shard: number): SlotRange[] {
    const ranges: SlotRange[] = [];
    let from = -1;
    for (let slot = 0; slot <= SLOT_COUNT; slot++) {
      const owned = slot < SLOT_COUNT && this.#shardOfSlot[slot] === shard;
      if (owned && from < 0) from = slot;
      if (!owned && from >= 0) {
        ranges.push({ from, to: slot - 1 });
        from = -1;
      }
    }
    return ranges;
  }

  /** A copy of the shard id of every slot, by slot. */
  table(): Uint16Array {
    return this.#shardOfSlot.slice();
  }

  /** Every shard id, in order. */
  shards(): number[] {
    return [...this.#shards];
  }
}

/** Redis's own split (redis-cli's cluster create: lround of the running share, the last shard to the end), so
 * three shards own 0-5460, 5461-10922 and 10923-16383 as a three-master Redis Cluster does. */
function evenRange(shard: number, shardCount: number): SlotRange {
  const lastOf = (s: number): number =>
    s === shardCount ? SLOT_COUNT - 1 : Math.round((s * SLOT_COUNT) / shardCount - 1);
  return { from: shard === 1 ? 0 : lastOf(shard - 1) + 1, to: lastOf(shard) };
}
