/**
 * @module INFO, TIME, CONFIG GET/SET/RESETSTAT/HELP and COMMAND COUNT/INFO/DOCS/LIST/GETKEYS/HELP: each one entry
 * with its handler. COMMAND answers from the full table it is itself part of, so this family is built with a
 * way to reach that table (command-table.ts passes it).
 */

import type { CommandSpec } from "../../../commands/redis/command-spec.js";
import { commandFamily, NO_KEYS, subcommands, withDifferences } from "../../../commands/redis/command-spec.js";
import type { CommandTable } from "../../../commands/redis/command-table.js";
import { array, bulk, OK, type Reply } from "../../../commands/redis/reply.js";
import { ShoalError } from "../../../lib/errors.js";
import { MEMORY_PARAMETERS, type MemoryParameter, type MemoryPort } from "../backend.js";
import { commandCommand } from "../command-introspection.js";
import { configGet, infoText } from "../server-info.js";
import { decodeText } from "../session.js";
import { helpReply, type SessionCommand, type SessionHandler } from "../session-commands.js";

/** TIME's reply (also at its position in an EXEC). */
export function time(): Reply {
  const micros = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
  return array([bulk(String(micros / 1_000_000n)), bulk(String(micros % 1_000_000n))]);
}

const CONFIG_HELP = [
  "CONFIG <subcommand> [<arg> ...]. Subcommands are:",
  "GET <pattern> [<pattern> ...]",
  "    The parameters (and values) matching the glob patterns.",
  "SET <parameter> <value> ...",
  "    Sets maxmemory, maxmemory-policy or maxmemory-samples on this node; the rest is set when Shoal starts.",
  "RESETSTAT",
  "    Accepted.",
  "HELP",
  "    This text.",
];

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<SessionHandler>("server");

const ADMIN_FLAGS = ["admin", "noscript", "loading", "stale"] as const;
const READ_FLAGS = ["loading", "stale"] as const;
const HELP_DOC = {
  summary: "Show helpful text about the different subcommands",
  since: "5.0.0",
  complexity: "O(1)",
  syntax: "",
} as const;

