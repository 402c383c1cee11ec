/**
 * @module One Redis command described once (Redis's `src/commands/*.json`), together with what runs it: arity
 * checks, key extraction for routing, read/write handling, MULTI queueing and the COMMAND / COMMAND INFO /
 * COMMAND DOCS answers all read this description. Every family builds its entries with `commandFamily`: data
 * commands (here, in families/) carry a pure DataHandler; the connection and server commands (AUTH, MULTI,
 * SUBSCRIBE, INFO…) are built the same way by the RESP server, with handlers over its connection state.
 */
import type { Random } from "../../lib/prng.js";
import type { Keyspace } from "../keyspace/keyspace.js";
import type { Reply } from "./reply.js";

/** Redis's command flags, as COMMAND INFO lists them (lower case). */
export type CommandFlag =
  | "write" // changes data: goes through the Raft log
  | "readonly" // reads data: served after a ReadIndex barrier (or stale after READONLY)
  | "denyoom"
  | "admin"
  | "pubsub"
  | "noscript"
  | "loading"
  | "stale"
  | "fast"
  | "no_auth" // allowed before AUTH
  | "allow_busy"
  | "no_multi"; // refused inside MULTI

/** Redis's command groups (COMMAND DOCS `group`). */
export type CommandGroup =
  | "string"
  | "generic"
  | "hash"
  | "connection"
  | "server"
  | "pubsub"
  | "transactions"
  | "cluster";

/** Where the keys are in argv (argv[0] is the command name): Redis's legacy (first, last, step) triple. `last`
 * -1 means the last argument, -2 the one before it. first 0 means the command takes no keys. */
export interface KeyPositions {
  readonly first: number;
  readonly last: number;
  readonly step: number;
}

/** A SCAN cursor's meaning: the key to resume after. Cursors are numbers (redis-cli parses them as such), so
 * the node keeps a bounded table from number to position; `resp/` owns it, semantics only ask through this. */
export interface ScanCursors {
  /** The position for `cursor`: undefined for 0 (the start); throws BAD_REQUEST "invalid cursor" for a number
   * the table does not know (never issued, or evicted). */
  resume(cursor: bigint): Uint8Array | undefined;
  /** A new cursor that resumes after `lastKey`. Never 0. */
  issue(lastKey: Uint8Array): bigint;
}

/** What a data handler may use. Everything is deterministic for replicated (write) execution. */
export interface CommandContext {
  readonly keyspace: Keyspace;
  /** For HRANDFIELD, RANDOMKEY: seeded from the entry when replicated, so every replica picks alike. */
  readonly random: Random;
  readonly cursors: ScanCursors;
}

/** A pure data handler: reads `argv` (argv[0] is the name as sent), reads and writes through the keyspace, and
 * returns the reply. Throws ShoalError for an error reply; it must throw before writing anything or leave its
 * writes to be discarded (the executor runs each command in its own write set). */
export type DataHandler = (context: CommandContext, argv: readonly Uint8Array[]) => Reply;

export interface CommandSpec {
  /** Lower case, as COMMAND lists it. */
  readonly name: string;
  /** Redis's arity: N exactly N arguments including the name, -N at least N. */
  readonly arity: number;
  readonly flags: readonly CommandFlag[];
  readonly keys: KeyPositions;
  readonly group: CommandGroup;
  readonly summary: string;
  readonly since: string;
  readonly complexity: string;
  /** The argument syntax as Redis documents it, e.g. "key value [NX | XX]" (COMMAND DOCS, CLI help). */
  readonly syntax: string;
  /** How Shoal differs from Redis for this command, if at all (docs/redis-compat.md is generated from it). */
  readonly differences?: string;
  /** Subcommands (CLIENT ID, CONFIG GET…), each with its own arity; the name is "parent|sub". */
  readonly subcommands?: readonly CommandSpec[];
}

/** A command and what runs it: a handler of type H (a DataHandler, or the RESP server's session handler), or —
 * for a container such as CLIENT or CONFIG — none of its own, each subcommand carrying its handler. That every
 * entry has exactly one reachable handler is checked by `handlerProblems` (command-table.ts). */
export interface CommandEntry<H> extends CommandSpec {
  readonly handler?: H;
  readonly subcommands?: readonly CommandEntry<H>[];
}

/** A data command: run by the executor (execute.ts) in the log and for reads. */
export type DataCommand = CommandEntry<DataHandler>;

/** The documentation part of a spec (Redis's COMMAND DOCS fields), and optionally a group other than the family's. */
export interface CommandDoc {
  readonly summary: string;
  readonly since: string;
  readonly complexity: string;
  readonly syntax: string;
  readonly group?: CommandGroup;
}

/** The last argument of a container command (CLIENT, CONFIG…) in place of a handler: its subcommands, each
 * built by the same family builder with its own handler. */
export class Subcommands<H> {
  constructor(readonly entries: readonly CommandEntry<H>[]) {}
}

export function subcommands<H>(...entries: CommandEntry<H>[]): Subcommands<H> {
  return new Subcommands(entries);
}

/** A family's builder: `commandFamily<DataHandler>("string")` gives
 * `(name, arity, flags, keys, doc, handler) => entry`; a container passes `subcommands(…)` as its handler. */
export function commandFamily<H>(
  familyGroup: CommandGroup,
): (
  name: string,
  arity: number,
  flags: readonly CommandFlag[],
  keys: KeyPositions,
  doc: CommandDoc,
  handler: H | Subcommands<H>,
) => CommandEntry<H> {
  return (name, arity, flags, keys, doc, handler) => {
    const spec = { name, arity, flags, keys, ...doc, group: doc.group ?? familyGroup };
    return handler instanceof Subcommands ? { ...spec, subcommands: handler.entries } : { ...spec, handler };
  };
}

export const NO_KEYS: KeyPositions = { first: 0, last: 0, step: 0 };
export const ONE_KEY: KeyPositions = { first: 1, last: 1, step: 1 };
export const ALL_KEYS: KeyPositions = { first: 1, last: -1, step: 1 };

/** `entries` with each named command's `differences` set (a family lists its differences from Redis in one place,
 * next to its table); a subcommand is named "parent|sub". Throws on a name the family does not have, so a renamed
 * command cannot drop its note. */
export function withDifferences<H>(
  entries: readonly CommandEntry<H>[],
  differences: Readonly<Record<string, string>>,
): readonly CommandEntry<H>[] {
  const known = new Set(entries.flatMap((entry) => [entry.name, ...(entry.subcommands ?? []).map((sub) => sub.name)]));
  for (const name of Object.keys(differences)) {
    if (!known.has(name)) throw new Error(`withDifferences: no command '${name}'`);
  }
  const noted = (entry: CommandEntry<H>): CommandEntry<H> => {
    const text = differences[entry.name];
    const withText = text === undefined ? entry : { ...entry, differences: text };
    return entry.subcommands === undefined ? withText : { ...withText, subcommands: entry.subcommands.map(noted) };
  };
  return entries.map(noted);
}
