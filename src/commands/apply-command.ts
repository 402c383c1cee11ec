/**
 * @module The deterministic semantics of every command: `applyCommand(reader, command, state)` computes the
 * mutations and the result of one command from the state it reads. Pure: no I/O, no clock, no randomness, so
 * every replica that applies the same entries to the same state reaches the same state and the same results.
 *
 * Revisions: a command that changes anything takes revision `state.revision + 1` for all of its writes (a txn
 * is one revision, as in etcd); a command that changes nothing leaves the revision alone.
 */
import { assert, unreachable } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import type {
  Command,
  CommandResult,
  DeleteCommand,
  ExpireCommand,
  ExpiryOptions,
  PutCommand,
  RedisCommand,
  TxnCommand,
  TxnOp,
  TxnOpResult,
} from "./command.js";
import { decodeCommand } from "./command-codec.js";
import { compareHolds } from "./compare.js";
import { COMMAND_LIMITS } from "./limits.js";
import { isLive, type KeyValue, type StoredRecord, toKeyValue } from "./record.js";
import type { ScanCursors } from "./redis/command-spec.js";
import { executeCommands } from "./redis/execute.js";
import { type KeyspaceReader, type Mutation, type RowMutation, WriteSet } from "./write-set.js";

/** The replicated scalars a command reads and advances besides the keys. */
export interface ApplyState {
  /** The group's revision: bumped once by every command that changes something. */
  readonly revision: number;
  /** The replicated clock: the highest `nowMs` applied so far (0 before any). Never decreases. */
  readonly clockMs: number;
  /** The id the next table-encoded collection takes (commands/collection.ts). Never decreases; starts at 1. */
  readonly nextCollectionId: number;
}

export interface CommandOutcome {
  /** In order; the caller applies them all or none. A key may appear twice (the later one wins). */
  readonly mutations: readonly Mutation[];
  /** The collection rows written, in order, applied together with `mutations`. */
  readonly rowMutations: readonly RowMutation[];
  /** True when the command emptied the keyspace (FLUSHALL) before its `mutations` (see WriteSet.clear). */
  readonly flushed: boolean;
  readonly result: CommandResult;
  readonly state: ApplyState;
}

/** The outcome's writes when a command changes nothing. */
const NOTHING = { mutations: [], rowMutations: [], flushed: false } as const;

/**
 * Applies one entry's data: empty data is a no-op entry. Total for any bytes a client can cause: data that does
 * not decode to a valid command (malformed, or over a bound: decoding validates against COMMAND_LIMITS) yields an
 * `error` result and changes nothing — every replica decodes the same bytes, so every replica refuses it alike —
 * and a Redis command's own failure is its error reply (execute.ts). Anything else thrown (an AssertionError, a
 * storage failure) is not the entry's fault and propagates: turning it into a result on one replica would let
 * that replica skip what the others applied.
 */
export function applyEntryData(
  reader: KeyspaceReader,
  data: Uint8Array,
  state: ApplyState,
  repliesWanted = true,
): CommandOutcome {
  if (data.length === 0) return { ...NOTHING, result: { kind: "noop", revision: state.revision }, state };
  let command: Command;
  try {
    command = decodeCommand(data);
  } catch (error) {
    if (!(error instanceof ShoalError)) throw error;
    const result: CommandResult = { kind: "error", revision: state.revision, code: error.code, message: error.message };
    return { ...NOTHING, result, state };
  }
  return applyCommand(reader, command, state, repliesWanted);
}

/** Applies a decoded, validated command (`decodeCommand` validates; call `validateCommand` on others). */
/** `repliesWanted` false skips a Redis entry's readonly commands (see ApplyEntry.repliesWanted): the mutations and
 * the new state are the same, only the result differs. */
export function applyCommand(
  reader: KeyspaceReader,
  command: Command,
  state: ApplyState,
  repliesWanted = true,
): CommandOutcome {
  assert(Number.isSafeInteger(state.revision) && state.revision >= 0, "revision is a non-negative integer");
  const context: Context = {
    writes: new WriteSet(reader, state.nextCollectionId),
    nowMs: Math.max(state.clockMs, command.nowMs),
    revision: state.revision + 1,
    repliesWanted,
  };
  const result = applyTo(context, command);
  const { mutations, rowMutations, cleared: flushed } = context.writes;
  const changed = mutations.length > 0 || flushed;
  assert(changed || rowMutations.length === 0, "a command that writes rows writes their header too");
  const revision = changed ? context.revision : state.revision;
  assert(result.revision === revision, "the result reports the revision after the command");
  const nextCollectionId = context.writes.nextCollectionId();
  return {
    mutations,
    rowMutations,
    flushed,
    result,
    state: { revision, clockMs: context.nowMs, nextCollectionId },
  };
}

interface Context {
  readonly writes: WriteSet;
  /** The entry's time on the replicated clock. */
  readonly nowMs: number;
  /** The revision the command's writes take, if it writes. */
  readonly revision: number;
  readonly repliesWanted: boolean;
}

function applyTo(context: Context, command: Command): CommandResult {
  switch (command.op) {
    case "put":
      return applyPut(context, command);
    case "delete":
      return applyDelete(context, command);
    case "expire":
      return applyExpire(context, command);
    case "txn":
      return applyTxn(context, command);
    case "redis":
      return applyRedis(context, command);
    default:
      return unreachable(command, "Unknown command op");
  }
}

