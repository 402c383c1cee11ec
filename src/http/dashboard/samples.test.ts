import assert from "node:assert/strict";
import { test } from "node:test";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { RaftStatus } from "../../raft/raw-node.js";
import { DashboardSampler, quantile } from "./samples.js";

function fakeNode(registry: Registry, status: () => Partial<RaftStatus>) {
  return { metrics: { registry }, raftStatus: () => status() as RaftStatus };
}

test("samples turn counters into rates and histograms into percentiles, leaving out monitoring requests", async () => {
  const registry = new Registry();
  const commit = new Gauge({ name: "shoal_raft_commit_index", help: "-", registers: [registry] });
  const keys = new Gauge({ name: "shoal_store_keys", help: "-", registers: [registry] });
  const requests = new Histogram({
    name: "shoal_http_request_duration_seconds",
    help: "-",
    labelNames: ["command", "outcome"],
    buckets: [0.001, 0.01, 0.1],
    registers: [registry],
  });
  new Counter({ name: "unrelated_total", help: "-", registers: [registry] });
  const sampler = new DashboardSampler(
    fakeNode(registry, () => ({ role: "follower" })),
    3,
  );
  commit.set(100);
  keys.set(7);
  await sampler.sample();
  commit.set(150);
  for (let i = 0; i < 90; i++) requests.observe({ command: "kv.get", outcome: "ok" }, 0.0005);
  for (let i = 0; i < 10; i++) requests.observe({ command: "kv.put", outcome: "ok" }, 0.05);
  for (let i = 0; i < 500; i++) requests.observe({ command: "cluster", outcome: "ok" }, 0.5); // the page polling
  await new Promise((resolve) => setTimeout(resolve, 50));
  await sampler.sample();
  const [first, second] = sampler.since(undefined);
  assert.ok(first !== undefined && second !== undefined);
  assert.equal(first.committedPerSecond, null, "no rate without an earlier reading");
  assert.equal(first.keys, 7);
  assert.equal(first.respCommandsPerSecond, null, "no RESP server registered");
  const seconds = (second.t - first.t) / 1000;
  assert.ok(Math.abs((second.committedPerSecond ?? 0) - 50 / seconds) < 1e-6);
  assert.ok(Math.abs((second.httpRequestsPerSecond ?? 0) - 100 / seconds) < 1e-6, "100 client requests");
  assert.ok((second.httpP50Ms ?? 99) <= 1, `p50 ${second.httpP50Ms}`);
  assert.ok((second.httpP99Ms ?? 0) > 10 && (second.httpP99Ms ?? 999) <= 100, `p99 ${second.httpP99Ms}`);
  assert.equal(second.lag, undefined, "lag only on the leader");
  assert.deepEqual(sampler.since(first.t), [second]);
});

test("the ring keeps the newest samples, oldest first; the leader records lag, unknown for a silent member", async () => {
  const registry = new Registry();
  const status = {
    id: 1,
    role: "leader" as const,
    lastIndex: 500,
    matchIndex: new Map([
      [1, 500],
      [2, 480],
      [3, 0],
    ]),
  };
  const sampler = new DashboardSampler(
    fakeNode(registry, () => status),
    3,
  );
  for (let i = 0; i < 5; i++) {
    await sampler.sample();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const samples = sampler.since(undefined);
  assert.equal(samples.length, 3);
  assert.ok(
    samples.every((s, i) => i === 0 || s.t >= (samples[i - 1]?.t ?? 0)),
    "oldest first",
  );
  assert.deepEqual(samples[2]?.lag, { 2: 20, 3: null });
  assert.equal(samples[2]?.keys, null, "no such series");
  assert.ok((samples[2]?.rssBytes ?? 0) > 0);
});

test("quantile interpolates within the bucket holding the rank, like histogram_quantile", () => {
  const bounds = [1, 2, 4, Number.POSITIVE_INFINITY];
  assert.equal(quantile(bounds, [0, 0, 0, 0], 0.5), null);
  assert.equal(quantile(bounds, [10, 10, 10, 10], 0.5), 0.5);
  assert.equal(quantile(bounds, [0, 10, 10, 10], 0.5), 1.5);
  assert.equal(quantile(bounds, [0, 0, 0, 10], 0.99), 4, "the +Inf bucket answers the largest finite bound");
});
