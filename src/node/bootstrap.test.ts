import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import { type BootstrapContext, type IdentityAnswer, parseIdentityAnswer, resolveIdentity } from "./bootstrap.js";
import { deriveClusterId, readIdentity, writeIdentity } from "./identity.js";

const MEMBERS = [1, 2, 3];
const dir = (): string => mkdtempSync(join(tmpdir(), "shoal-bootstrap-"));

/** A peer that answers as a fresh member of the same new cluster unless told otherwise. */
function answer(peer: NodeId, overrides: Partial<IdentityAnswer> = {}): IdentityAnswer {
  return {
    nodeId: peer,
    clusterId: undefined,
    proposedClusterId: deriveClusterId(MEMBERS, "shoal"),
    memberIds: MEMBERS,
    hasSeenYou: false,
    ...overrides,
  };
}

function context(dataDir: string, ask: BootstrapContext["ask"], logs: string[] = []): BootstrapContext {
  return {
    dataDir,
    nodeId: 3,
    memberIds: MEMBERS,
    clusterName: "shoal",
    shardCount: 1,
    ask,
    log: (message) => logs.push(message),
    retryIntervalMs: 1,
    stopped: () => false,
  };
}

test("a new cluster: once every member answered as new, the derived id is written", async () => {
  const d = dir();
  const identity = await resolveIdentity(context(d, async (peer) => answer(peer)));
  assert.equal(identity.clusterId, deriveClusterId(MEMBERS, "shoal"));
  assert.deepEqual(readIdentity(d), identity);
  assert.deepEqual([identity.nodeId, identity.memberIds], [3, MEMBERS]);
});

test("a new member waits for every other member, not just a majority", async () => {
  const d = dir();
  let calls = 0;
  const identity = await resolveIdentity(
    context(d, async (peer) => {
      calls++;
      // Node 2 is down for the first rounds; node 1 (a majority with us) answers at once.
      if (peer === 2 && calls < 10) throw new ShoalError("UNAVAILABLE", "down");
      return answer(peer);
    }),
  );
  assert.ok(calls >= 10, `asked until node 2 answered (${calls} questions)`);
  assert.equal(identity.nodeId, 3);
});

test("an empty directory whose node a peer has heard from refuses: it lost its data", async () => {
  const d = dir();
  const ask = async (peer: NodeId) =>
    answer(peer, { clusterId: "c1", hasSeenYou: peer === 2 }) satisfies IdentityAnswer;
  await assert.rejects(
    resolveIdentity(context(d, ask)),
    /is empty, but node 2 of cluster c1 has heard from node 3 before: this node lost its data .* Remove member 3 \(shoal node remove 3\) and start this node under a new id with --join/,
  );
  assert.equal(readIdentity(d), undefined, "nothing written");
});

test("a member none has heard from joins a running cluster under its id (a late first start)", async () => {
  const d = dir();
  const identity = await resolveIdentity(context(d, async (peer) => answer(peer, { clusterId: "running" })));
  assert.equal(identity.clusterId, "running");
});

