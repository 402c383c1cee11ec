/**
 * @module MULTI, EXEC, DISCARD, WATCH, UNWATCH: each one entry with its handler. An EXEC block is one Raft entry
 * holding the queued data commands and the WATCHed keys' revisions; PING, ECHO, TIME and UNWATCH are answered at
 * their position in EXEC's reply without the log.
 */

import { COMMAND_LIMITS, entryTooLarge } from "../../../commands/limits.js";
import { checkCommandLimits } from "../../../commands/redis/command-limits.js";
import { commandName } from "../../../commands/redis/command-name.js";
import { ALL_KEYS, commandFamily, NO_KEYS, withDifferences } from "../../../commands/redis/command-spec.js";
import { array, bulk, errorReply, NULL_ARRAY, OK, type Reply, simple } from "../../../commands/redis/reply.js";
import { commandKeys } from "../../../commands/redis/table.js";
import { ShoalError } from "../../../lib/errors.js";
import type { WatchTicket } from "../backend.js";
import { keyString, type Session } from "../session.js";
import { QUEUEABLE_LOCALLY, type SessionCommand, type SessionHandler } from "../session-commands.js";
import { time } from "./server.js";

const WATCHED_KEYS_MAX = 100_000;

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
    const outcome = await session.context.backend.runInLog(dataArgvs, watches.length > 0 ? watches : undefined, true);
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
  return commandName(argv[0] as Uint8Array);
}

async function watch(session: Session, argv: Uint8Array[]): Promise<Reply> {
  if (session.multi !== undefined) throw new ShoalError("BAD_REQUEST", "WATCH inside MULTI is not allowed");
  checkCommandLimits(WATCH, argv); // a key too long to be stored is refused, as by every command
  const keys = commandKeys(WATCH, argv).filter((key) => !session.watches.has(keyString(key)));
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

// ---- the table --------------------------------------------------------------------------------------------

const command = commandFamily<SessionHandler>("transactions");

const CONTROL_FLAGS = ["noscript", "loading", "stale", "fast", "allow_busy"] as const;

/** WATCH's own entry: its handler reads the keys by the entry's key positions, as routing does. */
const WATCH: SessionCommand = command(
  "watch",
  -2,
  CONTROL_FLAGS,
  ALL_KEYS,
  {
    summary: "Watch the given keys to determine execution of the MULTI/EXEC block",
    since: "2.2.0",
    complexity: "O(1) for every key.",
    syntax: "key [key ...]",
  },
  watch,
);

const commands: readonly SessionCommand[] = [
  command(
    "multi",
    1,
    CONTROL_FLAGS,
    NO_KEYS,
    { summary: "Mark the start of a transaction block", since: "1.2.0", complexity: "O(1)", syntax: "" },
    (session) => {
      if (session.multi !== undefined) throw new ShoalError("BAD_REQUEST", "MULTI calls can not be nested");
      session.startMulti();
      return OK;
    },
  ),
  command(
    "exec",
    1,
    ["noscript", "loading", "stale"],
    NO_KEYS,
    {
      summary: "Execute all commands issued after MULTI",
      since: "1.2.0",
      complexity: "Depends on commands in the transaction",
      syntax: "",
    },
    exec,
  ),
  command(
    "discard",
    1,
    CONTROL_FLAGS,
    NO_KEYS,
    {
      summary: "Discard all commands issued after MULTI",
      since: "2.0.0",
      complexity: "O(N), when N is the number of queued commands",
      syntax: "",
    },
    (session) => {
      if (session.multi === undefined) throw new ShoalError("BAD_REQUEST", "DISCARD without MULTI");
      session.multi = undefined;
      session.watches.clear();
      return OK;
    },
  ),
  WATCH,
  command(
    "unwatch",
    1,
    CONTROL_FLAGS,
    NO_KEYS,
    { summary: "Forget about all watched keys", since: "2.2.0", complexity: "O(1)", syntax: "" },
    (session) => {
      session.watches.clear();
      return OK;
    },
  ),
];

export const transactionCommands: readonly SessionCommand[] = withDifferences(commands, {
  multi:
    "Only data commands and PING, ECHO, TIME, UNWATCH may be queued (an EXEC is one Raft entry); others answer an error and abort the EXEC. A block holds at most 10,000 commands and, with its WATCHed keys, must fit one entry (17 MiB, shoal-entry-max-bytes).",
  exec: "The block is one Raft entry: atomic on every replica, WATCHed keys checked by revision at apply.",
  watch:
    "Records each key's revision with a linearizable read; EXEC aborts if any changed (EXPIRE, deletes and expiry count as changes). A key absent at WATCH that is created and deleted again is found in the watch history at EXEC (an EXEC whose WATCH fell out of the history aborts); only such a flicker within the milliseconds between EXEC's arrival and its apply goes unseen. A WATCHed key whose slot moved to another shard since makes EXEC abort (Redis aborts too: its MIGRATE deletes the key on the source).",
});
