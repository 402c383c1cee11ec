/**
 * @module A chaos client's RESP connection to one node: RESP2 over one socket, connected on demand, a deadline per
 * command, replies decoded into a small tree, and failures sorted by what they say about the command's fate (as
 * node-client.ts does for HTTP). Only a connection that could not be made proves the command never reached the
 * node; a timeout or a connection lost with commands outstanding leaves them indeterminate.
 *
 * Framing reuses the differential test's scanner (test/redis-diff/raw-connection.ts), which knows nothing of the
 * server's codec. Commands may be pipelined: replies come back in order.
 */
import { connect, type Socket } from "node:net";
import { encodeCommand, replyEnd } from "../redis-diff/raw-connection.js";

export type RespValue =
  | { readonly type: "simple"; readonly value: string }
  | { readonly type: "error"; readonly message: string }
  | { readonly type: "integer"; readonly value: number }
  | { readonly type: "bulk"; readonly value: string | null }
  | { readonly type: "array"; readonly items: readonly RespValue[] | null };

/** A command that got no reply. `definite` when it certainly was not sent (the connection could not be made). */
export class RespFailure extends Error {
  readonly definite: boolean;

  constructor(message: string, definite: boolean) {
    super(message);
    this.definite = definite;
  }
}

interface Waiter {
  readonly done: (reply: RespValue) => void;
  readonly fail: (error: RespFailure) => void;
}

export class RespClient {
  readonly node: number;
  readonly port: number;
  readonly #timeoutMs: number;
  #socket: Socket | undefined;
  #connecting: Promise<Socket> | undefined;
  #buffer: Buffer = Buffer.alloc(0);
  #waiting: Waiter[] = [];
  /** Connections made so far: the current one's number. */
  #sessions = 0;

  constructor(node: number, port: number, timeoutMs: number) {
    this.node = node;
    this.port = port;
    this.#timeoutMs = timeoutMs;
  }

  /** Sends one command; rejects with RespFailure when no reply came within the deadline. An error reply resolves
   * (as `{type: "error"}`): it is the server's answer. */
  async command(args: readonly string[]): Promise<RespValue> {
    const [reply] = await this.pipeline([args]);
    return reply!;
  }

