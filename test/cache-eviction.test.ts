/**
 * End-to-end: cache mode (`--mode cache`, node/eviction/). A node filled past `maxmemory` under each of Redis's
 * eviction policies keeps what the policy says it keeps — recently used (LRU), frequently used (LFU), keys without
 * a TTL (volatile-*), the latest expiries (volatile-ttl) — and its data stays under the limit; `noeviction` (and a
 * volatile policy with nothing volatile left) answers OOM. On three nodes the leader's evictions are replicated:
 * every replica holds the same keys.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { eventually, ProcessCluster } from "./support/process-cluster.js";

/** With 200-byte values and short keys, about 700 keys fit (key + value + 64 bytes each: memory-estimate.ts). */
const MAXMEMORY = 200_000;
const VALUE = "v".repeat(200);
const OOM = /OOM command not allowed when used memory > 'maxmemory'\.$/;

async function usedMemory(redis: Redis): Promise<number> {
  const info = await redis.info("memory");
  const match = /used_memory:(\d+)/.exec(info);
  assert.ok(match !== null, info);
  return Number(match[1]);
}

async function evictedKeys(redis: Redis): Promise<number> {
  return Number(/evicted_keys:(\d+)/.exec(await redis.info("stats"))?.[1]);
}

/** Writes `keys` in pipelined batches, recording the highest used_memory seen after each batch. */
async function fill(redis: Redis, keys: readonly string[], ttlSeconds?: (i: number) => number): Promise<number> {
  let peak = 0;
  for (let start = 0; start < keys.length; start += 50) {
    const pipeline = redis.pipeline();
    keys.slice(start, start + 50).forEach((key, j) => {
      const ttl = ttlSeconds?.(start + j);
      if (ttl === undefined) pipeline.set(key, VALUE);
      else pipeline.set(key, VALUE, "EX", ttl);
    });
    const results = (await pipeline.exec()) ?? [];
    for (const [error] of results) if (error !== null) throw error;
    peak = Math.max(peak, await usedMemory(redis));
  }
  return peak;
}

/** Waits until the evictors have brought the data under the limit, and returns the keys left. */
async function settled(redis: Redis): Promise<Set<string>> {
  await eventually(
    "the data under maxmemory",
    async () => ((await usedMemory(redis)) <= MAXMEMORY ? true : undefined),
    10_000,
  );
  return new Set(await redis.keys("*"));
}

const range = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);
const present = (keys: Set<string>, wanted: readonly string[]): number => wanted.filter((key) => keys.has(key)).length;

