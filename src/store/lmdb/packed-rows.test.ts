import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { runSteps } from "../../lib/steps.js";
import { PackedRowsBuilder, unpackRows } from "./packed-rows.js";

test("packed rows unpack to the same puts and removes, in order, whatever their sizes", () => {
  const row = fc.record({
    key: fc.uint8Array({ minLength: 1, maxLength: 1978 }),
    value: fc.option(fc.uint8Array({ maxLength: 3000 }), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(row, { maxLength: 3000 }), (rows) => {
      const builder = new PackedRowsBuilder();
      for (const { key, value } of rows) {
        if (value === undefined) builder.remove(key);
        else builder.put(key, value);
      }
      const seen: { key: Uint8Array; value: Uint8Array | undefined }[] = [];
      const count = unpackRows(runSteps(builder.packSteps()), {
        put: (key, value) => seen.push({ key: Uint8Array.from(key), value: Uint8Array.from(value) }),
        remove: (key) => seen.push({ key: Uint8Array.from(key), value: undefined }),
      });
      assert.equal(count, rows.length);
      assert.deepEqual(
        seen,
        rows.map(({ key, value }) => ({ key, value })),
      );
    }),
    { numRuns: 60 },
  );
});

test("a damaged buffer is refused, not misread", () => {
  const builder = new PackedRowsBuilder();
  builder.put(new Uint8Array([1]), new Uint8Array([2]));
  const packed = runSteps(builder.packSteps());
  new Uint8Array(packed)[0] = 7;
  assert.throws(() => unpackRows(packed, { put: () => {}, remove: () => {} }), /unknown op 7/);
});
