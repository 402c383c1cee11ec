import assert from "node:assert/strict";
import { test } from "node:test";
import { ShoalError } from "../lib/errors.js";
import type { NodeId } from "../raft/types.js";
import type { IdentityAnswer } from "./bootstrap.js";
import { PeerChecks } from "./peer-checks.js";

const identity = {
  clusterId: "ours",
  nodeId: 1,
  memberIds: [1, 2, 3],
  createdAt: "t",
  shardCount: 1,
  replicationFactor: 3,
};

function checks(answers: Map<NodeId, IdentityAnswer | undefined>, logs: string[]): PeerChecks {
  return new PeerChecks({
    identity,
    peers: new Map([
      [2, "127.0.0.1:7102"],
      [3, "127.0.0.1:7103"],
    ]),
    listenAddress: "127.0.0.1:7101",
    ask: async (peer) => {
      const answer = answers.get(peer);
      if (answer === undefined) throw new ShoalError("UNAVAILABLE", "down");
      return answer;
    },
    log: (level, message) => logs.push(`${level}: ${message}`),
    intervalMs: 1000,
  });
}

const member = (nodeId: NodeId, overrides: Partial<IdentityAnswer> = {}): IdentityAnswer => ({
  nodeId,
  clusterId: "ours",
  proposedClusterId: "x",
  memberIds: [1, 2, 3],
  hasSeenYou: true,
  ...overrides,
});

test("peers that fit give no finding", async () => {
  const logs: string[] = [];
  const c = checks(
    new Map([
      [2, member(2)],
      [3, member(3)],
    ]),
    logs,
  );
  await c.checkNow();
  assert.deepEqual(c.problems(), []);
  assert.deepEqual(logs, []);
});

test("another cluster's node, other members, a silent peer, a misdirected dial: each said once, and resolved", async () => {
  const logs: string[] = [];
  const answers = new Map<NodeId, IdentityAnswer | undefined>([
    [2, member(2, { clusterId: "theirs" })],
    [3, member(3, { memberIds: [1, 2, 3, 4] })],
  ]);
  const c = checks(answers, logs);
  await c.checkNow();
  await c.checkNow();
  assert.equal(c.isForeign(2), true, "its Raft messages are dropped");
  assert.match(c.problemFor(2) ?? "", /Node 2 at 127.0.0.1:7102 belongs to cluster theirs, this node to ours/);
  assert.match(c.problemFor(3) ?? "", /Node 3 was started with members 1, 2, 3, 4, this node with 1, 2, 3/);
  assert.equal(logs.length, 2, "logged once per change, not per round");
  answers.set(3, undefined);
  for (let i = 0; i < 3; i++) await c.checkNow();
  assert.match(
    c.problemFor(3) ?? "",
    /Cannot reach node 3 at 127.0.0.1:7103: it is down, or --peers has a wrong address/,
  );
  c.misdirected(3, 2);
  assert.ok(c.problems().some((p) => /Node 3 dials this node \(1, listening on 127.0.0.1:7101\) as node 2/.test(p)));
  answers.set(2, member(2));
  await c.checkNow();
  assert.equal(c.isForeign(2), false);
  assert.equal(c.problemFor(2), undefined);
  assert.ok(logs.some((line) => line.startsWith("info: Node 2: resolved")));
});
