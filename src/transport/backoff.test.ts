import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { reconnectDelayMs } from "./backoff.js";

const bounds = { reconnectDelayBaseMs: 50, reconnectDelayMaxMs: 2000 };

describe("reconnectDelayMs", () => {
  it("doubles per attempt within [ceiling/2, ceiling]", () => {
    assert.equal(reconnectDelayMs(0, bounds, 0), 25);
    assert.equal(reconnectDelayMs(0, bounds, 0.999999), 50);
    assert.equal(reconnectDelayMs(3, bounds, 0), 200);
    assert.equal(reconnectDelayMs(3, bounds, 0.5), 300);
  });

  it("is capped, even after very many attempts", () => {
    assert.equal(reconnectDelayMs(6, bounds, 0.999999), 2000);
    assert.equal(reconnectDelayMs(10_000, bounds, 0), 1000);
    assert.ok(Number.isFinite(reconnectDelayMs(1_000_000, bounds, 0.5)));
  });
});
