/**
 * @module The order of one client's pipelined writes (issue 14). A RESP connection may hand the node its next run of
 * writes while earlier runs are still in flight — one entry per run in flight instead of one round trip per run —
 * but only if every run takes effect in the order the client sent it, as Redis runs a connection's commands.
 *
 * The rule that keeps that order: a run is handed over only after the one before it was PLACED — queued in this
 * node's write batch for a replica held here (write-batcher.ts). From there runs are submitted in the order they
 * were placed: batches flush in turn order, a small batch is encoded at once, and it is proposed at once on a
 * leader or forwarded on the one ordered channel to the leader (leader-forwarding.ts), which proposes what it
 * receives in arrival order. A run that is not placed when handed over (a big one, a shard held on another
 * member, a WATCH) makes the connection wait for its outcome before the next.
 *
 * What could still reorder is a RETRY: a run that failed "certainly not applied" (no leader yet, leadership moved,
 * a slot moved) and is sent again would land after a later run that went through meanwhile. So once a later run of
 * the same client was handed over, the earlier one is never sent again: it answers the error that said it did not
 * apply, and the client retries it if it wants (as a Redis Cluster client retries TRYAGAIN). An entry that was
 * accepted by a leader keeps its place: a later leader's entries come after it or replace it (Raft's log matching,
 * §5.3), so it never commits after a later run that committed.
 */

/** One run's place in its client's order; the connection owns it, the node reads and marks it. */
export interface WriteOrder {
  /** Set by the node once the run is queued where runs are submitted in order: the next run may be handed over. */
  placed: boolean;
  /** Set by the connection once a later run of the same client was handed over: no more retries for this one. */
  laterSent: boolean;
}

/** A new run's order, not placed yet. */
export function newWriteOrder(): WriteOrder {
  return { placed: false, laterSent: false };
}

/** Whether an entry holding runs of these orders may be sent again after a "not applied" failure. */
export function mayResend(orders: readonly (WriteOrder | undefined)[]): boolean {
  for (const order of orders) if (order?.laterSent === true) return false;
  return true;
}
