/**
 * @module Which of a Ready's messages may leave before its entries and hard state are durable.
 */
import type { HardState, Message, Ready } from "./types.js";

/**
 * Thesis 10.2.1: a leader may send AppendEntries (and heartbeats and snapshot chunks) while its own log write is
 * still in flight, because it counts itself toward a commit only once the host has persisted (`advance`): a commit
 * still needs a majority of durable copies, and the leader's fsync overlaps its followers' instead of preceding
 * them. This holds only when the Ready changes neither term nor vote — those must be durable before anything
 * leaves the node (a single-voter leader elected in this very Ready must not replicate under an unpersisted term).
 * Every other message (votes, append and snapshot answers) always waits for the write.
 */
export function splitMessagesByDurability(
  ready: Ready,
  persisted: HardState,
): { readonly beforePersist: readonly Message[]; readonly afterPersist: readonly Message[] } {
  const hardState = ready.hardState;
  const termOrVoteChanged =
    hardState !== undefined && (hardState.term !== persisted.term || hardState.vote !== persisted.vote);
  if (termOrVoteChanged || ready.messages.length === 0) return { beforePersist: [], afterPersist: ready.messages };
  const beforePersist: Message[] = [];
  const afterPersist: Message[] = [];
  for (const message of ready.messages) {
    const fromLeader =
      message.type === "appendEntries" || message.type === "heartbeat" || message.type === "installSnapshot";
    (fromLeader ? beforePersist : afterPersist).push(message);
  }
  return { beforePersist, afterPersist };
}
