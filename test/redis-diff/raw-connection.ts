/**
 * @module A deliberately dumb RESP client for the differential test: it writes each command as a multibulk and
 * hands back the reply's RAW bytes, cut at the reply's end and never decoded, so two servers can be compared byte
 * for byte. Replies are framed with a small scanner of its own (not the project's ReplyParser) so that a bug in
 * the codec under test cannot hide itself in the checker.
 */
import { connect, type Socket } from "node:net";

export interface Endpoint {
  readonly label: string;
  readonly host: string;
  readonly port: number;
  readonly password?: string;
}

/** Anything that answers a command with raw reply bytes: a connection, or a wrapper around one (tests tamper). */
export interface ReplyChannel {
  readonly label: string;
  command(args: readonly string[]): Promise<Buffer>;
  close(): void;
}

const REPLY_TIMEOUT_MS = 15_000;

export function encodeCommand(args: readonly string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/**
 * Where the reply starting at `at` ends (exclusive), or undefined when more bytes are needed. Knows RESP2 and
 * RESP3 types; does not validate beyond what framing needs (the comparison judges the bytes).
 */
export function replyEnd(buffer: Buffer, at: number): number | undefined {
  if (at >= buffer.length) return undefined;
  const lf = buffer.indexOf(0x0a, at);
  if (lf === -1) return undefined;
  const type = String.fromCharCode(buffer[at] as number);
  const header = buffer.toString("latin1", at + 1, lf - 1);
  const afterLine = lf + 1;
  switch (type) {
    case "$":
    case "!":
    case "=": {
      const length = Number(header);
      if (length < 0) return afterLine;
      return afterLine + length + 2 <= buffer.length ? afterLine + length + 2 : undefined;
    }
    case "*":
    case "~":
    case ">":
    case "%":
    case "|": {
      const count = Number(header);
      if (count < 0) return afterLine;
      const items = type === "%" || type === "|" ? count * 2 : count;
      let next: number | undefined = afterLine;
      for (let i = 0; i < items && next !== undefined; i++) next = replyEnd(buffer, next);
      // An attribute annotates the reply that follows it; both travel together.
      if (type === "|" && next !== undefined) next = replyEnd(buffer, next);
      return next;
    }
    default:
      return afterLine; // + - : _ # , ( — one line
  }
}

export class RawConnection implements ReplyChannel {
  readonly label: string;
  readonly #socket: Socket;
  #buffer: Buffer = Buffer.alloc(0);
  readonly #waiting: Array<{ done: (reply: Buffer) => void; fail: (error: Error) => void }> = [];
  #closedError: Error | undefined;

  private constructor(label: string, socket: Socket) {
    this.label = label;
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => this.#receive(chunk));
    const onGone = (error?: Error) => {
      this.#closedError = error ?? new Error(`${label}: connection closed`);
      for (const waiter of this.#waiting.splice(0)) waiter.fail(this.#closedError);
    };
    socket.on("error", onGone);
    socket.on("close", () => onGone());
  }

  static async open(endpoint: Endpoint): Promise<RawConnection> {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    socket.setNoDelay(true);
    await new Promise<void>((done, fail) => {
      socket.once("connect", done);
      socket.once("error", fail);
    });
    const connection = new RawConnection(endpoint.label, socket);
    if (endpoint.password !== undefined) {
      const reply = await connection.command(["AUTH", endpoint.password]);
      if (reply.toString() !== "+OK\r\n") throw new Error(`${endpoint.label}: AUTH answered ${reply.toString()}`);
    }
    return connection;
  }

  command(args: readonly string[]): Promise<Buffer> {
    if (this.#closedError !== undefined) return Promise.reject(this.#closedError);
    return new Promise<Buffer>((done, fail) => {
      const timer = setTimeout(() => {
        fail(new Error(`${this.label}: no reply within ${REPLY_TIMEOUT_MS} ms to ${args.join(" ")}`));
        this.#socket.destroy(); // later replies could no longer be matched to their commands
      }, REPLY_TIMEOUT_MS);
      this.#waiting.push({
        done: (reply) => {
          clearTimeout(timer);
          done(reply);
        },
        fail: (error) => {
          clearTimeout(timer);
          fail(error);
        },
      });
      this.#socket.write(encodeCommand(args));
    });
  }

  close(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    for (;;) {
      const end = replyEnd(this.#buffer, 0);
      if (end === undefined) return;
      const reply = Buffer.from(this.#buffer.subarray(0, end));
      this.#buffer = this.#buffer.subarray(end);
      const waiter = this.#waiting.shift();
      if (waiter === undefined) {
        // A reply nobody asked for (e.g. a push): keep it visible rather than silently misaligning replies.
        this.#closedError = new Error(`${this.label}: unsolicited reply ${JSON.stringify(reply.toString())}`);
        this.#socket.destroy();
        return;
      }
      waiter.done(reply);
    }
  }
}
