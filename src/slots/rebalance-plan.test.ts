import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { MEMBER_ID_LIMIT, memberOfReplica } from "../lib/replica-id.js";
import { preferredLeaderOf } from "./cluster-layout.js";
import { type ClusterMap, initialClusterMap, replicaIdIn, withReplicaLeft, withReplicaMoved } from "./cluster-map.js";
import {
  activeMembers,
  withMemberDraining,
  withMemberJoined,
  withMemberRemoved,
  withRebalancePaused,
} from "./membership.js";
import { Placement } from "./placement.js";
import { nextRebalanceStep, rebalancePlan, withRebalanceStep } from "./rebalance-plan.js";
import { SlotMap } from "./slot-map.js";

const address = (id: number) => ({ peer: `127.0.0.1:${7100 + id}`, http: `127.0.0.1:${8000 + id}` });

function cluster(members: number, shards: number, replicas: number) {
  const ids = Array.from({ length: members }, (_, i) => i + 1);
  const placement = new Placement(ids, shards, replicas);
  const leaderOf = (shard: ClusterMap["shards"][number]) => preferredLeaderOf(shard, placement);
  return { map: initialClusterMap(new SlotMap(shards), placement), leaderOf };
}

function counts(map: ClusterMap, of: (shard: ClusterMap["shards"][number]) => readonly number[]) {
  const result = new Map(activeMembers(map).map((id) => [id, 0]));
  for (const shard of map.shards) for (const id of of(shard)) result.set(id, (result.get(id) ?? 0) + 1);
  return [...result.values()];
}

/** Applies a whole plan the way the cluster would: each replica move recorded, then finished. */
function applyPlan(map: ClusterMap, leaderOf: (shard: ClusterMap["shards"][number]) => number): ClusterMap {
  let at = map;
  const plan = rebalancePlan(map, leaderOf);
  assert.equal(plan.blocked, undefined, plan.blocked);
  for (const step of plan.steps) {
    at = withRebalanceStep(at, step);
    if (step.kind === "moveReplica") at = withReplicaLeft(at, step.shard, step.from);
  }
  assert.equal(nextRebalanceStep(at, leaderOf).kind, "balanced", "the plan ends balanced");
  return at;
}

test("growing 3 nodes of 6 shards to 5: every node holds replicas and leads a shard; a drained node is removed", () => {
  const { map, leaderOf } = cluster(3, 6, 3);
  assert.equal(nextRebalanceStep(map, leaderOf).kind, "balanced", "placement starts balanced");
  const grown = withMemberJoined(withMemberJoined(map, 4, address(4)), 5, address(5));
  const balanced = applyPlan(grown, leaderOf);
  assert.deepEqual(
    counts(balanced, (shard) => shard.replicas),
    [4, 4, 4, 3, 3],
  );
  assert.deepEqual(
    counts(balanced, (shard) => [leaderOf(shard)]),
    [2, 1, 1, 1, 1],
  );
  const shrunk = applyPlan(withMemberDraining(balanced, 1), leaderOf);
  assert.deepEqual(shrunk.members, [2, 3, 4, 5]);
  assert.deepEqual(shrunk.removed, [1]);
  assert.ok(shrunk.shards.every((shard) => shard.replicas.length === 3 && !shard.replicas.includes(1)));
  assert.throws(() => withMemberJoined(shrunk, 1, address(1)), /was a member of this cluster before/);
});

test("any cluster grown and drained ends with every replica on active members, counts within one", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 1, max: 12 }),
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 3 }),
      fc.array(fc.integer({ min: 1, max: 8 }), { maxLength: 3 }),
      (members, shards, replicas, joining, drains) => {
        const r = Math.min(replicas, members);
        const { map: start, leaderOf } = cluster(members, shards, r);
        let map = start;
        for (let id = members + 1; id <= members + joining; id++) map = withMemberJoined(map, id, address(id));
        for (const id of drains) {
          if (!map.members.includes(id) || activeMembers(map).length - 1 < r) continue;
          map = withMemberDraining(map, id);
        }
        const draining = map.draining ?? [];
        const end = applyPlan(map, leaderOf);
        assert.deepEqual(end.draining, undefined);
        for (const id of draining) assert.ok(!end.members.includes(id) && end.removed?.includes(id) === true);
        for (const shard of end.shards) {
          assert.equal(new Set(shard.replicas).size, r);
          assert.ok(shard.replicas.every((id) => end.members.includes(id)));
          assert.ok(shard.replicas.every((id) => shard.retired?.includes(id) !== true));
        }
        const replicaCounts = counts(end, (shard) => shard.replicas);
        assert.ok(Math.max(...replicaCounts) - Math.min(...replicaCounts) <= 1, `replicas ${replicaCounts}`);
      },
    ),
    { numRuns: 300 },
  );
});

