/**
 * @module Which shard owns each hash slot. Today's map is static: S shards split the 16384 slots into S contiguous
 * ranges within one slot of equal, as redis-cli splits them among masters (evenRange), computed the same way on
 * every node from the shard count alone, so members agree without a round of agreement. The meta group will hold
 * a versioned map that slot moves change (issues 12 and 13); this module's shape — slot to shard, shard to ranges —
 * is what the rest of the node asks of it either way. Pure: numbers in, numbers out.
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

  constructor(shardCount: number) {
    if (!Number.isSafeInteger(shardCount) || shardCount < 1 || shardCount > SHARD_COUNT_MAX) {
      throw new RangeError(`A cluster has 1 to ${SHARD_COUNT_MAX} shards, not ${shardCount}`);
    }
    this.shardCount = shardCount;
    this.#shardOfSlot = new Uint16Array(SLOT_COUNT);
    for (let shard = 1; shard <= shardCount; shard++) {
      const { from, to } = evenRange(shard, shardCount);
      this.#shardOfSlot.fill(shard, from, to + 1);
    }
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

  /** Every shard id, in order. */
  shards(): number[] {
    return Array.from({ length: this.shardCount }, (_, i) => i + 1);
  }
}

/** Redis's own split (redis-cli's cluster create: lround of the running share, the last shard to the end), so
 * three shards own 0-5460, 5461-10922 and 10923-16383 as a three-master Redis Cluster does. */
function evenRange(shard: number, shardCount: number): SlotRange {
  const lastOf = (s: number): number =>
    s === shardCount ? SLOT_COUNT - 1 : Math.round((s * SLOT_COUNT) / shardCount - 1);
  return { from: shard === 1 ? 0 : lastOf(shard - 1) + 1, to: lastOf(shard) };
}
