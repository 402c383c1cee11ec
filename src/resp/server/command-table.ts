/**
 * @module THE full command table: the data commands (commands/redis/table.ts, run by the executor) and the
 * commands the RESP server answers itself (commands/ here, run over the session), each one entry with its
 * handler. Dispatch, COMMAND / COMMAND INFO / COMMAND DOCS and docs/redis-compat.md all read this table; the
 * CommandTable constructor refuses a table with an entry that has no handler (handlerProblems).
 */
import type { DataCommand } from "../../commands/redis/command-spec.js";
import { CommandTable } from "../../commands/redis/command-table.js";
import { DATA_COMMAND_TABLE } from "../../commands/redis/table.js";
import { clusterCommands } from "./commands/cluster.js";
import { connectionCommands } from "./commands/connection.js";
import { pubsubCommands } from "./commands/pubsub.js";
import { serverCommands } from "./commands/server.js";
import { transactionCommands } from "./commands/transactions.js";
import type { SessionCommand } from "./session-commands.js";

export type RespCommand = DataCommand | SessionCommand;

export const COMMAND_TABLE: CommandTable<RespCommand> = new CommandTable<RespCommand>([
  ...DATA_COMMAND_TABLE.entries,
  ...connectionCommands,
  ...transactionCommands,
  ...pubsubCommands,
  ...serverCommands(() => COMMAND_TABLE),
  ...clusterCommands,
]);

const dataEntries: ReadonlySet<RespCommand> = new Set(
  DATA_COMMAND_TABLE.entries.flatMap((entry) => [entry, ...(entry.subcommands ?? [])]),
);

/** True for an entry of the data table: run by the executor (through the log or a read), not over the session. */
export function isDataCommand(entry: RespCommand): entry is DataCommand {
  return dataEntries.has(entry);
}

/** The entry that runs `argv`, or a ShoalError with Redis's message (unknown command, subcommand, arity). */
export function resolveCommand(argv: readonly Uint8Array[]): RespCommand {
  return COMMAND_TABLE.resolve(argv);
}
