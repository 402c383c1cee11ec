import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { awaitLeader, describeNodes, electedLeader, type NodeReport } from "./leader-wait.js";

const view = (id: number, role: string, leader: number, term = 3): NodeReport => ({
  id,
  url: `http://n${id}`,
  view: { role, leader, term },
});

test("a leader counts once a majority follows it and it says it leads", () => {
  assert.deepEqual(electedLeader([view(1, "leader", 1), view(2, "follower", 1), view(3, "follower", 0)]), {
    leader: 1,
    term: 3,
  });
  // No majority yet, a leader that no longer leads, nobody answering: no leader.
  assert.equal(electedLeader([view(1, "leader", 1), view(2, "preCandidate", 0), view(3, "candidate", 0)]), undefined);
  assert.equal(electedLeader([view(1, "follower", 2), view(2, "follower", 2), view(3, "follower", 2)]), undefined);
  assert.equal(electedLeader([{ id: 1, url: "u", error: "not answering" }]), undefined);
});

test("without a leader, the wait ends at its timeout with each node's view", async () => {
  const server = createServer((_request, response) => {
    response.setHeader("content-type", "application/json");
    response.end(JSON.stringify({ id: 1, leader: 0, term: 7, role: "preCandidate" }));
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const live = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const dead = await new Promise<string>((done) => {
    const probe = createServer();
    probe.listen(0, "127.0.0.1", () => {
      const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
      probe.close(() => done(url));
    });
  });
  try {
    const started = Date.now();
    const outcome = await awaitLeader(
      new Map([
        [1, live],
        [2, dead],
      ]),
      300,
    );
    assert.ok(Date.now() - started >= 300);
    assert.ok("reports" in outcome);
    assert.deepEqual(describeNodes(outcome.reports), [
      "node 1: preCandidate in term 7, knows no leader",
      `node 2 (${dead}): not answering (connection refused)`,
    ]);
  } finally {
    server.close();
  }
});
