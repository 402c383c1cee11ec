import assert from "node:assert/strict";
import { test } from "node:test";
import { LatencyHistogram } from "./latency-histogram.js";

test("percentiles are within one bucket (about 9%) of the exact ones", () => {
  const histogram = new LatencyHistogram();
  const samples = Array.from({ length: 10_000 }, (_, i) => 0.05 + (i % 1000) * 0.02); // 0.05 .. 20 ms
  for (const ms of samples) histogram.record(ms);
  const sorted = [...samples].sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99, 0.999]) {
    const exact = sorted[Math.ceil(q * sorted.length) - 1] as number;
    const got = histogram.percentileMs(q);
    assert.ok(got >= exact && got <= exact * 1.1, `p${q * 100}: ${got} vs ${exact}`);
  }
  assert.equal(histogram.count, 10_000);
  assert.equal(histogram.maxMs, Math.max(...samples));
  assert.ok(Math.abs(histogram.meanMs() - samples.reduce((a, b) => a + b) / samples.length) < 1e-9);
});

test("doublings cover the non-empty range on power-of-two millisecond bounds", () => {
  const histogram = new LatencyHistogram();
  assert.deepEqual(histogram.doublings(), []);
  for (const ms of [0.3, 0.9, 1.0, 1.5, 7, 0]) histogram.record(ms);
  const rows = histogram.doublings();
  assert.deepEqual(
    rows.map((row) => row.upperMs),
    [1 / 64, 1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1, 2, 4, 8],
  );
  assert.deepEqual(
    rows.map((row) => row.count),
    [1, 0, 0, 0, 0, 1, 2, 1, 0, 1],
  );
  const other = new LatencyHistogram();
  other.record(200_000); // beyond the last bucket: counted there, max stays exact
  histogram.merge(other);
  assert.equal(histogram.maxMs, 200_000);
  assert.equal(histogram.percentileMs(1), 200_000);
});
