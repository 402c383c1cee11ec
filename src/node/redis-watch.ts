/**
 * @module Redis WATCH on a replicated keyspace. WATCH records each key's modRevision (0: absent) and the group
 * revision it was read at; the EXEC entry re-checks every modRevision when it is applied, in log order. A key absent
 * when WATCHed must also abort EXEC if it was created and deleted again since (Redis aborts on any write to a
 * watched key), which its modRevision cannot show, so before proposing EXEC the member reads the watch history
 * from the WATCH's revision. What is left unseen: such a create-and-delete inside the milliseconds between this
 * check and the apply (docs/redis-compat.md).
 */
import type { WatchedKey } from "../commands/command.js";
import { keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import type { StateMachineStore } from "../store/state-machine-store.js";

/** A WATCHed key: its modRevision (0: absent) and the group revision it was read at. */
export interface WatchTicket extends WatchedKey {
  readonly watchedAtRevision: number;
}

/** Beyond this many revisions between WATCH and EXEC, an EXEC watching an absent key aborts without scanning. */
const WATCH_HISTORY_SCAN_REVISIONS_MAX = 100_000;

/** The tickets for `keys` as the store holds them now (the caller has taken whatever read barrier it needs). */
export function readWatchTickets(store: StateMachineStore, keys: readonly Uint8Array[]): WatchTicket[] {
  const nowMs = Date.now();
  const watchedAtRevision = store.revision();
  return keys.map((key) => ({ key, modRevision: store.get(key, nowMs)?.modRevision ?? 0, watchedAtRevision }));
}

/** True when a key that was absent at WATCH has been written since (or when the history no longer reaches back
 * that far: then EXEC aborts, which a client retries, rather than risk missing a write). The caller has taken a
 * ReadIndex barrier, so the store reflects every write acknowledged before EXEC. */
export function absentWatchedKeysWritten(store: StateMachineStore, watches: readonly WatchTicket[]): boolean {
  const absent = watches.filter((watch) => watch.modRevision === 0);
  if (absent.length === 0) return false;
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
