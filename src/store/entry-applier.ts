/**
 * @module What a store needs from the command semantics to apply an entry, without knowing them: a function from
 * the state an entry reads (the store's records and rows, and the replicated scalars) to the writes it makes and
 * its result. The store plans, accounts and persists the writes (batch-plan.ts); what a command means is the
 * applier's (the command layer's `applyEntryData`, which a node hands to its store). So the store never imports
 * the command layer, and the simulator or a test can run a store under the real semantics or under its own.
 */
import type { Steps } from "../lib/steps.js";
import type { SlotStates } from "./slot-states.js";
import type { KeyspaceReader, Mutation, RowMutation } from "./write-set.js";

/** The replicated scalars an entry reads and advances besides the keys. */
export interface ApplyState {
  /** The group's revision: bumped once by every entry that changes something. */
  readonly revision: number;
  /** The replicated clock: the highest entry time applied so far (0 before any). Never decreases. */
  readonly clockMs: number;
  /** The id the next table-encoded collection takes (store/collection.ts). Never decreases; starts at 1. */
  readonly nextCollectionId: number;
  /** The slots this shard does not simply own (slot-states.ts); absent: none. Changed only by slot entries. */
  readonly slots?: SlotStates;
}

/** What applying one entry produced. `R` is the result the waiting client is handed (opaque to the store). */
export interface EntryOutcome<R> {
  /** In order; the store applies them all or none. A key may appear twice (the later one wins). */
  readonly mutations: readonly Mutation[];
  /** The collection rows written, in order, applied together with `mutations`. */
  readonly rowMutations: readonly RowMutation[];
  /** True when the entry emptied the keyspace (FLUSHALL) before its `mutations` (see WriteSet.clear). */
  readonly flushed: boolean;
  /** True when the entry's deletes remove expired keys (the leader's expiry): the watch history shows them as
   * `expire` events rather than `delete`. */
  readonly expiredKeys: boolean;
  readonly result: R;
  /** Invariant: the revision moves (by one, or past a slot import's revision floor) exactly when the entry changed
   * something. */
  readonly state: ApplyState;
}

/**
 * Applies one entry's data against `reader` (which it must not modify: writes go into the outcome). Empty data is
 * a no-op entry (a new leader's empty entry; the store passes it for membership changes too, which the host
 * applies). Must be deterministic and total for any bytes a client can cause; anything it throws stops the batch
 * with nothing applied. `repliesWanted` false lets it skip work whose only product is the result.
 *
 * Written as steps (lib/steps.ts): it yields where it may pause (between the commands of an entry, between chunks of
 * a long command), so a store can spread one big entry over event-loop turns; pausing never changes the outcome, and
 * the store changes nothing the applier reads until the outcome is returned.
 */
export type EntryApplier<R> = (
  reader: KeyspaceReader,
  data: Uint8Array,
  state: ApplyState,
  repliesWanted: boolean,
) => Steps<EntryOutcome<R>>;
