/**
 * @module How INCRBYFLOAT and HINCRBYFLOAT print their result: Redis's `ld2string(..., LD_STR_HUMAN)`, i.e.
 * `%.17Lf` with trailing zeros (and a trailing dot) removed, and "-0" printed as "0". Redis computes in long
 * double (64-bit mantissa) and we in double (53-bit), so results that need the extra precision can differ in
 * the last digits (0.1 + 0.2 prints 0.30000000000000004 here, 0.3 in Redis): docs/redis-compat.md lists it.
 */

export function formatHumanFloat(value: number): string {
  // toFixed prints fixed notation only below 1e21; above, the value is an integer anyway.
  let text = Math.abs(value) < 1e21 ? value.toFixed(17) : BigInt(Math.trunc(value)).toString();
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  return text === "-0" ? "0" : text;
}
