#!/usr/bin/env node
/**
 * @module `npm run chaos`: one chaos run against a real cluster (see run-chaos.ts and docs/chaos.md).
 *   npm run chaos -- --workload register --nemesis kill,pause,partition --time 60
 * The last line printed is the verdict; the exit code is 0 only for a valid run.
 */
import { HELP, OptionsError, parseChaosOptions } from "./chaos-options.js";
import { runChaos } from "./run-chaos.js";

async function main(argv: string[]): Promise<number> {
  let options: ReturnType<typeof parseChaosOptions>;
  try {
    options = parseChaosOptions(argv);
  } catch (error) {
    if (!(error instanceof OptionsError) && !(error instanceof TypeError)) throw error;
    process.stderr.write(`chaos: ${error.message} (try: npm run chaos -- --help)\n`);
    return 2;
  }
  if (options === "help") {
    process.stdout.write(HELP);
    return 0;
  }
  const { exitCode } = await runChaos(options, (line) => process.stdout.write(`${line}\n`));
  return exitCode;
}

// Ctrl-C: exit through process.exit so the cluster's exit hook kills the nodes.
process.once("SIGINT", () => process.exit(130));
process.once("SIGTERM", () => process.exit(143));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(2);
  },
);
