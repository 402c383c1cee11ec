/**
 * @module SCAN-style arguments (SCAN, and reusable by HSCAN): the cursor as Redis's `parseScanCursorOrReply`
 * reads it (C's strtoul: optional sign, a negative number wraps modulo 2^64, an empty string is 0, anything
 * else or more than 64 bits is "invalid cursor"), and the MATCH / COUNT / TYPE options.
 */
import { ShoalError } from "../../../lib/errors.js";
import { int64Arg, isKeyword, syntaxError, text } from "../args.js";

const UINT64_LIMIT = 2n ** 64n;
/** COUNT is clamped to this many keys examined per call: any larger COUNT finishes a keyspace of this size. */
const COUNT_MAX = 2 ** 31;

export function invalidCursor(): ShoalError {
  return new ShoalError("BAD_REQUEST", "invalid cursor");
}

export function parseScanCursor(arg: Uint8Array): bigint {
  const source = text(arg);
  if (source.length === 0) return 0n; // strtoul parses nothing and stops at the end: Redis accepts it as 0
  if (!/^[+-]?[0-9]+$/.test(source)) throw invalidCursor();
  const negative = source.startsWith("-");
  const magnitude = BigInt(source.replace(/^[+-]/, ""));
  if (magnitude >= UINT64_LIMIT) throw invalidCursor();
  return negative && magnitude !== 0n ? UINT64_LIMIT - magnitude : magnitude;
}

export interface ScanOptions {
  /** undefined for no pattern (also for "*", which matches everything). */
  readonly match: Uint8Array | undefined;
  readonly count: number;
  /** SCAN's TYPE filter as given (compared case-insensitively); undefined for none. */
  readonly type: string | undefined;
}

/** The options from `argv[from]` on. `allowType` is false for HSCAN and friends, where TYPE is a syntax error. */
export function parseScanOptions(argv: readonly Uint8Array[], from: number, allowType: boolean): ScanOptions {
  let match: Uint8Array | undefined;
  let count = 10;
  let type: string | undefined;
  for (let i = from; i < argv.length; i += 2) {
    const option = argv[i] as Uint8Array;
    const value = argv[i + 1];
    if (value === undefined) throw syntaxError();
    if (isKeyword(option, "COUNT")) {
      const parsed = int64Arg(value);
      if (parsed < 1n) throw syntaxError();
      count = parsed > BigInt(COUNT_MAX) ? COUNT_MAX : Number(parsed);
    } else if (isKeyword(option, "MATCH")) {
      match = value.byteLength === 1 && value[0] === 0x2a ? undefined : value;
    } else if (allowType && isKeyword(option, "TYPE")) {
      type = text(value);
    } else {
      throw syntaxError();
    }
  }
  return { match, count, type };
}
