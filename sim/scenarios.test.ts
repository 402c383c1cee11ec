/**
 * Readable Raft scenarios on the simulator: each scripts faults step by step and states what must follow.
 * Every safety checker runs underneath; a failing scenario prints its transcript.
 */
import assert from "node:assert/strict";
import { type TestContext, test } from "node:test";
import type { NodeId } from "../src/raft/types.js";
import { Scenario } from "./scenario.js";

/** Runs `body`, printing the transcript when it fails. */
function scripted(t: TestContext, scenario: Scenario, body: () => void): void {
  try {
    body();
  } catch (error) {
    t.diagnostic("transcript:");
    for (const line of scenario.transcript) t.diagnostic(line);
    throw error;
  }
}

function followerOf(s: Scenario, leader: NodeId): NodeId {
  const follower = s.cluster.nodeIds.find((id) => id !== leader);
  assert.ok(follower !== undefined);
  return follower;
}

test("isolate the leader: a new one is elected; on healing the old one steps down and drops its uncommitted write", (t) => {
  // CheckQuorum off, so the isolated leader keeps believing it leads until it hears the newer term.
  const s = new Scenario({ nodes: 3, raft: { checkQuorum: false, preVote: true } });
  scripted(t, s, () => {
    const old = s.stabilize();
    const oldTerm = s.status(old.id).term;
    s.isolate(old.id);
    const stranded = s.write(1); // accepted by the isolated leader, never committed
    s.run(100);
    const fresh = s.leader();
    assert.notEqual(fresh.id, old.id, "the majority elects another leader");
    assert.ok(s.status(fresh.id).term > oldTerm, "in a higher term");
    assert.equal(s.status(old.id).role, "leader", "the isolated leader does not know yet");
    assert.ok(s.status(old.id).commitIndex < stranded, "and cannot commit its write");
    s.write(3);
    s.heal();
    s.stabilize();
    assert.equal(s.status(old.id).role, "follower", "the old leader stepped down");
    assert.equal(s.status(old.id).leaderId, fresh.id);
    assert.equal(s.cluster.host(old.id).machine.hash, fresh.machine.hash, "and converged on the new leader's log");
  });
});

test("an isolated leader with CheckQuorum steps down by itself within two election timeouts", (t) => {
  const s = new Scenario({ nodes: 5 });
  scripted(t, s, () => {
    const old = s.stabilize();
    s.isolate(old.id);
    s.run(20);
    assert.notEqual(s.status(old.id).role, "leader", "it heard from no majority for an election timeout");
    s.heal();
    s.stabilize();
  });
});

test("a partitioned follower rejoins without disrupting the leader (PreVote, CheckQuorum)", (t) => {
  const s = new Scenario({ nodes: 5 });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const term = s.status(leader.id).term;
    const follower = followerOf(s, leader.id);
    s.isolate(follower);
    for (let i = 0; i < 10; i++) {
      s.write(2);
      s.run(20);
    }
    assert.equal(s.status(follower).term, term, "PreVote kept the isolated follower from raising its term");
    s.heal();
    s.stabilize();
    assert.equal(s.leader().id, leader.id, "same leader");
    assert.equal(s.status(leader.id).term, term, "same term");
    assert.deepEqual(s.counters.elected, [{ node: leader.id, term }], "no election after the first");
    assert.equal(s.cluster.host(follower).machine.appliedIndex, s.status(leader.id).commitIndex, "caught up");
  });
});

test("a follower behind compaction catches up by a snapshot sent in 16-byte chunks", (t) => {
  const s = new Scenario({
    nodes: 3,
    raft: { snapshotChunkBytesMax: 16, snapshotChunksInflightMax: 2 },
    snapshotEveryEntries: 10,
  });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const follower = followerOf(s, leader.id);
    s.crash(follower);
    for (let i = 0; i < 6; i++) {
      s.write(10);
      s.run(5);
    }
    const behind = s.cluster.host(follower).disk.lastIndex();
    assert.ok(leader.disk.firstIndex() > behind + 1, "the leader compacted past the follower's log");
    s.restart(follower);
    s.stabilize();
    const snapshotBytes = leader.disk.snapshot().data.byteLength;
    assert.equal(s.counters.snapshotsInstalledBy.get(follower), 1, "one snapshot installed");
    assert.ok((s.counters.snapshotChunksTo.get(follower) ?? 0) >= Math.ceil(snapshotBytes / 16), "in chunks");
    assert.equal(s.cluster.host(follower).machine.hash, leader.machine.hash, "same state as the leader");
  });
});