  /** Sends `commands` in one write, on one connection, and resolves with their replies in order; rejects (as
   * `command`) when any reply is missing. Never split across connections: MULTI … EXEC stays together. */
  async pipeline(commands: readonly (readonly string[])[], session?: number): Promise<RespValue[]> {
    // A session's state (WATCH) does not survive its connection: a command meant for it must not go to a new one.
    if (session !== undefined && (this.#socket === undefined || this.#sessions !== session))
      throw new RespFailure("the connection was lost", true);
    const socket = await this.#connect();
    // Lost between connecting and now: nothing was written.
    if (this.#socket !== socket) throw new RespFailure("connection closed before sending", true);
    return new Promise<RespValue[]>((resolve, reject) => {
      const replies: RespValue[] = [];
      let settled = false;
      const fail = (error: RespFailure) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const timer = setTimeout(() => {
        // Later replies could no longer be matched to their commands: the connection goes, and with it the
        // session's state (WATCH, MULTI), as with any lost connection.
        const failure = new RespFailure("timeout", false);
        this.#drop(socket, failure);
        fail(failure);
      }, this.#timeoutMs);
      for (const _ of commands) {
        this.#waiting.push({
          done: (reply) => {
            replies.push(reply);
            if (replies.length < commands.length || settled) return;
            settled = true;
            clearTimeout(timer);
            resolve(replies);
          },
          fail,
        });
      }
      socket.write(Buffer.concat(commands.map((args) => encodeCommand(args))));
    });
  }

  /** Identifies the current connection (its server-side session), undefined when there is none. */
  get session(): number | undefined {
    return this.#socket === undefined ? undefined : this.#sessions;
  }

  /** Drops the connection (and the session state on the server with it); the next command reconnects. */
  reset(): void {
    if (this.#socket !== undefined) this.#drop(this.#socket, new RespFailure("connection reset by the client", false));
  }

  close(): void {
    this.reset();
  }

  #connect(): Promise<Socket> {
    if (this.#socket !== undefined) return Promise.resolve(this.#socket);
    if (this.#connecting !== undefined) return this.#connecting;
    this.#connecting = new Promise<Socket>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port: this.port });
      socket.setNoDelay(true);
      // Nothing was sent before the connection exists: whatever stops it, the command certainly did not run.
      const timer = setTimeout(() => socket.destroy(new Error("connect timeout")), this.#timeoutMs);
      socket.once("error", (error: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.#connecting = undefined;
        reject(new RespFailure(error.code ?? error.message, true));
      });
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.removeAllListeners("error");
        this.#connecting = undefined;
        this.#socket = socket;
        this.#sessions++;
        this.#buffer = Buffer.alloc(0);
        socket.on("data", (chunk: Buffer) => this.#receive(socket, chunk));
        socket.on("error", (error: NodeJS.ErrnoException) =>
          this.#drop(socket, new RespFailure(error.code ?? error.message, false)),
        );
        socket.on("close", () => this.#drop(socket, new RespFailure("connection closed", false)));
        resolve(socket);
      });
    });
    return this.#connecting;
  }

  /** Forgets `socket` (if it is still the current one) and fails every command waiting on it. */
  #drop(socket: Socket, error: RespFailure): void {
    if (this.#socket !== socket) return;
    this.#socket = undefined;
    socket.destroy();
    for (const waiter of this.#waiting.splice(0)) waiter.fail(error);
  }

  #receive(socket: Socket, chunk: Buffer): void {
    if (this.#socket !== socket) return;
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const end = replyEnd(this.#buffer, 0);
      if (end === undefined) return;
      const reply = decodeReply(this.#buffer.subarray(0, end));
      this.#buffer = this.#buffer.subarray(end);
      const waiter = this.#waiting.shift();
      if (waiter === undefined) {
        this.#drop(socket, new RespFailure("unsolicited reply", false));
        return;
      }
      waiter.done(reply);
    }
  }
}

/** Decodes one complete RESP2 reply (framed by replyEnd). */
export function decodeReply(bytes: Buffer): RespValue {
  return decodeAt(bytes, 0).value;
}

function decodeAt(bytes: Buffer, at: number): { value: RespValue; next: number } {
  const lf = bytes.indexOf(0x0a, at);
  const line = bytes.toString("utf8", at + 1, lf - 1);
  const next = lf + 1;
  switch (String.fromCharCode(bytes[at] as number)) {
    case "+":
      return { value: { type: "simple", value: line }, next };
    case "-":
      return { value: { type: "error", message: line }, next };
    case ":":
      return { value: { type: "integer", value: Number(line) }, next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: { type: "bulk", value: null }, next };
      return { value: { type: "bulk", value: bytes.toString("utf8", next, next + length) }, next: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: { type: "array", items: null }, next };
      const items: RespValue[] = [];
      let cursor = next;
      for (let i = 0; i < count; i++) {
        const item = decodeAt(bytes, cursor);
        items.push(item.value);
        cursor = item.next;
      }
      return { value: { type: "array", items }, next: cursor };
    }
    default:
      // RESP3 types never come back: the client does not send HELLO 3.
      return { value: { type: "error", message: `unexpected reply ${JSON.stringify(line)}` }, next };
  }
}

/** A reply in one short line, for a history's error field. */
export function describeReply(reply: RespValue): string {
  switch (reply.type) {
    case "simple":
      return `+${reply.value}`;
    case "error":
      return `-${reply.message}`;
    case "integer":
      return `:${reply.value}`;
    case "bulk":
      return reply.value === null ? "nil" : JSON.stringify(reply.value);
    case "array":
      return reply.items === null ? "nil array" : `[${reply.items.map(describeReply).join(", ")}]`;
  }
}
