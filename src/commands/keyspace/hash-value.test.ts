import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { EMPTY_BYTES, keyFromId, keyId } from "../../lib/bytes.js";
import { ShoalError } from "../../lib/errors.js";
import { encodeCollectionHeader } from "../../store/collection.js";
import type { StoredRecord } from "../../store/record.js";
import { decodeHash, encodeHash, type HashFields } from "./hash-value.js";
import { valueView } from "./value-view.js";

const b = (text: string): Uint8Array => new TextEncoder().encode(text);

function hashOf(pairs: readonly (readonly [Uint8Array, Uint8Array])[]): HashFields {
  return new Map(pairs.map(([field, value]) => [keyId(field), value]));
}

function assertMalformed(bytes: Uint8Array): void {
  assert.throws(
    () => decodeHash(bytes),
    (error: unknown) => error instanceof ShoalError && error.code === "INTERNAL",
    `${[...bytes]}`,
  );
}

describe("hash value encoding", () => {
  it("lays out count, then length-prefixed fields and values, big-endian", () => {
    assert.deepEqual(
      [...encodeHash(hashOf([[b("ab"), b("c")]]))],
      [0, 0, 0, 1, 0, 0, 0, 2, 0x61, 0x62, 0, 0, 0, 1, 0x63],
    );
    assert.deepEqual([...encodeHash(new Map())], [0, 0, 0, 0]);
  });

  it("round-trips empty and binary fields and values, keeping insertion order", () => {
    const fields = hashOf([
      [b("z"), b("1")],
      [new Uint8Array([0, 255, 128]), new Uint8Array([255, 0])],
      [b(""), b("")],
      [b("a"), new Uint8Array(70_000)],
    ]);
    const decoded = decodeHash(encodeHash(fields));
    assert.deepEqual([...decoded.keys()], [...fields.keys()]);
    for (const [id, value] of fields) assert.deepEqual([...(decoded.get(id) ?? [])], [...value]);
    assert.deepEqual([...keyFromId([...decoded.keys()][1] as string)], [0, 255, 128]);
  });

  it("round-trips any hash, also from a view inside a larger buffer", () => {
    const bytes = fc.uint8Array({ maxLength: 12 });
    fc.assert(
      fc.property(fc.array(fc.tuple(bytes, bytes), { maxLength: 20 }), fc.nat(7), (pairs, offset) => {
        const fields = hashOf(pairs);
        const encoded = encodeHash(fields);
        const padded = new Uint8Array(offset + encoded.byteLength + 3).fill(0xee);
        padded.set(encoded, offset);
        const decoded = decodeHash(padded.subarray(offset, offset + encoded.byteLength));
        assert.deepEqual(
          [...decoded].map(([id, value]) => [id, [...value]]),
          [...fields].map(([id, value]) => [id, [...value]]),
        );
      }),
    );
  });

  it("refuses bytes that are not a hash: short, truncated anywhere, overlong lengths, trailing bytes", () => {
    assertMalformed(new Uint8Array(0));
    assertMalformed(new Uint8Array([0, 0, 0]));
    assertMalformed(new Uint8Array([0, 0, 0, 1])); // one entry promised, none present
    assertMalformed(new Uint8Array([0, 0, 0, 0, 0])); // a trailing byte after zero entries
    assertMalformed(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 9, 0x61, 0, 0, 0, 0])); // field length past the end
    assertMalformed(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 1, 0x61, 0, 0, 0, 5, 0x62])); // value length past the end
    assertMalformed(new Uint8Array([255, 255, 255, 255, 0, 0, 0, 0])); // a huge count fails fast
    const valid = encodeHash(
      hashOf([
        [b("field"), b("value")],
        [b("f2"), b("")],
      ]),
    );
    for (let length = 0; length < valid.byteLength; length++) assertMalformed(valid.subarray(0, length));
    const longer = new Uint8Array(valid.byteLength + 1);
    longer.set(valid);
    assertMalformed(longer);
  });
});

describe("value views (for the HTTP layer)", () => {
  const record = (value: Uint8Array): StoredRecord => ({
    type: "hash",
    value,
    createRevision: 1,
    modRevision: 1,
    version: 1,
    expiresAtMs: 0,
  });

  it("lists a compact hash's fields in order, and only counts a table hash's", () => {
    const compact = valueView(
      record(
        encodeHash(
          hashOf([
            [b("z"), b("1")],
            [b("a"), b("2")],
          ]),
        ),
      ),
    );
    assert.deepEqual(compact, {
      type: "hash",
      encoding: "compact",
      fieldCount: 2,
      fields: [
        [b("z"), b("1")],
        [b("a"), b("2")],
      ],
    });
    const header = encodeCollectionHeader({
      collectionId: 4,
      size: 1_000_000,
      rowBytes: 9,
      seed: 1n,
      extra: EMPTY_BYTES,
    });
    assert.deepEqual(valueView(record(header)), { type: "hash", encoding: "table", fieldCount: 1_000_000 });
    assertMalformed(header); // a table hash's record is not a compact hash
    assert.deepEqual(valueView({ ...record(b("x")), type: "string" }), { type: "string", value: b("x") });
  });
});