test("one replica move at a time; a paused rebalancer still drains; a member takes a shard back under a new id", () => {
  const { map, leaderOf } = cluster(3, 3, 3);
  const grown = withMemberJoined(map, 4, address(4));
  const first = nextRebalanceStep(grown, leaderOf);
  assert.equal(first.kind, "step");
  assert.ok(first.kind === "step" && first.step.kind === "moveReplica" && first.step.to === 4);
  const moving = withRebalanceStep(grown, first.step);
  assert.deepEqual(nextRebalanceStep(moving, leaderOf), { kind: "moving", shard: first.step.shard });
  assert.equal(nextRebalanceStep(withRebalancePaused(grown, true), leaderOf).kind, "balanced");
  const drain = nextRebalanceStep(withRebalancePaused(withMemberDraining(grown, 2), true), leaderOf);
  assert.ok(drain.kind === "step" && drain.step.kind === "moveReplica" && drain.step.from === 2);
  // A member that takes back a shard it left holds it as a new replica, under a new Raft id (lib/replica-id.ts).
  const from = map.shards[0]?.replicas[0] ?? 0;
  const left = withReplicaLeft(withReplicaMoved(grown, 1, from, 4), 1, from);
  const shardOf = (m: ClusterMap) => m.shards.find((shard) => shard.id === 1) as ClusterMap["shards"][number];
  assert.deepEqual(shardOf(left).retired, [from], "its first replica's id was the member id");
  const back = withReplicaLeft(withReplicaMoved(left, 1, 4, from), 1, 4);
  assert.deepEqual(shardOf(back).retired, [from, 4]);
  assert.equal(replicaIdIn(shardOf(back), from), from + MEMBER_ID_LIMIT);
  assert.equal(memberOfReplica(replicaIdIn(shardOf(back), from)), from);
  assert.equal(replicaIdIn(shardOf(back), 2), 2);
  assert.throws(() => withMemberDraining(map, 1), /would leave 2 members for shards of 3 replicas/);
  assert.throws(() => withMemberRemoved(grown, 1), /still holds replicas/);
});

test("slots are evened out by key count: the fullest shard's highest slots go to the emptiest, one run at a time", () => {
  const { map, leaderOf } = cluster(3, 3, 3);
  // Balanced replicas and leaders: only keys decide. Shard 1 holds 9,000 keys, the others 1,000.
  const keys = new Map([
    [1, 9000],
    [2, 1000],
    [3, 1000],
  ]);
  const decision = nextRebalanceStep(map, leaderOf, keys);
  assert.ok(decision.kind === "step" && decision.step.kind === "moveSlots", JSON.stringify(decision));
  const step = decision.step;
  assert.equal(step.from, 1);
  assert.equal(step.to, 2, "the emptiest, the lower id on a tie");
  // Half the difference (4,000 keys) at 9,000 / 5,461 keys a slot: about 2,427 slots, capped at 1,024.
  assert.equal(step.slots.length, 1024);
  assert.equal(step.slots[step.slots.length - 1], 5460, "the highest slots of shard 1");
  // While those slots move, nothing else is decided on counts that do not show them.
  const moving = withRebalanceStep(map, step);
  assert.deepEqual(nextRebalanceStep(moving, leaderOf, keys), { kind: "moving", shard: 1 });
  // Without key counts, or with shards close enough, slots stay where they are.
  assert.equal(nextRebalanceStep(map, leaderOf).kind, "balanced");
  const close = new Map([
    [1, 1200],
    [2, 1000],
    [3, 1000],
  ]);
  assert.equal(nextRebalanceStep(map, leaderOf, close).kind, "balanced", "1.2× the emptiest: left alone");
  const small = new Map([
    [1, 900],
    [2, 10],
    [3, 10],
  ]);
  assert.equal(nextRebalanceStep(map, leaderOf, small).kind, "balanced", "under 1,000 keys apart: left alone");
  // The plan converges: each step moves less than the difference, so the spread shrinks until none is left.
  const plan = rebalancePlan(map, leaderOf, keys);
  assert.equal(plan.blocked, undefined);
  assert.ok(plan.steps.length >= 2 && plan.steps.every((each) => each.kind === "moveSlots"), JSON.stringify(plan));
  const counts = new Map(keys);
  for (const each of plan.steps) {
    if (each.kind !== "moveSlots") continue;
    counts.set(each.from, (counts.get(each.from) ?? 0) - each.keys);
    counts.set(each.to, (counts.get(each.to) ?? 0) + each.keys);
  }
  const values = [...counts.values()];
  assert.ok(Math.max(...values) <= 1.25 * Math.min(...values) || Math.max(...values) - Math.min(...values) < 1000);
});

