/**
 * @module DataLossError: what a Raft node raises when a message proves that data it holds durably was lost —
 * by the cluster (the leader lacks entries this node knows are committed) or by this node itself (the leader
 * knows this node acknowledged entries its log no longer has: its disk was wiped or rolled back).
 *
 * Neither is a bug in this node's logic, so it is not an AssertionError; but continuing would mean overwriting
 * committed entries or voting with a log that forgot what it promised, so the node must stop. Only the node
 * that detects the loss in itself stops: a leader never stops because of what a follower claims (etcd-raft
 * likewise never panics on a follower's answer), so a healthy majority keeps serving.
 */
import type { NodeId } from "./types.js";

export type DataLossKind = "committedEntryDiverged" | "acknowledgedEntriesLost";

export class DataLossError extends Error {
  override readonly name = "DataLossError";
  readonly kind: DataLossKind;

  constructor(kind: DataLossKind, message: string) {
    super(message);
    this.kind = kind;
  }
}

/** This node holds `index` committed in `ourTerm`, and the leader's log has `leaderTerm` there. */
export function committedEntryDiverged(
  self: NodeId,
  leader: NodeId,
  index: number,
  ourTerm: number,
  leaderTerm: number,
): DataLossError {
  return new DataLossError(
    "committedEntryDiverged",
    `Node ${self} holds committed entry ${index} of term ${ourTerm}, but leader ${leader} has term ${leaderTerm} ` +
      "there: the cluster elected a leader without entries it had committed (a member that lost its disk may " +
      "have voted). This node stops to keep its copy; do not delete its data directory",
  );
}

/** The leader knows this node acknowledged up to `acknowledged`, but this node's log ends at `lastIndex`. */
export function acknowledgedEntriesLost(
  self: NodeId,
  leader: NodeId,
  acknowledged: number,
  lastIndex: number,
): DataLossError {
  return new DataLossError(
    "acknowledgedEntriesLost",
    `Node ${self} acknowledged entries up to ${acknowledged} to leader ${leader}, but its log ends at ` +
      `${lastIndex}: its data directory was lost or rolled back. It must not rejoin as the same member ` +
      "(it may also have forgotten its votes); remove it and add a new member under a new id",
  );
}