function applyPut(context: Context, command: PutCommand): CommandResult {
  const current = liveRecord(context, command.key);
  const currentModRevision = current === undefined ? 0 : current.modRevision;
  const conflict =
    (command.ifAbsent === true && current !== undefined) ||
    (command.ifPresent === true && current === undefined) ||
    (command.ifModRevision !== undefined && command.ifModRevision !== currentModRevision);
  if (conflict) {
    return { kind: "conflict", revision: context.revision - 1, current: keyValueOf(command.key, current) };
  }
  const prev = writePut(context, command.key, command.value, command);
  return { kind: "put", revision: revisionAfter(context), prev };
}

function applyDelete(context: Context, command: DeleteCommand): CommandResult {
  const prev = writeDelete(context, command.key);
  return { kind: "delete", revision: revisionAfter(context), prev };
}

function applyExpire(context: Context, command: ExpireCommand): CommandResult {
  let expiredCount = 0;
  for (const key of command.keys) {
    const record = context.writes.getRecord(key);
    if (record === undefined || isLive(record, context.nowMs)) continue;
    context.writes.delete(key);
    expiredCount++;
  }
  return { kind: "expire", revision: revisionAfter(context), expiredCount };
}

function applyTxn(context: Context, command: TxnCommand): CommandResult {
  const succeeded = command.compares.every((compare) => compareHolds(compare, liveRecord(context, compare.key)));
  const ops = succeeded ? command.success : command.failure;
  const responses = ops.map((op) => applyTxnOp(context, op));
  return { kind: "txn", revision: revisionAfter(context), succeeded, responses };
}

/** SCAN inside MULTI: a replicated entry cannot leave a cursor in one node's table, so the scan must finish in
 * one call (docs/redis-compat.md). */
const NO_CURSORS_IN_LOG: ScanCursors = {
  resume: (cursor) => {
    if (cursor === 0n) return undefined;
    throw new ShoalError("BAD_REQUEST", "invalid cursor");
  },
  issue: () => {
    throw new ShoalError("BAD_REQUEST", "SCAN inside MULTI must finish in one call: give a COUNT above the key count");
  },
};

function applyRedis(context: Context, command: RedisCommand): CommandResult {
  for (const watch of command.watches ?? []) {
    const current = liveRecord(context, watch.key);
    if ((current?.modRevision ?? 0) !== watch.modRevision) {
      return { kind: "redis", revision: context.revision - 1, aborted: true, replies: [] };
    }
  }
  // Randomness (HRANDFIELD, RANDOMKEY) seeded by the entry and the command's position, so every replica draws the same.
  const seed = (context.revision * 2654435761) ^ context.nowMs;
  const random = (commandIndex: number): Prng => new Prng(seed + commandIndex * 0x9e3779b9);
  const replies = executeCommands(context.writes, context.writes, command.argvs, {
    nowMs: context.nowMs,
    revision: context.revision,
    random,
    cursors: NO_CURSORS_IN_LOG,
    skipReads: !context.repliesWanted,
    listedCountMax: COMMAND_LIMITS.logListedCountMax,
  });
  return { kind: "redis", revision: revisionAfter(context), aborted: false, replies };
}

function applyTxnOp(context: Context, op: TxnOp): TxnOpResult {
  switch (op.op) {
    case "get":
      return { op: "get", kv: keyValueOf(op.key, liveRecord(context, op.key)) };
    case "put":
      return { op: "put", prev: writePut(context, op.key, op.value, op) };
    case "delete":
      return { op: "delete", prev: writeDelete(context, op.key) };
    default:
      return unreachable(op, "Unknown txn op");
  }
}

/** Writes a value (a new version of a live key, or a new key) and returns the live key it replaced. */
function writePut(context: Context, key: Uint8Array, value: Uint8Array, expiry: ExpiryOptions): KeyValue | undefined {
  const current = liveRecord(context, key);
  const expiresAtMs = expiryOf(context, expiry, current);
  if (expiresAtMs !== 0 && expiresAtMs <= context.nowMs) {
    // Redis semantics for an expiry already past (SET ... PXAT <past>): the key ends up absent.
    return writeDelete(context, key);
  }
  const record: StoredRecord = {
    type: "string",
    value,
    createRevision: current === undefined ? context.revision : current.createRevision,
    modRevision: context.revision,
    version: current === undefined ? 1 : current.version + 1,
    expiresAtMs,
  };
  context.writes.put(key, record);
  return keyValueOf(key, current);
}

/** Deletes a live key and returns it; an absent or already expired key is left to the leader's `expire`. */
function writeDelete(context: Context, key: Uint8Array): KeyValue | undefined {
  const current = liveRecord(context, key);
  if (current === undefined) return undefined;
  context.writes.delete(key);
  return keyValueOf(key, current);
}

function expiryOf(context: Context, expiry: ExpiryOptions, current: StoredRecord | undefined): number {
  if (expiry.ttlMs !== undefined) return context.nowMs + expiry.ttlMs;
  if (expiry.expiresAtMs !== undefined) return expiry.expiresAtMs;
  if (expiry.keepTtl === true && current !== undefined) return current.expiresAtMs;
  return 0;
}

function liveRecord(context: Context, key: Uint8Array): StoredRecord | undefined {
  const record = context.writes.getRecord(key);
  return record !== undefined && isLive(record, context.nowMs) ? record : undefined;
}

function keyValueOf(key: Uint8Array, record: StoredRecord | undefined): KeyValue | undefined {
  return record === undefined ? undefined : toKeyValue(key, record);
}

function revisionAfter(context: Context): number {
  return context.writes.mutations.length > 0 || context.writes.cleared ? context.revision : context.revision - 1;
}
