import assert from "node:assert/strict";
import { it } from "node:test";
import { Registry } from "prom-client";
import { COMMAND_LATENCY_BUCKETS_SECONDS, CommandLatency } from "./command-latency.js";
import { registerRespMetrics } from "./resp-metrics.js";
import { RespServer } from "./resp-server.js";
import { RawClient } from "./testing/raw-client.js";
import { TestBackend } from "./testing/test-backend.js";

it("mirrors the RESP server's connections and commands into /metrics at scrape time", async () => {
  const server = await RespServer.start({ host: "127.0.0.1", port: 0, backend: new TestBackend(), clientsMax: 1 });
  try {
    const registry = new Registry();
    registerRespMetrics(registry, () => server.figures());
    registerRespMetrics(registry, () => server.figures()); // a second registration is a no-op
    const client = await RawClient.connect(server.port);
    await client.call("PING");
    await client.call("SET", "k", "v");
    const refused = await RawClient.connect(server.port); // beyond clientsMax: answered an error and closed
    await refused.read(1);
    const text = await registry.metrics();
    assert.match(text, /^shoal_resp_connected_clients 1$/m);
    assert.match(text, /^shoal_resp_connections_received 1$/m);
    assert.match(text, /^shoal_resp_connections_rejected 1$/m);
    assert.match(text, /^shoal_resp_commands_processed 2$/m);
    // Each command timed once, in cumulative buckets; +Inf holds them all.
    assert.match(text, /^# TYPE shoal_resp_command_duration_seconds histogram$/m);
    assert.match(text, /^shoal_resp_command_duration_seconds_count 2$/m);
    assert.match(text, /^shoal_resp_command_duration_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^shoal_resp_command_duration_seconds_bucket\{le="5"\} 2$/m);
    const sum = Number(/^shoal_resp_command_duration_seconds_sum (\S+)$/m.exec(text)?.[1]);
    assert.ok(sum > 0 && sum < 5, `sum ${sum}`);
    const json = await registry.getMetricsAsJSON();
    const latency = json.find((metric) => metric.name === "shoal_resp_command_duration_seconds");
    assert.equal(latency?.values.find((v) => v.labels.le === "+Inf")?.value, 2);
    client.close();
    refused.close();
  } finally {
    await server.close();
  }
});

it("a run of commands counts each command once, in the bucket of the run's duration", () => {
  const latency = new CommandLatency();
  latency.record(3, 0.0003); // (0.00025, 0.0005]
  latency.record(1, 0.00005); // the first bucket
  latency.record(2, 7); // above every bound
  latency.record(0, 1); // nothing
  const { cumulative, sumSeconds, count } = latency.snapshot();
  const at = (bound: number) => cumulative[COMMAND_LATENCY_BUCKETS_SECONDS.indexOf(bound)];
  assert.equal(at(0.0001), 1);
  assert.equal(at(0.00025), 1);
  assert.equal(at(0.0005), 4);
  assert.equal(at(5), 4);
  assert.equal(cumulative[cumulative.length - 1], 6);
  assert.equal(count, 6);
  assert.ok(Math.abs(sumSeconds - (0.0009 + 0.00005 + 14)) < 1e-9);
});
