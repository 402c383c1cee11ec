/**
 * @module A bare TCP connection for asserting a server's exact reply bytes, which client libraries hide (they
 * parse errors into exceptions, and some retry or re-authenticate on their own).
 */
import { connect, type Socket } from "node:net";

export class RawConnection {
  readonly #socket: Socket;
  #received = "";
  #waiter: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#received += chunk.toString("latin1");
      this.#waiter?.();
    });
    socket.on("close", () => this.#waiter?.());
  }

  static open(port: number): Promise<RawConnection> {
    return new Promise((done, fail) => {
      const socket = connect({ host: "127.0.0.1", port }, () => done(new RawConnection(socket)));
      socket.once("error", fail);
    });
  }

  /**
   * Sends `args` as one multibulk command and resolves with the raw reply once `lines` CRLF-terminated lines
   * arrived (1 for a simple string, error or integer). Rejects after `timeoutMs` with what did arrive.
   */
  async command(args: readonly string[], lines = 1, timeoutMs = 10_000): Promise<string> {
    const encoded = `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
    this.#socket.write(encoded);
    return this.#take(lines, timeoutMs);
  }

  async #take(lines: number, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = nthLineEnd(this.#received, lines);
      if (end >= 0) {
        const reply = this.#received.slice(0, end);
        this.#received = this.#received.slice(end);
        return reply;
      }
      if (this.#socket.destroyed || Date.now() > deadline) {
        throw new Error(`Expected ${lines} line(s), got ${JSON.stringify(this.#received)}`);
      }
      await new Promise<void>((wake) => {
        const timer = setTimeout(wake, Math.max(0, deadline - Date.now()));
        this.#waiter = () => {
          clearTimeout(timer);
          wake();
        };
      });
      this.#waiter = undefined;
    }
  }

  close(): void {
    this.#socket.destroy();
  }
}

/** The offset just past the `n`th "\r\n" in `text`, or -1. */
function nthLineEnd(text: string, n: number): number {
  let at = 0;
  for (let i = 0; i < n; i++) {
    const found = text.indexOf("\r\n", at);
    if (found < 0) return -1;
    at = found + 2;
  }
  return at;
}
