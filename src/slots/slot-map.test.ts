import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { SLOT_COUNT } from "./hash-slot.js";
import { SHARD_COUNT_MAX, SlotMap } from "./slot-map.js";

test("one shard owns every slot", () => {
  const map = new SlotMap(1);
  assert.deepEqual(map.rangesOf(1), [{ from: 0, to: SLOT_COUNT - 1 }]);
  assert.equal(map.shardOf(0), 1);
  assert.equal(map.shardOf(SLOT_COUNT - 1), 1);
});

test("three shards split the slots as Redis's create-cluster does for three masters", () => {
  const map = new SlotMap(3);
  assert.deepEqual(
    map.shards().map((s) => map.rangesOf(s)),
    [[{ from: 0, to: 5460 }], [{ from: 5461, to: 10922 }], [{ from: 10923, to: 16383 }]],
  );
});

test("any shard count: every slot has exactly one shard, ranges are contiguous, in order and within one slot of even", () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: SHARD_COUNT_MAX }), (count) => {
      const map = new SlotMap(count);
      let next = 0;
      const sizes: number[] = [];
      for (const shard of map.shards()) {
        const ranges = map.rangesOf(shard);
        assert.equal(ranges.length, 1);
        const [range] = ranges as [{ from: number; to: number }];
        assert.equal(range.from, next);
        for (const slot of [range.from, range.to]) assert.equal(map.shardOf(slot), shard);
        sizes.push(range.to - range.from + 1);
        next = range.to + 1;
      }
      assert.equal(next, SLOT_COUNT);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    }),
    { numRuns: 200 },
  );
});

test("refuses shard counts outside 1 … SHARD_COUNT_MAX and slots outside the table", () => {
  for (const bad of [0, -1, 1.5, SHARD_COUNT_MAX + 1, Number.NaN]) assert.throws(() => new SlotMap(bad), RangeError);
  const map = new SlotMap(2);
  for (const bad of [-1, SLOT_COUNT, 0.5]) assert.throws(() => map.shardOf(bad), RangeError);
});

test("a map from a cluster map's ranges: a moved slot changes owner, every slot owned once, none left out", () => {
  const even = new SlotMap(3);
  const ranges = even.shards().map((id) => ({ id, slots: even.rangesOf(id) }));
  const same = SlotMap.fromRanges(ranges);
  for (let slot = 0; slot < SLOT_COUNT; slot += 97) assert.equal(same.shardOf(slot), even.shardOf(slot));
  // Slot 100 moved from shard 1 to shard 3: shard 1 owns two ranges around it.
  const moved = SlotMap.fromRanges([
    {
      id: 1,
      slots: [
        { from: 0, to: 99 },
        { from: 101, to: 5460 },
      ],
    },
    { id: 2, slots: [{ from: 5461, to: 10922 }] },
    {
      id: 3,
      slots: [
        { from: 100, to: 100 },
        { from: 10923, to: 16383 },
      ],
    },
  ]);
  assert.equal(moved.shardOf(100), 3);
  assert.deepEqual(moved.rangesOf(1), [
    { from: 0, to: 99 },
    { from: 101, to: 5460 },
  ]);
  assert.deepEqual(moved.shards(), [1, 2, 3]);
  // Shard ids need not be 1 … n once shards are split and merged.
  const sparse = SlotMap.fromRanges([
    { id: 2, slots: [{ from: 0, to: 8191 }] },
    { id: 7, slots: [{ from: 8192, to: 16383 }] },
  ]);
  assert.deepEqual(sparse.shards(), [2, 7]);
  assert.equal(sparse.shardOf(8192), 7);
  assert.throws(() => SlotMap.fromRanges(ranges.slice(1)), /Slot 0 has no owner/);
  assert.throws(() => SlotMap.fromRanges([...ranges, { id: 4, slots: [{ from: 5, to: 5 }] }]), /Slot 5 has two owners/);
  // A shard may own no slot (split off, before its slots arrive; merged away, before the map drops it).
  const withEmpty = SlotMap.fromRanges([...ranges, { id: 4, slots: [] }]);
  assert.deepEqual(withEmpty.rangesOf(4), []);
  assert.ok(!withEmpty.shards().includes(4));
  assert.throws(() => SlotMap.fromRanges([{ id: 1, slots: [{ from: 0, to: SLOT_COUNT }] }]), /bad slot range/);
});
