/**
 * End-to-end: placement with R < N (slots/placement.ts) — 4 nodes, 4 shards of 3 replicas each, as child
 * processes. Each node holds 3 of the 4 shards and answers for the fourth by asking a member that holds it
 * (node/remote-shard.ts); keyless reads combine the shards' answers (node/keyless-reads.ts). With two nodes
 * killed, the shards that had both lose their majority and only their slots fail, at once, with CLUSTERDOWN (503
 * over HTTP); the other shards keep serving reads and writes, and nothing acknowledged is lost once the two return.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import { hashSlot } from "../src/slots/hash-slot.js";
import { Placement } from "../src/slots/placement.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

interface ShardView {
  readonly id: number;
  readonly leader: number;
  readonly replicas: number[];
}

const NODES = [1, 2, 3, 4];
const CHROMIUM = "/usr/bin/chromium";

describe("4 nodes, 4 shards of 3 replicas", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;
  const map = new SlotMap(4);
  const placement = new Placement(NODES, 4, 3);
  const shardOf = (key: string): number => map.shardOf(hashSlot(Buffer.from(key)));
  const keys = Array.from({ length: 2_000 }, (_, i) => `placed:${i}`);
  const watched = Array.from({ length: 40 }, (_, i) => `watched:${i}`);

  const shardViews = async (id: number): Promise<ShardView[]> =>
    ((await cluster.cluster(id)) as unknown as { shards: ShardView[] }).shards;

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 4, extraArgs: ["--shards", "4", "--replicas", "3"] });
  });
  after(async () => {
    await cluster?.stop();
  });

  test("each shard is held by its 3 placed replicas, and the 4 leaders settle on 4 different nodes", async () => {
    let views: ShardView[] = [];
    for (let attempt = 0; attempt < 150; attempt++) {
      views = await shardViews(4).catch(() => []);
      if (views.length === 4 && new Set(views.map((v) => v.leader)).size === 4 && views.every((v) => v.leader > 0)) {
        break;
      }
      await sleep(200);
    }
    for (const view of views) {
      assert.deepEqual(
        [view.leader, ...view.replicas].sort(),
        [...placement.replicasOf(view.id)].sort(),
        `shard ${view.id}'s replicas`,
      );
    }
    assert.deepEqual(
      views.map((v) => v.leader),
      [1, 2, 3, 4].map((s) => placement.preferredLeader(s)),
      "each shard settles on its preferred leader",
    );
    // The meta group (on every node) recorded the cluster map, epoch 1, as every node computed it.
    for (const id of NODES) {
      let view = (await cluster.cluster(id)) as unknown as { mapEpoch: number; problems: string[] };
      for (let attempt = 0; attempt < 50 && view.mapEpoch !== 1; attempt++) {
        await sleep(200);
        view = (await cluster.cluster(id)) as unknown as { mapEpoch: number; problems: string[] };
      }
      assert.equal(view.mapEpoch, 1, `node ${id}'s map epoch`);
      assert.deepEqual(view.problems, []);
    }
    // CLUSTER SHARDS lists each shard's own 3 replicas, not every node.
    const client = new Redis(cluster.respPort(1), { maxRetriesPerRequest: 1 });
    try {
      const shards = (await client.call("CLUSTER", "SHARDS")) as unknown[][];
      assert.equal(shards.length, 4);
      for (const shard of shards) assert.equal((shard[3] as unknown[]).length, 3);
    } finally {
      client.disconnect();
    }
  });

  test("every node writes and reads every shard's keys; KEYS, DBSIZE and SCAN see every shard once", async () => {
    assert.deepEqual(new Set(keys.map(shardOf)), new Set([1, 2, 3, 4]));
    const clients = NODES.map((id) => new Redis(cluster.respPort(id), { maxRetriesPerRequest: 1 }));
    try {
      // Node 4 holds no replica of shard 1, node 1 none of shard 4: writes through them cross to a holder.
      const pipeline = (clients[3] as Redis).pipeline();
      for (const key of keys) pipeline.set(key, `v:${key}`);
      const results = await pipeline.exec();
      // On a loaded machine an election may fail a run of writes (TRYAGAIN, or UNCERTAIN when its outcome is
      // unknown): a client sets those keys again, as an application would. Nothing else may fail.
      const failed = keys.filter((_, i) => results?.[i]?.[0] !== null);
      for (const [error] of results ?? []) {
        if (error !== null) assert.match(error.message, /^(TRYAGAIN|UNCERTAIN|ERR .*(timed out|no response|within))/);
      }
      for (const key of failed) {
        let written = false;
        for (let attempt = 0; attempt < 50 && !written; attempt++) {
          written = await (clients[3] as Redis).set(key, `v:${key}`).then(
            () => true,
            () => false,
          );
          if (!written) await sleep(100);
        }
        assert.ok(written, `${key} is written`);
      }
      for (const client of clients) {
        assert.equal(await client.dbsize(), keys.length);
        assert.deepEqual(await client.mget(keys.slice(0, 1)), [`v:${keys[0]}`]);
        const sample = keys.filter((_, i) => i % 97 === 0);
        for (const key of sample) assert.equal(await client.get(key), `v:${key}`);
      }
      // KEYS answers shard after shard (bytewise within each), every matching key once.
      const listed = (await (clients[0] as Redis).keys("placed:1*")) as string[];
      assert.deepEqual([...listed].sort(), keys.filter((key) => key.startsWith("placed:1")).sort());
      // SCAN through node 1 walks shard after shard, one of them held elsewhere; every key exactly once.
      const scanned: string[] = [];
      let cursor = "0";
      do {
        const [next, page] = (await (clients[0] as Redis).scan(cursor, "COUNT", 300)) as [string, string[]];
        scanned.push(...page);
        cursor = next;
      } while (cursor !== "0");
      assert.equal(scanned.length, keys.length);
      assert.deepEqual([...scanned].sort(), [...keys].sort());
      // A heavy read of a shard held elsewhere (HGETALL of a 5,000-field hash) runs on the holder's read worker
      // and comes back encoded for this client.
      const hashKey = Array.from({ length: 100 }, (_, i) => `bighash:${i}`).find(
        (k) => !placement.replicasOf(shardOf(k)).includes(1),
      ) as string;
      const fields = Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`f${i}`, `v${i}`]));
      await (clients[1] as Redis).hset(hashKey, fields);
      assert.deepEqual(await (clients[0] as Redis).hgetall(hashKey), fields);
      await (clients[1] as Redis).del(hashKey);
      // A cursor handed to another node resumes there (cursors are valid on every node).
      const [first] = (await (clients[0] as Redis).scan("0", "COUNT", 10)) as [string, string[]];
      const [, resumed] = (await (clients[2] as Redis).scan(first, "COUNT", 10)) as [string, string[]];
      assert.ok(resumed.length > 0);
    } finally {
      for (const client of clients) client.disconnect();
    }
    // HTTP through a node that does not hold the key's shard, and a prefix listing over every shard.
    const key = keys.find((k) => !placement.replicasOf(shardOf(k)).includes(1)) as string;
    const response = await fetch(`${cluster.url(1)}/v1/kv/${key}`);
    assert.equal(await response.text(), `v:${key}`);
    assert.ok(Number(response.headers.get("x-shoal-revision")) > 0, "the holder's revision of the key's shard");
    const page = (await (await fetch(`${cluster.url(2)}/v1/kv?prefix=placed:&limit=50`)).json()) as {
      kvs: { key: string }[];
    };
    assert.deepEqual(
      page.kvs.map((kv) => kv.key),
      [...keys].sort().slice(0, 50),
    );
  });

  test("a watch over every shard on a node lacking one streams that shard's events too, and resumes by cursor", async () => {
    const held = NODES.filter((id) => placement.shardsOf(id).length < 4);
    const node = held[0] as number;
    const missing = [1, 2, 3, 4].find((s) => !placement.replicasOf(s).includes(node)) as number;
    assert.ok(watched.some((key) => shardOf(key) === missing));
    const controller = new AbortController();
    const response = await fetch(`${cluster.url(node)}/v1/watch?prefix=watched:`, { signal: controller.signal });
    assert.equal(response.status, 200);
    const startCursor = response.headers.get("x-shoal-cursor") as string;
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const writer = new Redis(cluster.respPort(NODES.find((id) => id !== node) as number), { maxRetriesPerRequest: 1 });
    const seen = new Map<string, number>();
    try {
      for (const key of watched) await writer.set(key, "w");
      const decoder = new TextDecoder();
      let buffer = "";
      while (seen.size < watched.length) {
        const chunk = await reader.read();
        assert.ok(!chunk.done, `the stream ended after ${seen.size} events`);
        buffer += decoder.decode(chunk.value, { stream: true });
        const lines = buffer.split("\n");
        buffer = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.startsWith("data: ")) continue;
          const event = JSON.parse(line.slice(6)) as { key: string; shard: number };
          assert.equal(event.shard, shardOf(event.key));
          seen.set(event.key, (seen.get(event.key) ?? 0) + 1);
        }
      }
      assert.deepEqual([...seen.keys()].sort(), [...watched].sort());
      assert.ok(
        [...seen.values()].every((count) => count === 1),
        "each event exactly once",
      );
    } finally {
      controller.abort();
      await reader.cancel().catch(() => undefined);
      writer.disconnect();
    }
    // Resumed from the cursor it started at, on the same node: every event again, from history.
    const again = await fetch(`${cluster.url(node)}/v1/watch?prefix=watched:&cursor=${startCursor}`);
    const text = await readUntil(again, (body) => (body.match(/^data: /gm) ?? []).length >= watched.length);
    assert.equal((text.match(/^data: /gm) ?? []).length, watched.length);
  });

  test("a Redis Cluster client reaches every shard through the shards' own replicas", async () => {
    const client = new Cluster(
      NODES.map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
    try {
      for (const key of keys.slice(0, 200)) await client.set(key, `c:${key}`);
      for (const key of keys.slice(0, 200)) assert.equal(await client.get(key), `c:${key}`);
    } finally {
      client.disconnect();
    }
  });

  test("two nodes down: the shards that held both answer CLUSTERDOWN at once, the others keep serving", async () => {
    await cluster.kill(1);
    await cluster.kill(2);
    // Shards holding both 1 and 2 lose their majority; the others keep two of three.
    const lost = [1, 2, 3, 4].filter((s) => placement.replicasOf(s).filter((id) => id <= 2).length >= 2);
    assert.ok(lost.length > 0 && lost.length < 4, `lost shards ${lost.join(",")}`);
    const survivor = new Redis(cluster.respPort(3), { maxRetriesPerRequest: 0, retryStrategy: () => null });
    try {
      // Node liveness notices within an election timeout (1 s by default) plus a ping.
      let down = false;
      for (let attempt = 0; attempt < 50 && !down; attempt++) {
        const key = keys.find((k) => lost.includes(shardOf(k))) as string;
        down = await survivor.get(key).then(
          () => false,
          (error: Error) => /^CLUSTERDOWN .*shard \d+ has lost a majority/.test(error.message),
        );
        if (!down) await sleep(200);
      }
      assert.ok(down, "a lost shard's key answers CLUSTERDOWN");
      for (const key of keys.filter((k) => lost.includes(shardOf(k))).slice(0, 20)) {
        const started = Date.now();
        await assert.rejects(survivor.set(key, "x"), /^ReplyError: CLUSTERDOWN/);
        assert.ok(Date.now() - started < 1_000, "refused at once, not after the request timeout");
      }
      // The serving shards read and write (a shard whose leader died elects another first).
      const serving = keys.filter((k) => !lost.includes(shardOf(k))).slice(0, 100);
      for (const key of serving) {
        let written = false;
        for (let attempt = 0; attempt < 50 && !written; attempt++) {
          written = await survivor.set(key, `after:${key}`).then(
            () => true,
            () => false,
          );
          if (!written) await sleep(200);
        }
        assert.ok(written, `${key} (shard ${shardOf(key)}) is written with two nodes down`);
        assert.equal(await survivor.get(key), `after:${key}`);
      }
      // CLUSTER SLOTS leaves out the lost shards' ranges (nobody serves them), so a Redis Cluster client that maps
      // the cluster now still reaches every serving shard.
      const slots = (await survivor.call("CLUSTER", "SLOTS")) as [number, number][];
      const mapped = new Set(slots.map(([from]) => map.shardOf(from)));
      assert.deepEqual(
        [...mapped].sort(),
        [1, 2, 3, 4].filter((s) => !lost.includes(s)),
      );
      const late = new Cluster(
        [3, 4].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
        { redisOptions: { maxRetriesPerRequest: 3 } },
      );
      try {
        for (const key of serving.slice(0, 20)) assert.equal(await late.get(key), `after:${key}`);
      } finally {
        late.disconnect();
      }
      const info = (await survivor.call("CLUSTER", "INFO")) as string;
      assert.match(info, /cluster_state:ok/, "ok while shards serve (Redis's cluster-require-full-coverage no)");
      assert.match(info, new RegExp(`cluster_slots_fail:${lost.length * 4096}`));
      assert.match(info, new RegExp(`cluster_slots_ok:${(4 - lost.length) * 4096}`));
      const http = await fetch(`${cluster.url(4)}/v1/kv/${keys.find((k) => lost.includes(shardOf(k)))}`);
      assert.equal(http.status, 503);
      assert.equal(((await http.json()) as { code: string }).code, "CLUSTER_DOWN");
      // The dashboard's banner names the shards that lost quorum, not the whole cluster.
      if (existsSync(CHROMIUM)) {
        const { chromium } = await import("playwright-core");
        const browser = await chromium.launch({
          executablePath: CHROMIUM,
          args: ["--headless", "--no-sandbox", "--disable-gpu"],
        });
        try {
          const page = await browser.newPage();
          await page.goto(`${cluster.url(3)}/`);
          const banner = page.locator("#quorum-banner:not([hidden])");
          await banner.waitFor({ timeout: 15_000 });
          const text = (await banner.textContent()) ?? "";
          assert.match(text, new RegExp(`^Quorum lost in shards? ${lost.join(".*")}`), text);
          assert.match(text, new RegExp(`The other ${4 - lost.length} shards? serves?\\.`), text);
        } finally {
          await browser.close();
        }
      }
    } finally {
      survivor.disconnect();
    }
    // Back again: every shard serves, and every acknowledged write is there.
    await cluster.startNode(1);
    await cluster.startNode(2);
    const client = new Redis(cluster.respPort(1), { maxRetriesPerRequest: 1 });
    try {
      let dbsize = 0;
      for (let attempt = 0; attempt < 100; attempt++) {
        dbsize = await client.dbsize().catch(() => 0);
        if (dbsize === keys.length + watched.length) break;
        await sleep(200);
      }
      assert.equal(dbsize, keys.length + watched.length);
      const serving = keys.filter((k) => !lost.includes(shardOf(k))).slice(0, 100);
      for (const key of serving) assert.equal(await client.get(key), `after:${key}`);
      const lostKey = keys.find((k) => lost.includes(shardOf(k))) as string;
      assert.equal(await client.get(lostKey), `c:${lostKey}`);
    } finally {
      client.disconnect();
    }
  });
});

/** Reads an SSE response until `enough` holds for what arrived (or 10 s pass), then cancels it. */
async function readUntil(response: Response, enough: (body: string) => boolean): Promise<string> {
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let body = "";
  const deadline = Date.now() + 10_000;
  try {
    while (!enough(body) && Date.now() < deadline) {
      const chunk = await reader.read();
      if (chunk.done) break;
      body += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return body;
}
