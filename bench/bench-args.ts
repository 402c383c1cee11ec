/**
 * @module A bench's flags: `parseArgs` with a one-line answer for a flag it does not know or a missing value (not
 * Node's stack trace), and `--help` printing the bench's usage line.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function benchArgs<T extends Options>(options: T, usage: string): ReturnType<typeof parseArgs<{ options: T }>> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(`Usage: ${usage}\n`);
    process.exit(0);
  }
  try {
    return parseArgs({ options });
  } catch (error) {
    process.stderr.write(`bench: ${(error as Error).message.split("\n")[0]} (usage: ${usage})\n`);
    process.exit(2);
  }
}
