/**
 * @module The deterministic semantics of every command: `applyCommand(reader, command, state)` computes the
 * mutations and the result of one command from the state it reads. Pure: no I/O, no clock, no randomness, so
 * every replica that applies the same entries to the same state reaches the same state and the same results.
 *
 * Revisions: a command that changes anything takes revision `state.revision + 1` for all of its writes (a txn
 * is one revision, as in etcd); a command that changes nothing leaves the revision alone. One exception: a slot
 * import carrying its source's revision (SlotCommand.revisionFloor) takes the next revision above both, so a
 * key's modRevision grows across shards too (the revisions between are skipped: store/history.ts). Every read and write
 * goes through the keyspace (keyspace/keyspace.ts), which stamps that revision on what it writes and owns the
 * expiry and size rules, for these commands exactly as for the Redis families.
 */
import { assert, unreachable } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { Prng } from "../lib/prng.js";
import { runSteps, type Steps } from "../lib/steps.js";
import { hashSlot } from "../slots/hash-slot.js";
import type { ApplyState, EntryOutcome } from "../store/entry-applier.js";
import type { KeyValue } from "../store/record.js";
import { NO_SLOT_STATES, servesAll } from "../store/slot-states.js";
import { type KeyspaceReader, WriteSet } from "../store/write-set.js";
import type {
  Command,
  CommandResult,
  DeleteCommand,
  EvictCommand,
  ExpireCommand,
  ExpiryOptions,
  PutCommand,
  RedisCommand,
  SlotCommand,
  TxnCommand,
  TxnOp,
  TxnOpResult,
} from "./command.js";
import { decodeCommandSteps } from "./command-codec.js";
import { compareHolds } from "./compare.js";
import { expiryOf, Keyspace } from "./keyspace/keyspace.js";
import { COMMAND_LIMITS, validRevisionFloor } from "./limits.js";
import type { ScanCursors } from "./redis/command-spec.js";
import { executeCommandSteps } from "./redis/execute.js";
import { checkImportKeys, expireOwned, importWrites, refusalOf, slotStep } from "./slot-ownership.js";

export type { ApplyState } from "../store/entry-applier.js";

/** What one command produced: the store's entry outcome with a command result. */
export type CommandOutcome = EntryOutcome<CommandResult>;

/** The outcome's writes when a command changes nothing. */
const NOTHING = { mutations: [], rowMutations: [], flushed: false, expiredKeys: false } as const;

/**
 * Applies one entry's data: empty data is a no-op entry. Total for any bytes a client can cause: data that does
 * not decode to a valid command (malformed, or over a bound: decoding validates against COMMAND_LIMITS) yields an
 * `error` result and changes nothing — every replica decodes the same bytes, so every replica refuses it alike —
 * and a Redis command's own failure is its error reply (execute.ts). Anything else thrown (an AssertionError, a
 * storage failure) is not the entry's fault and propagates: turning it into a result on one replica would let
 * that replica skip what the others applied. This is the `EntryApplier` a node gives its store.
 */
export function applyEntryData(
  reader: KeyspaceReader,
  data: Uint8Array,
  state: ApplyState,
  repliesWanted = true,
): CommandOutcome {
  return runSteps(applyEntrySteps(reader, data, state, repliesWanted));
}

/** applyEntryData as steps (lib/steps.ts): pauses between the commands of a Redis entry and between the chunks
 * of a long command. This is the `EntryApplier` a node gives its store. */
export function* applyEntrySteps(
  reader: KeyspaceReader,
  data: Uint8Array,
  state: ApplyState,
  repliesWanted = true,
): Steps<CommandOutcome> {
  if (data.length === 0) return { ...NOTHING, result: { kind: "noop", revision: state.revision }, state };
  let command: Command;
  try {
    command = yield* decodeCommandSteps(data);
  } catch (error) {
    return refused(error, state);
  }
  return yield* applyCommandSteps(reader, command, state, repliesWanted);
}

/** A deterministic refusal (a ShoalError): an `error` result that changes nothing. Anything else propagates. */
function refused(error: unknown, state: ApplyState): CommandOutcome {
  if (!(error instanceof ShoalError)) throw error;
  const result: CommandResult = { kind: "error", revision: state.revision, code: error.code, message: error.message };
  return { ...NOTHING, result, state };
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
  return runSteps(applyCommandSteps(reader, command, state, repliesWanted));
}

