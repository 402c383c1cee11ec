/**
 * @module The stable log as Raft reads it. The host writes to it (after persisting a Ready) and Raft only
 * reads: `MemoryStorage` is the in-memory implementation used by the simulator and, as a cache in front of the
 * WAL, by the real node.
 */
import type { ConfState, Entry, HardState, Snapshot } from "./types.js";

/**
 * Read access to what the host has persisted. Indexes are 1-based; a log compacted up to a snapshot at index S
 * starts at S + 1 and still knows the term of S.
 *
 * Contract: `firstIndex() - 1` is the last compacted index (0 when none): at or below the latest snapshot's
 * index, since a host may keep some entries behind its snapshot. `lastIndex() >= firstIndex() - 1`.
 */
export interface RaftStorage {
  /** The persisted hard state and membership, read once when the node starts. */
  initialState(): { readonly hardState: HardState; readonly confState: ConfState };
  /** Entries in [low, high), stopping early once `maxBytes` of data is exceeded (always at least one entry).
   * Requires firstIndex() <= low <= high <= lastIndex() + 1. The caller owns the returned array. */
  entries(low: number, high: number, maxBytes: number): Entry[];
  /** The term of the entry at `index`, or `undefined` when `index` was compacted away or is past the end.
   * The snapshot's own index (firstIndex() - 1) still answers its term. */
  term(index: number): number | undefined;
  firstIndex(): number;
  lastIndex(): number;
  /** The most recent snapshot (index 0 and empty data when none was taken). */
  snapshot(): Snapshot;
}

/** Rough byte size of an entry for flow control. */
export function entrySizeBytes(entry: Entry): number {
  return entry.data.byteLength + 24;
}
