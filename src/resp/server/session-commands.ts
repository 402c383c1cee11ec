/**
 * @module Running the commands the RESP server answers itself — connection state (PING, HELLO, AUTH, CLIENT…),
 * transactions (MULTI, EXEC, WATCH…), pub/sub, and server introspection (INFO, CONFIG, COMMAND). Each is one entry
 * of the full command table (command-table.ts) built by its family in commands/, spec and handler together.
 * Replies are written straight to the session's writer, with Redis's texts.
 */
import type { CommandEntry } from "../../commands/redis/command-spec.js";
import { array, errorReply, type Reply, simple } from "../../commands/redis/reply.js";
import { errorFromException, writeReply } from "./error-reply.js";
import type { Session } from "./session.js";

/** Answers a command over the session's state: a reply to write, a promise of one, or undefined when the
 * handler wrote its replies itself (SUBSCRIBE's pushes, PING in RESP2 subscribe mode). */
export type SessionHandler = (session: Session, argv: Uint8Array[]) => Reply | Promise<Reply> | undefined;

/** A command the RESP server answers itself. */
export type SessionCommand = CommandEntry<SessionHandler>;

/** Answered without the log even inside MULTI, at their position in EXEC's reply. */
export const QUEUEABLE_LOCALLY = new Set(["ping", "echo", "time", "unwatch"]);

/** Not queued inside MULTI (Redis: EXEC, DISCARD, MULTI, WATCH, QUIT, RESET run at once). */
const MULTI_CONTROL = new Set(["exec", "discard", "multi", "watch", "quit", "reset"]);

export function isMultiControl(name: string): boolean {
  return MULTI_CONTROL.has(name);
}

/** Runs a connection/server command; a returned promise settles once its reply is written. */
export function handleSessionCommand(
  session: Session,
  spec: SessionCommand,
  argv: Uint8Array[],
): Promise<void> | undefined {
  const handler = spec.handler;
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

/** A HELP subcommand's reply: one simple string per line. */
export function helpReply(lines: readonly string[]): Reply {
  return array(lines.map(simple));
}
