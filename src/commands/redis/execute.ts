/**
 * @module Running Redis data commands: the table lookup with Redis's exact errors, then each command in its own
 * write set (merged only when it succeeds). The same function serves the log (writes, inside apply) and reads
 * (no write set, served after a ReadIndex barrier), so a command means the same thing on both paths.
 */

import { ShoalError } from "../../lib/errors.js";
import type { Random } from "../../lib/prng.js";
import { runSteps, type Steps } from "../../lib/steps.js";
import { type KeyspaceReader, WriteSet } from "../../store/write-set.js";
import { Keyspace } from "../keyspace/keyspace.js";
import { ListingBudget } from "../keyspace/listing-budget.js";
import { checkCommandLimits } from "./command-limits.js";
import type { CommandContext, DataCommand, ScanCursors } from "./command-spec.js";
import { array, errorReply, integer, NULL, type Reply } from "./reply.js";
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
  /** Argument groups per chunk of a CHUNKED_COMMANDS command (default CHUNK_GROUPS); tests vary it to check that
   * chunking never changes a reply or a write. */
  readonly chunkGroups?: number;
  /** Every argv already passed checkCommandLimits (the log: `decodeCommand` validates every entry before it is
   * applied, refusing the whole entry on every replica alike), so it is not checked again per command — a pass
   * over all 200,000 arguments of a big MSET on every replica's event loop. */
  readonly limitsChecked?: boolean;
}

/** Runs data commands in order. `writes` undefined runs them read-only over `reader` (every command must then
 * be readonly; a write asserts). Errors become error replies; the others still run (EXEC semantics). */
export function executeCommands(
  reader: KeyspaceReader,
  writes: WriteSet | undefined,
  argvs: readonly (readonly Uint8Array[])[],
  execution: ExecutionContext,
): Reply[] {
  return runSteps(executeCommandSteps(reader, writes, argvs, execution));
}

/** executeCommands as steps: a pause point after each command, and inside a command with many arguments between
 * its chunks (CHUNKED_COMMANDS) — one entry may carry 10,000 commands or an MSET of 500,000 keys, which the store
 * then applies over several event-loop turns instead of one (issue 10). */
export function* executeCommandSteps(
  reader: KeyspaceReader,
  writes: WriteSet | undefined,
  argvs: readonly (readonly Uint8Array[])[],
  execution: ExecutionContext,
): Steps<Reply[]> {
  const budget = execution.listedCountMax === undefined ? undefined : new ListingBudget(execution.listedCountMax);
  const replies: Reply[] = [];
  for (let i = 0; i < argvs.length; i++) {
    replies.push(yield* executeOne(reader, writes, argvs[i] as readonly Uint8Array[], execution, i, budget));
    yield;
  }
  return replies;
}

/**
 * Commands whose work is one independent step per argument group, run chunk by chunk with a pause between chunks.
 * Every chunk runs the command's own handler on the command's leading arguments and a slice of its groups, all in
 * the command's one write set (merged only if every chunk succeeds), so the result — writes, revision and reply —
 * is the one the whole command gives: MSET sets each pair in order, DEL/UNLINK/MGET go key by key. Not here:
 * MSETNX (it checks every key before it writes any), and HSET/HDEL on one hash — each call rewrites the hash's
 * record, whose version counts writes, so chunks would count several (chunked-execution.test.ts caught it); a
 * hash's fields are rows, so those commands cost per field but write one record.
 */
const CHUNKED_COMMANDS: ReadonlyMap<string, { readonly lead: number; readonly group: number; readonly join: Join }> =
  new Map([
    ["mset", { lead: 1, group: 2, join: "first" }],
    ["del", { lead: 1, group: 1, join: "sum" }],
    ["unlink", { lead: 1, group: 1, join: "sum" }],
    ["mget", { lead: 1, group: 1, join: "concat" }],
  ]);

type Join = "first" | "sum" | "concat";

/** Argument groups per chunk: a chunk's work stays well under a millisecond or so. */
const CHUNK_GROUPS = 256;

function joinReplies(join: Join, replies: readonly Reply[]): Reply {
  if (join === "first") return replies[0] as Reply;
  if (join === "concat") return array(replies.flatMap((reply) => (reply.kind === "array" ? reply.items : [reply])));
  let sum = 0;
  for (const reply of replies) if (reply.kind === "integer") sum += Number(reply.value);
  return integer(sum);
}

/** The handler over `argv`, chunk by chunk for a long CHUNKED_COMMANDS command (a pause point between chunks). */
function* runHandler(
  spec: DataCommand,
  handler: NonNullable<DataCommand["handler"]>,
  context: CommandContext,
  argv: readonly Uint8Array[],
  chunkGroups: number,
): Steps<Reply> {
  const chunking = CHUNKED_COMMANDS.get(spec.name);
  const chunkArgs = chunking === undefined ? 0 : chunking.group * chunkGroups;
  if (chunking === undefined || argv.length - chunking.lead <= chunkArgs) return handler(context, argv);
  const lead = argv.slice(0, chunking.lead);
  const replies: Reply[] = [];
  for (let at = chunking.lead; at < argv.length; at += chunkArgs) {
    replies.push(handler(context, [...lead, ...argv.slice(at, at + chunkArgs)]));
    yield;
  }
  return joinReplies(chunking.join, replies);
}

function* executeOne(
  reader: KeyspaceReader,
  writes: WriteSet | undefined,
  argv: readonly Uint8Array[],
  execution: ExecutionContext,
  commandIndex: number,
  budget: ListingBudget | undefined,
): Steps<Reply> {
  try {
    // Only data commands run here: a connection command (MULTI, AUTH…) is an unknown command to the executor.
    const spec = DATA_COMMAND_TABLE.resolve(argv);
    // The store's bounds, for a read (and any run whose argvs were not validated as a log entry's are).
    if (execution.limitsChecked !== true) checkCommandLimits(spec, argv);
    if (spec.handler === undefined) {
      throw new ShoalError("INTERNAL", `'${spec.name}' has no handler`); // handlerProblems rules this out
    }
    if (execution.skipReads === true && spec.flags.includes("readonly")) return NULL;
    const child = writes === undefined ? undefined : new WriteSet(writes);
    const random = typeof execution.random === "function" ? execution.random(commandIndex) : execution.random;
    const keyspace = new Keyspace(child ?? reader, child, execution.nowMs, execution.revision, random, budget);
    const context: CommandContext = { keyspace, random, cursors: execution.cursors };
    const reply = yield* runHandler(spec, spec.handler, context, argv, execution.chunkGroups ?? CHUNK_GROUPS);
    if (writes !== undefined && child !== undefined) yield* writes.mergeSteps(child);
    return reply;
  } catch (error) {
    if (error instanceof ShoalError) return errorReply(error.code, error.message);
    throw error;
  }
}
