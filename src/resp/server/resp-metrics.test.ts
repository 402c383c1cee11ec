import assert from "node:assert/strict";
import { it } from "node:test";
import { Registry } from "prom-client";
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
    client.close();
    refused.close();
  } finally {
    await server.close();
  }
});
