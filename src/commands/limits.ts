/**
 * @module Bounds every replica applies, and the one place that checks them. These are part of the replicated
 * protocol, not node configuration: apply must reach the same verdict on every replica, so a bound that
 * differed between nodes would make their state diverge. A node's configuration may set TIGHTER bounds for what
 * it proposes; it may never loosen these.
 *
 * Every front end checks a request against these before proposing it (RESP connections and MULTI queues through
 * `redis/command-limits.ts`, HTTP and the expiry scanner through `validateCommand`/`encodeCommand`), and apply
 * checks again, because the log is the authority: an entry over a bound yields the same error on every replica
 * and changes nothing. The texts are shared by RESP (`-ERR …`) and HTTP (413 with the JSON error), and each names
 * the `CONFIG GET` parameter that reports the bound.
 */
import { assert } from "../lib/assert.js";
import { ShoalError } from "../lib/errors.js";
import { STORED_KEY_BYTES_MAX } from "../store/key-range.js";

const MiB = 1024 * 1024;

/** A revision floor an import may carry (SlotCommand.revisionFloor): a revision, far enough below 2^53 that the
 * revisions after it stay exact integers. */
export function validRevisionFloor(floor: number): boolean {
  return Number.isSafeInteger(floor) && floor >= 0 && floor < 2 ** 52;
}

export const COMMAND_LIMITS = {
  /** The longest key a store holds (store/key-range.ts says why it is 1024). */
  keySizeBytesMax: STORED_KEY_BYTES_MAX,
  /** A value travels inside one Raft entry, which is replicated and fsynced whole. Exactly 16 MiB is allowed. */
  valueSizeBytesMax: 16 * MiB,
  /** The encoded bytes of one command (one Raft entry's data): one maximal value plus room for its key, the
   * command's other arguments and the encoding. The Raft proposal limit must be at least this (node/ asserts). */
  entrySizeBytesMax: 17 * MiB,
  /** etcd's default `--max-txn-ops`. Applies to compares and to each branch separately. */
  txnOpsCountMax: 128,
  /** Keys one `expire` entry may name; the leader splits larger sweeps. */
  expireKeysCountMax: 1024,
  /** Redis commands one entry may carry (a pipelined run or a MULTI block); bigger MULTI blocks are refused. */
  redisCommandsCountMax: 10_000,
  /** Arguments of one Redis command (MSET, HSET, DEL with many keys): the RESP parser's own bound. */
  redisArgumentsCountMax: 1_048_576,
  /** Keys and collection rows the reads of one entry may list (KEYS, RANDOMKEY, HGETALL… inside MULTI run in apply,
   * on the leader's event loop, where listing a million keys would stall its heartbeats — issue 10). Outside MULTI
   * such reads run on a read worker, unbounded. */
  logListedCountMax: 50_000,
} as const;

/** Bytes the entry encoding may add around one command's keys, values and arguments (format byte, msgpack map
 * and field names, times and flags): command-codec.test.ts measures the real encoding against it. */
export const COMMAND_ENCODING_BYTES_MAX = 4096;

/**
 * Upper bounds of what Redis arguments and WATCHed keys add to an encoded `redis` command, for callers that
 * assemble one entry from many commands (a pipelined run, a MULTI block) and must keep it under
 * entrySizeBytesMax before encoding: msgpack frames a byte string with a header of at most 5 bytes, an array
 * with one of at most 5, and a watch is a map {key, modRevision}.
 */
export function argvEncodedBytesMax(argv: readonly Uint8Array[]): number {
  let bytes = MSGPACK_HEADER_BYTES_MAX;
  for (const arg of argv) bytes += argumentEncodedBytesMax(arg);
  return bytes;
}

/** What one argument adds to argvEncodedBytesMax. */
export function argumentEncodedBytesMax(arg: Uint8Array): number {
  return MSGPACK_HEADER_BYTES_MAX + arg.byteLength;
}

export function watchEncodedBytesMax(key: Uint8Array): number {
  return WATCH_ENCODING_BYTES_MAX + key.byteLength;
}

const MSGPACK_HEADER_BYTES_MAX = 5;
/** map header (1) + "key" (4) + bin header (5) + "modRevision" (12) + a float64 or uint64 (9), rounded up. */
const WATCH_ENCODING_BYTES_MAX = 32;

// The relations the bounds rely on, asserted where they are defined. A maximal value with a maximal key, in any
// single command, fits one entry: so a value the limit allows is never refused for its entry's size.
assert(
  COMMAND_LIMITS.entrySizeBytesMax >=
    COMMAND_LIMITS.valueSizeBytesMax + COMMAND_LIMITS.keySizeBytesMax + COMMAND_ENCODING_BYTES_MAX,
  "a maximal value and key fit in one entry",
);

/** The `CONFIG GET` names of the bounds clients run into (Redis names its own bounds the same way). */
export const LIMIT_PARAMETERS = {
  keySizeBytesMax: "shoal-key-max-bytes",
  valueSizeBytesMax: "shoal-value-max-bytes",
  entrySizeBytesMax: "shoal-entry-max-bytes",
} as const;

/** A key over the key bound: refused by every command, reads included, on every front end. */
export function keyTooLong(): ShoalError {
  const { keySizeBytesMax } = COMMAND_LIMITS;
  return new ShoalError(
    "TOO_LARGE",
    `key is longer than ${keySizeBytesMax} bytes (${LIMIT_PARAMETERS.keySizeBytesMax})`,
    { limit: LIMIT_PARAMETERS.keySizeBytesMax, limitBytes: keySizeBytesMax },
  );
}

/** A value (a string, a hash, or any argument of a write) over the value bound. `what` names it. */
export function valueTooLong(what = "value"): ShoalError {
  const { valueSizeBytesMax } = COMMAND_LIMITS;
  return new ShoalError(
    "TOO_LARGE",
    `${what} is longer than ${valueSizeBytesMax} bytes (${LIMIT_PARAMETERS.valueSizeBytesMax})`,
    { limit: LIMIT_PARAMETERS.valueSizeBytesMax, limitBytes: valueSizeBytesMax },
  );
}

/** A request whose encoding would not fit one replicated entry. */
export function entryTooLarge(): ShoalError {
  const { entrySizeBytesMax } = COMMAND_LIMITS;
  return new ShoalError(
    "TOO_LARGE",
    `request is larger than ${entrySizeBytesMax} bytes, the replicated entry limit (${LIMIT_PARAMETERS.entrySizeBytesMax})`,
    { limit: LIMIT_PARAMETERS.entrySizeBytesMax, limitBytes: entrySizeBytesMax },
  );
}

export function checkKeySize(key: Uint8Array): void {
  if (key.byteLength > COMMAND_LIMITS.keySizeBytesMax) throw keyTooLong();
}

export function checkValueSize(value: Uint8Array, what = "value"): void {
  checkValueLength(value.byteLength, what);
}

/** The value bound for a length, checked before a value that long is built (APPEND, SETRANGE). */
export function checkValueLength(byteLength: number, what = "value"): void {
  if (byteLength > COMMAND_LIMITS.valueSizeBytesMax) throw valueTooLong(what);
}
