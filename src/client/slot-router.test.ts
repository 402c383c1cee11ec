import assert from "node:assert/strict";
import { test } from "node:test";
import { hashSlot } from "../slots/hash-slot.js";
import { SlotRouter } from "./slot-router.js";
import type { ClusterStatus } from "./types.js";

const member = (id: number) => ({ id, role: "follower", peer: "", http: `127.0.0.1:800${id}`, reachable: true });

function status(shards: ClusterStatus["shards"]): ClusterStatus {
  return {
    id: 1,
    leader: 1,
    term: 1,
    role: "leader",
    commitIndex: 1,
    appliedIndex: 1,
    lastIndex: 1,
    members: [member(1), member(2), member(3)],
    ...(shards === undefined ? {} : { shards }),
  };
}

const threeShards = status([
  { id: 1, slots: [[0, 5460]], leader: 1, replicas: [2, 3], epoch: 1 },
  { id: 2, slots: [[5461, 10922]], leader: 2, replicas: [1, 3], epoch: 1 },
  { id: 3, slots: [[10923, 16383]], leader: 0, replicas: [1, 2, 3], epoch: 1 },
]);

test("a key routes to the leader of its slot's shard; none while unknown, leaderless or on one shard", () => {
  const router = new SlotRouter();
  assert.equal(router.endpointFor("foo"), undefined, "nothing learnt yet");
  router.learn(threeShards);
  const key = (slotFrom: number, slotTo: number) => {
    for (let i = 0; ; i++) {
      const slot = hashSlot(new TextEncoder().encode(`k${i}`));
      if (slot >= slotFrom && slot <= slotTo) return `k${i}`;
    }
  };
  assert.equal(router.endpointFor(key(0, 5460)), "http://127.0.0.1:8001");
  assert.equal(router.endpointFor(key(5461, 10922)), "http://127.0.0.1:8002");
  assert.equal(router.endpointFor(key(10923, 16383)), undefined, "shard 3 has no leader");
  assert.equal(router.endpointFor("{user}a"), router.endpointFor("{user}b"), "a hash tag routes alike");
  router.forget("http://127.0.0.1:8002");
  assert.equal(router.endpointFor(key(5461, 10922)), undefined, "an unreachable leader is forgotten");
  router.learn(status([{ id: 1, slots: [[0, 16383]], leader: 1, replicas: [2, 3], epoch: 1 }]));
  assert.equal(router.endpointFor(key(0, 5460)), undefined, "one shard: any node is as good");
});
