/**
 * End-to-end: Redis Cluster clients — ioredis `Cluster`, node-redis `createCluster` and `redis-cli -c` — against a
 * real 3-node Shoal cluster (child processes). Until sharding, the cluster is one shard of all 16384 slots led by
 * the Raft leader (resp/server/commands/cluster.ts); the clients discover it with CLUSTER SLOTS from any node,
 * spread keys over every slot, and keep working when the leader is killed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import { createCluster } from "redis";
import { ProcessCluster, sleep } from "../support/process-cluster.js";
import { REDIS_CLI } from "./target.js";

describe("Redis Cluster clients against a 3-node Shoal cluster", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3 });
    await cluster.waitForLeader(30_000);
  });
  after(async () => {
    await cluster?.stop();
  });

  const startupNodes = () => [1, 2, 3].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) }));

  test("every node describes one shard of all slots, led by the Raft leader", async () => {
    const leader = await cluster.waitForLeader();
    for (const id of [1, 2, 3]) {
      const client = new Redis(cluster.respPort(id), { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        const slots = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
        assert.equal(slots.length, 1);
        const [start, end, master] = slots[0] as [number, number, [string, number, string]];
        assert.deepEqual([start, end, master[1]], [0, 16383, cluster.respPort(leader)]);
        const info = String(await client.call("CLUSTER", "INFO"));
        assert.match(info, /cluster_state:ok\r\ncluster_slots_assigned:16384\r\n/);
        assert.match(String(await client.call("CLUSTER", "MYID")), /^[0-9a-f]{40}$/);
      } finally {
        client.disconnect();
      }
    }
  });

  test("ioredis Cluster: 2,000 keys over every slot, pipelines, MGET with a hash tag", async () => {
    const client = new Cluster(startupNodes(), { redisOptions: { maxRetriesPerRequest: 3 } });
    try {
      const keys = Array.from({ length: 2000 }, (_, i) => `cluster:key:${i}`);
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.set(key, `v-${key}`);
      const results = await pipeline.exec();
      assert.ok(results?.every(([error, reply]) => error === null && reply === "OK"));
      const slots = new Set(keys.map((key) => Number(spawnSlot(key))));
      assert.ok(slots.size > 1500, `the keys spread over many slots (${slots.size})`);
      for (const key of keys.slice(0, 50)) assert.equal(await client.get(key), `v-${key}`);
      await client.mset("{user:7}:name", "ada", "{user:7}:lang", "ts");
      assert.deepEqual(await client.mget("{user:7}:name", "{user:7}:lang"), ["ada", "ts"]);
      assert.equal(client.nodes("master").length, 1, "one shard: one master");
    } finally {
      client.disconnect();
    }
  });

  test("node-redis createCluster reads and writes any key", async () => {
    const client = createCluster({
      rootNodes: startupNodes().map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    });
    await client.connect();
    try {
      for (let i = 0; i < 100; i++) await client.set(`nr:${i}`, String(i));
      for (let i = 0; i < 100; i += 9) assert.equal(await client.get(`nr:${i}`), String(i));
      assert.deepEqual(await client.mGet(["{t}a", "{t}b"]), [null, null]);
    } finally {
      await client.quit();
    }
  });

  test("redis-cli -c writes and reads through any node", { skip: !existsSync(REDIS_CLI) }, () => {
    const cli = (port: number, ...args: string[]) =>
      spawnSync(REDIS_CLI, ["-c", "-p", String(port), ...args], { encoding: "utf8" }).stdout.trim();
    assert.equal(cli(cluster.respPort(2), "SET", "cli:key", "hello"), "OK");
    assert.equal(cli(cluster.respPort(3), "GET", "cli:key"), "hello");
    assert.match(cli(cluster.respPort(1), "CLUSTER", "INFO"), /cluster_state:ok/);
    // Every member indexes its keys by slot as it applies them: a follower counts and lists them too.
    assert.equal(cli(cluster.respPort(2), "MSET", "{cli}x", "1", "{cli}y", "2"), "OK");
    const slot = cli(cluster.respPort(1), "CLUSTER", "KEYSLOT", "{cli}");
    for (const id of [1, 2, 3]) {
      const deadline = Date.now() + 5000;
      while (cli(cluster.respPort(id), "CLUSTER", "COUNTKEYSINSLOT", slot) !== "2" && Date.now() < deadline) {}
      assert.equal(cli(cluster.respPort(id), "CLUSTER", "COUNTKEYSINSLOT", slot), "2", `node ${id}`);
      assert.equal(cli(cluster.respPort(id), "CLUSTER", "GETKEYSINSLOT", slot, "10"), "{cli}x\n{cli}y");
    }
  });

  test("ioredis Cluster keeps serving across a kill -9 of the leader", async () => {
    const client = new Cluster(startupNodes(), {
      redisOptions: { maxRetriesPerRequest: 3 },
      slotsRefreshInterval: 500,
    });
    try {
      assert.equal(await client.set("failover:before", "1"), "OK");
      const leader = await cluster.waitForLeader();
      await cluster.kill(leader);
      let written = false;
      const deadline = Date.now() + 30_000;
      while (!written && Date.now() < deadline) {
        try {
          written = (await client.set("failover:after", "2")) === "OK";
        } catch {
          await sleep(200);
        }
      }
      assert.ok(written, "a write succeeded after the leader died");
      assert.equal(await client.get("failover:before"), "1");
      assert.equal(await client.get("failover:after"), "2");
    } finally {
      client.disconnect();
    }
  });
});

/** A key's slot as a cluster-enabled Redis computes it (the CRC runs in the test: the server's own is under test). */
function spawnSlot(key: string): number {
  let crc = 0;
  const open = key.indexOf("{");
  const close = open === -1 ? -1 : key.indexOf("}", open + 1);
  const hashed = open !== -1 && close > open + 1 ? key.slice(open + 1, close) : key;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}

