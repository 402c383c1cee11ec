import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import type { NodeId } from "../raft/types.js";
import { MOVE_CATCH_UP_SLACK, type MoveStatus, nextMoveStep } from "./replica-move.js";
import { gapOf } from "./replica-mover.js";

function status(
  voters: NodeId[],
  learners: NodeId[],
  match: Record<number, number>,
  options: { id?: NodeId; commitIndex?: number; role?: string } = {},
): MoveStatus {
  return {
    id: options.id ?? 1,
    role: options.role ?? "leader",
    commitIndex: options.commitIndex ?? 1000,
    confState: { voters, learners },
    matchIndex: new Map(Object.entries(match).map(([id, index]) => [Number(id), index])),
  };
}

describe("nextMoveStep", () => {
  const move = { from: 3, to: 4 };

  it("adds the new member as a learner, waits for it to catch up, then promotes it", () => {
    assert.deepEqual(nextMoveStep(status([1, 2, 3], [], { 2: 1000, 3: 1000 }), move), {
      kind: "confChange",
      change: { type: "addLearner", nodeId: 4 },
    });
    const behind = nextMoveStep(status([1, 2, 3], [4], { 2: 1000, 3: 1000, 4: 10 }), move);
    assert.equal(behind.kind, "wait");
    assert.deepEqual(nextMoveStep(status([1, 2, 3], [4], { 2: 1000, 3: 1000, 4: 1000 }), move), {
      kind: "confChange",
      change: { type: "addVoter", nodeId: 4 },
    });
  });

  it("never counts a learner that acknowledged nothing as caught up, even on a log shorter than the slack", () => {
    const young = { commitIndex: 12 };
    assert.equal(nextMoveStep(status([1, 2, 3], [4], { 2: 12, 3: 12 }, young), move).kind, "wait");
    assert.equal(nextMoveStep(status([1, 2, 3], [4], { 2: 12, 3: 12, 4: 0 }, young), move).kind, "wait");
    assert.deepEqual(nextMoveStep(status([1, 2, 3], [4], { 2: 12, 3: 12, 4: 3 }, young), move), {
      kind: "confChange",
      change: { type: "addVoter", nodeId: 4 },
    });
  });

  it("removes the leaving member only while the voters left hold a caught-up majority", () => {
    const remove = { kind: "confChange", change: { type: "removeNode", nodeId: 3 } };
    assert.deepEqual(nextMoveStep(status([1, 2, 3, 4], [], { 2: 1000, 3: 1000, 4: 1000 }), move), remove);
    assert.deepEqual(nextMoveStep(status([1, 2, 3, 4], [], { 2: 5, 3: 1000, 4: 1000 }), move), remove);
    // Left: 1, 2, 4 with 2 and 4 far behind — only the leader is up to date.
    const step = nextMoveStep(status([1, 2, 3, 4], [], { 2: 5, 3: 1000, 4: 5 }), move);
    assert.equal(step.kind, "wait");
  });

  it("hands leadership away before removing the leader itself, and is done once the member is gone", () => {
    const leaving = { from: 1, to: 4 };
    assert.deepEqual(nextMoveStep(status([1, 2, 3, 4], [], { 2: 1000, 3: 1000, 4: 1000 }), leaving), {
      kind: "transferLeader",
      target: 2,
    });
    assert.deepEqual(nextMoveStep(status([1, 2, 4], [], { 2: 1000, 4: 1000 }), move), { kind: "done" });
    assert.deepEqual(nextMoveStep(status([1, 2, 3], [], {}, { role: "follower" }), move), { kind: "notLeader" });
  });

  it("never promotes a learner that is not caught up, never removes into a minority, never removes the leader", () => {
    const ids = fc.constantFrom<NodeId>(1, 2, 3, 4, 5);
    fc.assert(
      fc.property(
        fc.uniqueArray(ids, { minLength: 1, maxLength: 5 }),
        fc.uniqueArray(ids, { maxLength: 2 }),
        fc.dictionary(fc.constantFrom("1", "2", "3", "4", "5"), fc.nat({ max: 1000 })),
        ids,
        ids,
        (voters, learnerPick, matchText, from, to) => {
          const learners = learnerPick.filter((id) => !voters.includes(id));
          const leader = voters[0] as NodeId;
          const match = Object.fromEntries(Object.entries(matchText).map(([id, index]) => [Number(id), index]));
          const s = status(voters, learners, match, { id: leader });
          const caughtUp = (id: NodeId) => id === leader || (match[id] ?? 0) >= 1000 - MOVE_CATCH_UP_SLACK;
          const step = nextMoveStep(s, { from, to: to === from ? 0 : to });
          if (step.kind !== "confChange") return;
          const { type, nodeId } = step.change;
          if (type === "addVoter") assert.ok(caughtUp(nodeId), "promoted a learner that is behind");
          if (type === "removeNode") {
            assert.notEqual(nodeId, leader, "the leader removed itself");
            if (voters.includes(nodeId)) {
              const left = voters.filter((id) => id !== nodeId);
              assert.ok(left.filter(caughtUp).length > left.length / 2, "removed into a minority of caught-up voters");
            }
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("gapOf", () => {
  it("finds the member to add and the one to remove, or nothing when the group is as desired", () => {
    assert.equal(gapOf([1, 2, 3], { voters: [1, 2, 3], learners: [] }), undefined);
    assert.deepEqual(gapOf([1, 2, 4], { voters: [1, 2, 3], learners: [] }), { from: 3, to: 4 });
    assert.deepEqual(gapOf([1, 2, 4], { voters: [1, 2, 3], learners: [4] }), { from: 3, to: 4 });
    assert.deepEqual(gapOf([1, 2, 4], { voters: [1, 2, 4], learners: [3] }), { from: 3, to: 0 });
  });
});
