/**
 * The deterministic simulator as part of `npm test`: 300 randomized seeds (3 and 5 nodes, every fault kind)
 * must pass every safety checker and converge in the liveness phase, split over two worker threads; so must
 * the seeds of the leader-churn mix and of the disruption scenario that the mutation tests use; and a seed must
 * replay to the same trace.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSeeds } from "./parallel.js";
import type { SeedResult } from "./run-seed.js";
import { runSeed } from "./seed-runner.js";
import { CORE_OPTIONS, replayCommand, type SimOptions } from "./sim-options.js";

function failures(options: SimOptions, results: readonly SeedResult[]): string[] {
  return results
    .filter((r) => r.failure !== undefined)
    .map(
      (r) =>
        `seed ${r.seed} (${r.failure?.kind} at tick ${r.failure?.tick}): ${r.failure?.message.split("\n")[0]}\n  replay: ${replayCommand(options, r.seed)}`,
    );
}

test("300 seeds of the default fault mix pass (3 and 5 nodes, 2 workers)", async () => {
  const options: SimOptions = { ...CORE_OPTIONS, start: 1, seeds: 300, workers: 2 };
  const results = await runSeeds(options);
  assert.equal(results.length, 300);
  assert.deepEqual(failures(options, results), []);
});

test("100 seeds of the leader-churn mix pass", async () => {
  const options: SimOptions = { ...CORE_OPTIONS, start: 1, seeds: 100, mix: "churn", workers: 2 };
  assert.deepEqual(failures(options, await runSeeds(options)), []);
});

test("50 seeds of the disruption scenario pass with PreVote and CheckQuorum", async () => {
  const options: SimOptions = { ...CORE_OPTIONS, start: 1, seeds: 50, scenario: "disruption", workers: 2 };
  assert.deepEqual(failures(options, await runSeeds(options)), []);
});

test("a seed replays exactly: same trace, same digest", () => {
  const trace = (): { lines: string[]; digest: string } => {
    const lines: string[] = [];
    const result = runSeed(5, CORE_OPTIONS, (line) => lines.push(line));
    return { lines, digest: result.digest };
  };
  const first = trace();
  const second = trace();
  assert.ok(first.lines.length > 20, "the run traced its faults and elections");
  assert.equal(second.digest, first.digest);
  assert.deepEqual(second.lines, first.lines);
});

test("different seeds take different paths", () => {
  const digests = new Set([1, 2, 3, 4].map((seed) => runSeed(seed, CORE_OPTIONS).digest));
  assert.equal(digests.size, 4);
});