function* applyCommandSteps(
  reader: KeyspaceReader,
  original: Command,
  state: ApplyState,
  repliesWanted: boolean,
): Steps<CommandOutcome> {
  assert(Number.isSafeInteger(state.revision) && state.revision >= 0, "revision is a non-negative integer");
  let command = original;
  const writes = new WriteSet(reader, state.nextCollectionId);
  const nowMs = Math.max(state.clockMs, command.nowMs);
  const floor = command.op === "slot" ? (command.revisionFloor ?? 0) : 0;
  if (!validRevisionFloor(floor)) {
    return refused(new ShoalError("BAD_REQUEST", "Cannot import: the revision floor is not a revision"), state);
  }
  const revision = Math.max(state.revision, floor) + 1;
  const context: Context = {
    writes,
    keyspace: new Keyspace(writes, writes, nowMs, revision),
    revisionBefore: state.revision,
    repliesWanted,
  };
  let slots = state.slots ?? NO_SLOT_STATES;
  let result: CommandResult;
  try {
    if (command.op === "slot") {
      const writes = command.action !== "import" || importWrites(command, slots);
      slots = slotStep(command, slots);
      result = writes ? yield* applySlotStep(context, command) : { kind: "noop", revision: state.revision };
    } else {
      // A slot being moved refuses what would break the move (slot-ownership.ts); nothing recorded, nothing asked.
      if (!servesAll(slots)) {
        const refusal = refusalOf(command, slots);
        if (refusal !== undefined) throw refusal;
        if (command.op === "expire" || command.op === "evict") command = expireOwned(command, slots);
      }
      result = command.op === "redis" ? yield* applyRedis(context, command) : applyTo(context, command);
    }
  } catch (error) {
    // A bound the keyspace enforces at write (validateCommand refuses such a command before it is proposed, so
    // only an entry a buggy proposer logged gets here): refused alike on every replica, nothing written.
    return refused(error, state);
  }
  const { mutations, rowMutations, cleared: flushed } = context.writes;
  const changed = mutations.length > 0 || flushed;
  assert(changed || rowMutations.length === 0, "a command that writes rows writes their header too");
  const revisionAfter = changed ? revision : state.revision;
  assert(result.revision === revisionAfter, "the result reports the revision after the command");
  const nextCollectionId = context.writes.nextCollectionId();
  return {
    mutations,
    rowMutations,
    flushed,
    expiredKeys: original.op === "expire",
    result,
    // The slot states go on whenever the store keeps them (a real store always passes its own).
    state: {
      revision: revisionAfter,
      clockMs: nowMs,
      nextCollectionId,
      ...(state.slots !== undefined || slots.size > 0 ? { slots } : {}),
    },
  };
}

/** A step of a slot move (SlotCommand): its states are slotStep's; here, the keys an import writes or a drop
 * deletes. Succeeds with a no-op result (the driver needs no more). */
function* applySlotStep(context: Context, command: SlotCommand): Steps<CommandResult> {
  if (command.action === "import") {
    const argvs = command.argvs ?? [];
    checkImportKeys(argvs, command.slots);
    const replies = yield* executeCommandSteps(context.writes, context.writes, argvs, {
      nowMs: context.keyspace.nowMs,
      revision: context.keyspace.revision,
      random: () => new Prng(context.keyspace.revision),
      cursors: NO_CURSORS_IN_LOG,
      skipReads: true,
      listedCountMax: COMMAND_LIMITS.logListedCountMax,
      limitsChecked: true,
    });
    const failed = replies.find((reply) => reply.kind === "error");
    if (failed?.kind === "error") throw new ShoalError(failed.code, `Cannot import: ${failed.message}`);
  }
  if (command.action === "drop") {
    const dropped = new Set(command.slots);
    // Expired keys too: expire entries leave a gone slot's keys alone (expireOwned), so only its drop removes them.
    for (const key of command.keys ?? []) {
      if (dropped.has(hashSlot(key)) && !context.keyspace.delete(key)) context.keyspace.removeExpired(key);
    }
  }
  return { kind: "noop", revision: revisionAfter(context) };
}

interface Context {
  /** The command's writes; the keyspace writes into them. */
  readonly writes: WriteSet;
  /** Every read and write of the command, at the entry's time and revision. */
  readonly keyspace: Keyspace;
  /** The group's revision before the command (what a command that changed nothing reports). */
  readonly revisionBefore: number;
  readonly repliesWanted: boolean;
}

