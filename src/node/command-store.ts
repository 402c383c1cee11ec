/**
 * @module The replicated state machine a node runs: a store (store/) applying the replicated commands
 * (commands/apply-command.ts `applyEntryData`). The store knows nothing of commands; this is where the two meet.
 */
import { applyEntrySteps } from "../commands/apply-command.js";
import type { CommandResult } from "../commands/command.js";
import { LmdbStore, type LmdbStoreOptions } from "../store/lmdb/lmdb-store.js";
import { MemoryStore, type MemoryStoreOptions } from "../store/memory-store.js";
import type { StateMachineStore } from "../store/state-machine-store.js";

/** A store whose entries are commands and whose results are command results. */
export type CommandStore = StateMachineStore<CommandResult>;

/** An in-memory command store (the simulator's, tests'). */
export function memoryCommandStore(
  options: Omit<MemoryStoreOptions<CommandResult>, "applier"> = {},
): MemoryStore<CommandResult> {
  return new MemoryStore({ ...options, applier: applyEntrySteps });
}

/** Opens (creating if needed) an LMDB command store in `dir` (LmdbStore.open). */
export function openLmdbCommandStore(
  dir: string,
  options: Omit<LmdbStoreOptions<CommandResult>, "applier"> = {},
): LmdbStore<CommandResult> {
  return LmdbStore.open(dir, { ...options, applier: applyEntrySteps });
}
