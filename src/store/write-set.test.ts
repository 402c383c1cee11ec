import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { AssertionError } from "../lib/assert.js";
import { keyFromId, keyId } from "../lib/bytes.js";
import { SortedIdMap } from "../lib/sorted-ids.js";
import { MapKeyspace } from "./testing/map-keyspace.js";
import { WriteSet } from "./write-set.js";

const COLLECTION = 3;
/** Row ids from a small alphabet, so puts, deletes and `after` positions collide often. */
const rowId = fc.string({ unit: fc.constantFrom("a", "b", "c", "\u0000", "\u00ff"), maxLength: 3 });

function baseWith(ids: readonly string[]): MapKeyspace {
  const base = new MapKeyspace();
  const rows = new SortedIdMap<Uint8Array>();
  for (const id of ids) rows.set(id, keyFromId(`base:${id}`));
  base.rows.set(COLLECTION, rows);
  base.rows.set(COLLECTION + 1, rows); // a neighbouring collection must never show through
  return base;
}

describe("WriteSet collection rows", () => {
  it("lists the base's rows merged with pending writes, in order, from any position, with any page size", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(rowId),
        fc.array(fc.tuple(rowId, fc.option(fc.string(), { nil: undefined }))),
        fc.option(rowId, { nil: undefined }),
        fc.integer({ min: 1, max: 8 }),
        (baseIds, writes, after, limit) => {
          const base = baseWith(baseIds);
          const model = new Map(baseIds.map((id) => [id, `base:${id}`]));
          // Two levels, as a command's write set sits over the batch's: the parent writes before the child exists.
          const parent = new WriteSet(base, 1);
          let child: WriteSet | undefined;
          writes.forEach(([id, value], i) => {
            if (i === Math.floor(writes.length / 2)) child = new WriteSet(parent);
            const target = child ?? parent;
            if (value === undefined) {
              target.deleteRow(COLLECTION, keyFromId(id));
              model.delete(id);
            } else {
              target.putRow(COLLECTION, keyFromId(id), keyFromId(value));
              model.set(id, value);
            }
          });
          const expected = [...model]
            .filter(([id]) => after === undefined || id > after)
            .sort(([x], [y]) => (x < y ? -1 : 1))
            .slice(0, limit);
          child ??= new WriteSet(parent);
          const actual = child.rowsAfter(COLLECTION, after === undefined ? undefined : keyFromId(after), limit);
          assert.deepEqual(
            actual.map((row) => [keyId(row.rowKey), keyId(row.value)]),
            expected,
          );
          for (const [id, value] of model)
            assert.equal(keyId(child.getRow(COLLECTION, keyFromId(id)) ?? new Uint8Array()), value);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("merges a first child whole and a later one write by write, with the same result either way", () => {
    const record = (value: string) =>
      ({
        type: "string",
        value: keyFromId(value),
        createRevision: 1,
        modRevision: 1,
        version: 1,
        expiresAtMs: 0,
      }) as const;
    const parent = new WriteSet(baseWith(["x"]), 5);
    const first = new WriteSet(parent);
    first.put(keyFromId("a"), record("1"));
    first.delete(keyFromId("x"));
    first.putRow(5, keyFromId("r"), keyFromId("v"));
    parent.merge(first); // parent had no writes: takes the child's over
    const second = new WriteSet(parent);
    assert.equal(second.getRecord(keyFromId("a"))?.value.length, 1, "the merged write is read through a new child");
    second.put(keyFromId("a"), record("2"));
    second.put(keyFromId("b"), record("3"));
    parent.merge(second); // replayed onto the parent's writes
    assert.deepEqual(
      parent.mutations.map(({ id, record: r }) => [id, r === undefined ? undefined : keyId(r.value)]),
      [
        ["a", "1"],
        ["x", undefined],
        ["a", "2"],
        ["b", "3"],
      ],
    );
    assert.equal(keyId(parent.getRecord(keyFromId("a"))?.value ?? new Uint8Array()), "2");
    assert.equal(parent.getRecord(keyFromId("x")), undefined);
    assert.equal(parent.rowMutations.length, 1);
    assert.equal(keyId(parent.getRow(5, keyFromId("r")) ?? new Uint8Array()), "v");
  });

  it("merges a child's rows and collection ids into its parent, and a discarded child leaves nothing", () => {
    const parent = new WriteSet(baseWith(["x"]), 5);
    const discarded = new WriteSet(parent);
    assert.equal(discarded.allocateCollectionId(), 5);
    discarded.putRow(5, keyFromId("r"), keyFromId("v"));
    discarded.deleteRow(COLLECTION, keyFromId("x"));
    assert.equal(parent.nextCollectionId(), 5);
    assert.equal(parent.getRow(5, keyFromId("r")), undefined);
    assert.equal(parent.rowsAfter(COLLECTION, undefined, 10).length, 1);
    const kept = new WriteSet(parent);
    assert.equal(kept.allocateCollectionId(), 5, "a discarded allocation is not used up");
    kept.putRow(5, keyFromId("r"), keyFromId("v"));
    parent.merge(kept);
    assert.equal(parent.nextCollectionId(), 6);
    assert.deepEqual(parent.rowMutations, [{ collectionId: 5, rowKey: keyFromId("r"), value: keyFromId("v") }]);
    assert.equal(keyId(parent.getRow(5, keyFromId("r")) ?? new Uint8Array()), "v");
    assert.throws(() => new WriteSet(baseWith([])).allocateCollectionId(), AssertionError, "no counter, no ids");
  });
});