describe("Redis Cluster clients with strict redirects (--cluster-redirects)", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--cluster-redirects"] });
    await cluster.waitForLeader(30_000);
  });
  after(async () => {
    await cluster?.stop();
  });

  test("a follower answers -MOVED to the leader; redis-cli -c and ioredis Cluster follow it", async () => {
    const leader = await cluster.waitForLeader();
    const follower = [1, 2, 3].find((id) => id !== leader) as number;
    const plain = new Redis(cluster.respPort(follower), { maxRetriesPerRequest: 0 });
    try {
      let error = "";
      for (let i = 0; i < 40 && !error.startsWith("MOVED"); i++) {
        error = await plain.get("foo").then(
          () => "",
          (e: Error) => e.message,
        );
        if (!error.startsWith("MOVED")) await sleep(100);
      }
      assert.equal(error, `MOVED 12182 127.0.0.1:${cluster.respPort(leader)}`);
      await assert.rejects(plain.mset("a", "1", "b", "2"), /CROSSSLOT/);
    } finally {
      plain.disconnect();
    }
    if (existsSync(REDIS_CLI)) {
      const cli = (port: number, ...args: string[]) =>
        spawnSync(REDIS_CLI, ["-c", "-p", String(port), ...args], { encoding: "utf8" }).stdout.trim();
      assert.equal(cli(cluster.respPort(follower), "SET", "strict:key", "v"), "OK");
      assert.equal(cli(cluster.respPort(follower), "GET", "strict:key"), "v");
    }
    const client = new Cluster(
      [1, 2, 3].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
    try {
      const pipeline = client.pipeline();
      for (let i = 0; i < 500; i++) pipeline.set(`strict:${i}`, String(i));
      const results = await pipeline.exec();
      assert.ok(results?.every(([err, reply]) => err === null && reply === "OK"));
      assert.equal(await client.get("strict:499"), "499");
    } finally {
      client.disconnect();
    }
  });
});
