/**
 * End-to-end (issue 13): 3 nodes of 6 shards with 10,000 keys → nodes 4 and 5 join → the rebalancer evens out
 * replicas and leaders (every node holds replicas and leads a shard) → `shoal node remove 1` drains node 1 and
 * removes it (it stops by itself) → every key reads its last value — while a Redis Cluster client (ioredis) kept
 * writing throughout. A write the client saw fail is counted, and the test says how many (none expected: the
 * client retries redirections and CLUSTERDOWN by itself).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster } from "ioredis";
import type { AdminNodesView, AdminRebalanceView } from "../src/http/admin-member-routes.js";
import { eventually, getKey, ProcessCluster, runShoal, sleep } from "./support/process-cluster.js";

describe("growing a cluster from 3 to 5 nodes and removing one, under a client's writes", { timeout: 600_000 }, () => {
  let cluster: ProcessCluster;
  const keys = Array.from({ length: 10_000 }, (_, i) => `grow:${i}`);

  const nodes = async (via: number): Promise<AdminNodesView> =>
    (await (await fetch(`${cluster.url(via)}/v1/admin/nodes`)).json()) as AdminNodesView;
  const rebalance = async (via: number): Promise<AdminRebalanceView> =>
    (await (await fetch(`${cluster.url(via)}/v1/admin/rebalance`)).json()) as AdminRebalanceView;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", "6"] });
    await cluster.waitForLeader();
  });
  after(async () => {
    await cluster?.stop();
  });

  test("join 4 and 5, rebalance, remove 1: nothing lost, every node leads a shard", async () => {
    const client = new Cluster(
      [1, 2, 3].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
      { redisOptions: { maxRetriesPerRequest: 20 }, retryDelayOnClusterDown: 200, retryDelayOnFailover: 200 },
    );
    const failures: string[] = [];
    try {
      for (let at = 0; at < keys.length; at += 500) {
        await Promise.all(keys.slice(at, at + 500).map((key, i) => client.set(key, `v${at + i}`)));
      }
      // The writer: 100 keys overwritten with a growing counter; the last acknowledged value of each is kept.
      const acknowledged = new Map<string, number>();
      let writing = true;
      const writer = (async () => {
        for (let n = 0; writing; n++) {
          const key = `hot:${n % 100}`;
          try {
            await client.set(key, String(n));
            acknowledged.set(key, n);
          } catch (error) {
            failures.push(`${key}=${n}: ${(error as Error).message}`);
            await sleep(50);
          }
        }
      })();
      // A reader too: every read of a loaded key answers its value, while replicas move under it.
      const readFailures: string[] = [];
      const reader = (async () => {
        for (let n = 0; writing; n++) {
          const i = (n * 7919) % keys.length;
          try {
            const value = await client.get(keys[i] as string);
            if (value !== `v${i}`) readFailures.push(`${keys[i]}: read ${value}`);
          } catch (error) {
            readFailures.push(`${keys[i]}: ${(error as Error).message}`);
            await sleep(50);
          }
        }
      })();

      await cluster.addNode(4, 1);
      await cluster.addNode(5, 2);
      // The rebalancer on the meta group's leader moves replicas to the new members, then evens out leaders.
      const grown = await eventually(
        "the rebalancer to even out 5 nodes",
        async () => {
          const state = await rebalance(1);
          if (state.state !== "balanced") return undefined;
          const view = await nodes(1);
          const share = view.nodes.map((node) => node.replicas);
          if (view.nodes.length !== 5 || Math.max(...share) - Math.min(...share) > 1) return undefined;
          return view.nodes.every((node) => node.leads >= 1 && node.meta === "voter") ? view : undefined;
        },
        240_000,
      );
      assert.deepEqual(grown.nodes.map((node) => node.replicas).sort(), [3, 3, 4, 4, 4], "18 replicas over 5 nodes");

      // Node 1 drained and removed with the CLI; it then stops by itself (exit 0). Meanwhile HTTP reads through
      // node 1 itself: a read waiting on one of its replicas when that replica is deleted (it moved away) is
      // read again where the shard is now, never answered with an error (once removed, node 1 answers 503 "ask
      // another member", then refuses connections: either ends a reader).
      let draining = true;
      const drainReadErrors: string[] = [];
      const drainReaders = Array.from({ length: 8 }, async (_, worker) => {
        for (let n = worker; draining; n += 8) {
          const i = (n * 104729) % keys.length;
          const answer = await fetch(`${cluster.url(1)}/v1/kv/${keys[i]}`).catch(() => undefined);
          if (answer === undefined) return;
          const body = await answer.text();
          // Removed, node 1 sends its clients elsewhere until it stops: the end of this reader too.
          if (answer.status === 503 && body.includes("Node 1 was removed from the cluster; ask another member")) return;
          if (answer.status !== 200 || body !== `v${i}`) drainReadErrors.push(`${answer.status} ${body}`);
        }
      });
      const removed = await runShoal(["node", "remove", "1", "--endpoint", cluster.url(2)], 300_000);
      draining = false;
      await Promise.all(drainReaders);
      assert.deepEqual(
        drainReadErrors.slice(0, 3),
        [],
        `${drainReadErrors.length} reads through the drained node failed`,
      );
      assert.equal(removed.code, 0, removed.stderr);
      assert.match(removed.stdout, /Done: node 1 is removed/);
      assert.match(removed.stdout, /replicas moved off node 1, \d+(\.\d)? (B|KiB|MiB) streamed/);
      const exit = await cluster.exited(1, 30_000);
      assert.equal(exit.code, 0, exit.stderr);
      const after = await nodes(2);
      assert.deepEqual(
        after.nodes.map((node) => node.id),
        [2, 3, 4, 5],
      );
      assert.deepEqual(after.removed, [1]);
      assert.ok(after.nodes.every((node) => node.replicas >= 4 && node.meta === "voter"));

      writing = false;
      await writer;
      await reader;
      assert.deepEqual(readFailures, [], "every read answered its key's value while replicas moved");
      // Every key reads its last acknowledged value through any member.
      for (const [i, key] of keys.entries()) {
        if (i % 10 !== 0) continue;
        assert.deepEqual(await getKey(cluster.url(2 + (i % 4)), key), { status: 200, value: `v${i}` }, key);
      }
      for (const [key, n] of acknowledged) {
        const read = Number((await getKey(cluster.url(3), key)).value);
        // A write whose answer was lost may have landed after the last one acknowledged: never an older value.
        assert.ok(read >= n, `${key}: read ${read}, last acknowledged ${n}`);
      }
      assert.deepEqual(failures, [], "every failed write was retried by the client");

      // The CLI agrees: nodes lists the four members, and there is nothing left to rebalance.
      const listed = await runShoal(["nodes", "--endpoint", cluster.url(3)]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /Removed: 1/);
      const dryRun = await runShoal(["rebalance", "--dry-run", "--endpoint", cluster.url(3)]);
      assert.equal(dryRun.code, 0, dryRun.stdout + dryRun.stderr);
      assert.match(dryRun.stdout, /balanced/);
    } finally {
      client.disconnect();
    }
  });

  test("a removed node's directory cannot serve again, and its id cannot join again", async () => {
    await assert.rejects(cluster.startNode(1), /Node 1 was removed from this cluster/);
    const removedView = await nodes(2);
    assert.ok(!removedView.nodes.some((node) => node.id === 1));
    const wrong = await runShoal(["node", "remove", "9", "--endpoint", cluster.url(2)]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /Node 9 is not a member/);
  });

  test("a member that is down (its disk lost) is removed all the same: its replicas come from the others", async () => {
    await cluster.kill(5);
    const removed = await runShoal(["node", "remove", "5", "--endpoint", cluster.url(3)], 300_000);
    assert.equal(removed.code, 0, removed.stdout + removed.stderr);
    const view = await nodes(3);
    assert.deepEqual(
      view.nodes.map((node) => node.id),
      [2, 3, 4],
    );
    assert.ok(view.nodes.every((node) => node.replicas === 6 && node.live));
    for (const [i, key] of keys.entries()) {
      if (i % 50 === 0) assert.deepEqual(await getKey(cluster.url(2 + (i % 3)), key), { status: 200, value: `v${i}` });
    }
    // Three members for shards of three replicas: one more removal is refused, saying why.
    const tooFew = await runShoal(["node", "remove", "2", "--endpoint", cluster.url(3)]);
    assert.equal(tooFew.code, 1);
    assert.match(tooFew.stderr, /would leave 2 members for shards of 3 replicas: add a node first/);
  });
});
