/**
 * End-to-end: a 3-node cluster of 3 shards (`--shards 3`, child processes). Each shard is a Raft group on every
 * node, its leadership handed to a different node (node/leader-balancer.ts); keys go to the shard of their hash
 * slot, commands over several shards answer CROSSSLOT, and the commands without a key see every shard.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Cluster, Redis } from "ioredis";
import { ShoalClient } from "../src/client/shoal-client.js";
import type { WatchEvent } from "../src/client/types.js";
import { hashSlot } from "../src/slots/hash-slot.js";
import { SlotMap } from "../src/slots/slot-map.js";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

/** Reads a watch's Server-Sent Events: the change events, and the id of the last one that carried an id. */
class SseReader {
  lastId = "";
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buffer = "";

  constructor(response: Response) {
    assert.equal(response.status, 200);
    this.#reader = (response.body as ReadableStream<Uint8Array>).getReader();
  }

  async events(count: number): Promise<{ key: string; revision: number; shard?: number }[]> {
    const out: { key: string; revision: number; shard?: number }[] = [];
    const decoder = new TextDecoder();
    while (out.length < count) {
      const blocks = this.#buffer.split("\n\n");
      this.#buffer = blocks.pop() ?? "";
      for (const block of blocks) {
        for (const line of block.split("\n")) {
          if (line.startsWith("data: ")) out.push(JSON.parse(line.slice(6)) as { key: string; revision: number });
          if (line.startsWith("id: ")) this.lastId = line.slice(4);
        }
      }
      if (out.length >= count) break;
      const chunk = await this.#reader.read();
      if (chunk.done) throw new Error(`the stream ended after ${out.length} events`);
      this.#buffer += decoder.decode(chunk.value, { stream: true });
    }
    return out;
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

interface ShardView {
  readonly id: number;
  readonly slots: [number, number][];
  readonly leader: number;
  readonly replicas: number[];
  readonly lag?: Record<string, number>;
}

describe("a 3-node cluster of 3 shards", { timeout: 240_000 }, () => {
  let cluster: ProcessCluster;
  const map = new SlotMap(3);
  const shardOf = (key: string): number => map.shardOf(hashSlot(Buffer.from(key)));

  before(async () => {
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--shards", "3"] });
    await cluster.waitForLeader(30_000);
  });
  after(async () => {
    await cluster?.stop();
  });

  const shardViews = async (id: number): Promise<ShardView[]> =>
    ((await cluster.cluster(id)) as unknown as { shards: ShardView[] }).shards;

  test("each shard owns a third of the slots, and the three leaders settle on three different nodes", async () => {
    let views: ShardView[] = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      views = await shardViews(1);
      if (new Set(views.map((v) => v.leader)).size === 3 && views.every((v) => v.leader > 0)) break;
      await sleep(200);
    }
    assert.deepEqual(
      views.map((v) => v.slots),
      [[[0, 5460]], [[5461, 10922]], [[10923, 16383]]],
    );
    assert.deepEqual(
      views.map((v) => v.leader),
      [1, 2, 3],
      "shard s is led by node s once every node is caught up",
    );
    for (const view of views) assert.deepEqual([view.leader, ...view.replicas].sort(), [1, 2, 3]);
    for (const id of [1, 2, 3]) {
      const ready = await fetch(`${cluster.url(id)}/readyz`);
      assert.equal(ready.status, 200, `node ${id}: ${await ready.text()}`);
    }
    // /metrics has a series per shard: across the nodes, each shard has exactly one leader.
    const leads = new Map<string, number>();
    for (const id of [1, 2, 3]) {
      const text = await (await fetch(`${cluster.url(id)}/metrics`)).text();
      for (const [, shard, value] of text.matchAll(/^shoal_shard_is_leader\{shard="(\d+)"[^}]*\} (\d)$/gm)) {
        leads.set(shard as string, (leads.get(shard as string) ?? 0) + Number(value));
      }
      const perShard = [...text.matchAll(/^shoal_shard_keys\{shard="\d+"[^}]*\} (\d+)$/gm)].map(([, n]) => Number(n));
      assert.equal(perShard.length, 3);
      const total = Number(/^shoal_store_keys\{[^}]*\} (\d+)$/m.exec(text)?.[1]);
      assert.equal(
        total,
        perShard.reduce((a, b) => a + b, 0),
        "the node's keys are its shards' keys",
      );
    }
    assert.deepEqual(Object.fromEntries(leads), { 1: 1, 2: 1, 3: 1 });
    // Each shard's leader reports its replicas' lag, whichever node is asked.
    for (const view of await shardViews(2)) {
      assert.deepEqual(Object.keys(view.lag ?? {}).sort(), view.replicas.map(String), `shard ${view.id}`);
      assert.ok(Object.values(view.lag ?? {}).every((lag) => Number.isSafeInteger(lag) && lag >= 0));
    }
  });

  test("keys of every shard are written and read through any node; multi-key commands stay within a shard", async () => {
    const clients = [1, 2, 3].map((id) => new Redis(cluster.respPort(id), { maxRetriesPerRequest: 1 }));
    const [c1, c2, c3] = clients as [Redis, Redis, Redis];
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `shard:key:${i}`);
      assert.deepEqual(new Set(keys.map(shardOf)), new Set([1, 2, 3]), "the keys cover every shard");
      const pipeline = c1.pipeline();
      for (const key of keys) pipeline.set(key, `v:${key}`);
      pipeline.incr("{shard}:counter");
      const results = await pipeline.exec();
      assert.ok(results?.every(([error]) => error === null));
      for (const client of clients) {
        assert.equal(await client.get(keys[7] as string), `v:${keys[7]}`);
        assert.equal(await client.dbsize(), keys.length + 1);
      }
      // Each key lives in its own shard's store: CLUSTER COUNTKEYSINSLOT reads the store of the slot's shard.
      for (const shard of [1, 2, 3]) {
        const key = keys.find((k) => shardOf(k) === shard) as string;
        const count = await c1.call("CLUSTER", "COUNTKEYSINSLOT", hashSlot(Buffer.from(key)));
        assert.ok((count as number) >= 1, `shard ${shard}'s store holds ${key}`);
      }
      // Keys of one shard (a hash tag), in one command and in a transaction.
      assert.equal(await c2.mset("{user1}:a", "1", "{user1}:b", "2"), "OK");
      assert.deepEqual(await c3.mget("{user1}:a", "{user1}:b"), ["1", "2"]);
      const multi = await c1.multi().incr("{user1}:a").get("{user1}:b").exec();
      assert.deepEqual(
        multi?.map(([, value]) => value),
        [2, "2"],
      );
      // Keys of different shards: refused as Redis Cluster refuses keys of different slots.
      const [a, b] = [keys.find((k) => shardOf(k) === 1), keys.find((k) => shardOf(k) === 3)] as [string, string];
      await assert.rejects(c1.mset(a, "x", b, "y"), /CROSSSLOT/);
      await assert.rejects(c1.multi().set(a, "x").set(b, "y").exec(), /CROSSSLOT/);
      assert.equal(await c1.get(a), `v:${a}`, "the refused write changed nothing");
      // The keyless commands see every shard.
      const all = (await c3.keys("shard:key:*")) ?? [];
      assert.deepEqual([...all].sort(), [...keys].sort());
      let cursor = "0";
      const scanned: string[] = [];
      do {
        const [next, batch] = (await c2.scan(cursor, "MATCH", "shard:key:*", "COUNT", 50)) as [string, string[]];
        scanned.push(...batch);
        cursor = next;
      } while (cursor !== "0");
      assert.deepEqual(scanned.sort(), [...keys].sort());
      const stored = new Set([...keys, "{shard}:counter", "{user1}:a", "{user1}:b"]);
      for (let i = 0; i < 5; i++) assert.ok(stored.has((await c1.randomkey()) as string));
      assert.equal(await c2.flushall(), "OK");
      for (const client of clients) assert.equal(await client.dbsize(), 0);
    } finally {
      for (const client of clients) client.disconnect();
    }
  });

  test("CLUSTER SLOTS names each shard's leader first, and an ioredis Cluster client spreads keys over them", async () => {
    const probe = new Redis(cluster.respPort(2), { maxRetriesPerRequest: 1 });
    try {
      const slots = (await probe.call("CLUSTER", "SLOTS")) as [number, number, [string, number, string]][];
      assert.deepEqual(
        slots.map(([from, to, master]) => [from, to, master[1]]),
        [
          [0, 5460, cluster.respPort(1)],
          [5461, 10922, cluster.respPort(2)],
          [10923, 16383, cluster.respPort(3)],
        ],
      );
      const info = String(await probe.call("CLUSTER", "INFO"));
      assert.match(info, /cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_slots_ok:16384\r\n/);
      assert.match(info, /cluster_size:3\r\n/);
    } finally {
      probe.disconnect();
    }
    const client = new Cluster(
      [1, 2, 3].map((id) => ({ host: "127.0.0.1", port: cluster.respPort(id) })),
      { redisOptions: { maxRetriesPerRequest: 3 } },
    );
    try {
      const keys = Array.from({ length: 1000 }, (_, i) => `cluster:${i}`);
      await Promise.all(keys.map((key) => client.set(key, key)));
      const values = await Promise.all(keys.map((key) => client.get(key)));
      assert.deepEqual(values, keys);
      assert.deepEqual(await client.mget("{tag}:1", "{tag}:2"), [null, null]);
      const masters = new Set(client.nodes("master").map((node) => node.options.port));
      assert.equal(masters.size, 3, "the client talks to three masters, one per shard");
    } finally {
      client.disconnect();
    }
  });

  test("HTTP: keys route to their shard from any node, ranges merge the shards, a txn stays within one shard", async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `http/${String(i).padStart(2, "0")}`);
    assert.deepEqual(new Set(keys.map(shardOf)), new Set([1, 2, 3]));
    for (const [i, key] of keys.entries()) {
      const put = await fetch(`${cluster.url((i % 3) + 1)}/v1/kv/${key}`, { method: "PUT", body: `v${i}` });
      assert.equal(put.status, 200, await put.text());
    }
    for (const [i, key] of keys.entries()) {
      const got = await fetch(`${cluster.url(((i + 1) % 3) + 1)}/v1/kv/${key}`);
      assert.equal(await got.text(), `v${i}`);
    }
    const listed: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = (await (
        await fetch(`${cluster.url(2)}/v1/kv?prefix=http/&limit=7${after === undefined ? "" : `&after=${after}`}`)
      ).json()) as { kvs: { key: string }[]; more: boolean; next?: string };
      listed.push(...page.kvs.map((kv) => kv.key));
      if (!page.more) break;
      after = page.next;
    }
    assert.deepEqual(listed, keys, "every shard's keys, once each, in key order");
    const [a, b] = [keys.find((k) => shardOf(k) === 1), keys.find((k) => shardOf(k) === 2)] as [string, string];
    const txn = (ops: string[]) =>
      fetch(`${cluster.url(1)}/v1/txn`, {
        method: "POST",
        body: JSON.stringify({ success: ops.map((key) => ({ op: "put", key, value: "t" })) }),
      });
    const across = await txn([a, b]);
    assert.equal(across.status, 409);
    const refusal = (await across.json()) as { code: string; message: string };
    assert.equal(refusal.code, "CROSS_SHARD");
    assert.ok(refusal.message.includes(`"${a}" in shard 1 and "${b}" in shard 2`), refusal.message);
    assert.equal((await txn(["{t}x", "{t}y"])).status, 200);
    // A prefix with a hash tag lies in one shard: its watch follows that shard alone, with plain revisions.
    const watch = await fetch(`${cluster.url(3)}/v1/watch?prefix={t}`);
    assert.equal(watch.status, 200);
    assert.equal(watch.headers.get("x-shoal-shards"), String(shardOf("{t}")));
    const reader = (watch.body as ReadableStream<Uint8Array>).getReader();
    await fetch(`${cluster.url(2)}/v1/kv/{t}z`, { method: "PUT", body: "watched" });
    let text = "";
    while (!text.includes("{t}z")) text += new TextDecoder().decode((await reader.read()).value);
    await reader.cancel();
    assert.doesNotMatch(text, /"shard"/);
  });

  test("HTTP: a watch over every shard merges their events, each once, and resumes from its cursor on any node", async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `w/${i}`);
    assert.deepEqual(new Set(keys.map(shardOf)), new Set([1, 2, 3]));
    const watch = await fetch(`${cluster.url(2)}/v1/watch?prefix=w/`);
    assert.equal(watch.status, 200);
    assert.equal(watch.headers.get("x-shoal-shards"), "1,2,3");
    assert.match(watch.headers.get("x-shoal-cursor") ?? "", /^\d+\.\d+\.\d+$/);
    const stream = new SseReader(watch);
    for (const key of keys) await fetch(`${cluster.url(1)}/v1/kv/${key}`, { method: "PUT", body: key });
    const first = await stream.events(keys.length);
    assert.deepEqual(first.map((e) => e.key).sort(), [...keys].sort(), "every key once");
    for (const event of first) assert.equal(event.shard, shardOf(event.key), `${event.key} is tagged with its shard`);
    const cursor = stream.lastId;
    assert.match(cursor, /^\d+\.\d+\.\d+$/);
    await stream.cancel();

    const later = Array.from({ length: 12 }, (_, i) => `w/later/${i}`);
    for (const key of later) await fetch(`${cluster.url(3)}/v1/kv/${key}`, { method: "PUT", body: key });
    const resumed = new SseReader(await fetch(`${cluster.url(3)}/v1/watch?prefix=w/&cursor=${cursor}`));
    const again = await resumed.events(later.length);
    assert.deepEqual(again.map((e) => e.key).sort(), [...later].sort(), "only what came after the cursor");
    await resumed.cancel();
    // EventSource's way: the same cursor as Last-Event-ID.
    const byHeader = new SseReader(
      await fetch(`${cluster.url(1)}/v1/watch?prefix=w/`, { headers: { "last-event-id": cursor } }),
    );
    assert.deepEqual((await byHeader.events(later.length)).map((e) => e.key).sort(), [...later].sort());
    await byHeader.cancel();

    // from_revision=N starts every shard at its own revision N. (Not 1: the FLUSHALL above restarted each shard's
    // history. The highest start of any shard is held by all, each having started at or after its flush.)
    const from = Math.max(...(watch.headers.get("x-shoal-cursor") ?? "").split(".").map(Number)) + 1;
    const replay = new SseReader(await fetch(`${cluster.url(1)}/v1/watch?prefix=w/&from_revision=${from}`));
    const expected = [...first, ...again].filter((event) => event.revision >= from).map((event) => event.key);
    const replayed = await replay.events(expected.length);
    assert.deepEqual(replayed.map((e) => e.key).sort(), expected.sort());
    assert.ok(replayed.every((event) => event.revision >= from));
    await replay.cancel();
    const shortCursor = await fetch(`${cluster.url(1)}/v1/watch?prefix=w/&cursor=3.4`);
    assert.equal(shortCursor.status, 400);
    assert.match(((await shortCursor.json()) as { message: string }).message, /names 2 shards; this cluster has 3/);
    // A cursor of as many shards as a node may host passes the schema and is judged by its count.
    const long = Array.from({ length: 300 }, () => "1").join(".");
    const longCursor = await fetch(`${cluster.url(1)}/v1/watch?prefix=w/&cursor=${long}`);
    assert.equal(longCursor.status, 400);
    assert.match(((await longCursor.json()) as { message: string }).message, /names 300 shards; this cluster has 3/);
  });

  test("the TS client's watch follows every shard and resumes without a repeat when its node stops", async () => {
    const client = new ShoalClient({ endpoints: [cluster.url(2), cluster.url(1)] });
    const stop = new AbortController();
    const reconnects: string[] = [];
    const seen: WatchEvent[] = [];
    const events = client.watch({
      prefix: "c/",
      signal: stop.signal,
      onReconnect: (_revision, _reason, cursor) => reconnects.push(cursor ?? "none"),
    });
    const iterator = events[Symbol.asyncIterator]();
    const keys = Array.from({ length: 40 }, (_, i) => `c/${i}`);
    const reading = (async () => {
      while (seen.length < keys.length) {
        const next = await iterator.next();
        if (next.done === true) break;
        seen.push(next.value);
      }
    })();
    await sleep(300); // the stream is open
    for (const key of keys.slice(0, 20)) await fetch(`${cluster.url(1)}/v1/kv/${key}`, { method: "PUT", body: key });
    while (seen.length < 20) await sleep(20);
    await cluster.kill(2); // the client's node: it reconnects to node 1 and resumes from its cursor
    for (const key of keys.slice(20)) await fetch(`${cluster.url(1)}/v1/kv/${key}`, { method: "PUT", body: key });
    await reading;
    stop.abort();
    assert.deepEqual(seen.map((e) => e.key).sort(), [...keys].sort(), "each key once, none lost");
    assert.ok(reconnects.length >= 1, "the client said it resumed");
    for (const cursor of reconnects) assert.match(cursor, /^\d+\.\d+\.\d+$/, "from a cursor over the 3 shards");
    await cluster.startNode(2);
    await cluster.waitForLeader(30_000);
  });

  test("the TS client sends a key's requests to the leader of the key's shard", async () => {
    const client = new ShoalClient({ endpoints: [cluster.url(1)] });
    let views: ShardView[] = [];
    for (let attempt = 0; attempt < 100; attempt++) {
      views = await shardViews(1);
      if (views.every((view) => view.leader > 0)) break;
      await sleep(100);
    }
    await client.cluster(); // learns the members and where each shard's leader is
    for (const view of views) {
      const key = Array.from({ length: 100 }, (_, i) => `routed:${i}`).find((k) => shardOf(k) === view.id) as string;
      await client.put(key, "v");
      assert.equal(client.endpoints()[0], cluster.url(view.leader), `shard ${view.id}'s write answered by its leader`);
      assert.equal(new TextDecoder().decode((await client.get(key))?.value), "v");
    }
  });

  test("a node restarted with another shard count refuses to start, with a one-line error", async () => {
    await cluster.kill(3);
    await cluster.startNode(3, ["--shards", "2"]).catch(() => undefined);
    const { code, stderr } = await cluster.exited(3);
    assert.notEqual(code, 0);
    assert.match(stderr, /started with --shards 2: start every member with --shards 3/);
  });
});
