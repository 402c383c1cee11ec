import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isSlotLoadReport, mergeSlotLoads, SlotLoad } from "./slot-load.js";

describe("slot load", () => {
  it("reports the last complete window as rates, per shard of the slot's owner now and for the hottest slots", () => {
    const load = new SlotLoad(0);
    assert.equal(load.report({ shardOf: () => 1 }), undefined, "no window complete yet");
    for (let i = 0; i < 300; i++) load.record(7);
    for (let i = 0; i < 100; i++) load.record(9_000);
    for (let slot = 0; slot < 10; slot++) load.record(slot);
    load.rotate(2_000); // a 2 s window
    load.record(7); // the next window: not reported yet
    const owners = { shardOf: (slot: number): number => (slot < 8_192 ? 1 : 2) };
    const report = load.report(owners, 3);
    assert.ok(report !== undefined);
    assert.deepEqual(report.shards, { "1": (300 + 10) / 2, "2": 100 / 2 });
    assert.deepEqual(report.hot, [
      [7, 301 / 2], // 300, and once among slots 0-9
      [9_000, 50],
      [0, 0.5],
    ]);
    // Given to the owner at report time: a slot moved since counts for its new shard.
    assert.deepEqual(load.report({ shardOf: () => 3 }, 1)?.shards, { "3": 410 / 2 });
    // Made once per window and owners (every member info carries it), again when either changes.
    assert.equal(load.report(owners, 3), load.report(owners, 3));
    load.rotate(4_000);
    assert.deepEqual(load.report(owners)?.hot, [[7, 0.5]]);
  });

  it("sums the members' reports, skipping those that did not answer", () => {
    const merged = mergeSlotLoads([
      { shards: { "1": 10, "2": 5 }, hot: [[3, 10]] },
      undefined,
      {
        shards: { "2": 5 },
        hot: [
          [3, 1],
          [9_000, 5],
        ],
      },
    ]);
    assert.deepEqual(
      [...merged.shards],
      [
        [1, 10],
        [2, 10],
      ],
    );
    assert.deepEqual(
      [...merged.slots],
      [
        [3, 11],
        [9_000, 5],
      ],
    );
  });

  it("accepts only a well-formed report from another member", () => {
    assert.ok(isSlotLoadReport({ shards: { "1": 2 }, hot: [[5, 1.5]] }));
    for (const bad of [
      undefined,
      null,
      "x",
      { shards: {} },
      { shards: { "1": -1 }, hot: [] },
      { shards: { "1": Number.NaN }, hot: [] },
      { shards: {}, hot: [[16_384, 1]] },
      { shards: {}, hot: [[1.5, 1]] },
      { shards: {}, hot: [[1]] },
      { shards: {}, hot: [[1, "2"]] },
    ]) {
      assert.equal(isSlotLoadReport(bad), false, JSON.stringify(bad));
    }
  });
});
