/**
 * @module The connection commands (PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET, CLIENT): each one entry, spec and
 * handler, over the session's state. Names, arities, flags,
 * summaries and syntax are Redis 7.0.15's (`COMMAND INFO` / `COMMAND DOCS`).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { int64Arg, isKeyword, SYNTAX_ERROR } from "../../../commands/redis/args.js";
import { commandFamily, NO_KEYS, withDifferences } from "../../../commands/redis/command-spec.js";
import { array, bulk, errorReply, integer, OK, type Reply, simple } from "../../../commands/redis/reply.js";
import { ShoalError } from "../../../lib/errors.js";
import { REDIS_VERSION } from "../server-info.js";
import { decodeText, type Session } from "../session.js";
import type { SessionCommand, SessionHandler } from "../session-commands.js";
import { clientCommand, clientName } from "./client.js";

/** PING's reply outside MULTI; inside, EXEC answers it at its position (transactions.ts). */
const ping: SessionHandler = (session, argv) => {
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
};

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

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<SessionHandler>("connection");

const NO_AUTH_FLAGS = ["noscript", "loading", "stale", "fast", "no_auth", "allow_busy"] as const;

const commands: readonly SessionCommand[] = [
  command(
    "ping",
    -1,
    ["fast"],
    NO_KEYS,
    { summary: "Ping the server", since: "1.0.0", complexity: "O(1)", syntax: "[message]" },
    ping,
  ),
  command(
    "echo",
    2,
    ["loading", "stale", "fast"],
    NO_KEYS,
    { summary: "Echo the given string", since: "1.0.0", complexity: "O(1)", syntax: "message" },
    (_session, argv) => bulk(argv[1] as Uint8Array),
  ),
  command(
    "hello",
    -1,
    NO_AUTH_FLAGS,
    NO_KEYS,
    {
      summary: "Handshake with Redis",
      since: "6.0.0",
      complexity: "O(1)",
      syntax: "[protover [AUTH username password] [SETNAME clientname]]",
    },
    hello,
  ),
  command(
    "auth",
    -2,
    NO_AUTH_FLAGS,
    NO_KEYS,
    {
      summary: "Authenticate to the server",
      since: "1.0.0",
      complexity: "O(N) where N is the number of passwords defined for the user",
      syntax: "[username] password",
    },
    auth,
  ),
  command(
    "select",
    2,
    ["loading", "stale", "fast"],
    NO_KEYS,
    {
      summary: "Change the selected database for the current connection",
      since: "1.0.0",
      complexity: "O(1)",
      syntax: "index",
    },
    (_session, argv) => {
      const index = int64Arg(argv[1] as Uint8Array);
      // Shoal has one keyspace: SELECT 0 is accepted so clients configured with a database work.
      if (index !== 0n) throw new ShoalError("BAD_REQUEST", "DB index is out of range");
      return OK;
    },
  ),
  command(
    "quit",
    -1,
    NO_AUTH_FLAGS,
    NO_KEYS,
    { summary: "Close the connection", since: "1.0.0", complexity: "O(1)", syntax: "" },
    (session) => {
      session.quitting = true;
      return OK;
    },
  ),
  command(
    "reset",
    1,
    NO_AUTH_FLAGS,
    NO_KEYS,
    { summary: "Reset the connection", since: "6.2.0", complexity: "O(1)", syntax: "" },
    (session) => {
      session.reset();
      return simple("RESET");
    },
  ),
  clientCommand,
];

export const connectionCommands: readonly SessionCommand[] = withDifferences(commands, {
  select: "One database: only SELECT 0 succeeds (like Redis Cluster).",
  auth: "The default user only, with the password given by --requirepass (no ACL users).",
  hello:
    "Answers server redis, version 7.0.15, mode standalone, role master on the Raft leader and replica on the other nodes.",
  client: "ID, SETNAME, GETNAME, LIST, INFO, SETINFO, NO-EVICT, NO-TOUCH, HELP; no KILL, PAUSE, TRACKING, REPLY.",
});