function applyTo(context: Context, command: Exclude<Command, SlotCommand>): CommandResult {
  switch (command.op) {
    case "put":
      return applyPut(context, command);
    case "delete":
      return applyDelete(context, command);
    case "expire":
      return applyExpire(context, command);
    case "evict":
      return applyEvict(context, command);
    case "txn":
      return applyTxn(context, command);
    case "redis":
      return runSteps(applyRedis(context, command));
    default:
      return unreachable(command, "Unknown command op");
  }
}

function applyPut(context: Context, command: PutCommand): CommandResult {
  const current = context.keyspace.keyValue(command.key);
  const conflict =
    (command.ifAbsent === true && current !== undefined) ||
    (command.ifPresent === true && current === undefined) ||
    (command.ifModRevision !== undefined && command.ifModRevision !== context.keyspace.modRevision(command.key));
  if (conflict) return { kind: "conflict", revision: context.revisionBefore, current };
  const prev = writePut(context, command.key, command.value, command);
  return { kind: "put", revision: revisionAfter(context), prev };
}

function applyDelete(context: Context, command: DeleteCommand): CommandResult {
  const prev = writeDelete(context, command.key);
  return { kind: "delete", revision: revisionAfter(context), prev };
}

function applyExpire(context: Context, command: ExpireCommand): CommandResult {
  let expiredCount = 0;
  for (const key of command.keys) if (context.keyspace.removeExpired(key)) expiredCount++;
  return { kind: "expire", revision: revisionAfter(context), expiredCount };
}

/** Deletes each named key still at the modRevision the leader chose it at (live or expired: an expired key goes
 * too, as Redis may evict one before its expiry is swept). */
function applyEvict(context: Context, command: EvictCommand): CommandResult {
  let evictedCount = 0;
  command.keys.forEach((key, i) => {
    if (context.keyspace.evict(key, command.modRevisions[i] as number)) evictedCount++;
  });
  return { kind: "evict", revision: revisionAfter(context), evictedCount };
}

function applyTxn(context: Context, command: TxnCommand): CommandResult {
  const succeeded = command.compares.every((compare) => compareHolds(compare, context.keyspace.lookup(compare.key)));
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

function* applyRedis(context: Context, command: RedisCommand): Steps<CommandResult> {
  const { keyspace } = context;
  for (const watch of command.watches ?? []) {
    if (keyspace.modRevision(watch.key) !== watch.modRevision) {
      return { kind: "redis", revision: context.revisionBefore, aborted: true, replies: [] };
    }
  }
  // Randomness (HRANDFIELD, RANDOMKEY) seeded by the entry and the command's position, so every replica draws the same.
  const seed = (keyspace.revision * 2654435761) ^ keyspace.nowMs;
  const random = (commandIndex: number): Prng => new Prng(seed + commandIndex * 0x9e3779b9);
  const replies = yield* executeCommandSteps(context.writes, context.writes, command.argvs, {
    nowMs: keyspace.nowMs,
    revision: keyspace.revision,
    random,
    cursors: NO_CURSORS_IN_LOG,
    skipReads: !context.repliesWanted,
    listedCountMax: COMMAND_LIMITS.logListedCountMax,
    limitsChecked: true, // applyCommand's contract: the command was validated (decodeCommand does it)
  });
  return { kind: "redis", revision: revisionAfter(context), aborted: false, replies };
}

function applyTxnOp(context: Context, op: TxnOp): TxnOpResult {
  switch (op.op) {
    case "get":
      return { op: "get", kv: context.keyspace.keyValue(op.key) };
    case "put":
      return { op: "put", prev: writePut(context, op.key, op.value, op) };
    case "delete":
      return { op: "delete", prev: writeDelete(context, op.key) };
    default:
      return unreachable(op, "Unknown txn op");
  }
}

/** Writes a string (a new version of a live key, or a new key) and returns the live key it replaced. */
function writePut(context: Context, key: Uint8Array, value: Uint8Array, expiry: ExpiryOptions): KeyValue | undefined {
  const prev = context.keyspace.keyValue(key);
  context.keyspace.setString(key, value, expiryOf(expiry, context.keyspace.nowMs));
  return prev;
}

/** Deletes a live key and returns it; an absent or already expired key is left to the leader's `expire`. */
function writeDelete(context: Context, key: Uint8Array): KeyValue | undefined {
  const prev = context.keyspace.keyValue(key);
  if (prev !== undefined) context.keyspace.delete(key);
  return prev;
}

function revisionAfter(context: Context): number {
  return context.writes.mutations.length > 0 || context.writes.cleared
    ? context.keyspace.revision
    : context.revisionBefore;
}
