import assert from "node:assert/strict";
import { test } from "node:test";
import { MiniCluster } from "./testing/mini-cluster.js";

const text = (s: string) => new TextEncoder().encode(s);
const payloads = (entries: readonly { data: Uint8Array }[]) =>
  entries.filter((e) => e.data.byteLength > 0).map((e) => new TextDecoder().decode(e.data));

test("campaign elects a leader and a proposal is applied on every node", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  assert.equal(cluster.leader()?.id, 1);
  const result = cluster.node(1).raw.propose(text("a"));
  assert.equal(result.accepted, true);
  cluster.stabilize();
  for (const node of cluster.nodes.values()) assert.deepEqual(payloads(node.applied), ["a"]);
});

test("a follower refuses proposals and names the leader", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(2).raw.campaign();
  cluster.stabilize();
  const result = cluster.node(1).raw.propose(text("x"));
  assert.deepEqual(result, { accepted: false, reason: "notLeader", leaderId: 2 });
});

test("ticks alone elect exactly one leader", () => {
  const cluster = new MiniCluster([1, 2, 3, 4, 5]);
  cluster.tick(40);
  const leaders = [...cluster.nodes.values()].filter((n) => n.raw.status().role === "leader");
  assert.equal(leaders.length, 1);
});

test("an isolated leader is replaced; when healed it steps down and its log converges", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.isolate(1);
  cluster.node(1).raw.propose(text("lost")); // never commits: node 1 cannot reach a majority
  cluster.tick(40);
  const newLeader = [...cluster.nodes.values()].find((n) => n.id !== 1 && n.raw.status().role === "leader");
  assert.ok(newLeader, "a new leader among 2 and 3");
  newLeader.raw.propose(text("kept"));
  cluster.stabilize();
  cluster.heal();
  cluster.tick(30);
  for (const node of cluster.nodes.values()) assert.deepEqual(payloads(node.applied), ["kept"]);
  assert.notEqual(cluster.node(1).raw.status().role, "leader");
});

/** Node 3 is cut off for 100 ticks and rejoins a healthy cluster led by node 1. */
function rejoinAfterPartition(preVoteAndCheckQuorum: boolean): { cluster: MiniCluster; termBefore: number } {
  const flag = preVoteAndCheckQuorum;
  const cluster = new MiniCluster([1, 2, 3], { preVote: flag, checkQuorum: flag });
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  const termBefore = cluster.node(1).raw.status().term;
  cluster.isolate(3);
  cluster.tick(100);
  cluster.heal();
  cluster.tick(30);
  return { cluster, termBefore };
}

test("a partitioned follower rejoining does not depose the leader (PreVote + CheckQuorum)", () => {
  const { cluster, termBefore } = rejoinAfterPartition(true);
  assert.equal(cluster.leader()?.id, 1);
  assert.equal(cluster.node(1).raw.status().term, termBefore);
});

test("without PreVote and CheckQuorum a rejoining follower disrupts the leader", () => {
  const { cluster, termBefore } = rejoinAfterPartition(false);
  assert.ok(cluster.node(1).raw.status().term > termBefore, "the term rose: the leader was deposed");
});

test("ReadIndex is answered after a heartbeat round, on the leader and through a follower", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.node(1).raw.propose(text("w"));
  cluster.stabilize();
  assert.equal(cluster.node(1).raw.readIndex("r1"), true);
  assert.equal(cluster.node(2).raw.readIndex("r2"), true);
  cluster.stabilize();
  const commit = cluster.node(1).raw.status().commitIndex;
  assert.deepEqual(cluster.node(1).readStates, [{ index: commit, context: "r1" }]);
  assert.deepEqual(cluster.node(2).readStates, [{ index: commit, context: "r2" }]);
});

test("ReadIndex is not confirmed by a leader cut off from the majority", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.isolate(1);
  cluster.node(1).raw.readIndex("stale");
  cluster.stabilize();
  assert.deepEqual(cluster.node(1).readStates, []);
});

test("leadership transfer hands over to the target", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.node(1).raw.transferLeader(3);
  cluster.stabilize();
  assert.equal(cluster.leader()?.id, 3);
});

test("a follower behind a compacted log catches up through a chunked snapshot", () => {
  const cluster = new MiniCluster([1, 2, 3], { snapshotChunkBytesMax: 7, snapshotChunksInflightMax: 2 });
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  cluster.isolate(3);
  for (let i = 0; i < 20; i++) cluster.node(1).raw.propose(text(`v${i}`));
  cluster.stabilize();
  const leader = cluster.node(1);
  const applied = leader.raw.status().appliedIndex;
  const state = text(payloads(leader.applied).join(","));
  leader.storage.createSnapshot(applied, leader.raw.status().confState, state);
  leader.storage.compact(applied);
  cluster.heal();
  cluster.tick(5);
  const chunks = cluster.delivered.filter((m) => m.type === "installSnapshot" && m.to === 3);
  assert.ok(chunks.length >= Math.ceil(state.byteLength / 7), `snapshot sent in chunks (${chunks.length})`);
  const follower = cluster.node(3);
  assert.equal(follower.storage.snapshot().metadata.index, applied);
  assert.deepEqual(follower.storage.snapshot().data, state);
  leader.raw.propose(text("after"));
  cluster.stabilize();
  assert.deepEqual(payloads(follower.applied), ["after"]);
});

