/**
 * Mutation tests: each switches one safety mechanism off and shows that the simulator reports a violation from
 * the checker meant to catch it within a bounded number of seeds — and that the seed which caught it passes
 * with the mechanism on. This is what proves the checkers can fail at all.
 *
 * (a) commit-prior-term (5.4.2 off)     → State Machine Safety, and separately committed-entry-lost
 * (b) vote-not-persisted (host)         → Election Safety (two leaders in one term)
 * (c) no-prevote-checkquorum            → disruption (a rejoining node deposes a healthy leader)
 * (d) vote-without-log-check (5.4.1 off) → Leader Completeness
 * (e) skip-append-check (5.3 off)       → Log Matching
 * (f) local-reads (host, no ReadIndex)  → read linearizability
 * (g) ack-before-persist (host)         → committed-entry durability (held by too few voters when committed)
 * (h) move-promote-early (mover)        → move safety (a learner promoted before it holds the log)
 * (i) move-remove-into-minority (mover) → move safety (a voter removed into a minority of caught-up voters)
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { CheckerName } from "./checkers/violation.js";
import type { MutationName } from "./mutation.js";
import type { SeedResult } from "./run-seed.js";
import type { FaultMix } from "./seed-profile.js";
import { runSeed } from "./seed-runner.js";
import { CORE_OPTIONS, replayCommand, type SimOptions } from "./sim-options.js";

/** Seeds tried before a mutation counts as missed. */
const SEEDS_MAX = 200;

interface MutationCase {
  readonly mutation: MutationName;
  readonly expected: CheckerName;
  /** Restrict the run to these checkers (default: all), to show one checker catches it on its own. */
  readonly checkers?: readonly CheckerName[];
  readonly mix?: FaultMix;
}

const CASES: readonly MutationCase[] = [
  { mutation: "commit-prior-term", expected: "stateMachineSafety", checkers: ["stateMachineSafety"], mix: "churn" },
  { mutation: "commit-prior-term", expected: "committedDurability", checkers: ["committedDurability"], mix: "churn" },
  { mutation: "vote-not-persisted", expected: "electionSafety" },
  { mutation: "no-prevote-checkquorum", expected: "disruption" },
  { mutation: "vote-without-log-check", expected: "leaderCompleteness", checkers: ["leaderCompleteness"] },
  { mutation: "skip-append-check", expected: "logMatching", checkers: ["logMatching"] },
  { mutation: "local-reads", expected: "readLinearizability", checkers: ["readLinearizability"] },
  { mutation: "ack-before-persist", expected: "committedDurability", checkers: ["committedDurability"] },
  { mutation: "move-promote-early", expected: "moveSafety", checkers: ["moveSafety"] },
  { mutation: "move-remove-into-minority", expected: "moveSafety", checkers: ["moveSafety"] },
];

/** The first seed whose run fails with the expected checker (other failures are noted and skipped). */
function firstCatch(
  options: SimOptions,
  expected: CheckerName,
): { caught: SeedResult | undefined; tried: number; other: string[] } {
  const other: string[] = [];
  for (let seed = 1; seed <= SEEDS_MAX; seed++) {
    const result = runSeed(seed, options);
    if (result.failure?.kind === expected) return { caught: result, tried: seed, other };
    if (result.failure !== undefined) other.push(`seed ${seed}: ${result.failure.kind}`);
  }
  return { caught: undefined, tried: SEEDS_MAX, other };
}

for (const c of CASES) {
  const only = c.checkers === undefined ? "all checkers" : `only ${c.checkers.join(", ")}`;
  test(`${c.mutation} is caught by ${c.expected} within ${SEEDS_MAX} seeds (${only}, ${c.mix ?? "default"} mix)`, (t) => {
    const options: SimOptions = {
      ...CORE_OPTIONS,
      mutation: c.mutation,
      mix: c.mix ?? "default",
      checkers: c.checkers ?? CORE_OPTIONS.checkers,
    };
    const { caught, tried, other } = firstCatch(options, c.expected);
    if (other.length > 0) t.diagnostic(`caught first by other checkers: ${other.join("; ")}`);
    assert.ok(caught?.failure !== undefined, `${c.mutation} was not caught by ${c.expected} in ${tried} seeds`);
    t.diagnostic(
      `caught at seed ${caught.seed} (${tried} seeds), tick ${caught.failure.tick}: ${caught.failure.message}`,
    );
    t.diagnostic(`replay: ${replayCommand(options, caught.seed)}`);
    const safeOptions: SimOptions = { ...options, mutation: undefined, checkers: CORE_OPTIONS.checkers };
    const safe = runSeed(
      caught.seed,
      c.mutation === "no-prevote-checkquorum" ? { ...safeOptions, scenario: "disruption" } : safeOptions,
    );
    assert.equal(safe.failure, undefined, `seed ${caught.seed} fails even with the mechanism on`);
  });
}
