/**
 * @module The replicated state machine's storage, as the node's apply loop sees it. Two implementations honour
 * one contract (`test/store/store.contract.ts` runs against both, under the real command semantics): `MemoryStore` for the simulator and tests, and
 * `LmdbStore` (store/lmdb/) for real nodes.
 *
 * Keys are binary-safe byte strings (any bytes, the empty key included, up to STORED_KEY_BYTES_MAX).
 * A store applies entries through the `EntryApplier` it is given (entry-applier.ts): what a command means is not
 * the store's business, so the store is generic over the result `R` an applied entry hands back.
 * Returned records and their byte arrays are owned by the caller but must be treated as read-only: a memory
 * store hands out the arrays it keeps.
 */
import type { HistoryEvent, HistoryStats } from "./history.js";
import type { KeyValue } from "./record.js";
import type { SlotStates } from "./slot-states.js";
import type { CollectionRow } from "./write-set.js";

/** The part of a committed Raft entry the state machine needs (structurally a subset of raft's `Entry`). */
export interface ApplyEntry {
  readonly index: number;
  /** The entry's data for the store's applier (a node's: an encoded command); empty for a new leader's no-op. */
  readonly data: Uint8Array;
  /** `confChange` entries are applied by the host (membership); the store only records their index, so the
   * applied index covers every entry of the log. Absent means "normal". */
  readonly type?: "normal" | "confChange";
  /** False when no client waits for this entry's result here (a follower, or a leader that did not propose it):
   * the readonly commands of a Redis entry are then skipped (they change nothing, and their replies would be
   * thrown away). The state reached is the same either way. Absent means true. */
  readonly repliesWanted?: boolean;
}

/** Counts for metrics. Both count every stored key, including keys past their expiry that the leader's
 * `expire` entry has not removed yet. */
export interface StoreStats {
  readonly keyCount: number;
  /** Sum of key and value lengths, plus the rows of table-encoded collections (their row keys and values): the
   * logical data size, not the file size. Rows of dropped collections awaiting reclaim no longer count. */
  readonly sizeBytes: number;
}

/** The reclaimer's backlog (local housekeeping: see `reclaimStep`). */
export interface ReclaimStats {
  /** Dropped collections whose rows are not all deleted yet. */
  readonly pendingCollections: number;
  /** Rows deleted by the reclaimer since the store was opened. */
  readonly reclaimedRows: number;
}

/** The watch history's window (store/history.ts). */
// The watch history's figures are defined beside the history (history.ts), which must not import this module.
export type { HistoryStats } from "./history.js";

/**
 * A consistent point-in-time image of the store, taken by `snapshot()`. It does not change when later entries
 * are applied or another snapshot is restored. Holding one pins resources (an LMDB read transaction keeps old
 * pages from being reused), so read it promptly and release it.
 */
export interface StoreSnapshot {
  /** The last entry the image covers, and the group revision at that point. */
  readonly appliedIndex: number;
  readonly revision: number;
  /** The serialized image (store/snapshot-format.ts) as byte chunks, each at most the store's
   * `snapshotChunkSizeBytes`. May be iterated once; finishing or abandoning the iteration releases the snapshot. */
  chunks(): AsyncIterable<Uint8Array>;
  /** Releases the image. Idempotent. Iterating afterwards throws UNAVAILABLE. */
  release(): void;
}

export interface StateMachineStore<R = unknown> {
  /** The index of the last applied entry (0 for an empty store). Persisted atomically with the data. */
  appliedIndex(): number;
  /** The group's revision: bumped by every applied command that changed something. */
  revision(): number;
  /** The replicated clock: the highest entry time applied so far. */
  clockMs(): number;
  /** The slots this shard does not simply own (slot-states.ts), as of appliedIndex(). */
  slotStates(): SlotStates;
  stats(): StoreStats;
  /** Stored keys that carry an expiry (Redis INFO's `expires=`). O(expiring keys) in LmdbStore: for INFO, not
   * for hot paths. */
  expiringKeyCount(): number;
  /** Stored keys (expired ones not yet removed included, like DBSIZE) whose Redis Cluster hash slot is `slot`. */
  countKeysInSlot(slot: number): number;
  /** Up to `limit` of those keys sorting after `after` (from the first when absent), in bytewise order (CLUSTER
   * GETKEYSINSLOT; a slot move pages through them). */
  keysInSlot(slot: number, limit: number, after?: Uint8Array): Uint8Array[];
  /** Up to `limit` stored keys of slots `slot` and above, in (slot, key) order — consecutive keys of a hash-spread
   * keyspace, what eviction samples (node/eviction/victims.ts). O(log keys + limit) in LmdbStore. */
  keysFromSlot(slot: number, limit: number): Uint8Array[];

