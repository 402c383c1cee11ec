/**
 * @module The data command table: every Redis data command Shoal knows, by family, each with its handler. The
 * RESP server adds the commands it answers itself (connection, transactions, pub/sub, server) to make the full
 * table (resp/server/command-table.ts).
 */
import type { CommandSpec, DataCommand } from "./command-spec.js";
import { CommandTable } from "./command-table.js";
import { hashCommands } from "./families/hashes.js";
import { keyCommands } from "./families/keys.js";
import { stringCommands } from "./families/strings.js";

export const DATA_COMMAND_TABLE = new CommandTable<DataCommand>([...stringCommands, ...keyCommands, ...hashCommands]);

/** The key arguments of `argv` for `spec` (routing, WATCH, COMMAND GETKEYS). */
export function commandKeys(spec: CommandSpec, argv: readonly Uint8Array[]): Uint8Array[] {
  const keys: Uint8Array[] = [];
  someCommandKey(spec, argv, (key) => {
    keys.push(key);
    return false;
  });
  return keys;
}

/** Whether `test` holds for a key argument of `argv`; stops at the first that does, allocates nothing (the RESP
 * server asks it of every read). */
export function someCommandKey(
  spec: CommandSpec,
  argv: readonly Uint8Array[],
  test: (key: Uint8Array) => boolean,
): boolean {
  const { first, last, step } = spec.keys;
  if (first === 0) return false;
  const end = last < 0 ? argv.length + last : last;
  for (let i = first; i <= end && i < argv.length; i += step) if (test(argv[i] as Uint8Array)) return true;
  return false;
}
