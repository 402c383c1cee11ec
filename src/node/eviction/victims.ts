/**
 * @module Which keys an over-`maxmemory` shard leader evicts next: Redis's sampled approximation
 * (https://redis.io/docs/reference/eviction/, `evictionPoolPopulate`). It samples `samples` keys per key to
 * evict, ranks the sample by the policy, and takes the best — the more samples, the closer to true LRU/LFU.
 * `volatile-ttl` reads the store's expiry index, soonest first, which is exact rather than sampled.
 */
import { keyId } from "../../lib/bytes.js";
import { SLOT_COUNT } from "../../slots/hash-slot.js";
import type { KeyValue } from "../../store/record.js";
import type { StateMachineStore } from "../../store/state-machine-store.js";
import type { AccessTracker } from "./access-tracker.js";
import { type EvictionPolicy, volatileOnly } from "./eviction-policy.js";

/** A key chosen for eviction, with the modRevision it had (the evict entry deletes it only if unchanged). */
export interface Victim {
  readonly key: Uint8Array;
  readonly modRevision: number;
  /** Its key and value bytes: what its eviction frees of the estimate (memory-estimate.ts). */
  readonly bytes: number;
}

/** Keys read per round: bounds one round's work on the event loop (it reads the store synchronously). */
export const SAMPLED_KEYS_MAX = 512;
/** A store this small is read whole (the sample is every key) instead of sampled slot by slot. */
const LIST_WHOLE_KEYS_MAX = 2048;
/** Keys read from one random point of the slot index (see sampleKeys). */
const SLOT_RUN = 16;

export interface VictimQuery {
  readonly store: StateMachineStore;
  readonly policy: Exclude<EvictionPolicy, "noeviction">;
  readonly samples: number;
  /** Victims wanted (at most SAMPLED_KEYS_MAX / samples are found per call). */
  readonly count: number;
  readonly tracker: AccessTracker;
  readonly random: () => number;
  readonly nowMs: number;
}

/** Up to `count` victims, best first (fewer when the store holds no candidate: a volatile policy without keys
 * that expire). */
export function chooseVictims(query: VictimQuery): Victim[] {
  const { store, policy, samples, count, nowMs } = query;
  const candidates = new Map<string, { readonly victim: Victim; readonly score: number }>();
  const consider = (kv: KeyValue | undefined): void => {
    if (kv === undefined || (volatileOnly(policy) && kv.expiresAtMs === 0)) return;
    const id = keyId(kv.key);
    if (candidates.has(id)) return;
    const victim = { key: kv.key, modRevision: kv.modRevision, bytes: kv.key.length + kv.value.length };
    candidates.set(id, { victim, score: scoreOf(query, kv) });
  };
  const wanted = Math.max(1, Math.min(count, Math.floor(SAMPLED_KEYS_MAX / samples)));
  if (policy !== "volatile-ttl") {
    for (const key of sampleKeys(store, wanted * samples, query.random)) consider(store.get(key, nowMs));
  }
  // The expiry index, soonest first: volatile-ttl's exact order, and the candidates a volatile policy falls back
  // on when few sampled keys expire.
  if (volatileOnly(policy) && candidates.size < wanted) {
    for (const key of store.expiredKeys(Number.MAX_SAFE_INTEGER, wanted)) consider(store.get(key, nowMs));
  }
  return [...candidates.values()]
    .sort((a, b) => b.score - a.score)
    .slice(0, wanted)
    .map(({ victim }) => victim);
}

/** Higher evicts first. */
function scoreOf(query: VictimQuery, kv: KeyValue): number {
  switch (query.policy) {
    case "allkeys-lru":
    case "volatile-lru":
      return query.tracker.idleUses(kv.key);
    case "allkeys-lfu":
    case "volatile-lfu":
      // Least frequent first; among equals, the stalest.
      return (256 - query.tracker.frequency(kv.key, query.nowMs)) * 2 ** 33 + query.tracker.idleUses(kv.key);
    case "volatile-ttl":
      return -kv.expiresAtMs;
    case "allkeys-random":
    case "volatile-random":
      return query.random();
  }
}

/**
 * About `count` keys of the store drawn at random (repeats possible). A small store is listed whole. Otherwise each
 * draw picks a random hash slot and reads the next SLOT_RUN keys from there in (slot, key) order: since a key's slot
 * is a hash of it, a run crosses unrelated keys, and each run is one cursor seek (a draw per key, slot by slot,
 * cost ~40 ms a round on a sparse keyspace). Slots after an empty stretch are drawn more often: a bias the
 * ranking tolerates, as Redis's own sampling of its hash table's buckets does.
 */
export function sampleKeys(store: StateMachineStore, count: number, random: () => number): Uint8Array[] {
  const keyCount = store.stats().keyCount;
  if (keyCount === 0) return [];
  if (keyCount <= LIST_WHOLE_KEYS_MAX) {
    const all = store.range(new Uint8Array(0), undefined, LIST_WHOLE_KEYS_MAX, 0).map((kv) => kv.key);
    return Array.from(
      { length: Math.min(count, all.length) },
      () => all[Math.floor(random() * all.length)] as Uint8Array,
    );
  }
  const keys: Uint8Array[] = [];
  for (let draws = 0; keys.length < count && draws < count; draws++) {
    const run = store.keysFromSlot(Math.floor(random() * SLOT_COUNT), Math.min(SLOT_RUN, count - keys.length));
    keys.push(...run);
  }
  return keys;
}
