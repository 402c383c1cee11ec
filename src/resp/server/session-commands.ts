/**
 * @module The commands the RESP server answers itself (their specs are in commands/redis/families/connection.ts):
 * connection state (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT, READONLY/READWRITE), transactions
 * (MULTI, EXEC, DISCARD, WATCH, UNWATCH), pub/sub, and server introspection (INFO, TIME, CONFIG, COMMAND).
 * Replies are written straight to the session's writer, with Redis's texts.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { COMMAND_LIMITS, entryTooLarge } from "../../commands/limits.js";
import { int64Arg, isKeyword, SYNTAX_ERROR } from "../../commands/redis/args.js";
import { checkCommandLimits } from "../../commands/redis/command-limits.js";
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import { resolveCommand } from "../../commands/redis/execute.js";
import { array, bulk, errorReply, integer, NULL_ARRAY, OK, type Reply, simple } from "../../commands/redis/reply.js";
import { commandKeys } from "../../commands/redis/table.js";
import { ShoalError } from "../../lib/errors.js";
import type { WatchTicket } from "./backend.js";
import { commandCommand } from "./command-introspection.js";
import { errorFromException, writeReply } from "./error-reply.js";
import { configGet, infoText, REDIS_VERSION } from "./server-info.js";
import { decodeText, keyString, type Session } from "./session.js";

/** Answered without the log even inside MULTI, at their position in EXEC's reply. */
export const QUEUEABLE_LOCALLY = new Set(["ping", "echo", "time", "unwatch"]);

/** Not queued inside MULTI (Redis: EXEC, DISCARD, MULTI, WATCH, QUIT, RESET run at once). */
const MULTI_CONTROL = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

export function isMultiControl(name: string): boolean {
  return MULTI_CONTROL.has(name);
}

const WATCHED_KEYS_MAX = 100_000;

type Handler = (session: Session, argv: Uint8Array[]) => Reply | Promise<Reply> | undefined;

