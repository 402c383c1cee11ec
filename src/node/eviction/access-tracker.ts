/**
 * @module What LRU and LFU eviction rank keys by: when each key was last used and how often, recorded by the node
 * that serves the request. Redis keeps 24 bits of this in every object; Shoal's records live in the store, so it
 * keeps them beside it in a fixed table indexed by a hash of the key (2^20 slots, 7 MiB): keys sharing a slot
 * share their figures, which only blurs the ranking of a few candidates, and memory does not grow with the keys.
 *
 * - LRU: a use counter instead of a clock, so keys used within the same millisecond still rank by order of use.
 * - LFU: Redis's logarithmic 8-bit counter (`lfu-log-factor` 10: a key needs ~1 M hits to saturate) that decays by
 *   one per `lfu-decay-time` minute idle; a key starts at 5 so a new key is not the first to go (Redis's
 *   LFU_INIT_VAL).
 *
 * Node-local and approximate by design: a key's uses are what reached this node, so the shard leader that picks
 * victims ranks by the uses it served (docs/redis-compat.md "Cache mode"). Not replicated state: the victims it
 * picks are replicated as `evict` entries.
 */

const SLOTS_LOG2_DEFAULT = 20;
const LFU_INIT = 5;
const LFU_LOG_FACTOR = 10;
const LFU_DECAY_MINUTES = 1;
const MINUTE_MS = 60_000;

export class AccessTracker {
  readonly #mask: number;
  /** The use count when the slot's key was last used; 0: never (since this node started). */
  readonly #lastUse: Uint32Array;
  readonly #frequency: Uint8Array;
  /** The minute (mod 2^16) the slot's frequency was last decayed. */
  readonly #decayedAt: Uint16Array;
  readonly #random: () => number;
  #uses = 0;

  constructor(random: () => number = Math.random, slotsLog2 = SLOTS_LOG2_DEFAULT) {
    this.#mask = (1 << slotsLog2) - 1;
    this.#lastUse = new Uint32Array(1 << slotsLog2);
    this.#frequency = new Uint8Array(1 << slotsLog2);
    this.#decayedAt = new Uint16Array(1 << slotsLog2);
    this.#random = random;
  }

  /** Records a use of `key` at `nowMs`. */
  touch(key: Uint8Array, nowMs: number): void {
    const slot = this.#slotOf(key);
    // Skips 0 on wrap-around: 0 means "never used".
    this.#uses = (this.#uses + 1) >>> 0 || 1;
    this.#lastUse[slot] = this.#uses;
    const frequency = this.#decayed(slot, nowMs);
    this.#frequency[slot] = frequency === 0 ? LFU_INIT : logIncrement(frequency, this.#random());
  }

  /** Uses since `key` was last used: higher is staler; a key never seen here ranks stalest. */
  idleUses(key: Uint8Array): number {
    const last = this.#lastUse[this.#slotOf(key)] ?? 0;
    return last === 0 ? 2 ** 32 : (this.#uses - last) >>> 0;
  }

  /** The key's decayed LFU counter (0 to 255): lower is less used; a key never seen here is 0. */
  frequency(key: Uint8Array, nowMs: number): number {
    return this.#decayed(this.#slotOf(key), nowMs);
  }

  #decayed(slot: number, nowMs: number): number {
    const frequency = this.#frequency[slot] ?? 0;
    const minute = Math.floor(nowMs / MINUTE_MS) & 0xffff;
    const idleMinutes = (minute - (this.#decayedAt[slot] ?? 0)) & 0xffff;
    this.#decayedAt[slot] = minute;
    const periods = Math.floor(idleMinutes / LFU_DECAY_MINUTES);
    const decayed = frequency === 0 ? 0 : Math.max(frequency - periods, 1);
    this.#frequency[slot] = decayed;
    return decayed;
  }

  /** FNV-1a: cheap on short keys, and any bias only merges two keys' figures. */
  #slotOf(key: Uint8Array): number {
    let hash = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ (key[i] as number), 0x01000193);
    return (hash >>> 0) & this.#mask;
  }
}

/** Redis's LFULogIncr: the counter grows with probability 1 / ((counter - 5) * factor + 1). */
function logIncrement(counter: number, random: number): number {
  if (counter === 255) return 255;
  const base = Math.max(counter - LFU_INIT, 0);
  return random < 1 / (base * LFU_LOG_FACTOR + 1) ? counter + 1 : counter;
}
