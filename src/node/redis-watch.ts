/**
 * @module Redis WATCH on a replicated keyspace. WATCH records each key's modRevision (0: absent) and the group
 * revision it was read at; the EXEC entry re-checks every modRevision when it is applied, in log order. A key absent
 * when WATCHed must also abort EXEC if it was created and deleted again since (Redis aborts on any write to a
 * watched key), which its modRevision cannot show, so before proposing EXEC the member reads the watch history
 * from the WATCH's revision. What is left unseen: such a create-and-delete inside the milliseconds between this
 * check and the apply (docs/redis-compat.md).
 *
 * Across a slot move: an imported key's modRevision is above every one it had on its source (apply-command.ts), so
 * the apply's check holds there too; an absent key's history is on the shard that served it at WATCH, so a ticket
 * names the slot's move (slot-states.ts; 0 before any) and EXEC aborts if the slot has moved since.
 */
import type { WatchedKey } from "../commands/command.js";
import { keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { hashSlot } from "../slots/hash-slot.js";
import type { SlotStates } from "../store/slot-states.js";
import type { StateMachineStore } from "../store/state-machine-store.js";

/** A WATCHed key: its modRevision (0: absent), the group revision it was read at and the move that brought its
 * slot to that group (0: none). */
export interface WatchTicket extends WatchedKey {
  readonly watchedAtRevision: number;
  readonly slotMove: number;
}

function slotMoveOf(states: SlotStates, key: Uint8Array): number {
  return states.size === 0 ? 0 : (states.get(hashSlot(key))?.move ?? 0);
}

/** Beyond this many revisions between WATCH and EXEC, an EXEC watching an absent key aborts without scanning. */
const WATCH_HISTORY_SCAN_REVISIONS_MAX = 100_000;

/** The tickets for `keys` as the store holds them now (the caller has taken whatever read barrier it needs). */
export function readWatchTickets(store: StateMachineStore, keys: readonly Uint8Array[]): WatchTicket[] {
  const nowMs = Date.now();
  const watchedAtRevision = store.revision();
  const states = store.slotStates();
  return keys.map((key) => ({
    key,
    modRevision: store.get(key, nowMs)?.modRevision ?? 0,
    watchedAtRevision,
    slotMove: slotMoveOf(states, key),
  }));
}

/** True when a key that was absent at WATCH has been written since (or when the history no longer reaches back
 * that far, or its slot moved since: then EXEC aborts, which a client retries, rather than risk missing a write). The caller has taken a
 * ReadIndex barrier, so the store reflects every write acknowledged before EXEC. */
export function absentWatchedKeysWritten(store: StateMachineStore, watches: readonly WatchTicket[]): boolean {
  const absent = watches.filter((watch) => watch.modRevision === 0);
  if (absent.length === 0) return false;
  // Its history since WATCH is on another shard: abort (a client retries) rather than miss a write there.
  const states = store.slotStates();
  if (absent.some((watch) => slotMoveOf(states, watch.key) !== watch.slotMove)) return true;
  // (A loop, not Math.min(...): up to 100,000 watched keys would overflow the argument stack.)
  let from = Number.POSITIVE_INFINITY;
  for (const watch of absent) from = Math.min(from, watch.watchedAtRevision + 1);
  const to = store.revision();
  if (from > to) return false;
  if (to - from >= WATCH_HISTORY_SCAN_REVISIONS_MAX) return true;
  const ids = new Set(absent.map((watch) => keyId(watch.key)));
  try {
    return store.events(from, to).some((event) => ids.has(keyId(event.key)));
  } catch (error) {
    if (error instanceof ShoalError && error.code === "COMPACTED") return true;
    throw error;
  }
}
