/**
 * @module Reading command arguments exactly as Redis does: integers like `string2ll` (int64, no '+', no
 * blanks, no leading zeros), option keywords case-insensitively, and Redis's error texts for each failure.
 */
import { ShoalError } from "../../lib/errors.js";

const textDecoder = new TextDecoder();
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const INTEGER_PATTERN = /^(0|-?[1-9][0-9]*)$/;

export const NOT_AN_INTEGER = "value is not an integer or out of range";
export const NOT_A_FLOAT = "value is not a valid float";
export const SYNTAX_ERROR = "syntax error";

/** The argument as text (UTF-8, lossy for invalid bytes: for keywords and numbers only, never for data). */
export function text(arg: Uint8Array): string {
  return textDecoder.decode(arg);
}

/** True when `arg` is `keyword`, ignoring ASCII case (Redis's strcasecmp). `keyword` is upper case. */
export function isKeyword(arg: Uint8Array, keyword: string): boolean {
  if (arg.byteLength !== keyword.length) return false;
  for (let i = 0; i < keyword.length; i++) {
    const byte = arg[i] as number;
    const upper = byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte;
    if (upper !== keyword.charCodeAt(i)) return false;
  }
  return true;
}

/** A signed 64-bit integer as Redis's `string2ll` reads it, or undefined. */
export function parseInt64(arg: Uint8Array): bigint | undefined {
  if (arg.byteLength === 0 || arg.byteLength > 20) return undefined;
  const digits = text(arg);
  if (!INTEGER_PATTERN.test(digits)) return undefined;
  const value = BigInt(digits);
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** An int64 argument or the error Redis answers ("value is not an integer or out of range"). */
export function int64Arg(arg: Uint8Array, message = NOT_AN_INTEGER): bigint {
  const value = parseInt64(arg);
  if (value === undefined) throw new ShoalError("BAD_REQUEST", message);
  return value;
}

/** An int64 argument that must fit a JS safe integer (counts, times); larger values get `message`. */
export function safeIntArg(arg: Uint8Array, message = NOT_AN_INTEGER): number {
  const value = int64Arg(arg, message);
  if (value < BigInt(Number.MIN_SAFE_INTEGER) || value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new ShoalError("BAD_REQUEST", message);
  }
  return Number(value);
}

/** True when `value` is in int64's range. */
export function fitsInt64(value: bigint): boolean {
  return value >= INT64_MIN && value <= INT64_MAX;
}

/** A float as Redis's `strtold`-based parsing accepts it (no blanks, no NaN; "inf" allowed), or undefined. */
export function parseFloatArg(arg: Uint8Array): number | undefined {
  const source = text(arg);
  if (source.length === 0 || source.length > 5000 || /^\s|\s$/.test(source)) return undefined;
  if (/^[+-]?(inf|infinity)$/i.test(source)) return source.startsWith("-") ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(source) && !/^[+-]?0x[0-9a-f]+$/i.test(source)) return undefined;
  const value = /0x/i.test(source) ? Number.parseInt(source, 16) : Number(source);
  return Number.isNaN(value) ? undefined : value;
}

export function floatArg(arg: Uint8Array, message = NOT_A_FLOAT): number {
  const value = parseFloatArg(arg);
  if (value === undefined) throw new ShoalError("BAD_REQUEST", message);
  return value;
}

export function syntaxError(): ShoalError {
  return new ShoalError("BAD_REQUEST", SYNTAX_ERROR);
}
