/**
 * @module Running Redis data commands: the table lookup with Redis's exact errors, then each command in its own
 * write set (merged only when it succeeds). The same function serves the log (writes, inside apply) and reads
 * (no write set, served after a ReadIndex barrier), so a command means the same thing on both paths.
 */

import { ShoalError } from "../../lib/errors.js";
import type { Random } from "../../lib/prng.js";
import { type KeyspaceReader, WriteSet } from "../../store/write-set.js";
import { Keyspace } from "../keyspace/keyspace.js";
import { ListingBudget } from "../keyspace/listing-budget.js";
import { checkCommandLimits } from "./command-limits.js";
import type { CommandContext, ScanCursors } from "./command-spec.js";
import { errorReply, NULL, type Reply } from "./reply.js";
import { DATA_COMMAND_TABLE } from "./table.js";

export interface ExecutionContext {
  /** The entry's time on the replicated clock (or the reading node's clock for a read). */
  readonly nowMs: number;
  /** The revision writes take (the entry's); ignored by reads. */
  readonly revision: number;
  /** One source for the whole run, or one per command (by its position): the log uses one per command so that
   * skipping a readonly command on a replica (skipReads) cannot shift what a later command draws. */
  readonly random: Random | ((commandIndex: number) => Random);
  readonly cursors: ScanCursors;
  /** Skip readonly commands (their reply is then a placeholder null): for replicas whose replies nobody reads. */
  readonly skipReads?: boolean;
  /** Keys and rows the run's commands may list, together (COMMAND_LIMITS.logListedCountMax in the log); none
   * when absent. */
  readonly listedCountMax?: number;
}

/** Runs data commands in order. `writes` undefined runs them read-only over `reader` (every command must then
 * be readonly; a write asserts). Errors become error replies; the others still run (EXEC semantics). */
export function executeCommands(
  reader: KeyspaceReader,
  writes: WriteSet | undefined,
  argvs: readonly (readonly Uint8Array[])[],
  execution: ExecutionContext,
): Reply[] {
  const budget = execution.listedCountMax === undefined ? undefined : new ListingBudget(execution.listedCountMax);
  return argvs.map((argv, i) => executeOne(reader, writes, argv, execution, i, budget));
}

function executeOne(
  reader: KeyspaceReader,
  writes: WriteSet | undefined,
  argv: readonly Uint8Array[],
  execution: ExecutionContext,
  commandIndex: number,
  budget: ListingBudget | undefined,
): Reply {
  try {
    // Only data commands run here: a connection command (MULTI, AUTH…) is an unknown command to the executor.
    const spec = DATA_COMMAND_TABLE.resolve(argv);
    // The store's bounds, again at apply: an entry from any proposer is refused alike on every replica.
    checkCommandLimits(spec, argv);
    if (spec.handler === undefined) {
      throw new ShoalError("INTERNAL", `'${spec.name}' has no handler`); // handlerProblems rules this out
    }
    if (execution.skipReads === true && spec.flags.includes("readonly")) return NULL;
    const child = writes === undefined ? undefined : new WriteSet(writes);
    const random = typeof execution.random === "function" ? execution.random(commandIndex) : execution.random;
    const keyspace = new Keyspace(child ?? reader, child, execution.nowMs, execution.revision, random, budget);
    const context: CommandContext = { keyspace, random, cursors: execution.cursors };
    const reply = spec.handler(context, argv);
    if (writes !== undefined && child !== undefined) writes.merge(child);
    return reply;
  } catch (error) {
    if (error instanceof ShoalError) return errorReply(error.code, error.message);
    throw error;
  }
}
