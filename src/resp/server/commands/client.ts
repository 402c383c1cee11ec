/**
 * @module CLIENT and the subcommands Shoal answers (ID, SETNAME, GETNAME, INFO, LIST, SETINFO, NO-EVICT,
 * NO-TOUCH, HELP): each subcommand one entry with its handler. CLIENT SETINFO and CLIENT NO-TOUCH are Redis 7.2's,
 * accepted because clients send them.
 */
import { int64Arg, isKeyword, SYNTAX_ERROR } from "../../../commands/redis/args.js";
import { commandFamily, NO_KEYS, subcommands } from "../../../commands/redis/command-spec.js";
import { bulk, integer, OK, type Reply } from "../../../commands/redis/reply.js";
import { ShoalError } from "../../../lib/errors.js";
import { decodeText, type Session } from "../session.js";
import { helpReply, type SessionCommand, type SessionHandler } from "../session-commands.js";

/** Redis: a client name is printable ASCII without spaces ('!'..'~'); empty clears it. */
export function clientName(bytes: Uint8Array): string {
  for (const byte of bytes) {
    if (byte < 0x21 || byte > 0x7e) {
      throw new ShoalError("BAD_REQUEST", "Client names cannot contain spaces, newlines or special characters.");
    }
  }
  return decodeText(bytes);
}

function checkedInfo(value: string): string {
  if (/[^!-~]/.test(value)) {
    throw new ShoalError("BAD_REQUEST", "lib-name and lib-ver cannot contain spaces, newlines or special characters.");
  }
  return value;
}

function onOff(arg: Uint8Array): Reply {
  if (!isKeyword(arg, "ON") && !isKeyword(arg, "OFF")) throw new ShoalError("BAD_REQUEST", SYNTAX_ERROR);
  return OK;
}

function describeOne(session: Session): string {
  const client = session.context.clients.get(session.id);
  return client?.describe(Date.now()) ?? "";
}

function clientList(session: Session, argv: Uint8Array[]): Reply {
  let clients = [...session.context.clients.values()];
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i] as Uint8Array;
    if (isKeyword(option, "TYPE") && i + 1 < argv.length) {
      const type = decodeText(argv[i + 1] as Uint8Array).toLowerCase();
      if (type === "normal") clients = clients.filter((client) => !client.isPubSub);
      else if (type === "pubsub") clients = clients.filter((client) => client.isPubSub);
      else if (type === "master" || type === "replica" || type === "slave") clients = [];
      else throw new ShoalError("BAD_REQUEST", `Unknown client type '${decodeText(argv[i + 1] as Uint8Array)}'`);
      i++;
    } else if (isKeyword(option, "ID") && i + 1 < argv.length) {
      const ids = new Set<number>();
      for (i++; i < argv.length; i++) {
        const id = int64Arg(argv[i] as Uint8Array, "Invalid client ID");
        if (id <= 0n) throw new ShoalError("BAD_REQUEST", "Invalid client ID");
        ids.add(Number(id));
      }
      clients = clients.filter((client) => ids.has(client.id));
    } else {
      throw new ShoalError("BAD_REQUEST", SYNTAX_ERROR);
    }
  }
  const now = Date.now();
  return { kind: "verbatim", value: clients.map((client) => `${client.describe(now)}\n`).join("") };
}

// Shoal's own wording of the subcommands it answers.
const CLIENT_HELP = [
  "CLIENT <subcommand> [<arg> ...]. Subcommands are:",
  "ID",
  "    This connection's id.",
  "SETNAME <name>",
  "    Names this connection (printable characters, no spaces).",
  "GETNAME",
  "    This connection's name.",
  "INFO",
  "    This connection, as one CLIENT LIST line.",
  "LIST [TYPE (NORMAL|PUBSUB)] [ID <id> ...]",
  "    Every connection to this node.",
  "SETINFO (LIB-NAME|LIB-VER) <value>",
  "    The client library's name or version.",
  "NO-EVICT (ON|OFF), NO-TOUCH (ON|OFF)",
  "    Accepted; Shoal neither evicts clients nor tracks key access.",
  "HELP",
  "    This text.",
];

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<SessionHandler>("connection");