test("membership: add a learner, promote it, remove a voter", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  const leader = cluster.node(1).raw;
  assert.equal(leader.proposeConfChange({ type: "removeNode", nodeId: 3 }).accepted, true);
  assert.equal(leader.proposeConfChange({ type: "addVoter", nodeId: 3 }).accepted, false, "one change at a time");
  cluster.stabilize();
  assert.deepEqual(leader.status().confState, { voters: [1, 2], learners: [] });
  assert.equal(leader.proposeConfChange({ type: "addLearner", nodeId: 3 }).accepted, true);
  cluster.stabilize();
  assert.deepEqual(leader.status().confState, { voters: [1, 2], learners: [3] });
  assert.equal(leader.proposeConfChange({ type: "addVoter", nodeId: 3 }).accepted, true);
  cluster.stabilize();
  assert.deepEqual(cluster.node(2).raw.status().confState, { voters: [1, 2, 3], learners: [] });
});

test("a term never goes back: stepping a message from an older term changes nothing", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  const before = cluster.node(2).raw.status();
  cluster
    .node(2)
    .raw.step({ type: "heartbeat", groupId: 1, from: 3, to: 2, term: 0, commit: 0, readContext: "", quiesce: false });
  assert.equal(cluster.node(2).raw.status().term, before.term);
  assert.equal(cluster.node(2).raw.status().leaderId, 1);
});

test("followers that forgot a dead leader grant a pre-vote at once; within its lease they ignore it", () => {
  for (const readOnlyOption of ["safe", "leaseBased"] as const) {
    const cluster = new MiniCluster([1, 2, 3], { readOnlyOption });
    cluster.node(1).raw.campaign();
    cluster.stabilize();
    const term = cluster.node(1).raw.status().term;
    cluster.isolate(1); // as if its process died
    cluster.node(2).raw.campaign();
    cluster.stabilize();
    assert.notEqual(cluster.node(2).raw.status().role, "leader", "node 3 still trusts node 1's lease");
    cluster.node(3).raw.forgetLeader();
    cluster.node(1).raw.forgetLeader(); // a leader ignores it
    assert.equal(cluster.node(1).raw.status().role, "leader");
    assert.equal(cluster.node(3).raw.status().term, term, "forgetting changes neither term nor vote");
    cluster.node(2).raw.campaign();
    cluster.stabilize();
    if (readOnlyOption === "safe") {
      assert.equal(cluster.node(2).raw.status().role, "leader");
      assert.equal(cluster.node(2).raw.status().term, term + 1);
    } else {
      // A leader serving reads from its lease relies on followers not voting within it: forgetting is refused.
      assert.notEqual(cluster.node(2).raw.status().role, "leader");
    }
  }
});

test("a leader's heartbeats can leave while a Ready is still being persisted; nothing else can", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  const leader = cluster.node(1).raw;
  assert.deepEqual(leader.takeEarlyMessages(), [], "no Ready outstanding: heartbeats go with the next Ready");
  leader.propose(text("slow to persist"));
  const outstanding = leader.ready(); // the host is writing it
  leader.tick(); // a heartbeat interval passes meanwhile
  const heartbeats = leader.takeEarlyMessages();
  assert.deepEqual(heartbeats.map((m) => [m.type, m.to]).sort(), [
    ["heartbeat", 2],
    ["heartbeat", 3],
  ]);
  assert.deepEqual(leader.takeEarlyMessages(), [], "taken once");
  leader.advance(outstanding);
  const next = leader.hasReady() ? leader.ready() : undefined;
  assert.ok(next === undefined || next.messages.every((m) => m.type !== "heartbeat"));
  if (next !== undefined) leader.advance(next);
});

test("a follower answers heartbeats while its Ready is persisted, but acknowledges entries only after", () => {
  const cluster = new MiniCluster([1, 2, 3]);
  cluster.node(1).raw.campaign();
  cluster.stabilize();
  const leader = cluster.node(1).raw;
  const follower = cluster.node(2).raw;
  const { term } = leader.status();
  leader.propose(text("slow to persist on the follower"));
  const leaderReady = leader.ready();
  const append = leaderReady.messages.find((m) => m.type === "appendEntries" && m.to === 2);
  assert.ok(append !== undefined);
  follower.step(append);
  const outstanding = follower.ready(); // its fsync stalls
  assert.deepEqual(
    outstanding.messages.map((m) => m.type),
    ["appendEntriesResponse"],
  );
  const heartbeat = {
    type: "heartbeat",
    from: 1,
    to: 2,
    groupId: 1,
    term,
    commit: 0,
    readContext: "r1",
    quiesce: false,
  } as const;
  follower.step(heartbeat);
  assert.deepEqual(
    follower.takeEarlyMessages().map((m) => [m.type, m.to, m.term]),
    [["heartbeatResponse", 1, term]],
    "the answer to the heartbeat leaves now",
  );
  follower.advance(outstanding);

  // A heartbeat of a newer term while a Ready is out: the new term is not durable here yet, so the answer waits.
  const later = follower.ready();
  follower.step({ ...heartbeat, term: term + 1, readContext: "r2" });
  assert.deepEqual(follower.takeEarlyMessages(), [], "its term is not durable yet");
  follower.advance(later);
  const withTerm = follower.ready();
  assert.equal(withTerm.hardState?.term, term + 1);
  assert.ok(withTerm.messages.some((m) => m.type === "heartbeatResponse" && m.term === term + 1));
  follower.advance(withTerm);
  leader.advance(leaderReady);
});
