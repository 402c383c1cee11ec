/**
 * @module How INCRBYFLOAT and HINCRBYFLOAT print their result: Redis's `ld2string(..., LD_STR_HUMAN)`, i.e.
 * `%.17Lf` with trailing zeros (and a trailing dot) removed, and "-0" printed as "0". Redis computes in long
 * double (64-bit mantissa) and we in double (53-bit). Printing a double's exact binary value to 17 places would
 * show its rounding noise (5.1 as 5.09999999999999964) where Redis's wider long double prints "5.1"; so we start
 * from the shortest decimal that reads back as the same double (JavaScript's own number printing), written out
 * without an exponent, and round to 17 places only when it has more. Results that truly need the extra
 * precision can still differ in the last digits (docs/redis-compat.md).
 */

const FRACTION_DIGITS_MAX = 17;

export function formatHumanFloat(value: number): string {
  // From 2^53 up every double is an integer, and Redis prints its exact value (2^63 as 9223372036854775808,
  // where the shortest round-trip form would say 9223372036854776000).
  if (Math.abs(value) >= 2 ** 53 && Number.isFinite(value)) return BigInt(value).toString();
  let text = plainDecimal(value);
  const point = text.indexOf(".");
  if (point >= 0 && text.length - point - 1 > FRACTION_DIGITS_MAX) text = value.toFixed(FRACTION_DIGITS_MAX);
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return text === "-0" ? "0" : text;
}

/** The shortest round-trip decimal of `value` in positional notation (no exponent). */
function plainDecimal(value: number): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:e([+-]\d+))?$/.exec(String(value));
  if (match === null) return String(value); // not finite: callers reject NaN and infinities before printing
  const [, sign = "", whole = "", fraction = "", exponentText = "0"] = match;
  const digits = whole + fraction;
  const pointAt = whole.length + Number(exponentText);
  if (pointAt <= 0) return `${sign}0.${"0".repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return `${sign}${digits}${"0".repeat(pointAt - digits.length)}`;
  return `${sign}${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}
