import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { defaultReplicationFactor, Placement } from "./placement.js";

test("three replicas of four shards on four members: members dealt round-robin, one leader each", () => {
  const placement = new Placement([4, 2, 1, 3], 4, 3);
  assert.deepEqual(
    [1, 2, 3, 4].map((s) => placement.replicasOf(s)),
    [
      [1, 2, 3],
      [4, 1, 2],
      [3, 4, 1],
      [2, 3, 4],
    ],
  );
  assert.deepEqual(
    [1, 2, 3, 4].map((s) => placement.preferredLeader(s)),
    [1, 4, 3, 2],
  );
  assert.deepEqual(placement.shardsOf(4), [2, 3, 4]);
});

test("as many replicas as members: every member holds every shard, leaders as before placement", () => {
  const placement = new Placement([1, 2, 3], 5, 3);
  for (let s = 1; s <= 5; s++) assert.deepEqual([...placement.replicasOf(s)].sort(), [1, 2, 3]);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map((s) => placement.preferredLeader(s)),
    [1, 2, 3, 1, 2],
  );
});

test("replicas and preferred leaders spread within one over the members, replicas distinct", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 9 }),
      fc.integer({ min: 1, max: 300 }),
      fc.integer({ min: 1, max: 9 }),
      (ids, shards, wanted) => {
        const r = Math.min(wanted, ids.length);
        const placement = new Placement(ids, shards, r);
        const held = new Map(ids.map((id) => [id, 0]));
        const led = new Map(ids.map((id) => [id, 0]));
        for (let s = 1; s <= shards; s++) {
          const replicas = placement.replicasOf(s);
          assert.equal(new Set(replicas).size, r);
          assert.ok(replicas.includes(placement.preferredLeader(s)));
          for (const id of replicas) held.set(id, (held.get(id) ?? 0) + 1);
          led.set(placement.preferredLeader(s), (led.get(placement.preferredLeader(s)) ?? 0) + 1);
        }
        for (const counts of [held, led]) {
          const values = [...counts.values()];
          assert.ok(Math.max(...values) - Math.min(...values) <= 1, `uneven: ${values.join(",")}`);
        }
        for (const id of ids) assert.equal(placement.shardsOf(id).length, held.get(id));
      },
    ),
  );
});

test("a replication factor outside 1…members is refused; the default is three, capped by the members, more when a member would hold nothing", () => {
  assert.throws(() => new Placement([1, 2], 1, 3), /1 to 2 replicas/);
  assert.throws(() => new Placement([1, 2], 1, 0), /1 to 2 replicas/);
  assert.deepEqual(
    [1, 2, 3, 5, 9].map((members) => defaultReplicationFactor(members, 3)),
    [1, 2, 3, 3, 3],
  );
  // Fewer shards than would give every member one: more replicas, so no member sits idle.
  assert.deepEqual(
    [1, 2, 4].map((shards) => defaultReplicationFactor(5, shards)),
    [5, 3, 3],
  );
  for (let members = 1; members <= 9; members++) {
    for (let shards = 1; shards <= 12; shards++) {
      const placement = new Placement(
        Array.from({ length: members }, (_, i) => i + 1),
        shards,
        defaultReplicationFactor(members, shards),
      );
      for (const id of placement.memberIds) assert.ok(placement.shardsOf(id).length > 0, `${members}/${shards}`);
    }
  }
});