test("slots are evened out by load: the hottest shard's hot slots go to the coldest, half the difference at most", () => {
  const { map, leaderOf } = cluster(3, 3, 3);
  const even = new Map([
    [1, 5000],
    [2, 5000],
    [3, 5000],
  ]);
  // Shard 1 (slots 0-5460) takes 6,000 keys/s, most of it on four slots; the others 1,000 each.
  const load = {
    shards: new Map([
      [1, 6000],
      [2, 1000],
      [3, 1000],
    ]),
    slots: new Map([
      [100, 2000],
      [200, 1500],
      [300, 1200],
      [400, 800],
      [6000, 900], // shard 2's
    ]),
  };
  const decision = nextRebalanceStep(map, leaderOf, even, load);
  assert.ok(decision.kind === "step" && decision.step.kind === "moveSlots", JSON.stringify(decision));
  // Half the difference is 2,500/s: slot 100 (2,000) fits; with it, 200, 300 and 400 would each pass 2,500.
  assert.deepEqual(decision.step.slots, [100]);
  assert.equal(decision.step.from, 1);
  assert.equal(decision.step.to, 2, "the coldest, the lower id on a tie");
  assert.equal(decision.step.load, 2000);
  // Key steps come first, and leave hot slots alone.
  const skewed = new Map([
    [1, 9000],
    [2, 1000],
    [3, 1000],
  ]);
  const keyed = nextRebalanceStep(map, leaderOf, skewed, {
    shards: load.shards,
    slots: new Map([[5460, 5000]]),
  });
  assert.ok(keyed.kind === "step" && keyed.step.kind === "moveSlots" && keyed.step.load === undefined);
  assert.ok(!keyed.step.slots.includes(5460), "the hot slot stays");
  assert.equal(keyed.step.slots[keyed.step.slots.length - 1], 5459);
  // A quiet cluster, or loads close enough, are left alone.
  const quiet = { shards: new Map([[1, 400]]), slots: new Map([[100, 400]]) };
  assert.equal(nextRebalanceStep(map, leaderOf, even, quiet).kind, "balanced", "under 500/s apart");
  const close = {
    shards: new Map([
      [1, 1400],
      [2, 1000],
      [3, 1000],
    ]),
    slots: new Map([[100, 1000]]),
  };
  assert.equal(nextRebalanceStep(map, leaderOf, even, close).kind, "balanced", "1.4× the coldest");
  // One slot carrying the whole difference or more would only move the hot spot: it stays.
  const single = {
    shards: new Map([
      [1, 5000],
      [2, 1000],
      [3, 1000],
    ]),
    slots: new Map([[100, 4500]]),
  };
  assert.equal(nextRebalanceStep(map, leaderOf, even, single).kind, "balanced");
  // One slot carrying less than the difference but more than half of it moves alone.
  const large = { shards: single.shards, slots: new Map([[100, 3000]]) };
  const alone = nextRebalanceStep(map, leaderOf, even, large);
  assert.ok(alone.kind === "step" && alone.step.kind === "moveSlots");
  assert.deepEqual(alone.step.slots, [100]);
  // The plan converges: the spread of loads shrinks step by step until none is left to take.
  const plan = rebalancePlan(map, leaderOf, even, 100, load);
  assert.equal(plan.blocked, undefined);
  assert.ok(plan.steps.length >= 2, JSON.stringify(plan));
  const loads = new Map(load.shards);
  for (const each of plan.steps) {
    assert.ok(each.kind === "moveSlots" && each.load !== undefined);
    const before = Math.max(...loads.values()) - Math.min(...loads.values());
    assert.ok(each.load < before, "a step moves less than the difference");
    loads.set(each.from, (loads.get(each.from) ?? 0) - each.load);
    loads.set(each.to, (loads.get(each.to) ?? 0) + each.load);
  }
  const values = [...loads.values()];
  assert.ok(Math.max(...values) <= 1.5 * Math.min(...values) || Math.max(...values) - Math.min(...values) < 500);
});
