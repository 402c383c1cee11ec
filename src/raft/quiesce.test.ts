/**
 * Quiescence (RaftConfig.quiesce): an idle group goes quiet — no heartbeats, no election timers — and wakes on
 * any activity, on a member that knows no leader, or when its host says the leader's node went silent.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Prng } from "../lib/prng.js";
import { resolveRaftConfig } from "./config.js";
import { RawNode } from "./raw-node.js";
import { MiniCluster } from "./testing/mini-cluster.js";

const text = (s: string) => new TextEncoder().encode(s);

/** A 3-member group led by node 1, settled and quiet. */
function quietCluster(): MiniCluster {
  const cluster = new MiniCluster([1, 2, 3], { quiesce: true });
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.node(1).raw.propose(text("x"));
  cluster.stabilize();
  cluster.tick(3); // heartbeats answered: every member active and caught up
  return cluster;
}

test("an idle group goes quiet: the leader stops sending, the followers stop counting, nobody campaigns", () => {
  const cluster = quietCluster();
  for (const id of [1, 2, 3]) assert.equal(cluster.node(id).raw.status().quiesced, true, `node ${id} is quiet`);
  const sent = cluster.delivered.length;
  const term = cluster.node(1).raw.status().term;
  cluster.tick(200); // twenty election timeouts
  assert.equal(cluster.delivered.length, sent, "not one message while quiet");
  assert.equal(cluster.node(2).raw.status().term, term);
  assert.equal(cluster.leader()?.id, 1);
});

test("a proposal wakes the group, commits, and the group goes quiet again", () => {
  const cluster = quietCluster();
  const result = cluster.node(1).raw.propose(text("wake"));
  assert.ok(result.accepted);
  assert.equal(cluster.node(1).raw.status().quiesced, false);
  cluster.stabilize();
  for (const id of [2, 3]) assert.equal(cluster.node(id).raw.status().quiesced, false, "entries woke the followers");
  assert.equal(cluster.node(3).raw.status().commitIndex, result.accepted ? result.index : -1);
  cluster.tick(3);
  for (const id of [1, 2, 3]) assert.equal(cluster.node(id).raw.status().quiesced, true);
});

test("a read wakes the leader (its heartbeat round confirms leadership) without a new term", () => {
  const cluster = quietCluster();
  const term = cluster.node(1).raw.status().term;
  assert.ok(cluster.node(2).raw.readIndex("r1"));
  cluster.stabilize();
  assert.equal(cluster.node(1).raw.status().quiesced, false);
  assert.deepEqual(
    cluster.node(2).readStates.map((read) => read.context),
    ["r1"],
  );
  assert.equal(cluster.node(1).raw.status().term, term);
});

test("a member restarted while the group is quiet learns the leader: its vote request wakes the leader", () => {
  const cluster = quietCluster();
  const term = cluster.node(1).raw.status().term;
  const node3 = cluster.node(3);
  node3.raw = new RawNode(resolveRaftConfig({ id: 3, groupId: 1, quiesce: true }), node3.storage, new Prng(99));
  for (let i = 0; i < 40 && node3.raw.status().leaderId !== 1; i++) cluster.tick();
  assert.equal(node3.raw.status().leaderId, 1, "it follows the leader again");
  assert.equal(cluster.node(1).raw.status().term, term, "no election: the PreVote was refused, the leader woke");
  cluster.tick(5);
  assert.equal(cluster.node(1).raw.status().quiesced, true, "and the group goes quiet again");
});

test("followers woken by their host when the leader's node went silent elect a new leader", () => {
  const cluster = quietCluster();
  cluster.isolate(1);
  cluster.tick(100);
  assert.equal(cluster.node(2).raw.status().leaderId, 1, "quiet followers do not notice by themselves");
  // What RaftHost does once node-level liveness says node 1 went silent.
  cluster.node(2).raw.unquiesce();
  cluster.node(3).raw.unquiesce();
  for (let i = 0; i < 100 && ![2, 3].includes(cluster.node(2).raw.status().leaderId); i++) cluster.tick();
  assert.ok([2, 3].includes(cluster.node(2).raw.status().leaderId), "nodes 2 and 3 elected one of them");
});

test("without quiescence a group keeps its heartbeats", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.tick(3);
  const sent = cluster.delivered.length;
  cluster.tick(10);
  assert.ok(cluster.delivered.length > sent);
  assert.equal(cluster.node(1).raw.status().quiesced, false);
});

test("quiescence and lease-based reads do not go together", () => {
  assert.throws(
    () => resolveRaftConfig({ id: 1, groupId: 1, quiesce: true, readOnlyOption: "leaseBased" }),
    /Lease-based reads need heartbeats/,
  );
});

test("quietButSilent: a quiet follower wakes when its leader is silent, a quiet leader when it hears no majority", () => {
  const cluster = quietCluster();
  const everyone = () => true;
  assert.equal(cluster.node(2).raw.quietButSilent(everyone), false);
  assert.equal(
    cluster.node(2).raw.quietButSilent((id) => id !== 1),
    true,
    "its leader's node is silent",
  );
  assert.equal(
    cluster.node(2).raw.quietButSilent((id) => id !== 3),
    false,
    "another member's silence is no matter",
  );
  assert.equal(
    cluster.node(1).raw.quietButSilent((id) => id !== 3),
    false,
    "a leader hearing 2 of 3",
  );
  assert.equal(
    cluster.node(1).raw.quietButSilent((id) => id === 1),
    true,
    "a leader hearing only itself",
  );
  cluster.node(1).raw.propose(text("busy"));
  assert.equal(
    cluster.node(1).raw.quietButSilent((id) => id === 1),
    false,
    "not quiet: nothing to wake",
  );
});

test("a quiet leader woken because its majority went silent steps down, instead of going back to sleep", () => {
  const cluster = quietCluster();
  const leader = cluster.node(1).raw;
  cluster.isolate(1); // nodes 2 and 3 are gone, as far as node 1 can tell
  const live = (id: number) => id === 1;
  for (let i = 0; i < 60 && leader.status().role === "leader"; i++) {
    // What RaftHost does every tick with node-level liveness.
    if (leader.quietButSilent(live)) leader.unquiesce();
    cluster.tick();
  }
  assert.notEqual(leader.status().role, "leader", "CheckQuorum deposed it within a few election timeouts");
});