const NOSCRIPT = ["noscript", "loading", "stale"] as const;

export const clientCommand: SessionCommand = command(
  "client",
  -2,
  [],
  NO_KEYS,
  {
    summary: "A container for client connection commands",
    since: "2.4.0",
    complexity: "Depends on subcommand.",
    syntax: "",
  },
  subcommands(
    command(
      "client|getname",
      2,
      NOSCRIPT,
      NO_KEYS,
      { summary: "Get the current connection name", since: "2.6.9", complexity: "O(1)", syntax: "" },
      (session) => (session.name === "" ? { kind: "null" } : bulk(session.name)),
    ),
    command(
      "client|help",
      2,
      ["loading", "stale"],
      NO_KEYS,
      { summary: "Show helpful text about the different subcommands", since: "5.0.0", complexity: "O(1)", syntax: "" },
      () => helpReply(CLIENT_HELP),
    ),
    command(
      "client|id",
      2,
      NOSCRIPT,
      NO_KEYS,
      { summary: "Returns the client ID for the current connection", since: "5.0.0", complexity: "O(1)", syntax: "" },
      (session) => integer(session.id),
    ),
    command(
      "client|info",
      2,
      NOSCRIPT,
      NO_KEYS,
      {
        summary: "Returns information about the current client connection.",
        since: "6.2.0",
        complexity: "O(1)",
        syntax: "",
      },
      (session) => ({ kind: "verbatim", value: `${describeOne(session)}\n` }),
    ),
    command(
      "client|list",
      -2,
      ["admin", ...NOSCRIPT],
      NO_KEYS,
      {
        summary: "Get the list of client connections",
        since: "2.4.0",
        complexity: "O(N) where N is the number of client connections",
        syntax: "[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]",
      },
      clientList,
    ),
    // Shoal does not evict clients: accepted so clients that send it work.
    command(
      "client|no-evict",
      3,
      ["admin", ...NOSCRIPT],
      NO_KEYS,
      {
        summary: "Set client eviction mode for the current connection",
        since: "7.0.0",
        complexity: "O(1)",
        syntax: "<ON | OFF>",
      },
      (_session, argv) => onOff(argv[2] as Uint8Array),
    ),
    // Redis 7.2 (not in 7.0.15); node-redis sends it on connect, so it is accepted.
    command(
      "client|setinfo",
      4,
      NOSCRIPT,
      NO_KEYS,
      {
        summary: "Sets information specific to the client or connection.",
        since: "7.2.0",
        complexity: "O(1)",
        syntax: "<LIB-NAME libname | LIB-VER libversion>",
      },
      (session, argv) => {
        const value = decodeText(argv[3] as Uint8Array);
        if (isKeyword(argv[2] as Uint8Array, "LIB-NAME")) session.libName = checkedInfo(value);
        else if (isKeyword(argv[2] as Uint8Array, "LIB-VER")) session.libVersion = checkedInfo(value);
        else throw new ShoalError("BAD_REQUEST", `Unrecognized option '${decodeText(argv[2] as Uint8Array)}'`);
        return OK;
      },
    ),
    // Redis 7.2 (not in 7.0.15): Shoal keeps no LRU/LFU, so it is accepted and changes nothing.
    command(
      "client|no-touch",
      3,
      NOSCRIPT,
      NO_KEYS,
      {
        summary: "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
        since: "7.2.0",
        complexity: "O(1)",
        syntax: "<ON | OFF>",
      },
      (_session, argv) => onOff(argv[2] as Uint8Array),
    ),
    command(
      "client|setname",
      3,
      NOSCRIPT,
      NO_KEYS,
      { summary: "Set the current connection name", since: "2.6.9", complexity: "O(1)", syntax: "connection-name" },
      (session, argv) => {
        session.name = clientName(argv[2] as Uint8Array);
        return OK;
      },
    ),
  ),
);
