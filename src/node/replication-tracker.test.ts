import assert from "node:assert/strict";
import { test } from "node:test";
import { ReplicationTracker } from "./replication-tracker.js";
import { leaderStatus } from "./testing/leader-status.js";

test("caught up, catching up, stalled and diverged are told apart by the match index's history", () => {
  const tracker = new ReplicationTracker({ laggingEntriesMin: 10, stallMs: 1000 });
  tracker.observe(leaderStatus(100, { 1: 100, 2: 95, 3: 20 }), 0);
  let states = tracker.states(leaderStatus(200, { 1: 200, 2: 195, 3: 60 }), 500);
  assert.deepEqual(Object.fromEntries(states), { 1: "caught-up", 2: "caught-up", 3: "catching-up" });
  states = tracker.states(leaderStatus(300, { 1: 300, 2: 295, 3: 60 }), 1400);
  assert.equal(states.get(3), "catching-up", "moved 900 ms ago");
  states = tracker.states(leaderStatus(300, { 1: 300, 2: 295, 3: 60 }), 1600);
  assert.equal(states.get(3), "stalled", "not moved for more than 1 s while far behind");
  states = tracker.states(leaderStatus(300, { 1: 300, 2: 0, 3: 60 }, { 2: 450 }), 1700);
  assert.equal(states.get(2), "diverged");
});

test("a new term starts over, and a follower has no judgement to give", () => {
  const tracker = new ReplicationTracker({ laggingEntriesMin: 10, stallMs: 1000 });
  tracker.observe(leaderStatus(100, { 1: 100, 3: 20 }), 0);
  assert.equal(tracker.states({ ...leaderStatus(100, { 1: 100, 3: 20 }), term: 3 }, 5000).get(3), "catching-up");
  assert.equal(tracker.states({ ...leaderStatus(100, {}), role: "follower" }, 6000).size, 0);
});
