import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HISTORY_DROP_ROWS_MIN, HistoryWindow, type RevisionSummary } from "./history.js";

/** Adds `added` to the window as a store does (plan, then commit); returns the rows the batch dropped. */
function apply(window: HistoryWindow, added: RevisionSummary[]): number {
  const plan = window.plan(added);
  window.commit(added, plan);
  return plan.drop.reduce((rows, summary) => rows + summary.count, 0);
}

function revisions(first: number, count: number, rowsEach: number, bytesEach: number): RevisionSummary[] {
  return Array.from({ length: count }, (_, i) => ({ revision: first + i, count: rowsEach, bytes: bytesEach }));
}

describe("history window", () => {
  it("drops a bounded number of rows per batch after a big event, then returns within its bounds", () => {
    const window = new HistoryWindow({ historyRevisionsMax: 1_000_000, historyBytesMax: 2_000_000 }, 0);
    apply(window, revisions(1, 20_000, 1, 100)); // 20,000 small events: exactly at the byte bound
    assert.equal(window.bytes, 2_000_000);
    // One 1 MB event: fitting it would mean dropping 10,000 rows at once; a batch drops at most 4,096.
    const dropped = apply(window, revisions(20_001, 1, 1, 1_000_000));
    assert.equal(dropped, HISTORY_DROP_ROWS_MIN);
    assert.ok(window.bytes > 2_000_000, "over its bound for now");
    let next = 20_002;
    for (let batch = 0; batch < 10 && window.bytes > 2_000_000; batch++) {
      assert.ok(apply(window, revisions(next++, 1, 1, 100)) <= HISTORY_DROP_ROWS_MIN);
    }
    assert.ok(window.bytes <= 2_000_000, "back within its bound after a few batches");
    // The window stays consecutive: every held revision after the compacted one is there.
    assert.equal(window.compactedRevision + window.revisionCount, next - 1);
  });

  it("drops at least twice what a big batch adds, so the window cannot grow without bound", () => {
    const window = new HistoryWindow({ historyRevisionsMax: 1_000_000, historyBytesMax: 1_000_000 }, 0);
    apply(window, revisions(1, 10_000, 1, 100));
    let next = 10_001;
    for (let batch = 0; batch < 20; batch++) {
      apply(window, revisions(next, 1, 10_000, 1_000_000)); // one revision of 10,000 rows
      next++;
      assert.ok(window.bytes <= 2_000_000, `batch ${batch}: ${window.bytes} bytes held`);
    }
  });

  it("holds revisions an import skipped as absent: drops by held revisions, refuses going back", () => {
    const window = new HistoryWindow({ historyRevisionsMax: 3, historyBytesMax: 1_000_000 }, 0);
    apply(window, [...revisions(1, 2, 1, 10), ...revisions(1_000, 1, 1, 10)]);
    assert.equal(window.revisionCount, 3);
    apply(window, revisions(1_001, 1, 1, 10)); // four held: the oldest goes
    assert.equal(window.compactedRevision, 1);
    apply(window, revisions(5_000, 1, 1, 10)); // the next oldest (2) goes: everything before 1,000 is compacted
    assert.equal(window.compactedRevision, 999);
    assert.doesNotThrow(() => window.check(1_000));
    assert.throws(() => window.check(999), /compacted/);
    assert.throws(() => window.commit(revisions(5_000, 1, 1, 10), window.plan([])), /continues the window/);
    assert.throws(() => window.reset(10, revisions(10, 1, 1, 1)), /above the compacted/);
  });
});
