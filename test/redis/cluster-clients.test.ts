/**
 * End-to-end: Redis Cluster clients — ioredis `Cluster`, node-redis `createCluster` and `redis-cli -c` — against a
 * real 3-node Shoal cluster of 3 shards (child processes, `--shards 3` as `npm start` runs): each shard's slots are
 * led by a different node (resp/server/commands/cluster.ts names each shard's leader first); the clients discover
 * them with CLUSTER SLOTS from any node, spread keys over every slot, and keep working when a shard's leader is
 * killed.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import { createCluster } from "redis";
import { SlotMap } from "../../src/slots/slot-map.js";
import { ProcessCluster, sleep } from "../support/process-cluster.js";
import { REDIS_CLI } from "./target.js";

const SHARD_SLOTS = [
  [0, 5460],
  [5461, 10922],
  [10923, 16383],
];

describe("Redis Cluster clients against a 3-node Shoal cluster of 3 shards", { timeout: 300_000 }, () => {
  let cluster: ProcessCluster;
  const shardOf = (key: string): number => new SlotMap(3).shardOf(spawnSlot(key));

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", "3"] });
    await cluster.waitForLeader(30_000);
  });
  after(async () => {
    await cluster?.stop();
  });

  const startupNodes = () => [1, 2, 3].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) }));
  /** Each shard's leader as node 1 sees it, once every shard has one. */
  const shardLeaders = async (): Promise<number[]> => {
    for (;;) {
      const view = (await cluster.cluster(1)) as unknown as { shards: { leader: number }[] };
      const leaders = view.shards.map((shard) => shard.leader);
      if (leaders.every((leader) => leader > 0)) return leaders;
      await sleep(100);
    }
  };

  test("every node describes 3 shards, each led by another node", async () => {
    let leaders: number[] = [];
    for (let attempt = 0; attempt < 100 && new Set(leaders).size < 3; attempt++) {
      leaders = await shardLeaders();
      if (new Set(leaders).size < 3) await sleep(200);
    }
    assert.equal(new Set(leaders).size, 3, `leaders spread over the nodes: ${leaders}`);
    for (const id of [1, 2, 3]) {
      const client = new Redis(cluster.respPort(id), { lazyConnect: true, maxRetriesPerRequest: 1 });
      try {
        const slots = (await client.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
        assert.deepEqual(
          slots.map(([start, end, master]) => [start, end, master[1]]),
          SHARD_SLOTS.map(([start, end], i) => [start, end, cluster.respPort(leaders[i] as number)]),
        );
        const info = String(await client.call("CLUSTER", "INFO"));
        assert.match(info, /cluster_state:ok\r\ncluster_slots_assigned:16384\r\n/);
        assert.match(info, /cluster_size:3\r\n/);
        assert.match(String(await client.call("CLUSTER", "MYID")), /^[0-9a-f]{40}$/);
      } finally {
        client.disconnect();
      }
    }
  });

  test("ioredis Cluster: 10,000 keys over every slot, pipelines, MGET with a hash tag, CROSSSLOT across shards", async () => {
    const client = new Cluster(startupNodes(), { redisOptions: { maxRetriesPerRequest: 3 } });
    try {
      const keys = Array.from({ length: 10_000 }, (_, i) => `cluster:key:${i}`);
      // An ioredis Cluster pipeline must stay on one master (as against a Redis Cluster): one per shard.
      const byShard = [1, 2, 3].map((shard) => keys.filter((key) => shardOf(key) === shard));
      const written = await Promise.all(
        byShard.map((group) => {
          const pipeline = client.pipeline();
          for (const key of group) pipeline.set(key, `v-${key}`);
          return pipeline.exec();
        }),
      );
      assert.ok(written.every((results) => results?.every(([error, reply]) => error === null && reply === "OK")));
      const slots = new Set(keys.map((key) => spawnSlot(key)));
      assert.ok(slots.size > 7000, `the keys spread over most slots (${slots.size})`);
      const read = await Promise.all(
        byShard.map((group) => {
          const pipeline = client.pipeline();
          for (const key of group) pipeline.get(key);
          return pipeline.exec();
        }),
      );
      assert.deepEqual(
        read.flatMap((results) => results?.map(([, value]) => value)),
        byShard.flat().map((key) => `v-${key}`),
      );
      await client.mset("{user:7}:name", "ada", "{user:7}:lang", "ts");
      assert.deepEqual(await client.mget("{user:7}:name", "{user:7}:lang"), ["ada", "ts"]);
      assert.equal(client.nodes("master").length, 3, "three shards: three masters");
      const other = ["b", "c", "d", "e", "f", "g", "h"].find((key) => shardOf(key) !== shardOf("a")) as string;
      await assert.rejects(client.mset("a", "1", other, "2"), /CROSSSLOT/);
    } finally {
      client.disconnect();
    }
  });

  test("node-redis createCluster reads and writes 10,000 keys over every shard", async () => {
    const client = createCluster({
      rootNodes: startupNodes().map(({ host, port }) => ({ url: `redis://${host}:${port}` })),
    });
    await client.connect();
    try {
      const keys = Array.from({ length: 10_000 }, (_, i) => `nr:${i}`);
      for (let i = 0; i < keys.length; i += 1000) {
        await Promise.all(keys.slice(i, i + 1000).map((key) => client.set(key, `v-${key}`)));
      }
      const values = await Promise.all(keys.map((key) => client.get(key)));
      assert.deepEqual(
        values,
        keys.map((key) => `v-${key}`),
      );
      assert.deepEqual(new Set(keys.map(shardOf)), new Set([1, 2, 3]));
      assert.deepEqual(await client.mGet(["{t}a", "{t}b"]), [null, null]);
      assert.equal(client.masters.length, 3);
    } finally {
      await client.quit();
    }
  });

  test("redis-cli -c writes and reads through any node", { skip: !existsSync(REDIS_CLI) }, () => {
    const cli = (port: number, ...args: string[]) =>
      spawnSync(REDIS_CLI, ["-c", "-p", String(port), ...args], { encoding: "utf8" }).stdout.trim();
    for (const [i, key] of ["cli:key", "cli:other", "cli:third", "foo", "bar"].entries()) {
      assert.equal(cli(cluster.respPort((i % 3) + 1), "SET", key, `hello-${i}`), "OK");
      assert.equal(cli(cluster.respPort(((i + 1) % 3) + 1), "GET", key), `hello-${i}`);
    }
    assert.match(cli(cluster.respPort(1), "CLUSTER", "INFO"), /cluster_state:ok/);
    // Every member indexes its keys by slot as it applies them: a follower counts and lists them too. (Keys of
    // the tests above may share the slot: the count grows by two.)
    const slot = cli(cluster.respPort(1), "CLUSTER", "KEYSLOT", "{cli}");
    const before = Number(cli(cluster.respPort(1), "CLUSTER", "COUNTKEYSINSLOT", slot));
    assert.equal(cli(cluster.respPort(2), "MSET", "{cli}x", "1", "{cli}y", "2"), "OK");
    const expected = String(before + 2);
    for (const id of [1, 2, 3]) {
      const deadline = Date.now() + 5000;
      while (cli(cluster.respPort(id), "CLUSTER", "COUNTKEYSINSLOT", slot) !== expected && Date.now() < deadline) {}
      assert.equal(cli(cluster.respPort(id), "CLUSTER", "COUNTKEYSINSLOT", slot), expected, `node ${id}`);
      const listed = cli(cluster.respPort(id), "CLUSTER", "GETKEYSINSLOT", slot, "100").split("\n");
      assert.ok(listed.includes("{cli}x") && listed.includes("{cli}y"), `node ${id}: ${listed}`);
    }
  });

  test("ioredis Cluster keeps serving every shard across a kill -9 of a shard's leader", async () => {
    const client = new Cluster(startupNodes(), {
      redisOptions: { maxRetriesPerRequest: 3 },
      slotsRefreshInterval: 500,
    });
    const keyOf = (shard: number, tag: string): string =>
      Array.from({ length: 100 }, (_, i) => `failover:${tag}:${i}`).find((key) => shardOf(key) === shard) as string;
    try {
      for (const shard of [1, 2, 3]) assert.equal(await client.set(keyOf(shard, "before"), "1"), "OK");
      const leaders = await shardLeaders();
      await cluster.kill(leaders[1] as number); // shard 2's leader
      const deadline = Date.now() + 30_000;
      for (const shard of [1, 2, 3]) {
        let written = false;
        while (!written && Date.now() < deadline) {
          try {
            written = (await client.set(keyOf(shard, "after"), "2")) === "OK";
          } catch {
            await sleep(200);
          }
        }
        assert.ok(written, `a write to shard ${shard} succeeded after shard 2's leader died`);
        assert.equal(await client.get(keyOf(shard, "before")), "1");
        assert.equal(await client.get(keyOf(shard, "after")), "2");
      }
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
