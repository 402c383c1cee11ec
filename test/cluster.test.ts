/**
 * End-to-end: real node processes on loopback, real TCP, real LMDB and WAL on disk, kill -9.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { getKey, inParallel, ProcessCluster, putKey, sleep } from "./support/process-cluster.js";

describe("a 3-node cluster", { timeout: 180_000 }, () => {
  let cluster: ProcessCluster;
  before(async () => {
    cluster = await ProcessCluster.start({
      nodes: 3,
      extraArgs: ["--snapshot-entries", "2000", "--snapshot-retain", "50"],
    });
    await cluster.waitForLeader();
  });
  after(async () => cluster?.stop());

  test("10,000 keys written through one node are readable through every node", async () => {
    const writer = cluster.url(2);
    await inParallel(10_000, 64, async (i) => {
      assert.equal(await putKey(writer, `key-${i}`, `value-${i}`), 200);
    });
    for (const id of [1, 2, 3]) {
      await inParallel(10_000, 64, async (i) => {
        const { status, value } = await getKey(cluster.url(id), `key-${i}`);
        assert.equal(status, 200, `node ${id} key-${i}`);
        assert.equal(value, `value-${i}`);
      });
    }
  });

  test("a missing key answers 404 and a deleted key is gone on every node", async () => {
    assert.equal((await getKey(cluster.url(1), "never-written")).status, 404);
    assert.equal(await putKey(cluster.url(1), "doomed", "x"), 200);
    const response = await fetch(`${cluster.url(3)}/v1/kv/doomed`, { method: "DELETE" });
    assert.equal(response.status, 200);
    for (const id of [1, 2, 3]) assert.equal((await getKey(cluster.url(id), "doomed")).status, 404);
  });

  test("a key written with a ttl disappears after it", async () => {
    const response = await fetch(`${cluster.url(1)}/v1/kv/ephemeral?ttl=0.5`, { method: "PUT", body: "soon gone" });
    assert.equal(response.status, 200);
    assert.equal((await getKey(cluster.url(2), "ephemeral")).status, 200);
    await sleep(800);
    for (const id of [1, 2, 3]) assert.equal((await getKey(cluster.url(id), "ephemeral")).status, 404);
  });

  test("bad input gets a JSON 4xx", async () => {
    const response = await fetch(`${cluster.url(1)}/v1/kv/k?ttl=-3`, { method: "PUT", body: "x" });
    assert.equal(response.status, 400);
    const body = (await response.json()) as { code: string };
    assert.equal(body.code, "BAD_REQUEST");
    const stale = await fetch(`${cluster.url(1)}/v1/kv/k?consistency=sometimes`);
    assert.equal(stale.status, 400);
  });

  test("/v1/cluster lists three members and one leader", async () => {
    const status = await cluster.cluster(1);
    assert.equal(status.members.length, 3);
    assert.equal(status.members.filter((m) => m.role === "leader").length, 1);
    assert.ok(status.commitIndex > 0);
  });

  test("kill -9 of the leader during writes loses no acknowledged write; the node catches up on restart", async () => {
    const leader = await cluster.waitForLeader();
    const acknowledged: string[] = [];
    let stop = false;
    const writers = [1, 2, 3].map(async (writerNode) => {
      for (let i = 0; !stop; i++) {
        const target = writerNode === leader ? (leader % 3) + 1 : writerNode;
        const key = `crash-${writerNode}-${i}`;
        if ((await putKey(cluster.url(target), key, key, 5000)) === 200) acknowledged.push(key);
      }
    });
    await sleep(700);
    await cluster.kill(leader);
    await sleep(2500);
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.length > 50, `writes continued (${acknowledged.length})`);
    const newLeader = await cluster.waitForLeader();
    assert.notEqual(newLeader, leader);
    await cluster.startNode(leader);
    await cluster.waitForLeader();
    for (const id of [1, 2, 3]) {
      await inParallel(acknowledged.length, 32, async (i) => {
        const key = acknowledged[i] as string;
        const { status, value } = await getKey(cluster.url(id), key);
        assert.equal(status, 200, `node ${id} lost acknowledged ${key}`);
        assert.equal(value, key);
      });
    }
  });

  test("a follower kept down past log compaction catches up by snapshot", async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    await cluster.kill(follower);
    const writer = cluster.url(leader);
    await inParallel(5000, 64, async (i) => {
      assert.equal(await putKey(writer, `behind-${i}`, `v${i}`), 200);
    });
    await cluster.startNode(follower);
    const deadline = Date.now() + 20_000;
    let caughtUp = false;
    while (Date.now() < deadline && !caughtUp) {
      const [ours, theirs] = await Promise.all([cluster.cluster(follower), cluster.cluster(leader)]);
      caughtUp = ours.appliedIndex >= theirs.commitIndex - 5 && ours.appliedIndex > 0;
      if (!caughtUp) await sleep(200);
    }
    assert.ok(caughtUp, "the restarted follower caught up");
    const snapshots = join(cluster.dataDir, String(follower), "snapshots");
    assert.ok(
      existsSync(snapshots) && readdirSync(snapshots).some((f) => f.startsWith("snapshot-")),
      "it installed a snapshot",
    );
    for (const i of [0, 2500, 4999]) {
      const { status, value } = await getKey(cluster.url(follower), `behind-${i}`, true);
      assert.equal(status, 200);
      assert.equal(value, `v${i}`);
    }
  });
});

describe("kill -9 of every node mid-load", { timeout: 120_000 }, () => {
  test("after a restart every acknowledged write is still there", async () => {
    const cluster = await ProcessCluster.start({ nodes: 3 });
    try {
      await cluster.waitForLeader();
      const acknowledged: string[] = [];
      let stop = false;
      const writers = [1, 2, 3].map(async (node) => {
        for (let i = 0; !stop; i++) {
          const key = `all-${node}-${i}`;
          if ((await putKey(cluster.url(node), key, key, 2000)) === 200) acknowledged.push(key);
        }
      });
      await sleep(1500);
      await Promise.all([1, 2, 3].map((id) => cluster.kill(id)));
      stop = true;
      await Promise.all(writers);
      assert.ok(acknowledged.length > 20, `some writes were acknowledged (${acknowledged.length})`);
      await Promise.all([1, 2, 3].map((id) => cluster.startNode(id)));
      await cluster.waitForLeader();
      await inParallel(acknowledged.length, 32, async (i) => {
        const key = acknowledged[i] as string;
        const { status } = await getKey(cluster.url((i % 3) + 1), key);
        assert.equal(status, 200, `acknowledged ${key} was lost`);
      });
    } finally {
      await cluster.stop();
    }
  });
});
