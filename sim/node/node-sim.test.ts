/**
 * The node simulation (the real RaftHost, WAL, command semantics and codec in virtual time) as part of `npm test`:
 * a slice of seeds must pass every checker and converge (members hosting 1–3 Raft groups, drawn per seed, a slice
 * with 3 each, and a slice moving hash slots between the groups: node-slots.ts); a seed replays exactly; and each
 * node-level mutation (node-mutations.ts) must be caught — the long runs are `npm run sim -- --seeds 1000`,
 * `npm run sim -- --seeds 500 --slot-moves` and `npm run sim -- --seeds 200 --unsafe <name>`.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { runSeeds } from "../parallel.js";
import type { SeedResult } from "../run-seed.js";
import { runAnySeed } from "../seed-runner.js";
import { DEFAULT_OPTIONS, replayCommand, type SimOptions } from "../sim-options.js";
import { NODE_MUTATIONS } from "./node-mutations.js";

function failures(options: SimOptions, results: readonly SeedResult[]): string[] {
  return results
    .filter((r) => r.failure !== undefined)
    .map(
      (r) =>
        `seed ${r.seed} (${r.failure?.kind}): ${r.failure?.message.split("\n")[0]}; ${replayCommand(options, r.seed)}`,
    );
}

test("60 seeds of the node simulation pass (3 and 5 real nodes, 2 workers)", async () => {
  const options: SimOptions = { ...DEFAULT_OPTIONS, start: 1, seeds: 60, workers: 2 };
  const results = await runSeeds(options);
  assert.equal(results.length, 60);
  assert.deepEqual(failures(options, results), []);
});

test("20 seeds of members hosting 3 Raft groups each pass, and a mutation is caught there too", async () => {
  const options: SimOptions = { ...DEFAULT_OPTIONS, start: 1, seeds: 20, workers: 2, groups: 3 };
  const results = await runSeeds(options);
  assert.deepEqual(failures(options, results), []);
  assert.ok(results.every((r) => r.summary.includes("× 3 groups")));
  // Each group's checkers watch their own log: switching off the WAL's fsync is caught with 3 groups as with one.
  const unsafe: SimOptions = { ...options, seeds: 1, nodeMutation: "wal-no-fsync" };
  let caught = false;
  for (let seed = 1; seed <= 10 && !caught; seed++) caught = (await runAnySeed(seed, unsafe)).failure !== undefined;
  assert.ok(caught, "wal-no-fsync with 3 groups per member was not caught in 10 seeds");
});

test("seeds moving hash slots between 2 or 3 groups under faults pass, and replay exactly", async () => {
  const options: SimOptions = { ...DEFAULT_OPTIONS, start: 1, seeds: SLOT_MOVE_SEEDS, workers: 2, slotMoves: true };
  const results = await runSeeds(options);
  assert.deepEqual(failures(options, results), []);
  const moved = results.map((r) => Number(/(\d+) of \d+ slots moved/.exec(r.summary)?.[1] ?? 0));
  assert.ok(moved.filter((n) => n > 0).length >= SLOT_MOVE_SEEDS / 4, `too few seeds moved slots: ${moved.join(",")}`);
  const seed = results[moved.findIndex((n) => n > 0)]?.seed as number;
  const again = await runAnySeed(seed, options);
  assert.equal(again.digest, results.find((r) => r.seed === seed)?.digest, `seed ${seed} did not replay exactly`);
});

test("a node-simulation seed replays exactly: same trace, same digest", async () => {
  const trace = async (): Promise<{ lines: string[]; digest: string }> => {
    const lines: string[] = [];
    const result = await runAnySeed(7, DEFAULT_OPTIONS, (line) => lines.push(line));
    return { lines, digest: result.digest };
  };
  const first = await trace();
  const second = await trace();
  assert.ok(first.lines.length > 20, "the run traced its faults and elections");
  assert.equal(second.digest, first.digest);
  assert.deepEqual(second.lines, first.lines);
});

/** Each mutation must fail some seed within this many (the CLI's acceptance uses 200). */
const MUTATION_SEEDS_MAX = 80;

/** Seeds of the slot-move slice (those drawing 2 or 3 groups move slots: about half). */
const SLOT_MOVE_SEEDS = 24;

for (const mutation of NODE_MUTATIONS.filter((m) => m.slots === undefined)) {
  test(`node mutation ${mutation.name} is caught within ${MUTATION_SEEDS_MAX} seeds`, async () => {
    const options: SimOptions = { ...DEFAULT_OPTIONS, nodeMutation: mutation.name };
    let caught: SeedResult | undefined;
    for (let seed = 1; seed <= MUTATION_SEEDS_MAX && caught === undefined; seed++) {
      const result = await runAnySeed(seed, options);
      if (result.failure !== undefined) caught = result;
    }
    assert.ok(caught !== undefined, `${mutation.name} was not caught in ${MUTATION_SEEDS_MAX} seeds`);
    // The seed that caught it passes with the mechanism on: the failure is the mutation's doing.
    const safe = await runAnySeed(caught.seed, DEFAULT_OPTIONS);
    assert.equal(safe.failure, undefined, `seed ${caught.seed} fails without the mutation too`);
  });
}

/** A slot-move mutation must be caught within this many seeds (each such seed moves slots between 2 or 3 groups). */
const SLOT_MUTATION_SEEDS_MAX = 20;

for (const mutation of NODE_MUTATIONS.filter((m) => m.slots !== undefined)) {
  test(`slot-move mutation ${mutation.name} is caught by linearizability within ${SLOT_MUTATION_SEEDS_MAX} seeds`, async (t) => {
    const options: SimOptions = { ...DEFAULT_OPTIONS, nodeMutation: mutation.name };
    let caught: SeedResult | undefined;
    const other: string[] = [];
    for (let seed = 1; seed <= SLOT_MUTATION_SEEDS_MAX && caught === undefined; seed++) {
      const result = await runAnySeed(seed, options);
      if (result.failure?.kind === "linearizability") caught = result;
      else if (result.failure !== undefined) other.push(`seed ${seed}: ${result.failure.kind}`);
    }
    if (other.length > 0) t.diagnostic(`failed first by other checks: ${other.join("; ")}`);
    assert.ok(caught?.failure !== undefined, `${mutation.name} was not caught in ${SLOT_MUTATION_SEEDS_MAX} seeds`);
    t.diagnostic(`caught at seed ${caught.seed}: ${caught.failure.message}`);
    // The same seed with the refusal on — the same groups, the same slots moving — passes.
    const groups = Number(/× (\d) groups/.exec(caught.summary)?.[1]);
    assert.ok(groups >= 2, "a slot-move mutation runs 2 or 3 groups");
    const safe = await runAnySeed(caught.seed, { ...DEFAULT_OPTIONS, groups, slotMoves: true });
    assert.equal(safe.failure, undefined, `seed ${caught.seed} fails without the mutation too`);
  });
}
