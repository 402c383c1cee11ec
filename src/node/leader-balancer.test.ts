import assert from "node:assert/strict";
import { test } from "node:test";
import type { RawNode } from "../raft/raw-node.js";
import { Placement } from "../slots/placement.js";
import { LeaderBalancer } from "./leader-balancer.js";
import { leaderStatus } from "./testing/leader-status.js";

test("a leader hands each group to its preferred member once that one is live and caught up", () => {
  const placement = new Placement([3, 1, 2], 4, 3);
  assert.deepEqual(
    [1, 2, 3, 4].map((group) => placement.preferredLeader(group)),
    [1, 2, 3, 1],
  );
  const transfers: string[] = [];
  // Node 1 leads groups 1 and 2; group 2 prefers node 2. The match index says node 2 holds the whole log.
  const host = (groupId: number, match: Record<number, number>) => ({
    raw: { status: () => ({ ...leaderStatus(10, match), groupId }) } as unknown as RawNode,
    transferLeader: (target: number) => transfers.push(`group ${groupId} -> node ${target}`),
  });
  let node2Live = false;
  const balancer = new LeaderBalancer(
    new Map([
      [1, host(1, { 1: 10, 2: 10, 3: 10 })],
      [2, host(2, { 1: 10, 2: 10, 3: 10 })],
      [3, host(3, { 1: 10, 2: 10, 3: 4 })],
    ]),
    1000,
    (id) => id !== 2 || node2Live,
    (groupId) => placement.preferredLeader(groupId),
  );
  balancer.balance();
  assert.deepEqual(transfers, [], "node 2 is down (its match index is only what it last had): keep leading");
  node2Live = true;
  balancer.balance();
  assert.deepEqual(transfers, ["group 2 -> node 2"], "group 1 is where it belongs; group 3's node 3 is behind");
});
