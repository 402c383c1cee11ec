/**
 * @module Rebuilding a node's Raft log and state machine after a start — a clean one or a crash — from what is
 * durable: the WAL's replayed state, the snapshot file it names, and the store. The real node (shoal-node.ts) and
 * the simulator (sim/node/) both start through here, so the simulator tests the recovery that runs.
 */
import { ShoalError } from "../lib/errors.js";
import { MemoryStorage } from "../raft/memory-storage.js";
import type { ConfState, Entry, NodeId } from "../raft/types.js";
import type { StateMachineStore } from "../store/state-machine-store.js";
import type { WalState } from "../wal/wal.js";
import type { SnapshotFiles } from "./ports.js";

/**
 * The Raft storage rebuilt from the WAL (and its snapshot); the store is restored from the snapshot file first if
 * it is behind it. The store's commits need not be durable themselves: a store that lost its latest commits (a
 * machine crash under LMDB without fsync, or an in-memory store after any crash) re-applies from the WAL — or, if
 * it fell behind the last snapshot, restores the fsynced snapshot file first. Either way the applied index and the
 * data stay in one transaction, so nothing applies twice.
 */
export async function recoverRaftStorage<R>(
  walState: WalState,
  snapshots: SnapshotFiles,
  store: StateMachineStore<R>,
  membership: readonly NodeId[] | ConfState,
): Promise<MemoryStorage> {
  // The membership an empty log starts from (the voters, or a ConfState with learners); a snapshot replaces it.
  const storage = new MemoryStorage(
    isConfState(membership)
      ? { voters: [...membership.voters], learners: [...membership.learners] }
      : { voters: [...membership], learners: [] },
  );
  if (walState.snapshot !== undefined) {
    const snapshot = await snapshots.load(walState.snapshot.index);
    if (snapshot === undefined) {
      throw new ShoalError(
        "INTERNAL",
        `Cannot start: the WAL names snapshot ${walState.snapshot.index} but its file is missing`,
      );
    }
    storage.applySnapshot(snapshot);
    // The store is normally at or past the snapshot; it is behind only if a crash hit a snapshot install (or
    // the store keeps nothing across a crash).
    if (store.appliedIndex() < snapshot.metadata.index) await store.restore([snapshot.data]);
  }
  storage.append(walState.entries.filter((entry: Entry) => entry.index >= storage.firstIndex()));
  storage.setHardState(walState.hardState);
  return storage;
}

function isConfState(membership: readonly NodeId[] | ConfState): membership is ConfState {
  return !Array.isArray(membership);
}
