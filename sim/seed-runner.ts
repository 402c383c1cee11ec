/**
 * @module Runs one seed in the scenario its options (or its mutation) call for.
 */
import { runDisruptionSeed } from "./disruption-scenario.js";
import { findMutation } from "./mutation.js";
import { runNodeSeed } from "./node/run-node-seed.js";
import { runRandomSeed, type SeedResult } from "./run-seed.js";
import { DEFAULT_TICKS, NODE_DEFAULT_TICKS, type SimOptions } from "./sim-options.js";

export function runSeed(seed: number, options: SimOptions, print: (line: string) => void = () => {}): SeedResult {
  const mutation = options.mutation === undefined ? undefined : findMutation(options.mutation);
  const scenario = options.scenario ?? mutation?.scenario ?? "random";
  return scenario === "disruption" ? runDisruptionSeed(seed, options, print) : runRandomSeed(seed, options, print);
}

/** Runs one seed in the tier its options name (the node tier by default). */
export function runAnySeed(
  seed: number,
  options: SimOptions,
  print: (line: string) => void = () => {},
): Promise<SeedResult> {
  if (options.tier === "core") return Promise.resolve(runSeed(seed, options, print));
  const ticks = options.ticks === DEFAULT_TICKS ? NODE_DEFAULT_TICKS : options.ticks;
  return runNodeSeed(
    seed,
    {
      nodes: options.nodes,
      ticks,
      livenessTicks: options.livenessTicks,
      mutation: options.nodeMutation,
      groups: options.groups,
      slotMoves: options.slotMoves,
    },
    print,
  );
}