/** Runs a connection/server command; a returned promise settles once its reply is written. */
export function handleSessionCommand(
  session: Session,
  spec: CommandSpec,
  argv: Uint8Array[],
): Promise<void> | undefined {
  const handler = HANDLERS[spec.name];
  let result: Reply | Promise<Reply> | undefined;
  try {
    result =
      handler === undefined
        ? errorReply("BAD_REQUEST", `'${spec.name}' is not supported by Shoal`)
        : handler(session, argv);
  } catch (error) {
    result = errorFromException(error);
  }
  if (result === undefined) return undefined;
  if (!(result instanceof Promise)) {
    writeReply(session.writer, result);
    return undefined;
  }
  return result.then(
    (reply) => writeReply(session.writer, reply),
    (error: unknown) => writeReply(session.writer, errorFromException(error)),
  );
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  ping: (session, argv) => ping(session, argv),
  echo: (_session, argv) => bulk(argv[1] as Uint8Array),
  time: () => time(),
  hello,
  auth,
  select: (_session, argv) => {
    const index = int64Arg(argv[1] as Uint8Array);
    // Shoal has one keyspace: SELECT 0 is accepted so clients configured with a database work.
    if (index !== 0n) throw new ShoalError("BAD_REQUEST", "DB index is out of range");
    return OK;
  },
  quit: (session) => {
    session.quitting = true;
    return OK;
  },
  reset: (session) => {
    session.reset();
    return simple("RESET");
  },
  readonly: (session) => {
    session.readonlyStale = true;
    return OK;
  },
  readwrite: (session) => {
    session.readonlyStale = false;
    return OK;
  },
  "client|id": (session) => integer(session.id),
  "client|setname": (session, argv) => {
    session.name = clientName(argv[2] as Uint8Array);
    return OK;
  },
  "client|getname": (session) => (session.name === "" ? { kind: "null" } : bulk(session.name)),
  "client|info": (session) => ({ kind: "verbatim", value: `${describeOne(session)}\n` }),
  "client|list": clientList,
  "client|setinfo": (session, argv) => {
    const value = decodeText(argv[3] as Uint8Array);
    if (isKeyword(argv[2] as Uint8Array, "LIB-NAME")) session.libName = checkedInfo(value);
    else if (isKeyword(argv[2] as Uint8Array, "LIB-VER")) session.libVersion = checkedInfo(value);
    else throw new ShoalError("BAD_REQUEST", `Unrecognized option '${decodeText(argv[2] as Uint8Array)}'`);
    return OK;
  },
  // Shoal neither evicts clients nor tracks LRU: accepted so clients that send them work.
  "client|no-evict": (_session, argv) => onOff(argv[2] as Uint8Array),
  "client|no-touch": (_session, argv) => onOff(argv[2] as Uint8Array),
  "client|help": () => help(CLIENT_HELP),
  multi: (session) => {
    if (session.multi !== undefined) throw new ShoalError("BAD_REQUEST", "MULTI calls can not be nested");
    session.startMulti();
    return OK;
  },
  discard: (session) => {
    if (session.multi === undefined) throw new ShoalError("BAD_REQUEST", "DISCARD without MULTI");
    session.multi = undefined;
    session.watches.clear();
    return OK;
  },
  exec,
  watch,
  unwatch: (session) => {
    session.watches.clear();
    return OK;
  },
  subscribe: (session, argv) => subscribe(session, argv, "subscribe"),
  psubscribe: (session, argv) => subscribe(session, argv, "psubscribe"),
  unsubscribe: (session, argv) => unsubscribe(session, argv, "unsubscribe"),
  punsubscribe: (session, argv) => unsubscribe(session, argv, "punsubscribe"),
  publish: async (session, argv) =>
    integer(await session.context.backend.pubsub.publish(argv[1] as Uint8Array, argv[2] as Uint8Array)),
  "pubsub|channels": async (session, argv) => {
    if (argv.length > 3) throw new ShoalError("BAD_REQUEST", "wrong number of arguments for 'pubsub|channels' command");
    const channels = await session.context.backend.pubsub.channels(argv[2]);
    return array(channels.map((channel) => bulk(channel)));
  },
  "pubsub|numsub": async (session, argv) => {
    const channels = argv.slice(2);
    const counts = await session.context.backend.pubsub.numsub(channels);
    // Redis 7: a flat array of channel, count — also in RESP3.
    return array(channels.flatMap((channel, i) => [bulk(channel), integer(counts[i] ?? 0)]));
  },
  "pubsub|numpat": async (session) => integer(await session.context.backend.pubsub.numpat()),
  "pubsub|help": () => help(PUBSUB_HELP),
  info: (session, argv) => {
    const sections = argv.slice(1).map(decodeText);
    const text = infoText(sections, session.context.backend.facts(), session.context.figures(), Date.now());
    return { kind: "verbatim", value: text };
  },
  "config|get": (session, argv) => {
    const pairs = configGet(argv.slice(2), session.context.figures());
    return { kind: "map", entries: pairs.map(([name, value]) => [bulk(name), bulk(value)] as const) };
  },
  // Deliberate: Shoal's configuration is fixed at start (flags of `shoal start`); nothing is set at run time.
  "config|set": (_session, argv) => {
    throw new ShoalError(
      "BAD_REQUEST",
      `CONFIG SET is not supported: Shoal is configured at start - '${decodeText(argv[2] as Uint8Array)}'`,
    );
  },
  "config|resetstat": () => OK,
  "config|help": () => help(CONFIG_HELP),
  command: (_session, argv) => commandCommand(argv),
  "command|count": (_session, argv) => commandCommand(argv),
  "command|info": (_session, argv) => commandCommand(argv),
  "command|docs": (_session, argv) => commandCommand(argv),
  "command|list": (_session, argv) => commandCommand(argv),
  "command|getkeys": (_session, argv) => commandCommand(argv),
  "command|help": (_session, argv) => commandCommand(argv),
};

function ping(session: Session, argv: Uint8Array[]): Reply | undefined {
  if (argv.length > 2) throw new ShoalError("BAD_REQUEST", "wrong number of arguments for 'ping' command");
  if (session.writer.version === 2 && session.subscriptionCount > 0) {
    // Redis: in RESP2 subscribe mode PING answers a pub/sub-shaped array ["pong", message or ""].
    session.writer
      .arrayHeader(2)
      .bulk("pong")
      .bulk(argv[1] ?? "");
    return undefined;
  }
  return argv.length === 2 ? bulk(argv[1] as Uint8Array) : simple("PONG");
}

function time(): Reply {
  const micros = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() % 1) * 1000));
  return array([bulk(String(micros / 1_000_000n)), bulk(String(micros % 1_000_000n))]);
}

const WRONG_PASSWORD = "invalid username-password pair or user is disabled.";

