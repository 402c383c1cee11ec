/**
 * "No client input can stop a node", end to end on a real 3-node cluster (child processes, real TCP, WAL and
 * LMDB): over RESP (ioredis) and HTTP, keys, values and requests over every bound get a clear error — the same
 * bound and text on both front ends — while a value of exactly the limit is stored and read back from another
 * node. Then every node is killed with -9 and restarted from its log: nothing in it stops a node, and the
 * cluster serves again.
 */
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import type { Redis } from "ioredis";
import { assertReplyError, connectIoredis, disconnectAll } from "./redis/ioredis-client.js";
import { ProcessCluster, sleep } from "./support/process-cluster.js";

const KEY_MAX = 1024;
const VALUE_MAX = 16 * 1024 * 1024;
const ENTRY_MAX = 17 * 1024 * 1024;
const KEY_ERROR = `key is longer than ${KEY_MAX} bytes (shoal-key-max-bytes)`;
const VALUE_ERROR = `value is longer than ${VALUE_MAX} bytes (shoal-value-max-bytes)`;
const ENTRY_ERROR = `request is larger than ${ENTRY_MAX} bytes, the replicated entry limit (shoal-entry-max-bytes)`;
const NODE_IDS = [1, 2, 3];

const longKey = (length: number): string => "k".repeat(length);

describe("the store's bounds on a 3-node cluster", { timeout: 600_000 }, () => {
  let cluster: ProcessCluster;
  let clients: Redis[] = [];
  const resp = (id: number): Redis => clients[id - 1] as Redis;

  before(async () => {
    // A 16 MiB entry keeps each node's event loop busy while it is parsed, encoded, fsynced and applied: on a
    // loaded 2-core machine for seconds, which with the default 0.5-1 s election timeout deposes the leader
    // and drops the entry (issue #10, section 2, is about such stalls). This test is about the bounds, so its
    // nodes wait 3-6 s before an election.
    cluster = await ProcessCluster.start({ nodes: 3, extraArgs: ["--election-ticks", "60"] });
    await cluster.waitForLeader(30_000);
    clients = NODE_IDS.map((id) => connectIoredis(cluster.respPort(id)));
    await Promise.all(clients.map((client) => client.ping()));
  });
  after(async () => {
    disconnectAll(clients);
    await cluster?.stop();
  });

  /** Every node is alive, answers both front ends, and agrees on a write made now. */
  async function assertEveryNodeServes(tag: string): Promise<void> {
    await resp(1).set(`alive:${tag}`, tag);
    for (const id of NODE_IDS) {
      assert.equal(await resp(id).get(`alive:${tag}`), tag, `node ${id} over RESP`);
      const ready = await fetch(`${cluster.url(id)}/readyz`);
      assert.equal(ready.status, 200, `node ${id} ready`);
    }
  }

  test("RESP: over-long keys get the key error in every command and position, reads included", async () => {
    const c = resp(2);
    for (const length of [KEY_MAX + 1, 1979, 4096, 70_000]) {
      const key = longKey(length);
      await assertReplyError(c.set(key, "v"), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.get(key), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.del("a", key), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.exists(key), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.mset("a", "1", key, "2"), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.hset(key, "f", "v"), `ERR ${KEY_ERROR}`);
      await assertReplyError(c.watch(key), `ERR ${KEY_ERROR}`);
      const multi = await c
        .multi()
        .set("m", "1")
        .get(key)
        .exec()
        .catch((error: Error) => error);
      assert.ok(multi instanceof Error && /EXECABORT/.test(multi.message), `MULTI with a ${length}-byte key`);
      assert.equal(await c.exists("a", "m"), 0, "nothing of the refused commands was written");
    }
    assert.equal(await c.set(longKey(KEY_MAX), "at the limit"), "OK");
    assert.equal(await resp(3).get(longKey(KEY_MAX)), "at the limit");
    await assertEveryNodeServes("keys");
  });

  test("RESP: a value of exactly 16 MiB is stored and read from another node; one byte more is refused", async () => {
    const value = Buffer.alloc(VALUE_MAX, 0x61);
    await storeEventually(
      () => resp(1).set("v16", value),
      async () => (await resp(3).strlen("v16")) === VALUE_MAX,
    );
    const read = await resp(3).getBuffer("v16");
    assert.ok(read?.equals(value));
    await assertReplyError(resp(2).set("v16+1", Buffer.alloc(VALUE_MAX + 1)), `ERR ${VALUE_ERROR}`);
    await assertReplyError(resp(2).append("v16", "x"), `ERR ${VALUE_ERROR}`);
    const half = Buffer.alloc(VALUE_MAX / 2 + 1);
    await assertReplyError(resp(2).mset("h1", half, "h2", half, "h3", half), `ERR ${ENTRY_ERROR}`);
    // A pipeline of big values is split into entries that each fit, never refused for its size as a whole.
    const sizes = [6, 6, 6, 6].map((mib, i) => mib * 1024 * 1024 + i);
    await storeEventually(
      async () => {
        const pipeline = resp(2).pipeline();
        for (const [i, size] of sizes.entries()) pipeline.set(`p${i}`, Buffer.alloc(size));
        for (const [error] of (await pipeline.exec()) ?? []) if (error !== null) throw error;
      },
      async () => (await Promise.all(sizes.map((_, i) => resp(1).strlen(`p${i}`)))).every((n, i) => n === sizes[i]),
    );
    await assertEveryNodeServes("values");
  });

  test("RESP: CONFIG GET reports the bounds", async () => {
    const config = (await resp(1).config("GET", "shoal-*")) as string[];
    assert.deepEqual(config, [
      "shoal-key-max-bytes",
      String(KEY_MAX),
      "shoal-value-max-bytes",
      String(VALUE_MAX),
      "shoal-entry-max-bytes",
      String(ENTRY_MAX),
    ]);
  });

  test("HTTP: over-long keys get 413 with the same error, on every route that takes a key", async () => {
    const base = cluster.url(3);
    const key = encodeURIComponent(longKey(4096));
    const cases: [string, string, string | undefined][] = [
      ["GET", `/v1/kv/${key}`, undefined],
      ["PUT", `/v1/kv/${key}`, "v"],
      ["DELETE", `/v1/kv/${key}`, undefined],
      ["GET", `/v1/kv?prefix=${key}`, undefined],
      ["GET", `/v1/kv?after=${key}`, undefined],
      ["GET", `/v1/watch?prefix=${key}`, undefined],
      ["POST", "/v1/txn", JSON.stringify({ success: [{ op: "get", key: longKey(KEY_MAX + 1) }] })],
      ["POST", "/v1/txn", JSON.stringify({ compare: [{ key: longKey(1979), target: "version", op: "==", value: 0 }] })],
    ];
    for (const [method, path, body] of cases) {
      const response = await fetch(`${base}${path}`, { method, ...(body === undefined ? {} : { body }) });
      assert.equal(response.status, 413, `${method} ${path.slice(0, 40)}`);
      const error = (await response.json()) as { code: string; message: string; limit: string };
      assert.deepEqual([error.code, error.message, error.limit], ["TOO_LARGE", KEY_ERROR, "shoal-key-max-bytes"]);
    }
    const atLimit = await fetch(`${base}/v1/kv/${longKey(KEY_MAX)}`);
    assert.equal(await atLimit.text(), "at the limit", "the key written over RESP at the limit");
  });

  test("HTTP: a 16 MiB value is stored; 16 MiB + 1 and far bigger bodies get a 413 JSON answer, not a reset", async () => {
    const base = cluster.url(1);
    await storeEventually(
      async () => {
        const put = await fetch(`${base}/v1/kv/h16`, { method: "PUT", body: Buffer.alloc(VALUE_MAX, 0x62) });
        const answer = await put.text();
        if (put.status !== 200) throw new Error(`HTTP ${put.status}: ${answer}`);
      },
      async () => (await (await fetch(`${cluster.url(2)}/v1/kv/h16`)).arrayBuffer()).byteLength === VALUE_MAX,
    );
    for (const size of [VALUE_MAX + 1, ENTRY_MAX + 1, 64 * 1024 * 1024]) {
      // fetch sends the whole body before it reads the answer: a server that cut the connection would fail it.
      const response = await fetch(`${base}/v1/kv/h-over`, { method: "PUT", body: Buffer.alloc(size) });
      assert.equal(response.status, 413, `${size} bytes`);
      assert.deepEqual(await response.json(), {
        code: "TOO_LARGE",
        message: VALUE_ERROR,
        limit: "shoal-value-max-bytes",
        limitBytes: VALUE_MAX,
      });
    }
    // Also node's own client, writing the body in chunks while the answer arrives.
    const status = await putWithNodeHttp(`${base}/v1/kv/h-over`, Buffer.alloc(VALUE_MAX + 1));
    assert.equal(status, 413);
    const txn = await fetch(`${base}/v1/txn`, {
      method: "POST",
      body: JSON.stringify({ success: [{ op: "put", key: "t", value: "x".repeat(ENTRY_MAX) }] }),
    });
    assert.equal(txn.status, 413);
    assert.equal(((await txn.json()) as { code: string }).code, "TOO_LARGE");
    assert.equal((await fetch(`${base}/v1/kv/h-over`)).status, 404, "nothing was written");
    await assertEveryNodeServes("http");
  });

  test("every node killed with -9 restarts from its log and serves: no entry in it stops a node", async () => {
    for (const id of NODE_IDS) await cluster.kill(id);
    disconnectAll(clients);
    for (const id of NODE_IDS) await cluster.startNode(id);
    await cluster.waitForLeader(30_000);
    clients = NODE_IDS.map((id) => connectIoredis(cluster.respPort(id)));
    assert.equal((await resp(2).getBuffer("v16"))?.byteLength, VALUE_MAX);
    assert.equal(await resp(3).get(longKey(KEY_MAX)), "at the limit");
    await assertEveryNodeServes("restarted");
  });
});

