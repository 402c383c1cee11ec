/**
 * @module Splits one inline command line into arguments exactly as Redis's `sdssplitargs` does: blanks
 * separate arguments; "double quotes" understand \n \r \t \b \a, \xHH and \<any> escapes; 'single quotes'
 * understand only \'; a closing quote must be followed by a blank or the end of the line. Like the C
 * original, a NUL byte ends the line. Returns undefined for unbalanced quotes.
 */

const QUOTE_DOUBLE = 0x22;
const QUOTE_SINGLE = 0x27;
const BACKSLASH = 0x5c;

/** C's isspace: space, \t, \n, \v, \f, \r. */
function isSpace(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10;
  return -1;
}

const ESCAPES: Record<number, number> = { 110: 0x0a, 114: 0x0d, 116: 0x09, 98: 0x08, 97: 0x07 };

export function splitInlineArgs(line: Uint8Array): Uint8Array[] | undefined {
  const nul = line.indexOf(0);
  const end = nul === -1 ? line.length : nul;
  const at = (i: number): number => (i < end ? (line[i] as number) : 0);
  const args: Uint8Array[] = [];
  let p = 0;
  for (;;) {
    while (p < end && isSpace(at(p))) p++;
    if (p >= end) return args;
    const current: number[] = [];
    let inDouble = false;
    let inSingle = false;
    let done = false;
    while (!done) {
      const c = at(p);
      if (inDouble) {
        if (c === BACKSLASH && at(p + 1) === 0x78 && hexValue(at(p + 2)) >= 0 && hexValue(at(p + 3)) >= 0) {
          current.push(hexValue(at(p + 2)) * 16 + hexValue(at(p + 3)));
          p += 3;
        } else if (c === BACKSLASH && at(p + 1) !== 0) {
          p++;
          const e = at(p);
          current.push(ESCAPES[e] ?? e);
        } else if (c === QUOTE_DOUBLE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          current.push(c);
        }
      } else if (inSingle) {
        if (c === BACKSLASH && at(p + 1) === QUOTE_SINGLE) {
          p++;
          current.push(QUOTE_SINGLE);
        } else if (c === QUOTE_SINGLE) {
          if (at(p + 1) !== 0 && !isSpace(at(p + 1))) return undefined;
          done = true;
        } else if (c === 0) {
          return undefined;
        } else {
          current.push(c);
        }
      } else if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0) {
        done = true;
      } else if (c === QUOTE_DOUBLE) {
        inDouble = true;
      } else if (c === QUOTE_SINGLE) {
        inSingle = true;
      } else {
        current.push(c);
      }
      if (at(p) !== 0) p++;
    }
    args.push(Uint8Array.from(current));
  }
}
