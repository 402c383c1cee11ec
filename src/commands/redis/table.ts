/**
 * @module THE command table: every Redis command Shoal knows, by family. Lookups are case-insensitive.
 */
import type { CommandSpec } from "./command-spec.js";
import { connectionCommands } from "./families/connection.js";
import { hashCommands } from "./families/hashes.js";
import { keyCommands } from "./families/keys.js";
import { stringCommands } from "./families/strings.js";

export const COMMAND_TABLE: readonly CommandSpec[] = [
  ...stringCommands,
  ...keyCommands,
  ...hashCommands,
  ...connectionCommands,
];

const byName = new Map<string, CommandSpec>(COMMAND_TABLE.map((spec) => [spec.name, spec]));

/** The command named `name` (any case), or undefined. */
export function findCommand(name: string): CommandSpec | undefined {
  return byName.get(name.toLowerCase());
}

/** The key arguments of `argv` for `spec` (routing, WATCH, COMMAND GETKEYS). */
export function commandKeys(spec: CommandSpec, argv: readonly Uint8Array[]): Uint8Array[] {
  const { first, last, step } = spec.keys;
  if (first === 0) return [];
  const end = last < 0 ? argv.length + last : last;
  const keys: Uint8Array[] = [];
  for (let i = first; i <= end && i < argv.length; i += step) keys.push(argv[i] as Uint8Array);
  return keys;
}