describe("cache mode on one node: each eviction policy keeps what it promises", () => {
  let cluster: ProcessCluster;
  let redis: Redis;

  before(async () => {
    cluster = await ProcessCluster.start({
      nodes: 1,
      extraArgs: ["--mode", "cache", "--maxmemory", String(MAXMEMORY)],
    });
    await cluster.waitForLeader();
    redis = new Redis({ port: cluster.respPort(1), lazyConnect: true, maxRetriesPerRequest: 0 });
    await redis.connect();
  });

  after(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  async function usePolicy(policy: string): Promise<void> {
    await redis.flushall();
    await redis.config("SET", "maxmemory-policy", policy);
    assert.deepEqual(await redis.config("GET", "maxmemory-policy"), ["maxmemory-policy", policy]);
  }

  test("cache mode starts with allkeys-lru, the given maxmemory and fsync never", async () => {
    assert.deepEqual(await redis.config("GET", "maxmemory*"), [
      "maxmemory",
      String(MAXMEMORY),
      "maxmemory-policy",
      "allkeys-lru",
      "maxmemory-samples",
      "5",
    ]);
    assert.match(await redis.info("persistence"), /shoal_fsync:never/);
  });

  test("CONFIG SET refuses bad values and unknown parameters, all or nothing", async () => {
    await assert.rejects(redis.config("SET", "maxmemory-policy", "lru"), /maxmemory-policy must be one of/);
    await assert.rejects(redis.config("SET", "maxmemory", "12zz"), /maxmemory must be a size/);
    await assert.rejects(redis.config("SET", "maxmemory-samples", "0"), /1 to 64/);
    await assert.rejects(redis.config("SET", "maxmemory", "1mb", "appendonly", "yes"), /Unknown option/);
    await assert.rejects(redis.config("SET", "maxmemory", "1mb", "maxmemory-policy", "nope"), /maxmemory-policy/);
    assert.deepEqual(await redis.config("GET", "maxmemory"), ["maxmemory", String(MAXMEMORY)], "nothing was set");
  });

  test("noeviction: writes over the limit answer OOM; reads and deletes still work and make room", async () => {
    await usePolicy("noeviction");
    let refused: Error | undefined;
    let written = 0;
    for (; written < 5_000 && refused === undefined; written++) {
      await redis.set(`k${written}`, VALUE).catch((error: Error) => {
        refused = error;
      });
    }
    assert.ok(refused !== undefined, "a write was refused");
    assert.match(refused.message, OOM);
    assert.ok(written > 500, `${written} writes before the limit`);
    assert.ok((await usedMemory(redis)) <= MAXMEMORY + 300, "at most one write past the limit");
    assert.equal(await redis.get("k0"), VALUE, "reads work over the limit");
    await assert.rejects(redis.append("k0", "x"), OOM);
    const put = await fetch(`${cluster.url(1)}/v1/kv/over-http`, { method: "PUT", body: VALUE });
    assert.equal(put.status, 507);
    assert.equal(((await put.json()) as { code: string }).code, "OUT_OF_MEMORY");
    assert.equal(await redis.del("k0", "k1", "k2"), 3, "DEL is not refused");
    assert.equal(await redis.set("after-delete", VALUE), "OK", "a delete made room");
    assert.equal(await evictedKeys(redis), 0);
  });

  test("allkeys-lru keeps the keys read recently, however old their writes", async () => {
    await usePolicy("allkeys-lru");
    const hot = range("hot", 150);
    await fill(redis, hot);
    let peak = 0;
    for (const batch of chunks(range("cold", 2_000), 100)) {
      peak = Math.max(peak, await fill(redis, batch));
      await redis.mget(hot); // the hot keys are used between every batch of new writes
    }
    const kept = await settled(redis);
    assert.ok(present(kept, hot) >= hot.length * 0.9, `${present(kept, hot)} of ${hot.length} hot keys kept`);
    assert.ok(kept.size < 900, `${kept.size} keys left`);
    assert.ok(peak <= MAXMEMORY * 1.25, `peak ${peak}`);
    assert.ok((await evictedKeys(redis)) > 1_000);
  });

  test("allkeys-lfu keeps the keys read often, though they are the oldest", async () => {
    await usePolicy("allkeys-lfu");
    const hot = range("freq", 150);
    await fill(redis, hot);
    for (let i = 0; i < 20; i++) await redis.mget(hot);
    // Written after the hot keys and never read: LRU would keep these and drop the hot ones.
    await fill(redis, range("once", 2_000));
    const kept = await settled(redis);
    assert.ok(present(kept, hot) >= hot.length * 0.9, `${present(kept, hot)} of ${hot.length} frequent keys kept`);
  });

  for (const policy of ["volatile-lru", "volatile-lfu", "volatile-random"]) {
    test(`${policy} evicts only keys with a TTL, and answers OOM when none is left`, async () => {
      await usePolicy(policy);
      const persistent = range("keep", 300);
      await fill(redis, persistent);
      const volatile = range("temp", 1_500);
      await fill(redis, volatile, () => 3_600);
      const kept = await settled(redis);
      assert.equal(present(kept, persistent), persistent.length, "every key without a TTL kept");
      assert.ok(present(kept, volatile) < 600, `${present(kept, volatile)} volatile keys left`);
      // Only keys without a TTL from here: once the volatile ones are gone, nothing may be evicted.
      let refused: Error | undefined;
      for (let i = 0; i < 3_000 && refused === undefined; i++) {
        await redis.set(`more${i}`, VALUE).catch((error: Error) => {
          refused = error;
        });
      }
      assert.match(String(refused?.message), OOM);
      assert.equal(present(new Set(await redis.keys("keep*")), persistent), persistent.length);
    });
  }

  test("volatile-ttl evicts the keys that expire soonest first", async () => {
    await usePolicy("volatile-ttl");
    const keys = range("ttl", 1_500);
    await fill(redis, keys, (i) => 1_000 + i); // later keys expire later
    const kept = await settled(redis);
    const indexes = keys.map((key, i) => (kept.has(key) ? i : -1)).filter((i) => i >= 0);
    const evicted = keys.map((key, i) => (kept.has(key) ? -1 : i)).filter((i) => i >= 0);
    assert.ok(evicted.length > 500, `${evicted.length} evicted`);
    assert.ok(Math.max(...evicted) < Math.min(...indexes), "every key kept expires after every key evicted");
  });

  test("allkeys-random evicts from old and new keys alike", async () => {
    await usePolicy("allkeys-random");
    const keys = range("rnd", 2_000);
    await fill(redis, keys);
    const kept = await settled(redis);
    const firstHalf = present(kept, keys.slice(0, 1_000));
    assert.ok(firstHalf > 50, `${firstHalf} of the first 1,000 keys kept`);
    assert.ok(kept.size < 900);
  });
});

describe("cache mode on three nodes: the leader's evictions reach every replica", () => {
  let cluster: ProcessCluster;

  before(async () => {
    cluster = await ProcessCluster.start({
      nodes: 3,
      extraArgs: ["--mode", "cache", "--maxmemory", String(MAXMEMORY), "--maxmemory-policy", "allkeys-lru"],
    });
    await cluster.waitForLeader();
  });

  after(async () => cluster?.stop());

  test("every node holds the same keys, under the limit", async () => {
    const clients = [1, 2, 3].map((id) => new Redis({ port: cluster.respPort(id), maxRetriesPerRequest: 3 }));
    try {
      await fill(clients[0] as Redis, range("r", 2_000));
      const sets = await Promise.all(clients.map((client) => settled(client)));
      const [first, ...rest] = sets.map((keys) => [...keys].sort());
      for (const other of rest) assert.deepEqual(other, first);
      assert.ok((first?.length ?? 0) > 300 && (first?.length ?? 0) < 900, `${first?.length} keys`);
      const evicted = await Promise.all(clients.map((client) => evictedKeys(client)));
      assert.ok(
        evicted.reduce((sum, n) => sum + n, 0) >= 2_000 - (first?.length ?? 0),
        `evicted ${evicted.join(", ")}`,
      );
    } finally {
      for (const client of clients) client.disconnect();
    }
  });
});

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
