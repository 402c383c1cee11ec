/**
 * @module Expiry arguments as Redis reads them: SET's and GETEX's options (`parseExtendedStringArgumentsOrReply`
 * in t_string.c), the absolute time an EX/PX/EXAT/PXAT argument names (`getExpireMillisecondsOrReply`), and
 * EXPIRE's NX/XX/GT/LT (`expireGenericCommand`), with Redis's overflow checks done in int64 (bigint) arithmetic.
 */
import { ShoalError } from "../../../lib/errors.js";
import { int64Arg, isKeyword, syntaxError, text } from "../args.js";

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);
/** Expiry times are stored as JS numbers. Redis accepts absolute times up to int64's maximum (year 292 million);
 * we keep the key alive "forever" at 2^53-1 ms instead (year 287396): a documented difference only visible in
 * PEXPIRETIME/EXPIRETIME/TTL of such absurd expiries. */
const STORED_EXPIRY_MAX = BigInt(Number.MAX_SAFE_INTEGER);

export type ExpireUnit = "EX" | "PX" | "EXAT" | "PXAT";

/** A parsed expiry option: the unit and its (not yet validated) argument. */
export interface ExpireOption {
  readonly unit: ExpireUnit;
  readonly arg: Uint8Array;
}

export interface StringOptions {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly get: boolean;
  readonly keepTtl: boolean;
  readonly persist: boolean;
  readonly expire: ExpireOption | undefined;
}

const EXPIRE_UNITS: readonly ExpireUnit[] = ["EX", "PX", "EXAT", "PXAT"];

/**
 * SET's options (`command` "set", from argv[3]) or GETEX's (`command` "getex", from argv[2]). As in Redis, an
 * option may repeat (the last expiry wins) but never meet a conflicting one: NX with XX, two different expiry
 * units, KEEPTTL or PERSIST with an expiry; anything else, or an expiry without its argument, is a syntax error.
 */
export function parseStringOptions(argv: readonly Uint8Array[], command: "set" | "getex"): StringOptions {
  const isSet = command === "set";
  let nx = false;
  let xx = false;
  let get = false;
  let keepTtl = false;
  let persist = false;
  let expire: ExpireOption | undefined;
  for (let i = isSet ? 3 : 2; i < argv.length; i++) {
    const arg = argv[i] as Uint8Array;
    const next = argv[i + 1];
    const unit = EXPIRE_UNITS.find((candidate) => isKeyword(arg, candidate));
    if (isSet && isKeyword(arg, "NX") && !xx) {
      nx = true;
    } else if (isSet && isKeyword(arg, "XX") && !nx) {
      xx = true;
    } else if (isSet && isKeyword(arg, "GET")) {
      get = true;
    } else if (isSet && isKeyword(arg, "KEEPTTL") && expire === undefined) {
      keepTtl = true;
    } else if (!isSet && isKeyword(arg, "PERSIST") && expire === undefined) {
      persist = true;
    } else if (
      unit !== undefined &&
      !keepTtl &&
      !persist &&
      (expire === undefined || expire.unit === unit) &&
      next !== undefined
    ) {
      expire = { unit, arg: next };
      i++;
    } else {
      throw syntaxError();
    }
  }
  return { nx, xx, get, keepTtl, persist, expire };
}

/** Redis's "invalid expire time in '<command>' command". */
export function invalidExpireTime(command: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `invalid expire time in '${command}' command`);
}

/**
 * The absolute expiry (ms on the replicated clock) an EX/PX/EXAT/PXAT argument names, checked like SET, SETEX,
 * PSETEX and GETEX check it: not an integer → "value is not an integer or out of range"; zero, negative, or
 * overflowing int64 once converted to absolute milliseconds → "invalid expire time in '<command>' command".
 * The result may be at or before `nowMs` (EXAT/PXAT in the past): writing it deletes the key, as in Redis.
 */
export function setExpiryAtMs(option: ExpireOption, nowMs: number, command: string): number {
  const value = int64Arg(option.arg);
  const seconds = option.unit === "EX" || option.unit === "EXAT";
  if (value <= 0n || (seconds && value > INT64_MAX / 1000n)) throw invalidExpireTime(command);
  let ms = seconds ? value * 1000n : value;
  if (option.unit === "EX" || option.unit === "PX") ms += BigInt(nowMs);
  if (ms > INT64_MAX) throw invalidExpireTime(command);
  return storedExpiry(ms);
}

/** EXPIRE's conditions. */
export interface ExpireConditions {
  readonly nx: boolean;
  readonly xx: boolean;
  readonly gt: boolean;
  readonly lt: boolean;
}

/** EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT's NX | XX | GT | LT (argv[3] on), with Redis 7's errors. */
export function parseExpireConditions(argv: readonly Uint8Array[]): ExpireConditions {
  let nx = false;
  let xx = false;
  let gt = false;
  let lt = false;
  for (let i = 3; i < argv.length; i++) {
    const arg = argv[i] as Uint8Array;
    if (isKeyword(arg, "NX")) nx = true;
    else if (isKeyword(arg, "XX")) xx = true;
    else if (isKeyword(arg, "GT")) gt = true;
    else if (isKeyword(arg, "LT")) lt = true;
    else throw new ShoalError("BAD_REQUEST", `Unsupported option ${text(arg)}`);
  }
  if (nx && (xx || gt || lt)) {
    throw new ShoalError("BAD_REQUEST", "NX and XX, GT or LT options at the same time are not compatible");
  }
  if (gt && lt) throw new ShoalError("BAD_REQUEST", "GT and LT options at the same time are not compatible");
  return { nx, xx, gt, lt };
}

/**
 * EXPIRE's time argument as an absolute time in ms (may be negative or past: the key is then deleted). Redis
 * allows negative values here but refuses any that overflow int64 when converted to ms or made absolute.
 */
export function expireCommandAtMs(arg: Uint8Array, unit: ExpireUnit, nowMs: number, command: string): bigint {
  let when = int64Arg(arg);
  if (unit === "EX" || unit === "EXAT") {
    // C's division truncates toward zero, as bigint division does.
    if (when > INT64_MAX / 1000n || when < INT64_MIN / 1000n) throw invalidExpireTime(command);
    when *= 1000n;
  }
  const base = unit === "EX" || unit === "PX" ? BigInt(nowMs) : 0n;
  if (when > INT64_MAX - base) throw invalidExpireTime(command);
  return when + base;
}

/** An absolute expiry as we store it (see STORED_EXPIRY_MAX). `ms` must be positive. */
export function storedExpiry(ms: bigint): number {
  return Number(ms > STORED_EXPIRY_MAX ? STORED_EXPIRY_MAX : ms);
}
