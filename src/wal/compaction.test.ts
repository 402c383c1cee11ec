import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planCompaction } from "./compaction.js";
import { newSegment, type Segment } from "./segment.js";

function segments(...maxEntryIndexes: number[]): Segment[] {
  return maxEntryIndexes.map((maxEntryIndex, k) => {
    const segment = newSegment(k + 1, 0);
    segment.maxEntryIndex = maxEntryIndex;
    segment.sizeBytes = 100;
    return segment;
  });
}

describe("planCompaction", () => {
  it("never deletes the last segment", () => {
    assert.equal(planCompaction(segments(10), 100), 0);
    assert.equal(planCompaction(segments(10, 20), 100), 1);
  });

  it("deletes the longest prefix whose entries are all covered", () => {
    const list = segments(10, 20, 30, 40);
    assert.equal(planCompaction(list, 25), 2, "segments 1 and 2 (entries <= 20 <= 25)");
    assert.equal(planCompaction(list, 9), 0, "segment 1 holds entry 10 > 9");
  });

  it("stops at a segment holding a higher entry, even if later ones hold lower ones (overwrites)", () => {
    assert.equal(planCompaction(segments(100, 60, 70), 65), 0);
    assert.equal(planCompaction(segments(100, 60, 70), 100), 2);
  });

  it("deletes segments that hold no entries at all", () => {
    assert.equal(planCompaction(segments(0, 0, 5), 0), 2);
  });
});