/** Checks `user`/`password` against requirepass the way Redis's default user does. */
function authenticate(session: Session, user: Uint8Array | undefined, password: Uint8Array): Reply | undefined {
  const required = session.context.requirePass;
  if (user !== undefined && decodeText(user) !== "default") return errorReply("WRONG_PASSWORD", WRONG_PASSWORD);
  // Without requirepass the default user is "nopass": any password is accepted (Redis).
  if (required !== undefined && !samePassword(password, required)) {
    return errorReply("WRONG_PASSWORD", WRONG_PASSWORD);
  }
  session.authenticated = true;
  return undefined;
}

function samePassword(given: Uint8Array, required: string): boolean {
  // Hashes of equal length, compared in constant time: neither length nor prefix leaks through timing.
  const a = createHash("sha256").update(given).digest();
  const b = createHash("sha256").update(required).digest();
  return timingSafeEqual(a, b);
}

function auth(session: Session, argv: Uint8Array[]): Reply {
  if (argv.length > 3) throw new ShoalError("BAD_REQUEST", SYNTAX_ERROR);
  if (argv.length === 2 && session.context.requirePass === undefined) {
    throw new ShoalError(
      "BAD_REQUEST",
      "AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
    );
  }
  const user = argv.length === 3 ? argv[1] : undefined;
  return authenticate(session, user, argv[argv.length - 1] as Uint8Array) ?? OK;
}

function hello(session: Session, argv: Uint8Array[]): Reply {
  let version = session.writer.version;
  if (argv.length >= 2) {
    const requested = int64Arg(argv[1] as Uint8Array, "Protocol version is not an integer or out of range");
    if (requested !== 2n && requested !== 3n)
      throw new ShoalError("UNSUPPORTED_PROTOCOL", "unsupported protocol version");
    version = requested === 2n ? 2 : 3;
  }
  let credentials: [Uint8Array, Uint8Array] | undefined;
  let name: string | undefined;
  for (let i = 2; i < argv.length; i++) {
    const option = argv[i] as Uint8Array;
    const more = argv.length - 1 - i;
    if (isKeyword(option, "AUTH") && more >= 2) {
      credentials = [argv[i + 1] as Uint8Array, argv[i + 2] as Uint8Array];
      i += 2;
    } else if (isKeyword(option, "SETNAME") && more >= 1) {
      name = clientName(argv[i + 1] as Uint8Array);
      i += 1;
    } else {
      throw new ShoalError("BAD_REQUEST", `Syntax error in HELLO option '${decodeText(option)}'`);
    }
  }
  if (!session.authenticated && credentials === undefined) {
    throw new ShoalError(
      "UNAUTHENTICATED",
      "HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
    );
  }
  if (credentials !== undefined) {
    const failure = authenticate(session, credentials[0], credentials[1]);
    if (failure !== undefined) return failure;
  }
  if (name !== undefined) session.name = name;
  session.writer.version = version;
  return {
    kind: "map",
    entries: [
      [bulk("server"), bulk("redis")],
      [bulk("version"), bulk(REDIS_VERSION)],
      [bulk("proto"), integer(version)],
      [bulk("id"), integer(session.id)],
      [bulk("mode"), bulk("standalone")],
      // Redis answers "master" or "replica": the Raft leader is the master, every other member a replica of it.
      [bulk("role"), bulk(session.context.backend.role() === "leader" ? "master" : "replica")],
      [bulk("modules"), array([])],
    ],
  };
}

