/**
 * @module Flag parsing shared by the CLI commands: node:util parseArgs in strict mode, with errors turned into
 * one-line CliErrors.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError } from "./cli-error.js";

type Options = NonNullable<ParseArgsConfig["options"]>;

export function parseFlags(argv: string[], options: Options): Record<string, string | boolean | undefined> {
  try {
    const { values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false });
    return values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new CliError((error as Error).message.split("\n")[0] ?? "Cannot parse flags");
  }
}

export function integerFlag(values: Record<string, unknown>, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(value) || value < min || value > max) {
    throw new CliError(`Cannot parse --${name} "${String(raw)}": expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function choiceFlag<T extends string>(values: Record<string, unknown>, name: string, choices: readonly T[], fallback: T): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T)) throw new CliError(`Cannot parse --${name} "${String(raw)}": expected ${choices.join(", ")}`);
  return raw as T;
}