/**
 * Runs `write` until `stored()` holds. A big write on a loaded machine may time out (its outcome unknown) or be
 * dropped when leadership moves, and is then retried (writing the same value twice is harmless); those answers
 * are not what this test is about. Any other failure — a refusal of the value's size above all — fails it.
 */
async function storeEventually(write: () => Promise<unknown>, stored: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      await write();
    } catch (error) {
      if (!OUTCOME_UNKNOWN.test(String(error))) throw error;
    }
    for (const waitUntil = Date.now() + 10_000; Date.now() < waitUntil; await sleep(200)) {
      if (await stored().catch(() => false)) return;
    }
    if (Date.now() > deadline) throw new Error("the value was never stored");
  }
}

/** Answers that say a write did not happen now, or may yet: retried, never a refusal. */
const OUTCOME_UNKNOWN = /timed out|no response|outcome is unknown|TRYAGAIN|HTTP 50[34]|Connection is closed/;

/** PUT with node:http, the body written in 64 KiB chunks as fast as the socket takes them. */
function putWithNodeHttp(url: string, body: Buffer): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, { method: "PUT", headers: { "content-length": body.byteLength } }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    request.on("error", reject);
    for (let at = 0; at < body.byteLength; at += 64 * 1024) request.write(body.subarray(at, at + 64 * 1024));
    request.end();
  });
}
