/**
 * @module The limits and rules a well-formed command obeys. The proposer calls `validateCommand` (through
 * `encodeCommand`, which also bounds the encoded size) so a bad request is refused before it reaches the log;
 * apply checks again, because the log is the authority and every replica must reject a bad entry the same way
 * rather than crash on it. The size bounds themselves and their error texts are `limits.ts`'s.
 */

import { keyId } from "../lib/bytes.js";
import { ShoalError } from "../lib/errors.js";
import { runSteps, type Steps } from "../lib/steps.js";
import { SLOT_COUNT } from "../slots/hash-slot.js";
import type { Command, Compare, ExpiryOptions, RedisCommand, SlotCommand, TxnCommand, TxnOp } from "./command.js";
import { COMMAND_LIMITS, checkKeySize, checkValueSize, validRevisionFloor } from "./limits.js";
import { checkArgvLimitsSteps } from "./redis/command-limits.js";

/** Throws a ShoalError (BAD_REQUEST or TOO_LARGE) naming the first rule `command` breaks. */
export function validateCommand(command: Command): void {
  runSteps(validateCommandSteps(command));
}

/** validateCommand as steps (lib/steps.ts): a Redis command with many arguments is checked a bounded number of
 * arguments per step, so apply can pause inside an MSET of 100,000 keys (issue 10). */
export function* validateCommandSteps(command: Command): Steps<void> {
  checkTime(command.nowMs, "nowMs");
  switch (command.op) {
    case "put":
      checkKeySize(command.key);
      checkValueSize(command.value);
      checkExpiry(command);
      if (command.ifModRevision !== undefined) checkCount(command.ifModRevision, "ifModRevision");
      if (command.ifAbsent === true && command.ifPresent === true) {
        throw new ShoalError("BAD_REQUEST", "Cannot put: ifAbsent and ifPresent exclude each other");
      }
      return;
    case "delete":
      checkKeySize(command.key);
      return;
    case "expire":
      if (command.keys.length > COMMAND_LIMITS.expireKeysCountMax) {
        throw new ShoalError("TOO_LARGE", `Cannot expire: more than ${COMMAND_LIMITS.expireKeysCountMax} keys`);
      }
      for (const key of command.keys) checkKeySize(key);
      return;
    case "evict":
      if (command.keys.length > COMMAND_LIMITS.expireKeysCountMax) {
        throw new ShoalError("TOO_LARGE", `Cannot evict: more than ${COMMAND_LIMITS.expireKeysCountMax} keys`);
      }
      if (command.modRevisions.length !== command.keys.length) {
        throw new ShoalError("BAD_REQUEST", "Cannot evict: one modRevision per key");
      }
      for (const key of command.keys) checkKeySize(key);
      for (const revision of command.modRevisions) checkCount(revision, "evict modRevision");
      return;
    case "txn":
      checkTxn(command);
      return;
    case "redis":
      yield* checkRedisSteps(command);
      return;
    case "slot":
      yield* checkSlotSteps(command);
      return;
  }
}

/** A slot step names its slots (distinct, at most SLOT_STEP_SLOTS_MAX), the other shard where it needs one, and only
 * the parts its action takes. */
function* checkSlotSteps(command: SlotCommand): Steps<void> {
  const { action, slots, shard, argvs, keys, move, revisionFloor } = command;
  if (!Number.isInteger(move) || move < 1 || move > 0xffffffff) {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action}: the move must be a map epoch (1 to 2^32 - 1)`);
  }
  if (slots.length === 0 || slots.length > SLOT_STEP_SLOTS_MAX || new Set(slots).size !== slots.length) {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action}: name 1 to ${SLOT_STEP_SLOTS_MAX} distinct slots`);
  }
  for (const slot of slots) {
    if (!Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) {
      throw new ShoalError("BAD_REQUEST", `Cannot ${action} slot ${slot}: slots are 0-${SLOT_COUNT - 1}`);
    }
  }
  const wantsShard = action === "freeze" || action === "importStart";
  const shardValid = shard === undefined || (Number.isInteger(shard) && shard >= 1 && shard <= 0xffff);
  if (wantsShard !== (shard !== undefined) || !shardValid) {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action} slots: ${wantsShard ? "name" : "no"} other shard`);
  }
  if ((action === "import") !== (argvs !== undefined) || (action === "drop") !== (keys !== undefined)) {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action} slots: wrong parts`);
  }
  if (revisionFloor !== undefined && (action !== "import" || !validRevisionFloor(revisionFloor))) {
    throw new ShoalError("BAD_REQUEST", `Cannot ${action} slots: the revision floor must be an import's revision`);
  }
  if (argvs !== undefined) yield* checkRedisSteps({ op: "redis", nowMs: command.nowMs, argvs });
  if (keys !== undefined) {
    if (keys.length > COMMAND_LIMITS.expireKeysCountMax) {
      throw new ShoalError("TOO_LARGE", `Cannot drop more than ${COMMAND_LIMITS.expireKeysCountMax} keys at once`);
    }
    for (const key of keys) checkKeySize(key);
  }
}

