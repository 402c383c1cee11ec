/**
 * @module Runs one seed in the scenario its options (or its mutation) call for.
 */
import { runDisruptionSeed } from "./disruption-scenario.js";
import { findMutation } from "./mutation.js";
import { runRandomSeed, type SeedResult } from "./run-seed.js";
import type { SimOptions } from "./sim-options.js";

export function runSeed(seed: number, options: SimOptions, print: (line: string) => void = () => {}): SeedResult {
  const mutation = options.mutation === undefined ? undefined : findMutation(options.mutation);
  const scenario = options.scenario ?? mutation?.scenario ?? "random";
  return scenario === "disruption" ? runDisruptionSeed(seed, options, print) : runRandomSeed(seed, options, print);
}
