/**
 * @module One connection's Redis state: authentication, protocol version (the writer's), name, READONLY, the
 * MULTI queue and WATCHed keys, and pub/sub subscriptions (this session is the hub's Subscriber).
 */

import type { Socket } from "node:net";
import {
  argvEncodedBytesMax,
  COMMAND_ENCODING_BYTES_MAX,
  COMMAND_LIMITS,
  entryTooLarge,
  watchEncodedBytesMax,
} from "../../commands/limits.js";
import type { CommandSpec } from "../../commands/redis/command-spec.js";
import { errorReply, type Reply, simple } from "../../commands/redis/reply.js";
import type { RespWriter } from "../resp-writer.js";
import type { PubSubMessage, Subscriber, WatchTicket } from "./backend.js";
import { errorFromException } from "./error-reply.js";
import type { ServerContext } from "./server-context.js";

/** Redis 7.0's commands allowed in RESP2 subscribe mode (plus the S… shard variants Shoal lacks). */
const SUBSCRIBE_MODE_ALLOWED = new Set([
  "subscribe",
  "psubscribe",
  "unsubscribe",
  "punsubscribe",
  "ping",
  "quit",
  "reset",
]);

/** A MULTI block is bounded like everything a client sends (Redis bounds it only by memory): it becomes one log
 * entry, so the bounds are the entry's (COMMAND_LIMITS), refused at queue time rather than at EXEC. */
export const MULTI_COMMANDS_MAX = COMMAND_LIMITS.redisCommandsCountMax;

export interface MultiState {
  readonly commands: Uint8Array[][];
  /** An upper bound of the EXEC entry's encoded size: the WATCHed keys and every queued command so far. */
  bytes: number;
  /** A command was refused at queue time: EXEC answers EXECABORT. */
  dirty: boolean;
}

export interface SessionHooks {
  /** Write out what was appended outside a turn (pub/sub messages). */
  flushSoon(): void;
  /** True when the unread output is past the pub/sub limit. */
  pubsubOverflow(): boolean;
  kill(): void;
}

const textDecoder = new TextDecoder();

export class Session implements Subscriber {
  readonly id: number;
  readonly context: ServerContext;
  readonly writer: RespWriter;
  readonly #socket: Socket;
  readonly #hooks: SessionHooks;
  readonly createdAtMs = Date.now();
  lastCommandAtMs = Date.now();
  lastCommand = "NULL";
  name = "";
  libName = "";
  libVersion = "";
  authenticated: boolean;
  /** READONLY: reads are served from this node's state without a ReadIndex barrier. */
  readonlyStale = false;
  /** ASKING: the next command may be served here for a slot being moved in (Redis Cluster's ASK redirection). */
  asking = false;
  multi: MultiState | undefined;
  readonly watches = new Map<string, WatchTicket>();
  /** Subscribed channels and patterns, by their bytes in latin1 (a lossless key). */
  readonly channels = new Map<string, Uint8Array>();
  readonly patterns = new Map<string, Uint8Array>();
  /** QUIT was answered: close once the reply is written. */
  quitting = false;
  #released = false;

  constructor(id: number, socket: Socket, context: ServerContext, writer: RespWriter, hooks: SessionHooks) {
    this.id = id;
    this.#socket = socket;
    this.context = context;
    this.writer = writer;
    this.#hooks = hooks;
    this.authenticated = context.requirePass === undefined;
  }

  get subscriptionCount(): number {
    return this.channels.size + this.patterns.size;
  }

  noteCommand(name: string | undefined): void {
    this.lastCommandAtMs = Date.now();
    this.lastCommand = name ?? "NULL";
  }

  /** Why `spec` may not run now (NOAUTH, RESP2 subscribe mode), or undefined. */
  refusal(spec: CommandSpec): Reply | undefined {
    if (!this.authenticated && !spec.flags.includes("no_auth")) {
      return errorReply("UNAUTHENTICATED", "Authentication required.");
    }
    if (this.writer.version === 2 && this.subscriptionCount > 0 && !SUBSCRIBE_MODE_ALLOWED.has(spec.name)) {
      return errorReply(
        "BAD_REQUEST",
        `Can't execute '${spec.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context`,
      );
    }
    return undefined;
  }

  /** MULTI: an empty block whose entry already holds the WATCHed keys. */
  startMulti(): void {
    this.multi = { commands: [], bytes: this.entryBytesWithWatches(), dirty: false };
  }

