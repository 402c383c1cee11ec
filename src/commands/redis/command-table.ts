/**
 * @module A table of command entries: lookup by name (any case), resolution of an argv to the entry that runs
 * it (with Redis's exact errors), and the check that every entry has one reachable handler. The data table
 * (table.ts) and the RESP server's full table (data plus connection commands) are both CommandTables, so both are
 * resolved and checked alike.
 */
import { ShoalError } from "../../lib/errors.js";
import { commandName } from "./command-name.js";
import type { CommandEntry } from "./command-spec.js";

const textDecoder = new TextDecoder();

/**
 * What is wrong with `entries` as a table of handlers, one line per problem (none when sound):
 * - an entry without subcommands and without a handler (a command nobody answers);
 * - a container (an entry with subcommands) with a handler of its own: resolution always picks a subcommand, so
 *   that handler is never reached;
 * - a subcommand not named "parent|sub", or a name used twice: resolution cannot reach that entry's handler.
 */
export function handlerProblems(entries: readonly CommandEntry<unknown>[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const visit = (entry: CommandEntry<unknown>, parent: string | undefined): void => {
    if (seen.has(entry.name)) problems.push(`'${entry.name}' is in the table twice`);
    seen.add(entry.name);
    if (parent !== undefined && !entry.name.startsWith(`${parent}|`)) {
      problems.push(`subcommand '${entry.name}' of '${parent}' is not named '${parent}|…'`);
    }
    if (entry.name !== entry.name.toLowerCase()) problems.push(`'${entry.name}' is not lower case`);
    const subs = entry.subcommands ?? [];
    if (subs.length === 0 && entry.handler === undefined) problems.push(`'${entry.name}' has no handler`);
    if (subs.length > 0 && entry.handler !== undefined) {
      problems.push(`'${entry.name}' has subcommands, so its own handler is never called`);
    }
    if (parent !== undefined && subs.length > 0) problems.push(`subcommand '${entry.name}' has subcommands`);
    for (const sub of subs) visit(sub, entry.name);
  };
  for (const entry of entries) visit(entry, undefined);
  return problems;
}

/** Entries whose subcommands are entries of the same kind (a DataCommand's are DataCommands). */
type Entry<S> = CommandEntry<unknown> & { readonly subcommands?: readonly S[] };

export class CommandTable<S extends Entry<S>> {
  readonly #byName: Map<string, S>;

  /** Throws when `entries` has a handler problem: a table that answers some command with nothing never runs. */
  constructor(readonly entries: readonly S[]) {
    const problems = handlerProblems(entries);
    if (problems.length > 0) throw new Error(`command table: ${problems.join("; ")}`);
    this.#byName = new Map(entries.map((entry) => [entry.name, entry]));
  }

  /** The command named `name` (any case), or undefined. */
  find(name: string): S | undefined {
    return this.#byName.get(name.toLowerCase());
  }

  /**
   * The entry that runs `argv`, or a ShoalError with Redis's message: unknown command, unknown subcommand, wrong
   * number of arguments. A container command given a known subcommand resolves to the subcommand.
   */
  resolve(argv: readonly Uint8Array[]): S {
    const spec = this.#byName.get(commandName(argv[0] ?? new Uint8Array(0)));
    if (spec === undefined) throw unknownCommand(textDecoder.decode(argv[0] ?? new Uint8Array(0)), argv);
    const subcommands: readonly S[] | undefined = spec.subcommands;
    if (subcommands === undefined || subcommands.length === 0) {
      checkArity(spec, argv.length);
      return spec;
    }
    if (argv.length < 2) throw arityError(spec.name);
    const subName = commandName(argv[1] as Uint8Array);
    const sub = subcommands.find((s) => s.name === `${spec.name}|${subName}`);
    if (sub === undefined) {
      throw new ShoalError(
        "BAD_REQUEST",
        `unknown subcommand '${truncate(textDecoder.decode(argv[1]))}'. Try ${spec.name.toUpperCase()} HELP.`,
      );
    }
    checkArity(sub, argv.length);
    return sub;
  }
}

function checkArity(spec: CommandEntry<unknown>, argc: number): void {
  const ok = spec.arity >= 0 ? argc === spec.arity : argc >= -spec.arity;
  if (!ok) throw arityError(spec.name);
}

function arityError(name: string): ShoalError {
  return new ShoalError("BAD_REQUEST", `wrong number of arguments for '${name}' command`);
}

/** Redis 7: `unknown command 'foo', with args beginning with: 'a' 'b' ` (each argument truncated to 128). */
function unknownCommand(name: string, argv: readonly Uint8Array[]): ShoalError {
  const args = argv
    .slice(1)
    .map((arg) => `'${truncate(textDecoder.decode(arg))}' `)
    .join("");
  return new ShoalError("BAD_REQUEST", `unknown command '${truncate(name)}', with args beginning with: ${args}`);
}

function truncate(text: string): string {
  return text.length > 128 ? text.slice(0, 128) : text;
}
