/**
 * @module `npm run sim`: the deterministic simulator's command line. Runs a range of seeds (or one, with a trace),
 * prints every failing seed with the command that replays it, and ends with "N seeds passed, M failed"
 * (exit code 1 when any failed).
 */
import { runSeeds } from "./parallel.js";
import type { SeedResult } from "./run-seed.js";
import { runAnySeed } from "./seed-runner.js";
import { parseArgs, replayCommand, type SimOptions, USAGE } from "./sim-options.js";

function report(options: SimOptions, results: readonly SeedResult[], seconds: number): number {
  let failed = 0;
  for (const result of results) {
    if (result.failure === undefined) continue;
    failed++;
    const { kind, tick, message } = result.failure;
    console.log(`seed ${result.seed} FAILED (${result.nodeCount} nodes, tick ${tick}, ${kind}): ${message}`);
    console.log(`  replay: ${replayCommand(options, result.seed)}`);
  }
  const ticks = results.reduce((sum, r) => sum + r.ticks, 0);
  console.log(`ran ${results.length} seeds (${ticks} ticks) in ${seconds.toFixed(1)} s on ${options.workers} workers`);
  console.log(`${results.length - failed} seeds passed, ${failed} failed`);
  return failed;
}

async function main(): Promise<void> {
  let options: SimOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    console.error(USAGE);
    process.exitCode = 2;
    return;
  }
  const started = performance.now();
  const results = options.verbose
    ? [await runAnySeed(options.start, options, (line) => console.log(line))]
    : await runSeeds(options);
  if (options.verbose) for (const r of results) console.log(`seed ${r.seed}: ${r.summary}; digest ${r.digest}`);
  const failed = report(options, results, (performance.now() - started) / 1000);
  process.exitCode = failed > 0 ? 1 : 0;
}

await main();
