import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { packArgvs, unpackArgvs } from "./read-protocol.js";

test("argvs packed for a read worker unpack to the same commands (empty and binary arguments included)", () => {
  const arg = fc.uint8Array({ minLength: 0, maxLength: 20 });
  fc.assert(
    fc.property(fc.array(fc.array(arg, { minLength: 0, maxLength: 6 }), { minLength: 0, maxLength: 6 }), (argvs) => {
      const back = unpackArgvs(packArgvs(argvs)).map((argv) => argv.map((a) => [...a]));
      assert.deepEqual(
        back,
        argvs.map((argv) => argv.map((a) => [...a])),
      );
    }),
    { numRuns: 300 },
  );
});