/** Redis: a client name is printable ASCII without spaces ('!'..'~'); empty clears it. */
function clientName(bytes: Uint8Array): string {
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

async function exec(session: Session): Promise<Reply> {
  const multi = session.multi;
  if (multi === undefined) throw new ShoalError("BAD_REQUEST", "EXEC without MULTI");
  session.multi = undefined;
  const watches: WatchTicket[] = [...session.watches.values()];
  session.watches.clear();
  if (multi.dirty) throw new ShoalError("EXEC_ABORTED", "Transaction discarded because of previous errors.");
  const dataArgvs = multi.commands.filter((argv) => !QUEUEABLE_LOCALLY.has(specName(argv)));
  let logReplies: readonly Reply[] = [];
  if (dataArgvs.length > 0 || watches.length > 0) {
    // The whole block, reads included, is one entry: atomic and in the same order on every replica.
    const outcome = await session.context.backend.runInLog(dataArgvs, watches.length > 0 ? watches : undefined);
    if (outcome.aborted) return NULL_ARRAY;
    logReplies = outcome.replies;
  }
  let next = 0;
  const replies = multi.commands.map((argv): Reply => {
    const name = specName(argv);
    if (!QUEUEABLE_LOCALLY.has(name)) return logReplies[next++] ?? errorReply("INTERNAL", "missing reply");
    if (name === "ping") return argv.length === 2 ? bulk(argv[1] as Uint8Array) : simple("PONG");
    if (name === "echo") return bulk(argv[1] as Uint8Array);
    // Redis queues UNWATCH; at EXEC the watches were already checked, so it only answers OK.
    if (name === "unwatch") return OK;
    return time();
  });
  return array(replies);
}

function specName(argv: readonly Uint8Array[]): string {
  return decodeText(argv[0] as Uint8Array).toLowerCase();
}

async function watch(session: Session, argv: Uint8Array[]): Promise<Reply> {
  if (session.multi !== undefined) throw new ShoalError("BAD_REQUEST", "WATCH inside MULTI is not allowed");
  const spec = resolveCommand(argv);
  checkCommandLimits(spec, argv); // a key too long to be stored is refused, as by every command
  const keys = commandKeys(spec, argv).filter((key) => !session.watches.has(keyString(key)));
  if (session.watches.size + keys.length > WATCHED_KEYS_MAX) {
    throw new ShoalError("TOO_LARGE", `at most ${WATCHED_KEYS_MAX} keys may be watched`);
  }
  // The watched keys travel in the EXEC's entry: they must leave it room.
  if (session.entryBytesWithWatches(keys) > COMMAND_LIMITS.entrySizeBytesMax) throw entryTooLarge();
  const tokens = await session.context.backend.watchRevisions(keys, session.readonlyStale);
  for (const token of tokens) {
    const id = keyString(token.key);
    // Redis: watching a key twice keeps the first watch.
    if (!session.watches.has(id)) session.watches.set(id, { ...token, key: Uint8Array.from(token.key) });
  }
  return OK;
}

type SubscribeKind = "subscribe" | "psubscribe";
type UnsubscribeKind = "unsubscribe" | "punsubscribe";

function subscribe(session: Session, argv: Uint8Array[], kind: SubscribeKind): undefined {
  const pubsub = session.context.backend.pubsub;
  const table = kind === "subscribe" ? session.channels : session.patterns;
  for (const target of argv.slice(1)) {
    const id = keyString(target);
    if (!table.has(id)) {
      const copy = Uint8Array.from(target);
      table.set(id, copy);
      if (kind === "subscribe") pubsub.subscribe(session, copy);
      else pubsub.psubscribe(session, copy);
    }
    session.writer.pushHeader(3).bulk(kind).bulk(target).integer(session.subscriptionCount);
  }
  return undefined;
}

function unsubscribe(session: Session, argv: Uint8Array[], kind: UnsubscribeKind): undefined {
  const pubsub = session.context.backend.pubsub;
  const table = kind === "unsubscribe" ? session.channels : session.patterns;
  const targets = argv.length > 1 ? argv.slice(1) : [...table.values()];
  if (targets.length === 0) {
    // Redis: unsubscribing from nothing still answers once, with a null channel.
    session.writer.pushHeader(3).bulk(kind).null().integer(session.subscriptionCount);
    return undefined;
  }
  for (const target of targets) {
    const id = keyString(target);
    const held = table.get(id);
    if (held !== undefined) {
      table.delete(id);
      if (kind === "unsubscribe") pubsub.unsubscribe(session, held);
      else pubsub.punsubscribe(session, held);
    }
    session.writer.pushHeader(3).bulk(kind).bulk(target).integer(session.subscriptionCount);
  }
  return undefined;
}

function help(lines: readonly string[]): Reply {
  return array(lines.map(simple));
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

const PUBSUB_HELP = [
  "PUBSUB <subcommand> [<arg> ...]. Subcommands are:",
  "CHANNELS [<pattern>]",
  "    Channels with at least one subscriber on any node, matching the pattern when given.",
  "NUMSUB [<channel> ...]",
  "    Each channel and its subscriber count over every node.",
  "NUMPAT",
  "    Pattern subscriptions over every node.",
  "HELP",
  "    This text.",
];

const CONFIG_HELP = [
  "CONFIG <subcommand> [<arg> ...]. Subcommands are:",
  "GET <pattern> [<pattern> ...]",
  "    The parameters (and values) matching the glob patterns.",
  "SET <parameter> <value> ...",
  "    Not supported: Shoal is configured when it starts.",
  "RESETSTAT",
  "    Accepted.",
  "HELP",
  "    This text.",
];