test("other member lists, another name, or a cluster without us: one-line refusals", async () => {
  await assert.rejects(
    resolveIdentity(context(dir(), async (peer) => answer(peer, { memberIds: [1, 2, 3, 4] }))),
    /Node 1 has members 1, 2, 3, 4, but this node was started with 1, 2, 3: start every member with the same --peers/,
  );
  await assert.rejects(
    resolveIdentity(context(dir(), async (peer) => answer(peer, { clusterId: "c", memberIds: [1, 2] }))),
    /Node 3 is not a member of cluster c \(members 1, 2/,
  );
  await assert.rejects(
    resolveIdentity(context(dir(), async (peer) => answer(peer, { proposedClusterId: "other" }))),
    /would create cluster other .* same --cluster-name/,
  );
  await assert.rejects(
    resolveIdentity(context(dir(), async (peer) => answer(peer, { clusterId: `c${peer}` }))),
    /different clusters \(c1, c2\)/,
  );
});

test("an existing identity must be this node's and list the same members", async () => {
  const d = dir();
  const never = async (): Promise<IdentityAnswer> => assert.fail("an existing member asks nobody");
  writeIdentity(d, {
    clusterId: "c",
    nodeId: 2,
    memberIds: MEMBERS,
    createdAt: "t",
    shardCount: 1,
    replicationFactor: 3,
  });
  await assert.rejects(
    resolveIdentity(context(d, never)),
    /belongs to node 2 of cluster c, not node 3: start it with --id 2/,
  );
  writeIdentity(d, {
    clusterId: "c",
    nodeId: 3,
    memberIds: [1, 2, 3, 4],
    createdAt: "t",
    shardCount: 1,
    replicationFactor: 4,
  });
  await assert.rejects(
    resolveIdentity(context(d, never)),
    /--peers lists members 1, 2, 3, but data directory .* belongs to cluster c with members 1, 2, 3, 4/,
  );
  writeIdentity(d, {
    clusterId: "c",
    nodeId: 3,
    memberIds: MEMBERS,
    createdAt: "t",
    shardCount: 1,
    replicationFactor: 3,
  });
  assert.equal((await resolveIdentity(context(d, never))).clusterId, "c");
});

test("an existing identity must have the shard count the node was started with; a file from before shards has 1", async () => {
  const d = dir();
  const never = async (): Promise<IdentityAnswer> => assert.fail("an existing member asks nobody");
  writeIdentity(d, {
    clusterId: "c",
    nodeId: 3,
    memberIds: MEMBERS,
    createdAt: "t",
    shardCount: 3,
    replicationFactor: 3,
  });
  await assert.rejects(
    resolveIdentity(context(d, never)),
    /belongs to cluster c of 3 shard\(s\), but this node was started with --shards 1: start every member with --shards 3/,
  );
  assert.equal((await resolveIdentity({ ...context(d, never), shardCount: 3 })).shardCount, 3);
  writeFileSync(
    join(d, "identity.json"),
    JSON.stringify({ format: 1, clusterId: "c", nodeId: 3, memberIds: MEMBERS, createdAt: "t" }),
  );
  assert.equal(readIdentity(d)?.shardCount, 1);
  // The count is part of the cluster id, so members started with different counts do not take each other for one
  // cluster; one shard derives the id it always had.
  assert.notEqual(deriveClusterId(MEMBERS, "shoal", 3), deriveClusterId(MEMBERS, "shoal", 1));
  const beforeShards = createHash("sha256")
    .update(`shoal-cluster\nshoal\n${MEMBERS.join(",")}`)
    .digest("hex");
  assert.equal(deriveClusterId(MEMBERS, "shoal", 1), beforeShards.slice(0, 16));
});

test("replicas per shard: recorded for a new cluster, kept when no flag is given, refused when another is", async () => {
  const five = [1, 2, 3, 4, 5];
  const never = async (): Promise<IdentityAnswer> => assert.fail("an existing member asks nobody");
  const fresh = dir();
  const asked = async (peer: number): Promise<IdentityAnswer> => ({
    ...answer(peer),
    memberIds: five,
    proposedClusterId: deriveClusterId(five, "shoal", 5, 3),
  });
  const made = await resolveIdentity({ ...context(fresh, asked), memberIds: five, shardCount: 5 });
  assert.equal(made.replicationFactor, 3, "the default on five members with five shards");
  assert.notEqual(made.clusterId, deriveClusterId(five, "shoal", 5), "R < N is part of the cluster id");
  const kept = await resolveIdentity({ ...context(fresh, never), memberIds: five, shardCount: 5 });
  assert.equal(kept.replicationFactor, 3);
  await assert.rejects(
    resolveIdentity({ ...context(fresh, never), memberIds: five, shardCount: 5, replicationFactor: 5 }),
    /of 3 replica\(s\) per shard, but this node was started with --replicas 5/,
  );
  // A placement leaving a member without a shard is refused before anything is written.
  const idle = dir();
  await assert.rejects(
    resolveIdentity({ ...context(idle, asked), memberIds: five, shardCount: 1, replicationFactor: 3 }),
    /1 shard\(s\) of 3 replica\(s\) leave members 4, 5 of 5 without a shard: use at least 2 shards/,
  );
  assert.equal(readIdentity(idle), undefined);
  // A file from before placement: every member held every shard.
  writeFileSync(
    join(idle, "identity.json"),
    JSON.stringify({ format: 1, clusterId: "c", nodeId: 3, memberIds: five, createdAt: "t", shardCount: 2 }),
  );
  assert.equal(readIdentity(idle)?.replicationFactor, 5);
});

test("a directory with data from before identities gets one without asking", async () => {
  const d = dir();
  mkdirSync(join(d, "wal"));
  writeFileSync(join(d, "wal", "segment"), "x");
  const identity = await resolveIdentity(context(d, async () => assert.fail("no question")));
  assert.equal(identity.clusterId, deriveClusterId(MEMBERS, "shoal"));
});

test("an answer from the network is checked field by field", () => {
  assert.deepEqual(parseIdentityAnswer({ ...answer(1), clusterId: null }), answer(1));
  assert.throws(() => parseIdentityAnswer({ nodeId: 1 }), /something else/);
  assert.throws(() => parseIdentityAnswer("hello"), /something else/);
});