/** The most slots one step of a slot move names. */
export const SLOT_STEP_SLOTS_MAX = 1024;

function* checkRedisSteps(command: RedisCommand): Steps<void> {
  const { redisCommandsCountMax, redisArgumentsCountMax } = COMMAND_LIMITS;
  // No commands is valid: an EXEC holding only PING/ECHO/TIME still checks its WATCHed keys in log order.
  if (command.argvs.length > redisCommandsCountMax) {
    throw new ShoalError("TOO_LARGE", `Cannot run redis commands: more than ${redisCommandsCountMax} in one entry`);
  }
  for (const argv of command.argvs) {
    if (argv.length === 0) throw new ShoalError("BAD_REQUEST", "Cannot run redis commands: an empty command");
    if (argv.length > redisArgumentsCountMax) {
      throw new ShoalError("TOO_LARGE", `Cannot run redis command: more than ${redisArgumentsCountMax} arguments`);
    }
    // Key and value sizes, by the command table's key positions (an unknown command is left to apply's error).
    yield* checkArgvLimitsSteps(argv);
  }
  for (const watch of command.watches ?? []) {
    checkKeySize(watch.key);
    checkCount(watch.modRevision, "watch modRevision");
  }
}

function checkTxn(txn: TxnCommand): void {
  const max = COMMAND_LIMITS.txnOpsCountMax;
  if (txn.compares.length > max) throw new ShoalError("TOO_LARGE", `Cannot run txn: more than ${max} compares`);
  for (const compare of txn.compares) checkCompare(compare);
  checkBranch(txn.success, "success");
  checkBranch(txn.failure, "failure");
}

function checkCompare(compare: Compare): void {
  checkKeySize(compare.key);
  if (compare.target === "value") checkValueSize(compare.value);
  else checkCount(compare.value, `compare ${compare.target}`);
}

function checkBranch(ops: readonly TxnOp[], branch: string): void {
  const max = COMMAND_LIMITS.txnOpsCountMax;
  if (ops.length > max) throw new ShoalError("TOO_LARGE", `Cannot run txn: more than ${max} ${branch} ops`);
  // etcd's rule: one write per key and branch, so a branch's outcome does not depend on op order subtleties.
  const written = new Set<string>();
  for (const op of ops) {
    checkKeySize(op.key);
    if (op.op === "get") continue;
    if (op.op === "put") {
      checkValueSize(op.value);
      checkExpiry(op);
    }
    const id = keyId(op.key);
    if (written.has(id)) throw new ShoalError("BAD_REQUEST", `Cannot run txn: ${branch} writes a key twice`);
    written.add(id);
  }
}

function checkExpiry(options: ExpiryOptions): void {
  let given = 0;
  if (options.ttlMs !== undefined) {
    given++;
    checkTime(options.ttlMs, "ttlMs");
    if (options.ttlMs === 0) throw new ShoalError("BAD_REQUEST", "Cannot put: ttlMs must be positive");
  }
  if (options.expiresAtMs !== undefined) {
    given++;
    checkTime(options.expiresAtMs, "expiresAtMs");
    if (options.expiresAtMs === 0) throw new ShoalError("BAD_REQUEST", "Cannot put: expiresAtMs must be positive");
  }
  if (options.keepTtl === true) given++;
  if (given > 1) throw new ShoalError("BAD_REQUEST", "Cannot put: ttlMs, expiresAtMs and keepTtl exclude each other");
}

/** Times stay far below 2^53 even after adding a TTL to them. */
function checkTime(ms: number, name: string): void {
  if (!Number.isSafeInteger(ms) || ms < 0 || ms > Number.MAX_SAFE_INTEGER / 2) {
    throw new ShoalError("BAD_REQUEST", `Cannot accept ${name}: not an integer in [0, 2^52]`);
  }
}

function checkCount(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ShoalError("BAD_REQUEST", `Cannot accept ${name}: not a non-negative integer`);
  }
}
