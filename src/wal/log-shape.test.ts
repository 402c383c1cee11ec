import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Prng } from "../lib/prng.js";
import { LogShape } from "./log-shape.js";
import { ModelLog, randomSave } from "./wal-fixtures.js";

describe("LogShape", () => {
  it("tracks the same last index and terms as the reference model over random saves", () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const prng = new Prng(seed);
      const model = new ModelLog();
      const shape = new LogShape();
      for (let step = 0; step < 400; step++) {
        const save = randomSave(prng, model, 0);
        if (save.snapshot !== undefined) {
          const keep = shape.keepsEntriesAfter(save.snapshot);
          assert.equal(shape.snapshotProblem(save.snapshot, keep), undefined, `seed ${seed} step ${step}`);
          shape.applySnapshot(save.snapshot, keep);
        }
        for (const entry of save.entries) {
          assert.equal(shape.entryProblem(entry.index, entry.term), undefined, `seed ${seed} step ${step}`);
          shape.appendEntry(entry.index, entry.term);
        }
        if (save.hardState !== undefined) {
          assert.equal(shape.hardStateProblem(save.hardState), undefined, `seed ${seed} step ${step}`);
          shape.setHardState(save.hardState);
        }
        assert.equal(shape.commitProblem(), undefined);
        model.apply(save);
        assert.equal(shape.lastIndex, model.lastIndex, `seed ${seed} step ${step}`);
        assert.equal(shape.snapshotIndex, model.snapshotIndex);
        for (let index = model.snapshotIndex; index <= model.lastIndex; index++) {
          assert.equal(shape.termAt(index), model.termAt(index), `seed ${seed} step ${step} index ${index}`);
        }
      }
    }
  });

  it("names what is wrong with a record that breaks the log's rules", () => {
    const shape = new LogShape();
    shape.appendEntry(1, 1);
    shape.appendEntry(2, 2);
    shape.setHardState({ term: 2, vote: 1, commit: 1 });
    assert.match(shape.entryProblem(4, 2) ?? "", /leaves a gap after index 2/);
    assert.match(shape.entryProblem(1, 3) ?? "", /would replace committed index 1/);
    assert.match(shape.entryProblem(3, 1) ?? "", /below term 2/);
    assert.equal(shape.entryProblem(2, 3), undefined, "an uncommitted suffix may be replaced");
    assert.match(shape.hardStateProblem({ term: 1, vote: 1, commit: 1 }) ?? "", /goes back/);
    assert.match(shape.hardStateProblem({ term: 2, vote: 3, commit: 1 }) ?? "", /changes the vote of term 2/);
    assert.match(shape.hardStateProblem({ term: 2, vote: 1, commit: 0 }) ?? "", /commit 0 goes back/);
    shape.setHardState({ term: 2, vote: 1, commit: 3 });
    assert.match(shape.commitProblem() ?? "", /past the last index 2/);
    shape.setHardState({ term: 2, vote: 1, commit: 1 });
    const conf = { voters: [1], learners: [] };
    assert.match(shape.snapshotProblem({ index: 1, term: 1, confState: conf }, false) ?? "", /keep=false/);
    shape.applySnapshot({ index: 2, term: 2, confState: conf }, true);
    assert.match(shape.snapshotProblem({ index: 1, term: 1, confState: conf }, true) ?? "", /older/);
    assert.match(shape.entryProblem(2, 2) ?? "", /not after the snapshot at 2/);
  });
});

describe("LogShape missing entries", () => {
  it("lets recovery's first entry leave a gap that a later snapshot must cover", () => {
    const conf = { voters: [1], learners: [] };
    const shape = new LogShape();
    shape.applySnapshot({ index: 10, term: 1, confState: conf }, true);
    assert.match(shape.entryProblem(15, 2) ?? "", /gap/);
    assert.equal(shape.entryProblem(15, 2, true), undefined);
    shape.appendEntry(15, 2);
    shape.appendEntry(16, 2);
    assert.equal(shape.firstKnownIndex, 15);
    assert.equal(shape.termAt(12), undefined, "a missing entry's term is unknown");
    assert.match(shape.missingProblem() ?? "", /entries 11 to 14 are missing/);
    // Over missing entries the marker's keep decision is trusted, not checked.
    assert.equal(shape.snapshotProblem({ index: 12, term: 2, confState: conf }, true), undefined);
    shape.applySnapshot({ index: 12, term: 2, confState: conf }, true);
    assert.match(shape.missingProblem() ?? "", /entries 13 to 14 are missing/);
    shape.applySnapshot({ index: 15, term: 2, confState: conf }, true);
    assert.equal(shape.missingProblem(), undefined);
    assert.equal(shape.lastIndex, 16);
    assert.equal(shape.termAt(16), 2);
  });
});