test("a snapshot transfer survives lost and duplicated chunks (the leader resumes from the follower's offset)", (t) => {
  const s = new Scenario({
    nodes: 3,
    seed: 7,
    raft: { snapshotChunkBytesMax: 16, snapshotChunksInflightMax: 3 },
    snapshotEveryEntries: 10,
  });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const follower = followerOf(s, leader.id);
    s.isolate(follower);
    for (let i = 0; i < 5; i++) {
      s.write(10);
      s.run(5);
    }
    s.cluster.network.setFaults({ dropChance: 0.3, duplicateChance: 0.2, delayTicksMin: 1, delayTicksMax: 3 });
    s.note("network: 30% drops, 20% duplicates, 1-3 tick delays");
    s.heal();
    s.stabilize(3000);
    const snapshotBytes = leader.disk.snapshot().data.byteLength;
    assert.ok((s.counters.snapshotsInstalledBy.get(follower) ?? 0) >= 1, "installed");
    assert.ok((s.counters.snapshotChunksTo.get(follower) ?? 0) > Math.ceil(snapshotBytes / 16), "with resends");
    assert.equal(s.cluster.host(follower).machine.hash, leader.machine.hash);
  });
});

test("a crashed follower restarts from its disk alone and catches up from the log", (t) => {
  const s = new Scenario({ nodes: 3 });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const follower = followerOf(s, leader.id);
    s.write(5);
    s.stabilize();
    s.crash(follower);
    s.write(5);
    s.run(10);
    s.restart(follower);
    s.stabilize();
    assert.equal(s.counters.snapshotsInstalledBy.get(follower), undefined, "no snapshot needed");
    assert.equal(s.cluster.host(follower).machine.hash, leader.machine.hash);
  });
});

test("membership: remove a voter, add it back as a learner, promote it to voter", (t) => {
  const s = new Scenario({ nodes: 3 });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const member = followerOf(s, leader.id);
    const steps = [
      { type: "removeNode", voters: s.cluster.nodeIds.filter((id) => id !== member), learners: [] },
      { type: "addLearner", voters: s.cluster.nodeIds.filter((id) => id !== member), learners: [member] },
      { type: "addVoter", voters: [...s.cluster.nodeIds], learners: [] },
    ] as const;
    for (const step of steps) {
      const result = leader.proposeConfChange({ type: step.type, nodeId: member });
      assert.ok(result.accepted, `${step.type} accepted`);
      s.note(`${step.type} ${member}`);
      s.write(3);
      s.stabilize();
      assert.deepEqual(s.status(leader.id).confState, { voters: step.voters, learners: step.learners });
    }
    assert.equal(s.cluster.host(member).machine.hash, leader.machine.hash, "the re-added member caught up");
  });
});

test("leadership transfer hands leadership to the target without a term gap", (t) => {
  const s = new Scenario({ nodes: 5 });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const term = s.status(leader.id).term;
    const target = followerOf(s, leader.id);
    s.write(5);
    leader.transferLeader(target);
    s.note(`transfer leadership ${leader.id} -> ${target}`);
    s.stabilize();
    assert.equal(s.leader().id, target);
    assert.equal(s.status(target).term, term + 1, "one election, no PreVote round needed");
  });
});

// ---- Lost disks (issue 10, section 4). A wipe breaks what Raft assumes, so these scenarios keep only the
// checkers that must still hold: no two leaders in a term, and logs that agree wherever (index, term) agree.

const LOST_DISK_CHECKERS = ["electionSafety", "logMatching"] as const;

