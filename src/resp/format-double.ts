/**
 * @module Doubles as Redis 7.2+ prints them (an approximation checked by examples, not yet differentially) (fpconv_dtoa, the shortest text that reads back to the same
 * double): "inf", "-inf", "nan"; integral values without a decimal point; exponent form as %.17g would
 * choose it (exponent < -4 or >= 17), written "1e+17", "1e-05".
 */
export function formatDouble(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (value === Number.POSITIVE_INFINITY) return "inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0" : "0";
  const shortest = value.toExponential(); // shortest round-trip digits, e.g. "1.5e+3"
  const [mantissa, expText] = shortest.split("e") as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= 17) {
    const sign = exp < 0 ? "-" : "+";
    const digits = String(Math.abs(exp)).padStart(2, "0");
    return `${mantissa}e${sign}${digits}`;
  }
  return String(value);
}
