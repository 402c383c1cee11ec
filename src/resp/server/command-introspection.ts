/**
 * @module COMMAND, COMMAND COUNT/INFO/DOCS/LIST/GETKEYS answered from the command table, in Redis 7's reply
 * shapes. Differences from Redis (documented in docs/redis-compat.md): ACL categories are derived from the flags
 * and the group (Redis lists a few extra ones per command, e.g. KEYS's @dangerous); command tips are empty; key
 * specs are derived from the (first, last, step) triple with RO/RW flags only; COMMAND DOCS has no `arguments`
 * (the table keeps the syntax as text).
 */
import { type CommandSpec, NO_KEYS } from "../../commands/redis/command-spec.js";
import type { CommandTable } from "../../commands/redis/command-table.js";
import { globMatch } from "../../commands/redis/glob.js";
import { array, bulk, integer, NULL, type Reply, simple } from "../../commands/redis/reply.js";
import { commandKeys } from "../../commands/redis/table.js";
import { ShoalError } from "../../lib/errors.js";

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

/** Redis prints ACL categories in the order of its category table (a bitmask walked from bit 0). */
const CATEGORY_ORDER = [
  "keyspace",
  "read",
  "write",
  "set",
  "sortedset",
  "list",
  "hash",
  "string",
  "bitmap",
  "hyperloglog",
  "geo",
  "stream",
  "pubsub",
  "admin",
  "fast",
  "slow",
  "blocking",
  "dangerous",
  "connection",
  "transaction",
  "scripting",
];

const GROUP_CATEGORY: Readonly<Record<CommandSpec["group"], string | undefined>> = {
  string: "string",
  generic: "keyspace",
  hash: "hash",
  connection: "connection",
  server: undefined,
  pubsub: "pubsub",
  transactions: "transaction",
  cluster: "connection", // Redis files READONLY/READWRITE under @connection
};

export function aclCategories(spec: CommandSpec): string[] {
  const categories = new Set<string>();
  const groupCategory = GROUP_CATEGORY[spec.group];
  // A container (CLIENT, CONFIG) has only @slow in Redis; its subcommands carry the rest.
  const isContainer = spec.subcommands !== undefined && spec.subcommands.length > 0;
  if (groupCategory !== undefined && !isContainer) categories.add(groupCategory);
  if (spec.flags.includes("write")) categories.add("write");
  if (spec.flags.includes("readonly")) categories.add("read");
  if (spec.flags.includes("pubsub")) categories.add("pubsub");
  if (spec.flags.includes("admin")) {
    categories.add("admin");
    categories.add("dangerous");
  }
  categories.add(spec.flags.includes("fast") ? "fast" : "slow");
  return CATEGORY_ORDER.filter((c) => categories.has(c)).map((c) => `@${c}`);
}

function keySpecs(spec: CommandSpec): Reply[] {
  if (spec.keys.first === 0) return [];
  const { first, last, step } = spec.keys;
  const access = spec.flags.includes("write")
    ? ["RW", "update"]
    : spec.flags.includes("readonly")
      ? ["RO", "access"]
      : ["RO"];
  return [
    {
      kind: "map",
      entries: [
        [bulk("flags"), { kind: "set", items: access.map(simple) }],
        [
          bulk("begin_search"),
          {
            kind: "map",
            entries: [
              [bulk("type"), bulk("index")],
              [bulk("spec"), { kind: "map", entries: [[bulk("index"), integer(first)]] }],
            ],
          },
        ],
        [
          bulk("find_keys"),
          {
            kind: "map",
            entries: [
              [bulk("type"), bulk("range")],
              [
                bulk("spec"),
                {
                  kind: "map",
                  entries: [
                    // Redis's lastkey is relative to the first key; negative counts from the end.
                    [bulk("lastkey"), integer(last < 0 ? last : last - first)],
                    [bulk("keystep"), integer(step)],
                    [bulk("limit"), integer(0)],
                  ],
                },
              ],
            ],
          },
        ],
      ],
    },
  ];
}

/** One COMMAND INFO entry: name, arity, flags, first, last, step, ACL categories, tips, key specs, subcommands. */
export function commandInfo(spec: CommandSpec): Reply {
  const keys = spec.keys ?? NO_KEYS;
  return array([
    bulk(spec.name),
    integer(spec.arity),
    { kind: "set", items: spec.flags.map(simple) },
    integer(keys.first),
    integer(keys.last),
    integer(keys.step),
    { kind: "set", items: aclCategories(spec).map(simple) },
    { kind: "set", items: [] },
    // Redis 7.0 sends key specs and subcommands as RESP3 sets (arrays in RESP2).
    { kind: "set", items: keySpecs(spec) },
    { kind: "set", items: (spec.subcommands ?? []).map(commandInfo) },
  ]);
}

