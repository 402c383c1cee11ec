#!/usr/bin/env node
/**
 * @module The `shoal` command: thin entry points over the node and cluster launchers.
 *   shoal start --id 1 --data-dir ./data/1 --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103
 *   shoal cluster --nodes 3
 */
import { runCluster } from "./cluster-command.js";
import { CliError } from "./cli-error.js";
import { runStart } from "./start-command.js";

const USAGE = `Usage: shoal <command> [options]

Commands:
  start     run one node          (shoal start --help)
  cluster   run a local cluster   (shoal cluster --help)
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "start":
      return runStart(rest);
    case "cluster":
      return runCluster(rest);
    case undefined:
    case "--help":
    case "-h":
    case "help":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      throw new CliError(`Unknown command "${command}" (try: shoal --help)`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`shoal: ${message}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  },
);