  /** An upper bound of the encoded size of an EXEC entry holding no command yet: the encoding and the WATCHed
   * keys (checked in log order at apply, so they travel in the entry). */
  entryBytesWithWatches(extraKeys: readonly Uint8Array[] = []): number {
    let bytes = COMMAND_ENCODING_BYTES_MAX;
    for (const watch of this.watches.values()) bytes += watchEncodedBytesMax(watch.key);
    for (const key of extraKeys) bytes += watchEncodedBytesMax(key);
    return bytes;
  }

  /** Queues a command inside MULTI: +QUEUED, or an error when the block is over its bounds (the EXEC is one
   * entry: at most MULTI_COMMANDS_MAX commands, and its encoding within COMMAND_LIMITS.entrySizeBytesMax). */
  queue(argv: Uint8Array[]): Reply {
    const multi = this.multi;
    if (multi === undefined) return errorReply("INTERNAL", "queue outside MULTI");
    const bytes = argvEncodedBytesMax(argv);
    if (multi.commands.length >= MULTI_COMMANDS_MAX) {
      return errorReply("TOO_LARGE", `transaction too large (at most ${MULTI_COMMANDS_MAX} commands)`);
    }
    if (multi.bytes + bytes > COMMAND_LIMITS.entrySizeBytesMax) return errorFromException(entryTooLarge());
    multi.commands.push(argv);
    multi.bytes += bytes;
    return simple("QUEUED");
  }

  /** Subscriber: a message for one of our channels or patterns (RESP3 push; RESP2 a plain array). */
  deliver(message: PubSubMessage): void {
    if (this.#released) return;
    if (message.pattern !== undefined) {
      this.writer.pushHeader(4).bulk("pmessage").bulk(message.pattern);
    } else {
      this.writer.pushHeader(3).bulk("message");
    }
    this.writer.bulk(message.channel).bulk(message.message);
    if (this.#hooks.pubsubOverflow()) {
      this.context.logger?.warn({ id: this.id }, "closing a RESP subscriber over the pub/sub output limit");
      this.#hooks.kill();
      return;
    }
    this.#hooks.flushSoon();
  }

  /** The connection is gone: drop its subscriptions from the hub. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.subscriptionCount > 0) this.context.backend.pubsub.drop(this);
    this.channels.clear();
    this.patterns.clear();
  }

  /** RESET: back to a fresh connection's state (Redis's `clearClientConnectionState`). */
  reset(): void {
    this.multi = undefined;
    this.watches.clear();
    if (this.subscriptionCount > 0) this.context.backend.pubsub.drop(this);
    this.channels.clear();
    this.patterns.clear();
    this.name = "";
    this.readonlyStale = false;
    this.asking = false;
    this.writer.version = 2;
    this.authenticated = this.context.requirePass === undefined;
  }

  /** One CLIENT LIST / CLIENT INFO line, with Redis's fields (memory figures are Shoal's buffers). */
  describe(nowMs: number, queryBufferBytes: number, outputBytes: number): string {
    const flags =
      (this.subscriptionCount > 0 ? "P" : "") + (this.multi !== undefined ? "x" : "") + (this.readonlyStale ? "r" : "");
    const fields: [string, string | number][] = [
      ["id", this.id],
      ["addr", `${this.#socket.remoteAddress ?? ""}:${this.#socket.remotePort ?? 0}`],
      ["laddr", `${this.#socket.localAddress ?? ""}:${this.#socket.localPort ?? 0}`],
      ["fd", -1],
      ["name", this.name],
      ["age", Math.floor((nowMs - this.createdAtMs) / 1000)],
      ["idle", Math.floor((nowMs - this.lastCommandAtMs) / 1000)],
      ["flags", flags === "" ? "N" : flags],
      ["db", 0],
      ["sub", this.channels.size],
      ["psub", this.patterns.size],
      ["ssub", 0],
      ["multi", this.multi === undefined ? -1 : this.multi.commands.length],
      ["qbuf", queryBufferBytes],
      ["qbuf-free", 0],
      ["argv-mem", 0],
      ["multi-mem", this.multi?.bytes ?? 0],
      ["rbs", 0],
      ["rbp", 0],
      ["obl", 0],
      ["oll", 0],
      ["omem", outputBytes],
      ["tot-mem", queryBufferBytes + outputBytes],
      ["events", "r"],
      ["cmd", this.lastCommand],
      ["user", "default"],
      ["redir", -1],
      ["resp", this.writer.version],
      ["lib-name", this.libName],
      ["lib-ver", this.libVersion],
    ];
    return fields.map(([key, value]) => `${key}=${value}`).join(" ");
  }
}

export function keyString(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

export function decodeText(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}