  /** The live key, or undefined when absent or expired at max(nowMs, clockMs()). */
  get(key: Uint8Array, nowMs: number): KeyValue | undefined;
  /** Live keys starting with `prefix` and sorting strictly after `after` (when given), in bytewise order,
   * at most `limit` (a positive integer) of them. */
  range(prefix: Uint8Array, after: Uint8Array | undefined, limit: number, nowMs: number): KeyValue[];
  /** Stored keys whose expiry is <= max(nowMs, clockMs()), earliest expiry first (ties in key order), at most
   * `limit` (a positive integer): what the leader names in its next `expire` entry. Served from an index, so the
   * cost follows the number returned, not the number of keys (in LmdbStore). */
  expiredKeys(nowMs: number, limit: number): Uint8Array[];

  /** A row of a table-encoded collection (store/collection.ts), reached through its owner's header. */
  getRow(collectionId: number, rowKey: Uint8Array): Uint8Array | undefined;
  /** The collection's rows with row keys strictly after `after` (from the first when undefined), in bytewise
   * order, at most `limit` (a positive integer): O(log rows + limit). */
  rowsAfter(collectionId: number, after: Uint8Array | undefined, limit: number): CollectionRow[];

  /**
   * Reclaiming dropped collections. Deleting a key whose value is table-encoded removes only its record and
   * queues its collection (in the same atomic write); the rows are unreachable from then on. The reclaimer
   * deletes them in bounded steps: by default the store runs one step per event-loop turn while work remains
   * (option `reclaim: "background"`); `"manual"` leaves it to `reclaimStep` (tests, benchmarks). This is
   * local housekeeping, not replicated state: the queue is durable across restarts, never in a snapshot, and a
   * restore starts with none (the image holds no dropped collection).
   */
  reclaimStats(): ReclaimStats;
  /** Deletes at most `rowsMax` (a positive integer) rows of queued collections in one atomic write, dequeuing
   * each collection it empties; returns the rows deleted. Idle once reclaimStats().pendingCollections is 0. */
  reclaimStep(rowsMax: number): number;

  /** The watch history's window. */
  historyStats(): HistoryStats;
  /**
   * The events of revisions `fromRevision`..`toRevision` (inclusive; clamped to revision()), in revision order and,
   * within a revision, in the order the command made its final write to each key. Throws COMPACTED (naming the
   * oldest available revision) when `fromRevision` <= compactedRevision. The caller bounds the span it asks for.
   */
  events(fromRevision: number, toRevision: number): HistoryEvent[];

  /**
   * Applies committed entries in order, in ONE atomic write together with the new applied index, and returns one
   * result per entry. Entries must continue the log exactly: the first index is appliedIndex() + 1 and each next
   * one is one more. Anything else is a bug in the caller (re-applying would double a write, skipping would lose
   * one) and throws AssertionError with nothing applied. Durable when it returns (see each implementation).
   * The batch's history events are written in the same step, and revisions beyond the window dropped.
   */
  applyEntries(entries: readonly ApplyEntry[]): R[];

  /**
   * Optional: applyEntries with the copying and writing done off the event loop (for batches holding big values).
   * Same contract and atomicity; until it settles, reads see the state before the batch and the caller makes no
   * other write (no applyEntries, restore or reclaimStep of its own).
   */
  applyEntriesOffLoop?(entries: readonly ApplyEntry[]): Promise<R[]>;

  /** Optional: true while a write on the event loop would hold it (the disk is slow now): the host then hands even
   * small batches to applyEntriesOffLoop, which writes them off the loop. */
  readonly writesSlowly?: boolean;

  /** Optional: true when reading `key`'s value would copy megabytes (a front end then reads it off the loop). */
  holdsBigValue?(key: Uint8Array): boolean;

  /** Takes a point-in-time image of the state (cheap for LMDB: a read transaction). */
  snapshot(): StoreSnapshot;
  /**
   * Replaces the whole state with a serialized image (appliedIndex, revision and clock included). Atomic: until
   * it resolves, reads see the old state; if it fails (a corrupt or truncated image throws BAD_REQUEST) or the
   * process dies midway, the old state remains. Snapshots already taken stay readable. No entry may be applied
   * while a restore runs. The history restarts empty at the image's revision (compactedRevision = revision()).
   */
  restore(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<void>;

  /** Releases every resource; outstanding snapshots are released too. */
  close(): Promise<void>;
}