/** The server family; COMMAND's subcommands read `table()`, the full table, when they run. */
export function serverCommands(table: () => CommandTable<CommandSpec>): readonly SessionCommand[] {
  const introspect: SessionHandler = (_session, argv) => commandCommand(table(), argv);
  const commands: readonly SessionCommand[] = [
    command(
      "info",
      -1,
      READ_FLAGS,
      NO_KEYS,
      {
        summary: "Get information and statistics about the server",
        since: "1.0.0",
        complexity: "O(1)",
        syntax: "[section [section ...]]",
      },
      (session, argv) => {
        const sections = argv.slice(1).map(decodeText);
        const { backend } = session.context;
        const text = infoText(
          sections,
          backend.facts(),
          session.context.figures(),
          backend.memory?.figures(),
          Date.now(),
        );
        return { kind: "verbatim", value: text };
      },
    ),
    command(
      "time",
      1,
      ["loading", "stale", "fast"],
      NO_KEYS,
      { summary: "Return the current server time", since: "2.6.0", complexity: "O(1)", syntax: "" },
      () => time(),
    ),
    command(
      "config",
      -2,
      [],
      NO_KEYS,
      {
        summary: "A container for server configuration commands",
        since: "2.0.0",
        complexity: "Depends on subcommand.",
        syntax: "",
      },
      subcommands(
        command(
          "config|get",
          -3,
          ADMIN_FLAGS,
          NO_KEYS,
          {
            summary: "Get the values of configuration parameters",
            since: "2.0.0",
            complexity: "O(N) when N is the number of configuration parameters provided",
            syntax: "parameter [parameter ...]",
          },
          (session, argv) => {
            const pairs = configGet(
              argv.slice(2),
              session.context.figures(),
              session.context.backend.memory?.figures(),
            );
            return { kind: "map", entries: pairs.map(([name, value]) => [bulk(name), bulk(value)] as const) };
          },
        ),
        command("config|help", 2, READ_FLAGS, NO_KEYS, HELP_DOC, () => helpReply(CONFIG_HELP)),
        command(
          "config|resetstat",
          2,
          ADMIN_FLAGS,
          NO_KEYS,
          { summary: "Reset the stats returned by INFO", since: "2.0.0", complexity: "O(1)", syntax: "" },
          () => OK,
        ),
        // Cache mode's maxmemory settings are set at run time, on this node (as Redis's are per server); every other
        // parameter is fixed at start (flags of `shoal start`).
        command(
          "config|set",
          -4,
          ADMIN_FLAGS,
          NO_KEYS,
          {
            summary: "Set configuration parameters to the given values",
            since: "2.0.0",
            complexity: "O(N) when N is the number of configuration parameters provided",
            syntax: "parameter value [parameter value ...]",
          },
          (session, argv) => {
            configSet(session.context.backend.memory, argv.slice(2).map(decodeText));
            return OK;
          },
        ),
      ),
    ),
    command(
      "command",
      -1,
      READ_FLAGS,
      NO_KEYS,
      {
        summary: "Get array of Redis command details",
        since: "2.8.13",
        complexity: "O(N) where N is the total number of Redis commands",
        syntax: "",
      },
      subcommands(
        command(
          "command|count",
          2,
          READ_FLAGS,
          NO_KEYS,
          { summary: "Get total number of Redis commands", since: "2.8.13", complexity: "O(1)", syntax: "" },
          introspect,
        ),
        command(
          "command|docs",
          -2,
          READ_FLAGS,
          NO_KEYS,
          {
            summary: "Get array of specific Redis command documentation",
            since: "7.0.0",
            complexity: "O(N) where N is the number of commands to look up",
            syntax: "[command-name [command-name ...]]",
          },
          introspect,
        ),
        command(
          "command|getkeys",
          -4,
          READ_FLAGS,
          NO_KEYS,
          {
            summary: "Extract keys given a full Redis command",
            since: "2.8.13",
            complexity: "O(N) where N is the number of arguments to the command",
            syntax: "",
          },
          introspect,
        ),
        command("command|help", 2, READ_FLAGS, NO_KEYS, HELP_DOC, introspect),
        command(
          "command|info",
          -2,
          READ_FLAGS,
          NO_KEYS,
          {
            summary: "Get array of specific Redis command details, or all when no argument is given.",
            since: "2.8.13",
            complexity: "O(N) where N is the number of commands to look up",
            syntax: "[command-name [command-name ...]]",
          },
          introspect,
        ),
        command(
          "command|list",
          -2,
          READ_FLAGS,
          NO_KEYS,
          {
            summary: "Get an array of Redis command names",
            since: "7.0.0",
            complexity: "O(N) where N is the total number of Redis commands",
            syntax: "[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]",
          },
          introspect,
        ),
      ),
    ),
  ];
  return withDifferences(commands, {
    info: "Sections server, clients, memory, stats, replication (role:master on the Raft leader, role:slave elsewhere), keyspace with fewer fields than Redis, plus a raft section (role, term, leader, indexes, revision).",
    config:
      "GET answers the parameters clients probe (requirepass reads as empty); SET is refused: settings are node flags; RESETSTAT answers OK.",
    "config|get":
      "Answers the parameters clients probe, plus Shoal's bounds: shoal-key-max-bytes, shoal-value-max-bytes, shoal-entry-max-bytes.",
    command:
      "COMMAND DOCS has no argument trees; COMMAND INFO derives ACL categories from flags and group, and has no tips.",
  });
}

/** CONFIG SET name value [name value …]: all or nothing, with Redis's texts for an unknown or repeated parameter. */
function configSet(memory: MemoryPort | undefined, args: readonly string[]): void {
  if (args.length % 2 !== 0) throw new ShoalError("BAD_REQUEST", "wrong number of arguments for 'config|set' command");
  const changes: [MemoryParameter, string][] = [];
  for (let i = 0; i < args.length; i += 2) {
    const name = (args[i] as string).toLowerCase();
    const known = MEMORY_PARAMETERS.find((parameter) => parameter === name);
    if (known === undefined || memory === undefined) {
      throw new ShoalError(
        "BAD_REQUEST",
        `Unknown option or number of arguments for CONFIG SET - '${args[i]}' (Shoal sets ${MEMORY_PARAMETERS.join(", ")} at run time; the rest are flags of shoal start)`,
      );
    }
    if (changes.some(([seen]) => seen === known)) {
      throw new ShoalError(
        "BAD_REQUEST",
        `CONFIG SET failed (possibly related to argument '${name}') - duplicate parameter`,
      );
    }
    changes.push([known, args[i + 1] as string]);
  }
  memory?.set(changes);
}
