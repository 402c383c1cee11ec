/**
 * @module Flag parsing shared by the CLI commands: node:util parseArgs in strict mode, with errors turned into
 * one-line CliErrors.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
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

export function integerFlag(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min = 0,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || !Number.isInteger(value) || value < min || value > max) {
    throw new CliError(`Cannot parse --${name} "${String(raw)}": expected an integer from ${min} to ${max}`);
  }
  return value;
}

export function choiceFlag<T extends string>(
  values: Record<string, unknown>,
  name: string,
  choices: readonly T[],
  fallback: T,
): T {
  const raw = values[name];
  if (raw === undefined) return fallback;
  if (!choices.includes(raw as T))
    throw new CliError(`Cannot parse --${name} "${String(raw)}": expected ${choices.join(", ")}`);
  return raw as T;
}

/**
 * Flags plus named positional arguments: `required` must all be present, `optional` may follow; anything more
 * is a usage error. `command` names the command in the messages ("try: shoal get --help").
 */
export function parseCommand(
  command: string,
  argv: string[],
  options: Options,
  positionals: { required: readonly string[]; optional?: readonly string[] },
): { flags: Record<string, string | boolean | undefined>; args: Record<string, string | undefined> } {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CliError((error as Error).message.split("\n")[0] ?? "Cannot parse flags");
  }
  if (parsed.values.help === true) return { flags: { help: true }, args: {} };
  const names = [...positionals.required, ...(positionals.optional ?? [])];
  const missing = positionals.required[parsed.positionals.length];
  if (missing !== undefined) throw new CliError(`Missing ${missing} (try: shoal ${command} --help)`);
  const extra = parsed.positionals[names.length];
  if (extra !== undefined) throw new CliError(`Unexpected argument "${extra}" (try: shoal ${command} --help)`);
  const args: Record<string, string | undefined> = {};
  names.forEach((name, i) => {
    args[name] = parsed.positionals[i];
  });
  return { flags: parsed.values as Record<string, string | boolean | undefined>, args };
}

/** A finite number in [min, max], or `fallback` when the flag is absent. */
export function numberFlag(
  values: Record<string, unknown>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (typeof raw !== "string" || raw.trim() === "" || !Number.isFinite(value) || value < min || value > max) {
    throw new CliError(`Cannot parse --${name} "${String(raw)}": expected a number from ${min} to ${max}`);
  }
  return value;
}
