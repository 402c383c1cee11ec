/**
 * @module A raw RESP client for tests: sends bytes or commands over node:net and reads typed replies with the
 * project's ReplyParser, with a deadline on every read.
 */
import { connect, type Socket } from "node:net";
import { ReplyParser } from "../../reply-parser.js";
import { RespProtocolError } from "../../request-parser.js";
import type { RespValue } from "../../resp-value.js";

export function encodeCommand(args: readonly (string | Uint8Array)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = typeof arg === "string" ? Buffer.from(arg) : Buffer.from(arg);
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

export class RawClient {
  readonly socket: Socket;
  readonly #parser = new ReplyParser();
  readonly #replies: RespValue[] = [];
  #waiter: (() => void) | undefined;
  closed = false;
  /** Every byte received, for exact-byte assertions. */
  received: Buffer[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.received.push(chunk);
      this.#parser.feed(chunk);
      for (let value = this.#parser.next(); value !== undefined; value = this.#parser.next()) {
        if (value instanceof RespProtocolError) throw new Error(`bad reply stream: ${value.message}`);
        this.#replies.push(value);
      }
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  #wake(): void {
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.();
  }

  send(...commands: (readonly (string | Uint8Array)[])[]): void {
    this.socket.write(Buffer.concat(commands.map(encodeCommand)));
  }

  sendRaw(bytes: string | Uint8Array): void {
    this.socket.write(bytes);
  }

  /** The next `count` replies; rejects after `timeoutMs` or if the connection closes first. */
  async read(count = 1, timeoutMs = 5000): Promise<RespValue[]> {
    const deadline = Date.now() + timeoutMs;
    while (this.#replies.length < count) {
      if (this.closed) throw new Error(`connection closed after ${this.#replies.length} of ${count} replies`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out after ${this.#replies.length} of ${count} replies`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    return this.#replies.splice(0, count);
  }

  async readOne(timeoutMs = 5000): Promise<RespValue> {
    const [value] = await this.read(1, timeoutMs);
    if (value === undefined) throw new Error("no reply");
    return value;
  }

  /** Sends one command and returns its reply. */
  async call(...args: (string | Uint8Array)[]): Promise<RespValue> {
    this.send(args);
    return this.readOne();
  }

  /** Resolves true once the server closed the connection, false at the deadline. */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A reply as compact text for assertions: +OK, -ERR …, :1, $bulk, (nil), [a, b], {k: v}, >[push]. */
export function show(value: RespValue): string {
  switch (value.type) {
    case "simple":
      return `+${value.value}`;
    case "error":
      return `-${value.value}`;
    case "integer":
      return `:${value.value}`;
    case "bulk":
      return `$${Buffer.from(value.value).toString()}`;
    case "null":
      return "(nil)";
    case "array":
      return `[${value.value.map(show).join(", ")}]`;
    case "set":
      return `~[${value.value.map(show).join(", ")}]`;
    case "push":
      return `>[${value.value.map(show).join(", ")}]`;
    case "map":
      return `{${value.value.map(([k, v]) => `${show(k)}: ${show(v)}`).join(", ")}}`;
    case "double":
      return `,${value.value}`;
    case "boolean":
      return value.value ? "#t" : "#f";
    case "verbatim":
      return `=${value.format}:${Buffer.from(value.value).toString()}`;
    case "bignum":
      return `(${value.value}`;
    case "attribute":
      return show(value.value);
  }
}
