/**
 * End-to-end: a node joins a running cluster (issue 13) — 3 nodes with 3 shards, then node 4 started empty with
 * `shoal start --id 4 --peer … --join <node 1's peer address>` becomes a member with no other step: every node
 * lists it, the meta group counts it as a voter once it caught up, a replica moved to it serves its keys, it
 * restarts with the same command, and an id already in use (a node that lost its disk) is refused with a clear
 * error.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { AdminShardsView } from "../src/http/admin-routes.js";
import { hashSlot } from "../src/slots/hash-slot.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { eventually, getKey, inParallel, ProcessCluster, putKey } from "./support/process-cluster.js";

interface ClusterView {
  readonly members: readonly { readonly id: number; readonly reachable: boolean }[];
  readonly mapEpoch: number;
}

describe("a node joins a running cluster", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;
  const slotMap = new SlotMap(3);
  const keys = Array.from({ length: 600 }, (_, i) => `joined:${i}`);

  const view = async (id: number): Promise<ClusterView> =>
    (await (await fetch(`${cluster.url(id)}/v1/cluster`)).json()) as ClusterView;
  const shards = async (id: number): Promise<AdminShardsView> =>
    (await (await fetch(`${cluster.url(id)}/v1/admin/shards`)).json()) as AdminShardsView;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", "3"] });
    await cluster.waitForLeader();
    await cluster.pauseRebalancer(); // the move here is by hand (grow-shrink.test.ts lets the rebalancer act)
  });
  after(async () => {
    await cluster?.stop();
  });

  test("node 4 joins through node 1, takes a replica moved to it, and restarts with the same command", async () => {
    await inParallel(keys.length, 16, async (i) => {
      assert.equal(await putKey(cluster.url(2), keys[i] as string, `v${i}`), 200);
    });
    await cluster.addNode(4, 1);
    // Every node lists node 4 as a reachable member.
    for (const id of [1, 2, 3, 4]) {
      await eventually(`node ${id} to see node 4`, async () => {
        const members = (await view(id)).members;
        return members.some((m) => m.id === 4 && m.reachable) ? true : undefined;
      });
    }
    // The meta group's leader added node 4 as a learner and promoted it once caught up.
    await eventually("node 4 to vote in the meta group", async () =>
      (await shards(1)).meta.voters.includes(4) ? true : undefined,
    );
    // It holds no shard yet; a replica of shard 1 moved to it serves shard 1's keys from its own copy.
    const before = (await shards(1)).shards.find((s) => s.id === 1);
    assert.ok(before !== undefined && !before.replicas.includes(4));
    const from = before.replicas.find((id) => id !== before.leader) as number;
    const moved = await fetch(`${cluster.url(4)}/v1/admin/shards/1/move`, {
      method: "POST",
      body: JSON.stringify({ from, to: 4 }),
    });
    assert.equal(moved.status, 202, await moved.clone().text());
    await eventually(
      "the move to node 4",
      async () => {
        const shard = (await shards(4)).shards.find((s) => s.id === 1);
        return shard?.leaving.length === 0 && shard.voters?.includes(4) === true ? true : undefined;
      },
      120_000,
    );
    const shardOne = keys.filter((key) => slotMap.shardOf(hashSlot(Buffer.from(key))) === 1);
    assert.ok(shardOne.length > 0);
    for (const key of shardOne) {
      assert.deepEqual(await getKey(cluster.url(4), key, true), { status: 200, value: `v${keys.indexOf(key)}` });
    }
    // Every key reads the same through node 4 (shards 2 and 3 through the members holding them).
    for (const [i, key] of keys.entries()) assert.equal((await getKey(cluster.url(4), key)).value, `v${i}`);

    // Restarted with the same command line, it is still a member holding its replica.
    await cluster.kill(4);
    await cluster.startNode(4);
    await eventually("node 4 back with shard 1", async () => {
      const shard = (await shards(4)).shards.find((s) => s.id === 1);
      return shard?.voters?.includes(4) === true && shard.leader > 0 ? true : undefined;
    });
    for (const key of shardOne.slice(0, 20)) {
      assert.deepEqual(await getKey(cluster.url(4), key, true), { status: 200, value: `v${keys.indexOf(key)}` });
    }

    // Restarted while the member it joins through is down: after asking for a while it starts with the members
    // it knew (known-members.json) and serves again.
    await cluster.kill(4);
    await cluster.kill(1);
    await cluster.startNode(4);
    await eventually("node 4 back without node 1", async () => {
      const shard = (await shards(4)).shards.find((s) => s.id === 1);
      return shard?.voters?.includes(4) === true && shard.leader > 0 ? true : undefined;
    });
    assert.equal(
      (await getKey(cluster.url(4), shardOne[0] as string)).value,
      `v${keys.indexOf(shardOne[0] as string)}`,
    );
    await cluster.startNode(1);
  });

  test("a node that lost its data cannot join again under its id", async () => {
    await cluster.kill(4);
    // Node 4's disk is gone: the same id with an empty directory is refused, with what to do.
    const fresh = `${cluster.dataDir}/4-wiped`;
    await assert.rejects(
      cluster.startNode(4, ["--data-dir", fresh]),
      /Node 4 is already a member of this cluster: a node that lost its data joins under a new id/,
    );
  });
});
