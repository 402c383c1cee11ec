/**
 * @module The store's bounds applied to one Redis command, by the command table: every key argument (the spec's
 * key positions, so MSET's, RENAME's and WATCH's keys alike) is at most COMMAND_LIMITS.keySizeBytesMax, and a
 * write — whose arguments end up in a stored value or in the log — has no argument over the value bound and fits
 * one replicated entry on its own. Values computed at apply (APPEND, SETRANGE, a growing hash) are bounded where
 * they are written (commands/keyspace/keyspace.ts).
 *
 * Checked before a command is proposed (the RESP connection per command, the MULTI queue, `validateCommand` for
 * every entry) and again wherever it runs (`executeCommands`: inside apply and for reads), so a read of an
 * over-long key answers the same error as a write, and a committed entry holding one cannot reach the store.
 */

import { runSteps, type Steps } from "../../lib/steps.js";
import {
  argumentEncodedBytesMax,
  argvEncodedBytesMax,
  COMMAND_ENCODING_BYTES_MAX,
  COMMAND_LIMITS,
  checkKeySize,
  checkValueSize,
  entryTooLarge,
} from "../limits.js";
import type { CommandSpec } from "./command-spec.js";
import { DATA_COMMAND_TABLE, someCommandKey } from "./table.js";

/** For someCommandKey: throws for an over-long key, else goes on to the next. */
function checkEachKey(key: Uint8Array): boolean {
  checkKeySize(key);
  return false;
}

/** Throws the ShoalError (TOO_LARGE) of the first bound `argv` breaks as a command of `spec`. */
export function checkCommandLimits(spec: CommandSpec, argv: readonly Uint8Array[]): void {
  someCommandKey(spec, argv, checkEachKey); // no list of the keys: an MSET may hold 100,000
  if (!spec.flags.includes("write")) return;
  for (let i = 1; i < argv.length; i++) checkValueSize(argv[i] as Uint8Array);
  if (COMMAND_ENCODING_BYTES_MAX + argvEncodedBytesMax(argv) > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
}

/** Arguments checked between pauses of checkCommandLimitsSteps. */
const ARGUMENTS_PER_STEP = 16_384;

/** checkCommandLimits as steps (lib/steps.ts), pausing every ARGUMENTS_PER_STEP arguments, for a log entry's
 * command: the three passes over an MSET of 100,000 keys took ~20 ms in one turn (issue 10). The same checks in the
 * same order, so the same first error. */
export function* checkCommandLimitsSteps(spec: CommandSpec, argv: readonly Uint8Array[]): Steps<void> {
  const { first, last, step } = spec.keys;
  if (first !== 0) {
    const end = last < 0 ? argv.length + last : last;
    for (let i = first; i <= end && i < argv.length; i += step) {
      checkKeySize(argv[i] as Uint8Array);
      if (i % ARGUMENTS_PER_STEP === 0) yield;
    }
  }
  if (!spec.flags.includes("write")) return;
  // argvEncodedBytesMax(argv), summed along the way.
  let encodedBytes = COMMAND_ENCODING_BYTES_MAX + argvEncodedBytesMax([argv[0] as Uint8Array]);
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i] as Uint8Array;
    checkValueSize(arg);
    encodedBytes += argumentEncodedBytesMax(arg);
    if (i % ARGUMENTS_PER_STEP === 0) yield;
  }
  if (encodedBytes > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
}

/** `checkCommandLimits` for an argv from a log entry, whose command may be unknown or malformed: those get their
 * error from apply (unknown command, wrong arity), so only a known command's key positions are checked here. */
export function checkArgvLimits(argv: readonly Uint8Array[]): void {
  runSteps(checkArgvLimitsSteps(argv));
}

/** checkArgvLimits as steps (see checkCommandLimitsSteps). */
export function* checkArgvLimitsSteps(argv: readonly Uint8Array[]): Steps<void> {
  const name = argv[0];
  if (name === undefined || name.byteLength > COMMAND_NAME_BYTES_MAX) return;
  const spec = DATA_COMMAND_TABLE.find(Buffer.from(name).toString("latin1"));
  if (spec === undefined) return;
  const sub = spec.subcommands?.find((s) => argv.length > 1 && s.name === subName(spec.name, argv[1] as Uint8Array));
  yield* checkCommandLimitsSteps(sub ?? spec, argv);
}

/** No command name is longer; a longer argv[0] is not worth decoding. */
const COMMAND_NAME_BYTES_MAX = 64;

function subName(parent: string, arg: Uint8Array): string {
  return `${parent}|${Buffer.from(arg).toString("latin1").toLowerCase()}`;
}
