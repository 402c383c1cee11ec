/**
 * @module What counts against `maxmemory`: the data a node holds, estimated from each store's figures (key and
 * value bytes, collection rows) plus a fixed overhead per key — not the process's RSS, which LMDB's page cache,
 * Raft's log and V8's heap move independently of the keys a cache could evict. Deterministic across replicas of
 * one shard, cheap to read on every write (two counters per store), and what INFO reports as `used_memory`.
 */
import type { StoreStats } from "../../store/state-machine-store.js";

/** Per stored key beyond its bytes: its record header, the store's row key and index entries (LMDB B-tree rows
 * of the key, its slot index and, with a TTL, its expiry index), about what Redis spends per key too. */
export const KEY_OVERHEAD_BYTES = 64;

export function usedMemoryBytes(stats: Iterable<StoreStats>): number {
  let bytes = 0;
  for (const { keyCount, sizeBytes } of stats) bytes += sizeBytes + keyCount * KEY_OVERHEAD_BYTES;
  return bytes;
}