/** One COMMAND DOCS value (a map): summary, since, group, complexity, subcommands. */
export function commandDocs(spec: CommandSpec): Reply {
  const entries: [Reply, Reply][] = [
    [bulk("summary"), bulk(spec.summary)],
    [bulk("since"), bulk(spec.since)],
    [bulk("group"), bulk(spec.group)],
    [bulk("complexity"), bulk(spec.complexity)],
  ];
  if (spec.subcommands !== undefined && spec.subcommands.length > 0) {
    entries.push([
      bulk("subcommands"),
      { kind: "map", entries: spec.subcommands.map((sub) => [bulk(sub.name), commandDocs(sub)] as const) },
    ]);
  }
  return { kind: "map", entries };
}

/** The full command table (resp/server/command-table.ts), as COMMAND reads it. */
type Table = CommandTable<CommandSpec>;

/** A command or "parent|sub" subcommand by name (COMMAND INFO client|id). */
export function lookupCommand(table: Table, name: string): CommandSpec | undefined {
  const bar = name.indexOf("|");
  if (bar < 0) return table.find(name);
  const parent = table.find(name.slice(0, bar));
  const full = name.toLowerCase();
  return parent?.subcommands?.find((sub) => sub.name === full);
}

function allNames(table: Table): string[] {
  const names: string[] = [];
  for (const spec of table.entries) {
    names.push(spec.name);
    for (const sub of spec.subcommands ?? []) names.push(sub.name);
  }
  return names;
}

/** COMMAND and its subcommands over `table`; argv[0] is "command". Throws ShoalError for Redis's errors. */
export function commandCommand(table: Table, argv: readonly Uint8Array[]): Reply {
  if (argv.length === 1) return array(table.entries.map(commandInfo));
  const sub = textDecoder.decode(argv[1]).toLowerCase();
  const names = argv.slice(2).map((arg) => textDecoder.decode(arg));
  switch (sub) {
    case "count":
      return integer(table.entries.length);
    case "info":
      if (names.length === 0) return array(table.entries.map(commandInfo));
      return array(
        names.map((name) => {
          const spec = lookupCommand(table, name);
          return spec === undefined ? NULL : commandInfo(spec);
        }),
      );
    case "docs": {
      const specs = names.length === 0 ? table.entries : names.flatMap((name) => lookupCommand(table, name) ?? []);
      return { kind: "map", entries: specs.map((spec) => [bulk(spec.name), commandDocs(spec)] as const) };
    }
    case "list":
      return array(listNames(table, argv.slice(2)).map((name) => bulk(name)));
    case "getkeys":
      return getKeys(table, argv.slice(2));
    case "help":
      return array(COMMAND_HELP.map(simple));
    default:
      throw new ShoalError("BAD_REQUEST", `unknown subcommand '${textDecoder.decode(argv[1])}'. Try COMMAND HELP.`);
  }
}

function listNames(table: Table, filter: readonly Uint8Array[]): string[] {
  if (filter.length === 0) return allNames(table);
  const [by, kind, value] = filter.map((arg) => textDecoder.decode(arg));
  if (filter.length !== 3 || by?.toLowerCase() !== "filterby" || value === undefined) {
    throw new ShoalError("BAD_REQUEST", "syntax error");
  }
  switch (kind?.toLowerCase()) {
    case "pattern": {
      const pattern = textEncoder.encode(value);
      return allNames(table).filter((name) => globMatch(pattern, textEncoder.encode(name), true));
    }
    case "aclcat": {
      const category = `@${value.toLowerCase()}`;
      return allNames(table).filter((name) => {
        const spec = lookupCommand(table, name);
        return spec !== undefined && aclCategories(spec).includes(category);
      });
    }
    case "module":
      return [];
    default:
      throw new ShoalError("BAD_REQUEST", "syntax error");
  }
}

function getKeys(table: Table, argv: readonly Uint8Array[]): Reply {
  let spec: CommandSpec;
  try {
    spec = table.resolve(argv);
  } catch {
    // Redis: an unknown command and a wrong argument count get their own texts here.
    const known = table.find(textDecoder.decode(argv[0]));
    throw new ShoalError(
      "BAD_REQUEST",
      known === undefined ? "Invalid command specified" : "Invalid number of arguments specified for command",
    );
  }
  const keys = commandKeys(spec, argv);
  if (keys.length === 0) throw new ShoalError("BAD_REQUEST", "The command has no key arguments");
  return array(keys.map((key) => bulk(key)));
}

/** Shoal's own wording (the subcommands are Redis's). */
const COMMAND_HELP = [
  "COMMAND <subcommand> [<arg> ...]. Subcommands are:",
  "(no subcommand)",
  "    Details of every command (as INFO).",
  "COUNT",
  "    How many commands there are.",
  "LIST [FILTERBY (MODULE <name>|ACLCAT <category>|PATTERN <pattern>)]",
  "    The command names, subcommands included.",
  "INFO [<command-name> ...]",
  "    Name, arity, flags, key positions, ACL categories and key specs of each command (all when none given).",
  "DOCS [<command-name> ...]",
  "    Summary, version, group and complexity of each command (all when none given).",
  "GETKEYS <full-command>",
  "    The key arguments of a whole command.",
  "HELP",
  "    This text.",
];
