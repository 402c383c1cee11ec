#!/usr/bin/env node
/**
 * @module The `shoal` command: a table of thin entry points. Each command parses its flags, calls the node,
 * cluster launcher or client, and prints; errors become one line on stderr and an exit code (2: bad usage,
 * 1: anything else that failed).
 *   shoal start --id 1 --data-dir ./data/1 --peers 1=127.0.0.1:7101,2=127.0.0.1:7102,3=127.0.0.1:7103
 *   shoal cluster --nodes 3
 *   shoal status | shards [move SHARD --from A --to B] | slots [move SLOTS --to SHARD] | nodes | node remove ID
 *     | rebalance | get KEY | put KEY VALUE | del KEY | watch | bench
 */
import { readFileSync } from "node:fs";
import { CliError } from "./cli-error.js";

interface Command {
  readonly summary: string;
  /** Loaded on use: `shoal get` should not pay for loading the node, LMDB and the HTTP server. */
  readonly load: () => Promise<(argv: string[]) => Promise<number>>;
}

const COMMANDS: Readonly<Record<string, Command>> = {
  start: { summary: "run one node", load: async () => (await import("./start-command.js")).runStart },
  cluster: {
    summary: "run a local cluster of N nodes (what npm start runs)",
    load: async () => (await import("./cluster-command.js")).runCluster,
  },
  status: {
    summary: "members, roles, terms, indexes and replication lag",
    load: async () => (await import("./status-command.js")).runStatus,
  },
  shards: {
    summary: "shards, their replicas and leaders; move a replica (shards move)",
    load: async () => (await import("./shards-command.js")).runShards,
  },
  slots: {
    summary: "hash slots moving between shards, each shard's slots; move slots (slots move)",
    load: async () => (await import("./slots-command.js")).runSlots,
  },
  nodes: {
    summary: "members, their replicas, leaderships and state",
    load: async () => (await import("./nodes-command.js")).runNodes,
  },
  node: {
    summary: "node remove ID: drain a member and remove it",
    load: async () => (await import("./nodes-command.js")).runNode,
  },
  rebalance: {
    summary: "even out replicas and leaders over the members (--dry-run, --pause, --resume)",
    load: async () => (await import("./nodes-command.js")).runRebalance,
  },
  get: { summary: "print a key's value", load: async () => (await import("./kv-commands.js")).runGet },
  put: { summary: "write a key", load: async () => (await import("./kv-commands.js")).runPut },
  del: { summary: "delete a key", load: async () => (await import("./kv-commands.js")).runDel },
  watch: { summary: "print changes as they happen", load: async () => (await import("./watch-command.js")).runWatch },
  bench: {
    summary: "load the cluster; throughput and a latency histogram",
    load: async () => (await import("./bench-command.js")).runBench,
  },
};

const ALIASES: Readonly<Record<string, string>> = { delete: "del", rm: "del" };

const USAGE = `Usage: shoal <command> [options]

Commands:
${Object.entries(COMMANDS)
  .map(([name, command]) => `  ${name.padEnd(10)} ${command.summary}`)
  .join("\n")}

Run shoal <command> --help for a command's options; shoal --version prints the version.
`;

/** The version in package.json (three directories up from dist/src/cli/, in the repository and when installed). */
function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8")) as {
      version?: unknown;
    };
    if (typeof pkg.version === "string") return pkg.version;
  } catch {
    // reported below
  }
  throw new CliError("Cannot read the version from package.json", 1);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`shoal ${version()}\n`);
    return 0;
  }
  const commandName = ALIASES[name] ?? name;
  const command = COMMANDS[commandName];
  if (command === undefined || !Object.hasOwn(COMMANDS, commandName)) {
    throw new CliError(`Unknown command "${name}" (try: shoal --help)`);
  }
  try {
    return await (await command.load())(rest);
  } catch (error) {
    // A usage error points at the command's help unless its message already does.
    if (error instanceof CliError && error.exitCode === 2 && !error.message.includes("(try: shoal")) {
      throw new CliError(`${error.message} (try: shoal ${commandName} --help)`, 2);
    }
    throw error;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== 0) process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`shoal: ${message.split("\n")[0]}\n`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  },
);
