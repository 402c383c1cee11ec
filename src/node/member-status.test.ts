import assert from "node:assert/strict";
import { test } from "node:test";
import { MemberStatus, type ShardReplicaState } from "./member-status.js";
import { leaderStatus } from "./testing/leader-status.js";

/** A leader of shard 1 whose other shards are `others`. */
function leaderWith(others: readonly ShardReplicaState[]): MemberStatus {
  const raft = leaderStatus(10, { 1: 10 });
  return new MemberStatus({
    options: { id: 1, members: new Map(), readyApplyLagEntriesMax: 100 },
    raftStatus: () => raft,
    appliedIndex: () => 10,
    clusterId: () => "c",
    problems: () => [],
    shardLag: () => undefined,
    otherShards: () => others,
    ask: () => Promise.reject(new Error("no peers here")),
  });
}

test("readiness needs every shard this node hosts to have a leader and to be applied about as far as it committed", async () => {
  const fine = { id: 2, leaderId: 3, commitIndex: 500, appliedIndex: 450 };
  assert.equal((await leaderWith([fine]).readiness()).ready, true);
  const leaderless = await leaderWith([fine, { id: 3, leaderId: 0, commitIndex: 5, appliedIndex: 5 }]).readiness();
  assert.deepEqual([leaderless.ready, leaderless.reason], [false, "Shard 3 has no leader"]);
  const behind = await leaderWith([{ id: 2, leaderId: 2, commitIndex: 500, appliedIndex: 399 }]).readiness();
  assert.deepEqual([behind.ready, behind.reason], [false, "Shard 2: applied index 399 trails the commit index 500"]);
});