test("a follower restarted with a wiped disk stops itself at the first heartbeat; the others keep serving", (t) => {
  const s = new Scenario({ nodes: 3, checkers: LOST_DISK_CHECKERS, haltOnDataLoss: true });
  scripted(t, s, () => {
    const leader = s.stabilize();
    const term = s.status(leader.id).term;
    const wiped = followerOf(s, leader.id);
    s.write(10);
    s.stabilize();
    s.wipeAndRestart(wiped);
    s.run(30);
    const halted = s.cluster.host(wiped).halted;
    assert.equal(halted?.kind, "acknowledgedEntriesLost", "it learns from the leader what it acknowledged");
    assert.match(halted.message, /acknowledged entries up to 11 .* its log ends at 0/);
    s.write(5);
    s.stabilize();
    assert.equal(s.leader().id, leader.id, "the leader is untouched");
    assert.equal(s.status(leader.id).term, term);
  });
});

/** The sequence: writes committed by {A, C}; C loses its disk and A goes down; B (which missed the
 * writes) is elected with the empty C's vote. When A comes back it holds committed entries B lacks. */
function electLeaderWithoutCommittedWrites(s: Scenario): { holder: NodeId; leader: NodeId; wiped: NodeId } {
  const first = s.stabilize();
  const [lagging, wiped] = s.cluster.nodeIds.filter((id) => id !== first.id) as [NodeId, NodeId];
  s.isolate(lagging);
  s.write(20);
  s.run(20);
  assert.ok(s.status(first.id).commitIndex >= 21, "the writes committed on a majority without the isolated node");
  s.crash(first.id);
  s.run(5); // the dead leader's last heartbeats would tell the wiped node what it had acknowledged
  s.wipeAndRestart(wiped);
  s.heal();
  const leader = s.stabilize();
  assert.equal(leader.id, lagging, "the empty node voted for the node that missed the writes");
  assert.ok(s.status(lagging).lastIndex < 21, "the new leader lacks committed writes");
  s.write(5);
  s.stabilize();
  return { holder: first.id, leader: lagging, wiped };
}

test("a leader elected without committed writes: the node holding them stops itself, the majority serves on", (t) => {
  const s = new Scenario({ nodes: 3, checkers: LOST_DISK_CHECKERS, haltOnDataLoss: true });
  scripted(t, s, () => {
    const { holder, leader } = electLeaderWithoutCommittedWrites(s);
    const term = s.status(leader).term;
    s.restart(holder);
    s.run(30);
    const halted = s.cluster.host(holder).halted;
    assert.equal(halted?.kind, "committedEntryDiverged");
    assert.match(halted.message, /holds committed entry 2 of term \d+, but leader \d has term \d+ there/);
    s.write(5);
    s.stabilize();
    assert.equal(s.leader().id, leader, "the leader never asserted on the follower's answer");
    assert.equal(s.status(leader).term, term);
  });
});

test("a follower claiming committed entries past the leader's log (its copy compacted) is set aside, not asserted on", (t) => {
  // The holder compacts its log behind a snapshot, so it cannot compare terms and answers with its commit
  // index, past the new leader's last index: the answer that made both other nodes crash before.
  const s = new Scenario({
    nodes: 3,
    checkers: LOST_DISK_CHECKERS,
    haltOnDataLoss: true,
    snapshotEveryEntries: 10,
  });
  scripted(t, s, () => {
    const { holder, leader, wiped } = electLeaderWithoutCommittedWrites(s);
    const holderCommit = s.cluster.host(holder).disk.hardState().commit;
    s.restart(holder);
    s.run(30);
    assert.equal(s.cluster.host(holder).halted, undefined, "it cannot prove the divergence");
    assert.equal(s.status(leader).role, "leader");
    assert.equal(s.status(leader).claimedIndex.get(holder), holderCommit, "the leader reports the claim");
    assert.ok((s.status(leader).matchIndex.get(holder) ?? 0) <= s.status(leader).lastIndex);
    const last = s.write(5);
    s.run(30); // not stabilize(): the holder is live but can never be caught up
    assert.equal(s.leader().id, leader);
    assert.equal(s.status(leader).commitIndex, last, "the majority commits without the holder");
    assert.equal(s.cluster.host(wiped).machine.appliedIndex, last);
  });
});
