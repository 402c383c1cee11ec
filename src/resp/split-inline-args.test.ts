import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { splitInlineArgs } from "./split-inline-args.js";

/** Redis's sdscatrepr (what redis-cli and MONITOR print): the inverse of double-quoted inline arguments. */
function catRepr(bytes: Uint8Array): string {
  let out = '"';
  for (const c of bytes) {
    if (c === 0x5c || c === 0x22) out += `\\${String.fromCharCode(c)}`;
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x07) out += "\\a";
    else if (c === 0x08) out += "\\b";
    else if (c >= 0x20 && c < 0x7f) out += String.fromCharCode(c);
    else out += `\\x${c.toString(16).padStart(2, "0")}`;
  }
  return `${out}"`;
}

const enc = (s: string): Uint8Array => Buffer.from(s, "latin1");

describe("splitInlineArgs", () => {
  it("reads back any arguments written in sdscatrepr form, separated by any blanks", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 20 }), { maxLength: 8 }),
        fc.array(fc.constantFrom(" ", "\t", "  ", " \t "), { minLength: 8, maxLength: 8 }),
        (args, blanks) => {
          const line = args.map((a, i) => `${catRepr(a)}${blanks[i]}`).join("");
          const got = splitInlineArgs(enc(line));
          assert.deepEqual(
            got?.map((a) => [...a]),
            args.map((a) => [...a]),
          );
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("never throws on random lines and returns undefined only for quote problems", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(..."ab \t\"'\\x4\0".split("")), { maxLength: 30 }), (chars) => {
        const line = chars.join("");
        const got = splitInlineArgs(enc(line));
        if (got === undefined) assert.match(line, /["']/);
      }),
      { numRuns: 2000 },
    );
  });
});
