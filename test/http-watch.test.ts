/**
 * Watches, readiness and the OpenAPI document against nodes running in this process (a small watch history,
 * so compaction is reachable): COMPACTED answers, resuming with Last-Event-ID, a txn's events at one revision,
 * a consumer that stops reading, shutdown with open streams, /readyz without a leader.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { FastifyInstance } from "fastify";
import pino from "pino";
import { createHttpServer } from "../src/http/server.js";
import { writeIdentity } from "../src/node/identity.js";
import { type NodeOptions, nodeDefaults } from "../src/node/node-options.js";
import { ShoalNode } from "../src/node/shoal-node.js";
import { freePort, sleep } from "./support/process-cluster.js";

const HISTORY_REVISIONS = 50;

async function startNode(dir: string, extra: Partial<NodeOptions> & { peers?: number } = {}) {
  const ports = await Promise.all(Array.from({ length: extra.peers ?? 1 }, () => freePort()));
  const members = new Map(ports.map((port, i) => [i + 1, { peer: `127.0.0.1:${port}`, http: "" }]));
  const node = await ShoalNode.start({
    ...nodeDefaults,
    id: 1,
    dataDir: dir,
    members,
    tickMs: 10,
    fsync: "never",
    watchHistoryRevisionsMax: HISTORY_REVISIONS,
    watchBufferBytesMax: 64 * 1024,
    logger: pino({ level: "silent" }),
    onFatal: (error) => {
      throw error;
    },
    ...extra,
  });
  const http = createHttpServer(node);
  await http.listen({ host: "127.0.0.1", port: 0 });
  const address = http.server.address();
  const url = `http://127.0.0.1:${typeof address === "object" && address !== null ? address.port : 0}`;
  return { node, http, url };
}

describe("watches on one node", { timeout: 60_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-http-watch-"));
  let node: ShoalNode;
  let http: FastifyInstance;
  let url: string;
  before(async () => {
    ({ node, http, url } = await startNode(dir));
    await waitReady(url);
  });
  after(async () => {
    await http?.close();
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("a compacted revision answers 410 COMPACTED naming the oldest available one", async () => {
    for (let i = 0; i < HISTORY_REVISIONS + 10; i++) await put(url, `fill-${i}`, "x");
    const { compactedRevision } = node.store.historyStats();
    assert.ok(compactedRevision >= 10);
    const response = await fetch(`${url}/v1/watch?from_revision=1`);
    assert.equal(response.status, 410);
    assert.deepEqual(await response.json(), {
      code: "COMPACTED",
      message: `Cannot watch from revision 1: revisions up to ${compactedRevision} are compacted; the oldest available is ${compactedRevision + 1}`,
      compactedRevision,
      oldestRevision: compactedRevision + 1,
    });
    const oldest = await readStream(`${url}/v1/watch?from_revision=${compactedRevision + 1}&prefix=fill-`, 3);
    assert.deepEqual(
      oldest.events.map((e) => e.data.revision),
      [compactedRevision + 1, compactedRevision + 2, compactedRevision + 3],
    );
  });

  test("a txn's events share one revision and only the last carries the id; Last-Event-ID resumes after it", async () => {
    const from = node.store.revision() + 1;
    const txn = await fetch(`${url}/v1/txn`, {
      method: "POST",
      body: JSON.stringify({
        success: [
          { op: "put", key: "t/a", value: "1" },
          { op: "put", key: "t/b", value: "2" },
        ],
      }),
    });
    const revision = ((await txn.json()) as { revision: number }).revision;
    await put(url, "t/c", "3");
    const first = await readStream(`${url}/v1/watch?prefix=t/&from_revision=${from}`, 3);
    assert.deepEqual(
      first.events.map((e) => [e.event, e.data.key, e.data.revision, e.id]),
      [
        ["put", "t/a", revision, undefined],
        ["put", "t/b", revision, String(revision)],
        ["put", "t/c", revision + 1, String(revision + 1)],
      ],
    );
    const resumed = await readStream(`${url}/v1/watch?prefix=t/&from_revision=${from}`, 1, {
      "last-event-id": String(revision),
    });
    assert.deepEqual(
      resumed.events.map((e) => e.data.key),
      ["t/c"],
    );
  });

  test("a watch from now starts after the current revision and reports it in x-shoal-revision", async () => {
    const now = node.store.revision();
    const reading = readStream(`${url}/v1/watch?prefix=now/`, 2);
    await sleep(100);
    await put(url, "now/1", "a");
    await fetch(`${url}/v1/kv/now/1`, { method: "DELETE" });
    const { headers, events } = await reading;
    assert.equal(headers["x-shoal-revision"], String(now));
    assert.deepEqual(
      events.map((e) => [e.event, e.data.revision]),
      [
        ["put", now + 1],
        ["delete", now + 2],
      ],
    );
  });

  test("a consumer that stops reading costs no unbounded memory and is cut off once behind the history", async () => {
    const stats = () => node.watches.stats();
    const compactedBefore = stats().compactedOut;
    let stalled: IncomingMessage | undefined;
    const request = httpRequest(`${url}/v1/watch?prefix=big/`, (response) => {
      stalled = response;
      response.pause(); // read nothing: the server's writes back up
    });
    request.end();
    while (stalled === undefined) await sleep(10);
    const big = "x".repeat(256 * 1024);
    for (let i = 0; i < HISTORY_REVISIONS * 2; i++) await put(url, `big/${i}`, big);
    assert.ok(stats().fellBehind >= 1, "the live buffer overflowed and the watcher fell back to the history");
    const deadline = Date.now() + 5000;
    while (stats().compactedOut === compactedBefore && Date.now() < deadline) await sleep(20);
    assert.equal(stats().compactedOut, compactedBefore + 1, "the stalled watcher was closed once compacted past");
    assert.equal(stats().watchers, 0);
    stalled.destroy();
  });

  test("a stream that falls behind mid-way ends with an error event", async () => {
    const reader = await openStream(`${url}/v1/watch?prefix=late/`);
    reader.response.pause();
    const big = "y".repeat(256 * 1024);
    for (let i = 0; i < HISTORY_REVISIONS * 2; i++) await put(url, `late/${i}`, big);
    reader.response.resume();
    const text = await reader.text;
    assert.match(
      text,
      /event: error\ndata: \{"compactedRevision":\d+,"oldestRevision":\d+,"code":"COMPACTED","message":"Cannot watch from revision \d+/,
    );
  });

  test("the OpenAPI document describes every endpoint with its parameters", async () => {
    const response = await fetch(`${url}/v1/openapi.json`);
    assert.equal(response.status, 200);
    const doc = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, { parameters?: { name: string }[]; responses: object }>>;
    };
    assert.equal(doc.openapi, "3.0.3");
    const expected: Record<string, string[]> = {
      "/v1/kv/{key}": ["get", "put", "delete"],
      "/v1/kv": ["get"],
      "/v1/txn": ["post"],
      "/v1/watch": ["get"],
      "/v1/cluster": ["get"],
      "/metrics": ["get"],
      "/healthz": ["get"],
      "/readyz": ["get"],
      "/v1/dashboard/samples": ["get"],
    };
    for (const [path, methods] of Object.entries(expected)) {
      assert.deepEqual(Object.keys(doc.paths[path] ?? {}).sort(), [...methods].sort(), path);
      for (const method of methods) assert.ok(Object.keys(doc.paths[path]?.[method]?.responses ?? {}).length > 0);
    }
    const names = (path: string, method: string) =>
      (doc.paths[path]?.[method]?.parameters ?? []).map((p) => p.name).sort();
    assert.deepEqual(names("/v1/watch", "get"), ["cursor", "from_revision", "last-event-id", "prefix"]);
    assert.deepEqual(names("/v1/kv", "get"), ["after", "consistency", "limit", "prefix"]);
    assert.deepEqual(names("/v1/kv/{key}", "put"), ["if-match", "if-none-match", "key", "ttl"]);
  });

  test("FLUSHALL reaches every watch as one flush event, and the history restarts at it", async () => {
    await put(url, "f/before", "1");
    const before = node.store.revision();
    const enc = new TextEncoder();
    await node.runRedis([[enc.encode("FLUSHALL")], [enc.encode("SET"), enc.encode("f/after"), enc.encode("2")]]);
    const stream = await readStream(`${url}/v1/watch?prefix=f/&from_revision=${before + 1}`, 2);
    assert.deepEqual(
      stream.events.map((e) => [e.event, e.data.type, e.data.key, e.data.revision]),
      [
        ["flush", "flush", undefined, before + 1],
        ["put", "put", "f/after", before + 1],
      ],
    );
    const compacted = await fetch(`${url}/v1/watch?prefix=f/&from_revision=${before}`);
    assert.equal(compacted.status, 410);
    await compacted.body?.cancel();
  });

  test("closing the server ends open watch streams instead of hanging", async () => {
    const otherDir = mkdtempSync(join(tmpdir(), "shoal-http-close-"));
    const other = await startNode(otherDir);
    try {
      await waitReady(other.url);
      const reader = await openStream(`${other.url}/v1/watch`);
      const started = Date.now();
      await other.http.close();
      await reader.text;
      assert.ok(Date.now() - started < 2000, `the server closed promptly (${Date.now() - started} ms)`);
    } finally {
      await other.http.close();
      await other.node.stop();
      rmSync(otherDir, { recursive: true, force: true });
    }
  });
});

test("/readyz and a linearizable watch answer 503 JSON while there is no leader", { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "shoal-http-noleader-"));
  // Two members of an existing cluster, one of which never starts: no quorum, no leader. (A new directory would
  // wait for the other member before starting at all: node/bootstrap.ts.)
  writeIdentity(dir, {
    clusterId: "test",
    nodeId: 1,
    memberIds: [1, 2],
    createdAt: new Date().toISOString(),
    shardCount: 1,
    replicationFactor: 2,
  });
  const { node, http, url } = await startNode(dir, { peers: 2, requestTimeoutMs: 300 });
  try {
    await sleep(300);
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 503);
    const body = (await ready.json()) as { code: string; ready: boolean; leader: number };
    assert.deepEqual([body.code, body.ready, body.leader], ["UNAVAILABLE", false, 0]);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const watch = await fetch(`${url}/v1/watch`);
    assert.ok(watch.status === 503 || watch.status === 504, String(watch.status));
    assert.match(((await watch.json()) as { code: string }).code, /^(UNAVAILABLE|TIMEOUT)$/);
  } finally {
    await http.close();
    await node.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---- helpers ----

async function waitReady(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await fetch(`${url}/readyz`)).status === 200) return;
    await sleep(20);
  }
  assert.fail("the node never became ready");
}

async function put(url: string, key: string, value: string): Promise<void> {
  const response = await fetch(`${url}/v1/kv/${key}`, { method: "PUT", body: value });
  assert.equal(response.status, 200, await response.text());
}

interface Message {
  readonly event: string;
  // biome-ignore lint/suspicious/noExplicitAny: event JSON is inspected field by field
  readonly data: any;
  readonly id: string | undefined;
}

function parseMessages(text: string): Message[] {
  return text
    .split("\n\n")
    .map((block) => block.split("\n").filter((line) => line !== "" && !line.startsWith(":")))
    .filter((lines) => lines.some((line) => line.startsWith("data:")))
    .map((lines) => {
      const field = (name: string) =>
        lines
          .find((line) => line.startsWith(`${name}:`))
          ?.slice(name.length + 1)
          .trim();
      return { event: field("event") ?? "message", data: JSON.parse(field("data") as string), id: field("id") };
    });
}

/** Reads a watch until `count` change events arrived, then disconnects. */
async function readStream(
  url: string,
  count: number,
  headers: Record<string, string> = {},
): Promise<{ headers: Record<string, string | string[] | undefined>; events: Message[] }> {
  const response = await fetch(url, { headers });
  assert.equal(response.status, 200);
  const reader = (response.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = "";
  for (;;) {
    const events = parseMessages(text).filter((m) => m.event === "put" || m.event === "delete" || m.event === "flush");
    if (events.length >= count) {
      await reader.cancel();
      return { headers: Object.fromEntries(response.headers), events: events.slice(0, count) };
    }
    const chunk = await reader.read();
    assert.equal(chunk.done, false, `the stream ended after ${events.length} events`);
    text += decoder.decode(chunk.value, { stream: true });
  }
}

/** A watch over node:http, so a test can stop reading it; `text` resolves with everything once it ends. */
function openStream(url: string): Promise<{ response: IncomingMessage; text: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(url, (response) => {
      const text = new Promise<string>((done) => {
        let all = "";
        response.on("data", (chunk: Buffer) => {
          all += chunk.toString();
        });
        response.on("end", () => done(all));
        response.on("close", () => done(all));
      });
      resolve({ response, text });
    });
    request.on("error", reject);
    request.end();
  });
}
