/**
 * @module Flag parsing shared by the CLI commands: node:util parseArgs for the tokens, with every usage error
 * (unknown option, missing value, value given to a switch, stray argument) worded here as one line in Shoal's
 * voice — Node's strict-mode messages ("Option '--ttl' argument is ambiguous…") are never shown. A string
 * option takes the next argument whatever it starts with (`--ttl -5` is the value "-5", refused by the option's
 * own check), so a missing value is only one at the end of the line.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";
import { CliError } from "./cli-error.js";

type Options = NonNullable<ParseArgsConfig["options"]>;
type Flags = Record<string, string | boolean | undefined>;

/** Flags only: any positional argument is a usage error. */
export function parseFlags(argv: string[], options: Options): Flags {
  return tokenize(argv, options, []).flags;
}

/** Tokens → flags and positionals; every problem a CliError (exit 2). `--help` wins over any other problem. */
function tokenize(argv: string[], options: Options, positionalNames: readonly string[]) {
  const { tokens } = parseArgs({ args: argv, options, strict: false, allowPositionals: true, tokens: true });
  const flags: Flags = {};
  const positionals: string[] = [];
  let problem: string | undefined;
  for (const token of tokens) {
    if (token.kind === "positional") {
      positionals.push(token.value);
      continue;
    }
    if (token.kind !== "option") continue;
    const spec = Object.hasOwn(options, token.name) ? options[token.name] : undefined;
    if (spec === undefined) {
      problem ??=
        positionalNames.length > 0 && token.rawName.startsWith("-")
          ? `Unknown option '${token.rawName}'; a ${positionalNames.join(" or ")} starting with "-" goes after --`
          : `Unknown option '${token.rawName}'`;
    } else if (spec.type === "string") {
      if (token.value === undefined) problem ??= `Missing a value for ${token.rawName}`;
      else flags[token.name] = token.value;
    } else if (token.value !== undefined) {
      problem ??= `Option ${token.rawName} takes no value (got "${token.value}")`;
    } else {
      flags[token.name] = true;
    }
  }
  if (flags.help === true) return { flags: { help: true } as Flags, positionals: [] };
  if (problem !== undefined) throw new CliError(problem);
  if (positionalNames.length === 0 && positionals.length > 0) {
    throw new CliError(`Unexpected argument "${positionals[0]}"`);
  }
  return { flags, positionals };
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
): { flags: Flags; args: Record<string, string | undefined> } {
  const names = [...positionals.required, ...(positionals.optional ?? [])];
  const parsed = tokenize(argv, options, names);
  if (parsed.flags.help === true) return { flags: parsed.flags, args: {} };
  const missing = positionals.required[parsed.positionals.length];
  if (missing !== undefined) throw new CliError(`Missing ${missing} (try: shoal ${command} --help)`);
  const extra = parsed.positionals[names.length];
  if (extra !== undefined) throw new CliError(`Unexpected argument "${extra}" (try: shoal ${command} --help)`);
  const args: Record<string, string | undefined> = {};
  names.forEach((name, i) => {
    args[name] = parsed.positionals[i];
  });
  return { flags: parsed.flags, args };
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
